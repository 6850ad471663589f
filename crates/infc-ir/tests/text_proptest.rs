//! Property test: random small graphs (any op with random attributes, any dtype, odd names and
//! symbolic dims, small and large constants) print, parse back to the same ops, and print again
//! to the identical text.

mod common;

use common::{BINARY, EPILOGUE, REDUCE, UNARY};
use infc_ir::{
    parse_graph, print_graph, AttentionMasking, ConvAttrs, DType, Dim, Float, Graph, Op, PoolAttrs,
    Shape, Tensor, TensorType, ValueId,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::{BoxedStrategy, Union};

/// Names: mostly identifiers, sometimes anything (quotes, spaces, `#`, unicode, control chars).
fn name() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "[a-zA-Z_][a-zA-Z0-9_.]{0,8}",
        1 => "[0-9]{1,3}",
        1 => "c[0-9]{1,2}",
        2 => "[ a-z0-9\"\\\\#%,\\[\\]()=:\t\n\r\u{1}é]{0,8}",
        1 => any::<String>(),
    ]
    .boxed()
}

fn dim() -> BoxedStrategy<Dim> {
    prop_oneof![3 => (0usize..12).prop_map(Dim::Known), 1 => name().prop_map(|s| Dim::sym(&s))]
        .boxed()
}

fn tensor_type() -> BoxedStrategy<TensorType> {
    (select(DType::ALL.to_vec()), vec(dim(), 0..5))
        .prop_map(|(d, dims)| TensorType::new(d, Shape(dims)))
        .boxed()
}

fn finite_f32() -> BoxedStrategy<f32> {
    any::<f32>()
        .prop_filter("NaN payloads do not survive text", |f| !f.is_nan())
        .boxed()
}

fn float() -> BoxedStrategy<Float> {
    finite_f32().prop_map(Float::new).boxed()
}

fn uvec(n: std::ops::Range<usize>) -> BoxedStrategy<Vec<usize>> {
    vec(0usize..9, n).boxed()
}

fn ivec() -> BoxedStrategy<Vec<i64>> {
    vec(-6i64..6, 0..5).boxed()
}

fn conv_attrs() -> BoxedStrategy<ConvAttrs> {
    (uvec(0..4), uvec(0..4), uvec(0..8), uvec(0..4), 0usize..5)
        .prop_map(|(kernel, strides, pads, dilations, group)| ConvAttrs {
            kernel,
            strides,
            pads,
            dilations,
            group,
        })
        .boxed()
}

fn pool_attrs() -> BoxedStrategy<PoolAttrs> {
    (
        uvec(0..4),
        uvec(0..4),
        uvec(0..8),
        uvec(0..4),
        any::<bool>(),
    )
        .prop_map(|(kernel, strides, pads, dilations, ceil_mode)| PoolAttrs {
            kernel,
            strides,
            pads,
            dilations,
            ceil_mode,
        })
        .boxed()
}

