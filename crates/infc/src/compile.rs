//! [`compile`]: an ONNX file to a [`Plan`] — [`crate::optimise`] (import, bind, passes, INT8
//! marks), then lowering, with the plan's provenance recorded.

use crate::error::{Error, Result};
use crate::int8::Int8Decision;
use crate::options::CompileOptions;
use crate::pipeline::{check_and_import, optimise_at, require_bound};
use crate::provenance::provenance;
use crate::range::{compile_range, Ranges, DEFAULT_MAX, TIED_DEFAULT_MAX};
use infc_ir::Graph;
use infc_passes::FusionLog;
use infc_plan::Plan;
use std::path::Path;

/// Everything [`compile_observed`] produced.
#[derive(Debug)]
pub struct Compiled {
    /// The plan, ready to [`Plan::write`] or load with [`crate::Session::from_bytes`].
    pub plan: Plan,
    /// The graph that was lowered.
    pub graph: Graph,
    /// Every rewrite that fired.
    pub log: FusionLog,
    /// With INT8: what was quantized and why the rest was not.
    pub int8: Option<Int8Decision>,
    /// A range plan's symbols with their ranges (empty for a plan of one shape).
    pub ranges: Vec<crate::range::SymbolRange>,
    /// What a range compile could not do as asked: why the plan keeps its max shape's arena for
    /// every shape, why a symbolic dim no flag bounds keeps its default bound.
    pub notes: Vec<String>,
}

/// Compile the ONNX model at `model` into a plan.
///
/// A symbolic input dim bound to one size by [`CompileOptions::shapes`] is fixed; one bound to a
/// range (`batch=1..16`), or not bound at all, makes a range plan: one plan that runs at every
/// shape within the ranges. A dim not bound at all is a run-time dim (no bound but the memory
/// budget) when no constant grows with it; else it takes the bound
/// `1..=`[`crate::range::TIED_DEFAULT_MAX`], or `1..=`[`crate::range::DEFAULT_MAX`] where the
/// model does not lower at that size ([`Compiled::notes`] says why).
pub fn compile(model: impl AsRef<Path>, opts: &CompileOptions) -> Result<Plan> {
    compile_observed(model.as_ref(), opts, |_, _, _| {}).map(|c| c.plan)
}

/// [`compile`], with `after_pass` seeing the graph after import and after every pass, and the
/// graph, fusion log and INT8 decision returned beside the plan.
pub fn compile_observed(
    model: &Path,
    opts: &CompileOptions,
    after_pass: impl FnMut(&'static str, &Graph, bool),
) -> Result<Compiled> {
    let (level, g) = check_and_import(model, opts)?;
    let mut ranges = Ranges::parse(&g, &opts.shapes, true)?;
    let mut notes = Vec::new();
    let (mut plan, o) = if ranges.symbols.is_empty() {
        let o = optimise_at(g, level, opts, &ranges.fixed, None, after_pass)?;
        require_bound(&o.graph)?;
        let plan = infc_compile::compile(&o.graph, &infc_compile::CompileOptions::default())
            .map_err(|e| Error::compile(model.display().to_string(), e))?;
        (plan, o)
    } else {
        let what = model.display().to_string();
        let mut r = compile_range(&what, &g, level, opts, &ranges, &[], after_pass)?;
        if !r.tied.is_empty() {
            // A dim a constant grows with stays bounded: try the wider default bound.
            let mut wider = ranges.clone();
            for s in wider
                .symbols
                .iter_mut()
                .filter(|s| r.tied.contains(&s.name))
            {
                s.max = TIED_DEFAULT_MAX;
            }
            match compile_range(&what, &g, level, opts, &wider, &r.run_time, |_, _, _| {}) {
                Ok(w) => {
                    r = w;
                    ranges = wider;
                }
                Err(e) => r.notes.push(format!(
                    "{} keep{} 1..={DEFAULT_MAX}: at 1..={TIED_DEFAULT_MAX} the compile fails ({})",
                    r.tied.join(", "),
                    if r.tied.len() == 1 { "s" } else { "" },
                    crate::full_message(&e)
                )),
            }
        }
        notes = r.notes;
        (r.plan, r.optimised)
    };
    plan.body.provenance = provenance(model, opts)?;
    Ok(Compiled {
        plan,
        graph: o.graph,
        log: o.log,
        int8: o.int8,
        ranges: ranges.symbols,
        notes,
    })
}

/// Lower an optimised, bound graph to a plan (no provenance): for graphs built or rewritten in
/// code rather than read from a file.
pub fn lower(g: &Graph) -> Result<Plan> {
    require_bound(g)?;
    infc_compile::compile(g, &infc_compile::CompileOptions::default())
        .map_err(|e| Error::compile(format!("graph '{}'", g.name), e))
}
