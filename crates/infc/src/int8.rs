//! INT8 decisions for [`crate::compile`]: the quantization pass's selection minus the excluded
//! layers and, with a budget, minus the layers whose error measured alone exceeds it; the
//! marking pass `mark-int8` then records it on the graph.
//!
//! Per-layer error is measured in isolation, so one layer's number does not include the error of
//! the layers before it: the f32 graph is compiled with every quantized layer's activation inputs
//! and output exposed as extra outputs and run on seeded inputs; then each layer alone is compiled
//! as a one-node INT8 plan, fed the f32 activations, and its output compared with the f32 one:
//! `rel = ‖y_int8 − y_f32‖₂ / ‖y_f32‖₂`. Model-level ([`model_report`]): the f32 and the INT8
//! plans run on the same seeded inputs; cosine similarity of every float output and, for outputs
//! whose last axis has more than one element (logits), the fraction of rows whose arg-max agrees
//! (top-1 agreement). The runs are in `measure`, which counts their memory first: a model whose
//! activations do not fit is an error naming the largest, not an abort.

mod measure;

pub use measure::{model_report, LayerError};

use crate::error::{Error, Result};
use crate::options::Int8Options;
use infc_ir::Graph;
use infc_passes::{select_int8_layers, Int8Marking, Int8Selection};

/// What INT8 compilation decided.
#[derive(Clone, Debug)]
pub struct Int8Decision {
    /// The layers quantized and those kept in f32, each with the reason.
    pub selection: Int8Selection,
    /// Each candidate's error measured alone (with a budget or [`Int8Options::measure`]).
    pub layers: Option<Vec<LayerError>>,
    /// The budget the errors were held to.
    pub budget: Option<f64>,
    /// The seed of the measurements.
    pub seed: u64,
    /// What pass `mark-int8` marked.
    pub marking: Int8Marking,
}

impl Int8Decision {
    /// The layers the budget kept in f32, with their errors.
    pub fn over_budget(&self) -> Vec<&LayerError> {
        match (&self.layers, self.budget) {
            (Some(layers), Some(b)) => layers
                .iter()
                .filter(|e| e.rel > b || e.rel.is_nan())
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Select the layers of the optimised, bound graph `g`, apply the exclusions and the budget.
pub fn decide(g: &Graph, q: &Int8Options) -> Result<Int8Decision> {
    for name in &q.exclude {
        if !g.nodes.iter().any(|n| &n.name == name) {
            let candidates: Vec<String> =
                select_int8_layers(g, &infc_passes::Int8Options::default())
                    .quantize
                    .into_iter()
                    .take(8)
                    .map(|l| l.name)
                    .collect();
            return Err(Error::Options(format!(
                "--int8-exclude '{name}': no node of that name (quantizable layers include {candidates:?})"
            )));
        }
    }
    let mut selection = select_int8_layers(
        g,
        &infc_passes::Int8Options {
            exclude: q.exclude.clone(),
        },
    );
    let layers = if q.measure || q.budget.is_some() {
        Some(measure::layer_errors(g, &selection, q.per_row, q.seed)?)
    } else {
        None
    };
    let mut decision = Int8Decision {
        selection: Int8Selection::default(),
        layers,
        budget: q.budget,
        seed: q.seed,
        marking: Int8Marking::default(),
    };
    if let Some(budget) = q.budget {
        let over: Vec<String> = decision
            .over_budget()
            .iter()
            .map(|e| e.name.clone())
            .collect();
        selection.keep_f32(&over, &format!("error above --int8-budget {budget}"));
    }
    let mut exclude = q.exclude.clone();
    exclude.extend(selection.kept.iter().map(|(l, _)| l.name.clone()));
    decision.marking = Int8Marking {
        exclude,
        per_row: q.per_row,
        bf16_attention: q.bf16_attention,
    };
    decision.selection = selection;
    Ok(decision)
}

/// `g` with the INT8 passes' marks taken back (precision f32, absorbed LayerNorms their own
/// steps): the f32 graph an INT8 plan is compared with.
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
