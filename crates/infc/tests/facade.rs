//! The facade end to end on the committed fixtures: compile → write → load → run matches
//! onnxruntime's committed output; the INT8 options reach the plan (quantized steps, the budget's
//! choices, the provenance flags); faults come back as the right [`infc::Error`] variant naming
//! the thing at fault.

use infc::{compile, compile_observed, CompileOptions, Error, Int8Options, Session, Target};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../models/fixtures/{name}/model.onnx"))
}

fn gpt2_options() -> CompileOptions {
    CompileOptions {
        shapes: vec!["batch=2".into(), "sequence=8".into()],
        ..CompileOptions::default()
    }
}

#[test]
fn compile_write_load_run() {
    let opts = CompileOptions {
        shapes: vec!["pixel_values=1x3x32x32".into()],
        target: Target::X86_64V3,
        ..CompileOptions::default()
    };
    let plan = compile(fixture("resnet_ts14"), &opts).expect("compiles");
    let flags = plan.body.provenance.iter().find(|(k, _)| k == "flags");
    assert_eq!(
        flags.map(|(_, v)| v.as_str()),
        Some("-O3 --shape pixel_values=1x3x32x32")
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.plan");
    plan.write(&path).unwrap();
    let s = Session::load(&path).expect("loads");
    let inputs = infc::inputs::seeded_inputs(s.plan(), 1).unwrap();
    let views: Vec<_> = inputs.iter().map(|i| i.view()).collect();
    let out = s.run(&views).expect("runs");
    assert_eq!(out[0].shape, [1, 10]);
    assert!(out[0].data.iter().any(|&b| b != 0));
}

#[test]
fn int8_options_mark_and_report() {
    let opts = CompileOptions {
        int8: Some(Int8Options {
            measure: true,
            ..Int8Options::default()
        }),
        ..gpt2_options()
    };
    let c = compile_observed(&fixture("gpt2_ts17"), &opts, |_, _, _| {}).expect("compiles");
    let d = c.int8.expect("an INT8 decision");
    let layers = d.layers.as_ref().expect("measured");
    assert_eq!(layers.len(), d.selection.quantize.len());
    assert!(
        layers.iter().all(|l| l.rel.is_finite() && l.rel < 0.1),
        "{layers:?}"
    );
    let quant = c
        .plan
        .body
        .steps
        .iter()
        .filter(|s| s.kind() == "QuantMatMul")
        .count();
    assert_eq!(quant, d.selection.quantize.len());
    assert!(c.graph.nodes.iter().any(|n| n.precision.is_int8()));

    // A budget of 0 keeps every measured layer in f32.
    let strict = CompileOptions {
        int8: Some(Int8Options {
            budget: Some(0.0),
            ..Int8Options::default()
        }),
        ..gpt2_options()
    };
    let c = compile_observed(&fixture("gpt2_ts17"), &strict, |_, _, _| {}).expect("compiles");
    let d = c.int8.unwrap();
    assert!(d.selection.quantize.is_empty());
    assert!(!d.over_budget().is_empty());
    assert!(c.plan.body.steps.iter().all(|s| s.kind() != "QuantMatMul"));
    let flags = &c
        .plan
        .body
        .provenance
        .iter()
        .find(|(k, _)| k == "flags")
        .unwrap()
        .1;
    assert!(
        flags.ends_with("--int8 --int8-budget 0 --seed 0"),
        "{flags}"
    );
}

#[test]
fn faults_are_typed_and_named() {
    let empty_range = CompileOptions {
        shapes: vec!["sequence=0..4".into()],
        ..CompileOptions::default()
    };
    let e = compile(fixture("gpt2_ts17"), &empty_range).unwrap_err();
    assert!(matches!(e, Error::Options(_)), "{e:?}");
    assert!(
        e.to_string()
            .contains("--shape sequence=0..4: range 0..4 is empty"),
        "{e}"
    );

    let missing = PathBuf::from("/nonexistent/model.onnx");
    let e = compile(&missing, &CompileOptions::default()).unwrap_err();
    assert!(matches!(e, Error::Import { .. }), "{e:?}");
    assert!(e.to_string().contains("/nonexistent/model.onnx"), "{e}");

    let bad_pass = CompileOptions {
        disable: vec!["fuse-everything".into()],
        ..gpt2_options()
    };
    let e = compile(fixture("gpt2_ts17"), &bad_pass).unwrap_err();
    assert!(e.to_string().contains("fuse-everything") && e.to_string().contains("known passes"));

    let nan_budget = CompileOptions {
        int8: Some(Int8Options {
            budget: Some(f64::NAN),
            ..Int8Options::default()
        }),
        ..gpt2_options()
    };
    let e = compile(fixture("gpt2_ts17"), &nan_budget).unwrap_err();
    assert!(e.to_string().contains("--int8-budget NaN"), "{e}");

    let Err(e) = Session::from_bytes(b"INFCPLAN but not a plan") else {
        panic!("a broken plan loaded")
    };
    let e: Error = e.into();
    assert!(matches!(e, Error::Runtime(_)));
}
