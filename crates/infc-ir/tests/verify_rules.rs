//! Verifier rules: a valid graph using every op passes; each rule has a graph that breaks it and a
//! snapshot of the message. Structural breakage the parser refuses is built through the API.

use infc_ir::{parse_graph, verify, BinaryOp, DType, Graph, Op, Tensor, TensorType, UnaryOp};

/// Header shared by the per-op cases.
const HEADER: &str = "graph \"g\"(%x: f32[N,3,8,8], %a: f32[2,3], %b: f32[3], %i: i64[4], %m: bool[2,3], %h: f32[N,seq,64]) {";

/// Verify the graph made of `body` under [`HEADER`]; return the error message.
fn err(body: &str) -> String {
    let text = format!("{HEADER}\n{body}\n  return\n}}\n");
    let g = parse_graph(&text).unwrap_or_else(|e| panic!("test text does not parse: {e}"));
    verify(&g).expect_err("graph should not verify").to_string()
}

fn ok(body: &str) {
    let text = format!("{HEADER}\n{body}\n  return\n}}\n");
    let g = parse_graph(&text).unwrap();
    if let Err(e) = verify(&g) {
        panic!("{e}\n{text}");
    }
}

#[test]
fn valid_graph_with_every_op_verifies() {
    let text = r#"
graph "zoo"(%x: f32[N,3,8,8], %ids: i64[N,seq], %h: f32[N,seq,64], %mask: f32[N,1,seq,seq]) {
  %w = const f32[4,3,3,3] fp=0x1
  %wb = const f32[4] fp=0x2
  %dw = const f32[4,2,3,3] fp=0x3
  %emb = const f32[100,64] fp=0x4
  %lw = const f32[64,64] fp=0x5
  %lb = const f32[64] fp=0x6
  %gw = const f32[256,10] fp=0x7
  %gb = const f32[10] fp=0x8
  %shape = const i64[2] [0, -1]
  %starts = const i64[1] [0]
  %ends = const i64[1] [2]
  %axes = const i64[1] [1]
  %steps = const i64[1] [1]
  %lo = const f32[] [0.0]
  %hi = const f32[] [6.0]
  %zero = const i64[] [0]
  %one = const i64[] [1]
  %ten = const i64[] [10]
  %nd = const i64[2,1] [0, 1]
  %c = Conv[kernel=[3,3], strides=[1,1], pads=[1,1,1,1], dilations=[1,1], group=1](%x, %w, %wb) : f32[N,4,8,8]
  %bn = BatchNormalization[epsilon=1e-5](%c, %wb, %wb, %wb, %wb) : f32[N,4,8,8]
  %r = Relu(%bn) : f32[N,4,8,8]
  %clip = Clip(%r, %lo, %hi) : f32[N,4,8,8]
  %dwc = Conv[kernel=[3,3], strides=[2,2], pads=[1,1,1,1], dilations=[1,1], group=2](%clip, %dw) : f32[N,4,4,4]
  %fc = FusedConv[kernel=[3,3], strides=[1,1], pads=[1,1,1,1], dilations=[1,1], group=1, epilogue=[bias,residual,relu]](%x, %w, %wb, %c) : f32[N,4,8,8]
  %mp = MaxPool[kernel=[2,2], strides=[2,2], pads=[0,0,0,0], dilations=[1,1], ceil_mode=false](%fc) : f32[N,4,4,4]
  %ap = AveragePool[kernel=[2,2], strides=[2,2], pads=[0,0,0,0], dilations=[1,1], ceil_mode=false, count_include_pad=false](%fc) : f32[N,4,4,4]
  %sum = Add(%mp, %ap) : f32[N,4,4,4]
  %sum2 = Add(%sum, %dwc) : f32[N,4,4,4]
  %gap = GlobalAveragePool(%sum2) : f32[N,4,1,1]
  %fl = Flatten[axis=1](%sum2) : f32[N,64]
  %fl2 = Reshape[allowzero=false](%fl, %shape) : f32[N,64]
  %lin = Gemm[alpha=1.0, beta=1.0, trans_a=false, trans_b=false](%fl2, %lw, %lb) : f32[N,64]
  %e = Gather[axis=0](%emb, %ids) : f32[N,seq,64]
  %e2 = Add(%e, %h) : f32[N,seq,64]
  %ln = LayerNormalization[axis=-1, epsilon=1e-5](%e2, %lb, %lb) : f32[N,seq,64]
  %y, %sk = SkipLayerNorm[epsilon=1e-5](%ln, %h, %lb, %lb) : f32[N,seq,64], f32[N,seq,64]
  %q = MatMul(%y, %lw) : f32[N,seq,64]
  %fm = FusedMatMul[epilogue=[bias,gelu_tanh]](%q, %lw, %lb) : f32[N,seq,64]
  %att = Attention[num_heads=4, scale=0.25, causal=true](%q, %fm, %fm, %mask) : f32[N,seq,64]
  %g = Gelu[tanh=false](%att) : f32[N,seq,64]
  %sm = Softmax[axis=-1](%g) : f32[N,seq,64]
  %mean = ReduceMean[axes=[-1], keepdims=true](%sm) : f32[N,seq,1]
  %tot = ReduceSum[axes=none, keepdims=false](%sm) : f32[]
  %sub = Sub(%sm, %mean) : f32[N,seq,64]
  %t = Transpose[perm=[0,2,1]](%sub) : f32[N,64,seq]
  %u = Unsqueeze[axes=[1]](%t) : f32[N,1,64,seq]
  %sq = Squeeze[axes=[1]](%u) : f32[N,64,seq]
  %cat = Concat[axis=1](%sq, %sq) : f32[N,128,seq]
  %p0, %p1 = Split[axis=1, splits=[100,28]](%cat) : f32[N,100,seq], f32[N,28,seq]
  %sl = Slice(%p0, %starts, %ends, %axes, %steps) : f32[N,2,seq]
  %gnd = GatherND[batch_dims=0](%sl, %nd) : f32[2,2,seq]
  %shp = Shape[start=0, end=none](%ids) : i64[2]
  %rng = Range(%zero, %ten, %one) : i64[10]
  %ex = Expand(%lb, %shp) : f32[N,64]
  %cos = ConstantOfShape[dtype=f32, value=1.0](%shp) : f32[N,seq]
  %tri = Trilu[upper=true](%cos) : f32[N,seq]
  %eq = Equal(%ids, %ids) : bool[N,seq]
  %nt = Not(%eq) : bool[N,seq]
  %nan = IsNaN(%tri) : bool[N,seq]
  %or = Or(%nt, %nan) : bool[N,seq]
  %wh = Where(%or, %tri, %cos) : f32[N,seq]
  %cast = Cast[to=i64](%wh) : i64[N,seq]
  %id = Identity(%cast) : i64[N,seq]
  %dr = Dropout(%id) : i64[N,seq]
  return %lin, %gap, %tot, %gnd, %rng, %ex, %dr, %p1
}
"#;
    let g = parse_graph(text).unwrap();
    verify(&g).unwrap();
}

