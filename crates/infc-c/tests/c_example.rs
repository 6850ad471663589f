//! The C ABI from C: the committed header is what cbindgen generates from `src/lib.rs`; the
//! example `examples/run_plan.c` compiles against it and the static library, runs a GPT-2 fixture
//! plan, and its output sums equal a Rust run of the same plan on the same inputs; its error
//! cases (a short output buffer, a null session, a missing plan) report statuses and messages.

use std::path::{Path, PathBuf};
use std::process::Command;

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn header_is_current() {
    let generated = std::fs::read_to_string(Path::new(env!("OUT_DIR")).join("infc.h"))
        .expect("build.rs generated the header");
    let committed = std::fs::read_to_string(manifest().join("include/infc.h"))
        .expect("include/infc.h is committed");
    assert!(
        generated == committed,
        "include/infc.h is stale: copy {}/infc.h over it",
        env!("OUT_DIR")
    );
}

/// The directory holding this test's build artifacts (`target/<profile>`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

/// `libinfc_c.a`, built for this test (`cargo test` builds only the rlib): a nested
/// `cargo build -p infc-c` into the same target directory, which reuses every dependency the
/// test itself was built from and only links the archive.
fn static_lib() -> PathBuf {
    let profile = profile_dir();
    let target = profile.parent().expect("target/<profile>");
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "-q", "-p", "infc-c", "--lib", "--target-dir"])
        .arg(target)
        .current_dir(manifest());
    if profile.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let out = cmd.output().expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo build -p infc-c: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lib = profile.join("libinfc_c.a");
    assert!(lib.exists(), "{} was not built", lib.display());
    lib
}

#[test]
fn c_example_runs_a_plan() {
    let lib = static_lib();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("infc-c-example");
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("run_plan");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let built = Command::new(&cc)
        .arg(manifest().join("examples/run_plan.c"))
        .arg("-I")
        .arg(manifest().join("include"))
        .arg(&lib)
        .args(["-lpthread", "-ldl", "-lm", "-Wall", "-Werror", "-o"])
        .arg(&exe)
        .output()
        .expect("a C compiler (cc, or $CC) runs");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );

    let model = manifest().join("../../models/fixtures/gpt2_ts17/model.onnx");
    let opts = infc::CompileOptions {
        shapes: vec!["batch=2".into(), "sequence=8".into()],
        ..infc::CompileOptions::default()
    };
    let plan_path = dir.join("gpt2.plan");
    infc::compile(&model, &opts)
        .unwrap()
        .write(&plan_path)
        .unwrap();

    let out = Command::new(&exe).arg(&plan_path).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("input input_ids i64[2,8]"), "{stdout}");
    assert!(stdout.contains("input attention_mask i64[2,8]"), "{stdout}");

    // The same run from Rust: int inputs 1, float inputs 0.5.
    let session = infc::Session::load(&plan_path).unwrap();
    let datas: Vec<Vec<u8>> = session
        .inputs()
        .iter()
        .map(|d| {
            let n = d.shape.iter().product::<u64>() as usize;
            match d.dtype {
                infc::DType::I64 => (0..n).flat_map(|_| 1i64.to_le_bytes()).collect(),
                infc::DType::F32 => (0..n).flat_map(|_| 0.5f32.to_le_bytes()).collect(),
                other => panic!("unexpected input dtype {other:?}"),
            }
        })
        .collect();
    let shapes: Vec<Vec<usize>> = session
        .inputs()
        .iter()
        .map(|d| d.shape.iter().map(|&x| x as usize).collect())
        .collect();
    let views: Vec<_> = session
        .inputs()
        .iter()
        .zip(&datas)
        .zip(&shapes)
        .map(|((d, data), shape)| {
            (
                infc::InputKey::Name(&d.name),
                infc::TensorView::new(d.dtype, shape, data),
            )
        })
        .collect();
    let outs = session.run(&views).unwrap();
    let sum: f64 = outs[0]
        .data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
        .sum();
    let line = stdout
        .lines()
        .find(|l| l.starts_with("output logits f32 sum="))
        .unwrap_or_else(|| panic!("{stdout}"));
    let c_sum: f64 = line.rsplit('=').next().unwrap().parse().unwrap();
    assert!(
        (c_sum - sum).abs() <= 1e-6 * sum.abs().max(1.0),
        "C {c_sum} vs Rust {sum}"
    );

    assert!(
        stdout.contains("short buffer: status 3:") && stdout.contains("logits"),
        "{stdout}"
    );
    assert!(
        stdout.contains("null session: status 1: session is null"),
        "{stdout}"
    );
    assert!(
        stdout.contains("missing plan: status 2: loading /nonexistent.plan"),
        "{stdout}"
    );
}
