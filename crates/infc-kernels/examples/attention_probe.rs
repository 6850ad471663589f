//! Quick attention probe: best-of time and GFLOP/s of [`infc_kernels::attention`] for the
//! DistilBERT (bidirectional, padding mask) and GPT-2 (causal) shapes at batch 1, 12 heads × 64,
//! on one thread timed with the thread's CPU clock (immune to other processes on a shared
//! machine), then on `PROBE_THREADS` threads (wall clock). `PROBE_BF16=1` sets the bf16 flag
//! (used where the CPU has AVX512-BF16). Calls run inside [`with_team`], as in a plan's run.
//! `cargo run --release -p infc-kernels --example attention_probe -- 128 512`.

use infc_kernels::team::with_team;
use infc_kernels::{attention, attention_scratch_len, AttentionMask, AttentionShape, Isa};
use std::time::{Duration, Instant};

#[path = "common/cpu_clock.rs"]
mod cpu_clock;
use cpu_clock::cpu_seconds;

fn probe(seq: usize, causal: bool, threads: usize) -> (f64, f64) {
    let (h, d) = (12, 64);
    let s = AttentionShape {
        batch: 1,
        heads: h,
        sq: seq,
        sk: seq,
        d,
        scale: 0.125,
        causal,
        hidden_fill: f32::MIN,
        mask_hidden: false,
        zero_nan_rows: false,
        row_strides: [3 * h * d; 3],
        bf16: std::env::var_os("PROBE_BF16").is_some(),
    };
    // One fused QKV buffer, as the models' fused projections write it.
    let qkv: Vec<f32> = (0..seq * 3 * h * d)
        .map(|i| ((i * 7 % 23) as f32 - 11.0) * 0.05)
        .collect();
    let mask = vec![0f32; seq];
    let mut y = vec![0f32; seq * h * d];
    let mut scratch = vec![0f32; attention_scratch_len(&s).expect("size")];
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    let isa = Isa::detect();
    // Inside a team, as a plan's run executes (helpers spinning between calls).
    let best = pool.install(|| {
        with_team(|| {
            let mut best = f64::MAX;
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(1500) {
                let (t, w) = (cpu_seconds(), Instant::now());
                attention(
                    isa,
                    &s,
                    &qkv,
                    &qkv[h * d..],
                    &qkv[2 * h * d..],
                    Some(AttentionMask {
                        data: &mask,
                        strides: [0, 0, 0, 1],
                    }),
                    &mut y,
                    &mut scratch,
                )
                .expect("attention");
                let took = if threads == 1 {
                    cpu_seconds() - t
                } else {
                    w.elapsed().as_secs_f64()
                };
                best = best.min(took);
            }
            best
        })
    });
    let keys = if causal { 0.5 } else { 1.0 };
    let flops = 4.0 * (h * seq * seq * d) as f64 * keys;
    (best * 1e3, flops / best / 1e9)
}

fn main() {
    let threads: usize = std::env::var("PROBE_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let seqs: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("sequence length"))
        .collect();
    for seq in if seqs.is_empty() { vec![128] } else { seqs } {
        for causal in [false, true] {
            for t in [1, threads] {
                let (ms, gf) = probe(seq, causal, t);
                let kind = if causal { "causal" } else { "full" };
                println!("seq {seq:4} {kind:6} {t} thread(s): {ms:7.3} ms {gf:6.1} GFLOP/s");
            }
        }
    }
}
