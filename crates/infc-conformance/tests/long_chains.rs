//! Long chains compile and run (issue 19, row 8): every pass of the `-O` pipelines (with the
//! verifier after each), lowering, memory planning, plan validation and the run are linear or
//! n·log n in the chain length. Identity elimination, CSE and constant folding (a full scan per
//! replaced value), the fusion passes' matcher (rebuilt after every rewrite), the alias roots and
//! best-fit placement each took time quadratic in the length (200 000 Identities compiled in
//! 35 s, 50 000 Transposes in minutes at -O3); these tests finish only because they no longer do.

use infc::ir::{BinaryOp, Op, Tensor, UnaryOp, ValueId};
use infc::passes::OptLevel;
use infc::Isa;
use infc_conformance::fuzz::Builder;
use infc_conformance::plan::{lower, optimise, run_plan};

fn run_at(b: &Builder, level: OptLevel, x: &Tensor) -> Vec<f64> {
    let mut g = b.g.clone();
    optimise(&mut g, level).unwrap_or_else(|e| panic!("{level:?}: {e}"));
    let plan = lower(&g).unwrap();
    let mut out = run_plan(&plan, Isa::detect(), &[("x".into(), x.clone())]).unwrap();
    out.remove(0).to_f64_vec().unwrap()
}

fn input(dims: &[usize]) -> Tensor {
    let n = dims.iter().product::<usize>();
    Tensor::from_vec(dims.to_vec(), (0..n).map(|i| i as f32 - 2.5).collect()).unwrap()
}

/// `n` nodes, node `k` built by `op(k)` on the previous output.
fn chain(dims: &[usize], n: usize, op: impl Fn(usize) -> Op) -> Builder {
    let mut b = Builder::new("chain");
    let mut v: ValueId = b.input("x", dims);
    for k in 0..n {
        v = b.node(op(k), &[v]);
    }
    b.g.outputs.push(v);
    b
}

#[test]
fn a_50000_identity_chain_compiles_and_runs_at_every_level() {
    let b = chain(&[2, 3], 50_000, |_| Op::Identity);
    let x = input(&[2, 3]);
    for level in [OptLevel::O0, OptLevel::O3] {
        assert_eq!(run_at(&b, level, &x), x.to_f64_vec().unwrap(), "{level:?}");
    }
}

#[test]
fn a_20000_transpose_chain_compiles_and_runs_at_every_level() {
    // -O0: 20 000 Copy steps, planned and validated; -O3: folded away pair by pair.
    let b = chain(&[2, 3], 20_000, |_| Op::Transpose { perm: vec![1, 0] });
    let x = input(&[2, 3]);
    for level in [OptLevel::O0, OptLevel::O3] {
        assert_eq!(run_at(&b, level, &x), x.to_f64_vec().unwrap(), "{level:?}");
    }
}

#[test]
fn a_40000_chain_of_aliases_and_in_place_relus_compiles_and_runs() {
    let b = chain(&[2, 3], 40_000, |k| {
        if k % 2 == 0 {
            Op::Unary(UnaryOp::Relu)
        } else {
            Op::Identity
        }
    });
    let x = input(&[2, 3]);
    let want: Vec<f64> = x.to_f64_vec().unwrap().iter().map(|v| v.max(0.0)).collect();
    assert_eq!(run_at(&b, OptLevel::O0, &x), want);
}

#[test]
fn twenty_thousand_copies_of_one_node_merge_and_a_constant_chain_folds() {
    // x + relu(x) + relu(x) + … with 20 000 separate relu(x) nodes for CSE to merge, plus a
    // 20 000-node chain on a constant for folding.
    let n = 20_000;
    let mut b = Builder::new("wide");
    let x = b.input("x", &[2, 3]);
    let mut c = b.f32s(&[2, 3], vec![0.5; 6]);
    for _ in 0..n {
        c = b.unary(UnaryOp::Relu, c);
    }
    let mut v = b.binary(BinaryOp::Add, x, c);
    for _ in 0..n {
        let r = b.unary(UnaryOp::Relu, x);
        v = b.binary(BinaryOp::Add, v, r);
    }
    b.g.outputs.push(v);
    let x = input(&[2, 3]);
    let want: Vec<f64> = x
        .to_f64_vec()
        .unwrap()
        .iter()
        .map(|&e| {
            let (e, r) = (e as f32, (e as f32).max(0.0));
            (0..n).fold(e + 0.5, |acc, _| acc + r) as f64
        })
        .collect();
    for level in [OptLevel::O1, OptLevel::O3] {
        assert_eq!(run_at(&b, level, &x), want, "{level:?}");
    }
}