#[test]
fn symbolic_dims_with_different_names_may_broadcast() {
    ok("  %0 = Add(%h, %h) : f32[N,seq,64]\n  %1 = Mul(%a, %b) : f32[2,3]");
    let text = "graph \"g\"(%p: f32[N,1,seq], %q: f32[M,4,1]) {\n  %0 = Add(%p, %q) : f32[B,4,seq]\n  return %0\n}";
    verify(&parse_graph(text).unwrap()).unwrap();
}

// ---- structure (built through the API: the parser refuses these) ----

fn two_node_graph() -> (Graph, [infc_ir::ValueId; 3]) {
    let mut g = Graph::new("s");
    let x = g.add_input("x", TensorType::known(DType::F32, &[2]));
    let a = g.add_value("a", TensorType::known(DType::F32, &[2]));
    let b = g.add_value("b", TensorType::known(DType::F32, &[2]));
    g.push_node("first", Op::Unary(UnaryOp::Relu), vec![x], vec![a]);
    g.push_node("second", Op::Unary(UnaryOp::Neg), vec![a], vec![b]);
    g.outputs = vec![b];
    (g, [x, a, b])
}

fn verr(g: &Graph) -> String {
    verify(g).expect_err("graph should not verify").to_string()
}

#[test]
fn structure_valid_baseline() {
    verify(&two_node_graph().0).unwrap();
}

#[test]
fn use_before_definition() {
    let (mut g, _) = two_node_graph();
    g.nodes.swap(0, 1);
    insta::assert_snapshot!(verr(&g), @"verifier: node 'second' reads 'a' before node 'first' defines it");
}

