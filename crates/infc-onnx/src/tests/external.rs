//! External data stays inside the model's directory: locations are relative, symlinks are
//! resolved before the containment check (a link inside the folder to a file outside is refused,
//! a link to a file inside is followed), and only regular files are opened (a FIFO is refused at
//! once instead of blocking the import).

use super::builder::*;
use crate::{import_bytes, import_file, ImportOptions};
use infc_ir::Bytes;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use tract_onnx::pb::tensor_proto::{DataLocation, DataType};
use tract_onnx::pb::{StringStringEntryProto, TensorProto};

/// A fresh directory under the system temp dir for one test.
fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("infc-onnx-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn external(name: &str, location: &str, offset: usize, len: usize) -> TensorProto {
    let kv = |k: &str, v: String| StringStringEntryProto {
        key: k.into(),
        value: v,
    };
    TensorProto {
        name: name.into(),
        dims: vec![2],
        data_type: DataType::Float as i32,
        data_location: Some(DataLocation::External as i32),
        external_data: vec![
            kv("location", location.into()),
            kv("offset", offset.to_string()),
            kv("length", len.to_string()),
        ],
        ..Default::default()
    }
}

fn external_model(location: &str, offset: usize) -> M {
    M::new(18)
        .f32_in("x", &["2"])
        .init(external("w", location, offset, 8))
        .node("Add", &["x", "w"], &["y"], vec![])
        .output("y")
}

/// Import `m` written as `model.onnx` in `dir`; the error message with the directory replaced by `$DIR`.
fn import_in(dir: &Path, m: &M) -> Result<infc_ir::Graph, String> {
    let path = dir.join("model.onnx");
    std::fs::write(&path, m.bytes()).unwrap();
    import_file(&path, &ImportOptions::default())
        .map_err(|e| e.to_string().replace(&dir.display().to_string(), "$DIR"))
}

