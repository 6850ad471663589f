//! [`compile`]: an ONNX file to a [`Plan`] — [`crate::optimise`] (import, bind, passes, INT8
//! marks), then lowering, with the plan's provenance recorded.

use crate::error::{Error, Result};
use crate::int8::Int8Decision;
use crate::options::CompileOptions;
use crate::pipeline::{optimise, require_bound};
use crate::provenance::provenance;
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
}

/// Compile the ONNX model at `model` into a plan.
///
/// Every symbolic input dim must be bound by [`CompileOptions::shapes`]; the error names the
/// input, the dim and the binding to give.
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
    let o = optimise(model, opts, after_pass)?;
    require_bound(&o.graph)?;
    let mut plan = infc_compile::compile(&o.graph, &infc_compile::CompileOptions::default())
        .map_err(|e| Error::compile(model.display().to_string(), e))?;
    plan.body.provenance = provenance(model, opts)?;
    Ok(Compiled {
        plan,
        graph: o.graph,
        log: o.log,
        int8: o.int8,
    })
}

/// Lower an optimised, bound graph to a plan (no provenance): for graphs built or rewritten in
/// code rather than read from a file.
pub fn lower(g: &Graph) -> Result<Plan> {
    require_bound(g)?;
    infc_compile::compile(g, &infc_compile::CompileOptions::default())
        .map_err(|e| Error::compile(format!("graph '{}'", g.name), e))
}
