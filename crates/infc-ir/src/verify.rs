//! The verifier: checks the invariants every pass must keep, and reports the first violation as
//! `IrError::Verify` naming the node (or value) at fault.
//!
//! Structure (this file): every id is in range; every value is defined exactly once (graph input,
//! constant or one node output); nodes are in def-before-use order; graph outputs are defined; graph
//! input names are unique; constant values carry their tensor's type; input/output counts match
//! [`crate::Op::arity`]; lowering marks are legal ([`crate::marks`]). Per-node rules live in [`dtypes`] (element-type rules) and [`shapes`]
//! (attribute sanity and cheap rank/shape rules).
//!
//! Dims are compared as: two known dims by value, two symbolic dims by name; a known dim against a
//! symbolic one never conflicts (the symbol may take that value).

mod dtypes;
mod shapes;

use crate::{Dim, Graph, IrError, Node, Op, TensorType, ValueId};
use std::collections::HashSet;

/// Check every invariant of `g`; the first violation is returned.
pub fn verify(g: &Graph) -> Result<(), IrError> {
    check_ids(g).map_err(IrError::Verify)?;
    check_definitions(g).map_err(IrError::Verify)?;
    for (i, node) in g.nodes.iter().enumerate() {
        let cx = NodeCx { g, node };
        check_arity(&cx)
            .and_then(|()| dtypes::check(&cx))
            .and_then(|()| shapes::check(&cx))
            .map_err(|msg| {
                IrError::Verify(format!("{} ({}): {msg}", node_label(g, i), node.op.name()))
            })?;
    }
    check_marks(g)?;
    Ok(())
}

/// Every lowering mark is legal where it stands ([`crate::marks::mark_error`]); the use lists
/// are built only when some node carries a mark.
fn check_marks(g: &Graph) -> Result<(), IrError> {
    let marked =
        |n: &Node| n.precision != crate::Precision::F32 || n.realize != crate::Realize::Step;
    if !g.nodes.iter().any(marked) {
        return Ok(());
    }
    let uses = g.uses();
    for (i, node) in g.nodes.iter().enumerate() {
        if marked(node) {
            if let Some(msg) = crate::marks::mark_error(g, i, &uses) {
                return Err(IrError::Verify(format!("{}: {msg}", node_label(g, i))));
            }
        }
    }
    Ok(())
}

/// `node '/conv/Conv'`, or `node #3` for a node without a name.
fn node_label(g: &Graph, i: usize) -> String {
    match g.nodes.get(i).map(|n| n.name.as_str()) {
        Some("") | None => format!("node #{i}"),
        Some(name) => format!("node '{name}'"),
    }
}

fn check_ids(g: &Graph) -> Result<(), String> {
    let n = g.values.len();
    let bad = |v: ValueId| v.index() >= n;
    let out_of_range = |what: String, v: ValueId| {
        format!(
            "{what} refers to value #{} but the graph has {n} values",
            v.index()
        )
    };
    for (i, &v) in g.inputs.iter().enumerate() {
        if bad(v) {
            return Err(out_of_range(format!("graph input {i}"), v));
        }
    }
    for (i, &v) in g.outputs.iter().enumerate() {
        if bad(v) {
            return Err(out_of_range(format!("graph output {i}"), v));
        }
    }
    for (n, node) in g.nodes.iter().enumerate() {
        for (i, &v) in node.inputs.iter().enumerate() {
            if bad(v) {
                return Err(out_of_range(format!("{} input {i}", node_label(g, n)), v));
            }
        }
        for (i, &v) in node.outputs.iter().enumerate() {
            if bad(v) {
                return Err(out_of_range(format!("{} output {i}", node_label(g, n)), v));
            }
        }
    }
    for (_, val) in g.values.iter() {
        if let Some(c) = val.konst {
            if !g.consts.contains(c) {
                return Err(format!(
                    "value '{}' refers to constant #{} but the graph has {} constants",
                    val.name,
                    c.index(),
                    g.consts.len()
                ));
            }
        }
    }
    Ok(())
}

