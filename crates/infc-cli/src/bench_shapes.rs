//! `infc run RANGE_PLAN --bench --shape input_ids=1x{16,32,64}` / `--shape-sweep FILE`: a range
//! plan benchmarked at several shapes. Each `--shape` is `NAME=DIMS` (an input, or one symbol by
//! name) where a dim may be `{a,b,c}`; the flags expand to the product of their alternatives. A
//! sweep file lists one request per line (whitespace-separated `NAME=DIMS`, `#` comments), e.g.
//! sequence lengths drawn from a service's distribution. The timed passes run the requests in
//! order `--iters` times; the report gives latency per distinct shape and over every request.
//! A symbol a request does not name runs at its min. Quote a spec with braces from the shell
//! (`--shape 'input_ids=1x{16,32}'`), or bash expands it into separate words.

use crate::cmd_run::{percentile, Runner};
use crate::run_inputs::{prepare_inputs, RunInput};
use anyhow::{bail, Context, Result};
use infc::{PlanBody, RangeTable, Session};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// Most requests a sweep may hold.
const MAX_REQUESTS: usize = 1_000_000;

/// `a`, or the alternatives of `{a,b,c}`.
fn alternatives(part: &str) -> Result<Vec<u64>> {
    let inner = part
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or(part);
    inner
        .split(',')
        .map(|d| {
            d.trim()
                .parse::<u64>()
                .with_context(|| format!("'{d}' is not a size"))
        })
        .collect()
}

/// Every symbol assignment one `NAME=DIMS` spec expands to, as `(symbol, size)` lists.
fn expand(spec: &str, plan: &PlanBody, table: &RangeTable) -> Result<Vec<Vec<(usize, u64)>>> {
    let (name, dims) = spec
        .split_once('=')
        .with_context(|| format!("--shape '{spec}': expected NAME=DIMS"))?;
    let parts: Vec<Vec<u64>> = dims
        .split(['x', 'X'])
        .map(alternatives)
        .collect::<Result<_>>()
        .with_context(|| format!("--shape '{spec}'"))?;
    // (symbol, alternatives) per dim that names a symbol.
    let mut axes: Vec<(usize, Vec<u64>)> = Vec::new();
    if let Some(k) = table.symbols.iter().position(|s| s.name == name) {
        if parts.len() != 1 {
            bail!("--shape '{spec}': '{name}' is one dim");
        }
        axes.push((k, parts[0].clone()));
    } else if let Some(i) = plan.inputs.iter().position(|d| d.name == name) {
        let desc = &plan.inputs[i];
        if parts.len() != desc.shape.len() {
            bail!(
                "--shape '{spec}': input '{name}' has {} dims",
                desc.shape.len()
            );
        }
        let reads = table.input_symbol_dims(plan);
        for (d, alts) in parts.iter().enumerate() {
            match reads.iter().find(|r| r.0 == i && r.1 == d) {
                Some(&(_, _, k)) => axes.push((k, alts.clone())),
                None if alts.iter().all(|&a| a == desc.shape[d]) => {}
                None => bail!(
                    "--shape '{spec}': dim {d} of '{name}' is fixed at {}",
                    desc.shape[d]
                ),
            }
        }
    } else {
        let symbols: Vec<&str> = table.symbols.iter().map(|s| s.name.as_str()).collect();
        bail!("--shape '{spec}': '{name}' is neither an input nor a symbol ({symbols:?})");
    }
    let mut out: Vec<Vec<(usize, u64)>> = vec![Vec::new()];
    for (k, alts) in axes {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                alts.iter().map(move |&a| {
                    let mut p = prefix.clone();
                    p.push((k, a));
                    p
                })
            })
            .collect();
        if out.len() > MAX_REQUESTS {
            bail!("--shape: more than {MAX_REQUESTS} shapes");
        }
    }
    Ok(out)
}

