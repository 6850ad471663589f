//! What a plan records of where it came from (`infc explain PLAN` prints it): the source model's
//! name, size and xxh64, the options as `infc compile` flags, the target. Nothing that differs
//! between two compiles of the same file with the same options (no time, no output path, no
//! folder), so plans stay byte-identical.

use crate::error::{Error, Result};
use crate::options::{CompileOptions, Target};
use std::path::Path;

/// The `(key, value)` pairs stored in the plan's provenance section.
pub fn provenance(model: &Path, opts: &CompileOptions) -> Result<Vec<(String, String)>> {
    let (bytes, hash) = hash_file(model)?;
    let name = model.file_name().map_or_else(
        || model.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let target = match opts.target {
        Target::Native => format!("native (NCHWc block {})", opts.target.nchwc_block()),
        t => t.name().to_string(),
    };
    Ok(vec![
        ("source".into(), name),
        ("source_bytes".into(), bytes.to_string()),
        ("source_xxh64".into(), format!("{hash:016x}")),
        ("flags".into(), flags(opts)),
        ("target".into(), target),
    ])
}

/// `opts` as the `infc compile` flags that ask for it.
fn flags(opts: &CompileOptions) -> String {
    let mut flags = vec![format!("-O{}", opts.opt_level)];
    flags.extend(opts.shapes.iter().map(|s| format!("--shape {s}")));
    flags.extend(opts.disable.iter().map(|p| format!("--disable {p}")));
    if let Some(b) = opts.nchwc_block {
        flags.push(format!("--nchwc-block {b}"));
    }
    if let Some(q) = &opts.int8 {
        flags.push("--int8".into());
        flags.extend(q.exclude.iter().map(|n| format!("--int8-exclude {n}")));
        if let Some(b) = q.budget {
            flags.push(format!("--int8-budget {b} --seed {}", q.seed));
        }
        if !q.per_row {
            flags.push("--int8-per-tensor".into());
        }
        if !q.bf16_attention {
            flags.push("--int8-f32-attention".into());
        }
    }
    flags.join(" ")
}

/// Size and xxh64 of a file, read in 1 MiB pieces (no whole-file buffer).
fn hash_file(path: &Path) -> Result<(u64, u64)> {
    use std::io::Read;
    let read_err = |e| Error::io("reading", path, e);
    let mut f = std::fs::File::open(path).map_err(read_err)?;
    let mut h = xxhash_rust::xxh64::Xxh64::new(0);
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(read_err)?;
        if n == 0 {
            return Ok((total, h.digest()));
        }
        h.update(&buf[..n]);
        total += n as u64;
    }
}
