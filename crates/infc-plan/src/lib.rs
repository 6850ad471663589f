//! infc's plan file format: a versioned, checksummed binary holding the lowered step list, graph
//! I/O descriptors, the static memory plan and a 64-byte aligned constants blob (prepacked weights).
//!
//! [`Plan::encode`] writes it; [`decode`] / [`decode_borrowed`] read it back and validate every
//! offset, length, dtype code and shape relation, so a truncated, corrupted or hostile file yields a
//! [`PlanError`] naming what is wrong — never a panic or an out-of-bounds access later.

mod describe;
mod error;
mod format;
pub mod memory;
mod shape_arena;
mod step;
mod symbols;
mod types;
mod validate;
mod window;
mod wire;

pub use describe::{Describe, Extent, TensorDesc, Tensors, Use};
pub use error::PlanError;
pub use format::{
    checksum, decode, decode_borrowed, rewrite_checksum, section, DecodeOptions, Plan, PlanBody,
    FORMAT_MAJOR, FORMAT_MINOR, MAGIC,
};
pub use shape_arena::{check_confined, ArenaBuffer, PlannedArena, Rebase, ShapeArena};
pub use step::*;
pub use symbols::{
    numeric_fields, numeric_values, skeleton, DimExpr, Patch, PatchTarget, RangeTable, Symbol,
    Term, MAX_EXPONENT, MAX_SYMBOLS, MAX_TERMS, UNBOUNDED,
};
pub use types::{cpu_features, DType, IoDesc, MemoryEntry, MemoryPlan, Region, TensorRef};
pub use validate::{
    contiguous_strides, element_count, step_accesses, validate, Access, MAX_ARENA_BYTES,
    MAX_ELEMENTS, MAX_IO_RANK, MAX_RANK,
};
pub use window::Window2d;
pub use wire::Wire;
