//! Files the importer reads: the model itself and its external data. External data is contained:
//! a tensor's `location` must be a relative path that, with every symlink resolved, names a
//! regular file inside the model's (resolved) directory. FIFOs, sockets, devices and directories
//! are refused before they are opened (a FIFO would block the open or read forever, a device could
//! be endless or have side effects), and the opened file is checked again so a file swapped in
//! between the two is refused too. Each file is mapped once; tensors are slices of the mapping.

use crate::OnnxError;
use infc_ir::Bytes;
use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io;
use std::path::{Component, Path, PathBuf};
use tract_onnx::pb::StringStringEntryProto;

/// What a non-regular file is, for messages.
fn file_kind(meta: &Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    }
}

fn not_regular(meta: &Metadata) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{}, not a regular file", file_kind(meta)),
    )
}

/// Open `path` for reading if it is a regular file. It is checked with `stat` before the open (a
/// FIFO or device is never opened) and opened non-blocking, then checked again with `fstat` to be
/// the same regular file.
pub(crate) fn open_regular(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let before = std::fs::metadata(path)?;
    if !before.is_file() {
        return Err(not_regular(&before));
    }
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let after = f.metadata()?;
    if !after.is_file() {
        return Err(not_regular(&after));
    }
    if (after.dev(), after.ino()) != (before.dev(), before.ino()) {
        return Err(io::Error::other(
            "the file was replaced while it was opened",
        ));
    }
    Ok(f)
}

/// Map a whole regular file read-only (empty files become an empty buffer: mmap of length 0 is
/// invalid).
pub(crate) fn map_file(path: &Path) -> io::Result<Bytes> {
    let f = open_regular(path)?;
    if f.metadata()?.len() == 0 {
        return Ok(Bytes::from_vec(Vec::new()));
    }
    // SAFETY: the mapping is read-only and private to this process; as with every mmap-based
    // loader, the file must not be truncated or rewritten while the graph is alive.
    let m = unsafe { memmap2::Mmap::map(&f)? };
    Ok(Bytes::from_mmap(m))
}

/// Opens and maps external data files, once each, relative to the model's directory.
pub(crate) struct ExternalData {
    base_dir: Option<PathBuf>,
    /// `base_dir` with symlinks resolved, computed at the first external tensor.
    real_base: Option<PathBuf>,
    /// Mappings by resolved path.
    files: HashMap<PathBuf, Bytes>,
}

impl ExternalData {
    pub fn new(base_dir: Option<PathBuf>) -> ExternalData {
        ExternalData {
            base_dir,
            real_base: None,
            files: HashMap::new(),
        }
    }

    /// The resolved file `location` names: inside the model's resolved directory, or an error.
    fn resolve(&mut self, location: &str) -> Result<(PathBuf, PathBuf), String> {
        let rel = Path::new(location);
        if rel.is_absolute()
            || !rel
                .components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(format!(
                "location '{location}' must be a relative path inside the model's directory"
            ));
        }
        let base = self.base_dir.as_ref().ok_or_else(|| {
            format!("'{location}' cannot be resolved: the model was not loaded from a file")
        })?;
        let shown = base.join(rel);
        if self.real_base.is_none() {
            let real = std::fs::canonicalize(base).map_err(|e| {
                format!(
                    "cannot resolve the model's directory '{}': {e}",
                    base.display()
                )
            })?;
            self.real_base = Some(real);
        }
        let real_base = self.real_base.as_ref().expect("set above");
        let real = std::fs::canonicalize(real_base.join(rel))
            .map_err(|e| format!("cannot open '{}': {e}", shown.display()))?;
        if !real.starts_with(real_base) {
            return Err(format!(
                "location '{location}' resolves to '{}', outside the model's directory '{}'",
                real.display(),
                real_base.display()
            ));
        }
        Ok((shown, real))
    }

    /// Bytes of the external data described by `entries` (keys `location`, `offset`, `length`).
    pub fn load(
        &mut self,
        tensor: &str,
        entries: &[StringStringEntryProto],
        want: usize,
    ) -> Result<Bytes, OnnxError> {
        let err = |msg: String| OnnxError::tensor(tensor, format!("external data: {msg}"));
        let get = |key: &str| {
            entries
                .iter()
                .rev()
                .find(|e| e.key == key)
                .map(|e| e.value.as_str())
        };
        let location = get("location").ok_or_else(|| err("no 'location' key".into()))?;
        let parse = |key: &str| -> Result<Option<usize>, OnnxError> {
            get(key)
                .map(|v| {
                    v.trim()
                        .parse::<usize>()
                        .map_err(|_| err(format!("'{key}' is not a byte count: '{v}'")))
                })
                .transpose()
        };
        let offset = parse("offset")?.unwrap_or(0);
        let length = parse("length")?.unwrap_or(want);
        let (shown, real) = self.resolve(location).map_err(err)?;
        let file = match self.files.get(&real) {
            Some(b) => b.clone(),
            None => {
                let b = map_file(&real).map_err(|e| {
                    err(format!(
                        "location '{location}': cannot open '{}': {e}",
                        shown.display()
                    ))
                })?;
                self.files.insert(real, b.clone());
                b
            }
        };
        if length != want {
            return Err(err(format!(
                "length {length} does not match the {want} bytes the tensor needs"
            )));
        }
        file.slice(offset, length).map_err(|_| {
            err(format!(
                "bytes {offset}..{} lie outside '{}' ({} bytes)",
                offset.saturating_add(length),
                shown.display(),
                file.len()
            ))
        })
    }
}
