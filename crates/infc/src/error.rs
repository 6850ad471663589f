//! The facade's one error type: every failure of compiling, loading or running, naming the thing
//! at fault (the file, the input, the option, the layer).

use std::path::PathBuf;

/// An error from [`crate::compile`], [`crate::Session`] or the INT8 measurements.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{action} {}", path.display())]
    Io {
        /// What was being done ("reading", "writing").
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The ONNX file could not be imported (malformed, unsupported ops, missing external data).
    #[error("importing {}", path.display())]
    Import {
        /// The model file.
        path: PathBuf,
        /// What the importer found.
        #[source]
        source: infc_onnx::OnnxError,
    },
    /// An ONNX model held in memory ([`crate::import_bytes`]) could not be imported.
    #[error("importing an ONNX model from memory")]
    ImportBytes {
        /// What the importer found.
        #[source]
        source: infc_onnx::OnnxError,
    },
    /// A shape binding or an optimisation pass failed.
    #[error(transparent)]
    Pass(#[from] infc_passes::PassError),
    /// Lowering the optimised graph to a plan failed.
    #[error("compiling {what}")]
    Compile {
        /// What was being compiled (the model file, or a measurement graph).
        what: String,
        /// The lowering error.
        #[source]
        source: infc_compile::CompileError,
    },
    /// Loading or running a plan failed (a corrupted plan, a bad input, a memory budget).
    #[error(transparent)]
    Runtime(#[from] infc_runtime::RuntimeError),
    /// An option is not usable (an unknown pass name, an unbound symbolic dim, a bad budget).
    #[error("{0}")]
    Options(String),
    /// A measurement run (INT8 report or budget) does not fit in memory or could not run.
    #[error("{0}")]
    Measure(String),
}

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Error {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn compile(what: impl Into<String>, source: infc_compile::CompileError) -> Error {
        Error::Compile {
            what: what.into(),
            source,
        }
    }
}

/// `e` and its causes, `: `-separated: the whole message, as `infc` prints it (for bindings
/// that hand errors to other languages as one string).
pub fn full_message(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

/// Shorthand for the facade's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
