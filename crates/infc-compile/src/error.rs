//! Compile errors: each names the node (and op) or value at fault.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum CompileError {
    #[error("value '{value}' has symbolic dimension '{dim}' in {ty}: bind it (--shape) and fold constants before compiling")]
    Symbolic {
        value: String,
        dim: String,
        ty: String,
    },
    #[error("node '{node}' ({op}): {msg}")]
    Unsupported {
        node: String,
        op: &'static str,
        msg: String,
    },
    #[error("node '{node}' ({op}): malformed: {msg}")]
    Malformed {
        node: String,
        op: &'static str,
        msg: String,
    },
    #[error("constant '{name}': {msg}")]
    Constant { name: String, msg: String },
    #[error("graph: {0}")]
    Graph(String),
    /// Ops without a kernel that did not fold away, each with why (see `unfolded.rs`).
    #[error("{0}")]
    Unfolded(String),
    /// This shape of a range does not lower like its max shape (see `reference.rs`).
    #[error("range plan: {0}")]
    Range(String),
}
