//! Loading a model for the CLI: ONNX import, `--shape` binding with constant folding of the shape
//! sub-graphs, then the `-O` pipeline (NCHWc block from `--nchwc-block` or `--target`) and, with
//! `--int8`, the passes that mark what is quantized; an observer sees every pass (per-pass dumps).

use crate::cli::ModelArgs;
use crate::int8::Int8Request;
use anyhow::{bail, Context, Result};
use infc_ir::Graph;
use infc_passes::{FusionLog, OptLevel, PassCx};

/// Import `args.model`, bind its shapes and run the pipeline for `args.opt`; with `int8`, then
/// decide what to quantize on the optimised graph and run the INT8 marking passes
/// ([`infc_passes::int8_passes`]). `after_pass` sees the graph after import (and shape binding),
/// as pass "import", then after each pass.
pub fn load(
    args: &ModelArgs,
    int8: Option<&Int8Request>,
    mut after_pass: impl FnMut(&'static str, &Graph, bool),
) -> Result<(Graph, FusionLog)> {
    // Before the import, which can take a while on a large model.
    for name in &args.disable {
        check_pass_name("--disable", name, &[])?;
    }
    let mut g = infc_onnx::import_file(&args.model, &infc_onnx::ImportOptions::default())
        .with_context(|| format!("importing {}", args.model.display()))?;
    let mut cx = PassCx::new();
    cx.nchwc_block = Some(
        args.nchwc_block
            .unwrap_or_else(|| args.target.nchwc_block()),
    );
    if !args.shapes.is_empty() {
        let bindings = args
            .shapes
            .iter()
            .map(|s| infc_passes::parse_shape_binding(s))
            .collect::<Result<Vec<_>, _>>()?;
        infc_passes::bind_input_shapes(&mut g, &bindings)?;
        specialize(&mut g, &mut cx)?;
    }
    after_pass("import", &g, true);
    let level = OptLevel::from_digit(args.opt).context("optimisation level must be 0..3")?;
    let mut passes = infc_passes::pipeline(level);
    for name in &args.disable {
        passes.retain(|p| p.name != name.as_str());
    }
    infc_passes::run_pipeline(&mut g, &passes, &mut cx, &mut after_pass)?;
    if let Some(req) = int8 {
        // The selection needs every shape (and --int8-budget runs the graph).
        require_bound(&g)?;
        cx.int8 = Some(crate::int8::marking(&g, req)?);
        let mut passes = infc_passes::int8_passes();
        passes.retain(|p| !args.disable.iter().any(|d| d == p.name));
        infc_passes::run_pipeline(&mut g, &passes, &mut cx, &mut after_pass)?;
    }
    Ok((g, cx.log))
}

/// Error unless `name` (given to `flag`) is a pass or one of `also`, listing the known names.
pub fn check_pass_name(flag: &str, name: &str, also: &[&'static str]) -> Result<()> {
    if infc_passes::pass_by_name(name).is_none() && !also.contains(&name) {
        let mut known = infc_passes::pass_names();
        known.extend_from_slice(also);
        known.sort_unstable();
        bail!(
            "{flag} {name}: no such pass; known passes: {}",
            known.join(", ")
        );
    }
    Ok(())
}

/// Fold the shape computations a binding made constant and drop what they leave dead.
fn specialize(g: &mut Graph, cx: &mut PassCx) -> Result<()> {
    infc_passes::fold_constants(g, cx)?;
    infc_passes::eliminate_dead_code(g, cx)?;
    Ok(())
}

/// Error unless every input dim is bound (what compilation needs).
pub fn require_bound(g: &Graph) -> Result<()> {
    let left = infc_passes::unbound_symbols(g);
    if let Some((input, sym)) = left.first() {
        let ty = g.ty(g.input_by_name(input).expect("named by unbound_symbols"));
        let example: Vec<String> = ty
            .shape
            .dims()
            .iter()
            .map(|d| d.known().map_or_else(|| "N".to_string(), |k| k.to_string()))
            .collect();
        bail!(
            "input '{input}' has symbolic dim '{sym}' ({ty}); bind it with --shape {input}={} or --shape {sym}=N",
            example.join("x")
        );
    }
    Ok(())
}
