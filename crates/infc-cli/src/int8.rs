//! `infc compile --int8`: the quantization pass's selection (minus `--int8-exclude`), the
//! per-layer accuracy report (`--report`) and the error budget (`--int8-budget X`).
//!
//! Per-layer error is measured in isolation, so one layer's number does not include the error of
//! the layers before it: the f32 graph is compiled with every quantized layer's activation inputs
//! and output exposed as extra outputs and run on seeded inputs; then each layer alone is compiled
//! as a one-node INT8 plan, fed the f32 activations, and its output compared with the f32 one:
//! `rel = ‖y_int8 − y_f32‖₂ / ‖y_f32‖₂`. Model-level: the f32 and the INT8 plans run on the same
//! seeded inputs; cosine similarity of every float output and, for outputs whose last axis has
//! more than one element (logits), the fraction of rows whose arg-max agrees (top-1 agreement).
//! The runs are in [`measure`], which counts their memory first: a model whose activations do not
//! fit is an error naming the largest, not an abort.

mod measure;

pub use measure::model_report;

use crate::cli::Int8Args;
use anyhow::Result;
use infc_ir::Graph;
use infc_passes::{select_int8_layers, Int8Kind, Int8Marking, Int8Options};

/// What `compile --int8` was asked for.
pub struct Int8Request {
    pub exclude: Vec<String>,
    pub budget: Option<f64>,
    pub report: bool,
    pub per_row: bool,
    /// Attention GEMMs on bf16 inputs (where the CPU has AVX512-BF16).
    pub bf16_attention: bool,
    pub seed: u64,
}

/// Error unless `--int8-budget` is a usable relative error.
pub fn check_budget(args: &Int8Args) -> Result<()> {
    if let Some(b) = args.int8_budget {
        // NaN compares false with every error: it would keep nothing in f32, silently.
        if !(b.is_finite() && b >= 0.0) {
            anyhow::bail!("--int8-budget {b}: not a relative error; give a finite number >= 0, e.g. 0.05 (layers whose error exceeds it stay in f32)");
        }
    }
    Ok(())
}

/// `g` with the INT8 passes' marks taken back (precision f32, absorbed LayerNorms their own
/// steps): the f32 plan an INT8 one is compared with.
pub fn without_marks(g: &Graph) -> Graph {
    let mut f = g.clone();
    for node in &mut f.nodes {
        node.precision = infc_ir::Precision::F32;
        if node.realize == infc_ir::Realize::InReader {
            node.realize = infc_ir::Realize::Step;
        }
    }
    f
}

impl Int8Request {
    /// What `--int8` and its options ask for (`None` without `--int8`).
    pub fn from_args(args: &Int8Args, report: bool) -> Option<Int8Request> {
        args.int8.then(|| Int8Request {
            exclude: args.int8_exclude.clone(),
            budget: args.int8_budget,
            report,
            per_row: !args.int8_per_tensor,
            bf16_attention: !args.int8_f32_attention,
            seed: args.seed,
        })
    }
}

/// Select the layers, apply `--int8-exclude` and `--int8-budget`, print the report when asked,
/// and return what pass `mark-int8` is to mark.
pub fn marking(g: &Graph, req: &Int8Request) -> Result<Int8Marking> {
    for name in &req.exclude {
        if !g.nodes.iter().any(|n| &n.name == name) {
            let candidates: Vec<String> = select_int8_layers(g, &Int8Options::default())
                .quantize
                .into_iter()
                .take(8)
                .map(|l| l.name)
                .collect();
            anyhow::bail!(
                "--int8-exclude '{name}': no node of that name (quantizable layers include {candidates:?})"
            );
        }
    }
    let mut sel = select_int8_layers(
        g,
        &Int8Options {
            exclude: req.exclude.clone(),
        },
    );
    let errors = if req.report || req.budget.is_some() {
        Some(measure::layer_errors(g, &sel, req.per_row, req.seed)?)
    } else {
        None
    };
    if let (Some(errs), Some(budget)) = (&errors, req.budget) {
        let over: Vec<String> = errs
            .iter()
            .filter(|e| e.rel > budget || e.rel.is_nan())
            .map(|e| e.name.clone())
            .collect();
        for e in errs.iter().filter(|e| over.contains(&e.name)) {
            eprintln!(
                "int8 budget: keeping '{}' in f32 (error {:.4} > {budget})",
                e.name, e.rel
            );
        }
        sel.keep_f32(&over, &format!("error above --int8-budget {budget}"));
    }
    if let Some(errs) = &errors {
        if req.report {
            println!(
                "int8 layer report (relative L2 error of each layer alone vs f32, seed {}):",
                req.seed
            );
            for e in errs {
                let state = if sel.quantize.iter().any(|l| l.name == e.name) {
                    "int8"
                } else {
                    "f32 "
                };
                let kind = match e.kind {
                    Int8Kind::MatMul => "matmul",
                    Int8Kind::Conv => "conv",
                };
                println!(
                    "  {state} {kind:6} {:>12} MACs  rel err {:.5}  {}",
                    e.macs, e.rel, e.name
                );
            }
        }
    }
    if req.report {
        for (l, why) in &sel.kept {
            println!("  f32  {}: {why}", l.name);
        }
        println!(
            "{} layers int8, {} kept f32",
            sel.quantize.len(),
            sel.kept.len()
        );
    }
    let mut exclude = req.exclude.clone();
    exclude.extend(sel.kept.into_iter().map(|(l, _)| l.name));
    Ok(Int8Marking {
        exclude,
        per_row: req.per_row,
        bf16_attention: req.bf16_attention,
    })
}
