//! INT8 GEMM (u8 × s8 → s32, dequantized to f32) throughput, single thread, per integer path,
//! next to the measured integer multiply-add peak of that path and the f32 SGEMM on the same
//! shape (best f32 ISA).
//!
//! Shapes are `m × k × n` (C is m × n), read as in `benches/gemm.rs`: `128x768x768` (attention
//! projection at seq 128), `128x768x3072` (FC1), `3136x64x576` (m = 3136, k = 64, n = 576).
//! Weights are pre-packed; "gemm" times the integer product with the dequantize epilogue on an
//! already-quantized A, "quant+gemm" adds the per-row dynamic quantization of A (what a runtime
//! step does). 1 multiply-add = 2 ops.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use infc_kernels::int8::peak::int8_peak_gops;
use infc_kernels::int8::{
    a_row_len, gemm_u8s8_f32, quantize_pack_b_s8, quantize_rows_u8, AQuant, Int8Isa, PackedB8,
    QParams, QuantizedA,
};
use infc_kernels::{pack_b, packed_b_len, sgemm, AOperand, BOperand, Epilogue, Isa, MatRef};
use std::time::{Duration, Instant};

const SHAPES: [(&str, usize, usize, usize); 3] = [
    ("128x768x768", 128, 768, 768),
    ("128x768x3072", 128, 768, 3072),
    ("3136x64x576", 3136, 64, 576),
];

struct Problem {
    m: usize,
    k: usize,
    n: usize,
    x: Vec<f32>,
    qa: Vec<u8>,
    params: Vec<QParams>,
    packed: PackedB8,
    packed_f32: Vec<f32>,
    c: Vec<f32>,
}

impl Problem {
    fn new(m: usize, k: usize, n: usize) -> Problem {
        let x: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.01)
            .collect();
        let w: Vec<f32> = (0..k * n)
            .map(|i| ((i * 5 % 11) as f32 - 5.0) * 0.01)
            .collect();
        let packed = quantize_pack_b_s8(k, n, &w, n, false).expect("pack s8");
        let mut packed_f32 = vec![0.0; packed_b_len(k, n)];
        pack_b(k, n, &w, n, false, &mut packed_f32).expect("pack f32");
        let mut p = Problem {
            m,
            k,
            n,
            x,
            qa: vec![0; m * a_row_len(k)],
            params: vec![QParams::from_range(0.0, 0.0); m],
            packed,
            packed_f32,
            c: vec![0.0; m * n],
        };
        p.quantize(Int8Isa::Portable);
        p
    }
    fn quantize(&mut self, isa: Int8Isa) {
        let (m, k) = (self.m, self.k);
        quantize_rows_u8(
            isa,
            &self.x,
            m,
            k,
            k,
            &mut self.qa,
            a_row_len(k),
            &mut self.params,
        )
        .expect("quantize");
    }
    fn gemm(&mut self, isa: Int8Isa) {
        let a = QuantizedA {
            data: &self.qa,
            ld: a_row_len(self.k),
            params: AQuant::PerRow(&self.params),
        };
        gemm_u8s8_f32(
            isa,
            self.m,
            self.n,
            self.k,
            &a,
            &self.packed.as_ref(),
            &mut self.c,
            self.n,
            &Epilogue::none(),
        )
        .expect("int8 gemm");
        black_box(&self.c);
    }
    fn quant_gemm(&mut self, isa: Int8Isa) {
        self.quantize(isa);
        self.gemm(isa);
    }
    fn sgemm(&mut self, isa: Isa) {
        let a = AOperand::Strided(MatRef::row_major(&self.x, self.k));
        sgemm(
            isa,
            self.m,
            self.n,
            self.k,
            a,
            BOperand::Packed(&self.packed_f32),
            &mut self.c,
            self.n,
            &Epilogue::none(),
        )
        .expect("sgemm");
        black_box(&self.c);
    }
    fn ops(&self) -> f64 {
        2.0 * (self.m * self.n * self.k) as f64
    }
}

/// Best GOP/s of `f` over ~0.5 s of repetitions.
fn best_gops(ops: f64, mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(500) {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    ops / best / 1e9
}

fn single_thread<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool")
        .install(f)
}

fn bench(c: &mut Criterion) {
    let mut rows = vec![];
    let f32_isa = Isa::best();
    let mut f32_gflops = vec![];
    for (_, m, k, n) in SHAPES {
        let mut p = Problem::new(m, k, n);
        let ops = p.ops();
        f32_gflops.push(single_thread(|| best_gops(ops, || p.sgemm(f32_isa))));
    }
    for isa in Int8Isa::supported() {
        let peak = single_thread(|| int8_peak_gops(isa, Duration::from_millis(300)));
        let mut group = c.benchmark_group(format!("gemm_int8_{isa}"));
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(1))
            .warm_up_time(Duration::from_millis(300));
        for (s, (name, m, k, n)) in SHAPES.into_iter().enumerate() {
            let mut p = Problem::new(m, k, n);
            let ops = p.ops();
            group.throughput(Throughput::Elements(ops as u64));
            group.bench_function(name, |b| single_thread(|| b.iter(|| p.quant_gemm(isa))));
            let g = single_thread(|| best_gops(ops, || p.gemm(isa)));
            let gq = single_thread(|| best_gops(ops, || p.quant_gemm(isa)));
            rows.push((isa, name, g, gq, peak, f32_gflops[s]));
        }
        group.finish();
    }
    println!("\nINT8 GEMM single thread (weights pre-packed), best of repeated runs; f32 = sgemm on {f32_isa}:");
    println!(
        "{:<11} {:<13} {:>9} {:>11} {:>9} {:>7} {:>10} {:>8}",
        "isa", "m x k x n", "GOP/s", "quant+GOP/s", "peak", "% peak", "f32 GF/s", "vs f32"
    );
    for (isa, name, g, gq, peak, f) in rows {
        println!(
            "{:<11} {:<13} {:>9.1} {:>11.1} {:>9.1} {:>6.1}% {:>10.1} {:>7.2}x",
            isa.name(),
            name,
            g,
            gq,
            peak,
            100.0 * g / peak,
            f,
            gq / f
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
