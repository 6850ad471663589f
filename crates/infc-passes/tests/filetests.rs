//! Pass filetests: every `snapshots/passes/<pass>/<case>.infc` is text IR whose first line names the
//! passes to run (`# passes: fuse-conv-bn, dce`); a line `# int8: per_row, bf16_attention,
//! exclude=NAME` sets what `mark-int8` marks (as `--int8` and its options do). The graph is parsed, the passes run with the
//! verifier after each one, and the printed result plus the fusion log is snapshotted next to the
//! case as `<case>.snap`. When every constant has data, the graph is also evaluated before and after
//! with the reference interpreter on seeded random inputs and the outputs must agree (1e-4 relative).

use infc_ir::{parse_graph, print_graph, DType, Graph, Tensor};
use infc_passes::{pass_by_name, run_pipeline, Int8Marking, Pass, PassCx};
use infc_reference::{run_graph, InputKey};
use std::path::Path;

#[test]
fn pass_filetests() {
    insta::glob!("../../../snapshots/passes", "**/*.infc", |path| {
        let text = std::fs::read_to_string(path).expect("case readable");
        let passes = passes_of(path, &text);
        let before = parse_graph(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut g = before.clone();
        let mut cx = PassCx {
            verify_each: true,
            int8: int8_of(&text),
            ..PassCx::new()
        };
        run_pipeline(&mut g, &passes, &mut cx, |_, _, _| {})
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let checked = match outputs_before_after(&before, &g) {
            Some((a, b)) => {
                for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                    assert_close(x, y)
                        .unwrap_or_else(|e| panic!("{}: output {i}: {e}", path.display()));
                }
                "outputs equal before and after on random inputs"
            }
            None => "not evaluated (opaque constants or non-f32/symbolic inputs)",
        };
        let mut out = print_graph(&g);
        out.push_str(&format!("\n# reference check: {checked}\n"));
        out.push_str("# fusion log\n");
        for e in cx.log.entries.iter().filter(|e| e.rule != "fold-constant") {
            out.push_str(&format!("{}: {}\n", e.rule, e.nodes.join(", ")));
        }
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 file name")
            .to_string();
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(path.parent().expect("case has a directory"));
        settings.set_prepend_module_to_snapshot(false);
        settings.remove_snapshot_suffix();
        settings.set_omit_expression(true);
        settings.bind(|| insta::assert_snapshot!(stem, out));
    });
}

/// The `# int8: …` line's marking (`per_row`, `bf16_attention`, `exclude=NAME`), if any.
fn int8_of(text: &str) -> Option<Int8Marking> {
    let line = text.lines().find_map(|l| l.strip_prefix("# int8:"))?;
    let mut m = Int8Marking::default();
    for word in line.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        match word {
            "per_row" => m.per_row = true,
            "bf16_attention" => m.bf16_attention = true,
            w => match w.strip_prefix("exclude=") {
                Some(name) => m.exclude.push(name.to_string()),
                None => panic!("`# int8:` does not know `{w}`"),
            },
        }
    }
    Some(m)
}

/// The passes named on the first line (`# passes: a, b`).
fn passes_of(path: &Path, text: &str) -> Vec<Pass> {
    let first = text.lines().next().unwrap_or_default();
    let names = first
        .strip_prefix("# passes:")
        .unwrap_or_else(|| panic!("{}: first line must be `# passes: NAME, …`", path.display()));
    names
        .split(',')
        .map(|n| {
            pass_by_name(n.trim())
                .unwrap_or_else(|| panic!("{}: unknown pass '{}'", path.display(), n.trim()))
        })
        .collect()
}

/// Outputs of `before` and `after` on the same seeded random inputs, or None when a graph cannot be
/// evaluated (opaque constants, symbolic input dims, non-float inputs).
fn outputs_before_after(before: &Graph, after: &Graph) -> Option<(Vec<Tensor>, Vec<Tensor>)> {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut inputs = Vec::new();
    for &v in &before.inputs {
        let ty = before.ty(v);
        let dims = ty.shape.as_known()?;
        if ty.dtype != DType::F32 {
            return None;
        }
        let n: usize = dims.iter().product();
        let data: Vec<f32> = (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 40) as f32 / (1u64 << 24) as f32 * 4.0 - 2.0
            })
            .collect();
        inputs.push((
            InputKey::Name(before.value(v).name.clone()),
            Tensor::from_vec(dims, data).ok()?,
        ));
    }
    let a = run_graph(before, &inputs).ok()?;
    let b = run_graph(after, &inputs).expect("the rewritten graph runs whenever the original does");
    Some((a, b))
}

fn assert_close(want: &Tensor, got: &Tensor) -> Result<(), String> {
    if want.shape != got.shape || want.dtype != got.dtype {
        return Err(format!(
            "{}{:?} became {}{:?}",
            want.dtype, want.shape, got.dtype, got.shape
        ));
    }
    let (w, g) = (
        want.to_f64_vec().map_err(|e| e.to_string())?,
        got.to_f64_vec().map_err(|e| e.to_string())?,
    );
    for (i, (a, b)) in w.iter().zip(&g).enumerate() {
        if (a - b).abs() > 1e-4 * a.abs().max(1.0) {
            return Err(format!("element {i}: {b} instead of {a}"));
        }
    }
    Ok(())
}
