//! Steps whose zero dim hides huge other dims (issue 19, the `plan_run` fuzzer's finds): a product
//! with a zero factor is 0, so the validator checked nothing else, and the runtime then overflowed a
//! sub-product (a slice's bytes, an index count, a reduction's count), looped over the rows of an
//! empty tensor or sized a buffer by a dim. [`refused`] must fail validation naming the step;
//! [`empty_runs`] are valid (every dim within `MAX_ELEMENTS`) and must run at once.

use super::steps::{at, BiasAt, Case, BIAS};
use infc_kernels::{packed_nchwc_weights_len, NchwcConvParams};
use infc_plan::*;

/// Past `MAX_ELEMENTS` on its own.
const HUGE: u64 = (1 << 63) - 1;
/// Within `MAX_ELEMENTS` on its own, past it squared.
const BIG: u64 = 1 << 40;

fn case(name: &str, step: Step) -> Case {
    Case {
        name: name.into(),
        step,
        weight_bytes: 0,
        output: None,
        bias_at: None,
    }
}

fn gather(outer: u64, axis_len: u64, inner: u64, n_idx: u64) -> Step {
    Step::Gather(GatherStep {
        dtype: DType::I32,
        idx_dtype: DType::I32,
        outer,
        axis_len,
        inner,
        n_idx,
        data: at(0),
        indices: at(2),
        y: at(1),
    })
}

fn gather_nd(batch: u64, n_per_batch: u64, index_dims: Vec<u64>, slice_len: u64) -> Step {
    Step::GatherNd(GatherNdStep {
        dtype: DType::I64,
        idx_dtype: DType::I32,
        batch,
        n_per_batch,
        index_dims,
        slice_len,
        data: at(0),
        indices: at(2),
        y: at(1),
    })
}

fn reduce(out: (Vec<u64>, Vec<u64>), red: (Vec<u64>, Vec<u64>)) -> Step {
    Step::Reduce(ReduceStep {
        op: ReduceKind::Mean,
        dtype: DType::F32,
        out_shape: out.0,
        out_strides: out.1,
        red_shape: red.0,
        red_strides: red.1,
        x: at(0),
        y: at(1),
    })
}

/// A `1 × c × 1 × 1` max pool whose right padding makes the output `ow` wide.
fn pool(c: u64, ow: u64) -> Step {
    Step::Pool(PoolStep {
        kind: PoolKind::Max,
        n: 1,
        c,
        h: 1,
        w: 1,
        window: Window2d {
            kernel: [1, 1],
            strides: [1, 1],
            pads: [0, 0, 0, ow - 1],
            dilations: [1, 1],
        },
        oh: 1,
        ow,
        x: at(0),
        y: at(1),
    })
}

fn copy(shape: Vec<u64>, src_strides: Vec<i64>, dst_strides: Vec<i64>) -> Step {
    Step::Copy(CopyStep {
        dtype: DType::F32,
        shape,
        src: at(0),
        src_strides,
        dst: at(1),
        dst_strides,
    })
}

fn matmul(batch_shape: Vec<u64>, m: u64, k: u64, n: u64) -> Step {
    let rank = batch_shape.len();
    Step::MatMul(MatMulStep {
        batch_shape,
        a_batch_strides: vec![0; rank],
        b_batch_strides: vec![0; rank],
        m,
        n,
        k,
        a: at(0),
        trans_a: false,
        b: MatB::Plain {
            at: at(2),
            trans: false,
        },
        alpha: 1.0,
        bias: None,
        residual: None,
        act: Activation::None,
        y: at(1),
    })
}

fn conv(c_in: u64, c_out: u64, h: u64, kernel: u64) -> Step {
    Step::Conv(ConvStep {
        n: 1,
        c_in,
        h,
        w: h,
        c_out,
        group: 1,
        window: Window2d {
            kernel: [kernel; 2],
            strides: [1, 1],
            pads: [0; 4],
            dilations: [1, 1],
        },
        oh: h - kernel + 1,
        ow: h - kernel + 1,
        x: at(0),
        weights: PackedRef {
            offset: 0,
            bytes: 0,
        },
        bias: None,
        residual: None,
        act: Activation::None,
        y: at(1),
    })
}

