//! JSON export of a graph for tools: name, inputs, outputs, constants (id, name, dtype, shape,
//! fingerprint) and nodes (name, op, attributes as the text-IR string, inputs and outputs with their
//! types). Value ids are the text printer's `%…` spellings. Keys are sorted, so output is deterministic.

use super::attrs::attrs_text;
use super::names::ValueNames;
use super::print::type_text;
use crate::{Dim, Graph, ValueId};
use serde_json::{json, Value as Json};

fn value_json(g: &Graph, names: &ValueNames, v: ValueId) -> Json {
    match g.values.get(v) {
        Some(val) => {
            let shape: Vec<Json> = val
                .ty
                .shape
                .dims()
                .iter()
                .map(|d| match d {
                    Dim::Known(n) => json!(n),
                    Dim::Sym(s) => json!(s.as_ref()),
                })
                .collect();
            json!({
                "id": names.get(v),
                "name": val.name,
                "type": type_text(&val.ty),
                "dtype": val.ty.dtype.name(),
                "shape": shape,
            })
        }
        None => json!({ "id": names.get(v) }),
    }
}

/// Render `g` as pretty-printed JSON.
pub fn to_json(g: &Graph) -> String {
    let names = ValueNames::new(g);
    let values =
        |vs: &[ValueId]| -> Vec<Json> { vs.iter().map(|&v| value_json(g, &names, v)).collect() };
    let constants: Vec<Json> = names
        .consts
        .iter()
        .filter_map(|&v| {
            let c = g.consts.get(g.values.get(v)?.konst?)?;
            Some(json!({
                "id": names.get(v),
                "name": c.name,
                "dtype": c.tensor.dtype.name(),
                "shape": c.tensor.shape,
                "fingerprint": format!("0x{:016x}", c.tensor.fingerprint()),
            }))
        })
        .collect();
    let nodes: Vec<Json> = g
        .nodes
        .iter()
        .map(|n| {
            json!({
                "name": n.name,
                "op": n.op.name(),
                "attrs": attrs_text(&n.op),
                "inputs": values(&n.inputs),
                "outputs": values(&n.outputs),
            })
        })
        .collect();
    let doc = json!({
        "name": g.name,
        "inputs": values(&g.inputs),
        "outputs": values(&g.outputs),
        "constants": constants,
        "nodes": nodes,
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}
