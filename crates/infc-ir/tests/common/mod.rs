//! Shared test fixtures: one sample of every `Op` variant (checked exhaustive at compile time),
//! and hand-built graphs using them.
#![allow(dead_code)]

use infc_ir::{
    AttentionMasking, BinaryOp, ConvAttrs, DType, Dim, Epilogue, Float, Graph, Op, PoolAttrs,
    ReduceOp, Shape, Tensor, TensorType, UnaryOp, ValueId,
};

/// Every unary and binary op kind (the `named_ops!` lists).
pub const UNARY: &[UnaryOp] = UnaryOp::ALL;
pub const BINARY: &[BinaryOp] = BinaryOp::ALL;

pub const REDUCE: [ReduceOp; 5] = [
    ReduceOp::Mean,
    ReduceOp::Sum,
    ReduceOp::Max,
    ReduceOp::Min,
    ReduceOp::Prod,
];

/// Position of each enum member in the lists above / in `sample_ops`.
pub fn unary_index(u: UnaryOp) -> usize {
    UNARY.iter().position(|&k| k == u).expect("in ALL")
}

pub fn binary_index(b: BinaryOp) -> usize {
    BINARY.iter().position(|&k| k == b).expect("in ALL")
}

pub fn reduce_index(r: ReduceOp) -> usize {
    match r {
        ReduceOp::Mean => 0,
        ReduceOp::Sum => 1,
        ReduceOp::Max => 2,
        ReduceOp::Min => 3,
        ReduceOp::Prod => 4,
    }
}

pub const EPILOGUE: [Epilogue; 5] = [
    Epilogue::Bias,
    Epilogue::Residual,
    Epilogue::Relu,
    Epilogue::GeluErf,
    Epilogue::GeluTanh,
];

pub fn epilogue_index(e: Epilogue) -> usize {
    match e {
        Epilogue::Bias => 0,
        Epilogue::Residual => 1,
        Epilogue::Relu => 2,
        Epilogue::GeluErf => 3,
        Epilogue::GeluTanh => 4,
    }
}

pub const OP_VARIANTS: usize = 43;

/// Index of the `Op` variant (ignoring payload).
pub fn variant_index(op: &Op) -> usize {
    match op {
        Op::Unary(_) => 0,
        Op::Binary(_) => 1,
        Op::Where => 2,
        Op::Cast { .. } => 3,
        Op::Clip => 4,
        Op::Identity => 5,
        Op::Dropout => 6,
        Op::Conv(_) => 7,
        Op::BatchNorm { .. } => 8,
        Op::MaxPool(_) => 9,
        Op::AveragePool { .. } => 10,
        Op::GlobalAveragePool => 11,
        Op::Gemm { .. } => 12,
        Op::MatMul => 13,
        Op::Softmax { .. } => 14,
        Op::LayerNorm { .. } => 15,
        Op::Reduce { .. } => 16,
        Op::Reshape { .. } => 17,
        Op::Flatten { .. } => 18,
        Op::Transpose { .. } => 19,
        Op::Concat { .. } => 20,
        Op::Split { .. } => 21,
        Op::Slice => 22,
        Op::Gather { .. } => 23,
        Op::GatherND { .. } => 24,
        Op::Unsqueeze { .. } => 25,
        Op::Squeeze { .. } => 26,
        Op::Shape { .. } => 27,
        Op::Range => 28,
        Op::Expand => 29,
        Op::ConstantOfShape { .. } => 30,
        Op::Trilu { .. } => 31,
        Op::Gelu { .. } => 32,
        Op::FusedConv { .. } => 33,
        Op::FusedMatMul { .. } => 34,
        Op::SkipLayerNorm { .. } => 35,
        Op::Attention { .. } => 36,
        Op::Reorder { .. } => 37,
        Op::NchwcConv { .. } => 38,
        Op::NchwcMaxPool(_) => 39,
        Op::GatherElements { .. } => 40,
        Op::CumSum { .. } => 41,
        Op::RmsNorm { .. } => 42,
    }
}

