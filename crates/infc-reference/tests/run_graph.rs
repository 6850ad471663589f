//! `run_graph`: input validation messages, symbolic-dim binding, constants, freeing of intermediates.

use infc_ir::{BinaryOp, DType, Dim, Graph, Op, Shape, Tensor, TensorType, UnaryOp};
use infc_reference::{run_graph, run_graph_with_stats, InputKey, RefError};

fn f32t(shape: &[usize], v: &[f32]) -> Tensor {
    Tensor::from_vec(shape.to_vec(), v.to_vec()).unwrap()
}

fn sym(dims: &[&str]) -> Shape {
    Shape(
        dims.iter()
            .map(|d| {
                d.parse::<usize>()
                    .map(Dim::Known)
                    .unwrap_or_else(|_| Dim::sym(d))
            })
            .collect(),
    )
}

/// `y = relu(x @ w + b)` and `z = y + skip`, with `x: f32[batch,2]`, `skip: f32[batch,3]`.
fn mlp() -> Graph {
    let mut g = Graph::new("mlp");
    let x = g.add_input("x", TensorType::new(DType::F32, sym(&["batch", "2"])));
    let skip = g.add_input("skip", TensorType::new(DType::F32, sym(&["batch", "3"])));
    let w = g.add_const("w", f32t(&[2, 3], &[1., 0., -1., 0., 1., 1.]));
    let b = g.add_const("b", f32t(&[3], &[0.5, -0.5, 0.]));
    let ty = TensorType::new(DType::F32, sym(&["batch", "3"]));
    let mm = g.add_value("mm", ty.clone());
    g.push_node("matmul", Op::MatMul, vec![x, w], vec![mm]);
    let add = g.add_value("add", ty.clone());
    g.push_node("add", Op::Binary(BinaryOp::Add), vec![mm, b], vec![add]);
    let y = g.add_value("y", ty.clone());
    g.push_node("relu", Op::Unary(UnaryOp::Relu), vec![add], vec![y]);
    let z = g.add_value("z", ty);
    g.push_node(
        "residual",
        Op::Binary(BinaryOp::Add),
        vec![y, skip],
        vec![z],
    );
    g.outputs = vec![y, z];
    g
}

fn read(t: &Tensor) -> Vec<f32> {
    t.view::<f32>().unwrap().into_owned()
}

#[test]
fn runs_with_names_or_ids() {
    let g = mlp();
    let x = f32t(&[2, 2], &[1., 2., 3., -4.]);
    let skip = f32t(&[2, 3], &[10., 10., 10., 20., 20., 20.]);
    let out = run_graph(
        &g,
        &[("x".into(), x.clone()), ("skip".into(), skip.clone())],
    )
    .unwrap();
    // x@w = [[1,2,1],[3,-4,-7]] + b = [[1.5,1.5,1],[3.5,-4.5,-7]] → relu
    assert_eq!(read(&out[0]), vec![1.5, 1.5, 1., 3.5, 0., 0.]);
    assert_eq!(read(&out[1]), vec![11.5, 11.5, 11., 23.5, 20., 20.]);
    let ids = [
        (InputKey::Id(g.inputs[1]), skip),
        (InputKey::Id(g.inputs[0]), x),
    ];
    assert_eq!(read(&run_graph(&g, &ids).unwrap()[1]), read(&out[1]));
}

fn err(g: &Graph, inputs: Vec<(&str, Tensor)>) -> String {
    let inputs: Vec<(InputKey, Tensor)> = inputs.into_iter().map(|(n, t)| (n.into(), t)).collect();
    run_graph(g, &inputs).unwrap_err().to_string()
}

