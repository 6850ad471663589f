//! Time the reference interpreter on one exported model directory (`model.onnx`, `meta.json`, input
//! and expected-output `.npy` files, as `models/export.py` writes them) and report the max error.
//!
//! `cargo run --release -p infc-reference --example run_model -- models/full/gpt2_ts17`

use infc_ir::Tensor;
use infc_reference::{run_graph_with_stats, InputKey};
use std::path::Path;
use std::time::Instant;

fn read_npy(path: &Path) -> Tensor {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let descr = npy.header().dtype().descr();
    match descr.trim_matches('\'') {
        "<f4" => Tensor::from_vec(shape, npy.into_vec::<f32>().unwrap()).unwrap(),
        "<i8" => Tensor::from_vec(shape, npy.into_vec::<i64>().unwrap()).unwrap(),
        d => panic!("{}: unsupported npy dtype {d}", path.display()),
    }
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: run_model MODEL_DIR");
    let dir = Path::new(&dir);
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    let t0 = Instant::now();
    let g = infc_onnx::import_file(&dir.join("model.onnx"), &Default::default()).unwrap();
    let t_import = t0.elapsed();
    let inputs: Vec<(InputKey, Tensor)> = meta["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().into(),
                read_npy(&dir.join(i["file"].as_str().unwrap())),
            )
        })
        .collect();
    let t1 = Instant::now();
    let (outs, stats) = run_graph_with_stats(&g, &inputs).unwrap();
    let t_run = t1.elapsed();
    println!(
        "{}: import {:.2?}, run {:.2?}, {} nodes, peak live {:.1} MB (all outputs {:.1} MB)",
        dir.display(),
        t_import,
        t_run,
        g.nodes.len(),
        stats.peak_live_bytes as f64 / 1e6,
        stats.total_output_bytes as f64 / 1e6
    );
    for (o, got) in meta["outputs"].as_array().unwrap().iter().zip(&outs) {
        let want = read_npy(&dir.join(o["file"].as_str().unwrap()));
        let (g, w) = (got.to_f64_vec().unwrap(), want.to_f64_vec().unwrap());
        let max_ref = w.iter().fold(0f64, |m, v| m.max(v.abs()));
        let err = g
            .iter()
            .zip(&w)
            .fold(0f64, |m, (a, b)| m.max((a - b).abs()));
        println!(
            "  {}: max abs err {err:.3e} (tol {:.3e})",
            o["name"],
            1e-4 + 1e-3 * max_ref
        );
    }
}
