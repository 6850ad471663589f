//! `infc run` end to end with the real binary on the committed fixtures: outputs written as `.npy`
//! match onnxruntime's committed outputs (project tolerance: max abs err ≤ 1e-4 + 1e-3·max|ref|);
//! generated inputs stay within the embedding tables; bad inputs give errors naming the input,
//! expected and given; `--bench --json` and `--profile --json` carry their keys; the profiler's
//! step times add up to the measured run latency; `infc profile --compare` labels op kinds.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/fixtures")
}

fn infc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_infc"))
        .args(args)
        .output()
        .expect("infc runs")
}

fn ok(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "infc failed: {err}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn failure(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).trim_end().to_string();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: ") && !err.contains("panicked"),
        "{err}"
    );
    err
}

struct Fixture {
    dir: PathBuf,
    meta: Value,
}

impl Fixture {
    fn new(name: &str) -> Fixture {
        let dir = fixtures().join(name);
        let meta =
            serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
        Fixture { dir, meta }
    }

    /// (name, path) of each committed input array.
    fn inputs(&self) -> Vec<(String, PathBuf)> {
        self.meta["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let name = i["name"].as_str().unwrap().to_string();
                (name, self.dir.join(i["file"].as_str().unwrap()))
            })
            .collect()
    }

    fn outputs(&self) -> Vec<(String, PathBuf)> {
        self.meta["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                let name = o["name"].as_str().unwrap().to_string();
                (name, self.dir.join(o["file"].as_str().unwrap()))
            })
            .collect()
    }

    /// Compile with every input bound to its committed array's shape.
    fn compile(&self, level: &str, plan: &Path) {
        let model = self.dir.join("model.onnx");
        let mut args: Vec<String> = vec![
            "compile".into(),
            model.display().to_string(),
            level.into(),
            "-o".into(),
            plan.display().to_string(),
        ];
        for (name, path) in self.inputs() {
            let dims: Vec<String> = read_npy(&path).0.iter().map(|d| d.to_string()).collect();
            args.push("--shape".into());
            args.push(format!("{name}={}", dims.join("x")));
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(&infc(&refs));
    }

    fn input_args(&self) -> Vec<String> {
        self.inputs()
            .into_iter()
            .flat_map(|(n, p)| ["--input".to_string(), format!("{n}={}", p.display())])
            .collect()
    }
}

/// Shape and values (as f64) of an f32 or i64 `.npy` file.
fn read_npy(path: &Path) -> (Vec<u64>, Vec<f64>) {
    let f = npyz::NpyFile::new(std::fs::File::open(path).unwrap()).unwrap();
    let shape = f.shape().to_vec();
    let npyz::DType::Plain(ts) = f.dtype() else {
        panic!("{} is not a plain array", path.display())
    };
    let values = match (ts.type_char(), ts.size_field()) {
        (npyz::TypeChar::Float, 4) => f
            .into_vec::<f32>()
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect(),
        (npyz::TypeChar::Int, 8) => f
            .into_vec::<i64>()
            .unwrap()
            .into_iter()
            .map(|v| v as f64)
            .collect(),
        other => panic!("{}: unexpected dtype {other:?}", path.display()),
    };
    (shape, values)
}

/// A version 1.0 `.npy` file (written here so the tests need no Python).
fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend_from_slice(data);
    out
}

fn assert_close(got: &Path, want: &Path) {
    let (gs, g) = read_npy(got);
    let (ws, w) = read_npy(want);
    assert_eq!(gs, ws, "{}", got.display());
    let max_ref = w.iter().fold(0f64, |m, v| m.max(v.abs()));
    let tol = 1e-4 + 1e-3 * max_ref;
    let err = g
        .iter()
        .zip(&w)
        .fold(0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(err <= tol, "{}: max abs err {err} > {tol}", got.display());
}

fn run_and_compare(name: &str, level: &str) {
    let fx = Fixture::new(name);
    let tmp = tempfile::tempdir().unwrap();
    let plan = tmp.path().join("model.plan");
    fx.compile(level, &plan);
    let out_dir = tmp.path().join("out");
    let mut args = vec![
        "run".to_string(),
        plan.display().to_string(),
        "--output-dir".into(),
        out_dir.display().to_string(),
        "--threads".into(),
        "2".into(),
    ];
    args.extend(fx.input_args());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&infc(&refs));
    for (oname, want) in fx.outputs() {
        assert_close(&out_dir.join(format!("{oname}.npy")), &want);
    }
}

#[test]
fn outputs_match_onnxruntime_on_every_fixture_at_o3() {
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("meta.json").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 3, "{names:?}");
    for name in names {
        run_and_compare(&name, "-O3");
    }
}

#[test]
fn outputs_match_onnxruntime_at_o0() {
    run_and_compare("gpt2_ts17", "-O0");
    run_and_compare("resnet_ts17", "-O0");
}

