//! Turns Gemm and MatMul (+ what follows them) into `FusedMatMul` with an epilogue
//! `[Bias?, (GeluErf | GeluTanh | Relu)?, Residual?]`:
//!
//! - `Gemm(a, b, c?)` → `FusedMatMul(a, b', c'?)`. `transB` and `alpha ≠ 1` need a constant B (it is
//!   transposed / scaled at compile time); `c` becomes a `Bias` when it is a per-column vector (`[N]`,
//!   `[1,N]`, or a one-element constant broadcast to `[N]`; `beta ≠ 1` needs it constant) and a
//!   `Residual` when it is a tensor of the output's shape. `transA` is left alone.
//! - `MatMul(a, b)` with B an f32 constant of rank 2 starts a chain (a MatMul with nothing to fuse
//!   is left alone); an existing `FusedMatMul` may be extended.
//! - The chain then absorbs, in order, while each intermediate has the next node as its only reader:
//!   `Add` of an f32 constant `[N]`/`[1,…,1,N]` (bias, only as the first stage), `Relu` or `Gelu`
//!   (one activation, before any residual), and `Add` of a value with exactly the output's type
//!   (residual, once). Adds match in either operand order.
//! - Dynamo's and TorchScript's `Reshape([d…,K] → [M,K]) → Gemm → Reshape([M,N] → [d…,N])` (GPT-2's
//!   Conv1D) is fused through: when both reshapes only merge/split the leading dims and their
//!   intermediates have no other readers, the reshapes are dropped and the FusedMatMul is 3-D.
//!
//! Preconditions: types inferred with known shapes for the ranks involved. The FusedMatMul replaces
//! the last node of the chain (keeping its output value); the other nodes are left dead and removed,
//! with replaced constants, by the final compaction (invalidates value ids). Log rule:
//! `matmul-epilogue` (nodes listed root first).

use crate::pattern::{
    add_f32_const, channel_vector, either_order, f32_const, known_dims, node_names, replace_node,
    rewrite_sweeps, same_known_type, ChannelAxis, Matcher,
};
use crate::{PassCx, PassError};
use infc_ir::{BinaryOp, DType, Epilogue, Graph, NodeIndex, Op, UnaryOp, ValueId};

pub fn fuse_matmul_epilogue(g: &mut Graph, cx: &mut PassCx) -> Result<bool, PassError> {
    rewrite_sweeps(g, cx, fuse_at)
}

/// An operand of the fused node: an existing value, or a constant to create when the rule fires.
enum Operand {
    Value(ValueId),
    New {
        name: String,
        shape: Vec<usize>,
        data: Vec<f32>,
    },
}

impl Operand {
    fn materialise(self, g: &mut Graph) -> Result<ValueId, PassError> {
        match self {
            Operand::Value(v) => Ok(v),
            Operand::New { name, shape, data } => add_f32_const(g, &name, shape, data),
        }
    }
}

/// The fused node being assembled.
struct Chain {
    a: ValueId,
    b: Operand,
    extras: Vec<Operand>,
    epilogue: Vec<Epilogue>,
    /// Pattern nodes, root first; the last one is replaced.
    nodes: Vec<NodeIndex>,
    /// Value computed so far (output of the last node).
    out: ValueId,
    /// Output columns N.
    n: usize,
    /// True when the root itself is rewritten (Gemm → FusedMatMul), so the rule fires even with an
    /// empty chain.
    root_changes: bool,
}

fn fuse_at(
    g: &mut Graph,
    m: &Matcher,
    root: NodeIndex,
    cx: &mut PassCx,
) -> Result<Option<Vec<NodeIndex>>, PassError> {
    let Some(mut chain) = head(g, root) else {
        return Ok(None);
    };
    let dropped_reshapes = drop_reshapes(g, m, &mut chain);
    let grown = extend(g, m, &mut chain);
    if !(chain.root_changes || dropped_reshapes || grown) {
        return Ok(None);
    }
    let anchor = *chain.nodes.last().expect("chain has its root");
    let names = node_names(g, &chain.nodes);
    let name = g.nodes[root].name.clone();
    let b = chain.b.materialise(g)?;
    let mut inputs = vec![chain.a, b];
    for e in chain.extras {
        inputs.push(e.materialise(g)?);
    }
    replace_node(
        g,
        anchor,
        name,
        Op::FusedMatMul {
            epilogue: chain.epilogue,
            trans_a: false,
            trans_b: false,
        },
        inputs,
    );
    cx.log.record("matmul-epilogue", names);
    Ok(Some(
        chain.nodes.into_iter().filter(|&n| n != anchor).collect(),
    ))
}

