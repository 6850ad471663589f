//! Issue 20: plan integrity at two costs. A load checks the header, section table, steps and memory
//! plan (the checksum leaves the constants out, so it reads no weight page); `infc verify PLAN` and
//! `infc run --verify` also hash the constants. A plan of another major format version is refused
//! naming both versions and saying to recompile.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn infc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_infc"))
        .args(args)
        .output()
        .expect("infc runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The ResNet fixture at 1x3x32x32 compiled into `tmp`.
fn plan(tmp: &Path) -> PathBuf {
    let plan = tmp.join("resnet.plan");
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/fixtures/resnet_ts14/model.onnx");
    let out = infc(&[
        "compile",
        model.to_str().unwrap(),
        "--shape",
        "pixel_values=1x3x32x32",
        "-o",
        plan.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    plan
}

#[test]
fn verify_hashes_the_weights_a_load_does_not_read() {
    let tmp = tempfile::tempdir().unwrap();
    let path = plan(tmp.path());
    let p = path.to_str().unwrap();
    let out = infc(&["verify", p]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(": ok (format 5."));

    let mut bytes = std::fs::read(&path).unwrap();
    let (_, consts) =
        infc_plan::decode_borrowed(&bytes, infc_plan::DecodeOptions::default()).unwrap();
    let at = consts.as_ptr() as usize - bytes.as_ptr() as usize + consts.len() / 2;
    bytes[at] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let dir = tmp.path().join("out");
    let run = infc(&["run", p, "--output-dir", dir.to_str().unwrap()]);
    assert!(
        run.status.success(),
        "a load does not hash weights: {}",
        stderr(&run)
    );
    for args in [vec!["verify", p], vec!["run", p, "--verify"]] {
        let out = infc(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&out).contains("constants hash mismatch"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn a_plan_of_another_major_version_says_recompile() {
    let tmp = tempfile::tempdir().unwrap();
    let path = plan(tmp.path());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[8..12].copy_from_slice(&4u32.to_le_bytes());
    infc_plan::rewrite_checksum(&mut bytes);
    std::fs::write(&path, &bytes).unwrap();
    for cmd in ["run", "verify", "explain"] {
        let out = infc(&[cmd, path.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {err}");
        assert!(
            err.contains("plan format 4.0") && err.contains("format 5.x"),
            "{err}"
        );
        assert!(err.contains("recompile"), "{err}");
    }
}

#[test]
fn explain_prints_where_a_plan_came_from() {
    let tmp = tempfile::tempdir().unwrap();
    let path = plan(tmp.path());
    let out = infc(&["explain", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/fixtures/resnet_ts14/model.onnx");
    let size = std::fs::metadata(&model).unwrap().len();
    for line in [
        format!(
            "format       {}.{}",
            infc_plan::FORMAT_MAJOR,
            infc_plan::FORMAT_MINOR
        ),
        "source       model.onnx".to_string(),
        format!("source_bytes {size}"),
        "flags        -O0 --shape pixel_values=1x3x32x32".to_string(),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in:\n{text}"
        );
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("source_xxh64 ") && l.len() == 13 + 16),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("target       native (NCHWc block ")),
        "{text}"
    );
}

/// A FIFO given as the plan is refused at once by every command that reads plans (opening it
/// blocked until a writer appeared: `run`, `run --load copy`, `verify` and `explain` hung).
#[test]
fn a_fifo_plan_is_refused_without_blocking() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("f.plan");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        return; // no mkfifo here
    }
    let f = fifo.to_str().unwrap();
    for args in [
        vec!["run", f],
        vec!["run", f, "--load", "copy"],
        vec!["verify", f],
        vec!["explain", f],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_infc"))
            .args(&args)
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > std::time::Duration::from_secs(10) {
                let _ = child.kill();
                panic!("{args:?} still blocked after 10 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("not a regular file") || err.contains("f.plan"),
            "{args:?}: {err}"
        );
    }
}
