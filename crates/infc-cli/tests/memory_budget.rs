//! Issue 19: `infc run --max-memory` and `--load copy`. The arena, the plan copy and the inputs
//! (read or generated) are checked against the budget (default: physical memory) when the plan is
//! loaded, before any is allocated, and the error names what did not fit; a copied plan gives the
//! same outputs as a mapped one. Bad sizes are refused naming the flag.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models")
}

fn infc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_infc"))
        .args(args)
        .output()
        .expect("infc runs")
}

/// Exit code 1 and an `error:` line naming every piece of `names`.
fn refused(out: &Output, names: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: ") && !err.contains("panicked"),
        "{err}"
    );
    for n in names {
        assert!(err.contains(n), "message does not name {n:?}: {err}");
    }
}

/// The ResNet fixture at 1x3x32x32 compiled into `tmp`, and its arena size.
fn resnet_plan(tmp: &Path) -> (String, u64) {
    let plan = tmp.join("resnet.plan");
    let model = models().join("fixtures/resnet_ts14/model.onnx");
    let out = infc(&[
        "compile",
        model.to_str().unwrap(),
        "--shape",
        "pixel_values=1x3x32x32",
        "-o",
        plan.to_str().unwrap(),
    ]);
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    let arena = said
        .split("arena ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no arena size in {said}"));
    (plan.to_str().unwrap().to_string(), arena)
}

#[test]
fn a_plan_whose_arena_exceeds_memory_is_refused_at_load() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = tmp.path().join("huge.plan");
    let model = models().join("errors/huge_input.onnx");
    let p = plan.to_str().unwrap();
    assert!(infc(&["compile", model.to_str().unwrap(), "-o", p])
        .status
        .success());
    refused(
        &infc(&["run", p]),
        &["the arena", "4398046511104 bytes", "physical memory"],
    );
}

#[test]
fn arena_and_inputs_are_checked_against_max_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let (plan, arena) = resnet_plan(tmp.path());
    let out_dir = tmp.path().join("out");
    let dir = out_dir.to_str().unwrap();
    refused(
        &infc(&["run", &plan, "--max-memory", "1K", "--output-dir", dir]),
        &["the arena", "1024 bytes", "max_memory"],
    );
    // Room for the arena, not for the 12288-byte input beside it.
    let tight = (arena + 100).to_string();
    refused(
        &infc(&["run", &plan, "--max-memory", &tight, "--output-dir", dir]),
        &["inputs", "'pixel_values'", "12288 bytes"],
    );
    let roomy = (arena + 12288 + 4096).to_string();
    let out = infc(&["run", &plan, "--max-memory", &roomy, "--output-dir", dir]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_copied_plan_runs_like_a_mapped_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (plan, _) = resnet_plan(tmp.path());
    let mut outputs = Vec::new();
    for load in ["map", "copy"] {
        let dir = tmp.path().join(load);
        let out = infc(&[
            "run",
            &plan,
            "--load",
            load,
            "--output-dir",
            dir.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let npy: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(npy.len(), 1, "{npy:?}");
        outputs.push(std::fs::read(&npy[0]).unwrap());
    }
    assert_eq!(outputs[0], outputs[1]);
    let plan_len = std::fs::metadata(&plan).unwrap().len();
    refused(
        &infc(&[
            "run",
            &plan,
            "--load",
            "copy",
            "--max-memory",
            &(plan_len - 1).to_string(),
        ]),
        &["the plan copy", &plan_len.to_string()],
    );
}

#[test]
fn bad_sizes_are_refused_naming_the_flag() {
    for bad in ["10X", "G", "-1", "99999999999T", ""] {
        let out = infc(&["run", "any.plan", &format!("--max-memory={bad}")]);
        refused(&out, &["--max-memory"]);
    }
    let out = infc(&["run", "any.plan", "--load", "mmap2"]);
    refused(&out, &["--load"]);
}
