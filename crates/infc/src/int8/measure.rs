//! The runs behind `compile --int8 --report` and `--int8-budget`: the f32 probe (the graph with
//! every quantized layer's activations exposed as outputs), each layer alone as a one-node INT8
//! plan fed the probe's activations, and the whole f32 and INT8 plans side by side.
//!
//! Everything these runs hold is sized by the model, so the bytes are counted before anything is
//! allocated: each run's arena, plan copy, inputs and owned outputs, beside what earlier runs'
//! outputs still hold, against physical memory; an error names the run, the bytes and the largest
//! tensor. The runs copy nothing else: a layer's inputs are views of the probe's outputs, its
//! output and the INT8 plan's outputs are compared as views of the session's arena.

use crate::error::{Error, Result};
use crate::inputs::{seeded_inputs, InputData};
use infc_compile::{compile, CompileOptions, Plan};
use infc_ir::{Graph, ValueId};
use infc_passes::{Int8Kind, Int8Marking, Int8Selection};
use infc_plan::IoDesc;
use infc_runtime::{DType, InputKey, Session, Tensor, TensorView};

/// One layer's isolated error.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerError {
    /// The layer's node name.
    pub name: String,
    /// Matmul or conv.
    pub kind: Int8Kind,
    /// Multiply-adds of one run.
    pub macs: u64,
    /// `‖y_int8 − y_f32‖₂ / ‖y_f32‖₂` on seeded inputs.
    pub rel: f64,
}

fn io_bytes(d: &IoDesc) -> u64 {
    d.byte_len().unwrap_or(u64::MAX)
}

/// Memory the measurement runs may use, and what earlier runs' outputs hold.
struct Memory {
    limit: u64,
    held: u64,
}

impl Memory {
    fn new() -> Memory {
        Memory {
            limit: infc_runtime::physical_memory().unwrap_or(u64::MAX),
            held: 0,
        }
    }

    /// Check that running `plan` fits beside what is held: its arena, its copy in the session,
    /// its `inputs` (generated) and `outputs` (owned by the caller after the run) as asked.
    fn check(&self, what: &str, plan: &Plan, inputs: bool, outputs: bool) -> Result<()> {
        let body = &plan.body;
        let mut tensors: Vec<(&str, u64)> = Vec::new();
        if inputs {
            tensors.extend(body.inputs.iter().map(|d| (d.name.as_str(), io_bytes(d))));
        }
        if outputs {
            tensors.extend(body.outputs.iter().map(|d| (d.name.as_str(), io_bytes(d))));
        }
        // The encoded plan and the session's aligned copy of it (steps: a generous MiB).
        let plan_copy = (plan.consts.len() as u64)
            .saturating_add(1 << 20)
            .saturating_mul(2);
        let need = tensors
            .iter()
            .fold(body.memory.arena_bytes, |t, (_, b)| t.saturating_add(*b))
            .saturating_add(plan_copy);
        if self.held.saturating_add(need) <= self.limit {
            return Ok(());
        }
        // The arena holds every activation, so the largest tensor of the plan names the fault.
        let largest = body
            .inputs
            .iter()
            .chain(&body.outputs)
            .max_by_key(|d| io_bytes(d))
            .map(|d| {
                format!(
                    "; its largest tensor is '{}' ({} bytes)",
                    d.name,
                    io_bytes(d)
                )
            })
            .unwrap_or_default();
        let beside = match self.held {
            0 => String::new(),
            h => format!(" beside the {h} bytes the f32 activations already hold"),
        };
        Err(Error::Measure(format!(
            "{what} needs {need} bytes (arena {} and {} inputs/outputs){beside}, more than \
             physical memory ({} bytes){largest}",
            body.memory.arena_bytes,
            tensors.len(),
            self.limit
        )))
    }

    fn hold(&mut self, tensors: &[Tensor]) {
        let bytes = tensors.iter().map(|t| t.data.len() as u64).sum::<u64>();
        self.held = self.held.saturating_add(bytes);
    }
}

fn session(plan: &Plan) -> Result<Session> {
    Ok(Session::from_bytes(&plan.encode())?)
}

/// `Error::Measure` saying what failed: `what`, then the cause.
fn failed(what: impl std::fmt::Display) -> impl FnOnce(infc_runtime::RuntimeError) -> Error {
    move |e| Error::Measure(format!("{what}: {e}"))
}

fn views(inputs: &[InputData]) -> Vec<(InputKey<'_>, TensorView<'_>)> {
    inputs.iter().map(|i| i.view()).collect()
}

/// The f32 values of little-endian bytes.
fn f32s(data: &[u8]) -> impl Iterator<Item = f32> + '_ {
    data.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

