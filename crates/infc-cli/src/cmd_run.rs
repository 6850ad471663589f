//! `infc run PLAN`: load a plan, take inputs from `.npy` files or generate them, run once and write
//! `DIR/<output>.npy` per output; or `--bench` (warmup + timed iterations: P50/P99/mean latency,
//! throughput, peak RSS, plan load time, as text or JSON); or `--profile` (see `cmd_profile`).

use crate::cli::{PlanLoadArg, RunArgs};
use crate::npy_io::write_npy;
use crate::run_inputs::{parse_input_args, prepare_inputs, RunInput};
use anyhow::{anyhow, bail, Context, Result};
use infc::{InputKey, PlanLoad, Session, SessionOptions, TensorView};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Most runs `--iters` and `--warmup` take each: the timings of that many runs are 80 MB, and even
/// a 1 µs plan takes 10 s to run them.
pub const MAX_RUNS: usize = 10_000_000;

/// Most threads `--threads` (or RAYON_NUM_THREADS) takes on any machine.
pub const MAX_THREADS: usize = 256;

/// Most threads per CPU `--threads` takes: more only adds switching (and thousands of threads
/// take minutes to start).
pub const MAX_THREADS_PER_CPU: usize = 16;

/// The thread limit on this machine: 16 per CPU, never above 256.
fn thread_limit() -> (usize, String) {
    match std::thread::available_parallelism() {
        Ok(cpus) => {
            let per_cpu = cpus.get().saturating_mul(MAX_THREADS_PER_CPU);
            if per_cpu < MAX_THREADS {
                let s = if cpus.get() == 1 { "" } else { "s" };
                (
                    per_cpu,
                    format!("{MAX_THREADS_PER_CPU} per CPU, {} CPU{s} here", cpus.get()),
                )
            } else {
                (MAX_THREADS, "the most on any machine".to_string())
            }
        }
        Err(_) => (MAX_THREADS, "the most on any machine".to_string()),
    }
}

/// Refuse thread and run counts that would hang, abort or overflow, naming the flag.
fn check_counts(args: &RunArgs) -> Result<()> {
    let (limit, why) = thread_limit();
    match args.threads {
        Some(0) => {
            bail!("--threads 0: give at least 1 thread (or leave --threads out for one per core)")
        }
        Some(n) if n > limit => bail!("--threads {n}: above the limit of {limit} threads ({why})"),
        Some(_) => {}
        None => {
            // The default pool takes RAYON_NUM_THREADS (0 or not a number: one per core).
            if let Some(n) = std::env::var("RAYON_NUM_THREADS")
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|&n| n > limit)
            {
                bail!("RAYON_NUM_THREADS={n}: above the limit of {limit} threads ({why}); set it lower or give --threads");
            }
        }
    }
    if (args.bench || args.profile) && args.iters == 0 {
        bail!("--iters 0: give at least 1 timed run");
    }
    for (flag, n) in [("--warmup", args.warmup), ("--iters", args.iters)] {
        if n > MAX_RUNS {
            bail!("{flag} {n}: above the limit of {MAX_RUNS} runs");
        }
    }
    Ok(())
}

