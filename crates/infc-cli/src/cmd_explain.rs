//! `infc explain`: the IR of a model after import, binding and the `-O` pipeline, as text, DOT or
//! JSON; op counts; per-pass dumps; the fusion log. Given a plan file: its header, I/O and steps or
//! memory map; `infc verify PLAN` checks one whole.

use crate::cli::{ExplainArgs, Format, VerifyArgs};
use anyhow::{bail, Context, Result};
use infc::Graph;
use std::fmt::Write as _;

pub fn run(args: ExplainArgs) -> Result<()> {
    if is_plan_file(&args.model.model) {
        return explain_plan(&args);
    }
    if args.memory {
        bail!(
            "--memory needs a plan file (from `infc compile`), {} is not one",
            args.model.model.display()
        );
    }
    // "import" is the graph after import and shape binding, before the first pass.
    for name in &args.print_after {
        infc::check_pass_name("--print-after", name, &["import"])?;
    }
    let mut out = String::new();
    let wanted = |name: &str| args.print_after_all || args.print_after.iter().any(|p| p == name);
    let mut before = String::new();
    let mut ran: Vec<&'static str> = Vec::new();
    let opts = args.model.options(&args.quant, false);
    let optimised = infc::optimise(&args.model.model, &opts, |pass, g, changed| {
        if pass != "import" && !ran.contains(&pass) {
            ran.push(pass);
        }
        if args.diff {
            let after = infc::render::print_graph(g);
            if pass != "import" && changed && after != before {
                let _ = writeln!(out, "// ----- diff after {pass} -----");
                let diff = similar::TextDiff::from_lines(&before, &after);
                let _ = write!(
                    out,
                    "{}",
                    diff.unified_diff().context_radius(1).header("before", pass)
                );
            }
            before = after;
        }
        if wanted(pass) {
            let note = if changed { "" } else { " (no change)" };
            let _ = writeln!(out, "// ----- IR after {pass}{note} -----");
            out.push_str(&render(g, args.format));
        }
    })?;
    let (g, log) = (optimised.graph, optimised.log);
    if let Some(name) = args
        .print_after
        .iter()
        .find(|n| n.as_str() != "import" && !ran.contains(&n.as_str()))
    {
        let why = if args.model.disable.contains(name) {
            format!("--disable {name} leaves it out")
        } else {
            format!("it does not run at -O{}", args.model.opt)
        };
        let ran = if ran.is_empty() {
            "none".to_string()
        } else {
            ran.join(", ")
        };
        bail!("--print-after {name}: {why} (passes run: {ran})");
    }
    print!("{out}");
    if args.fusion_log {
        println!("// ----- fusion log -----");
        for (rule, n) in log.counts() {
            println!("{rule} {n}");
        }
        for e in &log.entries {
            println!("  {}: {}", e.rule, e.nodes.join(", "));
        }
    }
    if args.op_counts {
        for (op, n) in g.op_counts() {
            println!("{op} {n}");
        }
    } else if !args.print_after_all && args.print_after.is_empty() && !args.diff {
        print!("{}", render(&g, args.format));
    }
    Ok(())
}

fn render(g: &Graph, format: Format) -> String {
    match format {
        Format::Text => infc::render::print_graph(g),
        Format::Dot => infc::render::to_dot(g),
        Format::Json => infc::render::to_json(g),
    }
}

fn is_plan_file(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 8];
    // Only regular files are opened (a FIFO would block the open).
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
        && std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut magic))
            .is_ok()
        && &magic == b"INFCPLAN"
}

/// `infc explain PLAN [--memory]`: the decoded plan's memory map, or its step list.
/// A range plan instantiated (and validated) at `--shape SYMBOL=N` flags (symbols not named stay
/// at the stored shape), with the shape as text.
fn instance_at(
    t: &infc::plan_format::RangeTable,
    plan: &infc::plan_format::Plan,
    flags: &[String],
) -> Result<(infc::plan_format::PlanBody, String)> {
    let mut values = t.nominal_values();
    for f in flags {
        let (name, v) = f
            .split_once('=')
            .with_context(|| format!("--shape '{f}': expected SYMBOL=N"))?;
        let k = t
            .symbols
            .iter()
            .position(|s| s.name == name)
            .with_context(|| format!("--shape '{f}': the plan has no symbol '{name}'"))?;
        let v: u64 = v
            .parse()
            .with_context(|| format!("--shape '{f}': '{v}' is not a size"))?;
        let s = &t.symbols[k];
        if v < s.min || v > s.max {
            bail!("--shape '{f}': outside the plan's range {}", s.range_text());
        }
        values[k] = v;
    }
    let shown = t.show(&values);
    let body = t
        .instantiate(&plan.body, &values)
        .and_then(|b| infc::plan_format::validate(&b, plan.consts.len() as u64).map(|()| b))
        .with_context(|| format!("the plan at {shown}"))?;
    Ok((body, shown))
}