fn check_definitions(g: &Graph) -> Result<(), String> {
    let mut defined = vec![false; g.values.len()];
    let mut input_names = HashSet::new();
    for &v in &g.inputs {
        let val = &g.values[v];
        if val.konst.is_some() {
            return Err(format!("graph input '{}' is also a constant", val.name));
        }
        if std::mem::replace(&mut defined[v.index()], true) {
            return Err(format!("graph input '{}' is listed twice", val.name));
        }
        if !input_names.insert(val.name.as_str()) {
            return Err(format!("two graph inputs are named '{}'", val.name));
        }
    }
    for (v, val) in g.values.iter() {
        if let Some(c) = val.konst {
            defined[v.index()] = true;
            let t = &g.consts[c].tensor;
            let want = TensorType::known(t.dtype, &t.shape);
            if val.ty != want {
                return Err(format!(
                    "constant '{}' has type {} but its tensor is {want}",
                    val.name, val.ty
                ));
            }
        }
    }
    let producers = g.producers();
    for (n, node) in g.nodes.iter().enumerate() {
        for &v in &node.inputs {
            if defined[v.index()] {
                continue;
            }
            let name = &g.values[v].name;
            return Err(match producers.get(v) {
                Some(&(p, _)) => {
                    format!(
                        "{} reads '{name}' before {} defines it",
                        node_label(g, n),
                        node_label(g, p)
                    )
                }
                None => format!("{} reads '{name}', which nothing defines", node_label(g, n)),
            });
        }
        for &v in &node.outputs {
            if std::mem::replace(&mut defined[v.index()], true) {
                let name = &g.values[v].name;
                return Err(format!(
                    "value '{name}' is defined more than once (again by {})",
                    node_label(g, n)
                ));
            }
        }
    }
    for &v in &g.outputs {
        if !defined[v.index()] {
            return Err(format!(
                "graph output '{}' is never defined",
                g.values[v].name
            ));
        }
    }
    Ok(())
}

fn check_arity(cx: &NodeCx) -> Result<(), String> {
    let (ins, outs) = (cx.node.inputs.len(), cx.node.outputs.len());
    if let Op::Split { splits, .. } = &cx.node.op {
        if splits.is_empty() {
            return Err("`splits` is empty".into());
        }
        if outs != splits.len() {
            return Err(format!(
                "{outs} output(s) but `splits` has {} entries",
                splits.len()
            ));
        }
    }
    let a = cx.node.op.arity();
    if ins < a.min_inputs || ins > a.max_inputs {
        let want = match (a.min_inputs, a.max_inputs) {
            (lo, hi) if lo == hi => format!("{lo}"),
            (lo, usize::MAX) => format!("at least {lo}"),
            (lo, hi) => format!("{lo} to {hi}"),
        };
        return Err(format!("takes {want} input(s), has {ins}"));
    }
    if outs != a.outputs {
        return Err(format!("has {} output(s), expected {}", outs, a.outputs));
    }
    Ok(())
}

/// One node under check; arity and ids are verified before the per-op rules use these accessors.
pub(crate) struct NodeCx<'a> {
    pub g: &'a Graph,
    pub node: &'a Node,
}

impl NodeCx<'_> {
    pub fn ty_in(&self, i: usize) -> &TensorType {
        &self.g.values[self.node.inputs[i]].ty
    }
    pub fn ty_out(&self, i: usize) -> &TensorType {
        &self.g.values[self.node.outputs[i]].ty
    }
    pub fn n_in(&self) -> usize {
        self.node.inputs.len()
    }
    /// `input 1 ('w')`, or `input 1` when the value has no name.
    pub fn in_desc(&self, i: usize) -> String {
        describe("input", i, &self.g.values[self.node.inputs[i]].name)
    }
    /// `output 0 ('y')`, or `output 0` when the value has no name.
    pub fn out_desc(&self, i: usize) -> String {
        describe("output", i, &self.g.values[self.node.outputs[i]].name)
    }
}

fn describe(kind: &str, i: usize, name: &str) -> String {
    if name.is_empty() {
        format!("{kind} {i}")
    } else {
        format!("{kind} {i} ('{name}')")
    }
}

/// True when two dims cannot be equal: different known sizes or differently named symbols.
pub(crate) fn dims_conflict(a: &Dim, b: &Dim) -> bool {
    match (a, b) {
        (Dim::Known(x), Dim::Known(y)) => x != y,
        (Dim::Sym(x), Dim::Sym(y)) => x != y,
        _ => false,
    }
}
