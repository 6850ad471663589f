//! Strided extents whose element bounds overflow even 128-bit arithmetic (rank 8 of near-2^64
//! dims times near-2^63 strides, found by the `plan_run` fuzzer) are validation errors, not
//! arithmetic panics.

use infc_plan::*;

fn err_of(step: Step) -> String {
    step_accesses(0, &step, 1 << 20, 1 << 20)
        .unwrap_err()
        .to_string()
}

#[test]
fn copy_extent_past_i128_is_an_error() {
    let shape = vec![u64::MAX; 8];
    let step = Step::Copy(CopyStep {
        dtype: DType::F32,
        shape,
        src: TensorRef::arena(0),
        src_strides: vec![i64::MAX; 8],
        dst: TensorRef::arena(4096),
        dst_strides: vec![i64::MIN; 8],
    });
    let e = err_of(step);
    assert!(e.contains("src extent overflows"), "{e}");
}

#[test]
fn matmul_batch_extent_past_i128_is_an_error() {
    let step = Step::MatMul(MatMulStep {
        batch_shape: vec![u64::MAX; 4],
        a_batch_strides: vec![u64::MAX; 4],
        b_batch_strides: vec![0; 4],
        m: 1,
        n: 1,
        k: 1,
        a: TensorRef::arena(0),
        trans_a: false,
        b: MatB::Plain {
            at: TensorRef::arena(64),
            trans: false,
        },
        alpha: 1.0,
        bias: None,
        residual: None,
        act: Activation::None,
        y: TensorRef::arena(128),
    });
    let e = err_of(step);
    assert!(e.contains("overflows"), "{e}");
}
