//! A model's own faults are errors naming the model's node, tensor or file (exit 1), never
//! "internal error", a panic or an abort (issue 19, rows 4, 9 and 13). The models are in `models/errors/`,
//! made by its `make_errors.py`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn model(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/errors")
        .join(name)
}

/// `infc compile MODEL -O{level} extra…` into a temp dir: the exit code and the first stderr line.
fn compile_with(model: &Path, level: &str, extra: &[&str]) -> (i32, String) {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_infc"))
        .arg("compile")
        .arg(model)
        .arg(level)
        .arg("-o")
        .arg(tmp.path().join("m.plan"))
        .args(extra)
        .output()
        .expect("infc runs");
    let err = String::from_utf8_lossy(&out.stderr);
    let first = err.lines().next().unwrap_or("").to_string();
    (out.status.code().unwrap_or(-1), first)
}

fn compile(model: &Path, level: &str) -> (i32, String) {
    compile_with(model, level, &[])
}

/// Compiling fails at every level with an `error:` line naming each of `names`.
fn assert_model_fault(model: &Path, names: &[&str]) {
    for level in ["-O0", "-O3"] {
        let (code, err) = compile(model, level);
        assert_eq!(code, 1, "{level}: {err}");
        assert!(err.starts_with("error: "), "{level}: {err}");
        assert!(!err.contains("internal error"), "{level}: {err}");
        for n in names {
            assert!(err.contains(n), "{level}: does not name {n:?}: {err}");
        }
    }
}

#[test]
fn duplicate_graph_outputs_are_named() {
    assert_model_fault(
        &model("duplicate_outputs.onnx"),
        &["output 'y'", "listed more than once"],
    );
}

#[test]
fn outputs_of_a_rank_plans_cannot_hold_are_named() {
    assert_model_fault(
        &model("huge_rank.onnx"),
        &["output 'y'", "rank 100002", "at most 32"],
    );
}

/// Pads of 2^40 make a 32 TiB output: refused naming the node and the value, before the plan's
/// validator (which said "internal error: lowered plan is invalid: … arena … exceeds").
#[test]
fn values_larger_than_an_arena_are_named_with_their_node() {
    assert_model_fault(
        &model("huge_pads.onnx"),
        &["node 'conv'", "'y", "f32[1,1,2199023255556,4", "bytes"],
    );
}

/// External data behind a symlink that leaves the model's folder is refused, naming the tensor,
/// the location and where it leads; the same link to a file inside the folder compiles.
#[test]
fn external_data_symlinked_out_of_the_folder_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("model");
    std::fs::create_dir(&dir).unwrap();
    let m = dir.join("external_link.onnx");
    std::fs::copy(model("external_link.onnx"), &m).unwrap();
    let secret = tmp.path().join("secret.bin");
    std::fs::write(&secret, [0u8; 8]).unwrap();
    std::os::unix::fs::symlink(&secret, dir.join("w.data")).unwrap();
    let (code, err) = compile(&m, "-O0");
    assert_eq!(code, 1, "{err}");
    for n in ["tensor 'w'", "location 'w.data'", "secret.bin", "outside"] {
        assert!(err.contains(n), "does not name {n:?}: {err}");
    }
    std::fs::remove_file(dir.join("w.data")).unwrap();
    std::fs::rename(&secret, dir.join("real.bin")).unwrap();
    std::os::unix::fs::symlink("real.bin", dir.join("w.data")).unwrap();
    let (code, err) = compile(&m, "-O0");
    assert_eq!(code, 0, "{err}");
}

/// `--int8 --report` (and `--int8-budget`) run the f32 graph with every quantized layer's
/// activations exposed: with a 4 TiB activation that is refused before anything is allocated,
/// naming the tensor and its bytes (a 16 GiB one aborted). The plan itself compiles.
#[test]
fn int8_measurements_that_do_not_fit_in_memory_name_the_activation() {
    let m = model("huge_activation.onnx");
    for flags in [
        &["--int8", "--report"][..],
        &["--int8", "--int8-budget", "0.1"],
    ] {
        let (code, err) = compile_with(&m, "-O0", flags);
        assert_eq!(code, 1, "{flags:?}: {err}");
        for n in [
            "'big'",
            "4398046511104 bytes",
            "physical memory",
            "--report",
        ] {
            assert!(err.contains(n), "{flags:?}: does not name {n:?}: {err}");
        }
    }
    let (code, err) = compile_with(&m, "-O0", &["--int8"]);
    assert_eq!(code, 0, "{err}");
}
