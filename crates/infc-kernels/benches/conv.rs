//! Convolution (im2col + packed GEMM, fused bias + ReLU) on ResNet-50 layer shapes, batch 1,
//! single thread, per ISA path. Prints GFLOP/s and % of the measured FMA peak after criterion's
//! report.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use infc_kernels::peak::fma_peak_gflops;
use infc_kernels::{
    conv2d, pack_conv_weights, packed_conv_weights_len, Activation, Conv2dParams, Isa,
};
use std::time::{Duration, Instant};

/// (name, in_channels, in_hw, out_channels, kernel, stride, pad)
const LAYERS: [(&str, usize, usize, usize, usize, usize, usize); 5] = [
    ("conv1_7x7s2_3to64_224", 3, 224, 64, 7, 2, 3),
    ("res2_3x3_64to64_56", 64, 56, 64, 3, 1, 1),
    ("res2_1x1_256to64_56", 256, 56, 64, 1, 1, 0),
    ("res3_3x3s2_128to128_56", 128, 56, 128, 3, 2, 1),
    ("res5_3x3_512to512_7", 512, 7, 512, 3, 1, 1),
];

struct Layer {
    p: Conv2dParams,
    x: Vec<f32>,
    w: Vec<f32>,
    bias: Vec<f32>,
    y: Vec<f32>,
}

impl Layer {
    fn new(cin: usize, hw: usize, cout: usize, k: usize, s: usize, pad: usize) -> Layer {
        let p = Conv2dParams {
            batch: 1,
            in_channels: cin,
            in_h: hw,
            in_w: hw,
            out_channels: cout,
            kernel_h: k,
            kernel_w: k,
            stride_h: s,
            stride_w: s,
            pad_top: pad,
            pad_left: pad,
            pad_bottom: pad,
            pad_right: pad,
            dilation_h: 1,
            dilation_w: 1,
            groups: 1,
        };
        let x: Vec<f32> = (0..cin * hw * hw)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.1)
            .collect();
        let raw: Vec<f32> = (0..cout * p.k_per_group())
            .map(|i| ((i * 5 % 11) as f32 - 5.0) * 0.01)
            .collect();
        let mut w = vec![0.0; packed_conv_weights_len(&p)];
        pack_conv_weights(&p, &raw, &mut w).expect("pack");
        let y = vec![0.0; cout * p.out_h() * p.out_w()];
        Layer {
            p,
            x,
            w,
            bias: vec![0.1; cout],
            y,
        }
    }
    fn flops(&self) -> f64 {
        2.0 * (self.p.out_channels * self.p.out_h() * self.p.out_w() * self.p.k_per_group()) as f64
    }
    fn run(&mut self, isa: Isa) {
        conv2d(
            isa,
            &self.p,
            &self.x,
            &self.w,
            Some(&self.bias),
            None,
            Activation::Relu,
            &mut self.y,
        )
        .expect("conv");
        black_box(&self.y);
    }
    fn best_gflops(&mut self, isa: Isa) -> f64 {
        let mut best = f64::MAX;
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(700) {
            let t = Instant::now();
            self.run(isa);
            best = best.min(t.elapsed().as_secs_f64());
        }
        self.flops() / best / 1e9
    }
}

fn single_thread<R: Send>(f: impl FnOnce() -> R + Send) -> R {
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
        let mut group = c.benchmark_group(format!("conv_{isa}"));
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(2))
            .warm_up_time(Duration::from_millis(300));
        for (name, cin, hw, cout, k, s, pad) in LAYERS {
            let mut layer = Layer::new(cin, hw, cout, k, s, pad);
            group.throughput(Throughput::Elements(layer.flops() as u64));
            group.bench_function(name, |bch| single_thread(|| bch.iter(|| layer.run(isa))));
            summary.push((isa, name, single_thread(|| layer.best_gflops(isa)), peak));
        }
        group.finish();
    }
    println!("\nconv2d single thread (bias + ReLU fused), best of repeated runs:");
    println!(
        "{:<8} {:<24} {:>10} {:>12} {:>8}",
        "isa", "layer", "GFLOP/s", "peak GFLOP/s", "% peak"
    );
    for (isa, name, g, peak) in summary {
        println!(
            "{:<8} {:<24} {:>10.1} {:>12.1} {:>7.1}%",
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
