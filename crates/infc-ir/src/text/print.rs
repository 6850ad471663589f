//! The text printer: one deterministic line per constant and per node, types printed, large
//! constants by fingerprint. See the module docs of [`crate::text`] for the grammar.

use super::attrs::attrs_text;
use super::names::{ident_or_quoted, quote, ValueNames};
use crate::{DType, Dim, Graph, Tensor, TensorData, TensorType, ValueId};
use std::fmt::{self, Write};

/// Constants with at most this many elements are printed with their values; larger ones by fingerprint.
pub const INLINE_CONST_MAX: usize = 16;

/// `f32[batch,3,224,224]`, quoting symbolic dims that are not identifiers.
pub(crate) fn type_text(ty: &TensorType) -> String {
    let dims: Vec<String> = ty
        .shape
        .dims()
        .iter()
        .map(|d| match d {
            Dim::Known(n) => n.to_string(),
            Dim::Sym(s) => ident_or_quoted(s),
        })
        .collect();
    format!("{}[{}]", ty.dtype, dims.join(","))
}

fn value_type_text(g: &Graph, v: ValueId) -> String {
    match g.values.get(v) {
        Some(val) => type_text(&val.ty),
        None => "?".to_string(),
    }
}

/// The elements of a small constant as text (`{:?}` for floats so they read back bit for bit), or
/// `None` when they are not available.
fn const_elements(t: &Tensor) -> Option<Vec<String>> {
    let strings = match t.dtype {
        DType::F32 => t
            .view::<f32>()
            .ok()?
            .iter()
            .map(|v| format!("{v:?}"))
            .collect(),
        DType::F16 => t
            .view::<half::f16>()
            .ok()?
            .iter()
            .map(|v| format!("{v:?}"))
            .collect(),
        DType::I64 => t
            .view::<i64>()
            .ok()?
            .iter()
            .map(ToString::to_string)
            .collect(),
        DType::I32 => t
            .view::<i32>()
            .ok()?
            .iter()
            .map(ToString::to_string)
            .collect(),
        DType::I8 => t
            .view::<i8>()
            .ok()?
            .iter()
            .map(ToString::to_string)
            .collect(),
        DType::U8 => t
            .view::<u8>()
            .ok()?
            .iter()
            .map(ToString::to_string)
            .collect(),
        DType::Bool => t
            .bytes()
            .ok()?
            .iter()
            .map(|&b| (b != 0).to_string())
            .collect(),
    };
    Some(strings)
}

/// `const f32[2] [1.0, 2.5]` or `const f32[64,3,7,7] fp=0x…`.
fn const_text(t: &Tensor) -> String {
    let ty = type_text(&TensorType::known(t.dtype, &t.shape));
    let inline = match &t.data {
        TensorData::Bytes(_) if t.numel() <= INLINE_CONST_MAX => const_elements(t),
        _ => None,
    };
    match inline {
        Some(elems) => format!("const {ty} [{}]", elems.join(", ")),
        None => format!("const {ty} fp=0x{:016x}", t.fingerprint()),
    }
}

fn join_names(names: &ValueNames, vs: &[ValueId]) -> String {
    let parts: Vec<String> = vs.iter().map(|&v| names.get(v)).collect();
    parts.join(", ")
}

/// `  # "source name"` suffix (empty for an empty name).
fn name_suffix(name: &str) -> String {
    if name.is_empty() {
        String::new()
    } else {
        format!("  # {}", quote(name))
    }
}

/// Print `g` as text IR. Never fails: a broken graph still prints (undefined values get numbers),
/// which is what a verifier error report wants to show.
pub fn print_graph(g: &Graph) -> String {
    let names = ValueNames::new(g);
    let mut out = String::new();
    let inputs: Vec<String> = g
        .inputs
        .iter()
        .map(|&v| format!("{}: {}", names.get(v), value_type_text(g, v)))
        .collect();
    let _ = writeln!(out, "graph {}({}) {{", quote(&g.name), inputs.join(", "));
    for &v in &names.consts {
        let val = &g.values[v];
        if let Some(c) = val.konst.and_then(|c| g.consts.get(c)) {
            let _ = writeln!(
                out,
                "  {} = {}{}",
                names.get(v),
                const_text(&c.tensor),
                name_suffix(&c.name)
            );
        }
    }
    for node in &g.nodes {
        out.push_str("  ");
        if !node.outputs.is_empty() {
            let _ = write!(out, "{} = ", join_names(&names, &node.outputs));
        }
        out.push_str(node.op.name());
        let attrs = attrs_text(&node.op);
        if !attrs.is_empty() {
            let _ = write!(out, "[{attrs}]");
        }
        let _ = write!(out, "({})", join_names(&names, &node.inputs));
        out.push_str(&crate::marks::marks_text(node));
        if !node.outputs.is_empty() {
            let types: Vec<String> = node
                .outputs
                .iter()
                .map(|&v| value_type_text(g, v))
                .collect();
            let _ = write!(out, " : {}", types.join(", "));
        }
        let _ = writeln!(out, "{}", name_suffix(&node.name));
    }
    if g.outputs.is_empty() {
        out.push_str("  return\n");
    } else {
        let _ = writeln!(out, "  return {}", join_names(&names, &g.outputs));
    }
    out.push_str("}\n");
    out
}

impl fmt::Display for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&print_graph(self))
    }
}
