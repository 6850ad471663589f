//! `infc explain --diff` prints a unified diff per pass that changed the graph, and
//! `--disable PASS` leaves one pass out of the -O pipeline (and rejects unknown pass names), and
//! `--nchwc-block 8|16` sets the channel block of the -O3 NCHWc layout for `explain` and `compile`
//! (default: 16 on an AVX-512 machine, else 8; other values are rejected by the argument parser);
//! `--int8` shows the quantization passes' marks.

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

fn resnet() -> String {
    fixture("resnet_ts14_bn")
        .to_str()
        .expect("utf-8 path")
        .to_string()
}

/// Blocks of every Reorder in the -O3 IR printed by `explain` with `extra` arguments.
fn reorder_blocks(extra: &[&str]) -> Vec<String> {
    let model = resnet();
    let mut args = vec![
        "explain",
        model.as_str(),
        "--shape",
        "pixel_values=1x3x32x32",
        "-O3",
    ];
    args.extend_from_slice(extra);
    let (ok, out, err) = infc(&args);
    assert!(ok, "{err}");
    let blocks: Vec<String> = out
        .lines()
        .filter(|l| l.contains("Reorder["))
        .filter_map(|l| l.split("block=").nth(1))
        .map(|rest| {
            rest.split([',', ']'])
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert!(!blocks.is_empty(), "no Reorder in:\n{out}");
    blocks
}

#[test]
fn block_option_reaches_the_layout_pass() {
    assert!(reorder_blocks(&["--nchwc-block", "8"])
        .iter()
        .all(|b| b == "8"));
    assert!(reorder_blocks(&["--nchwc-block", "16"])
        .iter()
        .all(|b| b == "16"));
    let default = reorder_blocks(&[]);
    assert!(
        default.iter().all(|b| b == &default[0]) && (default[0] == "8" || default[0] == "16"),
        "{default:?}"
    );
}

#[test]
fn compile_accepts_a_block_and_rejects_others() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plan = dir.path().join("resnet.plan");
    let model = resnet();
    let base = [
        "compile",
        model.as_str(),
        "--shape",
        "pixel_values=1x3x32x32",
        "-O3",
        "-o",
        plan.to_str().expect("utf-8 path"),
    ];
    let (ok, _, err) = infc(&[&base[..], &["--nchwc-block", "8"][..]].concat());
    assert!(ok, "{err}");
    assert!(plan.exists());
    let (ok, _, err) = infc(&[&base[..], &["--nchwc-block", "4"][..]].concat());
    assert!(!ok);
    assert!(
        err.contains("'4' is not a channel block: use 8 or 16"),
        "{err}"
    );
}

/// `explain --int8` runs the passes `compile --int8` runs and shows their decisions as marks:
/// GPT-2's projections `@int8_per_row`, the LayerNorms they absorb `@in_reader`, attention `@bf16`
/// (the QKV split is `@view` with or without `--int8`); `--int8-per-tensor` marks `@int8` and
/// absorbs nothing; `--disable absorb-layernorm` keeps every LayerNorm a step.
#[test]
fn int8_marks_are_shown() {
    let model = fixture("gpt2_ts17");
    let base = [
        "explain",
        model.to_str().unwrap(),
        "--shape",
        "batch=2",
        "--shape",
        "sequence=8",
        "-O3",
    ];
    let count = |extra: &[&str], mark: &str| {
        let (ok, out, err) = infc(&[&base[..], extra].concat());
        assert!(ok, "{extra:?}: {err}");
        out.matches(mark).count()
    };
    assert_eq!(count(&[], "@int8"), 0);
    assert_eq!(count(&[], "@view"), 2);
    let int8 = ["--int8"];
    assert!(count(&int8, "@int8_per_row") >= 8);
    assert!(count(&int8, "@in_reader") >= 1);
    assert_eq!(count(&int8, "@bf16"), 2);
    assert_eq!(count(&["--int8", "--int8-f32-attention"], "@bf16"), 0);
    let per_tensor = ["--int8", "--int8-per-tensor"];
    assert_eq!(count(&per_tensor, "@int8_per_row"), 0);
    assert!(count(&per_tensor, "@int8 ") >= 8);
    assert_eq!(count(&per_tensor, "@in_reader"), 0);
    let kept = ["--int8", "--disable", "absorb-layernorm"];
    assert_eq!(count(&kept, "@in_reader"), 0);
    let (ok, out, err) = infc(&[&base[..], &["--int8", "--print-after", "mark-int8"]].concat());
    assert!(ok, "{err}");
    assert!(out.contains("// ----- IR after mark-int8 -----"), "{out}");
}
