//! Ops the importer accepts (the reference interpreter evaluates them, so constant folding can
//! remove them) but that have no kernel: GatherElements, Mod and FMod. They must fold away once
//! the shapes are bound. Before lowering, every one left is listed in one error, with why it is
//! still data-dependent: the graph inputs its operands are computed from.

use crate::error::CompileError;
use infc_ir::{BinaryOp, Graph, Op};

/// How many graph inputs one operand's dependencies name at most (the sweep stays linear).
const MAX_NAMED: usize = 4;
/// How many nodes the error lists at most.
const MAX_LISTED: usize = 10;

fn has_no_kernel(op: &Op) -> bool {
    matches!(
        op,
        Op::GatherElements { .. } | Op::Binary(BinaryOp::Mod | BinaryOp::FMod)
    )
}

/// Error unless no node of `g` is an op without a kernel (see the module docs).
pub(crate) fn check(g: &Graph) -> Result<(), CompileError> {
    if !g.nodes.iter().any(|n| has_no_kernel(&n.op)) {
        return Ok(());
    }
    // The graph inputs each value is computed from (the first MAX_NAMED, by input position).
    let mut deps: Vec<Vec<u32>> = vec![Vec::new(); g.values.len()];
    for (k, &v) in g.inputs.iter().enumerate() {
        deps[v.index()] = vec![k as u32];
    }
    let mut left = Vec::new();
    for n in &g.nodes {
        let mut union: Vec<u32> = Vec::new();
        for &i in &n.inputs {
            union.extend_from_slice(&deps[i.index()]);
        }
        union.sort_unstable();
        union.dedup();
        union.truncate(MAX_NAMED);
        if has_no_kernel(&n.op) {
            left.push((n, union.clone()));
        }
        for &o in &n.outputs {
            deps[o.index()] = union.clone();
        }
    }
    let lines: Vec<String> = left
        .iter()
        .take(MAX_LISTED)
        .map(|(n, from)| {
            let why = if from.is_empty() {
                "its operands are not constants".to_string()
            } else {
                let names: Vec<String> = from
                    .iter()
                    .map(|&k| format!("'{}'", g.value(g.inputs[k as usize]).name))
                    .collect();
                format!("computed from the graph input(s) {}", names.join(", "))
            };
            format!("  - '{}' ({}): {why}", n.name, n.op.name())
        })
        .collect();
    let more = left.len().saturating_sub(MAX_LISTED);
    Err(CompileError::Unfolded(format!(
        "{} node(s) have no kernel and did not fold away (they must be constants once the shapes \
         are bound):\n{}{}",
        left.len(),
        lines.join("\n"),
        if more > 0 {
            format!("\n  … and {more} more")
        } else {
            String::new()
        }
    )))
}