/// A plan of `name` at -O2 in a temp dir.
fn plan_of(name: &str) -> (tempfile::TempDir, PathBuf, Fixture) {
    let fx = Fixture::new(name);
    let tmp = tempfile::tempdir().unwrap();
    let plan = tmp.path().join("model.plan");
    fx.compile("-O2", &plan);
    (tmp, plan, fx)
}

#[test]
fn generated_inputs_index_within_the_embedding_and_masks_are_ones() {
    let (tmp, plan, _) = plan_of("gpt2_ts17");
    let out_dir = tmp.path().join("gen");
    let p = plan.to_str().unwrap();
    let o = out_dir.to_str().unwrap();
    let out = infc(&["run", p, "--output-dir", o, "--seed", "3"]);
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    // The fixture's GPT-2 has a 512-token vocabulary.
    assert!(
        err.contains("input 'input_ids': generated uniform in [0, 512)"),
        "{err}"
    );
    assert!(
        err.contains("input 'attention_mask': generated: all ones"),
        "{err}"
    );
    let (shape, logits) = read_npy(&out_dir.join("logits.npy"));
    assert_eq!(shape, vec![2, 8, 512]);
    assert!(logits.iter().all(|v| v.is_finite()));
    // Same seed, same outputs; another seed, other outputs.
    let again = tmp.path().join("again");
    ok(&infc(&[
        "run",
        p,
        "--output-dir",
        again.to_str().unwrap(),
        "--seed",
        "3",
    ]));
    assert_eq!(read_npy(&again.join("logits.npy")).1, logits);
    let other = tmp.path().join("other");
    ok(&infc(&[
        "run",
        p,
        "--output-dir",
        other.to_str().unwrap(),
        "--seed",
        "4",
    ]));
    assert_ne!(read_npy(&other.join("logits.npy")).1, logits);
}

#[test]
fn input_errors_name_the_input_expected_and_given() {
    let (tmp, plan, fx) = plan_of("gpt2_ts17");
    let p = plan.to_str().unwrap();
    let ids = fx.dir.join("input_input_ids.npy");
    let write = |name: &str, descr: &str, shape: &str, bytes: usize| {
        let path = tmp.path().join(name);
        std::fs::write(&path, npy(descr, shape, &vec![0u8; bytes])).unwrap();
        path
    };
    let f32_ids = write("f32.npy", "<f4", "(2, 8)", 64);
    let short_ids = write("short.npy", "<i8", "(2, 7)", 112);
    let f64_ids = write("f64.npy", "<f8", "(2, 8)", 128);
    let cases: [(String, &[&str]); 6] = [
        (
            format!("input_ids={}", f32_ids.display()),
            &["input 'input_ids'", "expected i64[2,8], got f32[2,8]"],
        ),
        (
            format!("input_ids={}", short_ids.display()),
            &["input 'input_ids'", "expected i64[2,8], got i64[2,7]"],
        ),
        (
            format!("input_ids={}", f64_ids.display()),
            &["input 'input_ids'", "expected i64[2,8], got f64[2,8]"],
        ),
        (
            format!("token_ids={}", ids.display()),
            &[
                "input 'token_ids'",
                "no such input",
                "input_ids",
                "attention_mask",
            ],
        ),
        (
            "input_ids=/nonexistent/ids.npy".to_string(),
            &["input 'input_ids'", "/nonexistent/ids.npy"],
        ),
        (
            "input_ids".to_string(),
            &["--input 'input_ids'", "NAME=FILE"],
        ),
    ];
    for (arg, names) in cases {
        let err = failure(&infc(&["run", p, "--input", &arg]));
        for n in names {
            assert!(err.contains(n), "{arg}: message does not name {n:?}: {err}");
        }
    }
    let not_npy = tmp.path().join("bad.npy");
    std::fs::write(&not_npy, b"definitely not numpy").unwrap();
    let arg = format!("input_ids={}", not_npy.display());
    let err = failure(&infc(&["run", p, "--input", &arg]));
    assert!(
        err.contains("input 'input_ids'") && err.contains("bad.npy"),
        "{err}"
    );
    let err = failure(&infc(&["run", "/nonexistent/model.plan"]));
    assert!(err.contains("/nonexistent/model.plan"), "{err}");
}

