//! A GatherND that reads every element of its data once, in row-major order, is a Reshape: its
//! constant indices (last axis = the data's rank, `batch_dims` 0) hold, at output position k, the
//! coordinates of data element k. The dynamo exporter builds DistilBERT's and GPT-2's padding mask
//! `[B,1,1,S]` this way from the `[B,S]` mask (vmap's gather); as a Reshape it costs nothing (an
//! alias), and a range plan does not need the shape-dependent index table.
//! Precondition: types inferred, shapes known.

use crate::{PassCx, PassError};
use infc_ir::{Graph, Op, Tensor};

pub fn gather_nd_as_reshape(g: &mut Graph, cx: &mut PassCx) -> Result<bool, PassError> {
    let mut changed = false;
    for i in 0..g.nodes.len() {
        let node = &g.nodes[i];
        if !matches!(node.op, Op::GatherND { batch_dims: 0 }) || node.inputs.len() != 2 {
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
        if !enumerates(&idx, &dims)
            || out_dims.iter().product::<usize>() != dims.iter().product::<usize>()
        {
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
        node.op = Op::Reshape { allowzero: false };
        node.inputs = vec![data, shape];
        cx.log
            .record("gather-nd-as-reshape", vec![node.name.clone()]);
        changed = true;
    }
    Ok(changed)
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
    use super::enumerates;

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
