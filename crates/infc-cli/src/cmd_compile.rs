//! `infc compile`: the facade's [`infc::compile_observed`] (import, bind, optimise, INT8 marks,
//! lower, provenance), then the plan file; prints a one-screen summary (steps, constants, arena
//! vs lower bound, compile time) and, with `--int8 --report`, the INT8 report.

use crate::cli::CompileArgs;
use crate::int8;
use anyhow::{Context, Result};
use std::time::Instant;

pub fn run(args: CompileArgs) -> Result<()> {
    let start = Instant::now();
    // Under -O3 the layout pass blocks the convs first; the quantization pass then picks the
    // blocked convs (INT8 NCHW16c kernel), so --int8 keeps the NCHWc layout.
    let opts = args.model.options(&args.quant, args.report);
    let c = infc::compile_observed(&args.model.model, &opts, |_, _, _| {})?;
    if let Some(d) = &c.int8 {
        int8::print_decision(d, args.report);
    }
    let plan = &c.plan;
    let bytes = plan.encode();
    std::fs::write(&args.output, &bytes)
        .with_context(|| format!("writing {}", args.output.display()))?;
    let mem = &plan.body.memory;
    eprintln!(
        "wrote {} ({} bytes): {} steps, {} bytes of constants, arena {} bytes (lower bound {}, {:.3}x; intermediates {}) in {:.2?}",
        args.output.display(),
        bytes.len(),
        plan.body.steps.len(),
        plan.consts.len(),
        mem.arena_bytes,
        mem.lower_bound_bytes,
        mem.arena_bytes as f64 / mem.lower_bound_bytes.max(1) as f64,
        mem.intermediates_bytes,
        start.elapsed()
    );
    if let Some(table) = &plan.body.range {
        for s in &table.symbols {
            let defaulted = c.ranges.iter().any(|r| r.name == s.name && r.defaulted);
            let how = if s.max == infc::plan_format::UNBOUNDED {
                " (no --shape bounds it: a run-time dim)".to_string()
            } else if defaulted {
                format!(
                    " (no --shape bounds it: the default; give --shape {}=MIN..MAX)",
                    s.name
                )
            } else {
                String::new()
            };
            eprintln!("range: {} {}{how}", s.name, s.range_text());
        }
        if table.arena.is_some() {
            eprintln!("range: the arena is planned per shape");
        }
        for note in &c.notes {
            eprintln!("range: {note}");
        }
    }
    if args.quant.int8 && args.report {
        let fp32 = infc::lower(&infc::int8::without_marks(&c.graph))
            .context("compiling the f32 plan to compare with")?;
        for line in infc::int8::model_report(&fp32, plan, args.quant.seed)? {
            println!("{line}");
        }
    }
    Ok(())
}