/// `‖a − b‖ / ‖b‖`.
fn rel_error(a: &[u8], b: &[u8]) -> f64 {
    let (mut d, mut n) = (0f64, 0f64);
    for (x, y) in f32s(a).zip(f32s(b)) {
        d += (x as f64 - y as f64).powi(2);
        n += (y as f64).powi(2);
    }
    if n == 0.0 {
        d.sqrt()
    } else {
        (d / n).sqrt()
    }
}

fn cosine(a: &[u8], b: &[u8]) -> f64 {
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (x, y) in f32s(a).zip(f32s(b)) {
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

fn argmax(row: &[u8]) -> usize {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, v) in f32s(row).enumerate() {
        if i == 0 || v > best.1 {
            best = (i, v);
        }
    }
    best.0
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
pub(crate) fn layer_errors(
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
    let plan = compile(&probe, &CompileOptions::default())
        .map_err(|e| Error::compile("the f32 probe", e))?;
    let mut mem = Memory::new();
    mem.check(
        "--report/--int8-budget: running the f32 graph to measure each layer's error",
        &plan,
        true,
        true,
    )?;
    let inputs = seeded_inputs(&plan.body, seed)?;
    let outs = session(&plan)?.run(&views(&inputs)).map_err(failed(
        "running the f32 graph with the layers' activations exposed",
    ))?;
    drop(inputs);
    mem.hold(&outs);
    let by_name = |name: &str| outs.iter().find(|t| t.name == name);
    let mut errors = Vec::with_capacity(sel.quantize.len());
    for l in &sel.quantize {
        let mut one = single_node(g, l.node);
        let marking = Int8Marking {
            per_row,
            ..Int8Marking::default()
        };
        one.nodes[0].precision = marking.precision(l.kind);
        let qplan = compile(&one, &CompileOptions::default())
            .map_err(|e| Error::compile(format!("layer '{}' alone", l.name), e))?;
        let what = format!("--report/--int8-budget: running layer '{}' alone", l.name);
        mem.check(&what, &qplan, false, false)?;
        let layer_inputs = qplan
            .body
            .inputs
            .iter()
            .map(|d| {
                let t = by_name(&d.name).ok_or_else(|| {
                    Error::Measure(format!(
                        "layer '{}': no f32 value for input '{}'",
                        l.name, d.name
                    ))
                })?;
                Ok((
                    InputKey::Name(&d.name),
                    TensorView::new(t.dtype, &t.shape, &t.data),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let out_name = &qplan.body.outputs[0].name;
        let want = by_name(out_name)
            .filter(|t| t.dtype == DType::F32)
            .ok_or_else(|| {
                Error::Measure(format!("layer '{}': no f32 output '{out_name}'", l.name))
            })?;
        let rel = session(&qplan)?
            .run_with(&layer_inputs, |got| match got.first() {
                Some(v) if v.dtype == DType::F32 => rel_error(v.data, &want.data),
                _ => rel_error(&[], &want.data),
            })
            .map_err(failed(format!("running layer '{}' alone", l.name)))?;
        errors.push(LayerError {
            name: l.name.clone(),
            kind: l.kind,
            macs: l.macs,
            rel,
        });
    }
    Ok(errors)
}

/// One report line for an f32 output `w` and its INT8 counterpart `g`.
fn output_line(w: &Tensor, g: &TensorView<'_>) -> String {
    let mut line = format!("output {}: cosine {:.5}", w.name, cosine(g.data, &w.data));
    let last = *w.shape.last().unwrap_or(&1);
    if last > 1 && !w.data.is_empty() {
        let rows = w.data.len() / 4 / last;
        let agree = w
            .data
            .chunks_exact(4 * last)
            .zip(g.data.chunks_exact(4 * last))
            .filter(|(a, b)| argmax(a) == argmax(b))
            .count();
        line += &format!(
            ", top-1 agreement {agree}/{rows} ({:.1}%)",
            100.0 * agree as f64 / rows as f64
        );
    }
    line
}

/// Model-level comparison of the INT8 plan with the f32 plan on the same seeded inputs: one line
/// per float output.
pub fn model_report(fp32: &Plan, int8: &Plan, seed: u64) -> Result<Vec<String>> {
    let mut mem = Memory::new();
    mem.check(
        "--report: running the f32 plan to compare with",
        fp32,
        true,
        true,
    )?;
    let inputs = seeded_inputs(&fp32.body, seed)?;
    mem.held = fp32.body.inputs.iter().map(io_bytes).sum();
    let want = session(fp32)?
        .run(&views(&inputs))
        .map_err(failed("running the f32 plan to compare with"))?;
    mem.hold(&want);
    mem.check("--report: running the INT8 plan", int8, false, false)?;
    session(int8)?
        .run_with(&views(&inputs), |got| {
            want.iter()
                .zip(got)
                .filter(|(w, g)| w.dtype == DType::F32 && g.dtype == DType::F32)
                .map(|(w, g)| output_line(w, g))
                .collect()
        })
        .map_err(failed("running the INT8 plan"))
}
