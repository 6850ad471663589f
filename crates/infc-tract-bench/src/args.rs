//! Command-line arguments of `infc-tract-bench`: the model path, `--input NAME=FILE.npy` pairs and the
//! timing options. Hand-parsed (no clap) to keep the crate's dependencies to tract-onnx, anyhow, serde_json, npyz.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

pub const USAGE: &str = "usage: infc-tract-bench MODEL.onnx [--input NAME=FILE.npy]... [--warmup N] [--iters N] [--json]

Loads MODEL.onnx with tract-onnx, fixes every input's shape and dtype from its .npy file, optimises,
runs WARMUP untimed and ITERS timed iterations and prints P50/P99/mean latency, throughput, peak RSS
and load time (one JSON object with --json). tract runs single-threaded.";

/// Parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub model: PathBuf,
    /// `(input name, .npy path)` in the order given.
    pub inputs: Vec<(String, PathBuf)>,
    pub warmup: usize,
    pub iters: usize,
    pub json: bool,
}

/// Outcome of parsing: either arguments to run with, or a request for the usage text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Run(Args),
    Help,
}

fn count(flag: &str, value: Option<String>) -> Result<usize> {
    let value = value.with_context(|| format!("{flag} needs a value"))?;
    value
        .parse::<usize>()
        .with_context(|| format!("{flag}: {value:?} is not a non-negative integer"))
}

/// Parse the arguments after the program name.
pub fn parse(argv: impl IntoIterator<Item = String>) -> Result<Parsed> {
    let mut argv = argv.into_iter();
    let mut model = None;
    let mut inputs = Vec::new();
    let (mut warmup, mut iters, mut json) = (10usize, 100usize, false);
    while let Some(arg) = argv.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--json" => json = true,
            "--warmup" => warmup = count("--warmup", argv.next())?,
            "--iters" => iters = count("--iters", argv.next())?,
            "--input" => {
                let spec = argv.next().context("--input needs NAME=FILE.npy")?;
                let (name, file) = spec
                    .split_once('=')
                    .filter(|(n, f)| !n.is_empty() && !f.is_empty())
                    .with_context(|| format!("--input {spec:?}: expected NAME=FILE.npy"))?;
                if inputs.iter().any(|(n, _)| n == name) {
                    bail!("--input {name} given twice");
                }
                inputs.push((name.to_string(), PathBuf::from(file)));
            }
            flag if flag.starts_with('-') => bail!("unknown option {flag}\n\n{USAGE}"),
            path => {
                if model.replace(PathBuf::from(path)).is_some() {
                    bail!("more than one model path given ({path})");
                }
            }
        }
    }
    let model = model.with_context(|| format!("no model path given\n\n{USAGE}"))?;
    if iters == 0 {
        bail!("--iters must be at least 1");
    }
    Ok(Parsed::Run(Args {
        model,
        inputs,
        warmup,
        iters,
        json,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Parsed> {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_every_option() {
        let got = run(&[
            "m.onnx",
            "--input",
            "ids=a.npy",
            "--input",
            "mask=b.npy",
            "--warmup",
            "3",
            "--iters",
            "7",
            "--json",
        ])
        .unwrap();
        let want = Args {
            model: "m.onnx".into(),
            inputs: vec![
                ("ids".into(), "a.npy".into()),
                ("mask".into(), "b.npy".into()),
            ],
            warmup: 3,
            iters: 7,
            json: true,
        };
        assert_eq!(got, Parsed::Run(want));
    }

    #[test]
    fn rejects_bad_arguments() {
        for bad in [
            &["m.onnx", "--input", "noequals"][..],
            &["m.onnx", "--input", "=x.npy"],
            &["m.onnx", "--iters", "zero"],
            &["m.onnx", "--iters", "0"],
            &["m.onnx", "--warmup"],
            &["m.onnx", "--frobnicate"],
            &["a.onnx", "b.onnx"],
            &["--json"],
            &["m.onnx", "--input", "x=a.npy", "--input", "x=b.npy"],
        ] {
            assert!(run(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn help_is_recognised() {
        assert_eq!(run(&["--help"]).unwrap(), Parsed::Help);
    }
}
