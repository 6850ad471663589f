//! The per-op profiler: `infc run PLAN --profile [--json [FILE]]` (per-step and per-op-kind mean
//! time, share of the run, GFLOP/s where a step has a FLOP count, and the runtime overhead: run
//! latency minus the sum of step times) and `infc profile --compare OLD.json NEW.json`
//! (improvements and regressions per op kind).

use crate::cli::{ProfileArgs, RunArgs};
use crate::cmd_run::{peak_rss_bytes, Runner};
use anyhow::{bail, Context, Result};
use infc::{step_flops, step_op_kind, StepTimes};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// One op kind's totals per run.
#[derive(Debug, Default, Clone)]
struct KindTotal {
    steps: usize,
    mean_ms: f64,
    flops: u64,
}

fn gflops(flops: u64, ms: f64) -> Option<f64> {
    (flops > 0 && ms > 0.0).then(|| flops as f64 / (ms * 1e6))
}

/// Profile `args.iters` runs after `args.warmup` untimed ones and report (text, or JSON with
/// `--json`).
pub fn profile_run(args: &RunArgs, runner: &Runner<'_>, load_ms: f64) -> Result<()> {
    if args.iters == 0 {
        bail!("--iters must be at least 1");
    }
    let session = runner.session;
    for _ in 0..args.warmup {
        runner.run_with(|_| ())?;
    }
    // Unprofiled latency, for the cost of timing itself.
    let plain_iters = args.iters.min(20);
    let t = Instant::now();
    for _ in 0..plain_iters {
        runner.run_with(|_| ())?;
    }
    let plain_ms = t.elapsed().as_secs_f64() * 1e3 / plain_iters as f64;
    let mut times = StepTimes::for_session(session);
    let mut latency_ns = 0u128;
    for _ in 0..args.iters {
        let t = Instant::now();
        session.run_profiled_with(runner.inputs(), &mut times, |_| ())?;
        latency_ns += t.elapsed().as_nanos();
    }
    let latency_ms = latency_ns as f64 / 1e6 / args.iters as f64;
    let report = build_report(args, runner, &times, latency_ms, plain_ms, load_ms);
    let text = serde_json::to_string_pretty(&report)? + "\n";
    match &args.json {
        Some(None) => {
            print!("{text}");
            return Ok(());
        }
        Some(Some(file)) => std::fs::write(file, &text)
            .with_context(|| format!("cannot write '{}'", file.display()))?,
        None => {}
    }
    print_report(&report);
    Ok(())
}

fn build_report(
    args: &RunArgs,
    runner: &Runner<'_>,
    times: &StepTimes,
    latency_ms: f64,
    plain_ms: f64,
    load_ms: f64,
) -> Value {
    let plan = runner.session.plan();
    let share = |ms: f64| 100.0 * ms / latency_ms.max(1e-12);
    let mut kinds: BTreeMap<String, KindTotal> = BTreeMap::new();
    let mut steps = Vec::with_capacity(plan.steps.len());
    for (i, step) in plan.steps.iter().enumerate() {
        let ms = times.mean_nanos(i) / 1e6;
        let kind = step_op_kind(step);
        let flops = step_flops(step);
        let k = kinds.entry(kind.clone()).or_default();
        k.steps += 1;
        k.mean_ms += ms;
        k.flops += flops.unwrap_or(0);
        steps.push(json!({
            "index": i,
            "kind": kind,
            "name": plan.step_names.get(i).cloned().unwrap_or_default(),
            "mean_ms": ms,
            "share_pct": share(ms),
            "flops": flops,
            "gflops_per_s": flops.and_then(|f| gflops(f, ms)),
        }));
    }
    let mut kind_rows: Vec<(String, KindTotal)> = kinds.into_iter().collect();
    kind_rows.sort_by(|a, b| b.1.mean_ms.total_cmp(&a.1.mean_ms));
    let kinds: Vec<Value> = kind_rows
        .iter()
        .map(|(kind, k)| {
            json!({
                "kind": kind,
                "steps": k.steps,
                "mean_ms": k.mean_ms,
                "share_pct": share(k.mean_ms),
                "flops": (k.flops > 0).then_some(k.flops),
                "gflops_per_s": gflops(k.flops, k.mean_ms),
            })
        })
        .collect();
    let steps_ms = times.mean_total_nanos() / 1e6;
    let overhead_ms = latency_ms - steps_ms;
    json!({
        "plan": args.plan.display().to_string(),
        "iters": args.iters,
        "warmup": args.warmup,
        "threads": rayon::current_num_threads(),
        "batch": runner.batch,
        "load_ms": load_ms,
        "latency_ms": latency_ms,
        "unprofiled_latency_ms": plain_ms,
        "steps_total_ms": steps_ms,
        "overhead_ms": overhead_ms,
        "overhead_pct": share(overhead_ms),
        "peak_rss_bytes": peak_rss_bytes(),
        "kinds": kinds,
        "steps": steps,
    })
}

