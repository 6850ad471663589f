//! From an ONNX file (or a graph imported or built in code) to the IR that is lowered: import,
//! shape binding with constant folding of the shape sub-graphs, the `-O` pipeline (NCHWc block
//! from the options or the target) and, with INT8, the decision of what to quantize and the
//! passes that mark it. An observer sees the graph after every pass (per-pass dumps).

use crate::error::{Error, Result};
use crate::int8::{decide, Int8Decision};
use crate::options::CompileOptions;
use crate::range::Ranges;
use infc_ir::Graph;
use infc_passes::{FusionLog, OptLevel, PassCx, ShapeBinding};
use std::path::Path;

/// The graph [`optimise`] produced, with what happened on the way.
#[derive(Debug)]
pub struct Optimised {
    /// The graph after every pass (INT8 marks included): what [`crate::lower`] compiles.
    pub graph: Graph,
    /// Every rewrite that fired.
    pub log: FusionLog,
    /// With INT8: what was quantized, what stayed f32 and why, measured errors.
    pub int8: Option<Int8Decision>,
}

/// Import `model`, bind its shapes and run the pipeline `opts` asks for. `after_pass` sees the
/// graph after import (and shape binding), as pass `"import"`, then after each pass. A `--shape`
/// range binds its max; symbolic dims no flag mentions stay symbolic.
pub fn optimise(
    model: &Path,
    opts: &CompileOptions,
    after_pass: impl FnMut(&'static str, &Graph, bool),
) -> Result<Optimised> {
    let (level, g) = check_and_import(model, opts)?;
    bind_and_optimise(g, level, opts, after_pass)
}

/// [`optimise`] on a graph already imported ([`import`], [`import_bytes`]) or built in code:
/// `opts.shapes` bound (a range binds its max), the `-O` pipeline, then, when `opts.int8` is
/// set, the layers to quantize decided and marked. [`crate::lower`] compiles the result.
pub fn optimise_graph(
    g: Graph,
    opts: &CompileOptions,
    after_pass: impl FnMut(&'static str, &Graph, bool),
) -> Result<Optimised> {
    let level = check_options(opts)?;
    bind_and_optimise(g, level, opts, after_pass)
}

fn bind_and_optimise(
    g: Graph,
    level: OptLevel,
    opts: &CompileOptions,
    after_pass: impl FnMut(&'static str, &Graph, bool),
) -> Result<Optimised> {
    let ranges = Ranges::parse(&g, &opts.shapes, false)?;
    let bindings = ranges.bindings_at(&ranges.max_values());
    optimise_at(g, level, opts, &bindings, None, after_pass)
}

/// Import the ONNX model at `model` as it is (no binding, no pass): what [`optimise_graph`]
/// takes, for programs that inspect or rewrite the graph first.
pub fn import(model: impl AsRef<Path>) -> Result<Graph> {
    let model = model.as_ref();
    infc_onnx::import_file(model, &infc_onnx::ImportOptions::default()).map_err(|source| {
        Error::Import {
            path: model.to_path_buf(),
            source,
        }
    })
}

/// Import an ONNX model held in memory (the bytes are copied once; external data is refused,
/// there is no directory to resolve it against).
pub fn import_bytes(data: &[u8]) -> Result<Graph> {
    infc_onnx::import_bytes(
        infc_ir::Bytes::aligned_copy(data),
        &infc_onnx::ImportOptions::default(),
    )
    .map_err(|source| Error::ImportBytes { source })
}

/// Check the options that need no model, then import it.
pub(crate) fn check_and_import(model: &Path, opts: &CompileOptions) -> Result<(OptLevel, Graph)> {
    // Before the import, which can take a while on a large model.
    let level = check_options(opts)?;
    Ok((level, import(model)?))
}

/// The options that need no model: pass names, the level, the INT8 budget.
fn check_options(opts: &CompileOptions) -> Result<OptLevel> {
    for name in &opts.disable {
        check_pass_name("--disable", name, &[])?;
    }
    let level = OptLevel::from_digit(opts.opt_level).ok_or_else(|| {
        Error::Options(format!(
            "optimisation level {} is not one of 0..3",
            opts.opt_level
        ))
    })?;
    if let Some(b) = opts.int8.as_ref().and_then(|q| q.budget) {
        // NaN compares false with every error: it would keep nothing in f32, silently.
        if !(b.is_finite() && b >= 0.0) {
            return Err(Error::Options(format!("--int8-budget {b}: not a relative error; give a finite number >= 0, e.g. 0.05 (layers whose error exceeds it stay in f32)")));
        }
    }
    Ok(level)
}

/// Bind `bindings` on the imported `g` and run the pipeline; with `int8` given, its marking is
/// applied rather than decided again (every shape of a range plan quantizes the same layers).
pub(crate) fn optimise_at(
    mut g: Graph,
    level: OptLevel,
    opts: &CompileOptions,
    bindings: &[ShapeBinding],
    preset_int8: Option<&Int8Decision>,
    mut after_pass: impl FnMut(&'static str, &Graph, bool),
) -> Result<Optimised> {
    let mut cx = PassCx::new();
    cx.verify_each = opts.verify_each;
    cx.nchwc_block = Some(
        opts.nchwc_block
            .unwrap_or_else(|| opts.target.nchwc_block()),
    );
    if !bindings.is_empty() {
        infc_passes::bind_input_shapes(&mut g, bindings)?;
        // Fold the shape computations the binding made constant and drop what they leave dead.
        infc_passes::fold_constants(&mut g, &mut cx)?;
        infc_passes::eliminate_dead_code(&mut g, &mut cx)?;
    }
    after_pass("import", &g, true);
    let mut passes = infc_passes::pipeline(level);
    passes.retain(|p| !opts.disable.iter().any(|d| d == p.name));
    infc_passes::run_pipeline(&mut g, &passes, &mut cx, &mut after_pass)?;
    let mut int8 = None;
    if let Some(q) = &opts.int8 {
        // The selection needs every shape (and a budget runs the graph).
        require_bound(&g)?;
        let decision = match preset_int8 {
            Some(d) => d.clone(),
            None => decide(&g, q)?,
        };
        cx.int8 = Some(decision.marking.clone());
        let mut passes = infc_passes::int8_passes();
        passes.retain(|p| !opts.disable.iter().any(|d| d == p.name));
        infc_passes::run_pipeline(&mut g, &passes, &mut cx, &mut after_pass)?;
        int8 = Some(decision);
    }
    Ok(Optimised {
        graph: g,
        log: cx.log,
        int8,
    })
}

/// Error unless `name` (given to `flag`) is a pass or one of `also`, listing the known names.
pub fn check_pass_name(flag: &str, name: &str, also: &[&'static str]) -> Result<()> {
    if infc_passes::pass_by_name(name).is_none() && !also.contains(&name) {
        let mut known = infc_passes::pass_names();
        known.extend_from_slice(also);
        known.sort_unstable();
        return Err(Error::Options(format!(
            "{flag} {name}: no such pass; known passes: {}",
            known.join(", ")
        )));
    }
    Ok(())
}

/// Error unless every input dim is bound (what compilation needs), naming the input, the dim and
/// the binding to give.
pub fn require_bound(g: &Graph) -> Result<()> {
    let left = infc_passes::unbound_symbols(g);
    if let Some((input, sym)) = left.first() {
        let Some(v) = g.input_by_name(input) else {
            return Err(Error::Options(format!(
                "input '{input}' has symbolic dim '{sym}'"
            )));
        };
        let ty = g.ty(v);
        let example: Vec<String> = ty
            .shape
            .dims()
            .iter()
            .map(|d| d.known().map_or_else(|| "N".to_string(), |k| k.to_string()))
            .collect();
        return Err(Error::Options(format!(
            "input '{input}' has symbolic dim '{sym}' ({ty}); bind it with --shape {input}={} or --shape {sym}=N",
            example.join("x")
        )));
    }
    Ok(())
}
