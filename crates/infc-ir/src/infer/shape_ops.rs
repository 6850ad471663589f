//! Inference for shape and data-movement ops: Reshape, Flatten, Transpose, Concat, Split, Slice,
//! Unsqueeze, Squeeze, Expand.
//!
//! Reshape's `-1` with symbolic input dims is solved by cancelling symbols that appear on both sides
//! (`[batch,seq,768]` → `[0,0,12,-1]` gives `[batch,seq,12,64]`, `[-1,768]` on `[batch,seq,768]` gives a
//! fresh dim because `batch·seq` is not representable). Squeeze without axes removes only dims known
//! to be 1; a symbolic dim named in Squeeze's axes is assumed to be 1.

use super::values::fmt_elems;
use super::{broadcast_dim, dim_product, unify_dim, Cx, SymInt};
use crate::{DType, Dim, IrError, TensorType};
use std::sync::Arc;

/// Known product and symbol multiset of a dim list.
fn factor(dims: &[Dim]) -> Option<(usize, Vec<Arc<str>>)> {
    let mut known = 1usize;
    let mut syms = Vec::new();
    for d in dims {
        match d {
            Dim::Known(n) => known = known.checked_mul(*n)?,
            Dim::Sym(s) => syms.push(s.clone()),
        }
    }
    Some((known, syms))
}

/// Remove symbols common to both multisets.
fn cancel(a: &mut Vec<Arc<str>>, b: &mut Vec<Arc<str>>) {
    let mut i = 0;
    while i < a.len() {
        if let Some(j) = b.iter().position(|s| *s == a[i]) {
            b.swap_remove(j);
            a.swap_remove(i);
        } else {
            i += 1;
        }
    }
}

pub(super) fn reshape(cx: &Cx, allowzero: bool) -> Result<Vec<TensorType>, IrError> {
    let x = cx.ty(0);
    cx.expect_dtype(1, DType::I64)?;
    let n = cx.shape_input_len(1)?;
    let Some(spec) = cx.sym_ints(1)? else {
        return Ok(vec![TensorType::new(
            x.dtype,
            (0..n).map(|i| cx.fresh(i)).collect::<Vec<_>>(),
        )]);
    };
    let shown = fmt_elems(&spec);
    let mut out: Vec<Option<Dim>> = Vec::with_capacity(n);
    let mut infer_at = None;
    let mut unknown = false;
    for (i, e) in spec.iter().enumerate() {
        out.push(match e {
            SymInt::Int(-1) => {
                if infer_at.replace(i).is_some() {
                    return Err(cx.err(format!("shape {shown} has more than one -1")));
                }
                None
            }
            SymInt::Int(0) if !allowzero => Some(x.shape.0.get(i).cloned().ok_or_else(|| {
                cx.err(format!(
                    "shape {shown} copies dim {i} (0) but the input {x} has rank {}",
                    x.rank()
                ))
            })?),
            SymInt::Int(s) if *s < 0 => {
                return Err(cx.err(format!("shape {shown} has invalid entry {s}")))
            }
            SymInt::Int(s) => Some(Dim::Known(*s as usize)),
            SymInt::Sym(s) => Some(Dim::Sym(s.clone())),
            SymInt::Unknown => {
                unknown = true;
                Some(cx.fresh(i))
            }
        });
    }
    if unknown {
        if let Some(k) = infer_at {
            out[k] = Some(cx.fresh(k));
        }
    } else {
        let overflow = || cx.err(format!("element count of {x} or shape {shown} overflows"));
        let (in_known, mut in_syms) = factor(&x.shape.0).ok_or_else(overflow)?;
        let fixed: Vec<Dim> = out.iter().flatten().cloned().collect();
        let (out_known, mut out_syms) = factor(&fixed).ok_or_else(overflow)?;
        cancel(&mut in_syms, &mut out_syms);
        let mismatch = || {
            cx.err(format!(
                "cannot reshape {x} to {shown}: element counts differ"
            ))
        };
        if let Some(k) = infer_at {
            let d = if in_syms.is_empty() && out_syms.is_empty() {
                if out_known == 0 || in_known % out_known != 0 {
                    return Err(mismatch());
                }
                Dim::Known(in_known / out_known)
            } else if out_syms.is_empty() && in_syms.len() == 1 && in_known == out_known {
                Dim::Sym(in_syms[0].clone())
            } else {
                cx.fresh(k)
            };
            out[k] = Some(d);
        } else if in_syms.is_empty() && out_syms.is_empty() && in_known != out_known {
            return Err(mismatch());
        }
    }
    let dims: Vec<Dim> = out
        .into_iter()
        .map(|d| d.expect("every slot filled"))
        .collect();
    Ok(vec![TensorType::new(x.dtype, dims)])
}

