//! Issue 21 from the command line: `compile --shape batch=1..3 --shape sequence=1..16` writes a
//! range plan (and a symbolic dim no flag bounds compiles as the default range, said on stderr);
//! `explain PLAN` prints the symbols and each input's dims with their ranges; `run` takes npy
//! inputs of any shape in range, or `--shape` with generated inputs, and `--bench` over several
//! shapes (flags with alternatives, or a sweep file) prints a row per shape and one over all.
//! Out-of-range shapes and `--shape` on a one-shape plan are errors naming the fault.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn infc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_infc"))
        .args(args)
        .output()
        .expect("infc runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/fixtures")
        .join(name)
        .join("model.onnx")
}

fn compile(tmp: &Path, model: &str, shapes: &[&str]) -> (PathBuf, String) {
    let plan = tmp.join(format!("{model}.plan"));
    let mut args = vec!["compile", "-O3"];
    let m = fixture(model);
    args.push(m.to_str().unwrap());
    for s in shapes {
        if s.starts_with("--") {
            args.push(s);
        } else {
            args.extend(["--shape", s]);
        }
    }
    args.extend(["-o", plan.to_str().unwrap()]);
    let out = infc(&args);
    assert!(out.status.success(), "{}", text(&out));
    (plan, text(&out))
}

