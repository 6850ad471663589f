//! A range plan's per-shape arena ([`infc_plan::ShapeArena`]): which fields hold arena offsets,
//! in which buffer, and every buffer's size as an expression of the symbols, so that a run at a
//! new shape plans an arena of that shape's size instead of using the max shape's.
//!
//! - **Sizes**: every arena buffer's size at each grid point (the lowerings report them even
//!   while adopting the max shape's layout) is fitted like any other field.
//! - **Offset fields**: the max shape is lowered twice more, once with every buffer `k` of `n`
//!   moved by `(k + 1) · STRIDE` bytes and once by `(n − k) · STRIDE`. A numeric field that moves
//!   by exactly buffer `k`'s displacement in both holds an offset into buffer `k`; a field that
//!   moves otherwise (an offset computed from two buffers, or in other units, moves differently in
//!   the two) or a step that changes kind makes the plan keep the max-shape arena.
//! - **Check**: the caller lowers its verification shapes at the arena the run time would plan
//!   there and compares the plans field for field, memory map included.

use super::Fitter;
use infc_compile::memory::Assignment;
use infc_plan::{
    numeric_values, skeleton, ArenaBuffer, PatchTarget, PlanBody, RangeTable, Rebase, ShapeArena,
    Wire,
};

/// How far the perturbed lowering moves buffer `k`: `(k + 1) · STRIDE` bytes, beyond any offset
/// inside one buffer (an arena holds at most 2^44 bytes).
const STRIDE: i128 = 1 << 44;
/// Most buffers the perturbation can tell apart within a u64 field.
const MAX_BUFFERS: usize = 1 << 18;

/// Each buffer's size expression (interned in `fitter`) and live interval, from its sizes at every
/// grid point (`sizes[point][buffer]`); `Err` says which buffer's size no expression holds.
pub(super) fn fit_buffers(
    fitter: &mut Fitter,
    axes: &[Vec<u64>],
    sizes: &[Vec<u64>],
    items: &[(String, infc_compile::memory::Interval)],
) -> Result<Vec<ArenaBuffer>, String> {
    let mut out = Vec::with_capacity(items.len());
    for (k, (name, it)) in items.iter().enumerate() {
        let ys: Vec<i128> = sizes.iter().map(|s| s[k] as i128).collect();
        let expr = super::fit::fit(axes, &ys)
            .ok_or_else(|| format!("buffer '{name}' has sizes {ys:?} on the sample grid"))?;
        out.push(ArenaBuffer {
            size: fitter.intern(expr),
            first: it.first,
            last: it.last,
        });
    }
    Ok(out)
}

/// `base` with buffer `k` moved by `(k + 1) · STRIDE`, or with `reverse` by `(n − k) · STRIDE`
/// (`None`: too many buffers to tell apart).
pub(super) fn perturbed(base: &Assignment, reverse: bool) -> Option<Assignment> {
    let n = base.offsets.len();
    if n > MAX_BUFFERS {
        return None;
    }
    let mut a = base.clone();
    for (k, o) in a.offsets.iter_mut().enumerate() {
        *o += (shift_of(k, n, reverse) as u64) << 44;
    }
    Some(a)
}

/// The multiple of `STRIDE` buffer `k` of `n` moves by.
fn shift_of(k: usize, n: usize, reverse: bool) -> usize {
    if reverse {
        n - k
    } else {
        k + 1
    }
}

/// The offset fields of `max` and their buffers, from the plan `moved` lowered at the perturbed
/// layout (`reverse` as given to [`perturbed`]).
pub(super) fn rebases(
    max: &PlanBody,
    moved: &PlanBody,
    buffers: usize,
    reverse: bool,
) -> Result<Vec<Rebase>, String> {
    if max.steps.len() != moved.steps.len()
        || max.inputs.len() != moved.inputs.len()
        || max.outputs.len() != moved.outputs.len()
    {
        return Err("the plan's steps change with its memory layout".into());
    }
    let mut out = Vec::new();
    let mut one =
        |target: PatchTarget, i: usize, a: &dyn Item, b: &dyn Item| -> Result<(), String> {
            if a.skeleton() != b.skeleton() {
                return Err(format!(
                    "{target:?} {i} changes kind with the memory layout"
                ));
            }
            for (f, (x, y)) in a.values().into_iter().zip(b.values()).enumerate() {
                let d = y - x;
                if d == 0 {
                    continue;
                }
                let m = d / STRIDE;
                let k = if reverse { buffers as i128 - m } else { m - 1 };
                if d % STRIDE != 0 || m < 1 || k < 0 || k as usize >= buffers {
                    return Err(format!(
                    "field {f} of {target:?} {i} moves by {d} bytes, no one buffer's displacement"
                ));
                }
                out.push(Rebase {
                    target,
                    index: i as u32,
                    field: f as u32,
                    buffer: k as u32,
                });
            }
            Ok(())
        };
    for (i, (a, b)) in max.steps.iter().zip(&moved.steps).enumerate() {
        one(PatchTarget::Step, i, a, b)?;
    }
    for (i, (a, b)) in max.inputs.iter().zip(&moved.inputs).enumerate() {
        one(PatchTarget::Input, i, a, b)?;
    }
    for (i, (a, b)) in max.outputs.iter().zip(&moved.outputs).enumerate() {
        one(PatchTarget::Output, i, a, b)?;
    }
    out.sort_unstable();
    Ok(out)
}

/// A step or I/O descriptor, compared by skeleton and numeric fields.
trait Item {
    fn skeleton(&self) -> Vec<u8>;
    fn values(&self) -> Vec<i128>;
}

impl<T: Wire> Item for T {
    fn skeleton(&self) -> Vec<u8> {
        skeleton(self)
    }
    fn values(&self) -> Vec<i128> {
        numeric_values(self)
    }
}

/// The arena the run time plans at `values`, as the compiler's assignment.
pub(super) fn planned(
    arena: &ShapeArena,
    table: &RangeTable,
    values: &[u64],
) -> Result<Assignment, String> {
    let p = arena.plan(table, values).map_err(|e| e.to_string())?;
    Ok(Assignment {
        offsets: p.offsets,
        arena_bytes: p.arena_bytes,
        lower_bound: p.lower_bound,
        total: p.total,
    })
}
