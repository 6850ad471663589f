//! The profiling run loop: same outputs as the plain loop, one time per step summed over runs,
//! step times inside the measured run latency, FLOP counts of the arithmetic steps.

mod common;

use infc_plan::Step;
use infc_runtime::{step_flops, step_op_kind, Session, StepTimes, TensorView};
use std::time::Instant;

#[test]
fn profiled_runs_match_plain_runs_and_time_every_step() {
    let s = Session::from_bytes(&common::plan().encode()).unwrap();
    let x = common::input();
    let shape = [4usize, 8];
    let inputs = [("x".into(), TensorView::f32(&shape, &x))];
    let plain = s.run(&inputs).unwrap();
    let mut bufs: Vec<Vec<u8>> = plain.iter().map(|t| vec![0u8; t.data.len()]).collect();
    let mut times = StepTimes::default(); // wrong length on purpose: resized to the plan
    let mut latency_ns = 0u128;
    for _ in 0..50 {
        let mut slots: Vec<&mut [u8]> = bufs.iter_mut().map(|b| b.as_mut_slice()).collect();
        let t = Instant::now();
        s.run_profiled_into(&inputs, &mut slots, &mut times)
            .unwrap();
        latency_ns += t.elapsed().as_nanos();
    }
    for (t, b) in plain.iter().zip(&bufs) {
        assert_eq!(&t.data, b, "output {}", t.name);
    }
    assert_eq!(times.runs, 50);
    assert_eq!(times.nanos.len(), s.plan().steps.len());
    let steps_ns: u64 = times.nanos.iter().sum();
    assert!(steps_ns > 0);
    assert!(
        (steps_ns as u128) <= latency_ns,
        "steps {steps_ns} ns > measured {latency_ns} ns"
    );
    let mean = times.mean_total_nanos();
    assert!((mean - steps_ns as f64 / 50.0).abs() < 1e-6);
    times.clear();
    assert_eq!(times.runs, 0);
    assert!(times.nanos.iter().all(|&n| n == 0));
}

#[test]
fn profiled_runs_report_input_errors_like_plain_runs() {
    let s = Session::from_bytes(&common::plan().encode()).unwrap();
    let x = vec![0f32; 8];
    let shape = [2usize, 4];
    let mut times = StepTimes::for_session(&s);
    let mut out0 = vec![0u8; 4 * 16 * 4];
    let mut out1 = vec![0u8; 8 * 4 * 4];
    let err = s
        .run_profiled_into(
            &[("x".into(), TensorView::f32(&shape, &x))],
            &mut [&mut out0, &mut out1],
            &mut times,
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("'x'") && err.contains("f32[4,8]"), "{err}");
    assert_eq!(times.runs, 0);
}

#[test]
fn flops_are_counted_for_matmuls_only_in_this_plan() {
    let plan = common::plan();
    for step in &plan.body.steps {
        match step {
            Step::MatMul(_) => {
                let (m, n, k) = (common::M, common::N, common::K);
                assert_eq!(step_flops(step), Some(2 * m * n * k));
                assert_eq!(step_op_kind(step), "MatMul");
            }
            Step::Unary(u) => {
                assert_eq!(step_flops(step), None);
                assert_eq!(step_op_kind(step), format!("Unary.{:?}", u.op));
            }
            other => assert_eq!(step_flops(other), None, "{}", other.kind()),
        }
    }
}