/// Each must be refused at load with an error naming the step.
pub fn refused() -> Vec<Case> {
    let c4 = |shape: Vec<u64>| {
        let s: Vec<i64> = contiguous_strides(&shape)
            .iter()
            .map(|&s| s as i64)
            .collect();
        copy(shape, s.clone(), s)
    };
    vec![
        // The six open crashes of the fuzzer (their geometry, one step each).
        case("Gather 2^63 empty rows", gather(HUGE, 1, 0, 0)),
        case("GatherNd slice 2^63", gather_nd(0, 7, vec![10], HUGE)),
        case(
            "GatherNd index dim 2^63",
            gather_nd(0, 60, vec![7, HUGE, 7], 6),
        ),
        case(
            "Reduce [2^63, 3]",
            reduce((vec![3], vec![0]), (vec![HUGE, 3], vec![0, 1])),
        ),
        case("Pool 0 channels, 2^61 wide", pool(0, (1 << 61) + 1)),
        // The same class in the other step kinds.
        case(
            "Reduce over a stride-0 dim",
            reduce((vec![1], vec![0]), (vec![BIG], vec![0])),
        ),
        case("Copy [0, 2^62, 4]", c4(vec![0, 1 << 62, 4])),
        case("Copy stride 2^50 of an empty tensor", {
            copy(vec![0, 2], vec![1 << 50, 1], vec![2, 1])
        }),
        case("Copy writing one element 2^40 times", {
            copy(vec![BIG], vec![1], vec![0])
        }),
        case(
            "Binary [0, 2^40, 2^40]",
            Step::Binary(BinaryStep {
                op: BinaryKind::Add,
                dtype: DType::F32,
                shape: vec![0, BIG, BIG],
                a: at(0),
                a_strides: vec![0, 0, 0],
                b: at(2),
                b_strides: vec![0, 0, 0],
                y: at(1),
            }),
        ),
        case(
            "MatMul batch [0, 2^40] m 2^40",
            matmul(vec![0, BIG], BIG, 1, 1),
        ),
        case("MatMul m 0, k·n 2^80", matmul(vec![], 0, BIG, BIG)),
        case(
            "Softmax [2^40, 0, 2^40]",
            Step::Softmax(SoftmaxStep {
                outer: BIG,
                axis: 0,
                inner: BIG,
                x: at(0),
                y: at(1),
            }),
        ),
        case(
            "Trilu [0, 2^40, 2^40]",
            Step::Trilu(TriluStep {
                dtype: DType::F32,
                upper: false,
                k: 0,
                k_at: None,
                batch: 0,
                rows: BIG,
                cols: BIG,
                x: at(0),
                y: at(1),
            }),
        ),
        case(
            "LayerNorm [2^50, 0]",
            Step::LayerNorm(LayerNormStep {
                rows: 1 << 50,
                cols: 0,
                epsilon: 1e-5,
                x: at(0),
                scale: at(2),
                bias: None,
                y: at(1),
            }),
        ),
        case(
            "GlobalAvgPool [0, 2^50]",
            Step::GlobalAvgPool(GlobalAvgPoolStep {
                nc: 0,
                hw: 1 << 50,
                x: at(0),
                y: at(1),
            }),
        ),
        case(
            "BatchNorm [0, 2^30, 2^30]",
            Step::BatchNorm(BatchNormStep {
                n: 0,
                c: 1 << 30,
                inner: 1 << 30,
                epsilon: 1e-5,
                x: at(0),
                scale: at(2),
                bias: at(2),
                mean: at(2),
                var: at(2),
                y: at(1),
            }),
        ),
        // c_in = 0: the weights [2^30, 0, 2^10, 2^10] hide 2^50 elements.
        case(
            "Conv c_in 0, weights 2^50",
            conv(0, 1 << 30, 1 << 10, 1 << 10),
        ),
    ]
}

/// A 1 × `c` NCHWc conv of an input of height 0 whose padding gives a 2 × 1 output (every tap is
/// padding, so the output is the bias).
fn nchwc_empty_input(c: u64) -> Case {
    const B: u64 = 16;
    let window = Window2d {
        kernel: [1, 1],
        strides: [1, 1],
        pads: [1, 0, 1, 0],
        dilations: [1, 1],
    };
    let params = NchwcConvParams {
        conv: window.conv2d_params([1, c, 0, 1], c, 1).unwrap(),
        block: B as usize,
        input_blocked: true,
    };
    let wb = packed_nchwc_weights_len(&params) as u64 * 4;
    assert!(wb <= BIAS);
    Case {
        name: format!("NchwcConv h=0 c={c}"),
        step: Step::NchwcConv(NchwcConvStep {
            n: 1,
            c_in: c,
            h: 0,
            w: 1,
            c_out: c,
            block: B,
            input_blocked: true,
            window,
            oh: 2,
            ow: 1,
            x: at(0),
            weights: PackedRef {
                offset: 0,
                bytes: wb,
            },
            bias: Some(TensorRef::konst(BIAS)),
            residual: None,
            act: Activation::None,
            y: at(1),
        }),
        weight_bytes: wb,
        output: Some((2 * c.div_ceil(B) * B, DType::F32)),
        bias_at: Some(BiasAt::Blocked { hw: 2, block: B }),
    }
}

/// Valid steps with an empty tensor and other dims up to 2^40: each must load and run at once
/// (no loop over the empty rows, no buffer sized by a dim), giving its bias where it has one.
pub fn empty_runs() -> Vec<Case> {
    vec![
        case("Gather 2^40 empty rows", gather(BIG, 1, 0, 0)),
        case("Gather 2^40 rows of no indices", gather(BIG, 0, 1, 0)),
        case(
            "GatherNd 2^40 batches of no indices",
            gather_nd(BIG, 0, vec![1], 0),
        ),
        case(
            "GatherNd batch 0, slice 2^40",
            gather_nd(0, 1, vec![1], BIG),
        ),
        case("Pool 0 channels, 2^40 wide", pool(0, BIG)),
        nchwc_empty_input(16),
        nchwc_empty_input(32),
    ]
}
