//! Lowering marks in text IR and the verifier: `@int8_per_row`, `@bf16`, `@in_reader` and `@view`
//! print after a node's inputs and parse back; unknown or doubled marks are parse errors naming
//! the mark; a mark where its rule does not hold (a conv per row, a LayerNorm read twice, a split
//! read by something other than attention) fails verification naming the node.

use infc_ir::{parse_graph, print_graph, verify, Precision, Realize};

const MARKED: &str = r#"graph "m"(%x: f32[8,4]) {
  %c0 = const f32[4] [1.0, 0.5, 2.0, -1.0]
  %c1 = const f32[4,6] [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
  %c2 = const i64[3] [1, 8, 6]
  %0 = LayerNormalization[axis=-1, epsilon=1e-5](%x, %c0) @in_reader : f32[8,4]  # "ln"
  %1 = MatMul(%0, %c1) @int8_per_row : f32[8,6]  # "qkv"
  %2 = Reshape[allowzero=false](%1, %c2) : f32[1,8,6]  # "r"
  %3, %4, %5 = Split[axis=2, splits=[2,2,2]](%2) @view : f32[1,8,2], f32[1,8,2], f32[1,8,2]  # "split"
  %y = Attention[num_heads=1, scale=1.0, causal=true](%3, %4, %5) @bf16 : f32[1,8,2]  # "attn"
  return %y
}
"#;

#[test]
fn marks_round_trip_and_verify() {
    let text = MARKED.to_string();
    let g = parse_graph(&text).unwrap_or_else(|e| panic!("{e}"));
    let marks: Vec<(Precision, Realize)> =
        g.nodes.iter().map(|n| (n.precision, n.realize)).collect();
    assert_eq!(
        marks,
        [
            (Precision::F32, Realize::InReader),
            (Precision::Int8PerRow, Realize::Step),
            (Precision::F32, Realize::Step),
            (Precision::F32, Realize::View),
            (Precision::Bf16, Realize::Step),
        ]
    );
    verify(&g).unwrap_or_else(|e| panic!("{e}"));
    let printed = print_graph(&g);
    let again = parse_graph(&printed).unwrap_or_else(|e| panic!("{e}\n{printed}"));
    assert_eq!(print_graph(&again), printed);
    assert!(printed.contains(") @int8_per_row : f32[8,6]"), "{printed}");
}

#[test]
fn unknown_and_doubled_marks_are_parse_errors() {
    let base = MARKED.to_string();
    let e = parse_graph(&base.replace("@bf16", "@fp8"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown mark `@fp8`") && e.contains("int8_per_row"),
        "{e}"
    );
    let e = parse_graph(&base.replace("@bf16", "@bf16 @int8"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("two precision marks"), "{e}");
    let e = parse_graph(&base.replace("@view", "@view @in_reader"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("two realize marks"), "{e}");
}

/// Text edits, then the node the verifier must name and what it must say.
type Case = (
    &'static [(&'static str, &'static str)],
    &'static str,
    &'static str,
);

#[test]
fn illegal_marks_fail_verification_naming_the_node() {
    let base = MARKED.to_string();
    let cases: [Case; 4] = [
        // A per-tensor matmul cannot normalise rows while quantizing.
        (&[("@int8_per_row", "@int8")], "node 'ln'", "@in_reader"),
        // bf16 is for attention only.
        (
            &[
                ("@in_reader", ""),
                ("(%0, %c1) @int8_per_row", "(%0, %c1) @bf16"),
            ],
            "node 'qkv'",
            "@bf16 does not apply to MatMul",
        ),
        // int8 is for matmuls and convs.
        (
            &[("(%3, %4, %5) @bf16", "(%3, %4, %5) @int8")],
            "node 'attn'",
            "@int8 does not apply",
        ),
        // The split's output is a graph output as well: not a view.
        (
            &[("  return %y", "  return %y, %4")],
            "node 'split'",
            "@view",
        ),
    ];
    for (edits, node, why) in cases {
        let mut text = base.clone();
        for (from, to) in edits {
            assert!(text.contains(from), "{from}");
            text = text.replace(from, to);
        }
        let g = parse_graph(&text).unwrap_or_else(|e| panic!("{e}"));
        let e = verify(&g).unwrap_err().to_string();
        assert!(e.contains(node) && e.contains(why), "{edits:?}: {e}");
    }
}
