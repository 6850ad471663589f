//! Per-shape arenas of range plans (format 5.4, section [`crate::section::ARENA`]): instead of
//! the arena planned at the max shape serving every shape, a run at a new shape plans its own
//! arena, as compact as a static plan's for that shape, and a symbol may be unbounded (its
//! arena is sized at the first run of a larger shape).
//!
//! The table lists every arena buffer of the plan (one per [`crate::MemoryEntry`], same order)
//! with its size as a dim expression of the symbols and its live interval in the compiler's
//! planning positions, and every numeric field that holds an arena offset (a step's tensor, an
//! input or output) with the buffer it lies in. Instantiating at a shape evaluates the sizes, runs
//! the compiler's own planner ([`crate::memory::assign_offsets`]) and moves each offset field by
//! its buffer's displacement: `field − base + new base`, where `base` is the buffer's offset in the
//! plan as stored. The plan as stored (STEPS, META, MEMORY) is the plan at the *nominal* shape,
//! [`ShapeArena::nominal`], which is the max shape for a bounded range.
//!
//! Nothing is trusted: counts, indices, order and the sizes at the nominal shape are checked at
//! decode in linear time, and every instance is validated in full before it runs (an offset
//! moved by a lying table fails validation, never touches memory outside the arena).

use crate::format::PlanBody;
use crate::memory::{assign_offsets, Interval};
use crate::symbols::{numeric_fields, read_field, PatchTarget, RangeTable};
use crate::validate::MAX_ARENA_BYTES;
use crate::wire::{wire_struct, Reader, Wire, Writer};
use crate::PlanError;

/// One arena buffer: its size (expression `size` of the range table) and live interval
/// (`first..=last`, planning positions: what the planner compares, not step indices).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArenaBuffer {
    pub size: u32,
    pub first: u32,
    pub last: u32,
}
wire_struct!(ArenaBuffer { size, first, last });

/// Numeric field `field` of step / input / output `index` is an offset into arena buffer
/// `buffer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rebase {
    pub target: PatchTarget,
    pub index: u32,
    pub field: u32,
    pub buffer: u32,
}
wire_struct!(Rebase {
    target,
    index,
    field,
    buffer
});

/// The ARENA section (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShapeArena {
    /// The symbols' values at which the stored plan was lowered.
    pub nominal: Vec<u64>,
    /// One per memory entry of the plan, same order.
    pub buffers: Vec<ArenaBuffer>,
    /// Sorted by `(target, index, field)`, each at most once.
    pub rebases: Vec<Rebase>,
}
wire_struct!(ShapeArena {
    nominal,
    buffers,
    rebases
});

/// Most bytes all buffers of one shape may add up to (each is at most the arena limit; their sum
/// bounds the planner's arithmetic).
const MAX_TOTAL_BYTES: u64 = 1 << 56;

fn bad(msg: impl Into<String>) -> PlanError {
    PlanError::malformed("arena", msg)
}

/// An arena planned at one shape: each buffer's offset and size, and the statistics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedArena {
    pub offsets: Vec<u64>,
    pub sizes: Vec<u64>,
    pub arena_bytes: u64,
    pub lower_bound: u64,
    pub total: u64,
}

