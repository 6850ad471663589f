//! Errors raised by passes and shape binding.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum PassError {
    #[error(transparent)]
    Ir(#[from] infc_ir::IrError),
    #[error("constant folding of node '{node}' ({op}): {msg}")]
    Fold {
        node: String,
        op: &'static str,
        msg: String,
    },
    #[error("--shape {0}")]
    Binding(String),
    #[error("pass '{pass}' broke the graph: {err}")]
    Verify {
        pass: &'static str,
        err: infc_ir::IrError,
    },
}
