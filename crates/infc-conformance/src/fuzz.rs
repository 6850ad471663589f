//! Support shared by the differential fuzzers (`tests/attention_fuzz.rs`, `tests/fusion_fuzz/`):
//! owns the tiny graph [`Builder`] they write their exporter patterns with, and the case-count
//! knob [`cases_wanted`] (`INFC_FUZZ_CASES`).
//!
//! This is test support, and its only callers are tests: a graph the IR rejects is a bug in the
//! calling test, so [`Builder`] panics (with a message naming the node or constant) instead of
//! returning errors as the rest of this crate does.

use infc::ir::{BinaryOp, DType, Graph, IrError, Op, Tensor, TensorType, UnaryOp, ValueId};

/// A tiny graph builder: each node's output type comes from `infer_node`; nodes are named
/// `n<k>_<op>` and constants `c<k>` in the order they are added.
///
/// Panics when shape inference rejects a node or a constant's values do not fill its dims; the
/// message names the node (`n<k>_<op>`) or the constant (`c<k>`).
pub struct Builder {
    /// The graph built so far: push its outputs on `g.outputs` and take it when done.
    pub g: Graph,
    n: usize,
}

impl Builder {
    /// An empty graph named `name`.
    pub fn new(name: &str) -> Builder {
        Builder {
            g: Graph::new(name),
            n: 0,
        }
    }

    /// An f32 graph input of shape `dims`.
    pub fn input(&mut self, name: &str, dims: &[usize]) -> ValueId {
        self.typed_input(name, DType::F32, dims)
    }

    /// A graph input of element type `dtype` and shape `dims`.
    pub fn typed_input(&mut self, name: &str, dtype: DType, dims: &[usize]) -> ValueId {
        self.g.add_input(name, TensorType::known(dtype, dims))
    }

    /// Node `op` on `inputs`; its single output's type is inferred.
    pub fn node(&mut self, op: Op, inputs: &[ValueId]) -> ValueId {
        self.n += 1;
        let name = format!("n{}_{}", self.n, op.name());
        let tys =
            infc::ir::infer_node(&self.g, &op, inputs).unwrap_or_else(|e| panic!("{name}: {e}"));
        let out = self.g.add_value(format!("{name}:0"), tys[0].clone());
        self.g.push_node(name, op, inputs.to_vec(), vec![out]);
        out
    }

    /// A constant holding `t`.
    pub fn konst(&mut self, t: Tensor) -> ValueId {
        self.constant(Ok(t))
    }

    /// An f32 constant of shape `dims`.
    pub fn f32s(&mut self, dims: &[usize], v: Vec<f32>) -> ValueId {
        self.constant(Tensor::from_vec(dims.to_vec(), v))
    }

    /// A one-element f32 constant: a scalar, or shape `[1]` as dynamo writes them.
    pub fn scalar(&mut self, v: f32, rank1: bool) -> ValueId {
        let dims: &[usize] = if rank1 { &[1] } else { &[] };
        self.f32s(dims, vec![v])
    }

    /// A 1-D i64 constant (shapes, axes).
    pub fn i64s(&mut self, v: Vec<i64>) -> ValueId {
        self.constant(Tensor::from_vec(vec![v.len()], v))
    }

    /// A bool constant of shape `dims`.
    pub fn bools(&mut self, dims: &[usize], v: &[bool]) -> ValueId {
        self.constant(Tensor::from_bools(dims.to_vec(), v))
    }

    /// `a op b`.
    pub fn binary(&mut self, op: BinaryOp, a: ValueId, b: ValueId) -> ValueId {
        self.node(Op::Binary(op), &[a, b])
    }

    /// A commutative op with its operands in either order (`b op a` when `swap`).
    pub fn comm(&mut self, op: BinaryOp, a: ValueId, b: ValueId, swap: bool) -> ValueId {
        if swap {
            self.binary(op, b, a)
        } else {
            self.binary(op, a, b)
        }
    }

    /// `op(x)`.
    pub fn unary(&mut self, op: UnaryOp, x: ValueId) -> ValueId {
        self.node(Op::Unary(op), &[x])
    }

    fn constant(&mut self, t: Result<Tensor, IrError>) -> ValueId {
        self.n += 1;
        let name = format!("c{}", self.n);
        let t = t.unwrap_or_else(|e| panic!("{name}: {e}"));
        self.g.add_const(name, t)
    }
}

/// How many cases a fuzzer runs: `INFC_FUZZ_CASES` when set to a number, else `default`.
pub fn cases_wanted(default: u32) -> u32 {
    std::env::var("INFC_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
