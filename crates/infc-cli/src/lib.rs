//! Library half of the `infc` binary: the modules other crates reuse without going through the
//! command line (the fuzz targets in `fuzz/` and their regression replay call the `.npy` reader).

pub mod npy_io;
