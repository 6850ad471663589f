//! `infc compile`: import, bind, optimise, lower and write the plan file; prints a one-screen summary
//! (steps, constants, arena vs lower bound, compile time).

use crate::cli::CompileArgs;
use crate::{int8, model};
use anyhow::{bail, Context, Result};
use std::time::Instant;

pub fn run(args: CompileArgs) -> Result<()> {
    if let Some(b) = args.int8_budget {
        // NaN compares false with every error: it would keep nothing in f32, silently.
        if !(b.is_finite() && b >= 0.0) {
            bail!("--int8-budget {b}: not a relative error; give a finite number >= 0, e.g. 0.05 (layers whose error exceeds it stay in f32)");
        }
    }
    let start = Instant::now();
    // Under -O3 the layout pass blocks the convs first; the quantization pass then picks the
    // blocked convs (INT8 NCHW16c kernel), so --int8 keeps the NCHWc layout.
    let (g, _log) = model::load(&args.model, |_, _, _| {})?;
    model::require_bound(&g)?;
    let opts = if args.int8 {
        let req = int8::Int8Request {
            exclude: args.int8_exclude.clone(),
            budget: args.int8_budget,
            report: args.report,
            per_row: !args.int8_per_tensor,
            bf16_attention: !args.int8_f32_attention,
            seed: args.seed,
        };
        int8::plan_options(&g, &req)?
    } else {
        infc_compile::CompileOptions::default()
    };
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
    if args.int8 && args.report {
        let fp32 = infc_compile::compile(&g, &infc_compile::CompileOptions::default())
            .context("compiling the f32 plan to compare with")?;
        for line in int8::model_report(&fp32, &plan, args.seed)? {
            println!("{line}");
        }
    }
    Ok(())
}
