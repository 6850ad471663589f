//! Numpy broadcasting and dim unification with symbolic dims.
//!
//! Decisions (symbols are assumed consistent with the model, which is what exporters produce):
//! - `1` broadcasts against anything; equal dims give themselves.
//! - known `n` (≠ 1) against a symbol gives `n`: the symbol must be `n` or `1` at run time, and either
//!   way the result is `n`. Binding later checks the symbol.
//! - two different symbols give the left one: exporters express a 1-vs-N broadcast with a literal 1,
//!   so differently named symbols meeting in a broadcast are equal in practice.
//! - two different known sizes, neither 1, are a contradiction.

use crate::{Dim, Shape};

/// Broadcast two dims; `None` on a contradiction (two different known sizes, neither 1).
pub fn broadcast_dim(a: &Dim, b: &Dim) -> Option<Dim> {
    match (a, b) {
        (Dim::Known(1), x) | (x, Dim::Known(1)) => Some(x.clone()),
        (Dim::Known(x), Dim::Known(y)) => (x == y).then_some(Dim::Known(*x)),
        (Dim::Known(n), Dim::Sym(_)) | (Dim::Sym(_), Dim::Known(n)) => Some(Dim::Known(*n)),
        (Dim::Sym(_), Dim::Sym(_)) => Some(a.clone()),
    }
}

/// Two dims that must be equal (matmul K, concat's other axes): known beats symbol, left symbol
/// beats right symbol; `None` when both are known and differ.
pub fn unify_dim(a: &Dim, b: &Dim) -> Option<Dim> {
    match (a, b) {
        (Dim::Known(x), Dim::Known(y)) => (x == y).then_some(Dim::Known(*x)),
        (Dim::Known(_), Dim::Sym(_)) => Some(a.clone()),
        (Dim::Sym(_), Dim::Known(_)) => Some(b.clone()),
        (Dim::Sym(_), Dim::Sym(_)) => Some(a.clone()),
    }
}

/// Numpy broadcast of several shapes (right-aligned). On a contradiction returns the offending
/// output position (counted from the left of the result) and the two dims.
pub fn broadcast_shapes(shapes: &[&Shape]) -> Result<Shape, (usize, Dim, Dim)> {
    let rank = shapes.iter().map(|s| s.rank()).max().unwrap_or(0);
    let mut out = vec![Dim::Known(1); rank];
    for s in shapes {
        let off = rank - s.rank();
        for (i, d) in s.0.iter().enumerate() {
            let o = &out[off + i];
            out[off + i] = broadcast_dim(o, d).ok_or_else(|| (off + i, o.clone(), d.clone()))?;
        }
    }
    Ok(Shape(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::test_util::ty;

    fn bc(a: &str, b: &str) -> String {
        let (a, b) = (ty(a), ty(b));
        match broadcast_shapes(&[&a.shape, &b.shape]) {
            Ok(s) => s.to_string(),
            Err((i, x, y)) => format!("error at {i}: {x} vs {y}"),
        }
    }

    #[test]
    fn numpy_rules_with_symbols() {
        assert_eq!(bc("f32[batch,1,seq]", "f32[12,1]"), "[batch,12,seq]");
        assert_eq!(bc("f32[]", "f32[3,4]"), "[3,4]");
        assert_eq!(bc("f32[batch,4]", "f32[2,1]"), "[2,4]");
        assert_eq!(bc("f32[a,4]", "f32[b,4]"), "[a,4]");
        assert_eq!(bc("f32[0,4]", "f32[1,4]"), "[0,4]");
        assert_eq!(bc("f32[3,4]", "f32[2,4]"), "error at 0: 3 vs 2");
    }

    #[test]
    fn unify_prefers_known() {
        assert_eq!(
            unify_dim(&Dim::sym("k"), &Dim::Known(5)),
            Some(Dim::Known(5))
        );
        assert_eq!(unify_dim(&Dim::Known(1), &Dim::Known(5)), None);
        assert_eq!(
            unify_dim(&Dim::sym("a"), &Dim::sym("b")),
            Some(Dim::sym("a"))
        );
    }
}