#[test]
fn bench_json_has_the_keys_the_harness_reads() {
    let (_tmp, plan, fx) = plan_of("distilbert_ts17");
    let mut args: Vec<String> = [
        "run",
        plan.to_str().unwrap(),
        "--bench",
        "--warmup",
        "2",
        "--iters",
        "7",
        "--json",
        "--threads",
        "1",
    ]
    .map(String::from)
    .to_vec();
    args.extend(fx.input_args());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let v: Value = serde_json::from_str(&ok(&infc(&refs))).expect("stdout is one JSON object");
    for key in [
        "p50_ms",
        "p99_ms",
        "mean_ms",
        "throughput_per_s",
        "peak_rss_bytes",
        "load_ms",
    ] {
        assert!(v[key].as_f64().is_some_and(|x| x > 0.0), "{key}: {v}");
    }
    assert_eq!(v["iters"], 7);
    assert_eq!(v["warmup"], 2);
    assert_eq!(v["threads"], 1);
    assert_eq!(v["batch"], 2);
    let (p50, p99, mean) = (
        v["p50_ms"].as_f64().unwrap(),
        v["p99_ms"].as_f64().unwrap(),
        v["mean_ms"].as_f64().unwrap(),
    );
    assert!(p50 <= p99, "{v}");
    let tput = v["throughput_per_s"].as_f64().unwrap();
    assert!((tput - 2.0 * 1e3 / mean).abs() < 1e-6 * tput, "{v}");
    // Text mode names every figure.
    let text = ok(&infc(&[
        "run",
        plan.to_str().unwrap(),
        "--bench",
        "--warmup",
        "1",
        "--iters",
        "3",
    ]));
    for word in ["p50", "p99", "mean", "throughput", "peak RSS", "load"] {
        assert!(text.contains(word), "{word}: {text}");
    }
}

fn profile(plan: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "run",
        plan.to_str().unwrap(),
        "--profile",
        "--json",
        "--warmup",
        "3",
    ];
    args.extend_from_slice(extra);
    serde_json::from_str(&ok(&infc(&args))).expect("stdout is one JSON object")
}

#[test]
fn profile_step_times_add_up_to_the_run_latency() {
    let (tmp, plan, _) = plan_of("resnet_ts17");
    // The overhead bound below is a timing: on a loaded machine (CI runs tests in parallel) a
    // preemption inside the timed call but outside any step inflates one profile, so take the
    // best of a few.
    let overhead_of = |v: &Value| v["overhead_pct"].as_f64().unwrap_or(f64::MAX);
    let mut v = profile(&plan, &["--iters", "30", "--threads", "1"]);
    for _ in 0..4 {
        if overhead_of(&v) <= 5.0 {
            break;
        }
        let again = profile(&plan, &["--iters", "30", "--threads", "1"]);
        if overhead_of(&again) < overhead_of(&v) {
            v = again;
        }
    }
    let steps = v["steps"].as_array().unwrap();
    let n_steps: usize = v["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["steps"].as_u64().unwrap() as usize)
        .sum();
    assert_eq!(n_steps, steps.len());
    let sum: f64 = steps.iter().map(|s| s["mean_ms"].as_f64().unwrap()).sum();
    let total = v["steps_total_ms"].as_f64().unwrap();
    let latency = v["latency_ms"].as_f64().unwrap();
    assert!(
        (sum - total).abs() <= 1e-9 * total.max(1.0),
        "{sum} vs {total}"
    );
    // Steps run inside the timed call, so they cannot exceed it; what is left is the runtime's
    // own work (input checks and copies, arena pool, dispatch): the profiler's goal is < 1 %,
    // asserted at 5 % here.
    assert!(total <= latency, "steps {total} ms > latency {latency} ms");
    assert!(
        total >= 0.95 * latency,
        "steps {total} ms < 95% of latency {latency} ms"
    );
    let overhead = v["overhead_pct"].as_f64().unwrap();
    assert!((0.0..=5.0).contains(&overhead), "{overhead}");
    // Convolutions carry GFLOP/s; copies do not.
    let conv = steps
        .iter()
        .find(|s| s["kind"] == "Conv")
        .expect("a Conv step");
    assert!(conv["flops"].as_u64().unwrap() > 0 && conv["gflops_per_s"].as_f64().unwrap() > 0.0);
    let shares: f64 = v["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["share_pct"].as_f64().unwrap())
        .sum();
    assert!(
        (shares + overhead - 100.0).abs() < 1e-6,
        "{shares} + {overhead}"
    );

    // Two profiles on disk, compared per op kind.
    let old = tmp.path().join("old.json");
    let new = tmp.path().join("new.json");
    for f in [&old, &new] {
        let out = infc(&[
            "run",
            plan.to_str().unwrap(),
            "--profile",
            "--iters",
            "5",
            "--warmup",
            "1",
            "--json",
            f.to_str().unwrap(),
        ]);
        let text = ok(&out);
        assert!(
            text.contains("op kind") && text.contains("overhead"),
            "{text}"
        );
    }
    let table = ok(&infc(&[
        "profile",
        "--compare",
        old.to_str().unwrap(),
        new.to_str().unwrap(),
    ]));
    let conv_line = table
        .lines()
        .find(|l| l.starts_with("Conv "))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        ["improvement", "regression", "unchanged"]
            .iter()
            .any(|w| conv_line.ends_with(w))
            && conv_line.contains('%'),
        "{conv_line}"
    );
    assert!(
        table.lines().any(|l| l.starts_with("run latency")),
        "{table}"
    );
    let err = failure(&infc(&[
        "profile",
        "--compare",
        old.to_str().unwrap(),
        plan.to_str().unwrap(),
    ]));
    assert!(err.contains("model.plan"), "{err}");
}
