//! [`run_graph`]: execute a whole graph with [`crate::eval_op`], node by node in their stored
//! (def-before-use) order.
//!
//! Inputs are validated against the graph inputs' declared types: dtype, rank, every known dim, and
//! symbolic dims — any size is accepted, but one symbol must have one size across all inputs (and
//! across every node output that mentions it). Each intermediate is dropped right after the last node
//! that reads it, so peak memory is the live set, not every activation. Constants are read in place
//! from the graph (never copied); an opaque constant is an error.

use crate::{eval_op, RefError};
use infc_ir::{Dim, Graph, Tensor, TensorType, ValueId};
use std::collections::HashMap;
use std::sync::Arc;

/// How a caller names a graph input: by value id or by its source name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputKey {
    Id(ValueId),
    Name(String),
}

impl From<ValueId> for InputKey {
    fn from(v: ValueId) -> InputKey {
        InputKey::Id(v)
    }
}
impl From<&str> for InputKey {
    fn from(s: &str) -> InputKey {
        InputKey::Name(s.to_string())
    }
}
impl From<String> for InputKey {
    fn from(s: String) -> InputKey {
        InputKey::Name(s)
    }
}

/// Sizes bound to symbolic dims so far, with who bound them (for error messages).
type Bindings = HashMap<Arc<str>, (usize, String)>;

/// Memory figures of one [`run_graph_with_stats`] call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Largest total size of computed tensors (inputs and node outputs, not constants) held at once.
    pub peak_live_bytes: usize,
    /// Sum of the sizes of every node output: what holding every activation would cost.
    pub total_output_bytes: usize,
}

/// Run `g` on `inputs` (one entry per graph input, in any order) and return the graph outputs in
/// `g.outputs` order.
pub fn run_graph(g: &Graph, inputs: &[(InputKey, Tensor)]) -> Result<Vec<Tensor>, RefError> {
    run_graph_with_stats(g, inputs).map(|(out, _)| out)
}

/// [`run_graph`], also reporting peak memory held by computed values.
pub fn run_graph_with_stats(
    g: &Graph,
    inputs: &[(InputKey, Tensor)],
) -> Result<(Vec<Tensor>, RunStats), RefError> {
    let mut env: Vec<Option<Tensor>> = vec![None; g.values.len()];
    let mut bindings = Bindings::new();
    bind_inputs(g, inputs, &mut env, &mut bindings)?;

    // Last node reading each value; graph outputs are never freed.
    let mut last_use = vec![None::<usize>; g.values.len()];
    for (i, node) in g.nodes.iter().enumerate() {
        for &v in &node.inputs {
            last_use[v.index()] = Some(i);
        }
    }
    let mut keep = vec![false; g.values.len()];
    for &v in &g.outputs {
        keep[v.index()] = true;
    }
    let mut live: usize = env.iter().flatten().map(Tensor::byte_len).sum();
    let mut stats = RunStats {
        peak_live_bytes: live,
        total_output_bytes: 0,
    };

    for (i, node) in g.nodes.iter().enumerate() {
        let outputs = {
            let args = node
                .inputs
                .iter()
                .map(|&v| fetch(g, &env, v).map_err(|e| in_node(&node.name, e)))
                .collect::<Result<Vec<&Tensor>, _>>()?;
            eval_op(&node.op, &args).map_err(|e| in_node(&node.name, e))?
        };
        if outputs.len() != node.outputs.len() {
            return Err(RefError::Graph(format!(
                "node '{}' ({}) has {} output values but the op produced {}",
                node.name,
                node.op.name(),
                node.outputs.len(),
                outputs.len()
            )));
        }
        for (&v, t) in node.outputs.iter().zip(outputs) {
            let value = g.value(v);
            let who = format!(
                "node '{}' ({}) output '{}'",
                node.name,
                node.op.name(),
                value.name
            );
            if let Err(msg) = check_type(&value.ty, &t, &mut bindings, &who) {
                return Err(RefError::Graph(format!("{who}: {msg}")));
            }
            stats.total_output_bytes += t.byte_len();
            live += t.byte_len();
            stats.peak_live_bytes = stats.peak_live_bytes.max(live);
            if keep[v.index()] || last_use[v.index()].is_some() {
                env[v.index()] = Some(t);
            } else {
                live -= t.byte_len();
            }
        }
        for &v in &node.inputs {
            if last_use[v.index()] == Some(i) && !keep[v.index()] {
                if let Some(t) = env[v.index()].take() {
                    live -= t.byte_len();
                }
            }
        }
    }
    let outputs = g
        .outputs
        .iter()
        .map(|&v| fetch(g, &env, v).cloned())
        .collect::<Result<_, _>>()?;
    Ok((outputs, stats))
}

