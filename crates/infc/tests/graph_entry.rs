//! The graph-level entry points: `import` → `optimise_graph` → `lower` is `compile` (same plan
//! but the provenance), `import_bytes` reads what `import` reads, and `optimise_graph` checks the
//! options `compile` checks.

use infc::{
    compile, import, import_bytes, lower, optimise_graph, CompileOptions, Error, Int8Options,
};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../models/fixtures/{name}/model.onnx"))
}

#[test]
fn import_optimise_lower_is_compile() {
    let opts = CompileOptions {
        shapes: vec!["batch=2".into(), "sequence=8".into()],
        int8: Some(Int8Options::default()),
        verify_each: true,
        ..CompileOptions::default()
    };
    let model = fixture("gpt2_ts17");
    let o = optimise_graph(import(&model).unwrap(), &opts, |_, _, _| {}).expect("optimises");
    let d = o.int8.as_ref().expect("an INT8 decision");
    assert!(!d.selection.quantize.is_empty());
    let marked = o.graph.nodes.iter().filter(|n| n.precision.is_int8());
    assert_eq!(marked.count(), d.selection.quantize.len());
    let mut plan = lower(&o.graph).expect("lowers");
    let whole = compile(&model, &opts).expect("compiles");
    plan.body.provenance = whole.body.provenance.clone();
    assert!(plan.encode() == whole.encode(), "the plans differ");
}

#[test]
fn import_bytes_reads_what_import_reads() {
    let model = fixture("resnet_ts14");
    let from_file = import(&model).unwrap();
    let from_bytes = import_bytes(&std::fs::read(&model).unwrap()).unwrap();
    assert_eq!(
        infc::render::print_graph(&from_bytes),
        infc::render::print_graph(&from_file)
    );
    let e = import_bytes(b"not a model").unwrap_err();
    assert!(matches!(e, Error::ImportBytes { .. }), "{e:?}");
}

#[test]
fn optimise_graph_checks_the_options() {
    let g = import(fixture("resnet_ts14")).unwrap();
    let opts = CompileOptions {
        disable: vec!["no-such-pass".into()],
        ..CompileOptions::default()
    };
    let e = optimise_graph(g, &opts, |_, _, _| {}).unwrap_err();
    assert!(matches!(e, Error::Options(_)), "{e:?}");
}
