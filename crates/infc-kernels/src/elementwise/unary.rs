//! Unary elementwise ops. Cheap ops (relu, neg, abs, sqrt, reciprocal, floor, ceil) are plain loops
//! compiled per ISA and auto-vectorised; transcendentals (exp, erf, tanh, sigmoid, GELU) use the
//! explicit vector approximations of `simd::avx512` / `simd::avx2` and the scalar twins in
//! [`crate::math`] on the portable path; `log`, `sin` and `cos` use the standard library.

use crate::error::{bad_shape, Result};
use crate::math;
use crate::simd::{multiversion, PARALLEL_MIN_ELEMS};
use crate::Isa;
use rayon::prelude::*;

/// Unary operation on `f32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryKind {
    Relu,
    Sqrt,
    Erf,
    Tanh,
    Sigmoid,
    Exp,
    Log,
    Neg,
    Abs,
    Reciprocal,
    Floor,
    Ceil,
    Sin,
    Cos,
    /// `0.5·x·(1 + erf(x/√2))`.
    GeluErf,
    /// `0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³)))`.
    GeluTanh,
}

impl UnaryKind {
    fn is_transcendental(self) -> bool {
        use UnaryKind::*;
        matches!(self, Erf | Tanh | Sigmoid | Exp | GeluErf | GeluTanh)
    }
    /// Scalar definition (the portable path and the reference for vector paths).
    pub fn apply(self, x: f32) -> f32 {
        match self {
            UnaryKind::Relu => {
                if x < 0.0 {
                    0.0
                } else {
                    x
                }
            }
            UnaryKind::Sqrt => x.sqrt(),
            UnaryKind::Erf => math::erf(x),
            UnaryKind::Tanh => math::tanh(x),
            UnaryKind::Sigmoid => math::sigmoid(x),
            UnaryKind::Exp => math::exp(x),
            UnaryKind::Log => x.ln(),
            UnaryKind::Neg => -x,
            UnaryKind::Abs => x.abs(),
            UnaryKind::Reciprocal => 1.0 / x,
            UnaryKind::Floor => x.floor(),
            UnaryKind::Ceil => x.ceil(),
            UnaryKind::Sin => x.sin(),
            UnaryKind::Cos => x.cos(),
            UnaryKind::GeluErf => math::gelu_erf(x),
            UnaryKind::GeluTanh => math::gelu_tanh(x),
        }
    }
}

/// `y[i] = op(x[i])`; `x` and `y` must have the same length.
pub fn unary(isa: Isa, op: UnaryKind, x: &[f32], y: &mut [f32]) -> Result<()> {
    if x.len() != y.len() {
        return Err(bad_shape(
            "unary",
            format!("input has {} elements, output {}", x.len(), y.len()),
        ));
    }
    for_chunks(y, |start, out| {
        map(isa, op, Some(&x[start..start + out.len()]), out)
    });
    Ok(())
}

/// `y[i] = op(y[i])` in place.
pub fn unary_inplace(isa: Isa, op: UnaryKind, y: &mut [f32]) {
    for_chunks(y, |_, out| map(isa, op, None, out));
}

/// Splits large outputs over rayon; `f(start, chunk)`.
fn for_chunks(y: &mut [f32], f: impl Fn(usize, &mut [f32]) + Sync) {
    let threads = crate::parallelism::threads();
    if y.len() >= PARALLEL_MIN_ELEMS && threads > 1 {
        let chunk = y.len().div_ceil(threads * 4).next_multiple_of(64);
        y.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, c)| f(i * chunk, c));
    } else {
        f(0, y);
    }
}

