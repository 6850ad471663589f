//! Errors raised while importing an ONNX model. Every variant names what is at fault (file,
//! tensor, node, attribute) so a bad model can be fixed from the message alone.

use std::fmt;
use std::path::PathBuf;
use thiserror::Error;

/// One node the importer cannot translate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedOp {
    pub op_type: String,
    pub node: String,
    /// Domain as written in the model (`""` is the default ONNX domain, printed `ai.onnx`).
    pub domain: String,
    /// Opset version imported for that domain (None if the model does not import the domain).
    pub opset: Option<i64>,
}

impl fmt::Display for UnsupportedOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let domain = if self.domain.is_empty() {
            "ai.onnx"
        } else {
            &self.domain
        };
        write!(
            f,
            "{} (node '{}', domain {domain}, opset ",
            self.op_type, self.node
        )?;
        match self.opset {
            Some(v) => write!(f, "{v})"),
            None => f.write_str("not imported)"),
        }
    }
}

fn list_unsupported(ops: &[UnsupportedOp]) -> String {
    let lines: Vec<String> = ops.iter().map(|o| format!("\n  {o}")).collect();
    format!("{} unsupported ONNX op(s):{}", ops.len(), lines.concat())
}

#[derive(Debug, Error)]
pub enum OnnxError {
    /// The message already ends with the I/O error, so it is not also reported as the `source`
    /// (an error chain would print it twice).
    #[error("cannot read '{}': {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("not a valid ONNX model: {0}")]
    Decode(String),
    #[error("invalid model: {0}")]
    Model(String),
    #[error("tensor '{tensor}': {msg}")]
    Tensor { tensor: String, msg: String },
    #[error("graph input '{input}': {msg}")]
    Input { input: String, msg: String },
    #[error("{}", list_unsupported(.0))]
    Unsupported(Vec<UnsupportedOp>),
    #[error("node '{node}' ({op_type}): {msg}")]
    Node {
        node: String,
        op_type: String,
        msg: String,
    },
    /// Type/shape inference found a contradiction (the message names the node).
    #[error(transparent)]
    Ir(#[from] infc_ir::IrError),
}

impl OnnxError {
    pub(crate) fn tensor(tensor: &str, msg: impl Into<String>) -> OnnxError {
        OnnxError::Tensor {
            tensor: tensor.to_string(),
            msg: msg.into(),
        }
    }
}