/// The symbol values of every request the flags (a product) or the sweep file (one request per
/// line) give.
pub fn requests(plan: &PlanBody, shapes: &[String], sweep: Option<&Path>) -> Result<Vec<Vec<u64>>> {
    let Some(table) = &plan.range else {
        bail!("--shape / --shape-sweep: this plan has one shape (compile with --shape NAME=MIN..MAX for a range plan)");
    };
    let lines: Vec<Vec<String>> = match sweep {
        None => vec![shapes.to_vec()],
        Some(path) => {
            if !shapes.is_empty() {
                bail!("give --shape or --shape-sweep, not both");
            }
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--shape-sweep '{}'", path.display()))?;
            text.lines()
                .map(|l| l.split('#').next().unwrap_or("").trim())
                .filter(|l| !l.is_empty())
                .map(|l| l.split_whitespace().map(str::to_string).collect())
                .collect()
        }
    };
    let mut out = Vec::new();
    for specs in lines {
        // A symbol no spec of the request names runs at its min (batch 1, say).
        let mut combos: Vec<Vec<u64>> = vec![table.symbols.iter().map(|s| s.min).collect()];
        let mut set_by: Vec<Vec<bool>> = vec![vec![false; table.symbols.len()]];
        for spec in &specs {
            let alts = expand(spec, plan, table)?;
            let mut next = Vec::new();
            let mut next_set = Vec::new();
            for (values, set) in combos.iter().zip(&set_by) {
                for a in &alts {
                    let (mut v, mut s) = (values.clone(), set.clone());
                    for &(k, size) in a {
                        if s[k] && v[k] != size {
                            bail!(
                                "--shape: '{}' is {} and {size}",
                                table.symbols[k].name,
                                v[k]
                            );
                        }
                        v[k] = size;
                        s[k] = true;
                    }
                    next.push(v);
                    next_set.push(s);
                }
            }
            combos = next;
            set_by = next_set;
        }
        out.extend(combos);
        if out.len() > MAX_REQUESTS {
            bail!("--shape-sweep: more than {MAX_REQUESTS} requests");
        }
    }
    for v in &out {
        for (s, &x) in table.symbols.iter().zip(v) {
            if x < s.min || x > s.max {
                bail!(
                    "--shape: '{}' = {x} is outside the plan's range {}",
                    s.name,
                    s.range_text()
                );
            }
        }
    }
    Ok(out)
}

/// Seeded inputs at symbol values `values`.
pub fn inputs_at(session: &Session, values: &[u64], seed: u64) -> Result<Vec<RunInput>> {
    let plan = session.plan();
    let table = plan.range.as_ref().context("not a range plan")?;
    let at = table.instantiate(plan, values)?;
    prepare_inputs(&at, &[], seed)
}

/// Benchmark `requests` (see the module docs) and print the report.
pub fn bench_shapes(
    session: &Session,
    requests: &[Vec<u64>],
    warmup: usize,
    iters: usize,
    seed: u64,
) -> Result<()> {
    let table = session.plan().range.as_ref().context("not a range plan")?;
    let mut distinct: BTreeMap<Vec<u64>, usize> = BTreeMap::new();
    for r in requests {
        let n = distinct.len();
        distinct.entry(r.clone()).or_insert(n);
    }
    let mut by_index: Vec<&Vec<u64>> = vec![&requests[0]; distinct.len()];
    for (v, &i) in &distinct {
        by_index[i] = v;
    }
    let inputs: Vec<Vec<RunInput>> = by_index
        .iter()
        .map(|v| inputs_at(session, v, seed))
        .collect::<Result<_>>()?;
    let runners: Vec<Runner<'_>> = inputs.iter().map(|i| Runner::new(session, i)).collect();
    for r in &runners {
        for _ in 0..warmup {
            r.run_with(|_| ())?;
        }
    }
    let order: Vec<usize> = requests.iter().map(|r| distinct[r]).collect();
    let mut per_shape: Vec<Vec<f64>> = vec![Vec::new(); runners.len()];
    let mut all = Vec::with_capacity(order.len().saturating_mul(iters).min(1 << 24));
    let start = Instant::now();
    for _ in 0..iters {
        for &i in &order {
            let t = Instant::now();
            runners[i].run_with(|_| ())?;
            let ms = t.elapsed().as_secs_f64() * 1e3;
            per_shape[i].push(ms);
            all.push(ms);
        }
    }
    let wall = start.elapsed().as_secs_f64();
    println!(
        "{:<36} {:>8} {:>10} {:>10} {:>10}",
        "shape", "runs", "p50 ms", "p99 ms", "mean ms"
    );
    let line = |label: &str, ms: &mut Vec<f64>| {
        let mean = ms.iter().sum::<f64>() / ms.len().max(1) as f64;
        ms.sort_by(f64::total_cmp);
        println!(
            "{label:<36} {:>8} {:>10.3} {:>10.3} {:>10.3}",
            ms.len(),
            percentile(ms, 50.0),
            percentile(ms, 99.0),
            mean
        );
    };
    for (i, v) in by_index.iter().enumerate() {
        line(&table.show(v), &mut per_shape[i]);
    }
    line("all requests", &mut all);
    println!(
        "throughput  {:.2} requests/s over {} requests ({} distinct shapes)",
        all.len() as f64 / wall.max(1e-9),
        all.len(),
        runners.len()
    );
    Ok(())
}
