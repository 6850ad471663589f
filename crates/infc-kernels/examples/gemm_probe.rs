//! Quick SGEMM probe: best-of GFLOP/s for `m k n` shapes (B pre-packed, A strided) on 1 thread and
//! `PROBE_THREADS` threads (default 1), next to the measured FMA peak. Single-threaded runs are timed
//! with the thread's CPU clock, so other processes on a shared machine do not skew them.
//! `cargo run --release -p infc-kernels --example gemm_probe -- 128x768x768 128x768x50257`.

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

fn main() {
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
