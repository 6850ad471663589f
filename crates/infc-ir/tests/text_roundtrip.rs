//! Text IR round trips: print(parse(print(g))) == print(g) for every op variant and every dtype,
//! plus structural checks that parsing really recovers the graph.

mod common;

use common::*;
use infc_ir::{parse_graph, print_graph, DType, Graph, Op, Tensor, TensorData, TensorType};

fn round_trip(g: &Graph) -> Graph {
    let text = print_graph(g);
    let back = parse_graph(&text).unwrap_or_else(|e| panic!("{e}\n--- text ---\n{text}"));
    assert_eq!(print_graph(&back), text, "print(parse(print(g))) differs");
    back
}

#[test]
fn samples_cover_every_variant() {
    let ops = sample_ops();
    let mut seen = vec![false; OP_VARIANTS];
    let mut unary = vec![false; UNARY.len()];
    let mut binary = vec![false; BINARY.len()];
    let mut reduce = [false; REDUCE.len()];
    let mut epilogue = [false; EPILOGUE.len()];
    for op in &ops {
        seen[variant_index(op)] = true;
        match op {
            Op::Unary(u) => unary[unary_index(*u)] = true,
            Op::Binary(b) => binary[binary_index(*b)] = true,
            Op::Reduce { op, .. } => reduce[reduce_index(*op)] = true,
            Op::FusedConv { epilogue: e, .. } | Op::FusedMatMul { epilogue: e, .. } => {
                e.iter().for_each(|&s| epilogue[epilogue_index(s)] = true)
            }
            _ => {}
        }
    }
    assert!(seen.iter().all(|&s| s), "missing variants: {seen:?}");
    assert!(unary.iter().all(|&s| s) && binary.iter().all(|&s| s) && reduce.iter().all(|&s| s));
    assert!(epilogue.iter().all(|&s| s));
}

#[test]
fn every_op_round_trips_with_identical_ops_and_types() {
    let g = every_op_graph();
    let back = round_trip(&g);
    assert_eq!(back.nodes.len(), g.nodes.len());
    for (a, b) in g.nodes.iter().zip(&back.nodes) {
        assert_eq!(a.op, b.op, "op of node '{}'", a.name);
        assert_eq!(a.name, b.name);
        let ta: Vec<&TensorType> = a.outputs.iter().map(|&v| g.ty(v)).collect();
        let tb: Vec<&TensorType> = b.outputs.iter().map(|&v| back.ty(v)).collect();
        assert_eq!(ta, tb);
    }
    let names =
        |g: &Graph| -> Vec<String> { g.inputs.iter().map(|&v| g.value(v).name.clone()).collect() };
    assert_eq!(names(&back), vec!["x", "input.1", "c0"]);
    assert_eq!(back.value(back.outputs[0]).name, "logits");
    assert_eq!(back.name, "every op");
}

#[test]
fn every_dtype_constant_round_trips_bit_exactly() {
    let g = every_dtype_consts_graph();
    let back = round_trip(&g);
    assert_eq!(
        back.consts.len(),
        g.consts.len() - 1,
        "the unused constant is not printed"
    );
    for ((_, a), (_, b)) in g.consts.iter().zip(back.consts.iter()) {
        assert_eq!(a.name, b.name);
        assert_eq!(
            (a.tensor.dtype, &a.tensor.shape),
            (b.tensor.dtype, &b.tensor.shape)
        );
        if a.tensor.numel() <= infc_ir::text::INLINE_CONST_MAX {
            assert_eq!(
                a.tensor.bytes().unwrap(),
                b.tensor.bytes().unwrap(),
                "constant '{}'",
                a.name
            );
        } else {
            assert!(
                matches!(b.tensor.data, TensorData::Opaque { fingerprint } if fingerprint == a.tensor.fingerprint())
            );
        }
    }
    for dtype in DType::ALL {
        assert!(g.consts.iter().any(|(_, c)| c.tensor.dtype == dtype));
    }
}

