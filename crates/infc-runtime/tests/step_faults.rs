//! A step that fails at run time returns a typed [`StepFault`] inside `RuntimeError::Step`: an
//! index read from the caller's data outside its axis is `IndexOutOfRange` with the index, its
//! position and the axis length, and the session keeps working for good inputs.

use infc_plan::*;
use infc_runtime::{InputKey, RuntimeError, Session, StepFault, TensorView};

/// `y = data[indices]` over a 3-row table of 2 floats; `indices` (2 × i64) is the plan's input.
fn gather_plan() -> Plan {
    let mut consts = vec![0u8; 64];
    for (i, c) in consts.chunks_exact_mut(4).take(6).enumerate() {
        c.copy_from_slice(&(i as f32).to_le_bytes());
    }
    Plan {
        body: PlanBody {
            producer: "test".into(),
            required_features: 0,
            inputs: vec![IoDesc {
                name: "indices".into(),
                dtype: DType::I64,
                shape: vec![2],
                at: TensorRef::arena(0),
            }],
            outputs: vec![IoDesc {
                name: "y".into(),
                dtype: DType::F32,
                shape: vec![2, 2],
                at: TensorRef::arena(64),
            }],
            steps: vec![Step::Gather(GatherStep {
                dtype: DType::F32,
                idx_dtype: DType::I64,
                outer: 1,
                axis_len: 3,
                inner: 2,
                n_idx: 2,
                data: TensorRef::konst(0),
                indices: TensorRef::arena(0),
                y: TensorRef::arena(64),
            })],
            step_names: vec!["/embed/Gather".into()],
            memory: MemoryPlan {
                arena_bytes: 128,
                intermediates_bytes: 0,
                lower_bound_bytes: 0,
                entries: vec![],
            },
            provenance: vec![],
            range: None,
        },
        consts,
    }
}

fn run(s: &Session, idx: [i64; 2]) -> Result<Vec<f32>, RuntimeError> {
    let bytes: Vec<u8> = idx.iter().flat_map(|i| i.to_le_bytes()).collect();
    let view = TensorView::new(infc_runtime::DType::I64, &[2], &bytes);
    let out = s.run(&[(InputKey::Name("indices"), view)])?;
    Ok(out[0]
        .data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

#[test]
fn an_index_outside_its_axis_is_a_typed_fault_naming_it() {
    let s = Session::from_bytes(&gather_plan().encode()).unwrap();
    match run(&s, [0, 5]) {
        Err(RuntimeError::Step {
            index: 0,
            kind: "Gather",
            node,
            fault:
                StepFault::IndexOutOfRange {
                    index: 5,
                    position: 1,
                    len: 3,
                },
        }) => assert_eq!(node, "/embed/Gather"),
        other => panic!("expected an index fault, got {other:?}"),
    }
    // Negative indices wrap; the session still runs.
    assert_eq!(run(&s, [-1, 1]).unwrap(), [4.0, 5.0, 2.0, 3.0]);
    let err = run(&s, [-4, 0]).unwrap_err().to_string();
    assert_eq!(
        err,
        "step 0 (Gather, node '/embed/Gather'): index -4 at position 0 is out of bounds for axis of length 3"
    );
}