pub(super) fn flatten(cx: &Cx, axis: i64) -> Result<Vec<TensorType>, IrError> {
    let x = cx.ty(0);
    let r = x.rank() as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if !(0..=r).contains(&a) {
        return Err(cx.err(format!("axis {axis} out of range for rank {r}")));
    }
    let (l, rt) = x.shape.0.split_at(a as usize);
    let left = dim_product(l).unwrap_or_else(|| cx.fresh(0));
    let right = dim_product(rt).unwrap_or_else(|| cx.fresh(1));
    Ok(vec![TensorType::new(x.dtype, vec![left, right])])
}

pub(super) fn transpose(cx: &Cx, perm: &[usize]) -> Result<Vec<TensorType>, IrError> {
    let x = cx.ty(0);
    let mut seen = vec![false; x.rank()];
    let ok = perm.len() == x.rank()
        && perm
            .iter()
            .all(|&p| p < seen.len() && !std::mem::replace(&mut seen[p], true));
    if !ok {
        return Err(cx.err(format!(
            "perm {perm:?} is not a permutation of the {} axes of {x}",
            x.rank()
        )));
    }
    Ok(vec![TensorType::new(
        x.dtype,
        perm.iter()
            .map(|&p| x.shape.0[p].clone())
            .collect::<Vec<_>>(),
    )])
}

pub(super) fn concat(cx: &Cx, axis: i64) -> Result<Vec<TensorType>, IrError> {
    let first = cx.ty(0);
    let r = first.rank();
    let a = cx.axis(axis, r)?;
    let mut dims = first.shape.0.clone();
    let mut along: Vec<Dim> = vec![first.shape.0[a].clone()];
    for i in 1..cx.inputs.len() {
        cx.same_dtype(0, i)?;
        let t = cx.ty(i);
        if t.rank() != r {
            return Err(cx.err(format!("input {i} {t} has a different rank than {first}")));
        }
        for (j, d) in t.shape.0.iter().enumerate() {
            if j == a {
                along.push(d.clone());
            } else {
                dims[j] = unify_dim(&dims[j], d).ok_or_else(|| {
                    cx.err(format!("input {i} {t} differs from {first} in dim {j}"))
                })?;
            }
        }
    }
    // Sum along the axis; known zeros drop out, a single remaining symbol survives.
    let nonzero: Vec<&Dim> = along.iter().filter(|d| **d != Dim::Known(0)).collect();
    dims[a] = match nonzero.as_slice() {
        [one] => (*one).clone(),
        _ if nonzero.iter().all(|d| d.is_known()) => {
            Dim::Known(nonzero.iter().filter_map(|d| d.known()).sum())
        }
        _ => cx.fresh(a),
    };
    Ok(vec![TensorType::new(first.dtype, dims)])
}

pub(super) fn split(cx: &Cx, axis: i64, splits: &[usize]) -> Result<Vec<TensorType>, IrError> {
    let x = cx.ty(0);
    let a = cx.axis(axis, x.rank())?;
    if let Dim::Known(d) = x.shape.0[a] {
        let total: usize = splits.iter().sum();
        if total != d {
            return Err(cx.err(format!(
                "splits {splits:?} sum to {total}, but dim {a} of {x} is {d}"
            )));
        }
    }
    Ok(splits
        .iter()
        .map(|&s| {
            let mut dims = x.shape.0.clone();
            dims[a] = Dim::Known(s);
            TensorType::new(x.dtype, dims)
        })
        .collect())
}

/// Length of `start:end:step` over a known dim, ONNX clamping rules.
fn slice_len(d: usize, start: i64, end: i64, step: i64) -> usize {
    let d = d as i64;
    let norm = |v: i64| if v < 0 { v.saturating_add(d) } else { v };
    if step > 0 {
        let s = norm(start).clamp(0, d);
        let e = norm(end).clamp(0, d);
        if e > s {
            ((e - s) as u64).div_ceil(step as u64) as usize
        } else {
            0
        }
    } else {
        let s = norm(start).clamp(0, (d - 1).max(0));
        let e = norm(end).clamp(-1, d - 1);
        if s > e && d > 0 {
            ((s - e) as u64).div_ceil(step.unsigned_abs()) as usize
        } else {
            0
        }
    }
}

/// "Everything" markers as exporters write them (INT64_MAX, INT32_MAX, …).
const HUGE: i64 = i32::MAX as i64;

