//! What the example tests share: running an example program, reading a committed `.npy`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Run `exe` with `args`; its stdout, after asserting that it succeeded.
pub fn run(exe: &str, args: &[&str]) -> String {
    let out = Command::new(exe).args(args).output().expect("example runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{exe} {args:?}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Run `exe` with `args`; its stderr, after asserting that it failed.
#[allow(dead_code)] // not every test binary checks a failure
pub fn run_failing(exe: &str, args: &[&str]) -> String {
    let out = Command::new(exe).args(args).output().expect("example runs");
    assert!(!out.status.success(), "{exe} {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A path under the repository root.
#[allow(dead_code)]
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// The shape and values of an f32 `.npy` file.
#[allow(dead_code)]
pub fn read_npy_f32(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).expect("an .npy file");
    let shape = npy.shape().iter().map(|&d| d as usize).collect();
    (shape, npy.into_vec::<f32>().expect("f32 values"))
}
