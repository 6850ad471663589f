//! GraphViz export: one box per node labelled with its op name, one edge per value use labelled
//! with the value's type. Graph inputs and outputs are ellipses; constants are left out (they would
//! double the node count of a CNN and carry no data flow).

use super::names::ValueNames;
use super::print::type_text;
use crate::{Graph, ValueId};
use std::collections::HashMap;
use std::fmt::Write;

/// A DOT string literal.
fn dot_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn edge_label(g: &Graph, v: ValueId) -> String {
    g.values
        .get(v)
        .map(|val| type_text(&val.ty))
        .unwrap_or_else(|| "?".to_string())
}

/// Render `g` as a GraphViz digraph (deterministic: ids follow input, node and output order).
pub fn to_dot(g: &Graph) -> String {
    let names = ValueNames::new(g);
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", dot_str(&g.name));
    out.push_str("  node [shape=box, fontname=\"monospace\"];\n");
    out.push_str("  edge [fontname=\"monospace\", fontsize=10];\n");
    // Where each value comes from, as a DOT node id.
    let mut source: HashMap<ValueId, String> = HashMap::new();
    for (i, &v) in g.inputs.iter().enumerate() {
        let id = format!("in{i}");
        let _ = writeln!(
            out,
            "  {id} [label={}, shape=ellipse];",
            dot_str(&names.get(v))
        );
        source.entry(v).or_insert(id);
    }
    for (i, node) in g.nodes.iter().enumerate() {
        let id = format!("n{i}");
        let _ = writeln!(
            out,
            "  {id} [label={}, tooltip={}];",
            dot_str(&format!(
                "{}{}",
                node.op.name(),
                crate::marks::marks_text(node)
            )),
            dot_str(&node.name)
        );
        for &v in &node.outputs {
            source.entry(v).or_insert_with(|| id.clone());
        }
    }
    for (i, &v) in g.outputs.iter().enumerate() {
        let _ = writeln!(
            out,
            "  out{i} [label={}, shape=ellipse];",
            dot_str(&names.get(v))
        );
    }
    for (i, node) in g.nodes.iter().enumerate() {
        for &v in &node.inputs {
            if let Some(src) = source.get(&v) {
                let _ = writeln!(
                    out,
                    "  {src} -> n{i} [label={}];",
                    dot_str(&edge_label(g, v))
                );
            }
        }
    }
    for (i, &v) in g.outputs.iter().enumerate() {
        if let Some(src) = source.get(&v) {
            let _ = writeln!(
                out,
                "  {src} -> out{i} [label={}];",
                dot_str(&edge_label(g, v))
            );
        }
    }
    out.push_str("}\n");
    out
}
