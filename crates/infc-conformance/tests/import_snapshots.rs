//! Snapshots of the imported IR of every fixture (before and after binding), under
//! `snapshots/import/`, plus a text round-trip of each.

use infc_conformance::all_fixtures;

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../snapshots/import"
    ));
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s
}

#[test]
fn imported_ir_of_every_fixture() {
    for f in all_fixtures() {
        let g = infc::import(f.model_path()).unwrap();
        infc::ir::verify(&g).unwrap_or_else(|e| panic!("{}: {e}", f.name));
        let text = infc::ir::print_graph(&g);
        let reparsed = infc::ir::parse_graph(&text).unwrap_or_else(|e| panic!("{}: {e}", f.name));
        assert_eq!(
            infc::ir::print_graph(&reparsed),
            text,
            "{}: text round-trip",
            f.name
        );
        settings().bind(|| insta::assert_snapshot!(f.name.clone(), text));
        let bound = infc::ir::print_graph(&f.bound_graph().unwrap());
        settings().bind(|| insta::assert_snapshot!(format!("{}.bound", f.name), bound));
    }
}