pub(super) fn slice(cx: &Cx) -> Result<Vec<TensorType>, IrError> {
    let x = cx.ty(0);
    let r = x.rank();
    for i in 1..5 {
        cx.expect_int(i)?;
        if cx.ty(i).rank() != 1 {
            return Err(cx.err(format!("input {i} must be 1-D, got {}", cx.ty(i))));
        }
    }
    let axes: Option<Vec<i64>> = cx
        .sym_ints(3)?
        .and_then(|v| v.iter().map(SymInt::int).collect());
    let Some(axes) = axes else {
        return Ok(vec![TensorType::new(
            x.dtype,
            (0..r).map(|i| cx.fresh(i)).collect::<Vec<_>>(),
        )]);
    };
    let (starts, ends, steps) = (cx.sym_ints(1)?, cx.sym_ints(2)?, cx.sym_ints(4)?);
    for (what, v) in [("starts", &starts), ("ends", &ends), ("steps", &steps)] {
        if let Some(v) = v {
            if v.len() != axes.len() {
                return Err(cx.err(format!(
                    "{what} has {} entries, axes {axes:?} has {}",
                    v.len(),
                    axes.len()
                )));
            }
        }
    }
    let at =
        |v: &Option<Vec<SymInt>>, j: usize| v.as_ref().map_or(SymInt::Unknown, |v| v[j].clone());
    let mut dims = x.shape.0.clone();
    let mut seen = vec![false; r];
    for (j, &ax) in axes.iter().enumerate() {
        let a = cx.axis(ax, r)?;
        if std::mem::replace(&mut seen[a], true) {
            return Err(cx.err(format!("axis {ax} listed twice")));
        }
        let (s, e, st) = (at(&starts, j), at(&ends, j), at(&steps, j));
        if st == SymInt::Int(0) {
            return Err(cx.err(format!("step for axis {ax} is 0")));
        }
        dims[a] = match (&dims[a], s, e, st) {
            (Dim::Known(d), SymInt::Int(s), SymInt::Int(e), SymInt::Int(st)) => {
                Dim::Known(slice_len(*d, s, e, st))
            }
            (sym @ Dim::Sym(_), SymInt::Int(s), SymInt::Int(e), SymInt::Int(st))
                if (st == 1 && s == 0 && e >= HUGE) || (st == -1 && s >= HUGE && e <= -HUGE) =>
            {
                sym.clone()
            }
            // x[..n] with n a dim taken from another tensor: assumed not to exceed this dim.
            (_, SymInt::Int(0), SymInt::Sym(n), SymInt::Int(1)) => Dim::Sym(n),
            _ => cx.fresh(a),
        };
    }
    Ok(vec![TensorType::new(x.dtype, dims)])
}

pub(super) fn unsqueeze(cx: &Cx, axes: &[i64]) -> Result<Vec<TensorType>, IrError> {
    let x = cx.ty(0);
    let out_rank = x.rank() + axes.len();
    let mut is_new = vec![false; out_rank];
    for &a in axes {
        let i = cx.axis(a, out_rank)?;
        if std::mem::replace(&mut is_new[i], true) {
            return Err(cx.err(format!("axis {a} listed twice")));
        }
    }
    let mut src = x.shape.0.iter();
    let dims: Vec<Dim> = is_new
        .iter()
        .map(|&new| {
            if new {
                Dim::Known(1)
            } else {
                src.next().expect("counts match").clone()
            }
        })
        .collect();
    Ok(vec![TensorType::new(x.dtype, dims)])
}

pub(super) fn squeeze(cx: &Cx, axes: Option<&[i64]>) -> Result<Vec<TensorType>, IrError> {
    let x = cx.ty(0);
    let r = x.rank();
    let mut drop = vec![false; r];
    match axes {
        None => {
            for (i, d) in x.shape.0.iter().enumerate() {
                drop[i] = *d == Dim::Known(1);
            }
        }
        Some(axes) => {
            for &a in axes {
                let i = cx.axis(a, r)?;
                if let Dim::Known(n) = x.shape.0[i] {
                    if n != 1 {
                        return Err(cx.err(format!("cannot squeeze axis {a} of {x}: size {n}")));
                    }
                }
                if std::mem::replace(&mut drop[i], true) {
                    return Err(cx.err(format!("axis {a} listed twice")));
                }
            }
        }
    }
    let dims: Vec<Dim> = x
        .shape
        .0
        .iter()
        .zip(&drop)
        .filter(|(_, &d)| !d)
        .map(|(d, _)| d.clone())
        .collect();
    Ok(vec![TensorType::new(x.dtype, dims)])
}

