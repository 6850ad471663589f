//! Bad input never panics: each case runs the real `infc` binary and checks the exit status and that
//! the error message names the thing at fault. Flag values too (issue 19, rows 11 and 14): run and
//! thread counts that would overflow, abort or hang, NaN / infinite / negative budgets and
//! thresholds, and pass names that are not passes (listed with the known ones).

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

/// Compile `model` with `flags` and run the plan with its outputs written to `out`; both must
/// succeed.
fn compile_and_run(model: &str, flags: &[&str], tmp: &Path, out: &Path) {
    let plan = tmp.join("model.plan");
    let p = plan.to_str().unwrap();
    let mut args = vec!["compile", model, "-o", p];
    args.extend_from_slice(flags);
    let (code, err) = infc(&args, Some(tmp));
    assert_eq!(code, 0, "compile {flags:?}: {err}");
    let (code, err) = infc(
        &["run", p, "--output-dir", out.to_str().unwrap()],
        Some(tmp),
    );
    assert_eq!(code, 0, "run {flags:?}: {err}");
}

/// Issue 19, row 1: pooling windows of 2^40 rows with matching pads (valid ONNX) compile (the
/// constant one is folded) and run at once; they aborted allocating a buffer sized by the kernel.
#[test]
fn huge_pool_windows_compile_and_run() {
    let tmp = tempfile::tempdir().unwrap();
    let model = fixture("errors/huge_pool_window.onnx");
    for level in ["-O0", "-O3"] {
        compile_and_run(model.to_str().unwrap(), &[level], tmp.path(), tmp.path());
        assert!(tmp.path().join("y.npy").exists() && tmp.path().join("z.npy").exists());
    }
}

/// Issue 19, row 12: valid zero-size tensors (MatMul/Gemm k = 0, Conv c_in = 0, batch 0, empty
/// reductions, …) compile and run at -O0 and -O3 (and with --int8); `run` failed with `f32 view:
/// TargetAlignmentGreaterAndInputNotAligned`. The k = 0 Gemm's output is its bias.
#[test]
fn zero_size_tensors_compile_and_run() {
    let tmp = tempfile::tempdir().unwrap();
    let model = fixture("errors/zero_size.onnx");
    for flags in [&["-O0"][..], &["-O3"], &["-O3", "--int8"]] {
        let out = tmp.path().join(flags.join(""));
        compile_and_run(model.to_str().unwrap(), flags, tmp.path(), &out);
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 50, "{flags:?}");
        let npy = std::fs::read(out.join("gemm_k0_bias_y.npy")).unwrap();
        let tail: Vec<f32> = npy[npy.len() - 24..]
            .chunks(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(tail, [1.0, 2.0, 3.0, 1.0, 2.0, 3.0], "{flags:?}");
    }
}

/// Issue 19, row 2: an input larger than memory is refused when `run` would generate it (it
/// aborted allocating the 4 TiB buffer).
#[test]
fn inputs_larger_than_memory_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let model = fixture("errors/huge_input.onnx");
    let plan = tmp.path().join("huge.plan");
    let p = plan.to_str().unwrap();
    let (code, err) = infc(
        &["compile", model.to_str().unwrap(), "-o", p],
        Some(tmp.path()),
    );
    assert_eq!(code, 0, "{err}");
    // The 4 TiB arena is refused at load (memory_budget.rs); past that budget the generator
    // still refuses to fill the input.
    let (code, err) = infc(&["run", p, "--max-memory", "16T"], Some(tmp.path()));
    assert_eq!(code, 1, "{err}");
    assert_fault(&err, &["input 'x'", "4398046511104 bytes", "--input"]);
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

/// A small plan (ResNet fixture at -O0, 1x3x32x32) in `tmp`.
fn small_plan(tmp: &Path) -> PathBuf {
    let plan = tmp.join("resnet.plan");
    let model = fixture("fixtures/resnet_ts14/model.onnx");
    let (code, err) = infc(
        &[
            "compile",
            model.to_str().unwrap(),
            "--shape",
            "pixel_values=1x3x32x32",
            "-o",
            plan.to_str().unwrap(),
        ],
        Some(tmp),
    );
    assert_eq!(code, 0, "{err}");
    plan
}

/// Issue 19 row 11: `--iters 2^64-1` panicked (capacity overflow) and `--iters 2^40` aborted, both
/// preallocating the timings; `--warmup` of that size ran for ever.
#[test]
fn run_counts_above_the_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = small_plan(tmp.path());
    let plan = plan.to_str().unwrap();
    for mode in ["--bench", "--profile"] {
        for n in ["18446744073709551615", "1099511627776", "10000001"] {
            let (code, err) = infc(&["run", plan, mode, "--iters", n], Some(tmp.path()));
            assert_eq!(code, 1, "{mode} --iters {n}: {err}");
            assert_fault(
                &err,
                &[&format!("--iters {n}"), "above the limit of 10000000 runs"],
            );
            let (code, err) = infc(
                &["run", plan, mode, "--warmup", n, "--iters", "1"],
                Some(tmp.path()),
            );
            assert_eq!(code, 1, "{mode} --warmup {n}: {err}");
            assert_fault(
                &err,
                &[&format!("--warmup {n}"), "above the limit of 10000000 runs"],
            );
        }
        let (code, err) = infc(&["run", plan, mode, "--iters", "0"], Some(tmp.path()));
        assert_eq!(code, 1, "{err}");
        assert_fault(&err, &["--iters 0", "at least 1"]);
    }
    // At the limit of the warmup and a few timed runs: accepted.
    let (code, err) = infc(
        &["run", plan, "--bench", "--warmup", "0", "--iters", "3"],
        Some(tmp.path()),
    );
    assert_eq!(code, 0, "{err}");
}

