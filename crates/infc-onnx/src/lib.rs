//! ONNX import into infc IR.
//!
//! [`import_file`] maps the model file and decodes its `ModelProto` with prost and the
//! `tract_onnx::pb` types, except that initializer `raw_data` is never copied: `wire` walks the
//! protobuf wire format to find each initializer's bytes, which become [`infc_ir::Bytes`] slices of
//! the mmap. External data files (`data_location = EXTERNAL`) are mapped once each and sliced the
//! same way; `external` keeps them inside the model's directory (symlinks resolved) and opens
//! only regular files. Nodes are translated by one file per op family in `ops` (every unsupported
//! op is reported in one error first), and every node's output type is inferred by
//! `infc_ir::infer` as it is added. Symbolic dims are *not* bound here:
//! `ImportOptions::shape_bindings` is carried for the separate binding pass.

mod attrs;
mod error;
mod external;
mod import;
mod ops;
mod tensor;
#[cfg(test)]
mod tests;
mod wire;

pub use error::{OnnxError, UnsupportedOp};
pub use ops::SUPPORTED_OPS;

use infc_ir::{Bytes, Graph};
use std::path::Path;
use std::sync::Arc;

/// Options for the import. `shape_bindings` (`--shape NAME=D0xD1…`, per input) is *not* applied by
/// the importer; it is carried for the binding pass that runs after it.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    pub shape_bindings: Vec<(String, Vec<usize>)>,
}

/// Import an ONNX model file. Initializer data stays in the file mapping (no copy); external data is
/// resolved relative to the model's directory.
pub fn import_file(path: &Path, opts: &ImportOptions) -> Result<Graph, OnnxError> {
    let _ = opts;
    let io = |error| OnnxError::Io {
        path: path.to_path_buf(),
        error,
    };
    let data = external::map_file(path).map_err(io)?;
    let base = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    import::import_buffer(data, Some(&base))
}

/// Import a model held in memory. Initializers share `data`'s storage; external data is refused
/// (there is no directory to resolve it against).
pub fn import_bytes(data: Bytes, opts: &ImportOptions) -> Result<Graph, OnnxError> {
    let _ = opts;
    import::import_buffer(data, None)
}

/// Graph inputs with their symbolic dim names (in order), for inputs that have any: what a
/// `--shape` binding must cover.
pub fn symbolic_inputs(g: &Graph) -> Vec<(String, Vec<Arc<str>>)> {
    g.inputs
        .iter()
        .map(|&v| (g.value(v).name.clone(), g.ty(v).shape.symbols()))
        .filter(|(_, s)| !s.is_empty())
        .collect()
}
