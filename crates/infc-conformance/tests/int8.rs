//! `--int8` on every committed fixture: the -O2 graph with its weight layers quantized (the
//! quantization pass's selection) is compiled, run with every integer-kernel path this CPU has
//! (forced, per-row activations) and once per tensor, and each output must have cosine
//! similarity ≥ 0.99 with the f32 plan's output and with onnxruntime's committed output.

use infc::ir::Tensor;
use infc::passes::OptLevel;
use infc::{Int8Isa, Isa, Plan, Session, SessionOptions};
use infc_conformance::plan::{lower, options, quantize, run_plan, run_session};
use infc_conformance::{all_fixtures, cosine, Fixture};

const MIN_COSINE: f64 = 0.99;

/// Compile `f` at -O2 with every selected layer quantized; returns the plan and how many layers.
fn int8_plan(f: &Fixture, per_row: bool) -> Result<(Plan, usize), String> {
    let mut g = f.optimised(&options(OptLevel::O2))?;
    let n = quantize(&mut g, per_row, true)?;
    let plan = lower(&g)?;
    Ok((plan, n))
}

/// Run `plan` with the integer kernels forced to `int8`.
fn run_int8(
    plan: &Plan,
    int8: Int8Isa,
    inputs: &[(String, Tensor)],
) -> Result<Vec<Tensor>, String> {
    let bytes = plan.encode();
    let session = Session::from_bytes_with(
        &bytes,
        SessionOptions {
            isa: Some(Isa::detect()),
            ..Default::default()
        },
    )
    .map_err(|e| format!("load: {e}"))?
    .with_int8_isa(int8);
    run_session(&session, inputs)
}

fn check_fixture(f: &Fixture) -> Result<Vec<String>, String> {
    let g = f.optimised(&options(OptLevel::O2))?;
    let fp32 = lower(&g)?;
    let want_fp32 = run_plan(&fp32, Isa::detect(), &f.inputs)?;
    let mut lines = Vec::new();
    let mut runs: Vec<(String, Vec<Tensor>)> = Vec::new();
    let (plan, layers) = int8_plan(f, true)?;
    if layers == 0 {
        return Err("no layer was quantized".into());
    }
    let steps = plan
        .body
        .steps
        .iter()
        .filter(|s| matches!(s.kind(), "QuantMatMul" | "QuantConv"))
        .count();
    if steps != layers {
        return Err(format!(
            "{layers} layers selected but {steps} quantized steps"
        ));
    }
    for isa in Int8Isa::supported() {
        runs.push((
            format!("per-row/{}", isa.name()),
            run_int8(&plan, isa, &f.inputs)?,
        ));
    }
    let (tensor_plan, _) = int8_plan(f, false)?;
    runs.push((
        "per-tensor".into(),
        run_int8(&tensor_plan, Int8Isa::detect(), &f.inputs)?,
    ));
    for (what, outs) in &runs {
        for (i, got) in outs.iter().enumerate() {
            if !got.dtype.is_float() {
                continue;
            }
            let (name, ort) = &f.expected[i];
            let c_fp32 = cosine(got, &want_fp32[i])?;
            let c_ort = cosine(got, ort)?;
            lines.push(format!(
                "{} {what} {name}: cosine vs f32 {c_fp32:.5}, vs onnxruntime {c_ort:.5} ({layers} layers)",
                f.name
            ));
            if c_fp32 < MIN_COSINE || c_ort < MIN_COSINE {
                return Err(lines.pop().unwrap_or_default());
            }
        }
    }
    Ok(lines)
}

#[test]
fn every_fixture_under_int8_keeps_cosine_099() {
    let fixtures = all_fixtures();
    assert!(!fixtures.is_empty(), "no fixtures found");
    let mut failures = Vec::new();
    for f in &fixtures {
        match check_fixture(f) {
            Ok(lines) => lines.iter().for_each(|l| println!("{l}")),
            Err(e) => failures.push(format!("{}: {e}", f.name)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn integer_paths_agree_on_a_quantized_plan() {
    // The integer product is exact on every path; only the f32 epilogue may round differently.
    let f = infc_conformance::load_fixture("resnet_ts17");
    let (plan, _) = int8_plan(&f, true).expect("int8 plan");
    let base = run_int8(&plan, Int8Isa::Portable, &f.inputs).expect("portable run");
    for isa in Int8Isa::supported() {
        let got = run_int8(&plan, isa, &f.inputs).expect("run");
        for (a, b) in got.iter().zip(&base) {
            let (x, y) = (a.to_f64_vec().unwrap(), b.to_f64_vec().unwrap());
            let scale = y.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-6);
            let worst = x
                .iter()
                .zip(&y)
                .map(|(p, q)| (p - q).abs())
                .fold(0f64, f64::max);
            assert!(
                worst <= 1e-4 * scale,
                "{}: max diff {worst:e} vs portable (scale {scale:e})",
                isa.name()
            );
        }
    }
}
