//! Plans with very many inputs (issue 19, rows 5 and 6): a 150 000-input plan decodes, validates
//! and loads, and its runs check the inputs in linear time, in plan order and shuffled. Decode's
//! duplicate-name check and the run's input check were quadratic and cubic in the input count
//! (3 000 inputs took 30 s a run); these finish only because they are not.

use infc_plan::*;
use infc_runtime::{Session, TensorView};

/// `n` f32[1] inputs `x0…`, one 64-byte slot each; one step copies the last into output `y`.
fn plan(n: usize) -> Plan {
    let slot = |i: usize| TensorRef::arena(64 * i as u64);
    let inputs = (0..n)
        .map(|i| IoDesc {
            name: format!("x{i}"),
            dtype: DType::F32,
            shape: vec![1],
            at: slot(i),
        })
        .collect();
    let body = PlanBody {
        producer: "many inputs test".into(),
        required_features: 0,
        inputs,
        outputs: vec![IoDesc {
            name: "y".into(),
            dtype: DType::F32,
            shape: vec![1],
            at: slot(n),
        }],
        steps: vec![Step::Copy(CopyStep {
            dtype: DType::F32,
            shape: vec![1],
            src: slot(n - 1),
            src_strides: vec![1],
            dst: slot(n),
            dst_strides: vec![1],
        })],
        step_names: vec!["copy".into()],
        memory: MemoryPlan {
            arena_bytes: 64 * (n as u64 + 1),
            ..MemoryPlan::default()
        },
        provenance: Vec::new(),
        range: None,
    };
    Plan {
        body,
        consts: vec![],
    }
}

const N: usize = 150_000;

#[test]
fn a_plan_with_150000_inputs_loads_and_runs_in_any_input_order() {
    let s = Session::from_bytes(&plan(N).encode()).unwrap();
    let names: Vec<String> = (0..N).map(|i| format!("x{i}")).collect();
    let data: Vec<[f32; 1]> = (0..N).map(|i| [i as f32]).collect();
    let shape = [1usize];
    let mut inputs: Vec<_> = (0..N)
        .map(|i| (names[i].as_str().into(), TensorView::f32(&shape, &data[i])))
        .collect();
    let y = s.run(&inputs).unwrap();
    assert_eq!(y[0].to_f32_vec(), [(N - 1) as f32]);
    inputs.reverse();
    let y = s.run(&inputs).unwrap();
    assert_eq!(y[0].to_f32_vec(), [(N - 1) as f32]);

    // One given twice, so one is missing: the first in plan order is named.
    inputs[N - 1] = (names[7].as_str().into(), TensorView::f32(&shape, &data[7]));
    let e = s.run(&inputs).unwrap_err().to_string();
    assert_eq!(e, "input 'x0': not given (expected f32[1])");
    inputs.push((names[0].as_str().into(), TensorView::f32(&shape, &data[0])));
    let e = s.run(&inputs).unwrap_err().to_string();
    assert_eq!(e, "input 'x7': given 2 times (expected f32[1])");
}

#[test]
fn inputs_given_by_index_twice_are_named_in_a_small_plan_too() {
    let s = Session::from_bytes(&plan(3).encode()).unwrap();
    let (shape, v) = ([1usize], [1f32]);
    let view = TensorView::f32(&shape, &v);
    let e = s
        .run(&[(2.into(), view), (1.into(), view), (2.into(), view)])
        .unwrap_err()
        .to_string();
    assert_eq!(e, "input 'x0': not given (expected f32[1])");
    let e = s
        .run(&[(2.into(), view), (0.into(), view), (2.into(), view)])
        .unwrap_err()
        .to_string();
    assert_eq!(e, "input 'x1': not given (expected f32[1])");
    let y = s
        .run(&[(2.into(), view), (0.into(), view), ("x1".into(), view)])
        .unwrap();
    assert_eq!(y[0].to_f32_vec(), [1.0]);
}

#[test]
fn a_repeated_input_name_among_150000_is_refused_at_load() {
    let mut p = plan(N);
    p.body.inputs[N - 1].name = "x12345".into();
    let e = Session::from_bytes(&p.encode()).err().unwrap().to_string();
    assert!(
        e.contains("x12345") && e.contains("name appears twice"),
        "{e}"
    );
}