#[test]
fn read_of_undefined_value() {
    let (mut g, _) = two_node_graph();
    let ghost = g.add_value("ghost", TensorType::known(DType::F32, &[2]));
    g.nodes[1].inputs[0] = ghost;
    insta::assert_snapshot!(verr(&g), @"verifier: node 'second' reads 'ghost', which nothing defines");
}

#[test]
fn value_defined_twice() {
    let (mut g, [_, a, _]) = two_node_graph();
    g.nodes[1].outputs[0] = a;
    insta::assert_snapshot!(verr(&g), @"verifier: value 'a' is defined more than once (again by node 'second')");
}

#[test]
fn node_output_redefines_input() {
    let (mut g, [x, _, _]) = two_node_graph();
    g.nodes[1].outputs[0] = x;
    g.outputs = vec![x];
    insta::assert_snapshot!(verr(&g), @"verifier: value 'x' is defined more than once (again by node 'second')");
}

#[test]
fn graph_output_undefined() {
    let (mut g, _) = two_node_graph();
    let ghost = g.add_value("ghost", TensorType::known(DType::F32, &[2]));
    g.outputs.push(ghost);
    insta::assert_snapshot!(verr(&g), @"verifier: graph output 'ghost' is never defined");
}

#[test]
fn value_id_out_of_range() {
    let (mut g, _) = two_node_graph();
    g.nodes[0].inputs[0] = infc_ir::Idx::from_index(99);
    insta::assert_snapshot!(verr(&g), @"verifier: node 'first' input 0 refers to value #99 but the graph has 3 values");
}

#[test]
fn input_listed_twice_and_duplicate_input_names() {
    let (mut g, [x, _, _]) = two_node_graph();
    g.inputs.push(x);
    insta::assert_snapshot!(verr(&g), @"verifier: graph input 'x' is listed twice");
    let (mut g, _) = two_node_graph();
    g.add_input("x", TensorType::known(DType::F32, &[2]));
    insta::assert_snapshot!(verr(&g), @"verifier: two graph inputs are named 'x'");
}

#[test]
fn constant_type_must_match_its_tensor() {
    let (mut g, [_, a, _]) = two_node_graph();
    let k = g.add_const(
        "k",
        Tensor::from_vec(vec![3], vec![1.0f32, 2.0, 3.0]).unwrap(),
    );
    g.values[k].ty = TensorType::known(DType::F32, &[2]);
    let out = g.add_value("sum", TensorType::known(DType::F32, &[2]));
    g.push_node("add", Op::Binary(BinaryOp::Add), vec![a, k], vec![out]);
    insta::assert_snapshot!(verr(&g), @"verifier: constant 'k' has type f32[2] but its tensor is f32[3]");
}

#[test]
fn input_that_is_a_constant() {
    let (mut g, _) = two_node_graph();
    let k = g.add_const("k", Tensor::scalar(1.0f32));
    g.inputs.push(k);
    insta::assert_snapshot!(verr(&g), @"verifier: graph input 'k' is also a constant");
}

#[test]
fn input_arity() {
    let (mut g, [x, _, _]) = two_node_graph();
    g.nodes[1].inputs.push(x);
    insta::assert_snapshot!(verr(&g), @"verifier: node 'second' (Neg): takes 1 input(s), has 2");
}

#[test]
fn output_arity() {
    let (mut g, _) = two_node_graph();
    let extra = g.add_value("extra", TensorType::known(DType::F32, &[2]));
    g.nodes[1].outputs.push(extra);
    insta::assert_snapshot!(verr(&g), @"verifier: node 'second' (Neg): has 2 output(s), expected 1");
}

#[test]
fn split_outputs_must_match_splits() {
    let (mut g, [_, a, b]) = two_node_graph();
    g.nodes[1].op = Op::Split {
        axis: 0,
        splits: vec![1, 1],
    };
    g.outputs = vec![b];
    let _ = a;
    insta::assert_snapshot!(verr(&g), @"verifier: node 'second' (Split): 1 output(s) but `splits` has 2 entries");
    g.nodes[1].op = Op::Split {
        axis: 0,
        splits: vec![],
    };
    insta::assert_snapshot!(verr(&g), @"verifier: node 'second' (Split): `splits` is empty");
}

// ---- attributes ----

