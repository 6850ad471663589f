//! Generality checks on real exports that are not committed: `models/variants/` (other sizes, batch
//! sizes, sequence lengths, padding masks, opsets 13–18, sdpa attention; `python3 models/export.py
//! --variants models/variants`) and `models/full/` (`--full`). Ignored by default because the files
//! are generated locally; run with `cargo test --release -p infc-conformance --test real_exports -- --ignored`.

use infc_conformance::{compare, fixtures_in};
use std::path::Path;

fn check_dir(sub: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models")
        .join(sub);
    let fixtures = fixtures_in(&root);
    assert!(
        !fixtures.is_empty(),
        "no exports under {} (generate them with models/export.py)",
        root.display()
    );
    let mut failures = Vec::new();
    for f in &fixtures {
        let start = std::time::Instant::now();
        let result = (|| -> Result<(), String> {
            let g = f.bound_graph()?;
            let inputs: Vec<_> = f
                .inputs
                .iter()
                .map(|(n, t)| (n.as_str().into(), t.clone()))
                .collect();
            let outs = infc_reference::run_graph(&g, &inputs).map_err(|e| e.to_string())?;
            for ((name, want), got) in f.expected.iter().zip(&outs) {
                compare(name, got, want)?;
            }
            Ok(())
        })();
        eprintln!(
            "{:<40} {:>8.2}s {}",
            f.name,
            start.elapsed().as_secs_f64(),
            if result.is_ok() { "ok" } else { "FAIL" }
        );
        if let Err(e) = result {
            failures.push(format!("{}: {e}", f.name));
        }
    }
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

#[test]
#[ignore = "needs models/variants (python3 models/export.py --variants models/variants)"]
fn variants_match_onnxruntime() {
    check_dir("variants");
}

#[test]
#[ignore = "needs models/full (python3 models/export.py --full)"]
fn full_size_models_match_onnxruntime() {
    check_dir("full");
}
