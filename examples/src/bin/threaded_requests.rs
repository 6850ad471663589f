//! A request loop sharing one `Session` between caller threads: each caller runs its own
//! requests on the same plan; prints requests per second per caller count (the median of
//! `--rounds` rounds, the caller counts alternating inside each round so a slow phase of the
//! machine hits all of them) and checks that every caller's outputs equal a single run's.
//!
//! ```sh
//! # On the bundled fixture (compiled here), 1, 2 and 4 callers:
//! cargo run --release -p infc-examples --bin threaded_requests -- models/fixtures/distilbert_ts17/model.onnx --requests 50
//! # On a compiled plan, one intra-op thread per run, 1 and 2 callers, 5 rounds:
//! cargo run --release -p infc-examples --bin threaded_requests -- --plan plan.bin --intra 1 --callers 1,2 --rounds 5
//! ```

use infc::{compile, CompileOptions, Session, SessionOptions};
use infc_examples::{flag, positional, repo_path};
use std::time::Instant;

/// Runs `requests` requests on each of `callers` threads; the elapsed seconds and whether every
/// output equalled `want`.
fn round(
    session: &Session,
    views: &[(infc::InputKey<'_>, infc::TensorView<'_>)],
    want: &[infc::Tensor],
    callers: usize,
    requests: usize,
) -> Result<(f64, bool), infc::RuntimeError> {
    let start = Instant::now();
    let same = std::thread::scope(|s| {
        let handles: Vec<_> = (0..callers)
            .map(|_| {
                s.spawn(|| -> Result<bool, infc::RuntimeError> {
                    let mut same = true;
                    for _ in 0..requests {
                        let got = session.run(views)?;
                        same &= got.iter().zip(want).all(|(g, w)| g.data == w.data);
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
    Ok((start.elapsed().as_secs_f64(), same.iter().all(|&b| b)))
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let requests: usize = flag(&args, "--requests").map_or(Ok(20), |s| s.parse())?;
    let rounds: usize = flag(&args, "--rounds").map_or(Ok(1), |s| s.parse())?;
    let callers: Vec<usize> = flag(&args, "--callers")
        .unwrap_or_else(|| "1,2,4".into())
        .split(',')
        .map(|c| c.parse())
        .collect::<Result<_, _>>()?;
    if rounds == 0 || callers.contains(&0) {
        return Err("--rounds and every --callers count must be at least 1".into());
    }
    let opts = SessionOptions {
        threads: flag(&args, "--intra").map(|s| s.parse()).transpose()?,
        ..SessionOptions::default()
    };
    let session = match flag(&args, "--plan") {
        Some(plan) => Session::load_with(plan, opts)?,
        None => {
            let model = positional(&args)
                .map(Into::into)
                .unwrap_or_else(|| repo_path("models/fixtures/distilbert_ts17/model.onnx"));
            let compile_opts = CompileOptions {
                shapes: vec!["batch=1".into(), "sequence=16".into()],
                ..CompileOptions::default()
            };
            Session::from_bytes_with(&compile(&model, &compile_opts)?.encode(), opts)?
        }
    };
    let inputs = infc::inputs::seeded_inputs(session.plan(), 7)?;
    let views: Vec<_> = inputs.iter().map(|i| i.view()).collect();
    let want = session.run(&views)?;
    println!(
        "{} intra-op thread(s) per run, {requests} requests per caller, {rounds} round(s)",
        session.threads()
    );
    let mut secs = vec![Vec::new(); callers.len()];
    let mut identical = true;
    for _ in 0..rounds {
        for (i, &c) in callers.iter().enumerate() {
            let (s, same) = round(&session, &views, &want, c, requests)?;
            secs[i].push(s);
            identical &= same;
        }
    }
    let base = requests as f64 / median(secs[0].clone());
    for (&c, s) in callers.iter().zip(secs) {
        let throughput = (c * requests) as f64 / median(s);
        println!(
            "{c} thread(s): {:.1} requests/s ({:.2}x {} caller(s)), outputs identical: {identical}",
            throughput,
            throughput / base,
            callers[0]
        );
    }
    if !identical {
        return Err("a caller's outputs differ from the single run".into());
    }
    Ok(())
}
