//! JSON export of a graph for tools: name, inputs, outputs, constants (id, name, dtype, shape,
//! fingerprint) and nodes (name, op, attributes as the text-IR string, precision and realize marks,
//! input and output ids with
//! their types). Value ids are the text printer's `%…` spellings. Keys come in a fixed order and
//! each array element sits on one line, so the output is deterministic and diffs well.

use super::attrs::attrs_text;
use super::names::ValueNames;
use super::print::type_text;
use crate::{Dim, Graph, ValueId};
use serde_json::{json, Map, Value as Json};

fn shape_json(dims: &[Dim]) -> Json {
    dims.iter()
        .map(|d| match d {
            Dim::Known(n) => json!(n),
            Dim::Sym(s) => json!(s.as_ref()),
        })
        .collect()
}

/// Graph inputs and outputs: id, source name, type, dtype and shape.
fn value_json(g: &Graph, names: &ValueNames, v: ValueId) -> Json {
    let mut m = Map::new();
    m.insert("id".into(), json!(names.get(v)));
    if let Some(val) = g.values.get(v) {
        m.insert("name".into(), json!(val.name));
        m.insert("type".into(), json!(type_text(&val.ty)));
        m.insert("dtype".into(), json!(val.ty.dtype.name()));
        m.insert("shape".into(), shape_json(val.ty.shape.dims()));
    }
    Json::Object(m)
}

/// Node operands: id and type.
fn operand_json(g: &Graph, names: &ValueNames, v: ValueId) -> Json {
    let ty = g
        .values
        .get(v)
        .map(|val| type_text(&val.ty))
        .unwrap_or_else(|| "?".into());
    let mut m = Map::new();
    m.insert("id".into(), json!(names.get(v)));
    m.insert("type".into(), json!(ty));
    Json::Object(m)
}

fn object(fields: Vec<(&str, Json)>) -> Json {
    let mut m = Map::new();
    for (k, v) in fields {
        m.insert(k.to_string(), v);
    }
    Json::Object(m)
}

/// `"key": [` + one compact element per line + `]`.
fn push_array(out: &mut String, key: &str, items: &[Json], last: bool) {
    out.push_str(&format!("  {}: [", json!(key)));
    for (i, item) in items.iter().enumerate() {
        out.push_str(if i == 0 { "\n    " } else { ",\n    " });
        out.push_str(&item.to_string());
    }
    out.push_str(if items.is_empty() { "]" } else { "\n  ]" });
    out.push_str(if last { "\n" } else { ",\n" });
}

/// Render `g` as JSON (an object with `name`, `inputs`, `outputs`, `constants`, `nodes`).
pub fn to_json(g: &Graph) -> String {
    let names = ValueNames::new(g);
    let values =
        |vs: &[ValueId]| -> Vec<Json> { vs.iter().map(|&v| value_json(g, &names, v)).collect() };
    let operands =
        |vs: &[ValueId]| -> Vec<Json> { vs.iter().map(|&v| operand_json(g, &names, v)).collect() };
    let constants: Vec<Json> = names
        .consts
        .iter()
        .filter_map(|&v| {
            let c = g.consts.get(g.values.get(v)?.konst?)?;
            Some(object(vec![
                ("id", json!(names.get(v))),
                ("name", json!(c.name)),
                ("dtype", json!(c.tensor.dtype.name())),
                ("shape", json!(c.tensor.shape)),
                (
                    "fingerprint",
                    json!(format!("0x{:016x}", c.tensor.fingerprint())),
                ),
            ]))
        })
        .collect();
    let nodes: Vec<Json> = g
        .nodes
        .iter()
        .map(|n| {
            object(vec![
                ("name", json!(n.name)),
                ("op", json!(n.op.name())),
                ("attrs", json!(attrs_text(&n.op))),
                ("precision", json!(n.precision.name())),
                ("realize", json!(n.realize.name())),
                ("inputs", Json::Array(operands(&n.inputs))),
                ("outputs", Json::Array(operands(&n.outputs))),
            ])
        })
        .collect();
    let mut out = String::from("{\n");
    out.push_str(&format!("  \"name\": {},\n", json!(g.name)));
    push_array(&mut out, "inputs", &values(&g.inputs), false);
    push_array(&mut out, "outputs", &values(&g.outputs), false);
    push_array(&mut out, "constants", &constants, false);
    push_array(&mut out, "nodes", &nodes, true);
    out.push_str("}\n");
    out
}
