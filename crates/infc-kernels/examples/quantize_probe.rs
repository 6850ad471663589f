//! Quick probe of the per-row dynamic u8 quantization ([`infc_kernels::int8::quantize_rows_u8`])
//! on `ROWSxCOLS` (default 128x3072, the input of a transformer's second FFN matmul at batch 1,
//! seq 128) per integer ISA: best-of time on one thread, timed with the thread's CPU clock.
//! `cargo run --release -p infc-kernels --example quantize_probe -- 128x768 128x3072`;
//! `PROBE_ISA=avx512vnni` (an [`Int8Isa`] name) probes that path only.

use infc_kernels::int8::{quantize_rows_u8, Int8Isa, QParams};
use std::time::{Duration, Instant};

#[path = "common/cpu_clock.rs"]
mod cpu_clock;
use cpu_clock::cpu_seconds;

fn probe(isa: Int8Isa, rows: usize, cols: usize) -> f64 {
    // Continuous values like a layer's activations (a hash of the index mapped to about
    // [-3.3, 3.6]); a short periodic pattern would put the same few values, some near a rounding
    // tie, in every vector.
    let x: Vec<f32> = (0..rows * cols)
        .map(|i| {
            let h = (i as u32).wrapping_mul(2_654_435_761).rotate_left(13) ^ 0x9e37_79b9;
            (h.wrapping_mul(2_246_822_519) >> 8) as f32 / (1 << 24) as f32 * 6.9 - 3.3
        })
        .collect();
    let mut out = vec![0u8; rows * cols];
    let mut params = vec![QParams::from_range(0.0, 0.0); rows];
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    pool.install(|| {
        let mut best = f64::MAX;
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(1000) {
            let t = cpu_seconds();
            quantize_rows_u8(isa, &x, rows, cols, cols, &mut out, cols, &mut params)
                .expect("quantize");
            best = best.min(cpu_seconds() - t);
        }
        best
    })
}

fn main() {
    let shapes: Vec<String> = std::env::args().skip(1).collect();
    let shapes = if shapes.is_empty() {
        vec!["128x3072".to_string()]
    } else {
        shapes
    };
    for shape in shapes {
        let (rows, cols) = shape
            .split_once('x')
            .and_then(|(r, c)| Some((r.parse().ok()?, c.parse().ok()?)))
            .expect("shape ROWSxCOLS");
        for isa in Int8Isa::supported()
            .into_iter()
            .filter(|i| std::env::var("PROBE_ISA").map_or(true, |v| v == i.name()))
        {
            let s = probe(isa, rows, cols);
            println!(
                "{:>12} {rows}x{cols}: {:.1} us, {:.2} ns per element",
                format!("{isa}"),
                s * 1e6,
                s * 1e9 / (rows * cols) as f64
            );
        }
    }
}
