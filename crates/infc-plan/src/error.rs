//! The one error type of plan decoding and validation. Every message names the place at fault
//! (byte offset, section, step index and kind, field) so a hostile or corrupt file is diagnosable.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PlanError {
    #[error("not a plan file: bad magic {found:?} (expected \"INFCPLAN\")")]
    BadMagic { found: Vec<u8> },
    #[error("plan format {found} cannot be read by this infc (it reads format {supported}): recompile the model with this infc")]
    UnsupportedVersion { found: String, supported: String },
    #[error("plan is truncated: {what} needs bytes {start}..{end} but the file has {len}")]
    Truncated {
        what: String,
        start: u64,
        end: u64,
        len: u64,
    },
    #[error("checksum mismatch: header says {stored:#018x}, contents hash to {computed:#018x}")]
    Checksum { stored: u64, computed: u64 },
    #[error("constants hash mismatch: the plan says {stored:#018x}, the constants hash to {computed:#018x} (the weights are corrupted)")]
    WeightsHash { stored: u64, computed: u64 },
    #[error("section table: {0}")]
    Section(String),
    #[error("{section} section: {msg}")]
    Malformed { section: &'static str, msg: String },
    #[error("step {index} ({kind}): {msg}")]
    Step {
        index: usize,
        kind: &'static str,
        msg: String,
    },
    #[error("{what} '{name}': {msg}")]
    Io {
        what: &'static str,
        name: String,
        msg: String,
    },
    #[error("memory plan: {0}")]
    Memory(String),
    #[error("I/O error: {0}")]
    Write(String),
    /// A plan of a later minor version that uses something this reader does not know (a new
    /// value of a step's kind enum, say): the cause, and the versions.
    #[error("plan format {plan} is newer than this infc (it reads up to {reader}) and uses something this infc does not know: {cause}: use a newer infc or recompile the model with this one")]
    Newer {
        plan: String,
        reader: String,
        cause: Box<PlanError>,
    },
}

impl PlanError {
    pub(crate) fn malformed(section: &'static str, msg: impl Into<String>) -> PlanError {
        PlanError::Malformed {
            section,
            msg: msg.into(),
        }
    }
}
