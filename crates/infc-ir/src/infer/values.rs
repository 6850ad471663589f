//! Symbolic values of small integer tensors ("shape arithmetic").
//!
//! Exporters compute shapes at run time: `Shape → Gather → Unsqueeze → Concat → Reshape`,
//! `Range(0, seq, 1)`, `Where(Equal(shape, -1), 1, shape) → Expand`. To give such Reshapes and
//! Expands real output dims before binding, inference tracks the *elements* of every small (rank ≤ 1,
//! ≤ [`MAX_FACT_ELEMS`] elements) integer or bool tensor it can: each element is a known integer, a
//! symbolic dim (`batch`, taken from a `Shape` op), or unknown. These facts live in a [`ValueFacts`]
//! side table that [`super::infer_graph`] and the importer carry from node to node; constants supply
//! their own data. Arithmetic on symbols is only simplified where exact (`a+0`, `a·1`, `a/1`,
//! `a == a`, `a == negative` is false since dims are ≥ 0); anything else is unknown.

use super::Cx;
use crate::{BinaryOp, DType, Dim, IrError, Op, SecondaryMap, TensorType, Value, ValueId};
use std::sync::Arc;

/// Largest tensor whose elements are tracked.
pub const MAX_FACT_ELEMS: usize = 64;

/// One tracked element of a small integer tensor.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SymInt {
    Int(i64),
    /// A dim's size (non-negative), named like the dim.
    Sym(Arc<str>),
    Unknown,
}

impl SymInt {
    pub fn from_dim(d: &Dim) -> SymInt {
        match d {
            Dim::Known(n) => i64::try_from(*n).map_or(SymInt::Unknown, SymInt::Int),
            Dim::Sym(s) => SymInt::Sym(s.clone()),
        }
    }
    pub fn int(&self) -> Option<i64> {
        match self {
            SymInt::Int(v) => Some(*v),
            _ => None,
        }
    }
}

impl std::fmt::Display for SymInt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SymInt::Int(v) => write!(f, "{v}"),
            SymInt::Sym(s) => f.write_str(s),
            SymInt::Unknown => f.write_str("?"),
        }
    }
}

/// `[1, batch, ?]`
pub fn fmt_elems(v: &[SymInt]) -> String {
    let parts: Vec<String> = v.iter().map(|e| e.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// Tracked elements per value (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct ValueFacts {
    map: SecondaryMap<Value, Vec<SymInt>>,
}

impl ValueFacts {
    pub fn new() -> ValueFacts {
        ValueFacts::default()
    }
    pub fn get(&self, v: ValueId) -> Option<&[SymInt]> {
        self.map.get(v).map(Vec::as_slice)
    }
    pub fn insert(&mut self, v: ValueId, elems: Vec<SymInt>) {
        self.map.insert(v, elems);
    }
}

impl Cx<'_> {
    /// Elements of input `i`: tracked facts, or the data of an integer/bool constant.
    pub fn sym_ints(&self, i: usize) -> Result<Option<Vec<SymInt>>, IrError> {
        let Some(&v) = self.inputs.get(i) else {
            return Ok(None);
        };
        if let Some(f) = self.facts.get(v) {
            return Ok(Some(f.to_vec()));
        }
        match self.konst(i) {
            Some(t) if t.dtype.is_integer() || t.dtype == DType::Bool => Ok(Some(
                t.to_i64_vec()
                    .map_err(|e| self.err(format!("input {i}: {e}")))?
                    .into_iter()
                    .map(SymInt::Int)
                    .collect(),
            )),
            _ => Ok(None),
        }
    }

    /// Like [`Cx::sym_ints`] but only for tensors small enough to track.
    fn small(&self, i: usize) -> Result<Option<Vec<SymInt>>, IrError> {
        if self.ty(i).shape.numel().is_none_or(|n| n > MAX_FACT_ELEMS) {
            return Ok(None);
        }
        self.sym_ints(i)
    }
}

