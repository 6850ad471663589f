//! Quick SGEMM probe: best-of GFLOP/s for `m k n` shapes (B pre-packed, A strided) on 1 thread and
//! `PROBE_THREADS` threads (default 1), next to the measured FMA peak. Single-threaded runs are timed
//! with the thread's CPU clock, so other processes on a shared machine do not skew them.
//! `cargo run --release -p infc-kernels --example gemm_probe -- 128x768x768 128x768x50257`.
//!
//! `PROBE_INT8=1` probes the u8×s8 GEMM with the dequantize epilogue instead (A quantized once,
//! outside the timing), next to the measured integer multiply-add peak; `PROBE_ACT=gelu_erf`
//! (or `gelu_tanh`, `relu`) adds that activation to its epilogue. `PROBE_COLD=N` rotates
//! over N copies of the packed weights so they come from DRAM, as in a whole model whose weights
//! exceed the L3.

use infc_kernels::gemm::Activation;
use infc_kernels::int8::peak::int8_peak_gops;
use infc_kernels::int8::{
    gemm_u8s8_f32, quantize_pack_b_s8, quantize_tensor_u8, AQuant, Int8Isa, PackedB8, QuantizedA,
};
use infc_kernels::peak::fma_peak_gflops;
use infc_kernels::{pack_b, packed_b_len, sgemm, AOperand, BOperand, Epilogue, Isa, MatRef};
use std::time::{Duration, Instant};

struct P {
    m: usize,
    k: usize,
    n: usize,
    a: Vec<f32>,
    pb: Vec<f32>,
    c: Vec<f32>,
}

/// Thread CPU time in seconds (immune to being descheduled by other processes on this shared machine).
fn cpu_now() -> CpuT {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    CpuT(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9, Instant::now())
}
#[derive(Clone, Copy)]
struct CpuT(f64, Instant);
impl std::ops::Sub for CpuT {
    type Output = f64;
    fn sub(self, o: CpuT) -> f64 {
        self.0 - o.0
    }
}
impl CpuT {
    fn elapsed_wall(&self) -> f64 {
        self.1.elapsed().as_secs_f64()
    }
}

fn best(p: &mut P, isa: Isa, threads: usize, ms: u64) -> f64 {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    pool.install(|| {
        let mut best = f64::MAX;
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(ms) {
            let t = cpu_now();
            sgemm(
                isa,
                p.m,
                p.n,
                p.k,
                AOperand::Strided(MatRef::row_major(&p.a, p.k)),
                BOperand::Packed(&p.pb),
                &mut p.c,
                p.n,
                &Epilogue::none(),
            )
            .expect("sgemm");
            best = best.min(if threads == 1 {
                cpu_now() - t
            } else {
                t.elapsed_wall()
            });
        }
        2.0 * (p.m * p.n * p.k) as f64 / best / 1e9
    })
}

/// The epilogue activation `PROBE_ACT` names (`relu`, `gelu_erf`, `gelu_tanh`; default none).
fn probe_activation() -> Activation {
    match std::env::var("PROBE_ACT").as_deref() {
        Ok("relu") => Activation::Relu,
        Ok("gelu_erf") => Activation::GeluErf,
        Ok("gelu_tanh") => Activation::GeluTanh,
        Ok(other) => panic!("PROBE_ACT={other}: expected relu, gelu_erf or gelu_tanh"),
        Err(_) => Activation::None,
    }
}

/// Best-of GOP/s of the int8 GEMM `m × k × n` over `copies` weight copies.
fn best_int8(m: usize, k: usize, n: usize, threads: usize, copies: usize, ms: u64) -> f64 {
    let isa = Int8Isa::best();
    let a: Vec<f32> = (0..m * k)
        .map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.1)
        .collect();
    let b: Vec<f32> = (0..k * n)
        .map(|i| ((i * 5 % 11) as f32 - 5.0) * 0.01)
        .collect();
    let mut qa = vec![0u8; m * k.div_ceil(4) * 4];
    let lda = k.div_ceil(4) * 4;
    let params = quantize_tensor_u8(isa, &a, m, k, k, &mut qa, lda).expect("quantize");
    let packed: Vec<PackedB8> = (0..copies)
        .map(|_| quantize_pack_b_s8(k, n, &b, n, false).expect("pack"))
        .collect();
    let mut c = vec![0f32; m * n];
    let epi = Epilogue {
        activation: probe_activation(),
        ..Epilogue::none()
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    pool.install(|| {
        let mut best = f64::MAX;
        let start = Instant::now();
        let mut i = 0;
        while start.elapsed() < Duration::from_millis(ms) {
            let qa = QuantizedA {
                data: &qa,
                ld: lda,
                params: AQuant::PerTensor(params),
            };
            let t = cpu_now();
            let w = packed[i % copies].as_ref();
            gemm_u8s8_f32(isa, m, n, k, &qa, &w, &mut c, n, &epi).expect("gemm");
            best = best.min(if threads == 1 {
                cpu_now() - t
            } else {
                t.elapsed_wall()
            });
            i += 1;
        }
        2.0 * (m * n * k) as f64 / best / 1e9
    })
}

fn main() {
    if std::env::var("PROBE_INT8").is_ok() {
        return main_int8();
    }
    let isa = Isa::detect();
    let peak = fma_peak_gflops(isa, Duration::from_millis(300));
    println!("isa {} peak {peak:.1} GFLOP/s per core", isa.name());
    let threads: usize = std::env::var("PROBE_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    for s in std::env::args().skip(1) {
        let d: Vec<usize> = s
            .split('x')
            .map(|v| v.parse().expect("m x k x n"))
            .collect();
        let (m, k, n) = (d[0], d[1], d[2]);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.01)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 5 % 11) as f32 - 5.0) * 0.01)
            .collect();
        let mut pb = vec![0.0; packed_b_len(k, n)];
        pack_b(k, n, &b, n, false, &mut pb).expect("pack");
        let mut p = P {
            m,
            k,
            n,
            a,
            pb,
            c: vec![0.0; m * n],
        };
        let g = best(&mut p, isa, threads, 1500);
        println!(
            "{s:<16} {threads} thread(s): {g:7.1} GFLOP/s ({:4.1}% of {threads}x peak)",
            100.0 * g / peak / threads as f64
        );
    }
}

fn main_int8() {
    let isa = Int8Isa::best();
    let peak = int8_peak_gops(isa, Duration::from_millis(300));
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (threads, copies) = (env("PROBE_THREADS", 1), env("PROBE_COLD", 1).max(1));
    println!("int8 isa {isa:?} peak {peak:.1} GOP/s per core, {copies} weight copies");
    for s in std::env::args().skip(1) {
        let d: Vec<usize> = s
            .split('x')
            .map(|v| v.parse().expect("m x k x n"))
            .collect();
        let g = best_int8(d[0], d[1], d[2], threads, copies, 1500);
        println!(
            "{s:<16} {threads} thread(s): {g:7.1} GOP/s ({:4.1}% of {threads}x peak)",
            100.0 * g / peak / threads as f64
        );
    }
}
