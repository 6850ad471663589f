//! Latency summary (nearest-rank P50/P99, mean, throughput), peak RSS from /proc, and the JSON object
//! shared with `infc run --bench --json` and bench/compare.py.

use std::time::Duration;

use anyhow::{bail, Result};

/// What one benchmark run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
    /// Samples (batch rows) per second: batch / mean latency.
    pub throughput_per_s: f64,
}

/// Nearest-rank percentile of sorted samples: the smallest value with at least `p`% of samples ≤ it.
fn nearest_rank(sorted_ms: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted_ms.len() as f64).ceil() as usize;
    sorted_ms[rank.clamp(1, sorted_ms.len()) - 1]
}

/// Summarise per-iteration latencies of a batch of `batch` samples.
pub fn summarise(latencies: &[Duration], batch: usize) -> Result<Summary> {
    if latencies.is_empty() {
        bail!("no timed iterations to summarise");
    }
    let mut ms: Vec<f64> = latencies.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let mean_ms = ms.iter().sum::<f64>() / ms.len() as f64;
    let throughput_per_s = if mean_ms > 0.0 {
        batch as f64 * 1e3 / mean_ms
    } else {
        f64::INFINITY
    };
    Ok(Summary {
        p50_ms: nearest_rank(&ms, 50.0),
        p99_ms: nearest_rank(&ms, 99.0),
        mean_ms,
        throughput_per_s,
    })
}

/// Peak resident set size of this process in bytes (`VmHWM` in /proc/self/status), if readable.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm(&status)
}

fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Everything printed by `--json`, in the field names of `infc run --bench --json`.
pub struct Report {
    pub summary: Summary,
    pub peak_rss_bytes: Option<u64>,
    pub load_ms: f64,
    pub iters: usize,
    pub warmup: usize,
    pub batch: usize,
}

impl Report {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "engine": "tract",
            "p50_ms": self.summary.p50_ms,
            "p99_ms": self.summary.p99_ms,
            "mean_ms": self.summary.mean_ms,
            "throughput_per_s": self.summary.throughput_per_s,
            "peak_rss_bytes": self.peak_rss_bytes,
            "load_ms": self.load_ms,
            "iters": self.iters,
            "warmup": self.warmup,
            "threads": 1,
            "batch": self.batch,
        })
    }

    pub fn to_text(&self) -> String {
        let s = &self.summary;
        let rss = self.peak_rss_bytes.map_or("unknown".to_string(), |b| {
            format!("{:.1} MiB", b as f64 / 1048576.0)
        });
        format!(
            "tract (1 thread), batch {}: {} iters after {} warmup\n  p50 {:.3} ms  p99 {:.3} ms  mean {:.3} ms\n  \
             throughput {:.2}/s  peak RSS {rss}  load+optimise {:.1} ms",
            self.batch, self.iters, self.warmup, s.p50_ms, s.p99_ms, s.mean_ms, s.throughput_per_s, self.load_ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let s = summarise(&ms(&[5, 1, 4, 2, 3, 10, 6, 7, 9, 8]), 4).unwrap();
        assert_eq!(s.p50_ms, 5.0);
        assert_eq!(s.p99_ms, 10.0);
        assert!((s.mean_ms - 5.5).abs() < 1e-9);
        assert!((s.throughput_per_s - 4.0 * 1000.0 / 5.5).abs() < 1e-6);
        let one = summarise(&ms(&[3]), 1).unwrap();
        assert_eq!((one.p50_ms, one.p99_ms), (3.0, 3.0));
        assert!(summarise(&[], 1).is_err());
    }

    #[test]
    fn parses_vm_hwm() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    1234 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(1234 * 1024));
        assert_eq!(parse_vm_hwm("Name:\tx\n"), None);
        assert!(peak_rss_bytes().is_some_and(|b| b > 0));
    }
}
