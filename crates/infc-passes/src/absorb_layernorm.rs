//! `absorb-layernorm` (runs after `mark-int8`): marks `@in_reader` every LayerNorm whose only
//! reader is an `@int8_per_row` matmul reading it as A ([`infc_ir::marks::absorbable_layer_norm`]:
//! last axis, f32, one output, not a graph output). Such a LayerNorm gets no step and no buffer:
//! the matmul normalises each row of its input while quantizing it, saving a write and a read of
//! the activations. Its inputs stay live until the matmul.
//!
//! Log rule: `layernorm-in-reader` (LayerNorm, then the matmul).

use crate::{PassCx, PassError};
use infc_ir::marks::absorbable_layer_norm;
use infc_ir::{Graph, Realize};

pub fn absorb_layernorm(g: &mut Graph, cx: &mut PassCx) -> Result<bool, PassError> {
    let uses = g.uses();
    let mut changed = false;
    for i in 0..g.nodes.len() {
        if g.nodes[i].realize != Realize::Step {
            continue;
        }
        if let Some(j) = absorbable_layer_norm(g, i, &uses) {
            g.nodes[i].realize = Realize::InReader;
            changed = true;
            let names = vec![g.nodes[i].name.clone(), g.nodes[j].name.clone()];
            cx.log.record("layernorm-in-reader", names);
        }
    }
    Ok(changed)
}