#[test]
fn conv_attribute_lengths() {
    insta::assert_snapshot!(err("  %w = const f32[4,3,3,3] fp=0x1\n  %0 = Conv[kernel=[3,3], strides=[1], pads=[1,1,1,1], dilations=[1,1]](%x, %w) : f32[N,4,8,8]"), @"verifier: node #0 (Conv): `strides` has length 1 but `kernel` has length 2");
    insta::assert_snapshot!(err("  %w = const f32[4,3,3,3] fp=0x1\n  %0 = Conv[kernel=[3,3], pads=[1,1]](%x, %w) : f32[N,4,8,8]"), @"verifier: node #0 (Conv): `pads` has length 2, expected 4 (begin and end per spatial axis)");
    insta::assert_snapshot!(err("  %w = const f32[4,3,3,3] fp=0x1\n  %0 = Conv[kernel=[3,3], strides=[0,1]](%x, %w) : f32[N,4,8,8]"), @"verifier: node #0 (Conv): `strides` contains 0");
    insta::assert_snapshot!(err("  %w = const f32[4,3,3,3] fp=0x1\n  %0 = Conv[kernel=[3,3], group=0](%x, %w) : f32[N,4,8,8]"), @"verifier: node #0 (Conv): `group` is 0");
}

#[test]
fn conv_rank_must_match_kernel() {
    insta::assert_snapshot!(err("  %w = const f32[4,3,3] fp=0x1\n  %0 = Conv[kernel=[3]](%x, %w) : f32[N,4,8,8]"), @"verifier: node #0 (Conv): input 0 ('x') has rank 4 but `kernel` has 1 spatial dims (rank 3 expected)");
}

#[test]
fn conv_weight_and_channels() {
    insta::assert_snapshot!(err("  %w = const f32[4,3,5,5] fp=0x1\n  %0 = Conv[kernel=[3,3]](%x, %w) : f32[N,4,6,6]"), @"verifier: node #0 (Conv): input 1 dim 2 is 5, expected 3");
    insta::assert_snapshot!(err("  %w = const f32[4,3,3,3] fp=0x1\n  %0 = Conv[kernel=[3,3], group=3](%x, %w) : f32[N,4,6,6]"), @"verifier: node #0 (Conv): input 0 ('x') has 3 channels but weight f32[4,3,3,3] × group 3 takes 9");
    insta::assert_snapshot!(err("  %w = const f32[4,3,3,3] fp=0x1\n  %0 = Conv[kernel=[3,3]](%x, %w) : f32[N,8,6,6]"), @"verifier: node #0 (Conv): output 0 ('0') dim 1 is 8, expected 4");
    insta::assert_snapshot!(err("  %w = const f32[4,3,3,3] fp=0x1\n  %bias = const f32[5] fp=0x2\n  %0 = Conv[kernel=[3,3]](%x, %w, %bias) : f32[N,4,6,6]"), @"verifier: node #0 (Conv): input 2 dim 0 is 5, expected 4");
}

#[test]
fn pool_attribute_lengths() {
    insta::assert_snapshot!(err("  %0 = MaxPool[kernel=[2,2], pads=[0,0]](%x) : f32[N,3,4,4]"), @"verifier: node #0 (MaxPool): `pads` has length 2, expected 4 (begin and end per spatial axis)");
    insta::assert_snapshot!(err("  %0 = AveragePool[kernel=[2]](%x) : f32[N,3,4,4]"), @"verifier: node #0 (AveragePool): input 0 ('x') has rank 4 but `kernel` has 1 spatial dims (rank 3 expected)");
}

#[test]
fn transpose_perm() {
    insta::assert_snapshot!(err("  %0 = Transpose[perm=[0,0,1,2]](%x) : f32[N,3,8,8]"), @"verifier: node #0 (Transpose): `perm` [0, 0, 1, 2] is not a permutation");
    insta::assert_snapshot!(err("  %0 = Transpose[perm=[1,0]](%x) : f32[3,N]"), @"verifier: node #0 (Transpose): `perm` has length 2 but input 0 ('x') has rank 4");
    insta::assert_snapshot!(err("  %0 = Transpose[perm=[1,0]](%a) : f32[2,3]"), @"verifier: node #0 (Transpose): output 0 ('0') dim 0 is 2, expected 3");
}

#[test]
fn axes_in_range() {
    insta::assert_snapshot!(err("  %0 = Softmax[axis=2](%a) : f32[2,3]"), @"verifier: node #0 (Softmax): `axis` 2 is out of range for rank 2");
    insta::assert_snapshot!(err("  %0 = Gather[axis=-3](%a, %i) : f32[4,3]"), @"verifier: node #0 (Gather): `axis` -3 is out of range for rank 2");
    insta::assert_snapshot!(err("  %0 = Unsqueeze[axes=[0,0]](%a) : f32[1,1,2,3]"), @"verifier: node #0 (Unsqueeze): `axes` entry 0 is repeated");
    insta::assert_snapshot!(err("  %0 = ReduceMean[axes=[5]](%a) : f32[2,1]"), @"verifier: node #0 (ReduceMean): `axes` entry 5 is out of range for rank 2");
}

