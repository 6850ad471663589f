//! -O3 layout conversion: runs the conv stack in channel-blocked NCHWc layout
//! (`[N][C/c][H][W][c]`, padding channels zero) so convolutions use the direct NCHWc kernel.
//!
//! Rewrites, in node order:
//! - every 2-D, group-1, f32 `Conv` / `FusedConv` with constant rank-4 weights and an epilogue the
//!   kernel fuses (at most one `Bias`, at most one `Residual`, `Relu` only last) into `NchwcConv`
//!   with a blocked output. Its input is the blocked form of x when x is already blocked; a plain
//!   x with fewer channels than the block (the ResNet stem reading the 3-channel image) is read
//!   as is (no channel padding wasted); otherwise a `Reorder{to_blocked}` is inserted. A residual
//!   input is taken in blocked form (reordered if it is not blocked yet).
//! - a 2-D f32 `MaxPool` whose input is blocked into `NchwcMaxPool`.
//! - every blocked value that still has a plain reader (GlobalAveragePool, Flatten, any other op,
//!   a graph output) gets one `Reorder{to_blocked: false}` right after its producer, writing the
//!   original plain value, so ResNet's blocked region ends with one small reorder before the global
//!   pool.
//!
//! Block size: `PassCx::nchwc_block` (8 or 16), default [`DEFAULT_NCHWC_BLOCK`] = 16, the
//! AVX-512 register width. The compiled plan runs any block on every ISA path (AVX2 treats a
//! 16-block as two `ymm`), so the default does not depend on the compiling machine; pass 8 when
//! compiling for an AVX2-only target.
//!
//! Preconditions: shapes inferred and known on the rewritten nodes. Output: nodes stay in
//! def-before-use order; value ids of new values are appended (nothing is invalidated). Log rule:
//! `layout-nchwc` (one entry per converted node).

use crate::{PassCx, PassError};
use infc_ir::{DType, Epilogue, Graph, Node, Op, ValueId};
use std::collections::HashMap;

/// Block used when `PassCx::nchwc_block` is unset.
pub const DEFAULT_NCHWC_BLOCK: usize = 16;

pub fn layout_nchwc(g: &mut Graph, cx: &mut PassCx) -> Result<bool, PassError> {
    let block = cx.nchwc_block.unwrap_or(DEFAULT_NCHWC_BLOCK);
    if block != 8 && block != 16 {
        return Err(PassError::Ir(infc_ir::IrError::Verify(format!(
            "layout-nchwc: block {block} is not 8 or 16"
        ))));
    }
    let convert = plan_conversion(g);
    if !convert.iter().any(|&c| c) {
        return Ok(false);
    }
    let plain_readers = plain_readers(g, &convert);
    let old_nodes = std::mem::take(&mut g.nodes);
    let mut blocked: HashMap<ValueId, ValueId> = HashMap::new();
    let mut nodes: Vec<Node> = Vec::with_capacity(old_nodes.len() + 4);
    for (i, node) in old_nodes.into_iter().enumerate() {
        if !convert[i] {
            nodes.push(node);
            continue;
        }
        let out = node.outputs[0];
        let (op, inputs) = match &node.op {
            Op::MaxPool(attrs) => (
                Op::NchwcMaxPool(attrs.clone()),
                vec![blocked[&node.inputs[0]]],
            ),
            _ => {
                let (attrs, epilogue) = conv_parts(&node).expect("planned as conv");
                let x = node.inputs[0];
                let x_in = match blocked.get(&x) {
                    Some(&xb) => xb,
                    None if channels(g, x) < block => x,
                    None => to_blocked(g, &mut nodes, &mut blocked, x, block, &node.name)?,
                };
                let mut inputs = vec![x_in, node.inputs[1]];
                let mut extras = node.inputs[2..].iter();
                for st in epilogue.iter().filter(|s| s.takes_input()) {
                    let v = *extras.next().expect("arity checked by the verifier");
                    inputs.push(match st {
                        Epilogue::Residual => match blocked.get(&v) {
                            Some(&vb) => vb,
                            None => to_blocked(g, &mut nodes, &mut blocked, v, block, &node.name)?,
                        },
                        _ => v,
                    });
                }
                let op = Op::NchwcConv {
                    attrs,
                    epilogue,
                    block,
                };
                (op, inputs)
            }
        };
        let ty = infc_ir::infer_node_named(g, &node.name, &op, &inputs)?.remove(0);
        let name = format!("{}.nchwc", g.values[out].name);
        let yb = g.add_value(name, ty);
        blocked.insert(out, yb);
        cx.log.record("layout-nchwc", vec![node.name.clone()]);
        // The blocked conv keeps the conv's marks (an INT8 selection made before layout).
        nodes.push(Node {
            precision: node.precision,
            realize: node.realize,
            ..Node::new(node.name.clone(), op, inputs, vec![yb])
        });
        if plain_readers[i] {
            let op = Op::Reorder {
                to_blocked: false,
                block,
                channels: channels(g, out),
            };
            nodes.push(Node::new(
                format!("{}.to_nchw", node.name),
                op,
                vec![yb],
                vec![out],
            ));
        }
    }
    g.nodes = nodes;
    Ok(true)
}