/// The chain's root: a convertible Gemm, a MatMul with a constant 2-D f32 B, or a FusedMatMul.
fn head(g: &Graph, root: NodeIndex) -> Option<Chain> {
    let node = &g.nodes[root];
    let out = node.outputs[0];
    if g.ty(out).dtype != DType::F32 {
        return None;
    }
    let n = match known_dims(g, out)?.last() {
        Some(&n) => n,
        None => return None,
    };
    let base = |b, extras, epilogue, root_changes| Chain {
        a: node.inputs[0],
        b,
        extras,
        epilogue,
        nodes: vec![root],
        out,
        n,
        root_changes,
    };
    match &node.op {
        Op::MatMul => {
            let b = node.inputs[1];
            let t = g.const_of(b)?;
            (t.shape.len() == 2 && t.dtype == DType::F32)
                .then(|| base(Operand::Value(b), vec![], vec![], false))
        }
        // Transposed operands stay as they are: the chain rewrites only untransposed matmuls.
        Op::FusedMatMul {
            epilogue,
            trans_a: false,
            trans_b: false,
        } => {
            let extras = node.inputs[2..]
                .iter()
                .map(|&v| Operand::Value(v))
                .collect();
            Some(base(
                Operand::Value(node.inputs[1]),
                extras,
                epilogue.clone(),
                false,
            ))
        }
        Op::Gemm {
            alpha,
            beta,
            trans_a,
            trans_b,
        } => {
            if *trans_a {
                return None;
            }
            let b = gemm_b(g, node.inputs[1], alpha.get(), *trans_b, &node.name)?;
            let (extras, epilogue) = match node.inputs.get(2) {
                None => (vec![], vec![]),
                Some(&c) => {
                    let (c, stage) = gemm_c(g, c, out, n, beta.get(), &node.name)?;
                    (vec![c], vec![stage])
                }
            };
            Some(base(b, extras, epilogue, true))
        }
        _ => None,
    }
}

/// Gemm's B as a plain matmul operand: transposed and/or scaled at compile time when needed.
fn gemm_b(g: &Graph, b: ValueId, alpha: f32, trans_b: bool, node: &str) -> Option<Operand> {
    if !trans_b && alpha == 1.0 {
        return (g.ty(b).rank() == 2).then_some(Operand::Value(b));
    }
    let t = g.const_of(b)?;
    let data = f32_const(g, b)?;
    let [rows, cols] = t.shape[..] else {
        return None;
    };
    let (shape, data) = if trans_b {
        let mut out = vec![0f32; data.len()];
        for r in 0..rows {
            for c in 0..cols {
                out[c * rows + r] = data[r * cols + c] * alpha;
            }
        }
        (vec![cols, rows], out)
    } else {
        (vec![rows, cols], data.iter().map(|&x| x * alpha).collect())
    };
    Some(Operand::New {
        name: format!("{node}.b"),
        shape,
        data,
    })
}

/// Gemm's C as a `Bias` (per-column vector) or `Residual` (full output shape), scaled by beta.
fn gemm_c(
    g: &Graph,
    c: ValueId,
    out: ValueId,
    n: usize,
    beta: f32,
    node: &str,
) -> Option<(Operand, Epilogue)> {
    let scaled = |data: Vec<f32>| data.into_iter().map(|x| x * beta).collect::<Vec<f32>>();
    if let Some(t) = g.const_of(c) {
        let data = f32_const(g, c)?;
        if t.numel() == 1 {
            let v = data[0] * beta;
            return Some((
                Operand::New {
                    name: format!("{node}.bias"),
                    shape: vec![n],
                    data: vec![v; n],
                },
                Epilogue::Bias,
            ));
        }
        if channel_vector(g, c, n, ChannelAxis::Last).is_some() && t.shape.len() <= 2 {
            if beta == 1.0 && t.shape == [n] {
                return Some((Operand::Value(c), Epilogue::Bias));
            }
            return Some((
                Operand::New {
                    name: format!("{node}.bias"),
                    shape: vec![n],
                    data: scaled(data),
                },
                Epilogue::Bias,
            ));
        }
        if same_known_type(g, c, out) {
            if beta == 1.0 {
                return Some((Operand::Value(c), Epilogue::Residual));
            }
            return Some((
                Operand::New {
                    name: format!("{node}.c"),
                    shape: t.shape.clone(),
                    data: scaled(data),
                },
                Epilogue::Residual,
            ));
        }
        return None;
    }
    if beta != 1.0 {
        return None;
    }
    if same_known_type(g, c, out) {
        return Some((Operand::Value(c), Epilogue::Residual));
    }
    let is_vector = g.ty(c).dtype == DType::F32 && known_dims(g, c).is_some_and(|d| d == [n]);
    is_vector.then_some((Operand::Value(c), Epilogue::Bias))
}

