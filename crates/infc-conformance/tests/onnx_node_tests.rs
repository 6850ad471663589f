//! The ONNX project's own node tests for the ops added for the neighbouring families (issue 24):
//! CumSum, GatherElements, InstanceNormalization, Sin and Cos, written by `models/onnx_node_tests.py` into
//! `models/node_tests/<test>/`. Each runs in the reference interpreter and, for ops with a kernel,
//! compiled at -O0 and -O3 on every ISA path; an op without a kernel (GatherElements on run-time
//! inputs) must be refused at lowering with the reason.

use infc::ir::Tensor;
use infc::passes::OptLevel;
use infc_conformance::plan::{compile_fixture_with, isas_under_test, options, run_plan};
use infc_conformance::{compare, read_npy};
use std::path::{Path, PathBuf};

struct NodeTest {
    name: String,
    model: PathBuf,
    inputs: Vec<(String, Tensor)>,
    expected: Vec<(String, Tensor)>,
}

fn load(dir: &Path) -> NodeTest {
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("meta.json")).unwrap()).unwrap();
    let arrays = |key: &str| -> Vec<(String, Tensor)> {
        meta[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                let name = a["name"].as_str().unwrap().to_string();
                let t = read_npy(&dir.join(a["file"].as_str().unwrap())).unwrap();
                (name, t)
            })
            .collect()
    };
    NodeTest {
        name: dir.file_name().unwrap().to_string_lossy().into_owned(),
        model: dir.join("model.onnx"),
        inputs: arrays("inputs"),
        expected: arrays("outputs"),
    }
}

fn all() -> Vec<NodeTest> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/node_tests");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    dirs.iter().map(|d| load(d)).collect()
}

/// A node test in the fixtures' shape (so the fixtures' bind, compile and run helpers apply).
fn as_fixture(t: &NodeTest) -> infc_conformance::Fixture {
    infc_conformance::Fixture {
        name: t.name.clone(),
        dir: t.model.parent().unwrap().to_path_buf(),
        meta: infc_conformance::Meta {
            family: "onnx-node-test".into(),
            exporter: "onnx".into(),
            opset: 0,
            inputs: vec![],
            outputs: vec![],
        },
        inputs: t.inputs.clone(),
        expected: t.expected.clone(),
        cases: vec![],
    }
}

#[test]
fn onnx_node_tests_pass_in_the_reference_and_compiled() {
    let tests = all();
    for op in ["cumsum", "gather_elements", "instancenorm", "sin", "cos"] {
        assert!(
            tests
                .iter()
                .any(|t| t.name.starts_with(&format!("test_{op}"))),
            "no node test for {op}: run models/onnx_node_tests.py"
        );
    }
    let mut failures = Vec::new();
    let mut compiled = 0;
    for t in &tests {
        let f = as_fixture(t);
        let g = f.bound_graph().unwrap();
        let inputs: Vec<_> = t
            .inputs
            .iter()
            .map(|(n, x)| (n.as_str().into(), x.clone()))
            .collect();
        match infc::reference::run_graph(&g, &inputs) {
            Ok(outs) => {
                for ((n, want), got) in t.expected.iter().zip(&outs) {
                    if let Err(e) = compare(&format!("{} reference {n}", t.name), got, want) {
                        failures.push(e);
                    }
                }
            }
            Err(e) => failures.push(format!("{} reference: {e}", t.name)),
        }
        for level in [OptLevel::O0, OptLevel::O3] {
            let plan = match compile_fixture_with(&f, &options(level)) {
                Ok(p) => p,
                Err(e) if t.name.starts_with("test_gather_elements") => {
                    // No kernel: it must fold away, and here its inputs are run-time inputs.
                    if !(e.contains("have no kernel and did not fold away")
                        && e.contains("(GatherElements): computed from the graph input(s)"))
                    {
                        failures.push(format!("{} {level:?}: unexpected error {e}", t.name));
                    }
                    continue;
                }
                Err(e) => {
                    failures.push(format!("{} {level:?}: {e}", t.name));
                    continue;
                }
            };
            compiled += 1;
            for isa in isas_under_test() {
                match run_plan(&plan, isa, &t.inputs) {
                    Ok(outs) => {
                        for ((n, want), got) in t.expected.iter().zip(&outs) {
                            let what = format!("{} {level:?} {isa:?} {n}", t.name);
                            if let Err(e) = compare(&what, got, want) {
                                failures.push(e);
                            }
                        }
                    }
                    Err(e) => failures.push(format!("{} {level:?} {isa:?}: {e}", t.name)),
                }
            }
        }
    }
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
    assert!(compiled >= 2 * 15, "only {compiled} plans compiled");
}