#[test]
fn constants_print_inline_or_by_fingerprint() {
    let text = print_graph(&every_dtype_consts_graph());
    let consts: Vec<&str> = text.lines().filter(|l| l.contains("= const")).collect();
    insta::assert_snapshot!(consts.join("\n"), @r#"
        %c0 = const f32[2,3] [0.1, -0.0, inf, 1.1754944e-38, 1e-45, -3.4028235e38]  # "const/0"
        %c1 = const f32[] [-inf]  # "const/1"
        %c2 = const f16[3] [0.099975586, 65504.0, -5.9604645e-8]  # "const/2"
        %c3 = const i64[4] [-9223372036854775808, -1, 0, 9223372036854775807]  # "const/3"
        %c4 = const i32[2] [-2147483648, 2147483647]  # "const/4"
        %c5 = const i8[3] [-128, 0, 127]  # "const/5"
        %c6 = const u8[2] [0, 255]  # "const/6"
        %c7 = const bool[2,2] [true, false, false, true]  # "const/7"
        %c8 = const f32[0] []  # "const/8"
        %c9 = const f32[16] [0.0, 0.33333334, 0.6666667, 1.0, 1.3333334, 1.6666666, 2.0, 2.3333333, 2.6666667, 3.0, 3.3333333, 3.6666667, 4.0, 4.3333335, 4.6666665, 5.0]  # "const/9"
        %c10 = const f32[17] fp=0xa49ba2c826f00ef4  # "const/10"
        %c11 = const f32[64,3,7,7] fp=0x4d749bdf72f6b347  # "const/11"
        %c12 = const f16[5,5] fp=0xfdc3bd5b09813bc6  # "const/12"
        %c13 = const i64[20] fp=0x2c008a9a8e2c5892  # "const/13"
        %c14 = const i32[20] fp=0x0af51d3e005842d1  # "const/14"
        %c15 = const i8[20] fp=0xc3d74af83222d34c  # "const/15"
        %c16 = const u8[20] fp=0xad1fe2e25529d54c  # "const/16"
        %c17 = const bool[20] fp=0xee5b4ba7db73d4cd  # "const/17"
        "#);
}

#[test]
fn small_graph_text() {
    let text = "graph \"tiny\"(%x: f32[batch,3,8,8]) {\n  %c0 = const f32[4,3,3,3] fp=0x00000000000000ff  # \"conv.weight\"\n  %c1 = const i64[2] [1, -1]  # \"shape\"\n  %0 = Conv[kernel=[3,3], strides=[1,1], pads=[1,1,1,1], dilations=[1,1], group=1](%x, %c0) : f32[batch,4,8,8]  # \"/conv/Conv\"\n  %1 = Relu(%0) : f32[batch,4,8,8]  # \"/relu/Relu\"\n  %y = Reshape[allowzero=false](%1, %c1) : f32[1,256]  # \"/Reshape\"\n  return %y\n}\n";
    let g = parse_graph(text).unwrap();
    assert_eq!(print_graph(&g), text);
    assert_eq!(g.to_string(), text, "Display delegates to print_graph");
    assert_eq!(g.nodes[0].name, "/conv/Conv");
    assert!(g.const_of(g.nodes[0].inputs[1]).unwrap().is_opaque());
    assert_eq!(
        g.const_of(g.nodes[2].inputs[1])
            .unwrap()
            .to_i64_vec()
            .unwrap(),
        vec![1, -1]
    );
}

#[test]
fn comments_blank_lines_and_default_attributes_are_accepted() {
    let text = r#"
# a hand-written filetest
graph "g"(%x: f32[2,3,8,8], %"odd name": i64[2]) {   # header comment

  %w = const f32[3,1,3,3] fp=0x1          # depthwise weight, no source name
  # "only a source name on a line is a comment"
  %0 = Conv[kernel=[3,3], group=3](%x, %w) : f32[2,3,6,6]
  %1 = ReduceMean[axes=[-1]](%0) : f32[2,3,6,1]
  %2 = Gemm(%1, %1) : f32[2,2]
  %3, %4 = Split[splits=[1,1]](%2) : f32[1,2], f32[1,2]  # "split"   # trailing comment
  %5 = Shape(%"odd name") : i64[1]
  return %3, %4, %5
}
# done
"#;
    let g = parse_graph(text).unwrap();
    let conv = &g.nodes[0].op;
    assert_eq!(
        conv,
        &Op::Conv(infc_ir::ConvAttrs {
            kernel: vec![3, 3],
            strides: vec![1, 1],
            pads: vec![0, 0, 0, 0],
            dilations: vec![1, 1],
            group: 3
        })
    );
    assert_eq!(
        g.nodes[1].op,
        Op::Reduce {
            op: infc_ir::ReduceOp::Mean,
            axes: Some(vec![-1]),
            keepdims: true
        }
    );
    assert_eq!(g.nodes[3].name, "split");
    assert_eq!(g.value(g.inputs[1]).name, "odd name");
    insta::assert_snapshot!(print_graph(&g), @r#"
    graph "g"(%x: f32[2,3,8,8], %"odd name": i64[2]) {
      %c0 = const f32[3,1,3,3] fp=0x0000000000000001
      %0 = Conv[kernel=[3,3], strides=[1,1], pads=[0,0,0,0], dilations=[1,1], group=3](%x, %c0) : f32[2,3,6,6]
      %1 = ReduceMean[axes=[-1], keepdims=true](%0) : f32[2,3,6,1]
      %2 = Gemm[alpha=1.0, beta=1.0, trans_a=false, trans_b=false](%1, %1) : f32[2,2]
      %3, %4 = Split[axis=0, splits=[1,1]](%2) : f32[1,2], f32[1,2]  # "split"
      %5 = Shape[start=0, end=none](%"odd name") : i64[1]
      return %3, %4, %5
    }
    "#);
}

#[test]
fn values_are_renumbered_densely_in_definition_order() {
    let mut g = Graph::new("renumber");
    let x = g.add_input("x", TensorType::known(DType::F32, &[2]));
    // Allocate values out of order: arena order must not leak into the text.
    let late = g.add_value("late", TensorType::known(DType::F32, &[2]));
    let early = g.add_value("early", TensorType::known(DType::F32, &[2]));
    let k = g.add_const("k", Tensor::from_vec(vec![2], vec![1.0f32, 2.0]).unwrap());
    g.push_node(
        "a",
        Op::Binary(infc_ir::BinaryOp::Add),
        vec![x, k],
        vec![early],
    );
    g.push_node(
        "b",
        Op::Unary(infc_ir::UnaryOp::Neg),
        vec![early],
        vec![late],
    );
    g.outputs = vec![late];
    insta::assert_snapshot!(print_graph(&g), @r#"
    graph "renumber"(%x: f32[2]) {
      %c0 = const f32[2] [1.0, 2.0]  # "k"
      %0 = Add(%x, %c0) : f32[2]  # "a"
      %late = Neg(%0) : f32[2]  # "b"
      return %late
    }
    "#);
    round_trip(&g);
}

#[test]
fn graph_output_that_is_an_input_or_constant_round_trips() {
    let mut g = Graph::new("passthrough");
    let x = g.add_input("x", TensorType::known(DType::I8, &[3]));
    let k = g.add_const("k", Tensor::from_vec(vec![1], vec![5u8]).unwrap());
    g.outputs = vec![x, k, x];
    let back = round_trip(&g);
    assert_eq!(back.outputs.len(), 3);
    assert_eq!(back.outputs[0], back.outputs[2]);
    assert!(back.is_const(back.outputs[1]));
}

#[test]
fn clashing_source_names_fall_back_to_numbers() {
    let mut g = Graph::new("clash");
    let x = g.add_input("y", TensorType::known(DType::F32, &[1]));
    let y = g.add_value("y", TensorType::known(DType::F32, &[1]));
    g.push_node("r", Op::Unary(infc_ir::UnaryOp::Relu), vec![x], vec![y]);
    g.outputs = vec![y];
    let text = print_graph(&g);
    assert!(text.contains("%0 = Relu(%y)"), "{text}");
    round_trip(&g);
}

#[test]
fn broken_graph_still_prints() {
    let mut g = Graph::new("broken");
    let x = g.add_input("x", TensorType::known(DType::F32, &[1]));
    let later = g.add_value("later", TensorType::known(DType::F32, &[1]));
    let out = g.add_value("out", TensorType::known(DType::F32, &[1]));
    g.push_node(
        "uses-later",
        Op::Binary(infc_ir::BinaryOp::Add),
        vec![x, later],
        vec![out],
    );
    g.push_node("defines-later", Op::Identity, vec![x], vec![later]);
    g.outputs = vec![out];
    insta::assert_snapshot!(print_graph(&g), @r#"
    graph "broken"(%x: f32[1]) {
      %out = Add(%x, %0) : f32[1]  # "uses-later"
      %0 = Identity(%x) : f32[1]  # "defines-later"
      return %out
    }
    "#);
}