fn pool_attrs(ceil_mode: bool) -> PoolAttrs {
    PoolAttrs {
        kernel: vec![3, 3],
        strides: vec![2, 2],
        pads: vec![1, 1, 0, 0],
        dilations: vec![1, 2],
        ceil_mode,
    }
}

/// At least one sample of every op, every unary/binary/reduce kind, with awkward attribute values
/// (negative axes, `none`, tiny and non-finite floats).
pub fn sample_ops() -> Vec<Op> {
    let mut ops: Vec<Op> = UNARY.iter().map(|&u| Op::Unary(u)).collect();
    ops.extend(BINARY.iter().map(|&b| Op::Binary(b)));
    ops.extend(REDUCE.iter().map(|&op| Op::Reduce {
        op,
        axes: Some(vec![-1, 0]),
        keepdims: true,
    }));
    ops.extend([
        Op::Reduce {
            op: ReduceOp::Mean,
            axes: None,
            keepdims: false,
        },
        Op::Reduce {
            op: ReduceOp::Sum,
            axes: Some(vec![]),
            keepdims: false,
        },
        Op::Where,
        Op::Cast { to: DType::F16 },
        Op::Cast { to: DType::Bool },
        Op::Clip,
        Op::Identity,
        Op::Dropout,
        Op::Conv(ConvAttrs {
            kernel: vec![3, 3],
            strides: vec![1, 2],
            pads: vec![1, 1, 1, 0],
            dilations: vec![1, 1],
            group: 4,
        }),
        Op::Conv(ConvAttrs {
            kernel: vec![5],
            strides: vec![1],
            pads: vec![2, 2],
            dilations: vec![3],
            group: 1,
        }),
        Op::BatchNorm {
            epsilon: Float::new(1e-5),
        },
        Op::MaxPool(pool_attrs(true)),
        Op::AveragePool {
            attrs: pool_attrs(false),
            count_include_pad: true,
        },
        Op::GlobalAveragePool,
        Op::Gemm {
            alpha: Float::new(0.5),
            beta: Float::new(-1.25e-7),
            trans_a: true,
            trans_b: false,
        },
        Op::MatMul,
        Op::Softmax { axis: -1 },
        Op::LayerNorm {
            axis: -2,
            epsilon: Float::new(1e-5),
        },
        Op::Reshape { allowzero: true },
        Op::Flatten { axis: 0 },
        Op::Transpose {
            perm: vec![0, 2, 1, 3],
        },
        Op::Concat { axis: -3 },
        Op::Split {
            axis: 1,
            splits: vec![2, 3, 1],
        },
        Op::Slice,
        Op::Gather { axis: -1 },
        Op::GatherND { batch_dims: 1 },
        Op::GatherElements { axis: -1 },
        Op::CumSum {
            exclusive: true,
            reverse: false,
        },
        Op::Unsqueeze { axes: vec![0, -1] },
        Op::Squeeze { axes: None },
        Op::Squeeze {
            axes: Some(vec![1]),
        },
        Op::Shape {
            start: 1,
            end: None,
        },
        Op::Shape {
            start: -2,
            end: Some(-1),
        },
        Op::Range,
        Op::Expand,
        Op::ConstantOfShape {
            dtype: DType::I64,
            value_bits: (-7.5f64).to_bits(),
        },
        Op::ConstantOfShape {
            dtype: DType::F32,
            value_bits: f64::NEG_INFINITY.to_bits(),
        },
        Op::ConstantOfShape {
            dtype: DType::F16,
            value_bits: (-0.0f64).to_bits(),
        },
        Op::Trilu { upper: false },
        Op::Gemm {
            alpha: Float::new(f32::INFINITY),
            beta: Float::new(f32::MIN_POSITIVE),
            trans_a: false,
            trans_b: true,
        },
        Op::BatchNorm {
            epsilon: Float::new(f32::NAN),
        },
        Op::Gelu { tanh: false },
        Op::Gelu { tanh: true },
        Op::FusedConv {
            attrs: ConvAttrs {
                kernel: vec![1, 1],
                strides: vec![2, 2],
                pads: vec![0; 4],
                dilations: vec![1, 1],
                group: 1,
            },
            epilogue: vec![Epilogue::Bias, Epilogue::Residual, Epilogue::Relu],
        },
        Op::FusedConv {
            attrs: ConvAttrs {
                kernel: vec![3],
                strides: vec![1],
                pads: vec![1, 1],
                dilations: vec![1],
                group: 2,
            },
            epilogue: vec![],
        },
        Op::FusedMatMul {
            epilogue: vec![Epilogue::Bias, Epilogue::GeluErf],
            trans_a: false,
            trans_b: false,
        },
        Op::FusedMatMul {
            epilogue: vec![Epilogue::GeluTanh, Epilogue::Residual],
            trans_a: false,
            trans_b: true,
        },
        Op::FusedMatMul {
            epilogue: vec![],
            trans_a: true,
            trans_b: false,
        },
        Op::SkipLayerNorm {
            epsilon: Float::new(1e-12),
        },
        Op::RmsNorm {
            epsilon: Float::new(1e-6),
        },
        Op::Attention {
            num_heads: 12,
            scale: Float::new(0.125),
            causal: true,
            masking: AttentionMasking::default(),
        },
        Op::Attention {
            num_heads: 1,
            scale: Float::new(0.35355338),
            causal: false,
            masking: AttentionMasking::default(),
        },
        Op::Attention {
            num_heads: 2,
            scale: Float::new(0.5),
            causal: true,
            masking: AttentionMasking {
                hidden_fill: Float::new(f32::NEG_INFINITY),
                mask_hidden: true,
                zero_nan_rows: true,
            },
        },
        Op::Reorder {
            to_blocked: true,
            block: 16,
            channels: 3,
        },
        Op::Reorder {
            to_blocked: false,
            block: 8,
            channels: 2048,
        },
        Op::NchwcConv {
            attrs: ConvAttrs {
                kernel: vec![7, 7],
                strides: vec![2, 2],
                pads: vec![3; 4],
                dilations: vec![1, 1],
                group: 1,
            },
            epilogue: vec![Epilogue::Bias, Epilogue::Residual, Epilogue::Relu],
            block: 16,
        },
        Op::NchwcMaxPool(pool_attrs(false)),
    ]);
    ops
}

