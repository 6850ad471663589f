//! Errors raised by IR construction, the verifier and the text parser.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum IrError {
    #[error("bad tensor data: {0}")]
    Data(String),
    #[error("constant data is not available (constant read back from text IR by fingerprint)")]
    OpaqueConstant,
    #[error("verifier: {0}")]
    Verify(String),
    #[error("shape inference: {0}")]
    Shape(String),
    #[error("text IR line {line}: {msg}")]
    Parse { line: usize, msg: String },
}
