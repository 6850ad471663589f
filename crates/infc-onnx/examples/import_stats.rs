//! Import an ONNX file and print wall time, node/constant counts and constant bytes:
//! `cargo run --release -p infc-onnx --example import_stats -- MODEL.onnx` (wrap in
//! `/usr/bin/time -v` for peak RSS).

use std::path::Path;
use std::time::Instant;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: import_stats MODEL.onnx");
        std::process::exit(2);
    };
    let t = Instant::now();
    match infc_onnx::import_file(Path::new(&path), &infc_onnx::ImportOptions::default()) {
        Ok(g) => {
            let bytes: usize = g.consts.iter().map(|(_, c)| c.tensor.byte_len()).sum();
            println!(
                "imported {path} in {:.3} s: {} nodes, {} constants ({:.1} MB), inputs {:?}",
                t.elapsed().as_secs_f64(),
                g.nodes.len(),
                g.consts.len(),
                bytes as f64 / 1e6,
                infc_onnx::symbolic_inputs(&g)
            );
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
