//! SGEMM throughput vs the measured single-core FMA peak, per ISA path, single thread.
//!
//! Shapes are `m × k × n` (C is m × n, the reduction is over k), B pre-packed (weights), A strided
//! row-major (activations):
//! * `128x768x768`   — BERT/GPT-2 attention projection at sequence length 128;
//! * `128x768x3072`  — the first MLP matmul (FC1);
//! * `3136x64x576`   — read literally as m = 3136, k = 64, n = 576;
//! * `conv64x576x3136` — ResNet-50's 3×3 64→64 conv at 56×56 as the conv kernel runs it
//!   (m = 64 output channels, k = 576 = 64·3·3, n = 3136 pixels).
//!
//! Besides criterion's own report (throughput printed as elements/s = FLOP/s), a summary table with
//! GFLOP/s and % of the measured peak is printed at the end.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use infc_kernels::peak::fma_peak_gflops;
use infc_kernels::{pack_b, packed_b_len, sgemm, AOperand, BOperand, Epilogue, Isa, MatRef};
use std::time::{Duration, Instant};

const SHAPES: [(&str, usize, usize, usize); 4] = [
    ("128x768x768", 128, 768, 768),
    ("128x768x3072", 128, 768, 3072),
    ("3136x64x576", 3136, 64, 576),
    ("conv64x576x3136", 64, 576, 3136),
];

struct Problem {
    m: usize,
    k: usize,
    n: usize,
    a: Vec<f32>,
    packed_b: Vec<f32>,
    c: Vec<f32>,
}

impl Problem {
    fn new(m: usize, k: usize, n: usize) -> Problem {
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.01)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 5 % 11) as f32 - 5.0) * 0.01)
            .collect();
        let mut packed_b = vec![0.0; packed_b_len(k, n)];
        pack_b(k, n, &b, n, false, &mut packed_b).expect("pack");
        Problem {
            m,
            k,
            n,
            a,
            packed_b,
            c: vec![0.0; m * n],
        }
    }
    fn run(&mut self, isa: Isa) {
        sgemm(
            isa,
            self.m,
            self.n,
            self.k,
            AOperand::Strided(MatRef::row_major(&self.a, self.k)),
            BOperand::Packed(&self.packed_b),
            &mut self.c,
            self.n,
            &Epilogue::none(),
        )
        .expect("sgemm");
        black_box(&self.c);
    }
    fn flops(&self) -> f64 {
        2.0 * (self.m * self.n * self.k) as f64
    }
    /// Best GFLOP/s over ~1.5 s of repetitions (best-of filters out noise from other processes).
    fn best_gflops(&mut self, isa: Isa) -> f64 {
        let mut best = f64::MAX;
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(1500) {
            let t = Instant::now();
            self.run(isa);
            best = best.min(t.elapsed().as_secs_f64());
        }
        self.flops() / best / 1e9
    }
}

fn single_thread<R>(f: impl FnOnce() -> R + Send) -> R
where
    R: Send,
{
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool")
        .install(f)
}

fn bench(c: &mut Criterion) {
    let mut summary = vec![];
    for isa in Isa::supported() {
        let peak = single_thread(|| fma_peak_gflops(isa, Duration::from_millis(300)));
        let mut group = c.benchmark_group(format!("sgemm_{isa}"));
        group
            .sample_size(20)
            .measurement_time(Duration::from_secs(2))
            .warm_up_time(Duration::from_millis(500));
        for (name, m, k, n) in SHAPES {
            let mut p = Problem::new(m, k, n);
            group.throughput(Throughput::Elements(p.flops() as u64));
            group.bench_function(name, |bch| single_thread(|| bch.iter(|| p.run(isa))));
            let g = single_thread(|| p.best_gflops(isa));
            summary.push((isa, name, g, peak));
        }
        group.finish();
    }
    println!("\nSGEMM single thread (B pre-packed), best of repeated runs:");
    println!(
        "{:<8} {:<16} {:>10} {:>12} {:>8}",
        "isa", "m x k x n", "GFLOP/s", "peak GFLOP/s", "% peak"
    );
    for (isa, name, g, peak) in summary {
        println!(
            "{:<8} {:<16} {:>10.1} {:>12.1} {:>7.1}%",
            isa.name(),
            name,
            g,
            peak,
            100.0 * g / peak
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