#[test]
fn input_validation_messages() {
    let g = mlp();
    let x = f32t(&[2, 2], &[0.; 4]);
    let skip = f32t(&[2, 3], &[0.; 6]);
    assert_eq!(
        err(&g, vec![("x", x.clone())]),
        "input 'skip': missing (expected f32[batch,3])"
    );
    assert_eq!(
        err(
            &g,
            vec![
                ("x", x.clone()),
                ("skip", skip.clone()),
                ("extra", x.clone())
            ]
        ),
        "the graph has no input named 'extra'"
    );
    assert_eq!(
        err(&g, vec![("x", x.clone()), ("x", x.clone())]),
        "input 'x': given more than once"
    );
    let xi = Tensor::from_vec(vec![2, 2], vec![0i64; 4]).unwrap();
    assert_eq!(
        err(&g, vec![("x", xi), ("skip", skip.clone())]),
        "input 'x': expected f32[batch,2], got i64[2, 2]"
    );
    let x3 = f32t(&[2, 2, 1], &[0.; 4]);
    assert_eq!(
        err(&g, vec![("x", x3), ("skip", skip.clone())]),
        "input 'x': expected f32[batch,2], got f32[2, 2, 1]"
    );
    let xw = f32t(&[2, 5], &[0.; 10]);
    assert_eq!(
        err(&g, vec![("x", xw), ("skip", skip.clone())]),
        "input 'x': expected f32[batch,2], got f32[2, 5] (dim 1 differs)"
    );
    let skip3 = f32t(&[3, 3], &[0.; 9]);
    assert_eq!(
        err(&g, vec![("x", x.clone()), ("skip", skip3)]),
        "input 'skip': expected f32[batch,3], got f32[3, 3]: dim 0 is 'batch' = 3, but input 'x' has 'batch' = 2"
    );
    let opaque = Tensor::opaque(DType::F32, vec![2, 2], 7);
    assert_eq!(
        err(&g, vec![("x", opaque), ("skip", skip)]),
        "input 'x': the given tensor has no data"
    );
}

#[test]
fn op_errors_name_the_node() {
    let mut g = Graph::new("bad");
    let x = g.add_input("x", TensorType::new(DType::F32, sym(&["n"])));
    let i = g.add_const("idx", Tensor::from_vec(vec![1], vec![5i64]).unwrap());
    let y = g.add_value("y", TensorType::new(DType::F32, sym(&["1"])));
    g.push_node("gather_7", Op::Gather { axis: 0 }, vec![x, i], vec![y]);
    g.outputs = vec![y];
    let e = run_graph(&g, &[("x".into(), f32t(&[3], &[1., 2., 3.]))]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "node 'gather_7': Gather: index 5 is out of range for axis 0 of size 3"
    );
    assert!(matches!(e, RefError::Node { .. }));
}

#[test]
fn opaque_constants_and_contradicting_types_are_errors() {
    let mut g = Graph::new("opaque");
    let x = g.add_input("x", TensorType::new(DType::F32, sym(&["2"])));
    let w = g.add_const("big_weight", Tensor::opaque(DType::F32, vec![2], 42));
    let y = g.add_value("y", TensorType::new(DType::F32, sym(&["2"])));
    g.push_node("mul", Op::Binary(BinaryOp::Mul), vec![x, w], vec![y]);
    g.outputs = vec![y];
    let e = run_graph(&g, &[("x".into(), f32t(&[2], &[1., 2.]))]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "node 'mul': constant 'big_weight' has no data (it was read back from text IR by fingerprint); the reference interpreter needs real data"
    );

    let mut g = Graph::new("lying");
    let x = g.add_input("x", TensorType::new(DType::F32, sym(&["n"])));
    let y = g.add_value("y", TensorType::new(DType::Bool, sym(&["n"])));
    g.push_node("neg", Op::Unary(UnaryOp::Neg), vec![x], vec![y]);
    g.outputs = vec![y];
    let e = run_graph(&g, &[("x".into(), f32t(&[2], &[1., 2.]))]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "graph: node 'neg' (Neg) output 'y': expected bool[n], got f32[2]"
    );
}

#[test]
fn intermediates_are_freed_after_last_use() {
    // A chain of 20 Neg nodes on a 1 MiB tensor: peak must stay near two tensors, not twenty.
    let n = 1 << 18;
    let mut g = Graph::new("chain");
    let ty = TensorType::known(DType::F32, &[n]);
    let mut v = g.add_input("x", ty.clone());
    for i in 0..20 {
        let o = g.add_value(format!("v{i}"), ty.clone());
        g.push_node(format!("neg{i}"), Op::Unary(UnaryOp::Neg), vec![v], vec![o]);
        v = o;
    }
    g.outputs = vec![v];
    let (out, stats) =
        run_graph_with_stats(&g, &[("x".into(), f32t(&[n], &vec![1.0; n]))]).unwrap();
    assert_eq!(read(&out[0])[0], 1.0);
    assert_eq!(stats.total_output_bytes, 20 * 4 * n);
    assert_eq!(stats.peak_live_bytes, 2 * 4 * n);
}

#[test]
fn graph_output_can_be_an_input_or_a_constant() {
    let mut g = Graph::new("passthrough");
    let x = g.add_input("x", TensorType::known(DType::F32, &[1]));
    let c = g.add_const("c", f32t(&[1], &[9.]));
    g.outputs = vec![x, c];
    let out = run_graph(&g, &[("x".into(), f32t(&[1], &[3.]))]).unwrap();
    assert_eq!((read(&out[0]), read(&out[1])), (vec![3.], vec![9.]));
}
