//! [`StepFault`]: why one step failed, at load (its load-time checks) or in a run. Only
//! [`StepFault::IndexOutOfRange`] depends on the data a caller passes; the other variants mean
//! the plan and this runtime disagree (a plan a validator let through that a kernel refuses, an
//! op and dtype with no executor), which a caller cannot fix by changing inputs.

use thiserror::Error;

#[derive(Clone, Debug, Error, PartialEq)]
pub enum StepFault {
    /// An index read from a tensor at run time (Gather, GatherND) lies outside its axis.
    #[error("index {index} at position {position} is out of bounds for axis of length {len}")]
    IndexOutOfRange {
        index: i64,
        position: usize,
        len: u64,
    },
    /// The step's op and element type have no executor in this runtime.
    #[error("not supported: {0}")]
    Unsupported(String),
    /// A kernel refused the step's arguments.
    #[error("{0}")]
    Kernel(#[from] infc_kernels::KernelError),
    /// A buffer of the step lies outside its region, aliases another it must not, or a size
    /// overflows; or a prepacked weight blob is inconsistent with the step.
    #[error("{0}")]
    Layout(String),
}

impl From<String> for StepFault {
    fn from(msg: String) -> StepFault {
        StepFault::Layout(msg)
    }
}

impl From<&str> for StepFault {
    fn from(msg: &str) -> StepFault {
        StepFault::Layout(msg.to_string())
    }
}

/// `StepFault::Layout(format!(…))`.
macro_rules! fault {
    ($($arg:tt)*) => {
        $crate::fault::StepFault::Layout(format!($($arg)*))
    };
}
pub(crate) use fault;