#[test]
fn a_range_plan_from_compile_to_bench() {
    let tmp = tempfile::tempdir().unwrap();
    let (plan, log) = compile(tmp.path(), "gpt2_ts17", &["batch=1..3", "sequence=1..16"]);
    assert!(
        log.contains("range: batch 1..=3") && !log.contains("default"),
        "{log}"
    );
    let p = plan.to_str().unwrap();

    let explain = text(&infc(&["explain", p]));
    assert!(
        explain.contains(&format!(
            "format       5.{}",
            infc::plan_format::FORMAT_MINOR
        )),
        "{explain}"
    );
    assert!(
        explain.contains("symbols      batch 1..=3, sequence 1..=16"),
        "{explain}"
    );
    assert!(
        explain.contains("input  input_ids i64[batch(1..=3), sequence(1..=16)]"),
        "{explain}"
    );
    assert!(explain.contains("bytes at the max shape"), "{explain}");

    // npy inputs of a shape in range; outputs at that shape.
    let ids = fixture("gpt2_ts17").with_file_name("input_input_ids.npy");
    let mask = fixture("gpt2_ts17").with_file_name("input_attention_mask.npy");
    let out_dir = tmp.path().join("out");
    let out = infc(&[
        "run",
        p,
        "--input",
        &format!("input_ids={}", ids.display()),
        "--input",
        &format!("attention_mask={}", mask.display()),
        "--output-dir",
        out_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let logits = std::fs::read(out_dir.join("logits.npy")).unwrap();
    assert!(
        String::from_utf8_lossy(&logits[..128]).contains("'shape': (2, 8, 512)"),
        "{}",
        String::from_utf8_lossy(&logits[..128])
    );

    // Generated inputs at one --shape.
    let out = infc(&[
        "run",
        p,
        "--shape",
        "input_ids=1x5",
        "--output-dir",
        out_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let logits = std::fs::read(out_dir.join("logits.npy")).unwrap();
    assert!(String::from_utf8_lossy(&logits[..128]).contains("'shape': (1, 5, 512)"));

    // Several shapes: a row per shape and one over all.
    let out = infc(&[
        "run",
        p,
        "--bench",
        "--warmup",
        "1",
        "--iters",
        "2",
        "--shape",
        "sequence={1,7,16}",
        "--shape",
        "batch={1,3}",
    ]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    for row in [
        "batch=1, sequence=1",
        "batch=3, sequence=16",
        "all requests",
        "6 distinct shapes",
    ] {
        assert!(t.contains(row), "{row} missing in:\n{t}");
    }
    let sweep = tmp.path().join("sweep.txt");
    std::fs::write(
        &sweep,
        "# lengths\nsequence=4\nsequence=9 batch=2\nsequence=4\n",
    )
    .unwrap();
    let out = infc(&[
        "run",
        p,
        "--bench",
        "--iters",
        "2",
        "--warmup",
        "0",
        "--shape-sweep",
        sweep.to_str().unwrap(),
    ]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("batch=2, sequence=9") && t.contains("6 requests (2 distinct shapes)"),
        "{t}"
    );

    // Faults.
    let t = text(&infc(&["run", p, "--shape", "sequence=17"]));
    assert!(
        t.contains("'sequence' = 17 is outside the plan's range 1..=16"),
        "{t}"
    );
    let t = text(&infc(&[
        "run",
        p,
        "--bench",
        "--shape",
        "sequence={1,2}",
        "--shape",
        "input_ids=2x3",
    ]));
    assert!(t.contains("'sequence' is"), "{t}");
    let t = text(&infc(&["run", p, "--shape", "sequence={1,2}"]));
    assert!(t.contains("several shapes need --bench"), "{t}");
}

#[test]
fn an_unbound_dim_compiles_as_a_run_time_dim() {
    let tmp = tempfile::tempdir().unwrap();
    let (plan, log) = compile(tmp.path(), "resnet_ts17", &[]);
    assert!(
        log.contains("range: batch 1.. (no --shape bounds it: a run-time dim)")
            && log.contains("range: the arena is planned per shape"),
        "{log}"
    );
    let p = plan.to_str().unwrap();
    // Beyond the default bound the plan is stored at.
    let out = infc(&[
        "run",
        p,
        "--shape",
        "batch=12",
        "--output-dir",
        tmp.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&infc(&["explain", p]));
    assert!(
        t.contains("input  pixel_values f32[batch(1..), 3, 32, 32]")
            && t.contains("unbounded at the max shape, planned per shape")
            && t.contains("at batch=8"),
        "{t}"
    );
    // The arena at a shape beyond the stored one, and the memory map there.
    let t = text(&infc(&["explain", p, "--shape", "batch=100"]));
    assert!(t.contains("bytes at batch=100 (lower bound"), "{t}");
    let t = text(&infc(&["explain", p, "--shape", "batch=100", "--memory"]));
    assert!(t.starts_with("arena_bytes "), "{t}");
    let t = text(&infc(&["explain", p, "--shape", "pixels=3"]));
    assert!(t.contains("the plan has no symbol 'pixels'"), "{t}");
    // A dim a constant depends on keeps the default bound, and compile names the constant.
    let (_, log) = compile(tmp.path(), "distilbert_ts17", &[]);
    assert!(
        log.contains("range: batch 1.. (no --shape bounds it: a run-time dim)")
            && log.contains("range: sequence 1..=8 (no --shape bounds it: the default; give --shape sequence=MIN..MAX)")
            && log.contains("sequence keeps the bound 1..=8 (unbounded it fails: at batch=8, sequence=29 constant '/model/embeddings/position_embeddings/Gather_output_0'")
            // The wider default bound is tried, and this fixture's table holds 64 positions.
            && log.contains("sequence keeps 1..=8: at 1..=512 the compile fails"),
        "{log}"
    );
    // --shared-arena: the max shape's arena for every shape, and the default bound.
    let (_, log) = compile(tmp.path(), "resnet_ts17", &["--shared-arena"]);
    assert!(
        log.contains("range: batch 1..=8 (no --shape bounds it: the default")
            && log.contains(
                "the max shape's arena serves every shape (asked for with --shared-arena)"
            ),
        "{log}"
    );
    // A one-shape plan refuses --shape, naming how to make a range plan.
    let (fixed, _) = compile(tmp.path(), "resnet_ts14", &["pixel_values=1x3x32x32"]);
    let t = text(&infc(&[
        "run",
        fixed.to_str().unwrap(),
        "--shape",
        "batch=2",
    ]));
    assert!(t.contains("this plan has one shape"), "{t}");
}
