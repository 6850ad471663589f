//! `infc-tract-bench`: benchmark one ONNX model with tract-onnx for bench/compare.py. Loads the model,
//! fixes every input fact from the given arrays, optimises, runs warmup + timed iterations and prints the
//! same JSON object as `infc run --bench --json`. tract runs single-threaded.

mod args;
mod npy;
mod stats;

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use tract_onnx::prelude::*;

use crate::args::{Args, Parsed};
use crate::stats::Report;

/// Load `model`, fix input facts from `given` (by graph input name) and optimise.
/// Returns the runnable model and the inputs in graph order.
fn load(
    model: &Path,
    given: &[(String, Tensor)],
) -> Result<(Arc<TypedRunnableModel>, TVec<TValue>)> {
    let mut inference = tract_onnx::onnx()
        .model_for_path(model)
        .with_context(|| format!("tract could not load {}", model.display()))?;
    let names: Vec<String> = inference
        .input_outlets()?
        .iter()
        .map(|o| inference.node(o.node).name.clone())
        .collect();
    for (name, _) in given {
        if !names.contains(name) {
            bail!(
                "--input {name}: the model has no such input (inputs: {})",
                names.join(", ")
            );
        }
    }
    let mut ordered = TVec::new();
    for (ix, name) in names.iter().enumerate() {
        let tensor = given
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
            .with_context(|| format!("model input {name} has no --input {name}=FILE.npy"))?;
        let fact = InferenceFact::dt_shape(tensor.datum_type(), tensor.shape());
        inference = inference
            .with_input_fact(ix, fact)
            .with_context(|| format!("setting the fact of input {name}"))?;
        ordered.push(tensor.into_tvalue());
    }
    let plan = inference
        .into_optimized()
        .context("tract could not optimise the model")?
        .into_runnable()
        .context("tract could not make the model runnable")?;
    Ok((plan, ordered))
}

fn bench(args: &Args) -> Result<Report> {
    let given: Vec<(String, Tensor)> = args
        .inputs
        .iter()
        .map(|(name, path)| {
            Ok((
                name.clone(),
                npy::read_tensor(path).with_context(|| format!("--input {name}"))?,
            ))
        })
        .collect::<Result<_>>()?;
    let batch = given
        .first()
        .and_then(|(_, t)| t.shape().first().copied())
        .unwrap_or(1);

    let start = Instant::now();
    let (plan, inputs) = load(&args.model, &given)?;
    // One state reused across iterations, as a serving loop would (plan.run() would spawn one per call).
    let mut state = plan
        .spawn()
        .context("tract could not create an execution state")?;
    let load_ms = start.elapsed().as_secs_f64() * 1e3;

    for i in 0..args.warmup {
        state
            .run(inputs.clone())
            .with_context(|| format!("tract failed in warmup iteration {i}"))?;
    }
    let mut latencies = Vec::with_capacity(args.iters);
    for i in 0..args.iters {
        let t0 = Instant::now();
        let out = state
            .run(inputs.clone())
            .with_context(|| format!("tract failed in iteration {i}"))?;
        latencies.push(t0.elapsed());
        drop(out);
    }
    Ok(Report {
        summary: stats::summarise(&latencies, batch)?,
        peak_rss_bytes: stats::peak_rss_bytes(),
        load_ms,
        iters: args.iters,
        warmup: args.warmup,
        batch,
    })
}

fn run() -> Result<()> {
    let args = match args::parse(std::env::args().skip(1))? {
        Parsed::Help => {
            println!("{}", args::USAGE);
            return Ok(());
        }
        Parsed::Run(args) => args,
    };
    let report = bench(&args)?;
    if args.json {
        println!("{}", report.to_json());
    } else {
        println!("{}", report.to_text());
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line with the whole cause chain; no backtrace even when RUST_BACKTRACE is set.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
