//! Runtime errors: loading (I/O, plan validation, unsupported CPU, misalignment), input/output
//! mismatches (naming the tensor, expected and given), and step failures (index, kind, node).

use infc_plan::PlanError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RuntimeError {
    #[error("cannot read plan '{path}': {msg}")]
    Io { path: String, msg: String },
    /// Not the error's `source`: the message already includes it (a chain would repeat it).
    #[error("invalid plan: {0}")]
    Plan(PlanError),
    #[error("plan needs CPU features {needed:?} that this CPU lacks")]
    CpuFeatures { needed: Vec<&'static str> },
    #[error("{0}")]
    Isa(String),
    #[error("constants blob is not 64-byte aligned in memory (address {0:#x})")]
    Misaligned(usize),
    #[error("step {index} ({kind}, node '{node}'): {fault}")]
    Step {
        index: usize,
        kind: &'static str,
        node: String,
        fault: crate::StepFault,
    },
    #[error("input '{name}': {msg}")]
    Input { name: String, msg: String },
    /// A range plan instantiated at the inputs' shape is not a valid plan there.
    #[error("the plan at {at} is invalid: {msg}")]
    Shape { at: String, msg: String },
    #[error("output '{name}': {msg}")]
    Output { name: String, msg: String },
    #[error("cannot allocate the {0}-byte arena")]
    Alloc(u64),
    /// The run's [`crate::CancelToken`] was cancelled; it stopped after `steps_done` steps.
    #[error("run cancelled after {steps_done} steps")]
    Cancelled { steps_done: usize },
    /// The run took longer than its [`crate::RunOptions::timeout`].
    #[error("run timed out: {elapsed:?} elapsed after {steps_done} steps, the limit is {limit:?}")]
    TimedOut {
        limit: std::time::Duration,
        elapsed: std::time::Duration,
        steps_done: usize,
    },
    /// The session's own thread pool could not be started.
    #[error("cannot start the session's thread pool of {threads} threads: {msg}")]
    ThreadPool { threads: usize, msg: String },
    /// Refused before allocating: `used` bytes are already counted against the budget.
    #[error("{what} needs {bytes} bytes{}: above the memory budget of {budget} bytes ({limit_from})", already_counted(.used))]
    MemoryBudget {
        what: String,
        bytes: u64,
        used: u64,
        budget: u64,
        limit_from: &'static str,
    },
}

impl From<PlanError> for RuntimeError {
    fn from(e: PlanError) -> Self {
        RuntimeError::Plan(e)
    }
}

fn already_counted(used: &u64) -> String {
    match used {
        0 => String::new(),
        n => format!(" besides the {n} bytes already counted"),
    }
}
