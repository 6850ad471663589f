//! Vector building blocks shared by the kernels of one ISA: loads/stores with tail masks and the
//! vector twins of [`crate::math`] (`exp`, `erf`, `tanh`, GELU, activations).
//!
//! Everything here is `#[target_feature]` code; callers must only reach it after
//! [`crate::Isa::capped`] confirmed the CPU has the features.

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
pub(crate) mod lanes;

/// Defines `fn $name(isa: Isa, args…)` whose body is compiled three times — for AVX-512, for
/// AVX2+FMA and portably — and dispatched on `isa.capped()`. For simple loops the compiler
/// auto-vectorises each copy at that ISA's width; explicit intrinsics are used where it cannot
/// (transcendentals, see `elementwise::unary`).
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name(isa: $crate::Isa, $($arg: $ty),*) {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn imp($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            fn v512($($arg: $ty),*) { imp($($arg),*) }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            fn v256($($arg: $ty),*) { imp($($arg),*) }
            match isa.capped() {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `capped()` returned Avx512, so the CPU has every feature `v512` enables.
                $crate::Isa::Avx512 => unsafe { v512($($arg),*) },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `capped()` returned Avx2Fma, so the CPU has AVX2 and FMA.
                $crate::Isa::Avx2Fma => unsafe { v256($($arg),*) },
                _ => imp($($arg),*),
            }
        }
    };
}
pub(crate) use multiversion;

/// Elements below which elementwise kernels stay on the calling thread.
pub(crate) const PARALLEL_MIN_ELEMS: usize = 1 << 16;