pub fn run(args: RunArgs) -> Result<()> {
    if args.json.is_some() && !args.bench && !args.profile {
        bail!("--json needs --bench or --profile");
    }
    check_counts(&args)?;
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .with_context(|| format!("--threads {n}: cannot build the thread pool"))?;
    }
    let given = parse_input_args(&args.inputs)?;
    let start = Instant::now();
    let opts = SessionOptions {
        max_memory: args.max_memory,
        load: match args.load {
            PlanLoadArg::Map => PlanLoad::Map,
            PlanLoadArg::Copy => PlanLoad::Copy,
        },
        verify_weights: args.verify,
        ..Default::default()
    };
    let session = Session::load_with(&args.plan, opts)
        .with_context(|| format!("loading plan '{}'", args.plan.display()))?;
    let load_ms = start.elapsed().as_secs_f64() * 1e3;
    check_input_memory(&session)?;
    let inputs = if args.shapes.is_empty() && args.shape_sweep.is_none() {
        prepare_inputs(session.plan(), &given, args.seed)?
    } else {
        if !given.is_empty() {
            bail!("--input with --shape / --shape-sweep: the shapes' inputs are generated (give one or the other)");
        }
        let requests = crate::bench_shapes::requests(
            session.plan(),
            &args.shapes,
            args.shape_sweep.as_deref(),
        )?;
        if args.bench {
            return crate::bench_shapes::bench_shapes(
                &session,
                &requests,
                args.warmup,
                args.iters,
                args.seed,
            );
        }
        match requests.as_slice() {
            [one] => crate::bench_shapes::inputs_at(&session, one, args.seed)?,
            _ => bail!(
                "{} shapes given: several shapes need --bench",
                requests.len()
            ),
        }
    };
    for i in inputs
        .iter()
        .filter(|i| !given.iter().any(|(n, _)| n == &i.name))
    {
        eprintln!("input '{}': {}", i.name, i.origin);
    }
    let runner = Runner::new(&session, &inputs);
    if args.profile {
        crate::cmd_profile::profile_run(&args, &runner, load_ms)?;
    } else if args.bench {
        let report = bench(&runner, args.warmup, args.iters, load_ms)?;
        print_bench(&args, &report)?;
    }
    let out_dir = match (&args.output_dir, args.bench || args.profile) {
        (Some(d), _) => Some(d.clone()),
        (None, false) => Some(PathBuf::from(".")),
        (None, true) => None,
    };
    if let Some(dir) = out_dir {
        runner.run_with(|outputs| write_outputs(&session, outputs, &dir))??;
    }
    Ok(())
}

/// The inputs (read or generated, the same bytes either way) fit beside the session in its memory
/// budget: checked before any is read or generated.
fn check_input_memory(session: &Session) -> Result<()> {
    let mut total = 0u64;
    let mut largest: Option<(&str, u64)> = None;
    for d in session.inputs() {
        let bytes = d.byte_len().unwrap_or(u64::MAX);
        total = total.saturating_add(bytes);
        if largest.is_none_or(|(_, b)| bytes > b) {
            largest = Some((&d.name, bytes));
        }
    }
    let Some((name, bytes)) = largest else {
        return Ok(());
    };
    let what = format!(
        "the {} inputs (the largest '{name}', {bytes} bytes)",
        session.inputs().len()
    );
    Ok(session.check_memory(&what, total)?)
}

/// A session plus its prepared inputs: runs with no allocation per run (outputs preallocated).
pub struct Runner<'a> {
    pub session: &'a Session,
    views: Vec<(InputKey<'a>, TensorView<'a>)>,
    /// First dimension of the first input (1 for scalar or input-less plans).
    pub batch: usize,
}

impl<'a> Runner<'a> {
    pub fn new(session: &'a Session, inputs: &'a [RunInput]) -> Runner<'a> {
        let batch = inputs
            .first()
            .and_then(|i| i.shape.first().copied())
            .unwrap_or(1)
            .max(1);
        Runner {
            session,
            views: inputs.iter().map(|i| i.view()).collect(),
            batch,
        }
    }

    pub fn inputs(&self) -> &[(InputKey<'a>, TensorView<'a>)] {
        &self.views
    }

    /// One run; `f` gets the outputs as views of the session's memory (no copy).
    pub fn run_with<R>(&self, f: impl FnOnce(&[TensorView<'_>]) -> R) -> Result<R> {
        Ok(self.session.run_with(&self.views, f)?)
    }
}

fn write_outputs(session: &Session, outputs: &[TensorView<'_>], dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create output directory '{}'", dir.display()))?;
    for (desc, data) in session.outputs().iter().zip(outputs) {
        let file: String = desc
            .name
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{file}.npy"));
        // The run's own shape (a range plan's outputs follow its inputs).
        write_npy(&path, desc.dtype, data.shape, data.data)?;
        eprintln!("output '{}': wrote {}", desc.name, path.display());
    }
    Ok(())
}

/// Latency statistics of a benchmark run.
#[derive(Clone, Debug)]
pub struct BenchReport {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
    pub min_ms: f64,
    pub throughput_per_s: f64,
    pub peak_rss_bytes: Option<u64>,
    pub load_ms: f64,
    pub iters: usize,
    pub warmup: usize,
    pub threads: usize,
    pub batch: usize,
}

impl BenchReport {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "mean_ms": self.mean_ms,
            "min_ms": self.min_ms,
            "throughput_per_s": self.throughput_per_s,
            "peak_rss_bytes": self.peak_rss_bytes,
            "load_ms": self.load_ms,
            "iters": self.iters,
            "warmup": self.warmup,
            "threads": self.threads,
            "batch": self.batch,
        })
    }
}

/// Nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Peak resident set size of this process (VmHWM), `None` where /proc is unavailable.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Run `warmup` untimed then `iters` timed iterations.
pub fn bench(
    runner: &Runner<'_>,
    warmup: usize,
    iters: usize,
    load_ms: f64,
) -> Result<BenchReport> {
    if iters == 0 {
        bail!("--iters must be at least 1");
    }
    for _ in 0..warmup {
        runner.run_with(|_| ())?;
    }
    let mut ms: Vec<f64> = Vec::new();
    ms.try_reserve_exact(iters).map_err(|e| {
        let bytes = iters.saturating_mul(std::mem::size_of::<f64>());
        anyhow!("--iters {iters}: cannot reserve the timings of {iters} runs ({bytes} bytes): {e}")
    })?;
    for _ in 0..iters {
        let t = Instant::now();
        runner.run_with(|_| ())?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let mean_ms = ms.iter().sum::<f64>() / iters as f64;
    ms.sort_by(f64::total_cmp);
    Ok(BenchReport {
        p50_ms: percentile(&ms, 50.0),
        p99_ms: percentile(&ms, 99.0),
        mean_ms,
        min_ms: ms[0],
        throughput_per_s: runner.batch as f64 * 1e3 / mean_ms.max(1e-9),
        peak_rss_bytes: peak_rss_bytes(),
        load_ms,
        iters,
        warmup,
        threads: rayon::current_num_threads(),
        batch: runner.batch,
    })
}

fn print_bench(args: &RunArgs, r: &BenchReport) -> Result<()> {
    let json = serde_json::to_string_pretty(&r.to_json())?;
    match &args.json {
        Some(None) => {
            println!("{json}");
            return Ok(());
        }
        Some(Some(file)) => std::fs::write(file, json + "\n")
            .with_context(|| format!("cannot write '{}'", file.display()))?,
        None => {}
    }
    println!("plan        {}", args.plan.display());
    println!("load        {:.2} ms", r.load_ms);
    println!(
        "latency     p50 {:.3} ms  p99 {:.3} ms  mean {:.3} ms  min {:.3} ms  ({} iterations after {} warmup)",
        r.p50_ms, r.p99_ms, r.mean_ms, r.min_ms, r.iters, r.warmup
    );
    println!(
        "throughput  {:.2} /s (batch {}, {} threads)",
        r.throughput_per_s, r.batch, r.threads
    );
    match r.peak_rss_bytes {
        Some(b) => println!("peak RSS    {:.1} MiB", b as f64 / 1048576.0),
        None => println!("peak RSS    unavailable (no /proc/self/status)"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(|i| i as f64).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[3.0], 99.0), 3.0);
        assert_eq!(percentile(&[1.0, 2.0, 3.0], 50.0), 2.0);
    }

    #[test]
    fn peak_rss_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            let rss = peak_rss_bytes().expect("VmHWM");
            assert!(rss > 1 << 20, "{rss}");
        }
    }
}
