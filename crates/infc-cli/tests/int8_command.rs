//! `infc compile --int8` end to end on a committed fixture: the per-layer report, the model cosine
//! and top-1 lines, `--int8-budget` keeping layers in f32 (and saying which), `--int8-exclude`,
//! and the error for an excluded name that matches no node.

use std::path::{Path, PathBuf};
use std::process::Command;

fn model(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/fixtures")
        .join(name)
        .join("model.onnx")
}

/// Run `infc compile <resnet fixture> -O2 --int8 extra…`; (exit code, stdout, stderr).
fn compile(extra: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = dir.path().join("p.plan");
    let m = model("resnet_ts17");
    let mut args = vec![
        "compile",
        m.to_str().expect("utf-8 path"),
        "-O2",
        "--shape",
        "pixel_values=1x3x32x32",
        "-o",
        plan.to_str().expect("utf-8 path"),
        "--int8",
    ];
    args.extend_from_slice(extra);
    let out = Command::new(env!("CARGO_BIN_EXE_infc"))
        .args(&args)
        .output()
        .expect("infc runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn int8_layers(stdout: &str) -> usize {
    stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("int8 "))
        .count()
}

#[test]
fn report_lists_layers_and_model_agreement() {
    let (code, out, err) = compile(&["--report"]);
    assert_eq!(code, 0, "{err}");
    assert!(int8_layers(&out) >= 4, "{out}");
    assert!(out.contains("rel err"), "{out}");
    let cos_line = out
        .lines()
        .find(|l| l.starts_with("output logits: cosine"))
        .unwrap_or_else(|| panic!("no model line in {out}"));
    let cos: f64 = cos_line
        .split_whitespace()
        .nth(3)
        .and_then(|v| v.trim_end_matches(',').parse().ok())
        .unwrap_or_else(|| panic!("cannot read cosine in {cos_line}"));
    assert!(cos >= 0.99, "{cos_line}");
    assert!(cos_line.contains("top-1 agreement"), "{cos_line}");
}

#[test]
fn budget_keeps_layers_over_it_in_f32_and_names_them() {
    let (code, all, err) = compile(&["--report"]);
    assert_eq!(code, 0, "{err}");
    // A zero budget keeps every layer with any error in f32.
    let (code, out, err) = compile(&["--report", "--int8-budget", "0"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("int8 budget: keeping '"), "{err}");
    assert!(out.contains("error above --int8-budget 0"), "{out}");
    assert!(int8_layers(&out) < int8_layers(&all), "{out}");
}

#[test]
fn exclude_keeps_a_layer_and_unknown_names_are_errors() {
    let (code, out, err) = compile(&["--report", "--int8-exclude", "/fc/Gemm"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("/fc/Gemm: excluded by --int8-exclude"),
        "{out}"
    );
    let (code, _, err) = compile(&["--int8-exclude", "no_such_layer"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("no_such_layer"), "{err}");
}
