//! Measured single-core integer multiply-add peak per [`Int8Isa`] path, for GOP/s reports
//! (1 multiply-add = 2 ops): independent chains of `vpdpbusd` (AVX-512 VNNI), of
//! `vpmaddwd` + `vpaddd` (AVX2, 16 i16 products per instruction pair), or scalar i32 (portable).
//! AVX-VNNI runs 256-bit `vpdpbusd` chains (the EVEX form where the CPU lacks the VEX one). The
//! AMX path reports the VNNI peak: its tile throughput is not measured here.

use super::Int8Isa;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Integer ops (2 per multiply-add) per iteration of the measuring loop (16 chains).
fn ops_per_iter(isa: Int8Isa) -> usize {
    16 * 2
        * match isa {
            Int8Isa::Avx512Vnni | Int8Isa::Amx => 64,
            Int8Isa::AvxVnni => 32,
            Int8Isa::Avx2 => 16,
            Int8Isa::Portable => 1,
        }
}

/// Best-of-several GOP/s of the pure multiply-add loop on the (capped) path, for about `budget`.
pub fn int8_peak_gops(isa: Int8Isa, budget: Duration) -> f64 {
    let isa = isa.capped();
    let iters = 1usize << 20;
    let mut best = 0f64;
    let start = Instant::now();
    while start.elapsed() < budget || best == 0.0 {
        let t = Instant::now();
        run(isa, black_box(iters));
        best = best.max((iters * ops_per_iter(isa)) as f64 / t.elapsed().as_secs_f64() / 1e9);
    }
    best
}

fn run(isa: Int8Isa, iters: usize) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa` was capped, so the CPU has AVX-512 VNNI.
        Int8Isa::Avx512Vnni | Int8Isa::Amx => unsafe { chains_vnni(iters) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa` was capped, so the CPU has AVX2.
        Int8Isa::Avx2 => unsafe { chains_avx2(iters) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa` was capped, so the CPU has AVX-VNNI or AVX-512 VL + VNNI.
        Int8Isa::AvxVnni => unsafe {
            if is_x86_feature_detected!("avxvnni") {
                chains_avxvnni(iters)
            } else {
                chains_vnni_ymm(iters)
            }
        },
        _ => chains_scalar(iters),
    }
}

/// # Safety
/// The CPU has AVX-512F and AVX-512 VNNI.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vnni")]
unsafe fn chains_vnni(iters: usize) {
    use std::arch::x86_64::*;
    let a = _mm512_set1_epi32(black_box(0x0101_0101));
    let b = _mm512_set1_epi32(black_box(0x0102_0102));
    let mut acc = [_mm512_setzero_si512(); 16];
    for _ in 0..iters {
        for c in acc.iter_mut() {
            *c = _mm512_dpbusd_epi32(*c, a, b);
        }
    }
    black_box(acc);
}

/// # Safety
/// The CPU has AVX2 and AVX-VNNI.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avxvnni")]
unsafe fn chains_avxvnni(iters: usize) {
    // SAFETY: AVX2 is enabled here; the closure runs the VEX `vpdpbusd` this function enables.
    unsafe {
        chains_ymm(iters, |c, a, b| {
            std::arch::x86_64::_mm256_dpbusd_avx_epi32(c, a, b)
        })
    }
}

/// # Safety
/// The CPU has AVX2 and AVX-512 VL + VNNI.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512vl,avx512vnni")]
unsafe fn chains_vnni_ymm(iters: usize) {
    // SAFETY: AVX2 is enabled here; the closure runs the EVEX `vpdpbusd` this function enables.
    unsafe {
        chains_ymm(iters, |c, a, b| {
            std::arch::x86_64::_mm256_dpbusd_epi32(c, a, b)
        })
    }
}

/// 16 chains of the 256-bit `dot(c, a, b)` (either encoding of `vpdpbusd`).
///
/// # Safety
/// The CPU has AVX2 and `dot` is executable here.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn chains_ymm(
    iters: usize,
    dot: impl Fn(
        std::arch::x86_64::__m256i,
        std::arch::x86_64::__m256i,
        std::arch::x86_64::__m256i,
    ) -> std::arch::x86_64::__m256i,
) {
    use std::arch::x86_64::*;
    let a = _mm256_set1_epi32(black_box(0x0101_0101));
    let b = _mm256_set1_epi32(black_box(0x0102_0102));
    let mut acc = [_mm256_setzero_si256(); 16];
    for _ in 0..iters {
        for c in acc.iter_mut() {
            *c = dot(*c, a, b);
        }
    }
    black_box(acc);
}

/// # Safety
/// The CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn chains_avx2(iters: usize) {
    use std::arch::x86_64::*;
    let a = _mm256_set1_epi16(black_box(3));
    let b = _mm256_set1_epi16(black_box(-2));
    let mut acc = [_mm256_setzero_si256(); 16];
    for _ in 0..iters {
        for c in acc.iter_mut() {
            *c = _mm256_add_epi32(*c, _mm256_madd_epi16(a, b));
        }
    }
    black_box(acc);
}

fn chains_scalar(iters: usize) {
    let a = black_box(1_103_515_245i32);
    let b = black_box(12_345i32);
    let mut acc: [i32; 16] = std::array::from_fn(|i| i as i32);
    for _ in 0..iters {
        for c in acc.iter_mut() {
            // A dependent multiply-add per chain (an LCG step) that cannot be folded away.
            *c = c.wrapping_mul(a).wrapping_add(b);
        }
    }
    black_box(acc);
}