pub(super) fn expand(cx: &Cx) -> Result<Vec<TensorType>, IrError> {
    let x = cx.ty(0);
    cx.expect_dtype(1, DType::I64)?;
    let n = cx.shape_input_len(1)?;
    let rank = n.max(x.rank());
    let spec = cx.sym_ints(1)?;
    let mut dims = Vec::with_capacity(rank);
    for i in 0..rank {
        let xd = (i + x.rank()).checked_sub(rank).map(|j| &x.shape.0[j]);
        let entry = (i + n)
            .checked_sub(rank)
            .map(|j| spec.as_ref().map_or(SymInt::Unknown, |s| s[j].clone()));
        let target = match entry {
            None => None,
            Some(SymInt::Int(s)) if s < 0 => {
                return Err(cx.err(format!(
                    "shape {} has negative entry {s}",
                    fmt_elems(spec.as_deref().unwrap_or(&[]))
                )))
            }
            Some(SymInt::Int(s)) => Some(Some(Dim::Known(s as usize))),
            Some(SymInt::Sym(s)) => Some(Some(Dim::Sym(s))),
            Some(SymInt::Unknown) => Some(None),
        };
        let d = match (xd, target) {
            (Some(xd), None) => xd.clone(),
            (None, Some(Some(t))) => t,
            (Some(xd), Some(Some(t))) => broadcast_dim(xd, &t).ok_or_else(|| {
                cx.err(format!(
                    "cannot expand {x} to {}",
                    fmt_elems(spec.as_deref().unwrap_or(&[]))
                ))
            })?,
            (Some(Dim::Known(k)), Some(None)) if *k != 1 => Dim::Known(*k),
            (_, Some(None)) => cx.fresh(i),
            (None, None) => unreachable!("position covered by x or by the shape"),
        };
        dims.push(d);
    }
    Ok(vec![TensorType::new(x.dtype, dims)])
}

#[cfg(test)]
mod tests {
    use crate::infer::test_util::Builder;
    use crate::Op;

    #[test]
    fn reshape_with_constants_and_symbols() {
        let r = Op::Reshape { allowzero: false };
        let b = Builder::new().input("f32[b,s,768]").ints(&[0, 0, 12, -1]);
        assert_eq!(b.one(r.clone()), "f32[b,s,12,64]");
        let b = Builder::new().input("f32[b,s,768]").ints(&[-1, 768]);
        assert_eq!(b.one(r.clone()), "f32[n:d0,768]");
        let b = Builder::new().input("f32[b,768]").ints(&[-1, 768]);
        assert_eq!(b.one(r.clone()), "f32[b,768]");
        let b = Builder::new().input("f32[2,3,4]").ints(&[4, -1]);
        assert_eq!(b.one(r.clone()), "f32[4,6]");
        let b = Builder::new().input("f32[2,3,4]").ints(&[5, -1]);
        assert_eq!(
            b.one(r.clone()),
            "error: shape inference: node 'n' (Reshape): cannot reshape f32[2,3,4] to [5, -1]: element counts differ"
        );
        let b = Builder::new().input("f32[2,3,4]").ints(&[5, 5]);
        assert!(b.one(r.clone()).contains("element counts differ"));
        let b = Builder::new().input("f32[2,3,4]").ints(&[-1, -1]);
        assert!(b.one(r.clone()).contains("more than one -1"));
        let b = Builder::new().input("f32[2,3,4]").input("i64[3]");
        assert_eq!(b.one(r.clone()), "f32[n:d0,n:d1,n:d2]");
        let b = Builder::new().input("f32[2,3,4]").input("i64[k]");
        assert!(b.one(r).contains("not known"));
    }