/// Any op with arbitrary attributes.
fn op() -> BoxedStrategy<Op> {
    let axis = -5i64..5;
    let epilogue = || vec(select(EPILOGUE.to_vec()), 0..4);
    let arms: Vec<BoxedStrategy<Op>> = vec![
        select(UNARY.to_vec()).prop_map(Op::Unary).boxed(),
        select(BINARY.to_vec()).prop_map(Op::Binary).boxed(),
        Just(Op::Where).boxed(),
        select(DType::ALL.to_vec())
            .prop_map(|to| Op::Cast { to })
            .boxed(),
        Just(Op::Clip).boxed(),
        Just(Op::Identity).boxed(),
        Just(Op::Dropout).boxed(),
        conv_attrs().prop_map(Op::Conv).boxed(),
        float()
            .prop_map(|epsilon| Op::BatchNorm { epsilon })
            .boxed(),
        pool_attrs().prop_map(Op::MaxPool).boxed(),
        (pool_attrs(), any::<bool>())
            .prop_map(|(attrs, count_include_pad)| Op::AveragePool {
                attrs,
                count_include_pad,
            })
            .boxed(),
        Just(Op::GlobalAveragePool).boxed(),
        (float(), float(), any::<bool>(), any::<bool>())
            .prop_map(|(alpha, beta, trans_a, trans_b)| Op::Gemm {
                alpha,
                beta,
                trans_a,
                trans_b,
            })
            .boxed(),
        Just(Op::MatMul).boxed(),
        axis.clone().prop_map(|axis| Op::Softmax { axis }).boxed(),
        (axis.clone(), float())
            .prop_map(|(axis, epsilon)| Op::LayerNorm { axis, epsilon })
            .boxed(),
        (
            select(REDUCE.to_vec()),
            proptest::option::of(ivec()),
            any::<bool>(),
        )
            .prop_map(|(op, axes, keepdims)| Op::Reduce { op, axes, keepdims })
            .boxed(),
        any::<bool>()
            .prop_map(|allowzero| Op::Reshape { allowzero })
            .boxed(),
        axis.clone().prop_map(|axis| Op::Flatten { axis }).boxed(),
        uvec(0..5).prop_map(|perm| Op::Transpose { perm }).boxed(),
        axis.clone().prop_map(|axis| Op::Concat { axis }).boxed(),
        (axis.clone(), uvec(1..4))
            .prop_map(|(axis, splits)| Op::Split { axis, splits })
            .boxed(),
        Just(Op::Slice).boxed(),
        axis.clone().prop_map(|axis| Op::Gather { axis }).boxed(),
        (0usize..3)
            .prop_map(|batch_dims| Op::GatherND { batch_dims })
            .boxed(),
        axis.clone()
            .prop_map(|axis| Op::GatherElements { axis })
            .boxed(),
        (any::<bool>(), any::<bool>())
            .prop_map(|(exclusive, reverse)| Op::CumSum { exclusive, reverse })
            .boxed(),
        ivec().prop_map(|axes| Op::Unsqueeze { axes }).boxed(),
        proptest::option::of(ivec())
            .prop_map(|axes| Op::Squeeze { axes })
            .boxed(),
        (axis.clone(), proptest::option::of(axis.clone()))
            .prop_map(|(start, end)| Op::Shape { start, end })
            .boxed(),
        Just(Op::Range).boxed(),
        Just(Op::Expand).boxed(),
        (
            select(DType::ALL.to_vec()),
            any::<f64>().prop_filter("no NaN", |v| !v.is_nan()),
        )
            .prop_map(|(dtype, v)| Op::ConstantOfShape {
                dtype,
                value_bits: v.to_bits(),
            })
            .boxed(),
        any::<bool>().prop_map(|upper| Op::Trilu { upper }).boxed(),
        any::<bool>().prop_map(|tanh| Op::Gelu { tanh }).boxed(),
        (conv_attrs(), epilogue())
            .prop_map(|(attrs, epilogue)| Op::FusedConv { attrs, epilogue })
            .boxed(),
        (epilogue(), any::<bool>(), any::<bool>())
            .prop_map(|(epilogue, trans_a, trans_b)| Op::FusedMatMul {
                epilogue,
                trans_a,
                trans_b,
            })
            .boxed(),
        float()
            .prop_map(|epsilon| Op::SkipLayerNorm { epsilon })
            .boxed(),
        float().prop_map(|epsilon| Op::RmsNorm { epsilon }).boxed(),
        (
            (0usize..64, float(), any::<bool>()),
            (float(), any::<bool>(), any::<bool>()),
        )
            .prop_map(
                |((num_heads, scale, causal), (hidden_fill, mask_hidden, zero_nan_rows))| {
                    Op::Attention {
                        num_heads,
                        scale,
                        causal,
                        masking: AttentionMasking {
                            hidden_fill,
                            mask_hidden,
                            zero_nan_rows,
                        },
                    }
                },
            )
            .boxed(),
        (any::<bool>(), 1usize..64, 1usize..4096)
            .prop_map(|(to_blocked, block, channels)| Op::Reorder {
                to_blocked,
                block,
                channels,
            })
            .boxed(),
        (conv_attrs(), epilogue(), 1usize..64)
            .prop_map(|(attrs, epilogue, block)| Op::NchwcConv {
                attrs,
                epilogue,
                block,
            })
            .boxed(),
    ];
    Union::new(arms).boxed()
}

