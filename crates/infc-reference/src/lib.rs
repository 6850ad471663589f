//! Naive, obviously-correct interpreter over infc IR: the oracle every optimised path is checked
//! against, and the evaluator constant folding calls.
//!
//! - [`eval_op`] evaluates one [`infc_ir::Op`] on concrete [`infc_ir::Tensor`]s; output shapes come
//!   from the inputs alone, never from shape inference.
//! - [`run_graph`] runs a whole [`infc_ir::Graph`]: validates the inputs against the graph's declared
//!   types (symbolic dims bind consistently), evaluates nodes in order, and frees each intermediate
//!   after its last use so a full-size GPT-2 runs without holding every activation.
//!
//! Precision: float math is f32 in, f32 out; anything that accumulates (MatMul, Gemm, Conv, pooling,
//! reductions, normalisations, Softmax) accumulates in f64, and transcendental functions are
//! evaluated in f64, so each result is rounded once. f16 is computed as f32 and rounded back.
//! Integer math is exact with two's complement wrap. Each op family's file documents its choices.
//!
//! Code map: `eval.rs` (dispatch), `run.rs` (graph execution), one file per op family
//! (`elementwise`, `cast`, `conv`, `pool`, `matmul`, `norm`, `reduce`, `shape_ops`, `gather`,
//! `generate`, `scan` (CumSum), and `fused` for ops made by passes), helpers (`access` tensor I/O, `broadcast` strided walks, `num` numeric types,
//! `window` conv/pool geometry, `erf`).

mod access;
mod broadcast;
mod cast;
mod conv;
mod elementwise;
mod erf;
mod error;
mod eval;
mod fused;
mod gather;
mod generate;
mod matmul;
mod nchwc;
mod norm;
mod num;
mod pool;
mod reduce;
mod run;
mod scan;
mod shape_ops;
mod window;

#[cfg(test)]
mod testutil;

pub use erf::erf;
pub use error::RefError;
pub use eval::eval_op;
pub use run::{run_graph, run_graph_with_stats, InputKey, RunStats};
