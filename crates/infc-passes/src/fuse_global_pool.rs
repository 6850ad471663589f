//! Rewrites `ReduceMean(x, axes = both spatial axes, keepdims)` on an NCHW f32 tensor (rank 4) into
//! `GlobalAveragePool(x)`, which is how the dynamo exporter spells ResNet's adaptive average pool
//! (`mean(x, [-1, -2], keepdim=True)`); the two are the same computation with the same `[N,C,1,1]`
//! result, and the pool has a dedicated kernel.
//!
//! Preconditions: types inferred (rank known). The node is replaced in place (same output value);
//! nothing is left dead. `keepdims = false` is left alone (its `[N,C]` result would need a reshape).
//! Log rule: `global-average-pool`.

use crate::pattern::{rewrite_sweeps, Matcher};
use crate::{PassCx, PassError};
use infc_ir::{DType, Graph, NodeIndex, Op, ReduceOp};

pub fn fuse_global_pool(g: &mut Graph, cx: &mut PassCx) -> Result<bool, PassError> {
    rewrite_sweeps(g, cx, rewrite_at)
}

fn rewrite_at(
    g: &mut Graph,
    _m: &Matcher,
    i: NodeIndex,
    cx: &mut PassCx,
) -> Result<Option<Vec<NodeIndex>>, PassError> {
    let node = &g.nodes[i];
    let Op::Reduce {
        op: ReduceOp::Mean,
        axes: Some(axes),
        keepdims: true,
    } = &node.op
    else {
        return Ok(None);
    };
    let ty = g.ty(node.inputs[0]);
    if ty.rank() != 4 || ty.dtype != DType::F32 {
        return Ok(None);
    }
    let mut norm: Vec<i64> = axes
        .iter()
        .map(|&a| if a < 0 { a + 4 } else { a })
        .collect();
    norm.sort_unstable();
    if norm != [2, 3] {
        return Ok(None);
    }
    let name = node.name.clone();
    g.nodes[i].op = Op::GlobalAveragePool;
    cx.log.record("global-average-pool", vec![name]);
    Ok(Some(vec![]))
}