/// `out = op(src or out)`.
fn map(isa: Isa, op: UnaryKind, src: Option<&[f32]>, out: &mut [f32]) {
    if op.is_transcendental() {
        match isa.capped() {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `capped()` returned Avx512, so the CPU has AVX-512F.
            Isa::Avx512 => unsafe { map_avx512(op, src, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `capped()` returned Avx2Fma, so the CPU has AVX2 and FMA.
            Isa::Avx2Fma => unsafe { map_avx2(op, src, out) },
            _ => {
                for i in 0..out.len() {
                    out[i] = op.apply(src.map_or(out[i], |s| s[i]));
                }
            }
        }
    } else {
        match src {
            Some(s) => cheap(isa, op, s, out),
            None => cheap_inplace(isa, op, out),
        }
    }
}

macro_rules! cheap_loop {
    ($op:expr, $out:ident, $i:ident => $read:expr) => {
        match $op {
            UnaryKind::Relu => {
                for $i in 0..$out.len() {
                    let x: f32 = $read;
                    $out[$i] = if x < 0.0 { 0.0 } else { x };
                }
            }
            UnaryKind::Sqrt => {
                for $i in 0..$out.len() {
                    let x: f32 = $read;
                    $out[$i] = x.sqrt();
                }
            }
            UnaryKind::Neg => {
                for $i in 0..$out.len() {
                    let x: f32 = $read;
                    $out[$i] = -x;
                }
            }
            UnaryKind::Abs => {
                for $i in 0..$out.len() {
                    let x: f32 = $read;
                    $out[$i] = x.abs();
                }
            }
            UnaryKind::Reciprocal => {
                for $i in 0..$out.len() {
                    let x: f32 = $read;
                    $out[$i] = 1.0 / x;
                }
            }
            UnaryKind::Floor => {
                for $i in 0..$out.len() {
                    let x: f32 = $read;
                    $out[$i] = x.floor();
                }
            }
            UnaryKind::Ceil => {
                for $i in 0..$out.len() {
                    let x: f32 = $read;
                    $out[$i] = x.ceil();
                }
            }
            other => {
                for $i in 0..$out.len() {
                    let x: f32 = $read;
                    $out[$i] = other.apply(x);
                }
            }
        }
    };
}

multiversion! {
    fn cheap(op: UnaryKind, src: &[f32], out: &mut [f32]) {
        let src = &src[..out.len()];
        cheap_loop!(op, out, i => src[i])
    }
}

multiversion! {
    fn cheap_inplace(op: UnaryKind, out: &mut [f32]) {
        cheap_loop!(op, out, i => out[i])
    }
}

/// # Safety
/// The CPU supports AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,fma")]
unsafe fn map_avx512(op: UnaryKind, src: Option<&[f32]>, out: &mut [f32]) {
    use crate::simd::avx512 as v;
    use std::arch::x86_64::*;
    let n = out.len();
    let mut i = 0;
    while i < n {
        let mask = v::tail_mask(n - i);
        let from = src.map_or(out.as_ptr(), |s| s.as_ptr());
        // SAFETY: lanes `i .. min(i+16, n)` are inside `out` and `src` (same length); the mask
        // disables the rest.
        let x = unsafe { _mm512_maskz_loadu_ps(mask, from.add(i)) };
        let r = match op {
            UnaryKind::Exp => v::exp(x),
            UnaryKind::Erf => v::erf(x),
            UnaryKind::Tanh => v::tanh(x),
            UnaryKind::Sigmoid => v::sigmoid(x),
            UnaryKind::GeluErf => v::gelu_erf(x),
            _ => v::gelu_tanh(x),
        };
        // SAFETY: as above.
        unsafe { _mm512_mask_storeu_ps(out.as_mut_ptr().add(i), mask, r) };
        i += 16;
    }
}

/// # Safety
/// The CPU supports AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn map_avx2(op: UnaryKind, src: Option<&[f32]>, out: &mut [f32]) {
    use crate::simd::avx2 as v;
    use std::arch::x86_64::*;
    let n = out.len();
    let mut i = 0;
    while i < n {
        let mask = v::tail_mask(n - i);
        let from = src.map_or(out.as_ptr(), |s| s.as_ptr());
        // SAFETY: lanes `i .. min(i+8, n)` are inside `out` and `src`; the mask disables the rest.
        let x = unsafe { _mm256_maskload_ps(from.add(i), mask) };
        let r = match op {
            UnaryKind::Exp => v::exp(x),
            UnaryKind::Erf => v::erf(x),
            UnaryKind::Tanh => v::tanh(x),
            UnaryKind::Sigmoid => v::sigmoid(x),
            UnaryKind::GeluErf => v::gelu_erf(x),
            _ => v::gelu_tanh(x),
        };
        // SAFETY: as above.
        unsafe { _mm256_maskstore_ps(out.as_mut_ptr().add(i), mask, r) };
        i += 8;
    }
}