// ---- dtypes ----

#[test]
fn binary_inputs_share_a_dtype() {
    insta::assert_snapshot!(err("  %0 = Add(%a, %i) : f32[2,4]"), @"verifier: node #0 (Add): input 1 ('i') is i64 but input 0 ('a') is f32");
}

#[test]
fn comparisons_output_bool() {
    insta::assert_snapshot!(err("  %0 = Less(%a, %a) : f32[2,3]"), @"verifier: node #0 (Less): output 0 ('0') is f32, expected bool");
}

#[test]
fn logical_ops_need_bool() {
    insta::assert_snapshot!(err("  %0 = And(%a, %a) : bool[2,3]"), @"verifier: node #0 (And): input 0 ('a') is f32, expected bool");
    insta::assert_snapshot!(err("  %0 = Add(%m, %m) : bool[2,3]"), @"verifier: node #0 (Add): input 0 ('m') is bool, expected a numeric type");
}

#[test]
fn where_condition_is_bool() {
    insta::assert_snapshot!(err("  %0 = Where(%a, %a, %a) : f32[2,3]"), @"verifier: node #0 (Where): input 0 ('a') is f32, expected bool");
}

#[test]
fn cast_output_dtype() {
    insta::assert_snapshot!(err("  %0 = Cast[to=f16](%a) : f32[2,3]"), @"verifier: node #0 (Cast): output 0 ('0') is f32, expected f16");
}

#[test]
fn gather_indices_are_integers() {
    insta::assert_snapshot!(err("  %0 = Gather[axis=0](%a, %b) : f32[3,3]"), @"verifier: node #0 (Gather): input 1 ('b') is f32, expected i64 or i32");
}

#[test]
fn shape_outputs_i64() {
    insta::assert_snapshot!(err("  %0 = Shape(%a) : i32[2]"), @"verifier: node #0 (Shape): output 0 ('0') is i32, expected i64");
    insta::assert_snapshot!(err("  %0 = Shape[start=1](%x) : i64[2]"), @"verifier: node #0 (Shape): output 0 ('0') dim 0 is 2, expected 3");
}

#[test]
fn float_only_unary() {
    insta::assert_snapshot!(err("  %0 = Sqrt(%i) : i64[4]"), @"verifier: node #0 (Sqrt): input 0 ('i') is i64, expected a float type");
    insta::assert_snapshot!(err("  %0 = IsNaN(%a) : f32[2,3]"), @"verifier: node #0 (IsNaN): output 0 ('0') is f32, expected bool");
}

#[test]
fn reshape_shape_is_i64() {
    insta::assert_snapshot!(err("  %s = const i32[1] [6]\n  %0 = Reshape(%a, %s) : f32[6]"), @"verifier: node #0 (Reshape): input 1 is i32, expected i64");
}

#[test]
fn constant_of_shape_dtype() {
    insta::assert_snapshot!(err("  %0 = ConstantOfShape[dtype=i64, value=0.0](%i) : f32[1,2,3,4]"), @"verifier: node #0 (ConstantOfShape): output 0 ('0') is f32, expected i64");
}

// ---- shapes ----

#[test]
fn broadcast_known_dims() {
    insta::assert_snapshot!(err("  %0 = Add(%a, %i) : f32[2,4]"), @"verifier: node #0 (Add): input 1 ('i') is i64 but input 0 ('a') is f32");
    insta::assert_snapshot!(err("  %c = const f32[4] fp=0x1\n  %0 = Add(%a, %c) : f32[2,4]"), @"verifier: node #0 (Add): input 1 (f32[4]) and input 0 ('a') (f32[2,3]) do not broadcast: dim 4 vs 3");
    insta::assert_snapshot!(err("  %0 = Mul(%a, %b) : f32[2,4]"), @"verifier: node #0 (Mul): output 0 ('0') dim 1 is 4, expected 3");
    insta::assert_snapshot!(err("  %0 = Mul(%a, %b) : f32[3]"), @"verifier: node #0 (Mul): output 0 ('0') has rank 1 (f32[3]), expected 2");
}

