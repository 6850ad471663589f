//! One test per op family: the ONNX node(s) and the IR they become, with inferred types.

use super::builder::*;
use tract_onnx::pb::tensor_proto::DataType;

#[test]
fn elementwise() {
    let m = M::new(13)
        .f32_in("x", &["batch", "4"])
        .f32_in("y", &["4"])
        .init(tensor_f32("six", &[], &[6.0]))
        .node("Add", &["x", "y"], &["a"], vec![])
        .node("Max", &["a", "x", "y"], &["mx"], vec![])
        .node("Mean", &["mx", "x"], &["mean"], vec![])
        .node("Clip", &["mean", "", "six"], &["clip"], vec![])
        .node("Cast", &["clip"], &["i"], vec![ai("to", 7)])
        .node("CastLike", &["i", "x"], &["f"], vec![])
        .node("Dropout", &["f"], &["d", "mask"], vec![])
        .node("Gelu", &["d"], &["g"], vec![astr("approximate", "tanh")])
        .node("Sqrt", &["g"], &["s"], vec![])
        .output("s")
        .output("mask");
    insta::assert_snapshot!(m.summary(), @r#"
Binary(Add) -> a: f32[batch,4]
Binary(Max) -> Max_1:0: f32[batch,4]
Binary(Max) -> mx: f32[batch,4]
Binary(Add) -> Mean_2:0: f32[batch,4]
Binary(Div) -> mean: f32[batch,4]
Clip -> clip: f32[batch,4]
Cast { to: I64 } -> i: i64[batch,4]
Cast { to: F32 } -> f: f32[batch,4]
Dropout -> d: f32[batch,4]
Shape { start: 0, end: None } -> Dropout_6#1:0: i64[2]
ConstantOfShape { dtype: Bool, value_bits: 4607182418800017408 } -> mask: bool[batch,4]
Gelu { tanh: true } -> g: f32[batch,4]
Unary(Sqrt) -> s: f32[batch,4]
"#);
}

/// Every unary math op type routed to the unary importer becomes the IR op of the same name.
#[test]
fn unary_math_ops_keep_their_names() {
    let ops = [
        "Relu",
        "Sqrt",
        "Erf",
        "Tanh",
        "Sigmoid",
        "Exp",
        "Log",
        "Neg",
        "Abs",
        "Reciprocal",
        "Floor",
        "Ceil",
        "Sin",
        "Cos",
    ];
    let mut m = M::new(13).f32_in("x", &["2", "3"]);
    let mut prev = "x".to_string();
    for op in ops {
        let out = format!("{op}_out");
        m = m.node(op, &[prev.as_str()], &[out.as_str()], vec![]);
        prev = out;
    }
    let summary = m.output(&prev).summary();
    let got: Vec<&str> = summary
        .lines()
        .map(|l| l.split(' ').next().unwrap_or(""))
        .collect();
    let want: Vec<String> = ops.iter().map(|op| format!("Unary({op})")).collect();
    assert_eq!(got, want, "{summary}");
}

/// ONNX Mod's `fmod` attribute picks the IR op: 0 (default) Python's remainder, 1 C's fmod;
/// anything else names the attribute.
#[test]
fn mod_reads_fmod() {
    let m = M::new(13)
        .input("a", DataType::Int64, &["3"])
        .input("b", DataType::Int64, &["3"])
        .node("Mod", &["a", "b"], &["m"], vec![])
        .node("Mod", &["a", "b"], &["f"], vec![ai("fmod", 1)])
        .output("m")
        .output("f");
    let summary = m.summary();
    assert!(
        summary.contains("Binary(Mod) -> m") && summary.contains("Binary(FMod) -> f"),
        "{summary}"
    );
    let bad = M::new(13)
        .input("a", DataType::Int64, &["3"])
        .node("Mod", &["a", "a"], &["m"], vec![ai("fmod", 2)])
        .output("m");
    let err = bad.import().unwrap_err().to_string();
    assert!(err.contains("'fmod' must be 0 or 1, got 2"), "{err}");
}

#[test]
fn clip_before_opset_11_reads_attributes() {
    let m = M::new(6)
        .f32_in("x", &["3"])
        .node("Clip", &["x"], &["y"], vec![af("min", 0.0), af("max", 6.0)])
        .output("y");
    let g = m.import().unwrap();
    let consts: Vec<String> = g
        .consts
        .iter()
        .map(|(_, c)| format!("{}={:?}", c.name, c.tensor.to_f64_vec().unwrap()))
        .collect();
    insta::assert_snapshot!(consts.join(" "), @r#"Clip_0/min=[0.0] Clip_0/max=[6.0]"#);
}

#[test]
fn conv_and_auto_pad() {
    let w = tensor_f32("w", &[8, 3, 3, 3], &[0.5; 8 * 27]);
    let b = tensor_f32("b", &[8], &[0.0; 8]);
    let m = M::new(17)
        .f32_in("x", &["N", "3", "15", "15"])
        .init(w)
        .init(b)
        .node(
            "Conv",
            &["x", "w", "b"],
            &["c1"],
            vec![ais("pads", &[1, 1, 1, 1]), ais("strides", &[2, 2])],
        )
        .node(
            "Conv",
            &["x", "w"],
            &["c2"],
            vec![astr("auto_pad", "SAME_UPPER"), ais("strides", &[2, 2])],
        )
        .node(
            "Conv",
            &["x", "w"],
            &["c3"],
            vec![astr("auto_pad", "VALID"), ais("kernel_shape", &[3, 3])],
        )
        .output("c1")
        .output("c2")
        .output("c3");
    insta::assert_snapshot!(m.summary(), @r#"
Conv(ConvAttrs { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], dilations: [1, 1], group: 1 }) -> c1: f32[N,8,8,8]
Conv(ConvAttrs { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], dilations: [1, 1], group: 1 }) -> c2: f32[N,8,8,8]
Conv(ConvAttrs { kernel: [3, 3], strides: [1, 1], pads: [0, 0, 0, 0], dilations: [1, 1], group: 1 }) -> c3: f32[N,8,13,13]
"#);
}

#[test]
fn pooling() {
    let m = M::new(17)
        .f32_in("x", &["N", "4", "7", "7"])
        .node(
            "MaxPool",
            &["x"],
            &["mp"],
            vec![
                ais("kernel_shape", &[2, 2]),
                ais("strides", &[2, 2]),
                ai("ceil_mode", 1),
            ],
        )
        .node(
            "AveragePool",
            &["x"],
            &["ap"],
            vec![
                ais("kernel_shape", &[3, 3]),
                ais("pads", &[1, 1, 1, 1]),
                ai("count_include_pad", 1),
            ],
        )
        .node("GlobalAveragePool", &["x"], &["gap"], vec![])
        .node("GlobalMaxPool", &["x"], &["gmp"], vec![])
        .output("mp")
        .output("ap")
        .output("gap")
        .output("gmp");
    insta::assert_snapshot!(m.summary(), @r#"
MaxPool(PoolAttrs { kernel: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0], dilations: [1, 1], ceil_mode: true }) -> mp: f32[N,4,4,4]
AveragePool { attrs: PoolAttrs { kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], dilations: [1, 1], ceil_mode: false }, count_include_pad: true } -> ap: f32[N,4,7,7]
GlobalAveragePool -> gap: f32[N,4,1,1]
Reduce { op: Max, axes: Some([2, 3]), keepdims: true } -> gmp: f32[N,4,1,1]
"#);
}

