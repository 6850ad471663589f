//! Integer `Pow` through a session on every ISA: a one-step plan `y = a ^ b` for i32 and i64,
//! elementwise and with a broadcast (stride 0) exponent. Covers the ONNX node test
//! `test_pow_types_int32_int32` (int32 once gave 0 for 2^5), overflow wrap, exponents past
//! `u32::MAX`, and negative exponents (1 for base 1, ±1 for base −1, 0 otherwise, 0 for base 0).

use infc_plan::*;
use infc_runtime::{Isa, Session, SessionOptions, TensorView};

/// `y[i] = a[i] ^ b[i·b_stride]` over `n` elements of `dtype`.
fn pow_plan(dtype: DType, n: u64, b_len: u64) -> Plan {
    let bytes = n * dtype.size() as u64;
    let region = bytes.div_ceil(64) * 64;
    let (a_at, b_at, y_at) = (0, region, 2 * region);
    let io = |name: &str, shape: Vec<u64>, at: u64| IoDesc {
        name: name.into(),
        dtype,
        shape,
        at: TensorRef::arena(at),
    };
    let step = Step::Binary(BinaryStep {
        op: BinaryKind::Pow,
        dtype,
        shape: vec![n],
        a: TensorRef::arena(a_at),
        a_strides: vec![1],
        b: TensorRef::arena(b_at),
        b_strides: vec![u64::from(b_len != 1)],
        y: TensorRef::arena(y_at),
    });
    let body = PlanBody {
        producer: "int pow test".into(),
        required_features: 0,
        inputs: vec![io("a", vec![n], a_at), io("b", vec![b_len], b_at)],
        outputs: vec![io("y", vec![n], y_at)],
        step_names: vec!["pow".into()],
        steps: vec![step],
        memory: MemoryPlan {
            arena_bytes: 3 * region,
            intermediates_bytes: 3 * region,
            lower_bound_bytes: 3 * region,
            entries: vec![],
        },
        provenance: Vec::new(),
        range: None,
    };
    Plan {
        body,
        consts: vec![],
    }
}

fn run_every_isa(plan: &Plan, a: TensorView<'_>, b: TensorView<'_>) -> Vec<Vec<i64>> {
    let bytes = plan.encode();
    Isa::supported()
        .into_iter()
        .map(|isa| {
            let s = Session::from_bytes_with(
                &bytes,
                SessionOptions {
                    isa: Some(isa),
                    ..Default::default()
                },
            )
            .unwrap();
            let out = s.run(&[("a".into(), a), ("b".into(), b)]).unwrap();
            out[0].to_i64_vec()
        })
        .collect()
}

fn check_i32(a: &[i32], b: &[i32], want: &[i32]) {
    let plan = pow_plan(DType::I32, a.len() as u64, b.len() as u64);
    let (sa, sb) = ([a.len()], [b.len()]);
    let want: Vec<i64> = want.iter().map(|&v| v as i64).collect();
    for got in run_every_isa(&plan, TensorView::i32(&sa, a), TensorView::i32(&sb, b)) {
        assert_eq!(got, want, "i32 {a:?} ^ {b:?}");
    }
}

fn check_i64(a: &[i64], b: &[i64], want: &[i64]) {
    let plan = pow_plan(DType::I64, a.len() as u64, b.len() as u64);
    let (sa, sb) = ([a.len()], [b.len()]);
    for got in run_every_isa(&plan, TensorView::i64(&sa, a), TensorView::i64(&sb, b)) {
        assert_eq!(got, want, "i64 {a:?} ^ {b:?}");
    }
}

#[test]
fn onnx_node_test_pow_types_int32_int32() {
    check_i32(&[1, 2, 3], &[4, 5, 6], &[1, 32, 729]);
    check_i64(&[1, 2, 3], &[4, 5, 6], &[1, 32, 729]);
}

#[test]
fn signs_of_base_and_exponent() {
    let a = [0, 1, -1, -1, 2, -2, 3, -3, 0, 1, -1, -1, 2, -2, 0, 7];
    let b = [0, 3, 3, 4, 10, 9, 4, 3, -1, -7, -3, -2, -1, -2, 5, 0];
    let want = [1, 1, -1, 1, 1024, -512, 81, -27, 0, 1, -1, 1, 0, 0, 0, 1];
    check_i32(&a, &b, &want);
    let a64: Vec<i64> = a.iter().map(|&v| v as i64).collect();
    let b64: Vec<i64> = b.iter().map(|&v| v as i64).collect();
    let want64: Vec<i64> = want.iter().map(|&v| v as i64).collect();
    check_i64(&a64, &b64, &want64);
}

#[test]
fn overflow_wraps_and_large_exponents_are_exact() {
    check_i32(
        &[2, 2, 3, -3, i32::MAX, i32::MIN],
        &[31, 32, 21, 21, 2, 2],
        &[
            i32::MIN,
            0,
            3i64.pow(21) as i32,
            (-3i64).pow(21) as i32,
            1,
            0,
        ],
    );
    check_i32(
        &[3, -1, 1, 2],
        &[i32::MAX],
        &[3i32.wrapping_pow(i32::MAX as u32), -1, 1, 0],
    );
    // 3 has order 2^62 modulo 2^64; exponents past u32::MAX used to be clamped to it.
    check_i64(
        &[2, 3, 3, 3, -1, i64::MIN],
        &[63, 41, 1 << 62, 1 << 32, i64::MAX, 2],
        &[
            i64::MIN,
            (3i128.pow(41) as u128 as u64) as i64,
            1,
            3i64.wrapping_pow(1 << 16).wrapping_pow(1 << 16),
            -1,
            0,
        ],
    );
}
