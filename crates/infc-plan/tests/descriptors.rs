//! Each step kind's descriptor table ([`Describe`]) lists every tensor the kernel touches, with
//! the extent and use the generic validator checks; a shape rule fails in `describe` itself.

use infc_plan::*;

fn table(step: &Step) -> Result<Tensors, String> {
    let mut t = Tensors::default();
    step.describe(&mut t)?;
    Ok(t)
}

fn roles(t: &Tensors) -> Vec<(&'static str, Use)> {
    t.list.iter().map(|d| (d.role, d.usage)).collect()
}

#[test]
fn a_matmul_lists_its_operands_in_order() {
    let step = Step::MatMul(MatMulStep {
        batch_shape: vec![3],
        a_batch_strides: vec![8],
        b_batch_strides: vec![0],
        m: 2,
        n: 5,
        k: 4,
        a: TensorRef::arena(0),
        trans_a: false,
        b: MatB::Packed(PackedRef {
            offset: 64,
            bytes: 128,
        }),
        alpha: 1.0,
        bias: Some(Bias {
            at: TensorRef::konst(0),
            kind: BiasKind::Row,
            beta: 1.0,
        }),
        residual: Some(TensorRef::arena(512)),
        act: Activation::None,
        y: TensorRef::arena(1024),
    });
    let t = table(&step).unwrap();
    assert_eq!(
        roles(&t),
        [
            ("a", Use::Read),
            ("b", Use::Read),
            ("bias", Use::Read),
            ("residual", Use::Read),
            ("y", Use::Write)
        ]
    );
    assert_eq!(
        t.list[0].extent,
        Extent::Batched {
            batch: vec![3],
            strides: vec![8],
            rows: 2,
            cols: 4
        }
    );
    assert_eq!(t.list[1].extent, Extent::Packed(128));
    assert_eq!(t.list[2].extent, Extent::Flat(5));
    assert_eq!(t.list[4].extent, Extent::Flat(30));
    assert!(!t.in_place);
}

#[test]
fn elementwise_steps_may_update_in_place_when_element_sizes_match() {
    let unary = |op| {
        Step::Unary(UnaryStep {
            op,
            dtype: DType::F32,
            len: 7,
            x: TensorRef::arena(0),
            y: TensorRef::arena(0),
        })
    };
    let tanh = table(&unary(UnaryKind::Tanh)).unwrap();
    assert_eq!(roles(&tanh), [("x", Use::ReadInPlace), ("y", Use::Write)]);
    assert!(tanh.in_place);
    // IsNaN writes 1-byte bools from 4-byte floats: never in place.
    assert!(!table(&unary(UnaryKind::IsNaN)).unwrap().in_place);
}

#[test]
fn a_reduction_reads_each_element_once() {
    let step = Step::Reduce(ReduceStep {
        op: ReduceKind::Sum,
        dtype: DType::F32,
        out_shape: vec![2],
        out_strides: vec![3],
        red_shape: vec![3],
        red_strides: vec![1],
        x: TensorRef::arena(0),
        y: TensorRef::arena(64),
    });
    let t = table(&step).unwrap();
    assert_eq!(roles(&t), [("x", Use::ReadOnce), ("y", Use::Write)]);
    assert_eq!(
        t.list[0].extent,
        Extent::Strided {
            dims: vec![2, 3],
            strides: vec![3, 1]
        }
    );
}

#[test]
fn shape_rules_fail_in_describe_with_the_fields_named() {
    let step = Step::Reorder(ReorderStep {
        to_blocked: true,
        n: 1,
        c: 3,
        hw: 4,
        block: 4,
        x: TensorRef::arena(0),
        y: TensorRef::arena(64),
    });
    assert_eq!(table(&step).unwrap_err(), "block 4 is not 8 or 16");
    // The validator adds the step's index and kind to the same sentence.
    let err = step_accesses(3, &step, 1 << 20, 0).unwrap_err().to_string();
    assert!(
        err.contains("step 3 (Reorder)") && err.contains("block 4 is not 8 or 16"),
        "{err}"
    );
}

#[test]
fn a_reduction_whose_strides_repeat_elements_is_refused() {
    let step = Step::Reduce(ReduceStep {
        op: ReduceKind::Sum,
        dtype: DType::F32,
        out_shape: vec![2],
        out_strides: vec![1],
        red_shape: vec![3],
        red_strides: vec![0],
        x: TensorRef::arena(0),
        y: TensorRef::arena(64),
    });
    let err = step_accesses(0, &step, 1 << 20, 0).unwrap_err().to_string();
    assert!(
        err.contains("x reads 6 elements from a span of 2: its strides repeat elements"),
        "{err}"
    );
}
