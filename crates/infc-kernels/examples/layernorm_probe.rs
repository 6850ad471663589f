//! Quick LayerNorm probe: best-of time of [`infc_kernels::layer_norm`] on `ROWSxCOLS` (default
//! 128x768, the transformers' shape at batch 1, seq 128) per ISA, on one thread timed with the
//! thread's CPU clock, then on `PROBE_THREADS` threads (wall clock).
//! `cargo run --release -p infc-kernels --example layernorm_probe -- 128x768`.

use infc_kernels::{layer_norm, Isa};
use std::time::{Duration, Instant};

#[path = "common/cpu_clock.rs"]
mod cpu_clock;
use cpu_clock::cpu_seconds;

fn probe(isa: Isa, rows: usize, cols: usize, threads: usize) -> (f64, f64) {
    let x: Vec<f32> = (0..rows * cols)
        .map(|i| ((i * 7 % 23) as f32 - 11.0) * 0.3)
        .collect();
    let scale: Vec<f32> = (0..cols).map(|i| 1.0 + (i % 5) as f32 * 0.1).collect();
    let bias: Vec<f32> = (0..cols).map(|i| (i % 3) as f32 * 0.1).collect();
    let mut y = vec![0f32; rows * cols];
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    pool.install(|| {
        let (mut best_cpu, mut best_wall) = (f64::MAX, f64::MAX);
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(1000) {
            let (t, w) = (cpu_seconds(), Instant::now());
            layer_norm(isa, &x, &scale, Some(&bias), 1e-5, rows, cols, &mut y).expect("ln");
            best_cpu = best_cpu.min(cpu_seconds() - t);
            best_wall = best_wall.min(w.elapsed().as_secs_f64());
        }
        (best_cpu, best_wall)
    })
}

fn main() {
    let shape = std::env::args().nth(1).unwrap_or_else(|| "128x768".into());
    let (rows, cols) = shape
        .split_once('x')
        .and_then(|(r, c)| Some((r.parse().ok()?, c.parse().ok()?)))
        .expect("shape ROWSxCOLS");
    let threads: usize = std::env::var("PROBE_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    for isa in Isa::supported() {
        let (cpu1, _) = probe(isa, rows, cols, 1);
        let (_, wall) = probe(isa, rows, cols, threads);
        let gbs = |s: f64| (rows * cols * 8) as f64 / s / 1e9;
        println!(
            "{isa:>8} {rows}x{cols}: 1 thread {:.1} us ({:.1} GB/s), {threads} threads {:.1} us wall",
            cpu1 * 1e6,
            gbs(cpu1),
            wall * 1e6
        );
    }
}
