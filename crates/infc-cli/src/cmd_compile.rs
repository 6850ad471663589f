//! `infc compile`: import, bind, optimise, lower and write the plan file; prints a one-screen summary
//! (steps, constants, arena vs lower bound, compile time).

use crate::cli::CompileArgs;
use crate::model;
use anyhow::{Context, Result};
use std::time::Instant;

pub fn run(args: CompileArgs) -> Result<()> {
    let start = Instant::now();
    let (g, _log) = model::load(&args.model, |_, _, _| {})?;
    model::require_bound(&g)?;
    let opts = infc_compile::CompileOptions::default();
    let plan = infc_compile::compile(&g, &opts)
        .with_context(|| format!("compiling {}", args.model.model.display()))?;
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
    Ok(())
}
