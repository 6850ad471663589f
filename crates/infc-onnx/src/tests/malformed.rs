//! Bad input never panics: each malformed model gives an error naming what is wrong.

use super::builder::*;
use crate::{import_bytes, import_file, ImportOptions};
use infc_ir::Bytes;
use prost::Message;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::{ModelProto, NodeProto, TensorProto};

fn err_of(bytes: Vec<u8>) -> String {
    match import_bytes(Bytes::from_vec(bytes), &ImportOptions::default()) {
        Ok(_) => "imported".into(),
        Err(e) => e.to_string(),
    }
}

fn relu_model() -> M {
    M::new(17)
        .f32_in("x", &["2"])
        .init(tensor_f32("w", &[2], &[1.0, 2.0]))
        .node("Add", &["x", "w"], &["y"], vec![])
        .output("y")
}

#[test]
fn truncated_file() {
    let bytes = relu_model().bytes();
    insta::assert_snapshot!(err_of(bytes[..bytes.len() - 7].to_vec()), @r#"not a valid ONNX model: ModelProto: length-delimited field 7 of 71 bytes runs past the end of its message"#);
}

#[test]
fn random_bytes() {
    // xorshift, fixed seed: deterministic "random" garbage.
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as u8
        })
        .collect();
    insta::assert_snapshot!(err_of(bytes), @r#"not a valid ONNX model: ModelProto: unsupported wire type 7 for field 708337321"#);
    insta::assert_snapshot!(err_of(b"this is not an onnx file at all".to_vec()), @r#"not a valid ONNX model: ModelProto: unsupported wire type 4 for field 14"#);
    insta::assert_snapshot!(err_of(vec![]), @r#"invalid model: the model has no graph"#);
}

#[test]
fn every_prefix_of_a_model_fails_cleanly() {
    let bytes = relu_model().bytes();
    for n in 0..bytes.len() {
        let _ = import_bytes(
            Bytes::from_vec(bytes[..n].to_vec()),
            &ImportOptions::default(),
        );
    }
}

#[test]
fn missing_initializer() {
    let m = M::new(17)
        .f32_in("x", &["2"])
        .node("Add", &["x", "w"], &["y"], vec![])
        .output("y");
    insta::assert_snapshot!(m.summary(), @r#"error: node 'Add_0' (Add): reads 'w', which no node, graph input or initializer defines"#);
}

#[test]
fn wrong_raw_data_length() {
    let mut w = tensor_f32("w", &[3], &[1.0, 2.0]);
    w.dims = vec![3];
    let m = M::new(17)
        .f32_in("x", &["3"])
        .init(w)
        .node("Add", &["x", "w"], &["y"], vec![])
        .output("y");
    insta::assert_snapshot!(m.summary(), @r#"error: tensor 'w': raw_data has 8 bytes, f32[3] needs 12"#);
}

/// Issue 19, row 15: a LayerNormalization scale of 7 elements for a last dim of 3 was accepted.
#[test]
fn layernorm_scale_that_does_not_fit_is_named() {
    let m = M::new(17)
        .f32_in("x", &["2", "3"])
        .init(tensor_f32("s", &[7], &[1.0; 7]))
        .node(
            "LayerNormalization",
            &["x", "s"],
            &["y"],
            vec![ai("axis", -1)],
        )
        .output("y");
    insta::assert_snapshot!(m.summary(), @"error: shape inference: node 'LayerNormalization_0' (LayerNormalization): parameter 1 f32[7] does not broadcast to the normalised part of f32[2,3] (axis -1)");
}

#[test]
fn bad_attribute_type() {
    let m = M::new(17)
        .f32_in("x", &["2", "3"])
        .node("Softmax", &["x"], &["y"], vec![af("axis", 1.0)])
        .output("y");
    insta::assert_snapshot!(m.summary(), @r#"error: node 'Softmax_0' (Softmax): attribute 'axis' must be INT, got FLOAT"#);
}

#[test]
fn unsupported_dtypes_name_the_tensor() {
    let bf = TensorProto {
        name: "w_bf16".into(),
        dims: vec![2],
        data_type: DataType::Bfloat16 as i32,
        raw_data: vec![0; 4],
        ..Default::default()
    };
    let m = M::new(17)
        .f32_in("x", &["2"])
        .init(bf)
        .node("Add", &["x", "w_bf16"], &["y"], vec![])
        .output("y");
    insta::assert_snapshot!(m.summary(), @r#"error: tensor 'w_bf16': unsupported data type BFLOAT16"#);
    let st = TensorProto {
        name: "names".into(),
        dims: vec![1],
        data_type: DataType::String as i32,
        string_data: vec![b"a".to_vec()],
        ..Default::default()
    };
    let m = M::new(17)
        .f32_in("x", &["2"])
        .init(st)
        .node("Relu", &["x"], &["y"], vec![])
        .output("y");
    insta::assert_snapshot!(m.summary(), @r#"error: tensor 'names': unsupported data type STRING"#);
    let m = M::new(17)
        .input("x", DataType::Double, &["2"])
        .node("Relu", &["x"], &["y"], vec![])
        .output("y");
    insta::assert_snapshot!(m.summary(), @r#"error: graph input 'x': unsupported data type DOUBLE"#);
}

#[test]
fn unsupported_ops_are_reported_together() {
    let mut m = M::new(17)
        .f32_in("x", &["2"])
        .node("Relu", &["x"], &["a"], vec![])
        .node("Hardmax", &["a"], &["b"], vec![])
        .node("Det", &["b"], &["c"], vec![])
        .output("c");
    m.graph.node.push(NodeProto {
        op_type: "Custom".into(),
        domain: "com.example".into(),
        input: vec!["c".into()],
        output: vec!["d".into()],
        ..Default::default()
    });
    insta::assert_snapshot!(m.summary(), @r#"
error: 3 unsupported ONNX op(s):
  Hardmax (node 'Hardmax_1', domain ai.onnx, opset 17)
  Det (node 'Det_2', domain ai.onnx, opset 17)
  Custom (node 'Custom_3', domain com.example, opset not imported)
"#);
}

#[test]
fn shape_contradictions_name_the_node() {
    let m = M::new(17)
        .f32_in("x", &["2", "3"])
        .init(tensor_f32("w", &[4, 5], &[0.0; 20]))
        .node("MatMul", &["x", "w"], &["y"], vec![])
        .output("y");
    insta::assert_snapshot!(m.summary(), @r#"error: shape inference: node 'MatMul_0' (MatMul): inner dims differ: f32[2,3] × f32[4,5]"#);
    let m = M::new(17)
        .f32_in("x", &["2", "3"])
        .ints("s", &[4, 2])
        .node("Reshape", &["x", "s"], &["y"], vec![])
        .output("y");
    insta::assert_snapshot!(m.summary(), @r#"error: shape inference: node 'Reshape_0' (Reshape): cannot reshape f32[2,3] to [4, 2]: element counts differ"#);
}

#[test]
fn structural_errors() {
    let m = M::new(17)
        .f32_in("x", &["2"])
        .node("Relu", &["x"], &["y"], vec![])
        .output("nope");
    insta::assert_snapshot!(m.summary(), @r#"error: invalid model: graph output 'nope' is not produced by any node, input or initializer"#);
    let m = M::new(17)
        .f32_in("x", &["2"])
        .node("Add", &["x", "b"], &["a"], vec![])
        .node("Relu", &["a"], &["b"], vec![])
        .output("b");
    insta::assert_snapshot!(m.summary(), @r#"error: invalid model: the graph has a cycle through node 'Add_0'"#);
    let mut m = M::new(17).node("Relu", &["x"], &["y"], vec![]).output("y");
    m.graph.input.push(tract_onnx::pb::ValueInfoProto {
        name: "x".into(),
        ..Default::default()
    });
    insta::assert_snapshot!(m.summary(), @r#"error: graph input 'x': is not a tensor (or has no type)"#);
    let no_graph = ModelProto {
        ir_version: 8,
        ..Default::default()
    }
    .encode_to_vec();
    insta::assert_snapshot!(err_of(no_graph), @r#"invalid model: the model has no graph"#);
}

#[test]
fn missing_model_file() {
    let e = import_file(
        std::path::Path::new("/nonexistent/model.onnx"),
        &ImportOptions::default(),
    )
    .unwrap_err();
    insta::assert_snapshot!(e.to_string(), @r#"cannot read '/nonexistent/model.onnx': No such file or directory (os error 2)"#);
}
