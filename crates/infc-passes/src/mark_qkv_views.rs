//! `mark-qkv-views` (the last -O2/-O3 pass): marks `@view` every Split along the last axis whose
//! outputs are read only as q, k or v of Attention nodes ([`infc_ir::marks::view_split_columns`]),
//! the fused QKV projection's split. It gets no step and no copy: each output is a column view of
//! the projection's output, which attention reads with the projection's row stride.
//!
//! Log rule: `qkv-view` (the Split).

use crate::{PassCx, PassError};
use infc_ir::marks::view_split_columns;
use infc_ir::{Graph, Realize};

pub fn mark_qkv_views(g: &mut Graph, cx: &mut PassCx) -> Result<bool, PassError> {
    let uses = g.uses();
    let mut changed = false;
    for i in 0..g.nodes.len() {
        let node = &g.nodes[i];
        if node.realize == Realize::Step && view_split_columns(g, node, &uses).is_some() {
            cx.log.record("qkv-view", vec![node.name.clone()]);
            g.nodes[i].realize = Realize::View;
            changed = true;
        }
    }
    Ok(changed)
}
