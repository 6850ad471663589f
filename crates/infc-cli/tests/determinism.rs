//! Issue 20: the same ONNX file and flags compile to identical plan bytes (no hash-map order,
//! address or time leaks into a plan), at every level, FP32 and INT8.

use std::path::Path;
use std::process::Command;

fn compile(model: &str, shapes: &[&str], extra: &[&str], out: &Path) -> Vec<u8> {
    let m = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/fixtures")
        .join(model)
        .join("model.onnx");
    let mut args = vec!["compile".to_string(), m.display().to_string()];
    for s in shapes {
        args.extend(["--shape".to_string(), s.to_string()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(["-o".to_string(), out.display().to_string()]);
    let o = Command::new(env!("CARGO_BIN_EXE_infc"))
        .args(&args)
        .output()
        .expect("infc runs");
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read(out).unwrap()
}

#[test]
fn the_same_model_and_flags_give_the_same_plan_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&str, &[&str]); 3] = [
        ("gpt2_ts17", &["batch=2", "sequence=5"]),
        ("distilbert_dynamo18", &["batch=2", "sequence=5"]),
        ("resnet_ts14", &["pixel_values=1x3x32x32"]),
    ];
    for (model, shapes) in cases {
        for flags in [&["-O0"][..], &["-O3"], &["-O3", "--int8"]] {
            let a = compile(model, shapes, flags, &tmp.path().join("a.plan"));
            let b = compile(model, shapes, flags, &tmp.path().join("b.plan"));
            assert!(
                a == b,
                "{model} {flags:?}: two compiles differ ({} vs {} bytes)",
                a.len(),
                b.len()
            );
        }
    }
}
