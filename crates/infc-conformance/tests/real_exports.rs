//! Generality checks on real exports that are not committed: `models/variants/` (other sizes, batch
//! sizes, sequence lengths, padding masks, opsets 13–18, sdpa attention; `python3 models/export.py
//! --variants models/variants`) and `models/full/` (`--full`). Ignored by default because the files
//! are generated locally; run with `cargo test --release -p infc-conformance --test real_exports -- --ignored`.

use infc::passes::OptLevel;
use infc_conformance::plan::{lower, optimise, quantize, run_plan};
use infc_conformance::{compare, cosine, fixtures_in, goals, Fixture};
use std::path::Path;

/// How a fixture directory is checked.
#[derive(Clone, Copy)]
enum Check {
    /// The reference interpreter on the bound graph.
    Reference,
    /// The -O3 pipeline (structural goals), compiled and run with the best ISA.
    PlanO3,
    /// `--int8` (-O2, the quantization pass's selection, per-row activations): cosine ≥ 0.99
    /// with onnxruntime's FP32 outputs instead of the FP32 tolerance.
    Int8,
}

fn check_one(f: &Fixture, check: Check) -> Result<(), String> {
    let mut g = f.bound_graph()?;
    let outs = match check {
        Check::Reference => {
            let inputs: Vec<_> = f
                .inputs
                .iter()
                .map(|(n, t)| (n.as_str().into(), t.clone()))
                .collect();
            infc::reference::run_graph(&g, &inputs).map_err(|e| e.to_string())?
        }
        Check::PlanO3 => {
            optimise(&mut g, OptLevel::O3)?;
            let bad = goals::violations(&g, &f.meta.family);
            if !bad.is_empty() {
                return Err(format!("-O3 structure: {}", bad.join("; ")));
            }
            let plan = lower(&g)?;
            run_plan(&plan, infc::Isa::detect(), &f.inputs)?
        }
        Check::Int8 => {
            optimise(&mut g, OptLevel::O2)?;
            let layers = quantize(&mut g, true, true)?;
            let plan = lower(&g)?;
            let outs = run_plan(&plan, infc::Isa::detect(), &f.inputs)?;
            for ((name, want), got) in f.expected.iter().zip(&outs) {
                let c = cosine(got, want)?;
                eprintln!("  {name}: cosine {c:.5} vs onnxruntime FP32 ({layers} layers int8)");
                if c < 0.99 {
                    return Err(format!("{name}: cosine {c:.5} < 0.99"));
                }
            }
            return Ok(());
        }
    };
    if outs.len() != f.expected.len() {
        return Err(format!(
            "{} outputs, expected {}",
            outs.len(),
            f.expected.len()
        ));
    }
    for ((name, want), got) in f.expected.iter().zip(&outs) {
        compare(name, got, want)?;
    }
    Ok(())
}

fn check_dir(sub: &str, check: Check) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models")
        .join(sub);
    let fixtures = fixtures_in(&root);
    assert!(
        !fixtures.is_empty(),
        "no exports under {} (generate them with models/export.py)",
        root.display()
    );
    let mut failures = Vec::new();
    for f in &fixtures {
        let start = std::time::Instant::now();
        let result = check_one(f, check);
        eprintln!(
            "{:<40} {:>8.2}s {}",
            f.name,
            start.elapsed().as_secs_f64(),
            if result.is_ok() { "ok" } else { "FAIL" }
        );
        if let Err(e) = result {
            failures.push(format!("{}: {e}", f.name));
        }
    }
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

#[test]
#[ignore = "needs models/variants (python3 models/export.py --variants models/variants)"]
fn variants_match_onnxruntime() {
    check_dir("variants", Check::Reference);
}

#[test]
#[ignore = "needs models/variants (python3 models/export.py --variants models/variants)"]
fn variants_compiled_at_o3_meet_goals_and_match_onnxruntime() {
    check_dir("variants", Check::PlanO3);
}

#[test]
#[ignore = "needs models/variants (python3 models/export.py --variants models/variants)"]
fn variants_int8_stay_close_to_onnxruntime_fp32() {
    check_dir("variants", Check::Int8);
}

#[test]
#[ignore = "needs models/full (python3 models/export.py --full)"]
fn full_size_models_int8_stay_close_to_onnxruntime_fp32() {
    check_dir("full", Check::Int8);
}

#[test]
#[ignore = "needs models/full (python3 models/export.py --full)"]
fn full_size_models_match_onnxruntime() {
    check_dir("full", Check::Reference);
}

#[test]
#[ignore = "needs models/full (python3 models/export.py --full)"]
fn full_size_models_compiled_at_o3_meet_goals_and_match_onnxruntime() {
    check_dir("full", Check::PlanO3);
}
