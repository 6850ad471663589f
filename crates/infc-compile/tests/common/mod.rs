//! Shared helpers for the compile tests: a tiny graph builder over `infc_ir::Graph` (types from
//! `infc_ir::infer_node`), seeded input data, and the differential check
//! reference interpreter vs compile + runtime on the portable and the best ISA.

#![allow(dead_code)]

use infc_compile::{compile, CompileOptions};
use infc_ir::{DType, Graph, Op, Tensor, TensorType, ValueId};
use infc_runtime::{Isa, Session, SessionOptions, TensorView};

pub struct B {
    pub g: Graph,
    n: usize,
}

impl B {
    pub fn new() -> B {
        B {
            g: Graph::new("test"),
            n: 0,
        }
    }
    pub fn input(&mut self, name: &str, dtype: DType, dims: &[usize]) -> ValueId {
        self.g.add_input(name, TensorType::known(dtype, dims))
    }
    pub fn f32c(&mut self, dims: &[usize], seed: u64) -> ValueId {
        let n: usize = dims.iter().product();
        self.n += 1;
        self.g.add_const(
            format!("c{}", self.n),
            Tensor::from_vec(dims.to_vec(), rand_f32(n, seed)).unwrap(),
        )
    }
    pub fn f32v(&mut self, dims: &[usize], vals: Vec<f32>) -> ValueId {
        self.n += 1;
        self.g.add_const(
            format!("c{}", self.n),
            Tensor::from_vec(dims.to_vec(), vals).unwrap(),
        )
    }
    pub fn i64c(&mut self, dims: &[usize], vals: Vec<i64>) -> ValueId {
        self.n += 1;
        self.g.add_const(
            format!("c{}", self.n),
            Tensor::from_vec(dims.to_vec(), vals).unwrap(),
        )
    }
    /// Append a node; returns its outputs.
    pub fn node(&mut self, op: Op, inputs: &[ValueId]) -> Vec<ValueId> {
        self.n += 1;
        let name = format!("n{}_{}", self.n, op.name());
        let tys =
            infc_ir::infer_node(&self.g, &op, inputs).unwrap_or_else(|e| panic!("{name}: {e}"));
        let outs: Vec<ValueId> = tys
            .into_iter()
            .enumerate()
            .map(|(i, t)| self.g.add_value(format!("{name}:{i}"), t))
            .collect();
        self.g.push_node(name, op, inputs.to_vec(), outs.clone());
        outs
    }
    pub fn one(&mut self, op: Op, inputs: &[ValueId]) -> ValueId {
        self.node(op, inputs)[0]
    }
    pub fn output(&mut self, v: ValueId) {
        self.g.outputs.push(v);
    }
}

pub fn rand_f32(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn plan_dtype(d: DType) -> infc_runtime::DType {
    match d {
        DType::F32 => infc_runtime::DType::F32,
        DType::F16 => infc_runtime::DType::F16,
        DType::I64 => infc_runtime::DType::I64,
        DType::I32 => infc_runtime::DType::I32,
        DType::I8 => infc_runtime::DType::I8,
        DType::U8 => infc_runtime::DType::U8,
        DType::Bool => infc_runtime::DType::Bool,
    }
}

/// Compile `g`, run it on the portable and the best ISA and compare every output with the
/// reference interpreter: max |err| ≤ 1e-4 + 1e-3·max|ref| (exact for integer/bool outputs).
pub fn check(g: &Graph, inputs: &[Tensor]) -> infc_compile::Plan {
    check_with(g, inputs, &CompileOptions::default())
}

pub fn check_with(g: &Graph, inputs: &[Tensor], opts: &CompileOptions) -> infc_compile::Plan {
    let ref_inputs: Vec<(infc_reference::InputKey, Tensor)> = g
        .inputs
        .iter()
        .zip(inputs)
        .map(|(&v, t)| (infc_reference::InputKey::from(v), t.clone()))
        .collect();
    let expected = infc_reference::run_graph(g, &ref_inputs).expect("reference runs");
    let plan = compile(g, opts).unwrap_or_else(|e| panic!("compile: {e}"));
    let bytes = plan.encode();
    let shapes: Vec<Vec<usize>> = inputs.iter().map(|t| t.shape.clone()).collect();
    for isa in [Isa::Portable, Isa::detect()] {
        let session = Session::from_bytes_with(
            &bytes,
            SessionOptions {
                isa: Some(isa),
                ..Default::default()
            },
        )
        .expect("plan loads");
        let views: Vec<(infc_runtime::InputKey<'_>, TensorView<'_>)> = inputs
            .iter()
            .enumerate()
            .map(|(i, t)| {
                (
                    i.into(),
                    TensorView::new(plan_dtype(t.dtype), &shapes[i], t.bytes().unwrap()),
                )
            })
            .collect();
        let got = session
            .run(&views)
            .unwrap_or_else(|e| panic!("run on {isa}: {e}"));
        assert_eq!(got.len(), expected.len());
        for (k, (gt, ex)) in got.iter().zip(&expected).enumerate() {
            assert_eq!(gt.shape, ex.shape, "output {k} shape on {isa}");
            assert_eq!(gt.dtype, plan_dtype(ex.dtype), "output {k} dtype on {isa}");
            let want = ex.to_f64_vec().unwrap();
            let have: Vec<f64> = gt.to_f32_vec().into_iter().map(|v| v as f64).collect();
            let have = if ex.dtype.is_float() {
                have
            } else {
                gt.to_i64_vec().into_iter().map(|v| v as f64).collect()
            };
            let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
            let tol = if ex.dtype.is_float() {
                1e-4 + 1e-3 * scale
            } else {
                0.0
            };
            let err = want.iter().zip(&have).fold(0f64, |m, (a, b)| {
                if a.is_nan() && b.is_nan() {
                    m
                } else {
                    m.max((a - b).abs())
                }
            });
            assert!(
                err <= tol,
                "output {k} ({}) on {isa}: max err {err} > {tol}\nwant {:?}\nhave {:?}",
                gt.name,
                &want[..want.len().min(8)],
                &have[..have.len().min(8)]
            );
        }
    }
    plan
}

pub fn f32_input(dims: &[usize], seed: u64) -> Tensor {
    Tensor::from_vec(dims.to_vec(), rand_f32(dims.iter().product(), seed)).unwrap()
}
