//! The vector abstraction the NCHWc direct conv is written against: one trait, three register
//! types (`zmm` for AVX-512, `ymm` for AVX2+FMA, an 8-float array for the portable path). The
//! microkernel is generic over it and `#[inline(always)]`, so each ISA's `#[target_feature]`
//! wrapper compiles its own copy with the intrinsics inlined.

/// A vector of `L` f32 lanes. Every method is `unsafe`: the pointer ones read or write `L` floats
/// at `p`, and the x86 implementations may only run where the CPU has the features (callers reach
/// them only through [`crate::Isa::capped`]).
pub(crate) trait Lanes: Copy {
    const L: usize;
    unsafe fn zero() -> Self;
    unsafe fn load(p: *const f32) -> Self;
    unsafe fn store(self, p: *mut f32);
    unsafe fn splat(v: f32) -> Self;
    /// `a·b + self`.
    unsafe fn fma(self, a: Self, b: Self) -> Self;
    unsafe fn add(self, o: Self) -> Self;
    unsafe fn relu(self) -> Self;
}

/// Portable 8-lane vector (plain arrays; the compiler vectorises what it can).
#[derive(Clone, Copy)]
pub(crate) struct Portable8([f32; 8]);

impl Lanes for Portable8 {
    const L: usize = 8;
    #[inline(always)]
    unsafe fn zero() -> Self {
        Portable8([0.0; 8])
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 8 readable floats at `p`.
        Portable8(unsafe { p.cast::<[f32; 8]>().read_unaligned() })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller guarantees 8 writable floats at `p`.
        unsafe { p.cast::<[f32; 8]>().write_unaligned(self.0) }
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        Portable8([v; 8])
    }
    #[inline(always)]
    unsafe fn fma(self, a: Self, b: Self) -> Self {
        let mut r = self.0;
        for ((r, a), b) in r.iter_mut().zip(a.0).zip(b.0) {
            *r += a * b;
        }
        Portable8(r)
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        let mut r = self.0;
        for (r, o) in r.iter_mut().zip(o.0) {
            *r += o;
        }
        Portable8(r)
    }
    #[inline(always)]
    unsafe fn relu(self) -> Self {
        let mut r = self.0;
        for v in &mut r {
            // `max` would turn NaN into 0; keep NaN like the other paths' compare-and-select.
            if *v < 0.0 {
                *v = 0.0;
            }
        }
        Portable8(r)
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Lanes;
    use std::arch::x86_64::*;

    impl Lanes for __m256 {
        const L: usize = 8;
        #[inline(always)]
        unsafe fn zero() -> Self {
            // SAFETY (all methods): reached only from AVX2+FMA (or AVX-512) target-feature code.
            unsafe { _mm256_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            unsafe { _mm256_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            unsafe { _mm256_storeu_ps(p, self) }
        }
        #[inline(always)]
        unsafe fn splat(v: f32) -> Self {
            unsafe { _mm256_set1_ps(v) }
        }
        #[inline(always)]
        unsafe fn fma(self, a: Self, b: Self) -> Self {
            unsafe { _mm256_fmadd_ps(a, b, self) }
        }
        #[inline(always)]
        unsafe fn add(self, o: Self) -> Self {
            unsafe { _mm256_add_ps(self, o) }
        }
        #[inline(always)]
        unsafe fn relu(self) -> Self {
            // max(x, 0) with x first returns 0 for NaN; blend on `x < 0` keeps NaN.
            unsafe {
                let neg = _mm256_cmp_ps::<_CMP_LT_OQ>(self, _mm256_setzero_ps());
                _mm256_blendv_ps(self, _mm256_setzero_ps(), neg)
            }
        }
    }

    impl Lanes for __m512 {
        const L: usize = 16;
        #[inline(always)]
        unsafe fn zero() -> Self {
            // SAFETY (all methods): reached only from AVX-512 target-feature code.
            unsafe { _mm512_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            unsafe { _mm512_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            unsafe { _mm512_storeu_ps(p, self) }
        }
        #[inline(always)]
        unsafe fn splat(v: f32) -> Self {
            unsafe { _mm512_set1_ps(v) }
        }
        #[inline(always)]
        unsafe fn fma(self, a: Self, b: Self) -> Self {
            unsafe { _mm512_fmadd_ps(a, b, self) }
        }
        #[inline(always)]
        unsafe fn add(self, o: Self) -> Self {
            unsafe { _mm512_add_ps(self, o) }
        }
        #[inline(always)]
        unsafe fn relu(self) -> Self {
            unsafe {
                let neg = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(self, _mm512_setzero_ps());
                _mm512_mask_blend_ps(neg, self, _mm512_setzero_ps())
            }
        }
    }
}
