//! The reference interpreter, run on every fixture's bound graph, reproduces onnxruntime's saved outputs.

use infc_conformance::{all_fixtures, compare};

#[test]
fn reference_interpreter_matches_onnxruntime_on_every_fixture() {
    let fixtures = all_fixtures();
    assert!(
        fixtures.len() >= 10,
        "expected the committed fixtures, found {}",
        fixtures.len()
    );
    let mut failures = Vec::new();
    for f in &fixtures {
        let result = (|| -> Result<(), String> {
            let g = f.bound_graph()?;
            infc_ir::verify(&g).map_err(|e| e.to_string())?;
            let inputs: Vec<_> = f
                .inputs
                .iter()
                .map(|(n, t)| (n.as_str().into(), t.clone()))
                .collect();
            let outs = infc_reference::run_graph(&g, &inputs).map_err(|e| e.to_string())?;
            if outs.len() != f.expected.len() {
                return Err(format!(
                    "{} outputs, expected {}",
                    outs.len(),
                    f.expected.len()
                ));
            }
            for ((name, want), got) in f.expected.iter().zip(&outs) {
                compare(name, got, want)?;
            }
            Ok(())
        })();
        if let Err(e) = result {
            failures.push(format!("{}: {e}", f.name));
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