fn num(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

fn gflops_cell(v: &Value) -> String {
    match v.get("gflops_per_s").and_then(Value::as_f64) {
        Some(g) => format!("{g:>9.1}"),
        None => format!("{:>9}", "-"),
    }
}

fn print_report(r: &Value) {
    let empty = Vec::new();
    let steps = r["steps"].as_array().unwrap_or(&empty);
    let kinds = r["kinds"].as_array().unwrap_or(&empty);
    println!(
        "{:>5}  {:<22} {:>10} {:>7} {:>9}  node",
        "step", "kind", "mean ms", "share", "GFLOP/s"
    );
    for s in steps {
        println!(
            "{:>5}  {:<22} {:>10.4} {:>6.2}% {}  {}",
            s["index"].as_u64().unwrap_or(0),
            s["kind"].as_str().unwrap_or(""),
            num(s, "mean_ms"),
            num(s, "share_pct"),
            gflops_cell(s),
            s["name"].as_str().unwrap_or("")
        );
    }
    println!();
    println!(
        "{:<22} {:>6} {:>10} {:>7} {:>9}",
        "op kind", "steps", "mean ms", "share", "GFLOP/s"
    );
    for k in kinds {
        println!(
            "{:<22} {:>6} {:>10.4} {:>6.2}% {}",
            k["kind"].as_str().unwrap_or(""),
            k["steps"].as_u64().unwrap_or(0),
            num(k, "mean_ms"),
            num(k, "share_pct"),
            gflops_cell(k)
        );
    }
    println!();
    println!(
        "run latency {:.4} ms (mean of {} profiled runs; {:.4} ms unprofiled), steps {:.4} ms, \
         overhead {:.4} ms = {:.3}% ({} threads, batch {})",
        num(r, "latency_ms"),
        r["iters"].as_u64().unwrap_or(0),
        num(r, "unprofiled_latency_ms"),
        num(r, "steps_total_ms"),
        num(r, "overhead_ms"),
        num(r, "overhead_pct"),
        r["threads"].as_u64().unwrap_or(0),
        r["batch"].as_u64().unwrap_or(0)
    );
}

fn read_profile(path: &Path) -> Result<(f64, BTreeMap<String, f64>)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read profile '{}'", path.display()))?;
    let v: Value =
        serde_json::from_str(&text).with_context(|| format!("'{}' is not JSON", path.display()))?;
    let Some(kinds) = v.get("kinds").and_then(Value::as_array) else {
        bail!(
            "'{}' is not an `infc run --profile --json` file (no \"kinds\" array)",
            path.display()
        );
    };
    let mut out = BTreeMap::new();
    for k in kinds {
        let (Some(kind), Some(ms)) = (
            k.get("kind").and_then(Value::as_str),
            k.get("mean_ms").and_then(Value::as_f64),
        ) else {
            bail!(
                "'{}': a \"kinds\" entry lacks \"kind\" or \"mean_ms\"",
                path.display()
            );
        };
        out.insert(kind.to_string(), ms);
    }
    let latency = v
        .get("latency_ms")
        .and_then(Value::as_f64)
        .with_context(|| format!("'{}' lacks \"latency_ms\"", path.display()))?;
    Ok((latency, out))
}

/// One row of a comparison: op kind, old and new mean ms (absent = kind not in that profile).
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRow {
    pub kind: String,
    pub old_ms: Option<f64>,
    pub new_ms: Option<f64>,
}