/// Insert `Reorder{to_blocked}` of `v` (before the node being rewritten) and remember it.
fn to_blocked(
    g: &mut Graph,
    nodes: &mut Vec<Node>,
    blocked: &mut HashMap<ValueId, ValueId>,
    v: ValueId,
    block: usize,
    reader: &str,
) -> Result<ValueId, PassError> {
    let op = Op::Reorder {
        to_blocked: true,
        block,
        channels: channels(g, v),
    };
    let name = format!("{reader}.to_nchwc");
    let ty = infc_ir::infer_node_named(g, &name, &op, &[v])?.remove(0);
    let vb = g.add_value(format!("{}.nchwc", g.values[v].name), ty);
    nodes.push(Node::new(name, op, vec![v], vec![vb]));
    blocked.insert(v, vb);
    Ok(vb)
}

/// Channel dim of a known NCHW value (callers checked the shape).
fn channels(g: &Graph, v: ValueId) -> usize {
    g.ty(v)
        .shape
        .as_known()
        .and_then(|d| d.get(1).copied())
        .unwrap_or(0)
}

/// Attributes and epilogue of a Conv/FusedConv as an `NchwcConv` would carry them (a Conv's own
/// bias input becomes a `Bias` stage).
fn conv_parts(node: &Node) -> Option<(infc_ir::ConvAttrs, Vec<Epilogue>)> {
    match &node.op {
        Op::Conv(a) if node.inputs.len() == 3 => Some((a.clone(), vec![Epilogue::Bias])),
        Op::Conv(a) => Some((a.clone(), vec![])),
        Op::FusedConv { attrs, epilogue } => Some((attrs.clone(), epilogue.clone())),
        _ => None,
    }
}

fn known_nchw_f32(g: &Graph, v: ValueId) -> bool {
    let t = g.ty(v);
    t.dtype == DType::F32 && t.shape.as_known().is_some_and(|d| d.len() == 4)
}

/// Which nodes become blocked, decided in node order (a MaxPool only when its input is blocked).
fn plan_conversion(g: &Graph) -> Vec<bool> {
    let producers = g.producers();
    let mut convert = vec![false; g.nodes.len()];
    for (i, node) in g.nodes.iter().enumerate() {
        convert[i] = match &node.op {
            Op::Conv(_) | Op::FusedConv { .. } => conv_ok(g, node),
            Op::MaxPool(a) => {
                a.kernel.len() == 2
                    && known_nchw_f32(g, node.inputs[0])
                    && known_nchw_f32(g, node.outputs[0])
                    && producers
                        .get(node.inputs[0])
                        .is_some_and(|&(p, _)| convert[p])
            }
            _ => false,
        };
    }
    convert
}

fn conv_ok(g: &Graph, node: &Node) -> bool {
    let Some((attrs, epilogue)) = conv_parts(node) else {
        return false;
    };
    let count = |e| epilogue.iter().filter(|&&s| s == e).count();
    let stages_ok = epilogue
        .iter()
        .all(|s| matches!(s, Epilogue::Bias | Epilogue::Residual | Epilogue::Relu))
        && count(Epilogue::Bias) <= 1
        && count(Epilogue::Residual) <= 1
        && count(Epilogue::Relu) <= 1
        && epilogue
            .iter()
            .position(|&s| s == Epilogue::Relu)
            .is_none_or(|p| p + 1 == epilogue.len());
    let weights_ok = g
        .const_of(node.inputs[1])
        .is_some_and(|t| t.dtype == DType::F32 && t.shape.len() == 4 && !t.is_opaque());
    attrs.kernel.len() == 2
        && attrs.group == 1
        && stages_ok
        && weights_ok
        && known_nchw_f32(g, node.inputs[0])
        && known_nchw_f32(g, node.outputs[0])
}

/// For each converted node: whether its output is read in plain layout (by an unconverted node, as
/// a conv's weight or bias, or as a graph output).
fn plain_readers(g: &Graph, convert: &[bool]) -> Vec<bool> {
    let mut plain = vec![false; g.nodes.len()];
    let producers = g.producers();
    let mut mark = |v: ValueId| {
        if let Some(&(p, _)) = producers.get(v) {
            if convert[p] {
                plain[p] = true;
            }
        }
    };
    for &o in &g.outputs {
        mark(o);
    }
    for (i, node) in g.nodes.iter().enumerate() {
        if !convert[i] {
            node.inputs.iter().for_each(|&v| mark(v));
            continue;
        }
        if let Some((_, epilogue)) = conv_parts(node) {
            // Weights and bias are read plain; x and residual blocked.
            mark(node.inputs[1]);
            let stages = epilogue.iter().filter(|s| s.takes_input());
            for (st, &v) in stages.zip(&node.inputs[2..]) {
                if *st != Epilogue::Residual {
                    mark(v);
                }
            }
        }
    }
    plain
}
