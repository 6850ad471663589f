//! Folds transposes of a matmul operand's last two axes into the matmul: `MatMul(a, Transpose(b))`
//! with `perm = [0, …, r−3, r−1, r−2]` becomes `FusedMatMul[trans_b](a, b)`, and likewise for the
//! left operand (`trans_a`) and for an existing `FusedMatMul` (its flag for that operand flips, so a
//! transposed read of a transpose cancels). Lowering then reads the operand through a column-major
//! view, or packs a constant B transposed at compile time, instead of materialising the transpose.
//!
//! Only f32 matmuls are rewritten (the ones the plan lowers). A Transpose with other readers is
//! still folded into the matmul and stays in the graph for those readers; one the matmul read alone
//! becomes dead and is dropped by the compaction at the end of the sweep. A `FusedMatMul` left with
//! no epilogue and no transposed operand becomes a plain `MatMul` again.
//!
//! Runs after the fusions (attention matching wants the exporters' `Kᵀ` transposes as they are).
//! Preconditions: types inferred. Output values are kept; may leave dead nodes and invalidates
//! value ids through compaction. Log rule: `transpose-matmul` (the transpose(s), then the matmul).

use crate::pattern::rewrite_sweeps;
use crate::{PassCx, PassError};
use infc_ir::{DType, Epilogue, Graph, Op, ValueId};

/// True for a permutation that swaps the last two axes and keeps every other axis in place.
fn swaps_last_two(perm: &[usize]) -> bool {
    let r = perm.len();
    r >= 2
        && perm[r - 2] == r - 1
        && perm[r - 1] == r - 2
        && perm[..r - 2].iter().enumerate().all(|(i, &p)| i == p)
}

/// The matmul form of an op: `(epilogue, trans_a, trans_b)`, or None for other ops.
fn as_matmul(op: &Op) -> Option<(Vec<Epilogue>, bool, bool)> {
    match op {
        Op::MatMul => Some((vec![], false, false)),
        Op::FusedMatMul {
            epilogue,
            trans_a,
            trans_b,
        } => Some((epilogue.clone(), *trans_a, *trans_b)),
        _ => None,
    }
}

pub fn fold_transpose_matmul(g: &mut Graph, cx: &mut PassCx) -> Result<bool, PassError> {
    rewrite_sweeps(g, cx, |g, m, i, cx| {
        let node = &g.nodes[i];
        let Some((epilogue, mut trans_a, mut trans_b)) = as_matmul(&node.op) else {
            return Ok(None);
        };
        if node.inputs.len() < 2 || g.ty(node.outputs[0]).dtype != DType::F32 {
            return Ok(None);
        }
        let mut inputs = node.inputs.clone();
        let mut names = Vec::new();
        for (slot, flag) in [(0, &mut trans_a), (1, &mut trans_b)] {
            let Some(t) = m.producer(inputs[slot]) else {
                continue;
            };
            let transpose = &g.nodes[t];
            let Op::Transpose { perm } = &transpose.op else {
                continue;
            };
            let source: ValueId = transpose.inputs[0];
            if !swaps_last_two(perm) || g.ty(source).dtype != DType::F32 {
                continue;
            }
            inputs[slot] = source;
            *flag = !*flag;
            names.push(transpose.name.clone());
        }
        if names.is_empty() {
            return Ok(None);
        }
        names.push(node.name.clone());
        let op = if epilogue.is_empty() && !trans_a && !trans_b {
            Op::MatMul
        } else {
            Op::FusedMatMul {
                epilogue,
                trans_a,
                trans_b,
            }
        };
        let node = &mut g.nodes[i];
        node.op = op;
        node.inputs = inputs;
        cx.log.record("transpose-matmul", names);
        Ok(Some(vec![]))
    })
}

#[cfg(test)]
mod tests {
    use super::swaps_last_two;

    #[test]
    fn recognises_only_last_two_axis_swaps() {
        assert!(swaps_last_two(&[1, 0]));
        assert!(swaps_last_two(&[0, 2, 1]));
        assert!(swaps_last_two(&[0, 1, 3, 2]));
        assert!(!swaps_last_two(&[0, 1]));
        assert!(!swaps_last_two(&[1, 0, 2]));
        assert!(!swaps_last_two(&[2, 1, 0]));
        assert!(!swaps_last_two(&[1, 0, 3, 2]));
        assert!(!swaps_last_two(&[0]));
        assert!(!swaps_last_two(&[]));
    }
}
