//! A request loop sharing one `Session` between threads: each thread runs its own requests
//! (seeded inputs) on the same plan; prints requests per second for 1, 2 and 4 threads and
//! checks that every thread's outputs equal the single-threaded run's.
//!
//! ```sh
//! cargo run --release -p infc-examples --bin threaded_requests -- models/fixtures/distilbert_ts17/model.onnx --requests 50
//! ```

use infc::{compile, CompileOptions, Session};
use infc_examples::{flag, positional, repo_path};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model = positional(&args)
        .map(Into::into)
        .unwrap_or_else(|| repo_path("models/fixtures/distilbert_ts17/model.onnx"));
    let requests: usize = flag(&args, "--requests").map_or(Ok(20), |s| s.parse())?;
    let opts = CompileOptions {
        shapes: vec!["batch=1".into(), "sequence=16".into()],
        ..CompileOptions::default()
    };
    let session = Session::from_bytes(&compile(&model, &opts)?.encode())?;
    let inputs = infc::inputs::seeded_inputs(session.plan(), 7)?;
    let views: Vec<_> = inputs.iter().map(|i| i.view()).collect();
    let want = session.run(&views)?;
    for threads in [1usize, 2, 4] {
        let start = Instant::now();
        let all_equal = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| -> Result<bool, infc::RuntimeError> {
                        let mut same = true;
                        for _ in 0..requests {
                            let got = session.run(&views)?;
                            same &= got.iter().zip(&want).all(|(g, w)| g.data == w.data);
                        }
                        Ok(same)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("request thread panicked"))
                .collect::<Result<Vec<bool>, _>>()
        })?;
        let secs = start.elapsed().as_secs_f64();
        let total = threads * requests;
        println!(
            "{threads} thread(s): {total} requests in {secs:.3} s, {:.1} requests/s, outputs identical: {}",
            total as f64 / secs,
            all_equal.iter().all(|&b| b)
        );
        if !all_equal.iter().all(|&b| b) {
            return Err("a thread's outputs differ from the single-threaded run".into());
        }
    }
    Ok(())
}
