//! Measures the single-core FMA peak of an ISA path: a loop of independent FMA chains (enough
//! accumulators to cover FMA latency × ports), timed on the calling thread. Benchmarks report
//! GEMM throughput as a fraction of this number.

use crate::Isa;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// FLOPs per iteration of the measuring loop: accumulators × lanes × 2 (multiply + add).
/// AVX2 uses 12 accumulators (16 ymm registers minus the two constants, so nothing spills).
fn flops_per_iter(isa: Isa) -> usize {
    let accumulators = if isa == Isa::Avx2Fma { 12 } else { 16 };
    accumulators
        * 2
        * match isa {
            Isa::Avx512 => 16,
            Isa::Avx2Fma => 8,
            Isa::Portable => 1,
        }
}

/// Best-of-several GFLOP/s of a pure FMA loop on the (capped) ISA, measured for about `budget`.
pub fn fma_peak_gflops(isa: Isa, budget: Duration) -> f64 {
    let isa = isa.capped();
    let iters = 1usize << 20;
    let mut best = 0f64;
    let start = Instant::now();
    while start.elapsed() < budget || best == 0.0 {
        let t = Instant::now();
        run(isa, black_box(iters));
        let secs = t.elapsed().as_secs_f64();
        best = best.max((iters * flops_per_iter(isa)) as f64 / secs / 1e9);
    }
    best
}

fn run(isa: Isa, iters: usize) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa` was capped, so the CPU has AVX-512F.
        Isa::Avx512 => unsafe { chains_avx512(iters) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa` was capped, so the CPU has AVX2 and FMA.
        Isa::Avx2Fma => unsafe { chains_avx2(iters) },
        _ => chains_scalar(iters),
    }
}

/// # Safety
/// The CPU supports AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn chains_avx512(iters: usize) {
    use std::arch::x86_64::*;
    let mul = _mm512_set1_ps(black_box(0.999_999));
    let add = _mm512_set1_ps(black_box(1e-7));
    let mut acc = [_mm512_set1_ps(1.0); 16];
    for _ in 0..iters {
        for a in acc.iter_mut() {
            *a = _mm512_fmadd_ps(*a, mul, add);
        }
    }
    black_box(acc);
}

/// # Safety
/// The CPU supports AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn chains_avx2(iters: usize) {
    use std::arch::x86_64::*;
    let mul = _mm256_set1_ps(black_box(0.999_999));
    let add = _mm256_set1_ps(black_box(1e-7));
    let mut acc = [_mm256_set1_ps(1.0); 12];
    for _ in 0..iters {
        for a in acc.iter_mut() {
            *a = _mm256_fmadd_ps(*a, mul, add);
        }
    }
    black_box(acc);
}

fn chains_scalar(iters: usize) {
    let mul = black_box(0.999_999f32);
    let add = black_box(1e-7f32);
    let mut acc = [1f32; 16];
    for _ in 0..iters {
        for a in acc.iter_mut() {
            *a = *a * mul + add;
        }
    }
    black_box(acc);
}
