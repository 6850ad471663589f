//! `infc compile`: import, bind, optimise, lower and write the plan file with its provenance (the
//! source model's name, size and hash, the flags, the target); prints a one-screen summary (steps,
//! constants, arena vs lower bound, compile time).

use crate::cli::CompileArgs;
use crate::{int8, model};
use anyhow::{Context, Result};
use clap::ValueEnum as _;
use std::time::Instant;

pub fn run(args: CompileArgs) -> Result<()> {
    int8::check_budget(&args.quant)?;
    let start = Instant::now();
    // Under -O3 the layout pass blocks the convs first; the quantization pass then picks the
    // blocked convs (INT8 NCHW16c kernel), so --int8 keeps the NCHWc layout.
    // The graph is bound before the INT8 selection measures anything.
    let req = int8::Int8Request::from_args(&args.quant, args.report);
    let (g, _log) = model::load(&args.model, req.as_ref(), |_, _, _| {})?;
    model::require_bound(&g)?;
    let opts = infc_compile::CompileOptions::default();
    let mut plan = infc_compile::compile(&g, &opts)
        .with_context(|| format!("compiling {}", args.model.model.display()))?;
    plan.body.provenance = provenance(&args)?;
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
    if args.quant.int8 && args.report {
        let fp32 = infc_compile::compile(&int8::without_marks(&g), &opts)
            .context("compiling the f32 plan to compare with")?;
        for line in int8::model_report(&fp32, &plan, args.quant.seed)? {
            println!("{line}");
        }
    }
    Ok(())
}

/// What `infc explain PLAN` shows of where a plan came from. Nothing that differs between two
/// compiles of the same file with the same flags (no time, no output path, no folder), so plans
/// stay byte-identical.
fn provenance(args: &CompileArgs) -> Result<Vec<(String, String)>> {
    let path = &args.model.model;
    let (bytes, hash) = hash_file(path)?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let m = &args.model;
    let mut flags = vec![format!("-O{}", m.opt)];
    flags.extend(m.shapes.iter().map(|s| format!("--shape {s}")));
    flags.extend(m.disable.iter().map(|p| format!("--disable {p}")));
    if let Some(b) = m.nchwc_block {
        flags.push(format!("--nchwc-block {b}"));
    }
    let q = &args.quant;
    if q.int8 {
        flags.push("--int8".into());
        flags.extend(q.int8_exclude.iter().map(|n| format!("--int8-exclude {n}")));
        if let Some(b) = q.int8_budget {
            flags.push(format!("--int8-budget {b} --seed {}", q.seed));
        }
        if q.int8_per_tensor {
            flags.push("--int8-per-tensor".into());
        }
        if q.int8_f32_attention {
            flags.push("--int8-f32-attention".into());
        }
    }
    let target = match m.target {
        crate::cli::Target::Native => format!("native (NCHWc block {})", m.target.nchwc_block()),
        t => t
            .to_possible_value()
            .map_or_else(String::new, |v| v.get_name().to_string()),
    };
    Ok(vec![
        ("source".into(), name),
        ("source_bytes".into(), bytes.to_string()),
        ("source_xxh64".into(), format!("{hash:016x}")),
        ("flags".into(), flags.join(" ")),
        ("target".into(), target),
    ])
}

/// Size and xxh64 of a file, read in 1 MiB pieces (no whole-file buffer).
fn hash_file(path: &std::path::Path) -> Result<(u64, u64)> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut h = xxhash_rust::xxh64::Xxh64::new(0);
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            return Ok((total, h.digest()));
        }
        h.update(&buf[..n]);
        total += n as u64;
    }
}
