//! Constant folding and type re-derivation, in one forward sweep over the nodes.
//!
//! For each node (in order) the output types are re-inferred from the current input types
//! (`infc_ir::infer_node`), so bound dims flow through the graph. A node is folded when all its inputs
//! are constants, or when it is a `Shape` whose input shape is fully known, or a `Gather` /
//! `GatherElements` from a constant whose elements are all equal (RoBERTa's all-zero token-type
//! buffer indexed by run-time position ids: every valid index reads the same value, so the result
//! is that value at the output's shape): it is evaluated with the reference interpreter (or
//! filled) and its outputs are replaced by constants. Folding a node whose result
//! would be much larger than its inputs (e.g. `Expand` of a scalar to a large tensor) is skipped
//! above [`MAX_GROWTH_ELEMENTS`]. The folded nodes are left dead for DCE to remove.
//! Precondition: def-before-use order. Invalidates nothing but the folded nodes' outputs.

use crate::substitute::Substitution;
use crate::{PassCx, PassError};
use infc_ir::{Graph, Op, Tensor, ValueId};

/// Largest result (in elements) a fold may create beyond the total size of its inputs.
pub const MAX_GROWTH_ELEMENTS: usize = 1 << 20;

pub fn fold_constants(g: &mut Graph, cx: &mut PassCx) -> Result<bool, PassError> {
    let mut changed = false;
    let mut subst = Substitution::default();
    for i in 0..g.nodes.len() {
        subst.apply_to_node(g, i);
        let (op, inputs, outputs, name) = {
            let n = &g.nodes[i];
            (
                n.op.clone(),
                n.inputs.clone(),
                n.outputs.clone(),
                n.name.clone(),
            )
        };
        if outputs.iter().all(|&o| g.is_const(o)) {
            continue;
        }
        let types = infc_ir::infer_node(g, &op, &inputs)?;
        for (&o, ty) in outputs.iter().zip(types) {
            g.values[o].ty = ty;
        }
        let Some(results) = try_fold(g, &op, &inputs, &outputs, &name)? else {
            continue;
        };
        for (&o, t) in outputs.iter().zip(results) {
            let expected = g.ty(o).clone();
            if expected.dtype != t.dtype
                || expected.shape.as_known().as_deref() != Some(&t.shape[..])
            {
                return Err(PassError::Fold {
                    node: name.clone(),
                    op: op.name(),
                    msg: format!(
                        "evaluated to {}{:?} but inference says {expected}",
                        t.dtype, t.shape
                    ),
                });
            }
            let vname = g.value(o).name.clone();
            let c = g.add_const(vname, t);
            subst.insert(o, c);
        }
        cx.log.record("fold-constant", vec![name]);
        changed = true;
    }
    subst.apply_to_outputs(g);
    if changed {
        g.compact();
    }
    Ok(changed)
}

fn try_fold(
    g: &Graph,
    op: &Op,
    inputs: &[ValueId],
    outputs: &[ValueId],
    name: &str,
) -> Result<Option<Vec<Tensor>>, PassError> {
    let fold_err = |msg: String| PassError::Fold {
        node: name.to_string(),
        op: op.name(),
        msg,
    };
    if let Op::Shape { start, end } = op {
        let Some(dims) = g.ty(inputs[0]).shape.as_known() else {
            return Ok(None);
        };
        let r = dims.len() as i64;
        let clamp = |a: i64| if a < 0 { (a + r).max(0) } else { a.min(r) } as usize;
        let (s, e) = (clamp(*start), clamp(end.unwrap_or(r)));
        let vals: Vec<i64> = if s < e {
            dims[s..e].iter().map(|&d| d as i64).collect()
        } else {
            vec![]
        };
        let n = vals.len();
        return Tensor::from_vec(vec![n], vals)
            .map(|t| Some(vec![t]))
            .map_err(|e| fold_err(e.to_string()));
    }
    if let Some(t) = uniform_gather(g, op, inputs, outputs[0]) {
        return t.map(|t| Some(vec![t])).map_err(fold_err);
    }
    let mut tensors = Vec::with_capacity(inputs.len());
    for &v in inputs {
        match g.const_of(v) {
            Some(t) if !t.is_opaque() => tensors.push(t),
            _ => return Ok(None),
        }
    }
    let input_elems: usize = tensors.iter().map(|t| t.numel()).sum();
    for &o in outputs {
        match g.ty(o).shape.numel() {
            Some(n) if n <= input_elems.max(MAX_GROWTH_ELEMENTS) => {}
            _ => return Ok(None),
        }
    }
    infc_reference::eval_op(op, &tensors)
        .map(Some)
        .map_err(|e| fold_err(e.to_string()))
}

/// A `Gather`/`GatherElements` whose data is a constant of equal elements, with a known output
/// shape within the growth limit: that element repeated at the output's shape.
fn uniform_gather(
    g: &Graph,
    op: &Op,
    inputs: &[ValueId],
    output: ValueId,
) -> Option<Result<Tensor, String>> {
    if !matches!(op, Op::Gather { .. } | Op::GatherElements { .. }) {
        return None;
    }
    let data = g.const_of(inputs[0]).filter(|t| !t.is_opaque())?;
    let bytes = data.bytes().ok()?;
    let size = data.dtype.size();
    let first = bytes.get(..size)?;
    if !bytes.chunks_exact(size).all(|e| e == first) {
        return None;
    }
    let shape = g.ty(output).shape.as_known()?;
    let n: usize = shape.iter().product();
    if n > MAX_GROWTH_ELEMENTS.max(data.numel()) {
        return None;
    }
    let out = first.repeat(n);
    Some(
        Tensor::from_bytes(data.dtype, shape, infc_ir::Bytes::from_vec(out))
            .map_err(|e| e.to_string()),
    )
}
