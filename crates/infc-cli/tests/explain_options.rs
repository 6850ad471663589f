//! `infc explain --diff` prints a unified diff per pass that changed the graph, and
//! `--disable PASS` leaves one pass out of the -O pipeline (and rejects unknown pass names).

use std::path::PathBuf;
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../models/fixtures/{name}/model.onnx"))
}

fn infc(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_infc"))
        .args(args)
        .output()
        .expect("infc runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn diff_shows_each_changing_pass() {
    let model = fixture("resnet_ts14_bn");
    let (ok, out, err) = infc(&[
        "explain",
        model.to_str().unwrap(),
        "--shape",
        "pixel_values=1x3x32x32",
        "-O2",
        "--diff",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("// ----- diff after fuse-conv-bn -----"),
        "{out}"
    );
    assert!(out.contains("+++ fuse-conv-bn"));
    // The BatchNormalization nodes are removed lines, the folded convs added ones.
    assert!(out
        .lines()
        .any(|l| l.starts_with('-') && l.contains("BatchNormalization")));
    assert!(out
        .lines()
        .any(|l| l.starts_with('+') && l.contains("FusedConv")));
    // A pass that changed nothing prints no diff.
    assert!(!out.contains("diff after fuse-attention"));
}

#[test]
fn disable_leaves_one_pass_out() {
    let model = fixture("gpt2_ts17");
    let base = [
        "explain",
        model.to_str().unwrap(),
        "--shape",
        "input_ids=2x8",
        "--shape",
        "attention_mask=2x8",
        "-O2",
        "--op-counts",
    ];
    let (ok, all, err) = infc(&base);
    assert!(ok, "{err}");
    assert!(
        all.contains("Attention 2") && !all.contains("Softmax"),
        "{all}"
    );
    let mut args = base.to_vec();
    args.extend(["--disable", "fuse-attention"]);
    let (ok, without, err) = infc(&args);
    assert!(ok, "{err}");
    assert!(
        without.contains("Softmax 2") && !without.contains("Attention"),
        "{without}"
    );

    let mut args = base.to_vec();
    args.extend(["--disable", "fuse-everything"]);
    let (ok, _, err) = infc(&args);
    assert!(!ok);
    assert!(
        err.starts_with("error: --disable fuse-everything: no such pass"),
        "{err}"
    );
}