impl ShapeArena {
    /// Check the table against its range table and the stored plan: counts, the nominal shape
    /// within the ranges, expression and buffer indices, live intervals, rebase order and
    /// targets, and every buffer's size expression giving its memory entry's size at the nominal
    /// shape. Linear in the table and the items it rebases.
    pub fn check(&self, table: &RangeTable, body: &PlanBody) -> Result<(), PlanError> {
        if self.nominal.len() != table.symbols.len() {
            return Err(bad(format!(
                "{} nominal values for {} symbols",
                self.nominal.len(),
                table.symbols.len()
            )));
        }
        for (s, &v) in table.symbols.iter().zip(&self.nominal) {
            if v < s.min || v > s.max {
                return Err(bad(format!(
                    "nominal '{}' = {v} lies outside its range {}..={}",
                    s.name, s.min, s.max
                )));
            }
        }
        let entries = &body.memory.entries;
        if self.buffers.len() != entries.len() {
            return Err(bad(format!(
                "{} buffers for {} memory entries",
                self.buffers.len(),
                entries.len()
            )));
        }
        let mut at_nominal: Vec<Option<i128>> = vec![None; table.exprs.len()];
        for (k, (b, e)) in self.buffers.iter().zip(entries).enumerate() {
            let Some(slot) = at_nominal.get_mut(b.size as usize) else {
                return Err(bad(format!(
                    "buffer {k} names expression {} of {}",
                    b.size,
                    table.exprs.len()
                )));
            };
            if b.first > b.last {
                return Err(bad(format!("buffer {k} is live {}..={}", b.first, b.last)));
            }
            let size = match *slot {
                Some(v) => v,
                None => {
                    let v = table.exprs[b.size as usize]
                        .eval(&self.nominal, i128::MIN, i128::MAX)
                        .map_err(|why| {
                            bad(format!("buffer {k}'s size at the nominal shape: {why}"))
                        })?;
                    *slot = Some(v);
                    v
                }
            };
            if size != e.size as i128 {
                return Err(bad(format!(
                    "buffer {k} ('{}') is {} bytes in the plan, its expression gives {size}",
                    e.name, e.size
                )));
            }
        }
        for w in self.rebases.windows(2) {
            let key = |r: &Rebase| (r.target, r.index, r.field);
            if key(&w[0]) >= key(&w[1]) {
                return Err(bad(format!(
                    "rebases are not in strictly increasing order at {:?}",
                    w[1]
                )));
            }
        }
        let mut counted: Option<((PatchTarget, u32), usize)> = None;
        for r in &self.rebases {
            let i = r.index as usize;
            let len = match r.target {
                PatchTarget::Step => body.steps.len(),
                PatchTarget::Input => body.inputs.len(),
                PatchTarget::Output => body.outputs.len(),
            };
            if i >= len || r.buffer as usize >= self.buffers.len() {
                return Err(bad(format!(
                    "rebase {r:?} points past the plan ({len} {:?}s, {} buffers)",
                    r.target,
                    self.buffers.len()
                )));
            }
            if counted.map(|(key, _)| key) != Some((r.target, r.index)) {
                let n = match r.target {
                    PatchTarget::Step => numeric_fields(&body.steps[i]).1.len(),
                    PatchTarget::Input => numeric_fields(&body.inputs[i]).1.len(),
                    PatchTarget::Output => numeric_fields(&body.outputs[i]).1.len(),
                };
                counted = Some(((r.target, r.index), n));
            }
            if let Some((_, n)) = counted {
                if r.field as usize >= n {
                    return Err(bad(format!(
                        "rebase {r:?}: the target has {n} numeric fields"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Plan the arena at `values`: evaluate every buffer's size and place the buffers with the
    /// compiler's planner.
    pub fn plan(&self, table: &RangeTable, values: &[u64]) -> Result<PlannedArena, PlanError> {
        let mut evaluated: Vec<Option<i128>> = vec![None; table.exprs.len()];
        let mut sizes = Vec::new();
        sizes
            .try_reserve_exact(self.buffers.len())
            .map_err(|_| PlanError::Memory(format!("{} buffers", self.buffers.len())))?;
        let mut items = Vec::new();
        items
            .try_reserve_exact(self.buffers.len())
            .map_err(|_| PlanError::Memory(format!("{} buffers", self.buffers.len())))?;
        // The planner adds sizes up; their sum bounds every offset and total it computes.
        let mut total: u64 = 0;
        for (k, b) in self.buffers.iter().enumerate() {
            let e = b.size as usize;
            let size = match evaluated.get(e).copied().flatten() {
                Some(v) => v,
                None => {
                    let expr = table
                        .exprs
                        .get(e)
                        .ok_or_else(|| bad(format!("buffer {k} names a missing expression")))?;
                    let v = expr
                        .eval(values, 0, MAX_ARENA_BYTES as i128)
                        .map_err(|why| {
                            PlanError::Memory(format!(
                                "buffer {k} at {}: {why} (the arena may hold {MAX_ARENA_BYTES} bytes)",
                                table.show(values)
                            ))
                        })?;
                    evaluated[e] = Some(v);
                    v
                }
            };
            total = total
                .checked_add(crate::memory::aligned(size as u64))
                .filter(|&t| t <= MAX_TOTAL_BYTES)
                .ok_or_else(|| {
                    PlanError::Memory(format!(
                        "the buffers at {} add up to more than {MAX_TOTAL_BYTES} bytes",
                        table.show(values)
                    ))
                })?;
            sizes.push(size as u64);
            items.push(Interval {
                size: size as u64,
                first: b.first,
                last: b.last,
            });
        }
        let a = assign_offsets(&items);
        Ok(PlannedArena {
            offsets: a.offsets,
            sizes,
            arena_bytes: a.arena_bytes,
            lower_bound: a.lower_bound,
            total: a.total,
        })
    }

    /// Move every rebased offset of `out` (already patched at the new shape) from its buffer's
    /// place in `stored` to its place in `planned`, and give `out` the planned memory map.
    pub(crate) fn apply(
        &self,
        stored: &PlanBody,
        planned: &PlannedArena,
        out: &mut PlanBody,
    ) -> Result<(), PlanError> {
        if planned.arena_bytes > MAX_ARENA_BYTES {
            return Err(PlanError::Memory(format!(
                "the arena needs {} bytes at this shape, more than the {MAX_ARENA_BYTES}-byte limit",
                planned.arena_bytes
            )));
        }
        let mut k = 0;
        while k < self.rebases.len() {
            let first = self.rebases[k];
            let mut end = k;
            while end < self.rebases.len()
                && self.rebases[end].target == first.target
                && self.rebases[end].index == first.index
            {
                end += 1;
            }
            let group = &self.rebases[k..end];
            let i = first.index as usize;
            let miss = || bad(format!("rebase {first:?} points past the plan"));
            match first.target {
                PatchTarget::Step => {
                    let s = out.steps.get(i).ok_or_else(miss)?;
                    out.steps[i] = rebase_one(s, group, stored, planned)?;
                }
                PatchTarget::Input => {
                    let s = out.inputs.get(i).ok_or_else(miss)?;
                    out.inputs[i] = rebase_one(s, group, stored, planned)?;
                }
                PatchTarget::Output => {
                    let s = out.outputs.get(i).ok_or_else(miss)?;
                    out.outputs[i] = rebase_one(s, group, stored, planned)?;
                }
            }
            k = end;
        }
        let m = &mut out.memory;
        m.arena_bytes = planned.arena_bytes;
        m.intermediates_bytes = planned.total;
        m.lower_bound_bytes = planned.lower_bound;
        for ((e, &o), &s) in m
            .entries
            .iter_mut()
            .zip(&planned.offsets)
            .zip(&planned.sizes)
        {
            e.offset = o;
            e.size = s;
        }
        Ok(())
    }

    /// The section's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.put(&mut w);
        w.buf
    }

    /// Parse the section (structure only; see [`ShapeArena::check`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<ShapeArena, PlanError> {
        let mut r = Reader::new(bytes, "arena");
        let t = ShapeArena::get(&mut r)?;
        r.finish()?;
        Ok(t)
    }
}

/// Check that every arena byte range a step of `body` reads or writes lies inside one memory
/// entry live at that step (in step indices). A plan instantiated from a per-shape arena table has
/// no slack between buffers, so a step reaching past its buffer (a size expression that is wrong
/// at this shape) would overwrite a neighbour: this refuses such an instance instead. A sweep
/// over the steps with the live entries ordered by offset: O((steps + accesses + entries) · log).
pub fn check_confined(body: &PlanBody, consts_len: u64) -> Result<(), PlanError> {
    use std::collections::BTreeMap;
    let entries = &body.memory.entries;
    let mut by_first: Vec<usize> = (0..entries.len()).collect();
    by_first.sort_unstable_by_key(|&e| entries[e].first_step);
    let mut by_last = by_first.clone();
    by_last.sort_unstable_by_key(|&e| entries[e].last_step);
    let (mut next_in, mut next_out) = (0, 0);
    let mut live: BTreeMap<(u64, usize), u64> = BTreeMap::new();
    for (i, step) in body.steps.iter().enumerate() {
        let i32 = i as u32;
        while next_in < by_first.len() && entries[by_first[next_in]].first_step <= i32 {
            let e = &entries[by_first[next_in]];
            if e.last_step >= i32 && e.size > 0 {
                live.insert(
                    (e.offset, by_first[next_in]),
                    e.offset.saturating_add(e.size),
                );
            }
            next_in += 1;
        }
        for a in crate::validate::step_accesses(i, step, body.memory.arena_bytes, consts_len)? {
            if a.region != crate::Region::Arena || a.end <= a.start {
                continue;
            }
            // Live buffers do not share bytes, so the one starting last at or before the range is
            // the only candidate (a few more are tried: buffers of steps lowered to nothing may
            // look live together in step terms).
            let inside = live
                .range(..=(a.start, usize::MAX))
                .rev()
                .take(4)
                .any(|(&(off, _), &end)| off <= a.start && a.end <= end);
            if !inside {
                return Err(PlanError::Memory(format!(
                    "step {i} ('{}') {} bytes {}..{} of the arena lie outside every buffer live there",
                    body.step_names.get(i).map_or("", String::as_str),
                    a.role,
                    a.start,
                    a.end
                )));
            }
        }
        while next_out < by_last.len() && entries[by_last[next_out]].last_step <= i32 {
            let k = by_last[next_out];
            live.remove(&(entries[k].offset, k));
            next_out += 1;
        }
    }
    Ok(())
}

/// `v` with the offsets `rebases` name moved by their buffers' displacement.
fn rebase_one<T: Wire>(
    v: &T,
    rebases: &[Rebase],
    stored: &PlanBody,
    planned: &PlannedArena,
) -> Result<T, PlanError> {
    let (mut bytes, fields) = numeric_fields(v);
    for r in rebases {
        let Some(&(pos, signed)) = fields.get(r.field as usize) else {
            return Err(bad(format!(
                "rebase {r:?}: the target has {} numeric fields",
                fields.len()
            )));
        };
        let b = r.buffer as usize;
        let (Some(base), Some(&new)) = (stored.memory.entries.get(b), planned.offsets.get(b))
        else {
            return Err(bad(format!("rebase {r:?} names a missing buffer")));
        };
        let val = read_field(&bytes, (pos, signed)) - base.offset as i128 + new as i128;
        let (lo, hi) = if signed {
            (i64::MIN as i128, i64::MAX as i128)
        } else {
            (0, u64::MAX as i128)
        };
        if val < lo || val > hi {
            return Err(bad(format!("rebase {r:?} gives {val}")));
        }
        let le = if signed {
            (val as i64).to_le_bytes()
        } else {
            (val as u64).to_le_bytes()
        };
        bytes[pos..pos + 8].copy_from_slice(&le);
    }
    let mut r = Reader::new(&bytes, "arena");
    let v = T::get(&mut r)?;
    r.finish()?;
    Ok(v)
}
