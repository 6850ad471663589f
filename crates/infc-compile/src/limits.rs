//! What a plan cannot hold, checked on the graph before lowering so that a model's fault is an
//! error naming the model's value, output or buffers, not an "internal error" from the validator
//! that checks the lowered plan (which is left to catch lowering bugs): every shape known and its
//! byte size countable; no value larger than a plan's arena may be ([`MAX_ARENA_BYTES`]); graph
//! inputs and outputs within the plan's I/O rank ([`MAX_IO_RANK`]); no graph output listed twice;
//! and, after memory planning, the arena within [`MAX_ARENA_BYTES`].

use crate::analysis::Analysis;
use crate::CompileError;
use infc_ir::{Dim, Graph, ValueId};
use infc_plan::{element_count, MAX_ARENA_BYTES, MAX_ELEMENTS, MAX_IO_RANK};
use std::collections::HashSet;

/// The type of `v` is known and its bytes fit a plan's arena: the message, if not.
fn type_fault(g: &Graph, v: ValueId) -> Option<Result<String, CompileError>> {
    let val = g.value(v);
    if let Some(Dim::Sym(s)) = val.ty.shape.dims().iter().find(|d| !d.is_known()) {
        return Some(Err(CompileError::Symbolic {
            value: val.name.clone(),
            dim: s.to_string(),
            ty: val.ty.to_string(),
        }));
    }
    match val.ty.byte_size() {
        None => Some(Ok(format!(
            "value '{}' of type {} is too large (its byte size overflows)",
            val.name, val.ty
        ))),
        Some(b) if b as u64 > MAX_ARENA_BYTES => Some(Ok(format!(
            "value '{}' of type {} needs {b} bytes, more than a plan's arena may hold \
             ({MAX_ARENA_BYTES} bytes)",
            val.name, val.ty
        ))),
        Some(_) => {
            // A zero dim makes the byte size 0 but does not make the others fit a plan: the
            // validator counts the non-zero dims too ([`element_count`]).
            let dims: Vec<u64> = val
                .ty
                .shape
                .dims()
                .iter()
                .map(|d| d.known().unwrap_or(0) as u64)
                .collect();
            element_count(&dims).is_none().then(|| {
                Ok(format!(
                    "value '{}' of type {} has dims whose product (zero dims aside) exceeds                      {MAX_ELEMENTS} elements, more than a plan may hold",
                    val.name, val.ty
                ))
            })
        }
    }
}

/// Every value a plan touches has a fully known shape whose bytes fit a plan's arena (a node's
/// output is reported with the node); graph inputs and outputs have a rank the plan format takes,
/// and no output is listed twice.
pub(crate) fn check_graph(g: &Graph) -> Result<(), CompileError> {
    for (what, list) in [("input", &g.inputs), ("output", &g.outputs)] {
        for &v in list {
            let rank = g.ty(v).shape.rank();
            if rank > MAX_IO_RANK {
                return Err(CompileError::Graph(format!(
                    "{what} '{}' has rank {rank}; plan inputs and outputs may have at most \
                     {MAX_IO_RANK} dimensions",
                    g.value(v).name
                )));
            }
        }
    }
    for &v in &g.inputs {
        if let Some(fault) = type_fault(g, v) {
            return Err(CompileError::Graph(fault?));
        }
    }
    // Node inputs are graph inputs, constants (always sized) or earlier nodes' outputs.
    for n in &g.nodes {
        for &v in &n.outputs {
            if let Some(fault) = type_fault(g, v) {
                return Err(CompileError::Unsupported {
                    node: n.name.clone(),
                    op: n.op.name(),
                    msg: fault?,
                });
            }
        }
    }
    let mut names = HashSet::with_capacity(g.outputs.len());
    for &v in &g.outputs {
        if let Some(fault) = type_fault(g, v) {
            return Err(CompileError::Graph(fault?)); // an output that is a constant
        }
        let name = &g.value(v).name;
        if !names.insert(name.as_str()) {
            return Err(CompileError::Graph(format!(
                "output '{name}' is listed more than once among the graph outputs"
            )));
        }
    }
    Ok(())
}

/// The planned arena fits a plan; else an error naming the largest buffers.
pub(crate) fn check_arena(an: &Analysis) -> Result<(), CompileError> {
    let arena = an.assignment.arena_bytes;
    if arena <= MAX_ARENA_BYTES {
        return Ok(());
    }
    let mut largest: Vec<(&str, u64)> = an
        .buffers
        .iter()
        .map(|(name, it, _)| (name.as_str(), it.size))
        .collect();
    largest.sort_unstable_by_key(|&(_, size)| std::cmp::Reverse(size));
    let named: Vec<String> = largest
        .iter()
        .take(3)
        .map(|(name, size)| format!("'{name}' {size} bytes"))
        .collect();
    Err(CompileError::Graph(format!(
        "the arena needs {arena} bytes, more than a plan may hold ({MAX_ARENA_BYTES} bytes); \
         largest buffers: {}",
        named.join(", ")
    )))
}