/// Elements of output 0, if it is a small integer/bool tensor whose elements can be derived.
pub(super) fn eval(cx: &Cx, out: &TensorType) -> Result<Option<Vec<SymInt>>, IrError> {
    let trackable = (out.dtype.is_integer() || out.dtype == DType::Bool) && out.rank() <= 1;
    let Some(n) = out
        .shape
        .numel()
        .filter(|&n| trackable && n <= MAX_FACT_ELEMS)
    else {
        return Ok(None);
    };
    let r = match cx.op {
        Op::Shape { .. } => {
            let dims = &cx.ty(0).shape.0;
            let r = dims.len() as i64;
            let (start, end) = match cx.op {
                Op::Shape { start, end } => (*start, end.unwrap_or(r)),
                _ => unreachable!(),
            };
            let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
            let (s, e) = (clamp(start), clamp(end));
            Some(dims[s..e.max(s)].iter().map(SymInt::from_dim).collect())
        }
        Op::Identity
        | Op::Dropout
        | Op::Unsqueeze { .. }
        | Op::Squeeze { .. }
        | Op::Reshape { .. }
        | Op::Flatten { .. } => cx.small(0)?,
        Op::Cast { to } => cx.small(0)?.map(|v| {
            if *to == DType::Bool {
                v.into_iter()
                    .map(|e| match e {
                        SymInt::Int(x) => SymInt::Int((x != 0) as i64),
                        _ => SymInt::Unknown,
                    })
                    .collect()
            } else {
                v
            }
        }),
        Op::Expand => cx
            .small(0)?
            .filter(|v| v.len() == 1)
            .map(|v| vec![v[0].clone(); n]),
        Op::Concat { .. } => {
            let mut all = Vec::with_capacity(n);
            let mut any = false;
            for i in 0..cx.inputs.len() {
                match cx.small(i)? {
                    Some(v) => {
                        any = true;
                        all.extend(v);
                    }
                    None => all.extend(std::iter::repeat_n(
                        SymInt::Unknown,
                        cx.ty(i).shape.numel().unwrap_or(0),
                    )),
                }
            }
            any.then_some(all)
        }
        Op::Gather { .. } => match (cx.small(0)?, cx.sym_ints(1)?) {
            (Some(data), Some(idx)) if cx.ty(0).rank() == 1 => {
                let len = data.len() as i64;
                let pick = |e: &SymInt| match e.int() {
                    Some(i) if (-len..len).contains(&i) => {
                        data[(if i < 0 { i + len } else { i }) as usize].clone()
                    }
                    _ => SymInt::Unknown,
                };
                Some(idx.iter().map(pick).collect())
            }
            _ => None,
        },
        Op::Slice => slice(cx)?,
        Op::Binary(b) => match (cx.small(0)?, cx.small(1)?) {
            (None, None) => None,
            (a, b2) => {
                let a =
                    a.unwrap_or_else(|| vec![SymInt::Unknown; cx.ty(0).shape.numel().unwrap_or(n)]);
                let b2 = b2
                    .unwrap_or_else(|| vec![SymInt::Unknown; cx.ty(1).shape.numel().unwrap_or(n)]);
                zip_broadcast(&a, &b2, n)
                    .map(|pairs| pairs.into_iter().map(|(x, y)| binary(*b, x, y)).collect())
            }
        },
        Op::Where => match (cx.small(0)?, cx.small(1)?, cx.small(2)?) {
            (Some(c), a, b) => {
                let a = a.unwrap_or_else(|| vec![SymInt::Unknown; n]);
                let b = b.unwrap_or_else(|| vec![SymInt::Unknown; n]);
                let pick = |i: usize| -> SymInt {
                    let at = |v: &[SymInt]| {
                        if v.len() == 1 {
                            v[0].clone()
                        } else {
                            v.get(i).cloned().unwrap_or(SymInt::Unknown)
                        }
                    };
                    match at(&c).int() {
                        Some(0) => at(&b),
                        Some(_) => at(&a),
                        None => SymInt::Unknown,
                    }
                };
                Some((0..n).map(pick).collect())
            }
            _ => None,
        },
        Op::ConstantOfShape { dtype, value_bits }
            if dtype.is_integer() || *dtype == DType::Bool =>
        {
            Some(vec![SymInt::Int(f64::from_bits(*value_bits) as i64); n])
        }
        Op::Range => match (cx.sym_ints(0)?, cx.sym_ints(2)?) {
            (Some(s), Some(d)) if cx.ty(0).dtype.is_integer() => match (s[0].int(), d[0].int()) {
                (Some(s), Some(d)) => Some((0..n as i64).map(|i| SymInt::Int(s + i * d)).collect()),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    };
    Ok(r.filter(|v| v.len() == n))
}

/// Pairs of elements under 1-D broadcasting (scalar or length-1 against length n).
fn zip_broadcast(a: &[SymInt], b: &[SymInt], n: usize) -> Option<Vec<(SymInt, SymInt)>> {
    let at = |v: &[SymInt], i: usize| {
        if v.len() == 1 {
            Some(v[0].clone())
        } else {
            v.get(i).cloned()
        }
    };
    (0..n).map(|i| Some((at(a, i)?, at(b, i)?))).collect()
}

fn binary(op: BinaryOp, a: SymInt, b: SymInt) -> SymInt {
    use SymInt::*;
    let bool_ = |v: bool| Int(v as i64);
    match (&a, &b) {
        (Int(x), Int(y)) => {
            let (x, y) = (*x, *y);
            let v = match op {
                BinaryOp::Add => x.checked_add(y),
                BinaryOp::Sub => x.checked_sub(y),
                BinaryOp::Mul => x.checked_mul(y),
                BinaryOp::Div => x.checked_div(y),
                BinaryOp::Pow => u32::try_from(y).ok().and_then(|y| x.checked_pow(y)),
                BinaryOp::Max => Some(x.max(y)),
                BinaryOp::Min => Some(x.min(y)),
                BinaryOp::Equal => Some((x == y) as i64),
                BinaryOp::Less => Some((x < y) as i64),
                BinaryOp::LessOrEqual => Some((x <= y) as i64),
                BinaryOp::Greater => Some((x > y) as i64),
                BinaryOp::GreaterOrEqual => Some((x >= y) as i64),
                BinaryOp::And => Some((x != 0 && y != 0) as i64),
                BinaryOp::Or => Some((x != 0 || y != 0) as i64),
                BinaryOp::Xor => Some(((x != 0) != (y != 0)) as i64),
                BinaryOp::Mod => x.checked_rem(y).map(|r| {
                    if r != 0 && (r < 0) != (y < 0) {
                        r + y
                    } else {
                        r
                    }
                }),
                BinaryOp::FMod => x.checked_rem(y),
            };
            v.map_or(Unknown, Int)
        }
        (Sym(_), Int(0)) if matches!(op, BinaryOp::Add | BinaryOp::Sub) => a,
        (Int(0), Sym(_)) if op == BinaryOp::Add => b,
        (Sym(_), Int(1)) if matches!(op, BinaryOp::Mul | BinaryOp::Div) => a,
        (Int(1), Sym(_)) if op == BinaryOp::Mul => b,
        (Sym(x), Sym(y)) if x == y => match op {
            BinaryOp::Equal | BinaryOp::LessOrEqual | BinaryOp::GreaterOrEqual => bool_(true),
            BinaryOp::Less | BinaryOp::Greater => bool_(false),
            BinaryOp::Max | BinaryOp::Min => a,
            BinaryOp::Sub => Int(0),
            _ => Unknown,
        },
        // Dims are non-negative: never equal to a negative number.
        (Sym(_), Int(v)) | (Int(v), Sym(_)) if *v < 0 && op == BinaryOp::Equal => bool_(false),
        _ => Unknown,
    }
}

fn slice(cx: &Cx) -> Result<Option<Vec<SymInt>>, IrError> {
    let (Some(data), Some(s), Some(e), Some(ax), Some(st)) = (
        cx.small(0)?,
        cx.sym_ints(1)?,
        cx.sym_ints(2)?,
        cx.sym_ints(3)?,
        cx.sym_ints(4)?,
    ) else {
        return Ok(None);
    };
    if cx.ty(0).rank() != 1 || s.len() != 1 || e.len() != 1 || ax.len() != 1 || st.len() != 1 {
        return Ok(None);
    }
    let (Some(s), Some(e), Some(_), Some(st)) = (s[0].int(), e[0].int(), ax[0].int(), st[0].int())
    else {
        return Ok(None);
    };
    if st == 0 {
        return Ok(None);
    }
    let d = data.len() as i64;
    let norm = |v: i64| if v < 0 { v.saturating_add(d) } else { v };
    let mut out = Vec::new();
    if st > 0 {
        let (mut i, end) = (norm(s).clamp(0, d), norm(e).clamp(0, d));
        while i < end {
            out.push(data[i as usize].clone());
            i += st;
        }
    } else {
        let (mut i, end) = (norm(s).clamp(0, d - 1), norm(e).clamp(-1, d - 1));
        while i > end && i >= 0 {
            out.push(data[i as usize].clone());
            i += st;
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use crate::infer::test_util::ty;
    use crate::infer::{infer_graph, ValueFacts};
    use crate::{BinaryOp, Graph, Op, Tensor};

    /// GPT-2-style shape arithmetic: Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1, 12, 64])).
    #[test]
    fn shape_chain_resolves_to_symbols() {
        let mut g = Graph::new("t");
        let x = g.add_input("x", ty("f32[batch,seq,768]"));
        let zero = g.add_const("zero", Tensor::scalar(0i64));
        let one = g.add_const("one", Tensor::scalar(1i64));
        let tail = g.add_const(
            "tail",
            Tensor::from_vec(vec![3], vec![-1i64, 12, 64]).unwrap(),
        );
        let v = |g: &mut Graph, name: &str, op: Op, ins: Vec<_>| {
            let o = g.add_value(name, ty("f32[1]"));
            g.push_node(name, op, ins, vec![o]);
            o
        };
        let s = v(
            &mut g,
            "shape",
            Op::Shape {
                start: 0,
                end: None,
            },
            vec![x],
        );
        let b = v(&mut g, "gather", Op::Gather { axis: 0 }, vec![s, zero]);
        let b1 = v(&mut g, "unsq", Op::Unsqueeze { axes: vec![0] }, vec![b]);
        let spec = v(&mut g, "concat", Op::Concat { axis: 0 }, vec![b1, tail]);
        let y = v(
            &mut g,
            "reshape",
            Op::Reshape { allowzero: false },
            vec![x, spec],
        );
        let seq = v(&mut g, "gather2", Op::Gather { axis: 0 }, vec![s, one]);
        let r = v(&mut g, "range", Op::Range, vec![zero, seq, one]);
        let m1 = g.add_const("m1", Tensor::scalar(-1i64));
        let eq = v(&mut g, "eq", Op::Binary(BinaryOp::Equal), vec![spec, m1]);
        let w = v(&mut g, "where", Op::Where, vec![eq, one, spec]);
        let ones = g.add_input("ones", ty("f32[1,1]"));
        let e = v(&mut g, "expand", Op::Expand, vec![ones, w]);
        infer_graph(&mut g).unwrap();
        assert_eq!(g.ty(e).to_string(), "f32[batch,1,12,64]");
        assert_eq!(g.ty(y).to_string(), "f32[batch,seq,12,64]");
        assert_eq!(g.ty(r).to_string(), "i64[seq]");
        assert_eq!(g.ty(eq).to_string(), "bool[4]");
        let _ = ValueFacts::new();
    }
}
