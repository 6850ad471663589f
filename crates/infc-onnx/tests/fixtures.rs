//! Imports every committed fixture (`models/fixtures/*/model.onnx`) and the hand-made error models in
//! `models/errors/`: import succeeds, the graph verifies, inputs and outputs have the ranks and dtypes
//! of `meta.json`, weights are shared with the file mapping, and error models give their messages.

use infc_ir::{DType, Graph, TensorData};
use infc_onnx::{import_file, ImportOptions};
use std::path::{Path, PathBuf};

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models")
}

fn fixtures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(models_dir().join("fixtures"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.join("model.onnx").exists())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn dtype_of_numpy(s: &str) -> DType {
    match s {
        "float32" => DType::F32,
        "int64" => DType::I64,
        "int32" => DType::I32,
        "bool" => DType::Bool,
        other => panic!("meta.json dtype {other} not handled by the test"),
    }
}

fn check_io(
    g: &Graph,
    ids: &[infc_ir::ValueId],
    meta: &serde_json::Value,
    what: &str,
    fixture: &str,
) {
    let list = meta[what]
        .as_array()
        .unwrap_or_else(|| panic!("{fixture}: meta.json has no {what}"));
    assert_eq!(ids.len(), list.len(), "{fixture}: number of {what}");
    for (&v, m) in ids.iter().zip(list) {
        let name = m["name"].as_str().unwrap();
        let ty = g.ty(v);
        assert_eq!(g.value(v).name, name, "{fixture}: {what} order");
        let rank = m["shape"].as_array().unwrap().len();
        assert_eq!(ty.rank(), rank, "{fixture}: rank of {name} ({ty})");
        assert_eq!(
            ty.dtype,
            dtype_of_numpy(m["dtype"].as_str().unwrap()),
            "{fixture}: dtype of {name}"
        );
        // Every known dim agrees with the concrete shape onnxruntime produced.
        for (d, want) in ty.shape.dims().iter().zip(m["shape"].as_array().unwrap()) {
            if let Some(k) = d.known() {
                assert_eq!(
                    k as u64,
                    want.as_u64().unwrap(),
                    "{fixture}: dims of {name} ({ty})"
                );
            }
        }
    }
}

#[test]
fn every_fixture_imports_and_verifies() {
    let dirs = fixtures();
    assert!(
        dirs.len() >= 10,
        "expected the committed fixtures, found {dirs:?}"
    );
    for dir in dirs {
        let fixture = dir.file_name().unwrap().to_string_lossy().to_string();
        let g = import_file(&dir.join("model.onnx"), &ImportOptions::default())
            .unwrap_or_else(|e| panic!("{fixture}: import failed: {e}"));
        infc_ir::verify(&g).unwrap_or_else(|e| panic!("{fixture}: {e}"));
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
        check_io(&g, &g.inputs, &meta, "inputs", &fixture);
        check_io(&g, &g.outputs, &meta, "outputs", &fixture);
        // Graph inputs carry the exporter's symbolic names.
        if let Some(sym) = meta["symbolic_dims"].as_object() {
            for &v in &g.inputs {
                let name = &g.value(v).name;
                if let Some(want) = sym.get(name).and_then(|w| w.as_array()) {
                    let got: Vec<String> =
                        g.ty(v).shape.dims().iter().map(|d| d.to_string()).collect();
                    let want: Vec<String> = want
                        .iter()
                        .map(|w| {
                            w.as_str()
                                .map(String::from)
                                .unwrap_or_else(|| w.to_string())
                        })
                        .collect();
                    assert_eq!(got, want, "{fixture}: symbolic dims of input {name}");
                }
            }
        }
    }
}

#[test]
fn weights_are_slices_of_the_mapping() {
    for dir in fixtures() {
        let g = import_file(&dir.join("model.onnx"), &ImportOptions::default()).unwrap();
        let big: Vec<_> = g
            .consts
            .iter()
            .filter(|(_, c)| c.tensor.byte_len() >= 4096)
            .collect();
        assert!(!big.is_empty(), "{}: no large constants", dir.display());
        let TensorData::Bytes(first) = &big[0].1.tensor.data else {
            panic!("opaque constant")
        };
        for (_, c) in &big {
            let TensorData::Bytes(b) = &c.tensor.data else {
                panic!("opaque constant")
            };
            assert!(
                b.shares_storage_with(first),
                "{}: '{}' was copied",
                dir.display(),
                c.name
            );
        }
    }
}

#[test]
fn unsupported_ops_are_listed_at_once() {
    let path = models_dir().join("errors/unsupported_ops.onnx");
    let err = import_file(&path, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    insta::assert_snapshot!(err, @r#"
3 unsupported ONNX op(s):
  Hardmax (node 'hardmax0', domain ai.onnx, opset 17)
  Det (node 'det0', domain ai.onnx, opset 17)
  CustomThing (node 'custom0', domain com.example, opset 1)
"#);
}

/// Non-committed exports (`models/variants/`, `models/full/`, written by `models/export.py`) import
/// and verify when present: other sizes, batch sizes, opsets and exporters than the fixtures.
#[test]
fn variants_and_full_exports_import_when_present() {
    for sub in ["variants", "full"] {
        let Ok(rd) = std::fs::read_dir(models_dir().join(sub)) else {
            continue;
        };
        let mut dirs: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        dirs.sort();
        for dir in dirs {
            let model = dir.join("model.onnx");
            if !model.exists() {
                continue;
            }
            let g = import_file(&model, &ImportOptions::default())
                .unwrap_or_else(|e| panic!("{}: import failed: {e}", dir.display()));
            infc_ir::verify(&g).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        }
    }
}
