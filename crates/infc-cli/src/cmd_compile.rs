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
    if plan.body.range.is_some() {
        for s in &c.ranges {
            let how = if !s.defaulted {
                String::new()
            } else {
                format!(
                    " (no --shape bounds it: the default; give --shape {}=MIN..MAX)",
                    s.name
                )
            };
            eprintln!("range: {} {}..={}{how}", s.name, s.min, s.max);
        }
        match &c.shared_arena {
            None => eprintln!("range: the arena is planned per shape"),
            Some(why) => eprintln!("range: the max shape's arena serves every shape ({why})"),
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
