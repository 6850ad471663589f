//! Zero-size tensors run end to end (issue 19, row 12): `models/errors/zero_size.onnx` (written by
//! `models/errors/zero_size.py`) holds one small case per op family on tensors with a zero dim —
//! MatMul/Gemm with k = 0, Conv with c_in = 0 or batch 0, reductions over an empty axis, empty
//! elementwise, softmax, norm, pooling and movement ops. It is imported, compiled at every `-O`
//! level and run on every ISA path; every output must equal the reference interpreter's (NaN
//! where it is NaN, ±∞ exactly), and the reference gives the values ONNX defines. Compiled
//! plans failed with `f32 view: TargetAlignmentGreaterAndInputNotAligned` (a dangling empty
//! slice), or read past the arena for a reduction with no output rows.

use infc::ir::{DType, Graph, Tensor};
use infc::passes::OptLevel;
use infc_conformance::plan::{isas_under_test, lower, optimise, run_plan};
use std::path::Path;

fn model() -> Graph {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/errors/zero_size.onnx");
    infc::import(&path).expect("zero_size.onnx imports")
}

/// Deterministic inputs: f32 `0.37·i − 1`, alternating bools, zero indices.
fn inputs(g: &Graph) -> Vec<(String, Tensor)> {
    g.inputs
        .iter()
        .map(|&v| {
            let ty = g.ty(v);
            let dims = ty.shape.as_known().expect("static shapes");
            let n: usize = dims.iter().product();
            let t = match ty.dtype {
                DType::F32 => {
                    Tensor::from_vec(dims, (0..n).map(|i| 0.37 * i as f32 - 1.0).collect())
                }
                DType::Bool => {
                    Tensor::from_bools(dims, &(0..n).map(|i| i % 2 == 0).collect::<Vec<_>>())
                }
                DType::I64 => Tensor::from_vec(dims, vec![0i64; n]),
                d => panic!("no input of type {d} in the model"),
            };
            (g.value(v).name.clone(), t.expect("input tensor"))
        })
        .collect()
}

/// Exactly equal (NaN to NaN, ±∞ to the same infinity) or within the project tolerance.
fn same(what: &str, got: &Tensor, want: &Tensor) -> Result<(), String> {
    if got.shape != want.shape || got.dtype != want.dtype {
        return Err(format!(
            "{what}: {} {:?}, expected {} {:?}",
            got.dtype, got.shape, want.dtype, want.shape
        ));
    }
    let (g, w) = (got.to_f64_vec().unwrap(), want.to_f64_vec().unwrap());
    let exact = g
        .iter()
        .zip(&w)
        .all(|(a, b)| a == b || (a.is_nan() && b.is_nan()));
    if exact {
        return Ok(());
    }
    infc_conformance::compare(what, got, want).map(|_| ())
}

fn reference(g: &Graph) -> Vec<Tensor> {
    let ins: Vec<_> = inputs(g)
        .into_iter()
        .map(|(n, t)| (n.as_str().into(), t))
        .collect();
    infc::reference::run_graph(g, &ins).expect("the reference runs")
}

fn output<'a>(g: &Graph, outs: &'a [Tensor], name: &str) -> &'a Tensor {
    let i = g
        .outputs
        .iter()
        .position(|&v| g.value(v).name == name)
        .unwrap_or_else(|| panic!("no output {name}"));
    &outs[i]
}

/// The reference gives the values ONNX defines for the degenerate cases.
#[test]
fn reference_gives_identities_and_biases() {
    let g = model();
    let outs = reference(&g);
    let values = |name: &str| output(&g, &outs, name).to_f64_vec().unwrap();
    let inf = f64::INFINITY;
    assert_eq!(values("matmul_k0_y"), [0.0; 6]);
    assert_eq!(values("matmul_k0_input_y"), [0.0; 6]);
    assert_eq!(values("gemm_k0_bias_y"), [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
    let conv = values("conv_cin0_y");
    assert_eq!(conv.len(), 4 * 25);
    assert!(conv
        .iter()
        .enumerate()
        .all(|(i, &v)| v == (i / 25 + 1) as f64));
    assert_eq!(values("reducesum_empty_axis_y"), [0.0; 3]);
    assert_eq!(values("reduceprod_empty_axis_y"), [1.0; 3]);
    assert_eq!(values("reducemax_empty_axis_y"), [-inf; 3]);
    assert_eq!(values("reducemin_empty_axis_y"), [inf; 3]);
    assert!(values("reducemean_empty_axis_y").iter().all(|v| v.is_nan()));
    assert_eq!(values("reducesum_all_empty_y"), [0.0]);
    for name in [
        "relu_empty_y",
        "matmul_m0_y",
        "conv_batch0_y",
        "softmax_rows0_y",
    ] {
        assert!(values(name).is_empty(), "{name}");
    }
}

/// Every `-O` level, every ISA path: the compiled plan equals the reference on every output.
#[test]
fn zero_size_tensors_compile_and_run_like_the_reference() {
    let original = model();
    let want = reference(&original);
    let ins = inputs(&original);
    for level in [OptLevel::O0, OptLevel::O1, OptLevel::O2, OptLevel::O3] {
        let mut g = original.clone();
        optimise(&mut g, level).unwrap_or_else(|e| panic!("{level:?}: {e}"));
        let plan = lower(&g).unwrap_or_else(|e| panic!("{level:?}: {e}"));
        for isa in isas_under_test() {
            let got =
                run_plan(&plan, isa, &ins).unwrap_or_else(|e| panic!("{level:?} {isa:?}: {e}"));
            assert_eq!(got.len(), want.len());
            for (i, (o, w)) in got.iter().zip(&want).enumerate() {
                let name = &original.value(original.outputs[i]).name;
                same(&format!("{level:?} {isa:?} {name}"), o, w).unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }
}
