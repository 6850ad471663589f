//! Direct NCHWc convolution vs the NCHW im2col + GEMM path on ResNet-50 layer shapes, batch 1,
//! single thread, per ISA path and block size. Prints a best-of-repeated-runs GFLOP/s table for
//! both paths (best-of is robust to a noisy shared machine) after criterion's report.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use infc_kernels::peak::fma_peak_gflops;
use infc_kernels::{
    conv2d, conv2d_nchwc, pack_conv_weights, pack_nchwc_weights, packed_conv_weights_len,
    packed_nchwc_weights_len, to_blocked, Activation, Conv2dParams, Isa, NchwcConvParams,
};
use std::time::{Duration, Instant};

/// (name, in_channels, in_hw, out_channels, kernel, stride, pad)
const LAYERS: [(&str, usize, usize, usize, usize, usize, usize); 8] = [
    ("conv1_7x7s2_3to64_224", 3, 224, 64, 7, 2, 3),
    ("res2_1x1_256to64_56", 256, 56, 64, 1, 1, 0),
    ("res2_3x3_64to64_56", 64, 56, 64, 3, 1, 1),
    ("res2_1x1_64to256_56", 64, 56, 256, 1, 1, 0),
    ("res3_3x3s2_128to128_56", 128, 56, 128, 3, 2, 1),
    ("res4_3x3_256to256_14", 256, 14, 256, 3, 1, 1),
    ("res4_1x1_1024to256_14", 1024, 14, 256, 1, 1, 0),
    ("res5_3x3_512to512_7", 512, 7, 512, 3, 1, 1),
];

struct Layer {
    plain: Conv2dParams,
    blocked: NchwcConvParams,
    x: Vec<f32>,
    xb: Vec<f32>,
    w: Vec<f32>,
    wb: Vec<f32>,
    bias: Vec<f32>,
    y: Vec<f32>,
    yb: Vec<f32>,
}

impl Layer {
    fn new(l: (usize, usize, usize, usize, usize, usize), block: usize) -> Layer {
        let (cin, hw, cout, k, s, pad) = l;
        let plain = Conv2dParams {
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
        // The stem reads the plain image, as the layout pass compiles it.
        let blocked = NchwcConvParams {
            conv: plain,
            block,
            input_blocked: cin >= block,
        };
        let x: Vec<f32> = (0..cin * hw * hw)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.1)
            .collect();
        let mut xb = vec![0.0; blocked.input_len()];
        if blocked.input_blocked {
            to_blocked(Isa::Portable, 1, cin, hw * hw, block, &x, &mut xb).expect("reorder");
        } else {
            xb.copy_from_slice(&x);
        }
        let raw: Vec<f32> = (0..cout * plain.k_per_group())
            .map(|i| ((i * 5 % 11) as f32 - 5.0) * 0.01)
            .collect();
        let mut w = vec![0.0; packed_conv_weights_len(&plain)];
        pack_conv_weights(&plain, &raw, &mut w).expect("pack");
        let mut wb = vec![0.0; packed_nchwc_weights_len(&blocked)];
        pack_nchwc_weights(&blocked, &raw, &mut wb).expect("pack nchwc");
        Layer {
            plain,
            blocked,
            x,
            xb,
            w,
            wb,
            bias: vec![0.1; cout],
            y: vec![0.0; cout * plain.out_h() * plain.out_w()],
            yb: vec![0.0; blocked.output_len()],
        }
    }
    fn run_im2col(&mut self, isa: Isa) {
        let (p, b) = (&self.plain, Some(&self.bias[..]));
        conv2d(
            isa,
            p,
            &self.x,
            &self.w,
            b,
            None,
            Activation::Relu,
            &mut self.y,
        )
        .expect("conv");
        black_box(&self.y);
    }
    fn run_nchwc(&mut self, isa: Isa) {
        let (p, b) = (&self.blocked, Some(&self.bias[..]));
        conv2d_nchwc(isa, p, &self.xb, &self.wb, b, None, true, &mut self.yb).expect("nchwc");
        black_box(&self.yb);
    }
}

fn best_gflops(flops: f64, mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(600) {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    flops / best / 1e9
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
    for isa in Isa::supported() {
        let peak = single_thread(|| fma_peak_gflops(isa, Duration::from_millis(300)));
        for block in [16, 8] {
            let mut group = c.benchmark_group(format!("conv_nchwc_{isa}_c{block}"));
            group
                .sample_size(10)
                .measurement_time(Duration::from_secs(1))
                .warm_up_time(Duration::from_millis(200));
            for (name, cin, hw, cout, k, s, pad) in LAYERS {
                let mut layer = Layer::new((cin, hw, cout, k, s, pad), block);
                let flops = layer.blocked.flops();
                group.throughput(Throughput::Elements(flops as u64));
                group.bench_function(name, |b| single_thread(|| b.iter(|| layer.run_nchwc(isa))));
                let (g_im2col, g_nchwc) = single_thread(|| {
                    (
                        best_gflops(flops, || layer.run_im2col(isa)),
                        best_gflops(flops, || layer.run_nchwc(isa)),
                    )
                });
                rows.push((isa, block, name, g_im2col, g_nchwc, peak));
            }
            group.finish();
        }
    }
    println!("\nconv single thread (bias + ReLU fused), best of repeated runs, GFLOP/s:");
    println!(
        "{:<8} {:>3} {:<24} {:>8} {:>8} {:>7} {:>8}",
        "isa", "c", "layer", "im2col", "nchwc", "ratio", "% peak"
    );
    for (isa, block, name, a, b, peak) in rows {
        println!(
            "{:<8} {:>3} {:<24} {:>8.1} {:>8.1} {:>6.2}x {:>7.1}%",
            isa.name(),
            block,
            name,
            a,
            b,
            b / a,
            100.0 * b / peak
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