#[test]
fn matmul_and_gemm() {
    let m = M::new(17)
        .f32_in("x", &["batch", "seq", "16"])
        .f32_in("v", &["batch", "16"])
        .init(tensor_f32("w", &[16, 8], &[0.1; 128]))
        .init(tensor_f32("wt", &[8, 16], &[0.1; 128]))
        .init(tensor_f32("c", &[8], &[0.0; 8]))
        .node("MatMul", &["x", "w"], &["mm"], vec![])
        .node(
            "Gemm",
            &["v", "wt", "c"],
            &["gm"],
            vec![ai("transB", 1), af("alpha", 0.5)],
        )
        .output("mm")
        .output("gm");
    insta::assert_snapshot!(m.summary(), @r#"
MatMul -> mm: f32[batch,seq,8]
Gemm { alpha: Float(1056964608), beta: Float(1065353216), trans_a: false, trans_b: true } -> gm: f32[batch,8]
"#);
}

#[test]
fn normalization() {
    let p = |n: &str| tensor_f32(n, &[4], &[1.0; 4]);
    let m = M::new(17)
        .f32_in("x", &["N", "4", "2", "2"])
        .init(p("s"))
        .init(p("b"))
        .init(p("mean"))
        .init(p("var"))
        .node(
            "BatchNormalization",
            &["x", "s", "b", "mean", "var"],
            &["bn"],
            vec![af("epsilon", 1e-3)],
        )
        .node(
            "Transpose",
            &["bn"],
            &["t"],
            vec![ais("perm", &[0, 2, 3, 1])],
        )
        .node(
            "LayerNormalization",
            &["t", "s", "b"],
            &["ln"],
            vec![ai("axis", -1), af("epsilon", 1e-12)],
        )
        .node("Softmax", &["ln"], &["sm"], vec![])
        .output("sm");
    insta::assert_snapshot!(m.summary(), @r#"
BatchNorm { epsilon: Float(981668463) } -> bn: f32[N,4,2,2]
Transpose { perm: [0, 2, 3, 1] } -> t: f32[N,2,2,4]
LayerNorm { axis: -1, epsilon: Float(730643660) } -> ln: f32[N,2,2,4]
Softmax { axis: -1 } -> sm: f32[N,2,2,4]
"#);
}

#[test]
fn softmax_before_opset_13_flattens_at_axis() {
    let m = M::new(11)
        .f32_in("x", &["2", "3", "4"])
        .node("Softmax", &["x"], &["y"], vec![ai("axis", 1)])
        .output("y");
    insta::assert_snapshot!(m.summary(), @r#"
Flatten { axis: 1 } -> Softmax_0:0: f32[2,12]
Softmax { axis: 1 } -> Softmax_0#1:0: f32[2,12]
Shape { start: 0, end: None } -> Softmax_0#2:0: i64[3]
Reshape { allowzero: false } -> y: f32[2,3,4]
"#);
    let m = M::new(11)
        .f32_in("x", &["2", "3", "4"])
        .node("Softmax", &["x"], &["y"], vec![ai("axis", 2)])
        .output("y");
    insta::assert_snapshot!(m.summary(), @r#"Softmax { axis: -1 } -> y: f32[2,3,4]"#);
}

#[test]
fn reductions_across_opsets() {
    let m = M::new(13)
        .f32_in("x", &["b", "s", "8"])
        .node("ReduceMean", &["x"], &["m"], vec![ais("axes", &[-1])])
        .node("ReduceMax", &["x"], &["all"], vec![ai("keepdims", 0)])
        .output("m")
        .output("all");
    insta::assert_snapshot!(m.summary(), @r#"
Reduce { op: Mean, axes: Some([-1]), keepdims: true } -> m: f32[b,s,1]
Reduce { op: Max, axes: None, keepdims: false } -> all: f32[]
"#);
    let m = M::new(18)
        .f32_in("x", &["b", "s", "8"])
        .ints("axes", &[1])
        .node(
            "ReduceMean",
            &["x", "axes"],
            &["m"],
            vec![ai("keepdims", 0)],
        )
        .node(
            "ReduceSum",
            &["x"],
            &["same"],
            vec![ai("noop_with_empty_axes", 1)],
        )
        .output("m")
        .output("same");
    insta::assert_snapshot!(m.summary(), @r#"
Reduce { op: Mean, axes: Some([1]), keepdims: false } -> m: f32[b,8]
Identity -> same: f32[b,s,8]
"#);
    let m = M::new(18)
        .f32_in("x", &["b", "s", "8"])
        .input("axes", DataType::Int64, &["1"])
        .node("ReduceMean", &["x", "axes"], &["m"], vec![])
        .output("m");
    insta::assert_snapshot!(m.summary(), @r#"error: node 'ReduceMean_0' (ReduceMean): input 1 (axes, 'axes') must be a constant: it is computed at run time, which infc does not support"#);
}

/// GPT-2's Reshape chain: Shape → Gather → Unsqueeze → Concat → Reshape resolves to symbols.
#[test]
fn shape_arithmetic_chain() {
    let m = M::new(13)
        .f32_in("x", &["batch", "seq", "768"])
        .init(tensor_i64("zero", &[], &[0]))
        .init(tensor_i64("one", &[], &[1]))
        .ints("ax0", &[0])
        .ints("heads", &[12, 64])
        .node("Shape", &["x"], &["shape"], vec![])
        .node("Gather", &["shape", "zero"], &["b"], vec![ai("axis", 0)])
        .node("Gather", &["shape", "one"], &["s"], vec![ai("axis", 0)])
        .node("Unsqueeze", &["b", "ax0"], &["b1"], vec![])
        .node("Unsqueeze", &["s", "ax0"], &["s1"], vec![])
        .node(
            "Concat",
            &["b1", "s1", "heads"],
            &["spec"],
            vec![ai("axis", 0)],
        )
        .node("Reshape", &["x", "spec"], &["y"], vec![])
        .node("Range", &["zero", "s", "one"], &["pos"], vec![])
        .output("y")
        .output("pos");
    insta::assert_snapshot!(m.summary(), @r#"
Shape { start: 0, end: None } -> shape: i64[3]
Gather { axis: 0 } -> b: i64[]
Gather { axis: 0 } -> s: i64[]
Unsqueeze { axes: [0] } -> b1: i64[1]
Unsqueeze { axes: [0] } -> s1: i64[1]
Concat { axis: 0 } -> spec: i64[4]
Reshape { allowzero: false } -> y: f32[batch,seq,12,64]
Range -> pos: i64[seq]
"#);
}

#[test]
fn shape_ops() {
    let m = M::new(18)
        .f32_in("x", &["b", "1", "10"])
        .ints("ax1", &[1])
        .ints("st", &[2])
        .ints("en", &[-1])
        .ints("sizes", &[3, 7])
        .ints("tgt", &[4, 1, 1])
        .node("Squeeze", &["x", "ax1"], &["sq"], vec![])
        .node("Unsqueeze", &["sq", "ax1"], &["us"], vec![])
        .node(
            "Split",
            &["x"],
            &["p0", "p1", "p2"],
            vec![ai("axis", 2), ai("num_outputs", 3)],
        )
        .node(
            "Split",
            &["x", "sizes"],
            &["q0", "q1"],
            vec![ai("axis", -1)],
        )
        .node("Slice", &["x", "st", "en"], &["sl"], vec![])
        .node("Transpose", &["x"], &["tr"], vec![])
        .node("Flatten", &["x"], &["fl"], vec![ai("axis", 2)])
        .node("Expand", &["us", "tgt"], &["ex"], vec![])
        .output("p2")
        .output("q1")
        .output("sl")
        .output("tr")
        .output("fl")
        .output("ex");
    insta::assert_snapshot!(m.summary(), @r#"
Squeeze { axes: Some([1]) } -> sq: f32[b,10]
Unsqueeze { axes: [1] } -> us: f32[b,1,10]
Split { axis: 2, splits: [4, 4, 2] } -> p0: f32[b,1,4], p1: f32[b,1,4], p2: f32[b,1,2]
Split { axis: -1, splits: [3, 7] } -> q0: f32[b,1,3], q1: f32[b,1,7]
Slice -> sl: f32[Slice_4:d0,1,10]
Transpose { perm: [2, 1, 0] } -> tr: f32[10,1,b]
Flatten { axis: 2 } -> fl: f32[b,10]
Expand -> ex: f32[4,1,10]
"#);
}

#[test]
fn shape_ops_before_opset_13_use_attributes() {
    let m = M::new(11)
        .f32_in("x", &["b", "1", "10"])
        .node("Squeeze", &["x"], &["sq"], vec![ais("axes", &[1])])
        .node("Unsqueeze", &["sq"], &["us"], vec![ais("axes", &[0])])
        .node(
            "Split",
            &["x"],
            &["a", "c"],
            vec![ai("axis", 2), ais("split", &[4, 6])],
        )
        .node("Split", &["x"], &["e0", "e1"], vec![ai("axis", 2)])
        .output("us")
        .output("c")
        .output("e1");
    insta::assert_snapshot!(m.summary(), @r#"
Squeeze { axes: Some([1]) } -> sq: f32[b,10]
Unsqueeze { axes: [0] } -> us: f32[1,b,10]
Split { axis: 2, splits: [4, 6] } -> a: f32[b,1,4], c: f32[b,1,6]
Split { axis: 2, splits: [5, 5] } -> e0: f32[b,1,5], e1: f32[b,1,5]
"#);
    let m = M::new(9)
        .f32_in("x", &["4", "10"])
        .node(
            "Slice",
            &["x"],
            &["y"],
            vec![ais("starts", &[1]), ais("ends", &[100]), ais("axes", &[1])],
        )
        .output("y");
    insta::assert_snapshot!(m.summary(), @r#"Slice -> y: f32[4,9]"#);
}

#[test]
fn gather_family() {
    let m = M::new(13)
        .input("ids", DataType::Int64, &["batch", "seq"])
        .f32_in("h", &["batch", "seq", "16"])
        .input("idx", DataType::Int64, &["batch", "2"])
        .init(tensor_f32("wte", &[50, 16], &[0.0; 800]))
        .node("Gather", &["wte", "ids"], &["emb"], vec![])
        .node(
            "GatherND",
            &["h", "idx"],
            &["last"],
            vec![ai("batch_dims", 0)],
        )
        .output("emb")
        .output("last");
    insta::assert_snapshot!(m.summary(), @r#"
Gather { axis: 0 } -> emb: f32[batch,seq,16]
GatherND { batch_dims: 0 } -> last: f32[batch,16]
"#);
}

#[test]
fn constants_and_generators() {
    let m = M::new(15)
        .f32_in("x", &["batch", "seq", "4"])
        .node(
            "Constant",
            &[],
            &["c"],
            vec![at("value", tensor_i64("", &[2], &[2, 3]))],
        )
        .node(
            "Constant",
            &[],
            &["ci"],
            vec![ais("value_ints", &[1, 2, 3])],
        )
        .node("Constant", &[], &["cf"], vec![af("value_float", 0.5)])
        .node(
            "ConstantOfShape",
            &["c"],
            &["z"],
            vec![at("value", tensor_i64("", &[1], &[7]))],
        )
        .node("ConstantOfShape", &["c"], &["zf"], vec![])
        .node(
            "Shape",
            &["x"],
            &["tail"],
            vec![ai("start", 1), ai("end", -1)],
        )
        .node("Size", &["x"], &["n"], vec![])
        .node("Mul", &["zf", "cf"], &["scaled"], vec![])
        .output("z")
        .output("scaled")
        .output("tail")
        .output("n")
        .output("ci");
    insta::assert_snapshot!(m.summary(), @r#"
ConstantOfShape { dtype: I64, value_bits: 4619567317775286272 } -> z: i64[2,3]
ConstantOfShape { dtype: F32, value_bits: 0 } -> zf: f32[2,3]
Shape { start: 1, end: Some(-1) } -> tail: i64[1]
Shape { start: 0, end: None } -> Size_6:0: i64[3]
Reduce { op: Prod, axes: None, keepdims: false } -> n: i64[]
Binary(Mul) -> scaled: f32[2,3]
"#);
}

#[test]
fn logic_and_masks() {
    let m = M::new(14)
        .input("mask", DataType::Int64, &["batch", "seq"])
        .f32_in("s", &["batch", "12", "seq", "seq"])
        .init(tensor_i64("zero", &[], &[0]))
        .init(tensor_f32("neg", &[], &[-1e9]))
        .node("Equal", &["mask", "zero"], &["pad"], vec![])
        .node("Not", &["pad"], &["keep"], vec![])
        .node("IsNaN", &["s"], &["nan"], vec![])
        .node("Trilu", &["s"], &["tri"], vec![ai("upper", 0)])
        .node("Where", &["nan", "neg", "tri"], &["w"], vec![])
        .output("keep")
        .output("w");
    insta::assert_snapshot!(m.summary(), @r#"
Binary(Equal) -> pad: bool[batch,seq]
Unary(Not) -> keep: bool[batch,seq]
Unary(IsNaN) -> nan: bool[batch,12,seq,seq]
Trilu { upper: false } -> tri: f32[batch,12,seq,seq]
Where -> w: f32[batch,12,seq,seq]
"#);
}

#[test]
fn nodes_out_of_order_are_sorted() {
    let m = M::new(13)
        .f32_in("x", &["2"])
        .node("Relu", &["a"], &["b"], vec![])
        .node("Neg", &["x"], &["a"], vec![])
        .output("b");
    insta::assert_snapshot!(m.summary(), @r#"
Unary(Neg) -> a: f32[2]
Unary(Relu) -> b: f32[2]
"#);
}
