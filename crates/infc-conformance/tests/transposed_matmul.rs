//! Transposes folded into matmul operands (`fold-transpose-matmul`) end to end: small text-IR graphs
//! with `MatMul(x, Transpose(y))` and friends — run-time and constant operands, 1-D to 4-D, batch
//! broadcasting, an epilogue — are optimised, compiled and run on every ISA path this CPU has; the
//! plan must match the reference interpreter on the original (unfolded) graph, and the optimised
//! graph must not contain the folded Transposes.

use infc::ir::{parse_graph, Graph, Op, Tensor};
use infc::passes::{pass_by_name, run_pipeline, OptLevel, Pass, PassCx};
use infc_conformance::compare;
use infc_conformance::plan::{isas_under_test, lower, optimise, run_plan};

/// What a test runs on its graph: some passes alone, or an `-O` level's pipeline (the facade's).
enum Passes {
    Only(Vec<Pass>),
    Level(OptLevel),
}

/// Seeded inputs in [-1, 1) for every (f32, known-shape) graph input.
fn inputs_for(g: &Graph, seed: u64) -> Vec<(String, Tensor)> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    g.inputs
        .iter()
        .map(|&v| {
            let dims = g
                .ty(v)
                .shape
                .as_known()
                .expect("test inputs have known shapes");
            let n: usize = dims.iter().product();
            let data: Vec<f32> = (0..n)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
                })
                .collect();
            let t = Tensor::from_vec(dims, data).expect("input tensor");
            (g.value(v).name.clone(), t)
        })
        .collect()
}

/// Optimise `text` with `passes`, check no Transpose is left and at least `folded` matmuls read
/// an operand transposed, then compare the compiled plan against the reference on the original.
fn check(text: &str, passes: Passes, folded: usize) {
    let original = parse_graph(text).unwrap_or_else(|e| panic!("{e}"));
    let inputs = inputs_for(&original, 7);
    let ref_inputs: Vec<_> = inputs
        .iter()
        .map(|(n, t)| (n.as_str().into(), t.clone()))
        .collect();
    let want = infc::reference::run_graph(&original, &ref_inputs).expect("reference runs");

    let mut g = original.clone();
    match passes {
        Passes::Only(passes) => {
            let mut cx = PassCx {
                verify_each: true,
                ..PassCx::new()
            };
            run_pipeline(&mut g, &passes, &mut cx, |_, _, _| {}).expect("passes run");
        }
        Passes::Level(level) => {
            optimise(&mut g, level).expect("passes run");
        }
    }
    let ops: Vec<&Op> = g.nodes.iter().map(|n| &n.op).collect();
    assert!(
        !ops.iter().any(|op| matches!(op, Op::Transpose { .. })),
        "a Transpose is left: {ops:?}"
    );
    let transposed = ops
        .iter()
        .filter(|op| {
            matches!(
                op,
                Op::FusedMatMul { trans_a, trans_b, .. } if *trans_a || *trans_b
            )
        })
        .count();
    assert_eq!(transposed, folded, "matmuls reading an operand transposed");

    let plan = lower(&g).unwrap_or_else(|e| panic!("{e}"));
    let steps: Vec<&str> = plan.body.steps.iter().map(|s| s.kind()).collect();
    assert!(
        !steps.contains(&"Copy"),
        "the transpose was materialised: {steps:?}"
    );
    for isa in isas_under_test() {
        let got = run_plan(&plan, isa, &inputs).unwrap_or_else(|e| panic!("{isa:?}: {e}"));
        assert_eq!(got.len(), want.len());
        for (k, (got, want)) in got.iter().zip(&want).enumerate() {
            compare(&format!("{isa:?} output {k}"), got, want).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

fn fold_only() -> Passes {
    let passes = ["fold-transpose-matmul", "dce"]
        .into_iter()
        .map(|n| pass_by_name(n).expect("pass exists"))
        .collect();
    Passes::Only(passes)
}

#[test]
fn run_time_b_transposed_2d_and_1d() {
    // Sizes off the microkernel tiles: m = 37, n = 45, k = 33.
    let text = r#"graph "t"(%x: f32[37,33], %y: f32[45,33], %v: f32[33]) {
  %0 = Transpose[perm=[1,0]](%y) : f32[33,45]  # "y_t"
  %a = MatMul(%x, %0) : f32[37,45]  # "mm"
  %b = MatMul(%v, %0) : f32[45]  # "vec_mm"
  return %a, %b
}"#;
    check(text, fold_only(), 2);
    check(text, Passes::Level(OptLevel::O3), 2);
}

#[test]
fn run_time_a_transposed_with_constant_b() {
    // A is stored [batch, k, m]: the batch cannot fold into m; B is a small constant packed as is.
    let text = r#"graph "t"(%x: f32[3,4,9]) {
  %w = const f32[4,2] [0.5, -1.0, 2.0, 0.25, 1.5, -0.75, 1.0, -2.0]
  %0 = Transpose[perm=[0,2,1]](%x) : f32[3,9,4]  # "x_t"
  %y = MatMul(%0, %w) : f32[3,9,2]  # "mm"
  return %y
}"#;
    check(text, fold_only(), 1);
    check(text, Passes::Level(OptLevel::O2), 1);
}

#[test]
fn constant_b_packed_transposed() {
    // Without constant folding first, the transposed constant is packed transposed at compile time
    // (and the batch of A folded into m).
    let text = r#"graph "t"(%x: f32[2,5,3]) {
  %w = const f32[4,3] [0.5, -1.0, 2.0, 0.25, 1.5, -0.75, 1.0, -2.0, 0.125, 3.0, -0.5, 0.75]
  %0 = Transpose[perm=[1,0]](%w) : f32[3,4]  # "w_t"
  %y = MatMul(%x, %0) : f32[2,5,4]  # "mm"
  return %y
}"#;
    check(text, fold_only(), 1);
}

#[test]
fn batched_scores_and_broadcast_4d_both_transposed() {
    let text = r#"graph "t"(%q: f32[2,5,8], %k: f32[2,9,8], %a: f32[2,3,4,5], %b: f32[1,3,6,4]) {
  %0 = Transpose[perm=[0,2,1]](%k) : f32[2,8,9]  # "k_t"
  %s = MatMul(%q, %0) : f32[2,5,9]  # "scores"
  %1 = Transpose[perm=[0,1,3,2]](%a) : f32[2,3,5,4]  # "a_t"
  %2 = Transpose[perm=[0,1,3,2]](%b) : f32[1,3,4,6]  # "b_t"
  %y = MatMul(%1, %2) : f32[2,3,5,6]  # "both"
  return %s, %y
}"#;
    check(text, fold_only(), 2);
    check(text, Passes::Level(OptLevel::O3), 2);
}

#[test]
fn fused_epilogue_with_transposed_b() {
    let text = r#"graph "t"(%x: f32[6,5], %y: f32[4,5]) {
  %bias = const f32[4] [0.1, -0.2, 0.3, -0.4]
  %0 = Transpose[perm=[1,0]](%y) : f32[5,4]  # "y_t"
  %f = FusedMatMul[epilogue=[bias,relu]](%x, %0, %bias) : f32[6,4]  # "fused"
  return %f
}"#;
    check(text, fold_only(), 1);
}