fn in_node(node: &str, e: RefError) -> RefError {
    RefError::Node {
        node: node.to_string(),
        error: Box::new(e),
    }
}

/// The tensor behind `v`: a constant from the graph or a computed value.
fn fetch<'a>(g: &'a Graph, env: &'a [Option<Tensor>], v: ValueId) -> Result<&'a Tensor, RefError> {
    if let Some(t) = g.const_of(v) {
        if t.is_opaque() {
            return Err(RefError::OpaqueConstant(g.value(v).name.clone()));
        }
        return Ok(t);
    }
    env[v.index()].as_ref().ok_or_else(|| {
        RefError::Graph(format!(
            "value '{}' is read before it is computed (or after it was freed)",
            g.value(v).name
        ))
    })
}

/// Match caller inputs to graph inputs, validate them, and place them in `env`.
fn bind_inputs(
    g: &Graph,
    inputs: &[(InputKey, Tensor)],
    env: &mut [Option<Tensor>],
    bindings: &mut Bindings,
) -> Result<(), RefError> {
    for (key, t) in inputs {
        let v = match key {
            InputKey::Id(v) if g.inputs.contains(v) => *v,
            InputKey::Id(v) => return Err(RefError::UnknownInput(format!("with value id {v:?}"))),
            InputKey::Name(n) => g
                .input_by_name(n)
                .ok_or_else(|| RefError::UnknownInput(format!("named '{n}'")))?,
        };
        let value = g.value(v);
        let fail = |msg: String| RefError::Input {
            name: value.name.clone(),
            msg,
        };
        if env[v.index()].is_some() {
            return Err(fail("given more than once".into()));
        }
        if t.is_opaque() {
            return Err(fail("the given tensor has no data".into()));
        }
        check_type(&value.ty, t, bindings, &format!("input '{}'", value.name)).map_err(fail)?;
        env[v.index()] = Some(t.clone());
    }
    for &v in &g.inputs {
        if env[v.index()].is_none() {
            let value = g.value(v);
            return Err(RefError::Input {
                name: value.name.clone(),
                msg: format!("missing (expected {})", value.ty),
            });
        }
    }
    Ok(())
}

/// Check `t` against the declared type; symbolic dims are bound on first sight and must agree after.
fn check_type(
    ty: &TensorType,
    t: &Tensor,
    bindings: &mut Bindings,
    who: &str,
) -> Result<(), String> {
    let given = format!("{}{:?}", t.dtype, t.shape);
    if t.dtype != ty.dtype || t.shape.len() != ty.rank() {
        return Err(format!("expected {ty}, got {given}"));
    }
    for (i, (d, &n)) in ty.shape.dims().iter().zip(&t.shape).enumerate() {
        match d {
            Dim::Known(k) if *k != n => return Err(format!("expected {ty}, got {given} (dim {i} differs)")),
            Dim::Known(_) => {}
            Dim::Sym(s) => match bindings.get(s) {
                Some((bound, by)) if *bound != n => {
                    return Err(format!(
                        "expected {ty}, got {given}: dim {i} is '{s}' = {n}, but {by} has '{s}' = {bound}"
                    ))
                }
                Some(_) => {}
                None => {
                    bindings.insert(s.clone(), (n, who.to_string()));
                }
            },
        }
    }
    Ok(())
}
