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

use anyhow::Result;
use infc_compile::{CompileOptions, Int8Lowering};
use infc_ir::Graph;
use infc_passes::{select_int8_layers, Int8Kind, Int8Options, Int8Selection};

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

/// Compile options quantizing `sel`.
pub fn options(sel: &Int8Selection, per_row: bool, bf16_attention: bool) -> CompileOptions {
    CompileOptions {
        int8: Some(Int8Lowering {
            nodes: sel.nodes(),
            per_row,
            bf16_attention,
        }),
        ..CompileOptions::default()
    }
}

/// Select the layers, apply `--int8-exclude` and `--int8-budget`, print the report when asked,
/// and return the compile options for the final plan.
pub fn plan_options(g: &Graph, req: &Int8Request) -> Result<CompileOptions> {
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
    Ok(options(&sel, req.per_row, req.bf16_attention))
}
