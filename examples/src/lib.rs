//! Helpers shared by the example programs in `src/bin/`: argument parsing without a dependency,
//! softmax and top-k, writing an `.npy` array; image preprocessing ([`vision`]) and sentence
//! embedding pooling ([`pooling`]).

pub mod pooling;
pub mod vision;

use std::path::Path;

/// The value after `--name` in `args`, if given.
pub fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The first argument that is not a flag or a flag's value.
pub fn positional(args: &[String]) -> Option<String> {
    positionals(args).into_iter().next()
}

/// Every argument that is not a flag or a flag's value, in order.
pub fn positionals(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
        } else if a.starts_with("--") {
            skip = true;
        } else {
            out.push(a.clone());
        }
    }
    out
}

/// Indices and values of the `k` largest of `xs`, largest first.
pub fn top_k(xs: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut idx: Vec<usize> = (0..xs.len()).collect();
    idx.sort_by(|&a, &b| xs[b].total_cmp(&xs[a]).then(a.cmp(&b)));
    idx.into_iter().take(k).map(|i| (i, xs[i])).collect()
}

/// `log(softmax(xs))`.
pub fn log_softmax(xs: &[f32]) -> Vec<f32> {
    let max = xs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = xs.iter().map(|&x| (x - max).exp()).sum();
    xs.iter().map(|&x| x - max - sum.ln()).collect()
}

/// `softmax(xs)`, computed in f64.
pub fn softmax(xs: &[f32]) -> Vec<f32> {
    let max = xs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f64> = xs.iter().map(|&x| f64::from(x - max).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|&v| (v / sum) as f32).collect()
}

/// Write `data` (row-major, `shape`) to `path` as a little-endian f32 `.npy` file.
pub fn write_npy_f32(path: &Path, shape: &[usize], data: &[f32]) -> std::io::Result<()> {
    use npyz::WriterBuilder;
    let dims: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut w = npyz::WriteOptions::<f32>::new()
        .default_dtype()
        .shape(&dims)
        .writer(file)
        .begin_nd()?;
    w.extend(data.iter().copied())?;
    w.finish()
}

/// The little-endian f32 values of `bytes`.
pub fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// A model path relative to the repository root (the examples run from anywhere).
pub fn repo_path(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}
