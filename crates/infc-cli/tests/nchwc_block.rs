//! `--nchwc-block 8|16` sets the channel block of the -O3 NCHWc layout for `explain` and `compile`
//! (default: 16 on an AVX-512 machine, else 8); other values are rejected by the argument parser.

use std::path::PathBuf;
use std::process::Command;

fn resnet() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/fixtures/resnet_ts14_bn/model.onnx")
        .to_str()
        .expect("utf-8 path")
        .to_string()
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