/// A constant of any dtype: usually small (printed inline), sometimes large (by fingerprint).
fn tensor() -> BoxedStrategy<Tensor> {
    let shape = prop_oneof![3 => vec(0usize..4, 0..3), 1 => vec(3usize..9, 2..3)];
    (select(DType::ALL.to_vec()), shape, any::<u64>())
        .prop_map(|(dtype, shape, seed)| {
            let n: usize = shape.iter().product();
            // Deterministic pseudo-random bytes from the seed (xorshift).
            let mut s = seed | 1;
            let mut bytes = Vec::with_capacity(n * dtype.size());
            for _ in 0..n * dtype.size() {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                bytes.push(s as u8);
            }
            if dtype == DType::Bool {
                bytes.iter_mut().for_each(|b| *b &= 1);
            }
            if dtype == DType::F32 || dtype == DType::F16 {
                // Keep NaN out: NaN payload bits do not survive text (NaN itself is covered elsewhere).
                let w = dtype.size();
                for chunk in bytes.chunks_mut(w) {
                    let top = chunk.len() - 1;
                    chunk[top] &= 0xbf;
                }
            }
            Tensor::from_bytes(dtype, shape, infc_ir::Bytes::from_vec(bytes))
                .expect("length matches")
        })
        .boxed()
}

#[derive(Debug, Clone)]
struct NodeSpec {
    op: Op,
    extra_inputs: usize,
    picks: Vec<usize>,
    types: Vec<TensorType>,
    name: String,
}

fn node_spec() -> BoxedStrategy<NodeSpec> {
    (
        op(),
        0usize..3,
        vec(any::<usize>(), 8),
        vec(tensor_type(), 4),
        name(),
    )
        .prop_map(|(op, extra_inputs, picks, types, name)| NodeSpec {
            op,
            extra_inputs,
            picks,
            types,
            name,
        })
        .boxed()
}

fn graph() -> BoxedStrategy<Graph> {
    (
        name(),
        vec((name(), tensor_type()), 1..4),
        vec((name(), tensor()), 0..4),
        vec(node_spec(), 0..8),
        vec(any::<usize>(), 0..4),
        vec(name(), 4),
    )
        .prop_map(|(gname, inputs, consts, nodes, outs, out_names)| {
            let mut g = Graph::new(gname);
            let mut pool: Vec<ValueId> = Vec::new();
            for (i, (n, ty)) in inputs.into_iter().enumerate() {
                // Graph input names must be unique.
                let n = if g.input_by_name(&n).is_some() {
                    format!("{n}_{i}")
                } else {
                    n
                };
                pool.push(g.add_input(n, ty));
            }
            for (n, t) in consts {
                pool.push(g.add_const(n, t));
            }
            for spec in nodes {
                let a = spec.op.arity();
                let n_in = (a.min_inputs + spec.extra_inputs).min(a.max_inputs);
                let inputs: Vec<ValueId> = (0..n_in)
                    .map(|i| pool[spec.picks[i % 8] % pool.len()])
                    .collect();
                let outputs: Vec<ValueId> = (0..a.outputs)
                    .map(|i| g.add_value(format!("v{}", g.values.len()), spec.types[i % 4].clone()))
                    .collect();
                pool.extend(&outputs);
                g.push_node(spec.name, spec.op, inputs, outputs);
            }
            for (k, pick) in outs.into_iter().enumerate() {
                let v = pool[pick % pool.len()];
                if !g.is_const(v) && !g.inputs.contains(&v) {
                    g.values[v].name = out_names[k].clone();
                }
                g.outputs.push(v);
            }
            g
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn print_parse_print_is_stable(g in graph()) {
        let text = print_graph(&g);
        let back = match parse_graph(&text) {
            Ok(b) => b,
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n{text}"))),
        };
        prop_assert_eq!(print_graph(&back), text.clone());
        prop_assert_eq!(back.nodes.len(), g.nodes.len());
        for (a, b) in g.nodes.iter().zip(&back.nodes) {
            prop_assert_eq!(&a.op, &b.op);
            prop_assert_eq!(&a.name, &b.name);
            for (&va, &vb) in a.outputs.iter().zip(&b.outputs) {
                prop_assert_eq!(g.ty(va), back.ty(vb));
            }
        }
        prop_assert_eq!(back.outputs.len(), g.outputs.len());
        prop_assert_eq!(&back.name, &g.name);
    }
}