impl CompareRow {
    /// Percent change new vs old (negative = faster).
    pub fn change_pct(&self) -> Option<f64> {
        match (self.old_ms, self.new_ms) {
            (Some(o), Some(n)) if o > 0.0 => Some(100.0 * (n - o) / o),
            _ => None,
        }
    }

    /// "improvement", "regression", "unchanged" (within `threshold_pct`), "new" or "removed".
    pub fn verdict(&self, threshold_pct: f64) -> &'static str {
        match (self.old_ms, self.new_ms, self.change_pct()) {
            (None, Some(_), _) => "new",
            (Some(_), None, _) => "removed",
            (_, _, Some(c)) if c <= -threshold_pct => "improvement",
            (_, _, Some(c)) if c >= threshold_pct => "regression",
            _ => "unchanged",
        }
    }

    fn delta_ms(&self) -> f64 {
        self.new_ms.unwrap_or(0.0) - self.old_ms.unwrap_or(0.0)
    }
}

/// Rows for every op kind in either profile, largest absolute change first.
pub fn compare_kinds(old: &BTreeMap<String, f64>, new: &BTreeMap<String, f64>) -> Vec<CompareRow> {
    let mut kinds: Vec<&String> = old.keys().chain(new.keys()).collect();
    kinds.sort();
    kinds.dedup();
    let mut rows: Vec<CompareRow> = kinds
        .into_iter()
        .map(|k| CompareRow {
            kind: k.clone(),
            old_ms: old.get(k).copied(),
            new_ms: new.get(k).copied(),
        })
        .collect();
    rows.sort_by(|a, b| b.delta_ms().abs().total_cmp(&a.delta_ms().abs()));
    rows
}

/// `infc profile --compare OLD NEW`.
pub fn run(args: ProfileArgs) -> Result<()> {
    if !(args.threshold.is_finite() && args.threshold >= 0.0) {
        bail!(
            "--threshold {}: give a finite percentage >= 0, e.g. 2",
            args.threshold
        );
    }
    let [old_path, new_path] = args.compare.as_slice() else {
        bail!("--compare needs two profile files: OLD.json NEW.json");
    };
    let (old_lat, old) = read_profile(old_path)?;
    let (new_lat, new) = read_profile(new_path)?;
    let fmt_ms = |v: Option<f64>| v.map_or("-".to_string(), |m| format!("{m:.4}"));
    println!(
        "{:<22} {:>11} {:>11} {:>9}  verdict",
        "op kind", "old ms", "new ms", "change"
    );
    let total = CompareRow {
        kind: "run latency".into(),
        old_ms: Some(old_lat),
        new_ms: Some(new_lat),
    };
    for row in compare_kinds(&old, &new).iter().chain([&total]) {
        let change = row
            .change_pct()
            .map_or("-".to_string(), |c| format!("{c:+.1}%"));
        println!(
            "{:<22} {:>11} {:>11} {:>9}  {}",
            row.kind,
            fmt_ms(row.old_ms),
            fmt_ms(row.new_ms),
            change,
            row.verdict(args.threshold)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_orders_by_change_and_labels_each_kind() {
        let old: BTreeMap<String, f64> = [("MatMul", 10.0), ("Softmax", 1.0), ("Copy", 0.5)]
            .map(|(k, v)| (k.to_string(), v))
            .into();
        let new: BTreeMap<String, f64> = [("MatMul", 8.0), ("Softmax", 1.2), ("Attention", 0.3)]
            .map(|(k, v)| (k.to_string(), v))
            .into();
        let rows = compare_kinds(&old, &new);
        let kinds: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(kinds, ["MatMul", "Copy", "Attention", "Softmax"]);
        let verdicts: Vec<&str> = rows.iter().map(|r| r.verdict(2.0)).collect();
        assert_eq!(verdicts, ["improvement", "removed", "new", "regression"]);
        assert!((rows[0].change_pct().unwrap() + 20.0).abs() < 1e-9);
        let same = CompareRow {
            kind: "X".into(),
            old_ms: Some(1.0),
            new_ms: Some(1.01),
        };
        assert_eq!(same.verdict(2.0), "unchanged");
    }
}