    #[test]
    fn flatten_transpose_concat_split() {
        let b = Builder::new().input("f32[N,2048,1,1]");
        assert_eq!(b.one(Op::Flatten { axis: 1 }), "f32[N,2048]");
        assert_eq!(b.one(Op::Flatten { axis: 0 }), "f32[1,n:d1]");
        assert_eq!(b.one(Op::Flatten { axis: 4 }), "f32[n:d0,1]");
        assert!(b.one(Op::Flatten { axis: 5 }).contains("out of range"));
        let b = Builder::new().input("f32[b,s,12,64]");
        assert_eq!(
            b.one(Op::Transpose {
                perm: vec![0, 2, 1, 3]
            }),
            "f32[b,12,s,64]"
        );
        assert!(b
            .one(Op::Transpose {
                perm: vec![0, 0, 1, 3]
            })
            .contains("not a permutation"));
        let b = Builder::new()
            .input("i64[1]")
            .input("i64[1]")
            .input("i64[2]");
        assert_eq!(b.one(Op::Concat { axis: 0 }), "i64[4]");
        let b = Builder::new()
            .input("f32[b,12,p,64]")
            .input("f32[b,12,s,64]");
        assert_eq!(b.one(Op::Concat { axis: 2 }), "f32[b,12,n:d2,64]");
        let b = Builder::new()
            .input("f32[b,12,0,64]")
            .input("f32[b,12,s,64]");
        assert_eq!(b.one(Op::Concat { axis: -2 }), "f32[b,12,s,64]");
        let b = Builder::new().input("f32[2,3]").input("f32[3,3]");
        assert!(b
            .one(Op::Concat { axis: 1 })
            .contains("differs from f32[2,3] in dim 0"));
        let b = Builder::new().input("f32[b,s,2304]");
        assert_eq!(
            b.run(Op::Split {
                axis: 2,
                splits: vec![768; 3]
            })
            .unwrap(),
            vec!["f32[b,s,768]"; 3]
        );
        assert!(b
            .run(Op::Split {
                axis: 2,
                splits: vec![768; 2]
            })
            .unwrap_err()
            .contains("sum to 1536"));
    }

    #[test]
    fn slice_rules() {
        let b = Builder::new()
            .input("f32[b,s,10]")
            .ints(&[2])
            .ints(&[-1])
            .ints(&[2])
            .ints(&[1]);
        assert_eq!(b.one(Op::Slice), "f32[b,s,7]");
        let b = Builder::new()
            .input("f32[10]")
            .ints(&[-1])
            .ints(&[i64::MIN])
            .ints(&[0])
            .ints(&[-1]);
        assert_eq!(b.one(Op::Slice), "f32[10]");
        let b = Builder::new()
            .input("f32[10]")
            .ints(&[1])
            .ints(&[i64::MAX])
            .ints(&[0])
            .ints(&[3]);
        assert_eq!(b.one(Op::Slice), "f32[3]");
        let b = Builder::new()
            .input("f32[b,s]")
            .ints(&[0])
            .ints(&[i64::MAX])
            .ints(&[1])
            .ints(&[1]);
        assert_eq!(b.one(Op::Slice), "f32[b,s]");
        let b = Builder::new()
            .input("f32[b,s]")
            .ints(&[0])
            .input("i64[1]")
            .ints(&[1])
            .ints(&[1]);
        assert_eq!(b.one(Op::Slice), "f32[b,n:d1]");
        let b = Builder::new()
            .input("f32[b,s]")
            .ints(&[0])
            .ints(&[4])
            .ints(&[1])
            .ints(&[0]);
        assert_eq!(
            b.one(Op::Slice),
            "error: shape inference: node 'n' (Slice): step for axis 1 is 0"
        );
    }

    #[test]
    fn unsqueeze_squeeze_expand() {
        let b = Builder::new().input("i64[]");
        assert_eq!(b.one(Op::Unsqueeze { axes: vec![0] }), "i64[1]");
        let b = Builder::new().input("f32[b,s]");
        assert_eq!(b.one(Op::Unsqueeze { axes: vec![1, -2] }), "f32[b,1,1,s]");
        assert!(b
            .one(Op::Unsqueeze { axes: vec![1, -3] })
            .contains("listed twice"));
        let b = Builder::new().input("f32[1,s,1]");
        assert_eq!(b.one(Op::Squeeze { axes: None }), "f32[s]");
        assert_eq!(
            b.one(Op::Squeeze {
                axes: Some(vec![-1])
            }),
            "f32[1,s]"
        );
        let b = Builder::new().input("f32[2,3]");
        assert_eq!(
            b.one(Op::Squeeze {
                axes: Some(vec![0])
            }),
            "error: shape inference: node 'n' (Squeeze): cannot squeeze axis 0 of f32[2,3]: size 2"
        );
        let b = Builder::new().input("f32[1,1,s]").ints(&[2, 4, 1, 1]);
        assert_eq!(b.one(Op::Expand), "f32[2,4,1,s]");
        let b = Builder::new().input("f32[3,1]").input("i64[3]");
        assert_eq!(b.one(Op::Expand), "f32[n:d0,3,n:d2]");
        let b = Builder::new().input("f32[3,2]").ints(&[4, 1]);
        assert!(b.one(Op::Expand).contains("cannot expand"));
    }
}
