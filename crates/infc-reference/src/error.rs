//! The interpreter's error type. Every error names what is at fault: the op (for [`crate::eval_op`]), the
//! node (for [`crate::run_graph`]) or the graph input.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum RefError {
    /// An op could not be evaluated on the given tensors (bad shape, dtype, index, attribute…).
    #[error("{op}: {msg}")]
    Op { op: &'static str, msg: String },
    /// An op failed while running a graph: which node. The message includes the op's error, which
    /// is therefore not also the `source` (an error chain would print it twice).
    #[error("node '{node}': {error}")]
    Node { node: String, error: Box<RefError> },
    /// A graph input was missing, duplicated, or did not match the input's declared type.
    #[error("input '{name}': {msg}")]
    Input { name: String, msg: String },
    /// A caller-supplied input key matched no graph input.
    #[error("the graph has no input {0}")]
    UnknownInput(String),
    /// A constant whose data is not available (read back from text IR by fingerprint).
    #[error("constant '{0}' has no data (it was read back from text IR by fingerprint); the reference interpreter needs real data")]
    OpaqueConstant(String),
    /// The graph itself is malformed (use before definition, output type contradicting the result…).
    #[error("graph: {0}")]
    Graph(String),
}