#[test]
fn external_data_is_mapped_and_shared() {
    let dir = temp_dir("ext-ok");
    let mut data = vec![0u8; 16];
    data[8..16].copy_from_slice(&[0, 0, 128, 63, 0, 0, 0, 64]); // 1.0, 2.0 at offset 8
    std::fs::write(dir.join("model.onnx.data"), &data).unwrap();
    let mut m = external_model("model.onnx.data", 8);
    m.graph
        .initializer
        .push(external("w2", "./model.onnx.data", 0, 8));
    let g = import_in(&dir, &m).unwrap();
    let w = g.consts.iter().find(|(_, c)| c.name == "w").unwrap().1;
    let w2 = g.consts.iter().find(|(_, c)| c.name == "w2").unwrap().1;
    assert_eq!(w.tensor.to_f64_vec().unwrap(), vec![1.0, 2.0]);
    let (infc_ir::TensorData::Bytes(a), infc_ir::TensorData::Bytes(b)) =
        (&w.tensor.data, &w2.tensor.data)
    else {
        panic!()
    };
    assert!(a.shares_storage_with(b), "one mapping for both tensors");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn external_data_errors() {
    let dir = temp_dir("ext-err");
    std::fs::write(dir.join("small.data"), [0u8; 4]).unwrap();
    insta::assert_snapshot!(import_in(&dir, &external_model("missing.data", 0)).unwrap_err(), @r#"tensor 'w': external data: cannot open '$DIR/missing.data': No such file or directory (os error 2)"#);
    insta::assert_snapshot!(import_in(&dir, &external_model("/etc/passwd", 0)).unwrap_err(), @r#"tensor 'w': external data: location '/etc/passwd' must be a relative path inside the model's directory"#);
    insta::assert_snapshot!(import_in(&dir, &external_model("../escape.data", 0)).unwrap_err(), @r#"tensor 'w': external data: location '../escape.data' must be a relative path inside the model's directory"#);
    insta::assert_snapshot!(import_in(&dir, &external_model("small.data", 0)).unwrap_err(), @r#"tensor 'w': external data: bytes 0..8 lie outside '$DIR/small.data' (4 bytes)"#);
    let in_memory = import_bytes(
        Bytes::from_vec(external_model("model.onnx.data", 0).bytes()),
        &ImportOptions::default(),
    )
    .unwrap_err()
    .to_string();
    insta::assert_snapshot!(in_memory, @r#"tensor 'w': external data: 'model.onnx.data' cannot be resolved: the model was not loaded from a file"#);
    let _ = std::fs::remove_dir_all(&dir);
}

/// 1.0, 2.0 as little-endian f32: the 8 bytes `external_model`'s tensor reads.
const ONE_TWO: [u8; 8] = [0, 0, 128, 63, 0, 0, 0, 64];

/// `dir/model` (the model's folder) and `dir/outside/secret.data` next to it.
fn model_and_outside(tag: &str) -> (PathBuf, PathBuf) {
    let dir = temp_dir(tag);
    std::fs::create_dir_all(dir.join("model")).unwrap();
    std::fs::create_dir_all(dir.join("outside")).unwrap();
    std::fs::write(dir.join("outside/secret.data"), ONE_TWO).unwrap();
    (dir.clone(), dir.join("model"))
}

#[test]
fn symlinks_that_leave_the_folder_are_refused() {
    let (dir, model) = model_and_outside("ext-link-out");
    symlink(dir.join("outside/secret.data"), model.join("w.data")).unwrap();
    symlink(dir.join("outside"), model.join("sub")).unwrap();
    symlink("/etc/passwd", model.join("passwd")).unwrap();
    let err = |loc: &str| {
        import_in(&model, &external_model(loc, 0))
            .unwrap_err()
            .replace(&dir.display().to_string(), "$TMP")
    };
    insta::assert_snapshot!(err("w.data"), @"tensor 'w': external data: location 'w.data' resolves to '$TMP/outside/secret.data', outside the model's directory '$DIR'");
    insta::assert_snapshot!(err("sub/secret.data"), @"tensor 'w': external data: location 'sub/secret.data' resolves to '$TMP/outside/secret.data', outside the model's directory '$DIR'");
    insta::assert_snapshot!(err("passwd"), @"tensor 'w': external data: location 'passwd' resolves to '/etc/passwd', outside the model's directory '$DIR'");
    insta::assert_snapshot!(err("sub/../w.data"), @"tensor 'w': external data: location 'sub/../w.data' must be a relative path inside the model's directory");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn symlinks_inside_the_folder_are_followed() {
    let (dir, model) = model_and_outside("ext-link-in");
    std::fs::create_dir_all(model.join("weights")).unwrap();
    std::fs::write(model.join("weights/real.data"), ONE_TWO).unwrap();
    symlink("weights/real.data", model.join("w.data")).unwrap();
    let g = import_in(&model, &external_model("w.data", 0)).unwrap();
    let w = g.consts.iter().find(|(_, c)| c.name == "w").unwrap().1;
    assert_eq!(w.tensor.to_f64_vec().unwrap(), vec![1.0, 2.0]);
    // The model's folder itself reached through a symlink: containment is checked on resolved paths.
    symlink(&model, dir.join("alias")).unwrap();
    let g = import_file(&dir.join("alias/model.onnx"), &ImportOptions::default()).unwrap();
    assert_eq!(g.consts.len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Make a FIFO at `path`.
fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// `f()` on another thread; fails the test instead of hanging if it takes more than 10 s.
fn within_10s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(f()));
    rx.recv_timeout(std::time::Duration::from_secs(10))
        .expect("blocked on a FIFO")
}

#[test]
fn fifos_devices_and_directories_are_refused_without_blocking() {
    let dir = temp_dir("ext-fifo");
    mkfifo(&dir.join("pipe.data"));
    std::fs::create_dir_all(dir.join("folder.data")).unwrap();
    let d = dir.clone();
    let errs = within_10s(move || {
        ["pipe.data", "folder.data"].map(|loc| import_in(&d, &external_model(loc, 0)).unwrap_err())
    });
    insta::assert_snapshot!(errs[0], @"tensor 'w': external data: location 'pipe.data': cannot open '$DIR/pipe.data': a FIFO, not a regular file");
    insta::assert_snapshot!(errs[1], @"tensor 'w': external data: location 'folder.data': cannot open '$DIR/folder.data': a directory, not a regular file");
    // The model file itself: a FIFO or a device is refused too.
    let (pipe, d) = (dir.join("pipe.data"), dir.clone());
    let e = within_10s(move || import_file(&pipe, &ImportOptions::default()).unwrap_err());
    assert!(e.to_string().contains("a FIFO, not a regular file"), "{e}");
    let e = import_file(Path::new("/dev/zero"), &ImportOptions::default()).unwrap_err();
    insta::assert_snapshot!(e, @"cannot read '/dev/zero': a character device, not a regular file");
    let _ = std::fs::remove_dir_all(&d);
}
