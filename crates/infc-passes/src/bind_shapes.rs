//! Binding symbolic dims to sizes (`--shape NAME=D0xD1x…`): parses the flag, checks each binding
//! against the model's declared input type, and substitutes the symbols throughout the graph. Types
//! of intermediate values are re-derived by [`crate::fold_constants`], which callers run next.

use crate::PassError;
use infc_ir::{Dim, Graph};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One `--shape` flag: an input name (or a symbolic dim name) and its sizes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeBinding {
    pub name: String,
    pub dims: Vec<usize>,
}

/// Parse `NAME=D0xD1x…` (e.g. `input_ids=1x128`, `input=1x3x224x224`, `batch=4`).
pub fn parse_shape_binding(s: &str) -> Result<ShapeBinding, PassError> {
    let bad = |why: &str| {
        PassError::Binding(format!(
            "'{s}': {why} (expected NAME=D0xD1x…, e.g. input=1x3x224x224)"
        ))
    };
    let (name, dims) = s.rsplit_once('=').ok_or_else(|| bad("missing '='"))?;
    if name.is_empty() {
        return Err(bad("empty input name"));
    }
    if dims.is_empty() {
        return Err(bad("no dimensions after '='"));
    }
    let dims = dims
        .split(['x', 'X'])
        .map(|d| {
            d.trim()
                .parse::<usize>()
                .map_err(|_| bad(&format!("'{d}' is not a non-negative integer")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ShapeBinding {
        name: name.to_string(),
        dims,
    })
}

/// Apply `bindings` to `g`: each binding names a graph input (full shape) or a symbolic dim
/// (one size). Errors name the input, the declared type and the given shape on any contradiction.
pub fn bind_input_shapes(g: &mut Graph, bindings: &[ShapeBinding]) -> Result<(), PassError> {
    let mut symbols: BTreeMap<Arc<str>, (usize, String)> = BTreeMap::new();
    let mut set = |sym: &Arc<str>, size: usize, why: String| -> Result<(), PassError> {
        match symbols.get(sym) {
            Some((prev, prev_why)) if *prev != size => Err(PassError::Binding(format!(
                "dim '{sym}' is bound to {prev} by {prev_why} and to {size} by {why}"
            ))),
            _ => {
                symbols.insert(sym.clone(), (size, why));
                Ok(())
            }
        }
    };
    for b in bindings {
        if let Some(v) = g.input_by_name(&b.name) {
            let declared = g.ty(v).clone();
            let shown = b
                .dims
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("x");
            if declared.rank() != b.dims.len() {
                return Err(PassError::Binding(format!(
                    "{}={shown}: input '{}' has rank {} ({declared}), the binding gives {} dims",
                    b.name,
                    b.name,
                    declared.rank(),
                    b.dims.len()
                )));
            }
            for (axis, (d, &size)) in declared.shape.dims().iter().zip(&b.dims).enumerate() {
                match d {
                    Dim::Known(k) if *k != size => {
                        return Err(PassError::Binding(format!(
                            "{}={shown}: input '{}' is {declared}, dim {axis} is fixed at {k}, the binding gives {size}",
                            b.name, b.name
                        )))
                    }
                    Dim::Known(_) => {}
                    Dim::Sym(s) => set(s, size, format!("{}={shown}", b.name))?,
                }
            }
        } else if b.dims.len() == 1 && is_symbol_of_inputs(g, &b.name) {
            set(
                &Arc::from(b.name.as_str()),
                b.dims[0],
                format!("{}={}", b.name, b.dims[0]),
            )?;
        } else {
            let names: Vec<String> = g
                .inputs
                .iter()
                .map(|&v| format!("{}: {}", g.value(v).name, g.ty(v)))
                .collect();
            return Err(PassError::Binding(format!(
                "'{}' is neither a model input nor a symbolic dim of one; inputs are: {}",
                b.name,
                names.join(", ")
            )));
        }
    }
    let ids: Vec<_> = g.values.ids().collect();
    for v in ids {
        let ty = &mut g.values[v].ty;
        for d in ty.shape.0.iter_mut() {
            if let Dim::Sym(s) = d {
                if let Some((size, _)) = symbols.get(s) {
                    *d = Dim::Known(*size);
                }
            }
        }
    }
    Ok(())
}

fn is_symbol_of_inputs(g: &Graph, name: &str) -> bool {
    g.inputs
        .iter()
        .any(|&v| g.ty(v).shape.symbols().iter().any(|s| &**s == name))
}

/// `(input name, symbol)` for every symbolic dim still left on a graph input.
pub fn unbound_symbols(g: &Graph) -> Vec<(String, Arc<str>)> {
    let mut out = Vec::new();
    for &v in &g.inputs {
        for s in g.ty(v).shape.symbols() {
            out.push((g.value(v).name.clone(), s));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use infc_ir::{DType, TensorType};

    fn model() -> Graph {
        let mut g = Graph::new("m");
        let x = g.add_input(
            "input_ids",
            TensorType::new(DType::I64, vec![Dim::sym("batch"), Dim::sym("sequence")]),
        );
        let m = g.add_input(
            "mask",
            TensorType::new(DType::I64, vec![Dim::sym("batch"), Dim::sym("sequence")]),
        );
        let img = g.add_input(
            "image",
            TensorType::new(DType::F32, vec![Dim::sym("batch"), Dim::Known(3)]),
        );
        g.outputs = vec![x, m, img];
        g
    }

    #[test]
    fn parses_bindings() {
        assert_eq!(
            parse_shape_binding("input=1x3x224x224").unwrap(),
            ShapeBinding {
                name: "input".into(),
                dims: vec![1, 3, 224, 224]
            }
        );
        assert_eq!(parse_shape_binding("batch=4").unwrap().dims, vec![4]);
    }

    #[test]
    fn syntax_errors_name_the_flag() {
        let e = |s| parse_shape_binding(s).unwrap_err().to_string();
        insta::assert_snapshot!(e("input1x3"), @"--shape 'input1x3': missing '=' (expected NAME=D0xD1x…, e.g. input=1x3x224x224)");
        insta::assert_snapshot!(e("input=1xfoo"), @"--shape 'input=1xfoo': 'foo' is not a non-negative integer (expected NAME=D0xD1x…, e.g. input=1x3x224x224)");
        insta::assert_snapshot!(e("=1x2"), @"--shape '=1x2': empty input name (expected NAME=D0xD1x…, e.g. input=1x3x224x224)");
        insta::assert_snapshot!(e("x="), @"--shape 'x=': no dimensions after '=' (expected NAME=D0xD1x…, e.g. input=1x3x224x224)");
    }

    #[test]
    fn binding_substitutes_symbols_everywhere() {
        let mut g = model();
        bind_input_shapes(&mut g, &[parse_shape_binding("input_ids=2x8").unwrap()]).unwrap();
        assert_eq!(g.ty(g.inputs[1]).to_string(), "i64[2,8]");
        assert_eq!(g.ty(g.inputs[2]).to_string(), "f32[2,3]");
        assert!(unbound_symbols(&g).is_empty());
    }

    #[test]
    fn binding_by_symbol_name() {
        let mut g = model();
        bind_input_shapes(&mut g, &[parse_shape_binding("batch=1").unwrap()]).unwrap();
        assert_eq!(g.ty(g.inputs[0]).to_string(), "i64[1,sequence]");
        let left: Vec<_> = unbound_symbols(&g)
            .into_iter()
            .map(|(i, s)| format!("{i}:{s}"))
            .collect();
        assert_eq!(left, ["input_ids:sequence", "mask:sequence"]);
    }

    #[test]
    fn contradictions_are_errors() {
        let e = |flags: &[&str]| {
            let mut g = model();
            let b: Vec<_> = flags
                .iter()
                .map(|f| parse_shape_binding(f).unwrap())
                .collect();
            bind_input_shapes(&mut g, &b).unwrap_err().to_string()
        };
        insta::assert_snapshot!(e(&["image=1x4"]), @"--shape image=1x4: input 'image' is f32[batch,3], dim 1 is fixed at 3, the binding gives 4");
        insta::assert_snapshot!(e(&["image=1x3x5"]), @"--shape image=1x3x5: input 'image' has rank 2 (f32[batch,3]), the binding gives 3 dims");
        insta::assert_snapshot!(e(&["input_ids=2x8", "mask=3x8"]), @"--shape dim 'batch' is bound to 2 by input_ids=2x8 and to 3 by mask=3x8");
        insta::assert_snapshot!(e(&["nope=3"]), @"--shape 'nope' is neither a model input nor a symbolic dim of one; inputs are: input_ids: i64[batch,sequence], mask: i64[batch,sequence], image: f32[batch,3]");
    }
}
