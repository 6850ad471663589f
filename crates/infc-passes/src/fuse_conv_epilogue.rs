//! Turns `Conv(x, w, b?) → [Add residual] → [Relu]` into `FusedConv` with epilogue
//! `[Bias?, Residual?, Relu?]` (ResNet's `relu(conv(x) + identity)`, and every `relu(conv(x))`).
//!
//! - The Conv's own bias becomes the `Bias` stage; a Conv without bias also takes a following `Add`
//!   of an f32 constant of shape `[C,1,1]` or `[1,C,1,1]` as its bias (copied to a new `[C]` constant).
//! - `Add` of a value with exactly the conv output's type (either operand order) becomes `Residual`.
//! - `Relu` ends the chain. A Conv with nothing after it to fuse is left alone.
//! - An existing `FusedConv` whose epilogue does not yet end in Relu is extended the same way.
//!
//! Preconditions: types inferred with known shapes. Each absorbed intermediate must be read only by
//! the next node of the chain and not be a graph output. The FusedConv replaces the last node of the
//! chain (keeping its output value); the others are left dead and removed by the final compaction
//! (invalidates value ids). Log rule: `conv-epilogue` (nodes listed conv first).

use crate::pattern::{
    add_f32_const, channel_vector, either_order, known_dims, node_names, replace_node,
    rewrite_sweeps, same_known_type, ChannelAxis, Matcher,
};
use crate::{PassCx, PassError};
use infc_ir::{BinaryOp, DType, Epilogue, Graph, NodeIndex, Op, UnaryOp, ValueId};

pub fn fuse_conv_epilogue(g: &mut Graph, cx: &mut PassCx) -> Result<bool, PassError> {
    rewrite_sweeps(g, cx, fuse_at)
}

fn fuse_at(
    g: &mut Graph,
    m: &Matcher,
    root: NodeIndex,
    cx: &mut PassCx,
) -> Result<Option<Vec<NodeIndex>>, PassError> {
    let node = &g.nodes[root];
    let (attrs, mut epilogue, mut extras) = match &node.op {
        Op::Conv(attrs) => {
            let epilogue = if node.inputs.len() == 3 {
                vec![Epilogue::Bias]
            } else {
                vec![]
            };
            (attrs.clone(), epilogue, node.inputs[2..].to_vec())
        }
        Op::FusedConv { attrs, epilogue } => {
            (attrs.clone(), epilogue.clone(), node.inputs[2..].to_vec())
        }
        _ => return Ok(None),
    };
    let (x, w) = (node.inputs[0], node.inputs[1]);
    let mut out = node.outputs[0];
    if g.ty(out).dtype != DType::F32 {
        return Ok(None);
    }
    let Some(channels) = known_dims(g, out).and_then(|d| d.get(1).copied()) else {
        return Ok(None);
    };
    let mut nodes = vec![root];
    // A bias Add that must become a new [C] constant: (position in extras, name, data).
    let mut new_bias: Option<(usize, String, Vec<f32>)> = None;
    while let Some(u) = m.sole_user(out) {
        if epilogue.contains(&Epilogue::Relu) {
            break;
        }
        let un = &g.nodes[u];
        let next = un.outputs[0];
        if g.ty(next) != g.ty(out) {
            break;
        }
        match &un.op {
            Op::Binary(BinaryOp::Add) if un.inputs[0] != un.inputs[1] => {
                let Some((_, other)) = either_order(un.inputs[0], un.inputs[1], |v| v != out)
                else {
                    break;
                };
                if epilogue.is_empty() {
                    if let Some(data) = channel_vector(g, other, channels, ChannelAxis::Nchw) {
                        epilogue.push(Epilogue::Bias);
                        new_bias = Some((extras.len(), format!("{}.bias", un.name), data));
                        extras.push(other);
                        nodes.push(u);
                        out = next;
                        continue;
                    }
                }
                if epilogue.contains(&Epilogue::Residual) || !same_known_type(g, other, next) {
                    break;
                }
                epilogue.push(Epilogue::Residual);
                extras.push(other);
            }
            Op::Unary(UnaryOp::Relu) => epilogue.push(Epilogue::Relu),
            _ => break,
        }
        nodes.push(u);
        out = next;
    }
    if nodes.len() == 1 {
        return Ok(None);
    }
    if let Some((pos, name, data)) = new_bias {
        extras[pos] = add_f32_const(g, &name, vec![channels], data)?;
    }
    let anchor = *nodes.last().expect("chain has its root");
    let names = node_names(g, &nodes);
    let name = g.nodes[root].name.clone();
    let mut inputs: Vec<ValueId> = vec![x, w];
    inputs.extend(extras);
    replace_node(g, anchor, name, Op::FusedConv { attrs, epilogue }, inputs);
    cx.log.record("conv-epilogue", names);
    Ok(Some(nodes.into_iter().filter(|&n| n != anchor).collect()))
}
