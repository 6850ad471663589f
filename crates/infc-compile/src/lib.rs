//! Lowering an IR graph to an executable [`infc_plan::Plan`]: static memory planning
//! (`analysis` + [`memory`]), one lowering per op family (`lower/`), compile-time
//! weight packing for the kernels, and the memory report.
//!
//! ```text
//! compile(g) = check shapes known and within plan limits (`limits`), every op left has a kernel
//!              (`unfolded`)
//!            → analyse (aliases, marks, liveness, in-place, offsets) → check the arena's size
//!            → lower every node to steps → I/O descriptors + memory plan → Plan
//! ```

mod analysis;
mod error;
mod limits;
mod lower;
mod reference;
mod unfolded;

pub use error::CompileError;
/// The arena planner (in `infc-plan`, where a range plan's run time also plans per shape).
pub use infc_plan::memory;
pub use infc_plan::{MemoryEntry, MemoryPlan, Plan};
pub use reference::{Layout, Reference};

use infc_ir::{Graph, ValueId};
use infc_plan::{IoDesc, PlanBody};

/// Knobs of the lowering (defaults: everything on).
#[derive(Clone, Debug)]
pub struct CompileOptions {
    /// Written to the plan header.
    pub producer: String,
    /// Let elementwise ops overwrite a dying input buffer.
    pub in_place: bool,
    /// `cpu_features` bits to record as required (0: the plan runs on any CPU).
    pub required_features: u64,
    /// Lower against this max-shape layout and constants (one shape of a range plan; see
    /// [`Reference`]).
    pub reference: Option<std::sync::Arc<Reference>>,
    /// With a reference: this shape lies beyond the reference's (a range plan's fitting sample
    /// above a short range's max), so its buffers may be larger than their slots and the plan is
    /// not validated; such a plan is only read, never run.
    pub beyond_reference: bool,
    /// With a reference: place the buffers at these offsets instead of the reference's (a range
    /// plan's per-shape arena: the arena its run time would plan at this shape, or a perturbed
    /// layout that shows which fields hold which buffer's offsets). Same buffers, same order.
    pub offsets: Option<std::sync::Arc<memory::Assignment>>,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            producer: format!("infc {}", env!("CARGO_PKG_VERSION")),
            in_place: true,
            required_features: 0,
            reference: None,
            beyond_reference: false,
            offsets: None,
        }
    }
}

/// Compile a bound, fully shaped graph into a plan.
pub fn compile(g: &Graph, opts: &CompileOptions) -> Result<Plan, CompileError> {
    compile_with_layout(g, opts).map(|(plan, _)| plan)
}

/// [`compile`], also returning the memory layout and constants placement it chose (what other
/// shapes of a range plan are lowered against).
pub fn compile_with_layout(
    g: &Graph,
    opts: &CompileOptions,
) -> Result<(Plan, Layout), CompileError> {
    limits::check_graph(g)?;
    unfolded::check(g)?;
    let an = analysis::analyse(g, opts)?;
    limits::check_arena(&an)?;
    let mut lw = lower::lower_graph(g, &an, opts)?;
    let io = |v: ValueId, lw: &mut lower::Lowerer<'_>| -> Result<IoDesc, CompileError> {
        let val = g.value(v);
        Ok(IoDesc {
            name: val.name.clone(),
            dtype: lower::plan_dtype(val.ty.dtype),
            shape: lw.shape(v),
            at: lw.at(v)?,
        })
    };
    let mut inputs = Vec::with_capacity(g.inputs.len());
    for &v in &g.inputs {
        inputs.push(io(v, &mut lw)?);
    }
    let mut outputs = Vec::with_capacity(g.outputs.len());
    for &v in &g.outputs {
        outputs.push(io(v, &mut lw)?);
    }
    // Node positions → step indices for the offset map.
    let n_steps = lw.steps.len();
    let first = |pos: u32| *lw.node_first_step.get(pos as usize).unwrap_or(&n_steps) as u32;
    let last = |pos: u32| {
        let next = *lw.node_first_step.get(pos as usize + 1).unwrap_or(&n_steps);
        (next.max(first(pos) as usize + 1) - 1) as u32
    };
    let entries = an
        .buffers
        .iter()
        .map(|(name, it, off)| MemoryEntry {
            name: name.clone(),
            offset: *off,
            size: it.size,
            first_step: first(it.first),
            last_step: last(it.last).max(first(it.first)),
        })
        .collect();
    let memory = MemoryPlan {
        arena_bytes: an.assignment.arena_bytes,
        intermediates_bytes: an.assignment.total,
        lower_bound_bytes: an.assignment.lower_bound,
        entries,
    };
    let body = PlanBody {
        producer: opts.producer.clone(),
        required_features: opts.required_features,
        inputs,
        outputs,
        steps: std::mem::take(&mut lw.steps),
        step_names: std::mem::take(&mut lw.names),
        memory,
        provenance: Vec::new(),
        range: None,
    };
    let consts = std::mem::take(&mut lw.blob);
    let layout = Layout {
        items: an
            .buffers
            .iter()
            .map(|(name, it, _)| (name.clone(), *it))
            .collect(),
        assignment: an.assignment.clone(),
        consts: std::mem::take(&mut lw.const_at),
        in_place: an.in_place.clone(),
    };
    // Catch lowering bugs here rather than at load time (model faults were refused by `limits`).
    if !opts.beyond_reference {
        infc_plan::validate(&body, consts.len() as u64).map_err(|e| {
            CompileError::Graph(format!("internal error: lowered plan is invalid: {e}"))
        })?;
    }
    Ok((Plan { body, consts }, layout))
}
