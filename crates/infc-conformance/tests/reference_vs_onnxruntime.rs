//! The reference interpreter, run on every fixture's bound graph, reproduces onnxruntime's saved outputs
//! for every input set: the main inputs and each extra case under `cases/` (the padded-mask cases of
//! the transformer fixtures).

use infc::ir::Graph;
use infc_conformance::{all_fixtures, compare, InputSet};

fn check_set(g: &Graph, set: &InputSet) -> Result<(), String> {
    let inputs: Vec<_> = set
        .inputs
        .iter()
        .map(|(n, t)| (n.as_str().into(), t.clone()))
        .collect();
    let outs = infc::reference::run_graph(g, &inputs).map_err(|e| e.to_string())?;
    if outs.len() != set.expected.len() {
        return Err(format!(
            "{} outputs, expected {}",
            outs.len(),
            set.expected.len()
        ));
    }
    for ((name, want), got) in set.expected.iter().zip(&outs) {
        compare(name, got, want)?;
    }
    Ok(())
}

#[test]
fn reference_interpreter_matches_onnxruntime_on_every_fixture() {
    let fixtures = all_fixtures();
    assert!(
        fixtures.len() >= 10,
        "expected the committed fixtures, found {}",
        fixtures.len()
    );
    let cases: usize = fixtures.iter().map(|f| f.cases.len()).sum();
    assert!(cases >= 24, "found {cases} extra input sets under cases/");
    let mut failures = Vec::new();
    for f in &fixtures {
        let graph = f.bound_graph().and_then(|g| {
            infc::ir::verify(&g).map_err(|e| e.to_string())?;
            Ok(g)
        });
        let g = match graph {
            Ok(g) => g,
            Err(e) => {
                failures.push(format!("{}: {e}", f.name));
                continue;
            }
        };
        for set in f.input_sets() {
            if let Err(e) = check_set(&g, &set) {
                failures.push(format!("{}: {e}", set.label));
            }
        }
    }
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

#[test]
fn bound_transformer_graphs_have_no_shape_ops_left() {
    for f in all_fixtures().iter().filter(|f| f.meta.family != "resnet") {
        let g = f
            .bound_graph()
            .unwrap_or_else(|e| panic!("{}: {e}", f.name));
        let left: Vec<_> = g
            .nodes
            .iter()
            .filter(|n| n.op.name() == "Shape")
            .map(|n| n.name.clone())
            .collect();
        assert!(
            left.is_empty(),
            "{}: Shape nodes left after binding: {left:?}",
            f.name
        );
        for v in g.values.ids() {
            assert!(
                g.ty(v).shape.is_known(),
                "{}: value '{}' is {} after binding",
                f.name,
                g.value(v).name,
                g.ty(v)
            );
        }
    }
}
