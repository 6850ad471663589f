//! infc's intermediate representation.
//!
//! A [`Graph`] holds typed SSA [`Value`]s in an [`Arena`], shared constant [`Tensor`]s, and [`Node`]s in
//! def-before-use order. [`Op`] is a closed enum. The crate also owns the text format (printer and
//! parser), the verifier and per-op type/shape inference, so every pass can re-derive types.

mod arena;
mod dtype;
mod error;
mod graph;
pub mod infer;
pub mod marks;
mod op;
mod shape;
mod tensor;
pub mod text;
mod verify;

pub use arena::{Arena, Idx, SecondaryMap};
pub use dtype::DType;
pub use error::IrError;
pub use graph::{Const, ConstId, Graph, Node, NodeIndex, Value, ValueId};
pub use infer::{infer_graph, infer_node, infer_node_named};
pub use marks::{Precision, Realize};
pub use op::{
    Arity, AttentionMasking, BinaryOp, ConvAttrs, Epilogue, Float, Op, PoolAttrs, ReduceOp, UnaryOp,
};
pub use shape::{Dim, Shape, TensorType};
pub use tensor::{Bytes, Element, Tensor, TensorData};
pub use text::{parse_graph, print_graph, to_dot, to_json};
pub use verify::verify;