/// A type cycling through dtypes and shape styles (known, symbolic, quoted symbolic, scalar).
pub fn sample_type(k: usize) -> TensorType {
    let dtype = DType::ALL[k % DType::ALL.len()];
    let shape = match k % 5 {
        0 => Shape::known(&[2, 3]),
        1 => Shape(vec![Dim::sym("batch"), Dim::Known(4), Dim::sym("sequence")]),
        2 => Shape(vec![
            Dim::sym("batch size"),
            Dim::sym("unk__0"),
            Dim::sym("s0+1"),
        ]),
        3 => Shape::known(&[]),
        _ => Shape(vec![
            Dim::Known(1),
            Dim::sym("N"),
            Dim::Known(7),
            Dim::Known(7),
        ]),
    };
    TensorType::new(dtype, shape)
}

/// Graph with one node per sample op, wired to earlier values; types are arbitrary (the text
/// format does not check them) and cycle through every dtype.
pub fn every_op_graph() -> Graph {
    let mut g = Graph::new("every op");
    let x = g.add_input(
        "x",
        TensorType::new(
            DType::F32,
            vec![
                Dim::sym("batch"),
                Dim::Known(3),
                Dim::Known(8),
                Dim::Known(8),
            ],
        ),
    );
    let ids = g.add_input(
        "input.1",
        TensorType::new(DType::I64, vec![Dim::sym("batch"), Dim::sym("sequence")]),
    );
    let odd = g.add_input("c0", TensorType::known(DType::Bool, &[]));
    let w = g.add_const(
        "conv.weight",
        Tensor::from_vec(
            vec![4, 3, 3, 3],
            (0..108).map(|i| i as f32 * 0.25).collect(),
        )
        .unwrap(),
    );
    let s = g.add_const("shape", Tensor::from_vec(vec![2], vec![1i64, -1]).unwrap());
    let mut pool: Vec<ValueId> = vec![x, ids, odd, w, s];
    for (k, op) in sample_ops().into_iter().enumerate() {
        let a = op.arity();
        let n_in = if a.max_inputs == usize::MAX {
            3
        } else {
            a.max_inputs
        };
        let inputs: Vec<ValueId> = (0..n_in)
            .map(|i| pool[(k * 7 + i * 3) % pool.len()])
            .collect();
        let outputs: Vec<ValueId> = (0..a.outputs)
            .map(|i| g.add_value(format!("v{k}_{i}"), sample_type(k + i)))
            .collect();
        let name = match k % 4 {
            0 => format!("/layer{k}/{}", op.name()),
            1 => format!("node \"{k}\" with\ttab\\slash #hash"),
            2 => String::new(),
            _ => format!("n{k}"),
        };
        pool.extend(&outputs);
        g.push_node(name, op, inputs, outputs);
    }
    let last = *pool.last().unwrap();
    g.outputs = vec![last, x, s];
    g.values[last].name = "logits".into();
    g
}