#[test]
fn symbolic_dims_compare_by_name() {
    insta::assert_snapshot!(err("  %0 = Add(%h, %h) : f32[N,len,64]"), @"verifier: node #0 (Add): output 0 ('0') dim 1 is len, expected seq");
    insta::assert_snapshot!(err("  %0 = Relu(%h) : f32[M,seq,64]"), @"verifier: node #0 (Relu): output 0 ('0') is f32[M,seq,64] but input 0 ('h') is f32[N,seq,64] (dim 0)");
}

#[test]
fn matmul_inner_dims() {
    insta::assert_snapshot!(err("  %0 = MatMul(%a, %a) : f32[2,3]"), @"verifier: node #0 (MatMul): inner dims differ: input 0 ('a') is f32[2,3], input 1 ('a') is f32[2,3]");
}

#[test]
fn reshape_keeps_element_count() {
    insta::assert_snapshot!(err("  %s = const i64[1] [5]\n  %0 = Reshape(%a, %s) : f32[5]"), @"verifier: node #0 (Reshape): input 0 ('a') (f32[2,3]) has 6 elements but output 0 ('0') (f32[5]) has 5");
}

#[test]
fn split_sizes_sum_to_the_axis() {
    insta::assert_snapshot!(err("  %0, %1 = Split[axis=1, splits=[1,1]](%a) : f32[2,1], f32[2,1]"), @"verifier: node #0 (Split): `splits` [1, 1] sum to 2 but input 0 ('a') has 3 along axis 1");
}

#[test]
fn concat_ranks_and_dims() {
    insta::assert_snapshot!(err("  %0 = Concat[axis=0](%a, %b) : f32[5,3]"), @"verifier: node #0 (Concat): input 1 ('b') (f32[3]) and input 0 ('a') (f32[2,3]) differ in rank");
    insta::assert_snapshot!(err("  %0 = Concat[axis=0](%a, %a) : f32[4,4]"), @"verifier: node #0 (Concat): input 0 ('a') dim 1 is 3, expected 4");
}

#[test]
fn squeeze_only_size_one() {
    insta::assert_snapshot!(err("  %0 = Squeeze[axes=[0]](%a) : f32[3]"), @"verifier: node #0 (Squeeze): input 0 ('a') dim 0 is 2, expected 1");
}

#[test]
fn range_takes_scalars() {
    insta::assert_snapshot!(err("  %0 = Range(%i, %i, %i) : i64[4]"), @"verifier: node #0 (Range): input 0 ('i') has rank 1 (i64[4]), expected 0");
}

#[test]
fn fused_op_rules() {
    insta::assert_snapshot!(err("  %w = const f32[4,3,1,1] fp=0x1\n  %bias = const f32[3] fp=0x2\n  %0 = FusedConv[kernel=[1,1], epilogue=[bias,relu]](%x, %w, %bias) : f32[N,4,8,8]"), @"verifier: node #0 (FusedConv): input 2 dim 0 is 3, expected 4");
    insta::assert_snapshot!(err("  %w = const f32[4,3,1,1] fp=0x1\n  %0 = FusedConv[kernel=[1,1], epilogue=[residual]](%x, %w, %x) : f32[N,4,8,8]"), @"verifier: node #0 (FusedConv): input 2 ('x') is f32[N,3,8,8] but output 0 ('0') is f32[N,4,8,8] (dim 1)");
    insta::assert_snapshot!(err("  %w = const f32[64,32] fp=0x1\n  %bias = const f32[64] fp=0x2\n  %0 = FusedMatMul[epilogue=[bias]](%h, %w, %bias) : f32[N,seq,32]"), @"verifier: node #0 (FusedMatMul): input 2 dim 0 is 64, expected 32");
    insta::assert_snapshot!(err("  %0, %1 = SkipLayerNorm(%h, %h, %b, %b) : f32[N,seq,64], f32[N,seq,64]"), @"verifier: node #0 (SkipLayerNorm): input 2 ('b') dim 0 is 3, expected 64");
    insta::assert_snapshot!(err("  %0 = Attention[num_heads=5, scale=0.125](%h, %h, %h) : f32[N,seq,64]"), @"verifier: node #0 (Attention): input 0 ('h') hidden size 64 is not a multiple of `num_heads` 5");
    insta::assert_snapshot!(err("  %0 = Gelu(%i) : i64[4]"), @"verifier: node #0 (Gelu): input 0 ('i') is i64, expected a float type");
}