/// Issue 19 row 11: `--threads 65535` hung starting the pool. The limit is 16 threads per CPU,
/// never above 256; 0 threads is refused too.
#[test]
fn thread_counts_above_the_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = small_plan(tmp.path());
    let plan = plan.to_str().unwrap();
    let cpus = std::thread::available_parallelism().map_or(usize::MAX, |n| n.get());
    let limit = cpus.saturating_mul(16).min(256);
    let over = (limit + 1).to_string();
    for n in ["65535", "257", "18446744073709551615", over.as_str()] {
        let (code, err) = infc(&["run", plan, "--threads", n], Some(tmp.path()));
        assert_eq!(code, 1, "--threads {n}: {err}");
        assert_fault(
            &err,
            &[
                &format!("--threads {n}"),
                &format!("above the limit of {limit} threads"),
            ],
        );
    }
    let (code, err) = infc(&["run", plan, "--threads", "0"], Some(tmp.path()));
    assert_eq!(code, 1, "{err}");
    assert_fault(&err, &["--threads 0", "at least 1 thread"]);
    // The limit itself runs.
    let limit_arg = limit.to_string();
    let (code, err) = infc(
        &[
            "run",
            plan,
            "--threads",
            &limit_arg,
            "--bench",
            "--warmup",
            "0",
            "--iters",
            "1",
        ],
        Some(tmp.path()),
    );
    assert_eq!(code, 0, "{err}");
    // The default pool's RAYON_NUM_THREADS is held to the same limit.
    let out = Command::new(env!("CARGO_BIN_EXE_infc"))
        .args(["run", plan, "--bench", "--iters", "1"])
        .env("RAYON_NUM_THREADS", "65535")
        .output()
        .expect("infc runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_fault(
        err.trim_end(),
        &["RAYON_NUM_THREADS=65535", "above the limit"],
    );
}

/// Issue 19 row 14: `--int8-budget nan` was accepted (NaN is above no error: nothing stayed in f32).
#[test]
fn int8_budget_must_be_finite_and_non_negative() {
    let tmp = tempfile::tempdir().unwrap();
    let model = fixture("fixtures/resnet_ts14/model.onnx");
    let plan = tmp.path().join("q.plan");
    for b in ["nan", "NaN", "inf", "-inf", "-0.5", "1e400"] {
        let (code, err) = infc(
            &[
                "compile",
                model.to_str().unwrap(),
                "--shape",
                "pixel_values=1x3x32x32",
                "-o",
                plan.to_str().unwrap(),
                "--int8",
                &format!("--int8-budget={b}"),
            ],
            Some(tmp.path()),
        );
        assert_eq!(code, 1, "--int8-budget {b}: {err}");
        assert_fault(&err, &["--int8-budget ", "finite number >= 0"]);
        assert!(!plan.exists(), "--int8-budget {b} wrote a plan");
    }
}

#[test]
fn profile_threshold_must_be_finite_and_non_negative() {
    for t in ["nan", "inf", "-1"] {
        let (code, err) = infc(
            &[
                "profile",
                "--compare",
                "old.json",
                "new.json",
                &format!("--threshold={t}"),
            ],
            None,
        );
        assert_eq!(code, 1, "--threshold {t}: {err}");
        assert_fault(&err, &["--threshold ", "finite percentage >= 0"]);
    }
}

/// Issue 19 row 14: `--print-after <unknown pass>` printed nothing and succeeded. Unknown names
/// (for `--print-after` and `--disable`) are errors listing the known passes; a known pass that
/// does not run at the level (or is disabled) is an error saying so.
#[test]
fn pass_names_are_checked() {
    let m = fixture("fixtures/resnet_ts14/model.onnx");
    let m = m.to_str().unwrap();
    let base = ["explain", m, "--shape", "pixel_values=1x3x32x32", "-O2"];
    for flag in ["--print-after", "--disable"] {
        let (code, err) = infc(&[&base[..], &[flag, "fuse-everything"]].concat(), None);
        assert_eq!(code, 1, "{err}");
        assert_fault(
            &err,
            &[
                &format!("{flag} fuse-everything: no such pass; known passes: "),
                "cse, dce, ",
                "fold-constants",
                "fuse-attention",
                "layout-nchwc",
                "split-causal-mask",
            ],
        );
        // "import" is what --print-after calls the graph before the first pass, not a pass.
        assert_eq!(err.contains("import"), flag == "--print-after", "{err}");
    }
    let (code, err) = infc(
        &[
            "explain",
            m,
            "--shape",
            "pixel_values=1x3x32x32",
            "-O1",
            "--print-after",
            "fuse-conv-bn",
        ],
        None,
    );
    assert_eq!(code, 1, "{err}");
    assert_fault(
        &err,
        &[
            "--print-after fuse-conv-bn: it does not run at -O1",
            "passes run: fold-constants, gather-nd-as-reshape, eliminate-identities, cse, dce",
        ],
    );
    let (code, err) = infc(
        &[
            &base[..],
            &["--print-after", "fuse-conv-bn", "--disable", "fuse-conv-bn"],
        ]
        .concat(),
        None,
    );
    assert_eq!(code, 1, "{err}");
    assert_fault(
        &err,
        &["--print-after fuse-conv-bn: --disable fuse-conv-bn leaves it out"],
    );
    // Known names still work, "import" included.
    for pass in ["import", "fuse-conv-bn"] {
        let out = Command::new(env!("CARGO_BIN_EXE_infc"))
            .args([&base[..], &["--print-after", pass]].concat())
            .output()
            .expect("infc runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!("// ----- IR after {pass}")),
            "{text}"
        );
    }
}
