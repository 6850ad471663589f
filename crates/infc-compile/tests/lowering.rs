//! Lowering and memory-planning behaviour: aliases cost no step, in-place reuse, the memory report,
//! and error messages for graphs that cannot be compiled.

mod common;

use common::{check, check_with, f32_input, B};
use infc_compile::{compile, CompileOptions};
use infc_ir::{BinaryOp, ConvAttrs, DType, Dim, Op, Realize, Shape, TensorType, UnaryOp};
use infc_plan::Step;

#[test]
fn reshape_family_is_free() {
    let mut b = B::new();
    let x = b.input("x", DType::F32, &[2, 3, 4]);
    let shape = b.i64c(&[2], vec![6, 4]);
    let r = b.one(Op::Reshape { allowzero: false }, &[x, shape]);
    let i = b.one(Op::Identity, &[r]);
    let u = b.one(Op::Unsqueeze { axes: vec![0] }, &[i]);
    let s = b.one(
        Op::Squeeze {
            axes: Some(vec![0]),
        },
        &[u],
    );
    let f = b.one(Op::Flatten { axis: 1 }, &[s]);
    let d = b.one(Op::Dropout, &[f]);
    let y = b.one(Op::Unary(UnaryOp::Exp), &[d]);
    b.output(d);
    b.output(y);
    let plan = check(&b.g, &[f32_input(&[2, 3, 4], 1)]);
    assert_eq!(plan.body.steps.len(), 1, "only Exp emits a step");
    // The aliased output lives in the input's buffer.
    assert_eq!(plan.body.outputs[0].at, plan.body.inputs[0].at);
}

fn unary_chain(opts: &CompileOptions) -> infc_compile::Plan {
    let mut b = B::new();
    let x = b.input("x", DType::F32, &[64, 64]);
    let a = b.one(Op::Unary(UnaryOp::Relu), &[x]);
    let c = b.one(Op::Unary(UnaryOp::Exp), &[a]);
    let one = b.f32v(&[64], vec![1.0; 64]);
    let d = b.one(Op::Binary(BinaryOp::Add), &[c, one]);
    let e = b.one(Op::Unary(UnaryOp::Log), &[d]);
    b.output(e);
    check_with(&b.g, &[f32_input(&[64, 64], 2)], opts)
}

#[test]
fn elementwise_chains_run_in_place() {
    let plan = unary_chain(&CompileOptions::default());
    let bytes = 64 * 64 * 4;
    let mem = &plan.body.memory;
    assert_eq!(mem.arena_bytes, bytes, "{mem}");
    assert_eq!(mem.lower_bound_bytes, bytes);
    assert_eq!(mem.entries.len(), 1);
    for s in &plan.body.steps {
        match s {
            Step::Unary(u) => assert_eq!(u.x, u.y),
            Step::Binary(bs) => assert_eq!(bs.a, bs.y),
            other => panic!("unexpected {other:?}"),
        }
    }
    let no_reuse = unary_chain(&CompileOptions {
        in_place: false,
        ..CompileOptions::default()
    });
    let m2 = &no_reuse.body.memory;
    assert_eq!(m2.arena_bytes, 2 * bytes, "{m2}");
    assert_eq!(m2.intermediates_bytes, 5 * bytes);
    assert_eq!(m2.lower_bound_bytes, 2 * bytes);
}

#[test]
fn live_buffers_never_share_bytes() {
    let mut b = B::new();
    let x = b.input("x", DType::F32, &[1, 4, 8, 8]);
    let mut cur = x;
    let mut skips = Vec::new();
    for i in 0..6 {
        let w = b.f32c(&[4, 4, 3, 3], i);
        let attrs = ConvAttrs {
            kernel: vec![3, 3],
            strides: vec![1, 1],
            pads: vec![1; 4],
            dilations: vec![1, 1],
            group: 1,
        };
        let c = b.one(Op::Conv(attrs), &[cur, w]);
        skips.push(c);
        cur = if i % 2 == 1 {
            b.one(Op::Binary(BinaryOp::Add), &[c, skips[i as usize - 1]])
        } else {
            c
        };
    }
    b.output(cur);
    let plan = check(&b.g, &[f32_input(&[1, 4, 8, 8], 3)]);
    let mem = &plan.body.memory;
    assert!(
        mem.arena_bytes >= mem.lower_bound_bytes && mem.arena_bytes <= mem.intermediates_bytes,
        "{mem}"
    );
    for (i, p) in mem.entries.iter().enumerate() {
        for q in &mem.entries[..i] {
            let live = p.first_step <= q.last_step && q.first_step <= p.last_step;
            let overlap = p.offset < q.offset + q.size && q.offset < p.offset + p.size;
            assert!(
                !(live && overlap),
                "{} and {} overlap while both live\n{mem}",
                p.name,
                q.name
            );
        }
    }
    let text = mem.to_string();
    assert!(text.starts_with(&format!(
        "arena_bytes {}\nintermediates_bytes",
        mem.arena_bytes
    )));
}

