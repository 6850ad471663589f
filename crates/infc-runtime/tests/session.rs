//! Session behaviour: results on every ISA, file (mmap) loading, input/output validation errors,
//! corrupt plans, concurrent runs.

mod common;

use infc_runtime::{DType, Isa, RuntimeError, Session, SessionOptions, TensorView};

fn close(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-5 + 1e-4 * y.abs(), "{x} vs {y}");
    }
}

#[test]
fn runs_on_every_supported_isa() {
    let bytes = common::plan().encode();
    let x = common::input();
    let (ey, et) = common::expected(&x);
    for isa in Isa::supported() {
        let s = Session::from_bytes_with(
            &bytes,
            SessionOptions {
                isa: Some(isa),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s.isa(), isa);
        let shape = [4usize, 8];
        let out = s.run(&[("x".into(), TensorView::f32(&shape, &x))]).unwrap();
        assert_eq!(out[0].name, "y");
        assert_eq!(out[0].shape, vec![4, 16]);
        close(&out[0].to_f32_vec(), &ey);
        close(&out[1].to_f32_vec(), &et);
    }
}

#[test]
fn loads_from_a_file_via_mmap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.plan");
    std::fs::write(&path, common::plan().encode()).unwrap();
    let s = Session::load(&path).unwrap();
    let x = common::input();
    let shape = [4usize, 8];
    let out = s
        .run(&[(0usize.into(), TensorView::f32(&shape, &x))])
        .unwrap();
    close(&out[0].to_f32_vec(), &common::expected(&x).0);
    let err = Session::load(dir.path().join("missing.plan"))
        .err()
        .unwrap();
    assert!(err.to_string().starts_with("cannot read plan"), "{err}");
}

#[test]
fn input_errors_name_the_input_expected_and_given() {
    let s = Session::from_bytes(&common::plan().encode()).unwrap();
    let x = common::input();
    let bad_shape = [8usize, 4];
    let err = s
        .run(&[("x".into(), TensorView::f32(&bad_shape, &x))])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "input 'x': expected f32[4,8], given f32[8,4]"
    );
    let ints = vec![0i64; 32];
    let shape = [4usize, 8];
    let err = s
        .run(&[("x".into(), TensorView::i64(&shape, &ints))])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "input 'x': expected f32[4,8], given i64[4,8]"
    );
    let err = s
        .run(&[("nope".into(), TensorView::f32(&shape, &x))])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "input 'nope': no such input (the plan has [\"x\"])"
    );
    let err = s.run(&[]).unwrap_err();
    assert_eq!(err.to_string(), "input 'x': not given (expected f32[4,8])");
    let err = s
        .run(&[("x".into(), TensorView::new(DType::F32, &shape, &[0u8; 12]))])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "input 'x': f32[4,8] needs 128 bytes, given 12"
    );
    let mut small = [0u8; 4];
    let mut other = [0u8; 128];
    let err = s
        .run_into(
            &[("x".into(), TensorView::f32(&shape, &x))],
            &mut [&mut small[..], &mut other[..]],
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "output 'y': buffer of 4 bytes given, f32[4,16] needs 256"
    );
}

#[test]
fn corrupt_plans_are_rejected_at_load() {
    let bytes = common::plan().encode();
    for cut in [0, 10, 100, bytes.len() - 1] {
        assert!(matches!(
            Session::from_bytes(&bytes[..cut]),
            Err(RuntimeError::Plan(_))
        ));
    }
    // A packed B whose size does not match the kernel layout passes format validation but not
    // the runtime's load-time check.
    let mut plan = common::plan();
    if let infc_plan::Step::MatMul(m) = &mut plan.body.steps[0] {
        m.n = 17;
    }
    let err = Session::from_bytes(&plan.encode()).err().unwrap();
    assert!(
        err.to_string()
            .starts_with("step 0 (MatMul, node 'mm'): packed B has"),
        "{err}"
    );
    let mut plan = common::plan();
    plan.body.required_features = infc_plan::cpu_features::AMX;
    // The runtime has no AMX path yet, so it never reports the feature as usable.
    let err = Session::from_bytes(&plan.encode()).err().unwrap();
    assert_eq!(
        err.to_string(),
        "plan needs CPU features [\"amx\"] that this CPU lacks"
    );
}

#[test]
fn concurrent_runs_share_one_session() {
    let s = std::sync::Arc::new(Session::from_bytes(&common::plan().encode()).unwrap());
    let x = common::input();
    let want = common::expected(&x).0;
    std::thread::scope(|sc| {
        for _ in 0..4 {
            let (s, x, want) = (s.clone(), &x, &want);
            sc.spawn(move || {
                let shape = [4usize, 8];
                for _ in 0..20 {
                    let out = s.run(&[("x".into(), TensorView::f32(&shape, x))]).unwrap();
                    close(&out[0].to_f32_vec(), want);
                }
            });
        }
    });
}

/// A run called from outside the pool hands its step loop to a pool worker; one called on a worker
/// (or with a one-thread pool) runs it in place. Every way gives the same bits.
#[test]
fn runs_from_inside_and_outside_the_pool_agree() {
    let s = Session::from_bytes(&common::plan().encode()).unwrap();
    let x = common::input();
    let shape = [4usize, 8];
    let run = || {
        s.run(&[("x".into(), TensorView::f32(&shape, &x))])
            .unwrap()
            .remove(0)
            .to_f32_vec()
    };
    let outside = run();
    close(&outside, &common::expected(&x).0);
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        assert_eq!(
            pool.install(run),
            outside,
            "{threads} thread(s), on a worker"
        );
    }
}

/// `run_with` lends views (dtype, shape, bytes) equal to what `run` returns, and does not call
/// the callback when the run fails.
#[test]
fn run_with_lends_the_outputs_run_returns() {
    let s = Session::from_bytes(&common::plan().encode()).unwrap();
    let x = common::input();
    let shape = [4usize, 8];
    let inputs = [("x".into(), TensorView::f32(&shape, &x))];
    let owned = s.run(&inputs).unwrap();
    let lent = s
        .run_with(&inputs, |views| {
            views
                .iter()
                .map(|v| (v.dtype, v.shape.to_vec(), v.data.to_vec()))
                .collect::<Vec<_>>()
        })
        .unwrap();
    assert_eq!(lent.len(), owned.len());
    for (l, o) in lent.iter().zip(&owned) {
        assert_eq!(
            (l.0, &l.1, &l.2),
            (o.dtype, &o.shape, &o.data),
            "{}",
            o.name
        );
    }
    let short = [("x".into(), TensorView::f32(&shape[..1], &x[..4]))];
    let mut called = false;
    let err = s.run_with(&short, |_| called = true).unwrap_err();
    assert!(err.to_string().contains("'x'"), "{err}");
    assert!(!called, "the callback ran for a failed run");
}
