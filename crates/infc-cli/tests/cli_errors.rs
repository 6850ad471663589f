//! Bad input never panics: each case runs the real `infc` binary and checks the exit status and that
//! the error message names the thing at fault.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models")
        .join(name)
}

/// Run `infc args…`; return (exit code, stderr with the temp dir replaced by `$TMP`).
fn infc(args: &[&str], tmp: Option<&Path>) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_infc"))
        .args(args)
        .output()
        .expect("infc runs");
    let mut err = String::from_utf8_lossy(&out.stderr).into_owned();
    if let Some(t) = tmp {
        err = err.replace(&t.display().to_string(), "$TMP");
    }
    err = err.replace(&fixture("").display().to_string(), "$MODELS/");
    (out.status.code().unwrap_or(-1), err.trim_end().to_string())
}

/// The message is an `error:` line, not a panic, and names every piece in `names`.
fn assert_fault(err: &str, names: &[&str]) {
    assert!(err.starts_with("error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in names {
        assert!(err.contains(n), "message does not name {n:?}: {err}");
    }
    // Each cause is said once (an error that both prints and chains its source repeats it).
    let parts: Vec<&str> = err.lines().next().unwrap_or("").split(": ").collect();
    for w in parts.windows(2) {
        assert!(
            w[0] != w[1] || w[0].is_empty(),
            "repeated cause {:?}: {err}",
            w[0]
        );
    }
    let os = err.matches("(os error").count();
    assert!(os <= 1, "the OS error is repeated: {err}");
}

#[test]
fn missing_model_file() {
    let (code, err) = infc(&["explain", "/nonexistent/model.onnx"], None);
    assert_eq!(code, 1);
    assert_fault(&err, &["/nonexistent/model.onnx"]);
}

#[test]
fn truncated_model() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixture("fixtures/resnet_ts14/model.onnx")).unwrap();
    for cut in [
        1usize,
        17,
        bytes.len() / 3,
        bytes.len() / 2,
        bytes.len() - 5,
    ] {
        let p = tmp.path().join("model.onnx");
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let (code, err) = infc(&["explain", p.to_str().unwrap()], Some(tmp.path()));
        assert_eq!(code, 1, "cut at {cut}: {err}");
        assert!(
            err.starts_with("error: importing $TMP/model.onnx"),
            "cut at {cut}: {err}"
        );
        assert!(!err.contains("panicked"), "cut at {cut}: {err}");
    }
    let p = tmp.path().join("model.onnx");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    assert_fault(
        &infc(&["explain", p.to_str().unwrap()], Some(tmp.path())).1,
        &["$TMP/model.onnx"],
    );
}

#[test]
fn random_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let p = tmp.path().join("random.onnx");
    std::fs::write(&p, bytes).unwrap();
    let (code, err) = infc(&["explain", p.to_str().unwrap()], Some(tmp.path()));
    assert_eq!(code, 1);
    assert_fault(&err, &["$TMP/random.onnx"]);
}

#[test]
fn missing_external_data_file() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("fixtures/gpt2_dynamo18/model.onnx"),
        tmp.path().join("model.onnx"),
    )
    .unwrap();
    let p = tmp.path().join("model.onnx");
    let (code, err) = infc(&["explain", p.to_str().unwrap()], Some(tmp.path()));
    assert_eq!(code, 1);
    assert_fault(&err, &["model.onnx.data"]);
}

#[test]
fn unsupported_ops_are_listed_together() {
    let (code, err) = infc(
        &[
            "explain",
            fixture("errors/unsupported_ops.onnx").to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, 1);
    assert_fault(
        &err,
        &[
            "Hardmax",
            "hardmax0",
            "Det",
            "det0",
            "CustomThing",
            "custom0",
        ],
    );
}

#[test]
fn bad_shape_flag_syntax() {
    let m = fixture("fixtures/gpt2_ts14/model.onnx");
    let (code, err) = infc(
        &["explain", m.to_str().unwrap(), "--shape", "input_ids:1x8"],
        None,
    );
    assert_eq!(code, 1);
    assert_fault(&err, &["--shape 'input_ids:1x8': missing '='"]);
    let (_, err) = infc(
        &[
            "explain",
            m.to_str().unwrap(),
            "--shape",
            "input_ids=1xeight",
        ],
        None,
    );
    assert_fault(&err, &["'eight' is not a non-negative integer"]);
}

#[test]
fn shape_that_contradicts_the_model() {
    let m = fixture("fixtures/resnet_ts14/model.onnx");
    let (code, err) = infc(
        &[
            "explain",
            m.to_str().unwrap(),
            "--shape",
            "pixel_values=1x4x32x32",
        ],
        None,
    );
    assert_eq!(code, 1);
    assert_fault(&err, &["pixel_values=1x4x32x32", "dim 1 is fixed at 3"]);
    let m = fixture("fixtures/gpt2_ts14/model.onnx");
    let (_, err) = infc(
        &[
            "explain",
            m.to_str().unwrap(),
            "--shape",
            "input_ids=1x8",
            "--shape",
            "attention_mask=2x8",
        ],
        None,
    );
    assert_fault(
        &err,
        &["dim 'batch' is bound to 1 by input_ids=1x8 and to 2 by attention_mask=2x8"],
    );
    let (_, err) = infc(
        &["explain", m.to_str().unwrap(), "--shape", "input_ids=1x8x3"],
        None,
    );
    assert_fault(
        &err,
        &["input 'input_ids' has rank 2", "the binding gives 3 dims"],
    );
}

#[test]
fn truncated_plan_file() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = tmp.path().join("bad.plan");
    std::fs::write(&plan, b"garbage").unwrap();
    let (code, err) = infc(&["run", plan.to_str().unwrap()], Some(tmp.path()));
    assert_eq!(code, 1);
    assert_fault(&err, &["$TMP/bad.plan", "truncated"]);
}