/// `Reshape([d…,K] → [M,K]) → root → Reshape([M,N] → [d…,N])`: use the un-reshaped input and the
/// re-reshaped output directly. Only for a 2-D root whose epilogue has no residual.
fn drop_reshapes(g: &Graph, m: &Matcher, chain: &mut Chain) -> bool {
    if chain.nodes.len() != 1 || chain.epilogue.contains(&Epilogue::Residual) {
        return false;
    }
    let root = chain.nodes[0];
    let (Some(a_dims), Some(out_dims)) = (known_dims(g, chain.a), known_dims(g, chain.out)) else {
        return false;
    };
    let (&[rows, k], &[rows_out, n]) = (&a_dims[..], &out_dims[..]) else {
        return false;
    };
    if rows != rows_out || m.sole_user(chain.a) != Some(root) {
        return false;
    }
    let Some((r1, r1_node)) = m.def_if(g, chain.a, |op| matches!(op, Op::Reshape { .. })) else {
        return false;
    };
    let x = r1_node.inputs[0];
    let Some(x_dims) = known_dims(g, x) else {
        return false;
    };
    let Some((&k_x, lead)) = x_dims.split_last() else {
        return false;
    };
    if k_x != k || lead.is_empty() || lead.iter().product::<usize>() != rows {
        return false;
    }
    let Some(r2) = m.sole_user(chain.out) else {
        return false;
    };
    let r2_node = &g.nodes[r2];
    if !matches!(r2_node.op, Op::Reshape { .. }) || r2_node.inputs[0] != chain.out {
        return false;
    }
    let y = r2_node.outputs[0];
    let mut want = lead.to_vec();
    want.push(n);
    if known_dims(g, y).as_deref() != Some(&want[..]) {
        return false;
    }
    chain.a = x;
    chain.nodes = vec![r1, root, r2];
    chain.out = y;
    true
}

/// Absorb following Add-bias / activation / Add-residual nodes. Returns whether any was absorbed.
fn extend(g: &Graph, m: &Matcher, chain: &mut Chain) -> bool {
    let mut grown = false;
    while let Some(u) = m.sole_user(chain.out) {
        let node = &g.nodes[u];
        let out = node.outputs[0];
        if g.ty(out) != g.ty(chain.out) {
            break;
        }
        let has_act = chain
            .epilogue
            .iter()
            .any(|e| matches!(e, Epilogue::Relu | Epilogue::GeluErf | Epilogue::GeluTanh));
        let has_residual = chain.epilogue.contains(&Epilogue::Residual);
        let (stage, extra) = match &node.op {
            Op::Binary(BinaryOp::Add) => {
                let Some((_, other)) =
                    either_order(node.inputs[0], node.inputs[1], |v| v != chain.out)
                else {
                    break;
                };
                if node.inputs[0] == node.inputs[1] {
                    break;
                }
                if chain.epilogue.is_empty() {
                    if let Some(data) = channel_vector(g, other, chain.n, ChannelAxis::Last) {
                        let operand = if g.const_of(other).is_some_and(|t| t.shape == [chain.n]) {
                            Operand::Value(other)
                        } else {
                            Operand::New {
                                name: format!("{}.bias", node.name),
                                shape: vec![chain.n],
                                data,
                            }
                        };
                        chain.epilogue.push(Epilogue::Bias);
                        chain.extras.push(operand);
                        chain.nodes.push(u);
                        chain.out = out;
                        grown = true;
                        continue;
                    }
                }
                if has_residual || !same_known_type(g, other, out) {
                    break;
                }
                (Epilogue::Residual, Some(other))
            }
            Op::Unary(UnaryOp::Relu) if !has_act && !has_residual => (Epilogue::Relu, None),
            Op::Gelu { tanh } if !has_act && !has_residual => (
                if *tanh {
                    Epilogue::GeluTanh
                } else {
                    Epilogue::GeluErf
                },
                None,
            ),
            _ => break,
        };
        chain.epilogue.push(stage);
        if let Some(v) = extra {
            chain.extras.push(Operand::Value(v));
        }
        chain.nodes.push(u);
        chain.out = out;
        grown = true;
    }
    grown
}
