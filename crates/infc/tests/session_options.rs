//! Session options on compiled fixtures large enough to take the kernels' parallel paths
//! (batch 8, sequence 64): outputs are bit-identical with one intra-op thread (serial on the
//! caller), two and four (the session's pool), a host pool, the caller's pool and spinning off,
//! FP32 and INT8; concurrent callers of one session agree; cancellation, timeouts and run
//! statistics.

use infc::{
    compile, CancelToken, CompileOptions, Int8Options, RunOptions, RuntimeError, Session,
    SessionOptions, Spin,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

fn plan_bytes(fixture: &str, shapes: &[&str], int8: bool) -> Vec<u8> {
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../models/fixtures/{fixture}/model.onnx"));
    let opts = CompileOptions {
        shapes: shapes.iter().map(|s| s.to_string()).collect(),
        int8: int8.then(Int8Options::default),
        ..CompileOptions::default()
    };
    compile(model, &opts).expect("compiles").encode()
}

fn outputs(s: &Session, seed: u64) -> Vec<Vec<u8>> {
    let inputs = infc::inputs::seeded_inputs(s.plan(), seed).unwrap();
    let views: Vec<_> = inputs.iter().map(|i| i.view()).collect();
    let out = s.run(&views).expect("runs");
    out.into_iter().map(|t| t.data).collect()
}

fn session(bytes: &[u8], opts: SessionOptions) -> Session {
    Session::from_bytes_with(bytes, opts).expect("loads")
}

fn threads(n: usize) -> SessionOptions {
    SessionOptions {
        threads: Some(n),
        ..SessionOptions::default()
    }
}

const TRANSFORMER: &[&str] = &["batch=8", "sequence=64"];

#[test]
fn outputs_are_bit_identical_at_every_thread_count() {
    let host = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap(),
    );
    let cases: [(&str, &[&str]); 3] = [
        ("gpt2_ts17", TRANSFORMER),
        ("distilbert_ts17", TRANSFORMER),
        ("resnet_ts14", &["pixel_values=8x3x32x32"]),
    ];
    for (fixture, shapes) in cases {
        for int8 in [false, true] {
            let bytes = plan_bytes(fixture, shapes, int8);
            let serial = session(&bytes, threads(1));
            assert_eq!(serial.threads(), 1);
            let want = outputs(&serial, 7);
            let configs = [
                ("2 threads", threads(2)),
                ("4 threads", threads(4)),
                ("the caller's pool", SessionOptions::default()),
                (
                    "2 threads, no spinning",
                    SessionOptions {
                        spin: Spin::Off,
                        ..threads(2)
                    },
                ),
                (
                    "a host pool of 3",
                    SessionOptions {
                        pool: Some(host.clone()),
                        ..SessionOptions::default()
                    },
                ),
            ];
            for (what, opts) in configs {
                let s = session(&bytes, opts);
                assert_eq!(outputs(&s, 7), want, "{fixture} int8={int8}: {what}");
            }
        }
    }
}

#[test]
fn concurrent_callers_of_a_serial_session_agree() {
    let bytes = plan_bytes("distilbert_ts17", TRANSFORMER, true);
    let s = Arc::new(session(&bytes, threads(1)));
    let want = outputs(&s, 3);
    std::thread::scope(|scope| {
        for _ in 0..3 {
            let s = s.clone();
            let want = &want;
            scope.spawn(move || {
                for _ in 0..2 {
                    assert_eq!(&outputs(&s, 3), want);
                }
            });
        }
    });
    let stats = s.stats();
    assert_eq!((stats.runs, stats.failed_runs), (7, 0));
    assert!((1..=4).contains(&stats.arenas), "{stats:?}");
    assert!(stats.busy > Duration::ZERO);
}

#[test]
fn a_cancelled_run_stops_and_the_session_stays_usable() {
    let bytes = plan_bytes("gpt2_ts17", &["batch=1", "sequence=4"], false);
    let s = session(&bytes, SessionOptions::default());
    let inputs = infc::inputs::seeded_inputs(s.plan(), 1).unwrap();
    let views: Vec<_> = inputs.iter().map(|i| i.view()).collect();
    let token = CancelToken::new();
    let opts = RunOptions {
        cancel: Some(token.clone()),
        ..RunOptions::default()
    };
    token.cancel();
    match s.run_opts(&views, &opts) {
        Err(RuntimeError::Cancelled { steps_done: 0 }) => {}
        other => panic!("expected a cancelled run, got {other:?}"),
    }
    token.reset();
    let (out, stats) = s.run_opts(&views, &opts).expect("runs after a reset");
    assert_eq!(stats.steps, s.plan().steps.len());
    assert_eq!(out[0].data, s.run(&views).unwrap()[0].data);
    let stats = s.stats();
    assert_eq!((stats.runs, stats.failed_runs), (2, 1));
}

#[test]
fn a_run_past_its_timeout_stops_with_the_limit_named() {
    let bytes = plan_bytes("gpt2_ts17", &["batch=1", "sequence=4"], false);
    let s = session(&bytes, threads(1));
    let inputs = infc::inputs::seeded_inputs(s.plan(), 1).unwrap();
    let views: Vec<_> = inputs.iter().map(|i| i.view()).collect();
    let opts = RunOptions {
        timeout: Some(Duration::ZERO),
        ..RunOptions::default()
    };
    let err = s.run_opts(&views, &opts).unwrap_err();
    assert!(matches!(err, RuntimeError::TimedOut { .. }), "{err}");
    assert!(err.to_string().contains("the limit is 0ns"), "{err}");
    let generous = RunOptions {
        timeout: Some(Duration::from_secs(600)),
        ..RunOptions::default()
    };
    let (_, first) = s.run_opts(&views, &generous).expect("runs");
    let (_, second) = s.run_opts(&views, &generous).expect("runs");
    assert!(first.new_arena && !second.new_arena);
    assert_eq!(first.arena_bytes, s.plan().memory.arena_bytes);
}

#[test]
fn zero_threads_is_refused() {
    let bytes = plan_bytes("gpt2_ts17", &["batch=1", "sequence=4"], false);
    let err = Session::from_bytes_with(&bytes, threads(0))
        .err()
        .expect("refused");
    assert!(err.to_string().contains("at least one thread"), "{err}");
}
