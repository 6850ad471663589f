//! DOT and JSON exports: deterministic, snapshot-tested, and the JSON parses and agrees with the
//! graph.

use infc_ir::{parse_graph, to_dot, to_json, Graph};

fn sample() -> Graph {
    parse_graph(
        r#"graph "tiny \"net\""(%x: f32[batch,3,8,8]) {
  %c0 = const f32[4,3,3,3] fp=0x00000000000000ff  # "conv.weight"
  %c1 = const f32[4] [0.5, -1.0, 0.0, 2.0]  # "conv.bias"
  %c2 = const i64[2] [0, -1]  # "shape"
  %0 = Conv[kernel=[3,3], strides=[1,1], pads=[1,1,1,1], dilations=[1,1], group=1](%x, %c0, %c1) : f32[batch,4,8,8]  # "/conv/Conv"
  %1 = Relu(%0) : f32[batch,4,8,8]  # "/relu/Relu"
  %2 = Reshape[allowzero=false](%1, %c2) : f32[batch,256]  # "/Reshape"
  %logits, %rest = Split[axis=1, splits=[10,246]](%2) : f32[batch,10], f32[batch,246]  # "/Split"
  return %logits, %x
}"#,
    )
    .unwrap()
}

#[test]
fn dot_snapshot() {
    insta::assert_snapshot!(to_dot(&sample()));
}

#[test]
fn json_snapshot() {
    insta::assert_snapshot!(to_json(&sample()));
}

#[test]
fn exports_are_deterministic() {
    assert_eq!(to_dot(&sample()), to_dot(&sample()));
    assert_eq!(to_json(&sample()), to_json(&sample()));
}

#[test]
fn json_is_valid_and_matches_the_graph() {
    let g = sample();
    let doc: serde_json::Value = serde_json::from_str(&to_json(&g)).unwrap();
    assert_eq!(doc["name"], "tiny \"net\"");
    assert_eq!(doc["nodes"].as_array().unwrap().len(), g.nodes.len());
    assert_eq!(doc["constants"].as_array().unwrap().len(), 3);
    assert_eq!(doc["nodes"][0]["op"], "Conv");
    assert_eq!(doc["nodes"][0]["inputs"][1]["id"], "%c0");
    assert_eq!(doc["outputs"][0]["shape"], serde_json::json!(["batch", 10]));
    assert_eq!(doc["nodes"][3]["outputs"][0]["type"], "f32[batch,10]");
    assert_eq!(doc["outputs"][0]["name"], "logits");
    assert_eq!(doc["inputs"][0]["type"], "f32[batch,3,8,8]");
}

#[test]
fn dot_has_one_edge_per_non_constant_use() {
    let g = sample();
    let dot = to_dot(&g);
    let edges = dot.lines().filter(|l| l.contains("->")).count();
    // x->conv, conv->relu, relu->reshape, reshape->split, and two graph outputs.
    assert_eq!(edges, 6, "{dot}");
    assert!(dot.starts_with("digraph \"tiny \\\"net\\\"\" {"));
}
