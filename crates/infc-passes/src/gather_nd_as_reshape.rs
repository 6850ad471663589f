//! A gather that reads every element of its data once, in row-major order, is a Reshape:
//! - a GatherND whose constant indices (last axis = the data's rank, `batch_dims` 0) hold, at
//!   output position k, the coordinates of data element k. The dynamo exporter builds DistilBERT's
//!   and GPT-2's padding mask `[B,1,1,S]` this way from the `[B,S]` mask (vmap's gather);
//! - a Gather whose constant indices, read in order, are `0, 1, …, n−1` for the whole gathered
//!   axis (`n` its length): `out[o, j, i] = data[o, j, i]`. The TorchScript exporter's DistilBERT
//!   mask gathers the flattened `[B·S, 1]` mask with such an index table of shape `[B,1,1,S]`.
//!
//! As a Reshape it costs nothing (an alias), and a range plan does not need the shape-dependent
//! index table (which would keep an unbound dim from being a run-time dim).
//! Precondition: types inferred, shapes known.

use crate::{PassCx, PassError};
use infc_ir::{Graph, Op, Tensor};

pub fn gather_nd_as_reshape(g: &mut Graph, cx: &mut PassCx) -> Result<bool, PassError> {
    let mut changed = false;
    for i in 0..g.nodes.len() {
        let node = &g.nodes[i];
        let axis = match node.op {
            Op::GatherND { batch_dims: 0 } => None,
            Op::Gather { axis } => Some(axis),
            _ => continue,
        };
        if node.inputs.len() != 2 {
            continue;
        }
        let (data, indices, out) = (node.inputs[0], node.inputs[1], node.outputs[0]);
        let (Some(dims), Some(out_dims)) =
            (g.ty(data).shape.as_known(), g.ty(out).shape.as_known())
        else {
            continue;
        };
        let Some(idx) = g.const_of(indices).and_then(|t| t.to_i64_vec().ok()) else {
            continue;
        };
        let whole = match axis {
            None => enumerates(&idx, &dims),
            Some(a) => {
                let r = dims.len() as i64;
                let a = if a < 0 { a + r } else { a };
                (0..r).contains(&a) && is_iota(&idx, dims[a as usize])
            }
        };
        if !whole || out_dims.iter().product::<usize>() != dims.iter().product::<usize>() {
            continue;
        }
        let shape: Vec<i64> = out_dims.iter().map(|&d| d as i64).collect();
        let rank = shape.len();
        let name = format!("{}.shape", g.nodes[i].name);
        let Ok(t) = Tensor::from_vec(vec![rank], shape) else {
            continue;
        };
        let shape = g.add_const(name, t);
        let node = &mut g.nodes[i];
        // The shape is exact: a 0 in it is a 0, not "copy the input dim".
        node.op = Op::Reshape {
            allowzero: out_dims.contains(&0),
        };
        node.inputs = vec![data, shape];
        cx.log
            .record("gather-nd-as-reshape", vec![node.name.clone()]);
        changed = true;
    }
    Ok(changed)
}

/// Whether `idx` is `0, 1, …, n−1` (negative indices count from the end, as Gather reads them).
fn is_iota(idx: &[i64], n: usize) -> bool {
    idx.len() == n
        && idx.iter().enumerate().all(|(k, &c)| {
            let c = if c < 0 { c + n as i64 } else { c };
            c == k as i64
        })
}

/// Whether index tuples `idx` (rank-length each) are the coordinates of every element of a
/// `dims` tensor in row-major order (negative coordinates count from the end, as GatherND reads
/// them).
fn enumerates(idx: &[i64], dims: &[usize]) -> bool {
    let r = dims.len();
    let n: usize = dims.iter().product();
    if r == 0 || idx.len() != n * r {
        return false;
    }
    let mut want = vec![0usize; r];
    for tuple in idx.chunks_exact(r) {
        for ((&c, &d), &w) in tuple.iter().zip(dims).zip(&want) {
            let c = if c < 0 { c + d as i64 } else { c };
            if c != w as i64 {
                return false;
            }
        }
        // Next coordinates, last axis fastest.
        for a in (0..r).rev() {
            want[a] += 1;
            if want[a] < dims[a] {
                break;
            }
            want[a] = 0;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::{enumerates, is_iota};

    #[test]
    fn recognises_whole_axis_iotas_only() {
        assert!(is_iota(&[0, 1, 2], 3));
        assert!(is_iota(&[0, -2, 2], 3));
        assert!(!is_iota(&[0, 1], 3), "part of the axis");
        assert!(!is_iota(&[1, 0, 2], 3), "permuted");
        assert!(!is_iota(&[0, 1, 1], 3), "repeats");
    }

    #[test]
    fn recognises_row_major_enumerations_only() {
        assert!(enumerates(&[0, 0, 0, 1, 1, 0, 1, 1], &[2, 2]));
        assert!(enumerates(&[0, -2, 0, -1], &[1, 2]));
        assert!(
            !enumerates(&[0, 0, 1, 0, 0, 1, 1, 1], &[2, 2]),
            "column-major"
        );
        assert!(!enumerates(&[0, 0, 0, 1, 1, 0], &[2, 2]), "short");
        assert!(!enumerates(&[0, 0, 0, 0, 1, 0, 1, 1], &[2, 2]), "repeats");
    }
}