/// One constant of every dtype, small (printed inline) and large (printed by fingerprint).
pub fn every_dtype_consts_graph() -> Graph {
    let mut g = Graph::new("consts");
    let x = g.add_input("x", TensorType::known(DType::F32, &[1]));
    let consts = vec![
        Tensor::from_vec(
            vec![2, 3],
            vec![
                0.1f32,
                -0.0,
                f32::INFINITY,
                f32::MIN_POSITIVE,
                1e-45,
                -3.4028235e38,
            ],
        )
        .unwrap(),
        Tensor::from_vec(vec![], vec![f32::NEG_INFINITY]).unwrap(),
        Tensor::from_vec(
            vec![3],
            vec![
                half::f16::from_f32(0.1),
                half::f16::MAX,
                half::f16::from_f32(-6e-8),
            ],
        )
        .unwrap(),
        Tensor::from_vec(vec![4], vec![i64::MIN, -1, 0, i64::MAX]).unwrap(),
        Tensor::from_vec(vec![2], vec![i32::MIN, i32::MAX]).unwrap(),
        Tensor::from_vec(vec![3], vec![i8::MIN, 0, i8::MAX]).unwrap(),
        Tensor::from_vec(vec![2], vec![0u8, 255]).unwrap(),
        Tensor::from_bools(vec![2, 2], &[true, false, false, true]).unwrap(),
        Tensor::from_vec(vec![0], Vec::<f32>::new()).unwrap(),
        Tensor::from_vec(vec![16], (0..16).map(|i| i as f32 / 3.0).collect()).unwrap(),
        Tensor::from_vec(vec![17], (0..17).map(|i| i as f32 / 3.0).collect()).unwrap(),
        Tensor::from_vec(vec![64, 3, 7, 7], vec![0.5f32; 64 * 3 * 49]).unwrap(),
        Tensor::from_vec(vec![5, 5], vec![half::f16::ONE; 25]).unwrap(),
        Tensor::from_vec(vec![20], (0..20).collect::<Vec<i64>>()).unwrap(),
        Tensor::from_vec(vec![20], vec![7i32; 20]).unwrap(),
        Tensor::from_vec(vec![20], vec![-7i8; 20]).unwrap(),
        Tensor::from_vec(vec![20], vec![200u8; 20]).unwrap(),
        Tensor::from_bools(vec![20], &[true; 20]).unwrap(),
    ];
    let mut acc = x;
    for (i, t) in consts.into_iter().enumerate() {
        let c = g.add_const(format!("const/{i}"), t);
        let out = g.add_value(format!("o{i}"), TensorType::known(DType::F32, &[1]));
        g.push_node(
            format!("use{i}"),
            Op::Binary(BinaryOp::Add),
            vec![acc, c],
            vec![out],
        );
        acc = out;
    }
    g.add_const("unused", Tensor::scalar(1.0f32));
    g.outputs = vec![acc];
    g
}
