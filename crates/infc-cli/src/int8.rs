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

use crate::run_inputs::{prepare_inputs, RunInput};
use anyhow::{anyhow, Context, Result};
use infc_compile::{compile, CompileOptions, Int8Lowering, Plan};
use infc_ir::{Graph, ValueId};
use infc_passes::{select_int8_layers, Int8Kind, Int8Options, Int8Selection};
use infc_runtime::{DType, Session, Tensor};

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

fn run(plan: &Plan, inputs: &[RunInput]) -> Result<Vec<Tensor>> {
    let session = Session::from_bytes(&plan.encode()).context("loading the plan")?;
    let views: Vec<_> = inputs.iter().map(|i| i.view()).collect();
    Ok(session.run(&views)?)
}

fn f32s(t: &Tensor) -> Option<Vec<f32>> {
    (t.dtype == DType::F32).then(|| {
        t.data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    })
}

/// `‖a − b‖ / ‖b‖`.
fn rel_error(a: &[f32], b: &[f32]) -> f64 {
    let (mut d, mut n) = (0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        d += (x as f64 - y as f64).powi(2);
        n += (y as f64).powi(2);
    }
    if n == 0.0 {
        d.sqrt()
    } else {
        (d / n).sqrt()
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        dot += x as f64 * y as f64;
        na += (x as f64).powi(2);
        nb += (y as f64).powi(2);
    }
    if na == 0.0 && nb == 0.0 {
        1.0
    } else {
        dot / (na.sqrt() * nb.sqrt()).max(f64::MIN_POSITIVE)
    }
}

fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// One layer's isolated error.
pub struct LayerError {
    pub name: String,
    pub kind: Int8Kind,
    pub macs: u64,
    pub rel: f64,
}

/// A graph holding only node `i` of `g` (constants copied, other inputs as graph inputs).
fn single_node(g: &Graph, i: usize) -> Graph {
    let node = &g.nodes[i];
    let mut s = Graph::new(format!("{}:{}", g.name, node.name));
    let mut inputs = Vec::with_capacity(node.inputs.len());
    for &v in &node.inputs {
        let val = g.value(v);
        let nv = match g.const_of(v) {
            Some(t) => s.add_const(val.name.clone(), t.clone()),
            None => match s.input_by_name(&val.name) {
                Some(existing) => existing,
                None => s.add_input(val.name.clone(), val.ty.clone()),
            },
        };
        inputs.push(nv);
    }
    let outs: Vec<ValueId> = node
        .outputs
        .iter()
        .map(|&o| s.add_value(g.value(o).name.clone(), g.ty(o).clone()))
        .collect();
    s.push_node(node.name.clone(), node.op.clone(), inputs, outs.clone());
    s.outputs = outs;
    s
}

/// Isolated relative error of every layer in `sel` on `seed`ed inputs.
pub fn layer_errors(
    g: &Graph,
    sel: &Int8Selection,
    per_row: bool,
    seed: u64,
) -> Result<Vec<LayerError>> {
    // f32 probe: expose each layer's non-constant inputs and its output.
    let mut probe = g.clone();
    for l in &sel.quantize {
        let node = &g.nodes[l.node];
        for &v in node.inputs.iter().chain(&node.outputs) {
            if !g.is_const(v) && !probe.outputs.contains(&v) {
                probe.outputs.push(v);
            }
        }
    }
    let plan = compile(&probe, &CompileOptions::default()).context("compiling the f32 probe")?;
    let inputs = prepare_inputs(&plan.body, &[], seed)?;
    let outs = run(&plan, &inputs)?;
    let by_name = |name: &str| outs.iter().find(|t| t.name == name);
    let mut errors = Vec::with_capacity(sel.quantize.len());
    for l in &sel.quantize {
        let one = single_node(g, l.node);
        let one_sel = Int8Selection {
            quantize: vec![infc_passes::Int8Layer {
                node: 0,
                ..l.clone()
            }],
            kept: Vec::new(),
        };
        let qplan = compile(&one, &options(&one_sel, per_row, false))
            .with_context(|| format!("compiling layer '{}' alone", l.name))?;
        let layer_inputs: Vec<RunInput> = qplan
            .body
            .inputs
            .iter()
            .map(|d| {
                let t = by_name(&d.name).ok_or_else(|| {
                    anyhow!("layer '{}': no f32 value for input '{}'", l.name, d.name)
                })?;
                Ok(RunInput {
                    name: d.name.clone(),
                    dtype: t.dtype,
                    shape: t.shape.clone(),
                    data: t.data.clone(),
                    origin: "f32 probe".into(),
                })
            })
            .collect::<Result<_>>()?;
        let got = run(&qplan, &layer_inputs)?;
        let out_name = &qplan.body.outputs[0].name;
        let want = by_name(out_name)
            .and_then(f32s)
            .ok_or_else(|| anyhow!("layer '{}': no f32 output '{out_name}'", l.name))?;
        let have = got.first().and_then(f32s).unwrap_or_default();
        errors.push(LayerError {
            name: l.name.clone(),
            kind: l.kind,
            macs: l.macs,
            rel: rel_error(&have, &want),
        });
    }
    Ok(errors)
}

/// Model-level comparison of the INT8 plan with the f32 plan on the same seeded inputs: one line
/// per float output.
pub fn model_report(fp32: &Plan, int8: &Plan, seed: u64) -> Result<Vec<String>> {
    let inputs = prepare_inputs(&fp32.body, &[], seed)?;
    let (want, got) = (run(fp32, &inputs)?, run(int8, &inputs)?);
    let mut lines = Vec::new();
    for (w, g) in want.iter().zip(&got) {
        let (Some(wv), Some(gv)) = (f32s(w), f32s(g)) else {
            continue;
        };
        let mut line = format!("output {}: cosine {:.5}", w.name, cosine(&gv, &wv));
        let last = *w.shape.last().unwrap_or(&1);
        if last > 1 && !wv.is_empty() {
            let rows = wv.len() / last;
            let agree = wv
                .chunks_exact(last)
                .zip(gv.chunks_exact(last))
                .filter(|(a, b)| argmax(a) == argmax(b))
                .count();
            line += &format!(
                ", top-1 agreement {agree}/{rows} ({:.1}%)",
                100.0 * agree as f64 / rows as f64
            );
        }
        lines.push(line);
    }
    Ok(lines)
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
        Some(layer_errors(g, &sel, req.per_row, req.seed)?)
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