fn explain_plan(args: &ExplainArgs) -> Result<()> {
    let path = &args.model.model;
    let bytes = read_plan_file(path)?;
    let plan = infc::plan_format::decode(&bytes)
        .with_context(|| format!("loading plan {}", path.display()))?;
    let at = match (&plan.body.range, args.model.shapes.is_empty()) {
        (_, true) => None,
        (None, false) => {
            bail!("--shape: this plan has one shape (compile with a range to vary it)")
        }
        (Some(t), false) => Some(instance_at(t, &plan, &args.model.shapes)?),
    };
    if args.memory {
        print!("{}", at.as_ref().map_or(&plan.body, |(b, _)| b).memory);
        return Ok(());
    }
    let (major, minor) = format_version(&bytes);
    println!("{:<12} {major}.{minor}", "format");
    println!("{:<12} {}", "producer", plan.body.producer);
    for (k, v) in &plan.body.provenance {
        println!("{k:<12} {v}");
    }
    match &plan.body.range {
        None => {
            for io in &plan.body.inputs {
                println!("input  {} {}{:?}", io.name, io.dtype, io.shape);
            }
            for io in &plan.body.outputs {
                println!("output {} {}{:?}", io.name, io.dtype, io.shape);
            }
        }
        Some(range) => {
            let symbols: Vec<String> = range
                .symbols
                .iter()
                .map(|s| format!("{} {}", s.name, s.range_text()))
                .collect();
            println!("{:<12} {}", "symbols", symbols.join(", "));
            let dims = |target, i: usize, io: &infc::IoDesc| {
                range.io_dims(target, i, &io.shape).join(", ")
            };
            for (i, io) in plan.body.inputs.iter().enumerate() {
                let d = dims(infc::PatchTarget::Input, i, io);
                println!("input  {} {}[{d}]", io.name, io.dtype);
            }
            for (i, io) in plan.body.outputs.iter().enumerate() {
                let d = dims(infc::PatchTarget::Output, i, io);
                println!("output {} {}[{d}]", io.name, io.dtype);
            }
            if let Some((b, shown)) = &at {
                println!(
                    "{:<12} {} bytes at {shown} (lower bound {})",
                    "arena", b.memory.arena_bytes, b.memory.lower_bound_bytes
                );
            }
            match &range.arena {
                None => println!(
                    "{:<12} {} bytes at the max shape, shared by every shape ({} dim expressions, {} patched fields)",
                    "arena",
                    plan.body.memory.arena_bytes,
                    range.exprs.len(),
                    range.patches.len()
                ),
                Some(a) => {
                    let at_max = match a.plan(range, &range.max_values()) {
                        Ok(p) => format!("{} bytes at the max shape", p.arena_bytes),
                        Err(_) => "unbounded at the max shape".to_string(),
                    };
                    println!(
                        "{:<12} {at_max}, planned per shape: {} bytes at {} ({} buffers, {} offset fields, {} dim expressions, {} patched fields)",
                        "arena",
                        plan.body.memory.arena_bytes,
                        range.show(&a.nominal),
                        a.buffers.len(),
                        a.rebases.len(),
                        range.exprs.len(),
                        range.patches.len()
                    );
                }
            }
        }
    }
    for (i, (step, name)) in plan
        .body
        .steps
        .iter()
        .zip(&plan.body.step_names)
        .enumerate()
    {
        println!("{i:>5} {name:<40} {step:?}");
    }
    Ok(())
}

/// The major and minor format version of a plan image (bytes 8..12; zeros if too short).
fn format_version(bytes: &[u8]) -> (u16, u16) {
    let v = |at: usize| {
        bytes
            .get(at..at + 2)
            .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]))
    };
    (v(8), v(10))
}

/// `infc verify PLAN`: decode with every check, the constants' hash included.
pub fn verify(args: VerifyArgs) -> Result<()> {
    let path = &args.plan;
    let start = std::time::Instant::now();
    let bytes = read_plan_file(path)?;
    let plan = infc::plan_format::decode(&bytes)
        .with_context(|| format!("verifying plan {}", path.display()))?;
    let (major, minor) = format_version(&bytes);
    println!(
        "{}: ok (format {major}.{minor}, {} steps, {} bytes of constants hashed, {:.1} ms)",
        path.display(),
        plan.body.steps.len(),
        plan.consts.len(),
        start.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}

/// A plan file's bytes: regular files only (a FIFO would block, a device never end).
fn read_plan_file(path: &std::path::Path) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if !meta.is_file() {
        bail!("reading {}: not a regular file", path.display());
    }
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}