#[test]
fn symbolic_dims_are_named() {
    let mut b = B::new();
    let x = b.g.add_input(
        "x",
        TensorType::new(DType::F32, Shape(vec![Dim::sym("batch"), Dim::Known(4)])),
    );
    let y = b.one(Op::Unary(UnaryOp::Relu), &[x]);
    b.output(y);
    let err = compile(&b.g, &CompileOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "value 'x' has symbolic dimension 'batch' in f32[batch,4]: bind it (--shape) and fold constants before compiling"
    );
}

/// A zero dim empties a tensor but does not make its other dims fit a plan: compile names the value
/// (the plan validator would refuse the step, which would surface as an internal error).
#[test]
fn a_zero_dim_does_not_hide_a_huge_one() {
    let mut b = B::new();
    let x = b.input("x", DType::F32, &[0, 1 << 45]);
    let y = b.one(Op::Unary(UnaryOp::Relu), &[x]);
    b.output(y);
    let err = compile(&b.g, &CompileOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("value 'x'") && err.contains("exceeds"),
        "{err}"
    );
    assert!(!err.contains("internal error"), "{err}");
}

#[test]
fn unsupported_ops_are_named() {
    let mut b = B::new();
    let x = b.input("x", DType::F32, &[1, 2, 4, 4, 4]);
    let w = b.f32c(&[2, 2, 1, 1, 1], 1);
    let attrs = ConvAttrs {
        kernel: vec![1, 1, 1],
        strides: vec![1; 3],
        pads: vec![0; 6],
        dilations: vec![1; 3],
        group: 1,
    };
    let y = b.one(Op::Conv(attrs), &[x, w]);
    b.output(y);
    let err = compile(&b.g, &CompileOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("(Conv): 3-D convolution (1-D and 2-D are supported)"),
        "{err}"
    );

    let mut b = B::new();
    let x = b.input("x", DType::U8, &[4]);
    let y = b.one(Op::Binary(BinaryOp::Add), &[x, x]);
    b.output(y);
    let err = compile(&b.g, &CompileOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.ends_with("(Add): Add on u8 and u8 tensors"), "{err}");
}

#[test]
fn constant_weights_are_packed_and_64_byte_aligned() {
    let mut b = B::new();
    let x = b.input("x", DType::F32, &[3, 5]);
    let w = b.f32c(&[5, 7], 1);
    let y = b.one(Op::MatMul, &[x, w]);
    b.output(y);
    let plan = check(&b.g, &[f32_input(&[3, 5], 4)]);
    let Step::MatMul(m) = &plan.body.steps[0] else {
        panic!("expected a MatMul")
    };
    let infc_plan::MatB::Packed(p) = &m.b else {
        panic!("B should be packed")
    };
    assert_eq!(p.offset % 64, 0);
    assert_eq!(p.bytes as usize, infc_kernels::packed_b_len(5, 7) * 4);
}

/// A fused QKV projection `[2, 5, 3·8]` split along its last axis for attention, marked `@view`
/// as pass `mark-qkv-views` marks it: the Split emits no step (q/k/v are strided views of the
/// projection). When one of its outputs has a reader other than attention the mark is not legal
/// (the pass leaves it off and the split is materialised; a graph that carries it anyway is an
/// error naming the Split).
#[test]
fn qkv_split_for_attention_is_a_view() {
    for tapped in [false, true] {
        let mut b = B::new();
        let x = b.input("x", DType::F32, &[2, 5, 8]);
        let w = b.f32c(&[8, 24], 3);
        let qkv = b.one(Op::MatMul, &[x, w]);
        let parts = b.node(
            Op::Split {
                axis: 2,
                splits: vec![8, 8, 8],
            },
            &[qkv],
        );
        let attention = Op::Attention {
            num_heads: 2,
            scale: 0.5.into(),
            causal: true,
            masking: infc_ir::AttentionMasking::default(),
        };
        let y = b.one(attention, &[parts[0], parts[1], parts[2]]);
        b.output(y);
        if tapped {
            let t = b.one(Op::Unary(UnaryOp::Exp), &[parts[1]]);
            b.output(t);
        }
        let split = b.g.nodes.len() - if tapped { 3 } else { 2 };
        let legal = infc_ir::marks::view_split_columns(&b.g, &b.g.nodes[split], &b.g.uses());
        assert_eq!(legal.is_some(), !tapped);
        let mut forced = b.g.clone();
        forced.nodes[split].realize = Realize::View;
        if tapped {
            let e = compile(&forced, &CompileOptions::default()).unwrap_err();
            assert!(e.to_string().contains("@view"), "{e}");
        } else {
            b.g = forced;
        }
        let plan = check(&b.g, &[f32_input(&[2, 5, 8], 4)]);
        let attn = plan
            .body
            .steps
            .iter()
            .find_map(|s| match s {
                Step::Attention(a) => Some(a.clone()),
                _ => None,
            })
            .expect("an attention step");
        let copies = plan.body.steps.len() - if tapped { 3 } else { 2 };
        if tapped {
            assert_eq!(attn.qkv_row_strides, [8; 3]);
            assert!(copies > 0, "the split is materialised");
        } else {
            assert_eq!(attn.qkv_row_strides, [24; 3]);
            assert_eq!(copies, 0, "no step for the split: {:?}", plan.body.steps);
            assert_eq!(attn.k.offset, attn.q.offset + 8 * 4);
            assert_eq!(attn.v.offset, attn.q.offset + 16 * 4);
        }
    }
}
