//! Issue 20: `--target` fixes a plan's layout choices (the NCHWc block) whatever the build machine,
//! and a plan made for one target runs on every ISA path of this machine with the same results.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn resnet() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/fixtures/resnet_ts14/model.onnx")
}

fn infc(args: &[&str], isa: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_infc"));
    c.args(args);
    if let Some(isa) = isa {
        c.env("INFC_ISA", isa);
    }
    let out = c.output().expect("infc runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn first_block(target: &str, extra: &[&str]) -> String {
    let m = resnet();
    let mut args = vec![
        "explain",
        m.to_str().unwrap(),
        "-O3",
        "--shape",
        "pixel_values=1x3x32x32",
        "--target",
        target,
    ];
    args.extend_from_slice(extra);
    let ir = String::from_utf8(infc(&args, None).stdout).unwrap();
    let line = ir
        .lines()
        .find(|l| l.contains("NchwcConv"))
        .expect("an NCHWc conv");
    line.split("block=")
        .nth(1)
        .unwrap()
        .split(']')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn the_target_not_the_machine_picks_the_nchwc_block() {
    assert_eq!(first_block("x86-64-v4", &[]), "16");
    assert_eq!(first_block("x86-64-v3", &[]), "8");
    assert_eq!(first_block("portable", &[]), "8");
    assert_eq!(first_block("x86-64-v3", &["--nchwc-block", "16"]), "16");
}

fn read_f32_npy(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    bytes[10 + header_len..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn plans_for_any_target_run_on_every_path() {
    let tmp = tempfile::tempdir().unwrap();
    let m = resnet();
    let mut outs: Vec<(String, Vec<f32>)> = Vec::new();
    for target in ["x86-64-v4", "x86-64-v3"] {
        let plan = tmp.path().join(format!("{target}.plan"));
        let p = plan.to_str().unwrap();
        let model = m.to_str().unwrap();
        infc(
            &[
                "compile",
                model,
                "-O3",
                "--shape",
                "pixel_values=1x3x32x32",
                "--target",
                target,
                "-o",
                p,
            ],
            None,
        );
        for isa in ["portable", "avx2", "avx512"] {
            let dir = tmp.path().join(format!("{target}-{isa}"));
            infc(
                &["run", p, "--output-dir", dir.to_str().unwrap()],
                Some(isa),
            );
            let npy = std::fs::read_dir(&dir)
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path();
            outs.push((format!("{target} on {isa}"), read_f32_npy(&npy)));
        }
    }
    let (first, want) = &outs[0];
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    for (what, got) in &outs[1..] {
        assert_eq!(got.len(), want.len());
        for (a, b) in got.iter().zip(want) {
            assert!(
                (a - b).abs() <= 1e-4 + 1e-3 * scale,
                "{what} vs {first}: {a} vs {b}"
            );
        }
    }
}
