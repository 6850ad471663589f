//! Which values a seeded integer input may take: the row count of the tables `Gather` steps index
//! with it, directly or through `Copy`/`Cast` steps. One pass over the steps for all inputs at
//! once, with the buffers holding (copies of) each input looked up by arena offset, so the cost is
//! linear in steps and inputs (a pass per input, each rescanning every tracked buffer and every
//! memory entry, took minutes on 100 000 chained Copy steps).

use infc_plan::{PlanBody, Region, Step, TensorRef};
use std::collections::HashMap;

/// How many memory entries before the first starting at a step are tried for the one live there.
const BACK_SCAN: usize = 64;

/// A live buffer holding (a copy or cast of) plan input `input`: inclusive step range.
#[derive(Clone, Copy)]
struct Tracked {
    input: usize,
    first: usize,
    last: usize,
}

/// Per plan input (plan order): the exclusive upper bound of valid values, `None` when no Gather
/// reads it.
pub fn index_bounds(plan: &PlanBody) -> Vec<Option<u64>> {
    let entries = &plan.memory.entries;
    let mut by_name: HashMap<&str, usize> = HashMap::with_capacity(entries.len());
    let mut at_offset: HashMap<u64, Vec<usize>> = HashMap::new();
    for (k, e) in entries.iter().enumerate() {
        by_name.entry(e.name.as_str()).or_insert(k);
        at_offset.entry(e.offset).or_default().push(k);
    }
    for list in at_offset.values_mut() {
        list.sort_by_key(|&k| (entries[k].first_step, entries[k].last_step));
    }
    // The steps over which the buffer a step writes at `offset` stays live: the memory entry
    // there starting at the step (the shortest), else one live at it (in-place results).
    let live_until = |offset: u64, step: usize| -> usize {
        let Some(list) = at_offset.get(&offset) else {
            return step;
        };
        let first = |k: usize| entries[k].first_step as usize;
        let at = list.partition_point(|&k| first(k) < step);
        if let Some(&k) = list.get(at).filter(|&&k| first(k) == step) {
            return entries[k].last_step as usize;
        }
        list[at.saturating_sub(BACK_SCAN)..at]
            .iter()
            .map(|&k| entries[k].last_step as usize)
            .filter(|&last| last >= step)
            .min()
            .unwrap_or(step)
    };
    let mut tracked: HashMap<u64, Vec<Tracked>> = HashMap::new();
    for (input, desc) in plan.inputs.iter().enumerate() {
        let (offset, last) = match by_name.get(desc.name.as_str()) {
            Some(&k) => (entries[k].offset, entries[k].last_step as usize),
            None => (desc.at.offset, usize::MAX),
        };
        tracked.entry(offset).or_default().push(Tracked {
            input,
            first: 0,
            last,
        });
    }
    let mut bound: Vec<Option<u64>> = vec![None; plan.inputs.len()];
    let mut readers: Vec<usize> = Vec::new();
    for (i, step) in plan.steps.iter().enumerate() {
        let (read, written) = match step {
            Step::Gather(g) => (&g.indices, None),
            Step::Cast(c) => (&c.x, Some(c.y)),
            Step::Copy(c) => (&c.src, Some(c.dst)),
            _ => continue,
        };
        readers.clear();
        inputs_read(&mut tracked, read, i, &mut readers);
        if let Step::Gather(g) = step {
            for &k in &readers {
                bound[k] = Some(bound[k].map_or(g.axis_len, |b| b.min(g.axis_len)));
            }
        }
        if let Some(y) = written.filter(|y| y.region == Region::Arena && !readers.is_empty()) {
            let last = live_until(y.offset, i);
            let list = tracked.entry(y.offset).or_default();
            list.extend(readers.iter().map(|&input| Tracked {
                input,
                first: i,
                last,
            }));
        }
    }
    bound
}

/// The inputs whose tracked buffers step `step` reads through `r` (each once), dropping the
/// buffers at that offset that are no longer live.
fn inputs_read(
    tracked: &mut HashMap<u64, Vec<Tracked>>,
    r: &TensorRef,
    step: usize,
    out: &mut Vec<usize>,
) {
    if r.region != Region::Arena {
        return;
    }
    let Some(list) = tracked.get_mut(&r.offset) else {
        return;
    };
    list.retain(|t| t.last >= step);
    out.extend(list.iter().filter(|t| t.first <= step).map(|t| t.input));
    out.sort_unstable();
    out.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;
    use infc_plan::{CopyStep, DType, GatherStep, IoDesc, MemoryEntry, MemoryPlan};

    fn copy(src: u64, dst: u64) -> Step {
        Step::Copy(CopyStep {
            dtype: DType::I64,
            shape: vec![4],
            src: TensorRef::arena(src),
            src_strides: vec![1],
            dst: TensorRef::arena(dst),
            dst_strides: vec![1],
        })
    }

    fn gather(indices: u64, axis_len: u64) -> Step {
        Step::Gather(GatherStep {
            dtype: DType::F32,
            idx_dtype: DType::I64,
            outer: 1,
            axis_len,
            inner: 1,
            n_idx: 4,
            data: TensorRef::konst(0),
            indices: TensorRef::arena(indices),
            y: TensorRef::arena(512),
        })
    }

    fn entry(name: String, offset: u64, first: usize, last: usize) -> MemoryEntry {
        MemoryEntry {
            name,
            offset,
            size: 64,
            first_step: first as u32,
            last_step: last as u32,
        }
    }

    /// Input `ids` is copied `n` times between two slots (each copy's buffer lives until the next
    /// step), then gathered from a 17-row table; input `other` is never read.
    fn chain(n: usize) -> PlanBody {
        let slot = |i: usize| 64 * (i as u64 & 1);
        let mut steps: Vec<Step> = (0..n).map(|i| copy(slot(i), slot(i + 1))).collect();
        steps.push(gather(slot(n), 17));
        let mut entries = vec![entry("ids".into(), 0, 0, 0)];
        entries.extend((0..n).map(|i| entry(format!("c{i}"), slot(i + 1), i, i + 1)));
        let io = |name: &str, offset| IoDesc {
            name: name.into(),
            dtype: DType::I64,
            shape: vec![4],
            at: TensorRef::arena(offset),
        };
        PlanBody {
            producer: "test".into(),
            required_features: 0,
            inputs: vec![io("ids", 0), io("other", 128)],
            outputs: vec![],
            step_names: vec![String::new(); n + 1],
            steps,
            memory: MemoryPlan {
                entries,
                ..MemoryPlan::default()
            },
            provenance: Vec::new(),
            range: None,
        }
    }

    #[test]
    fn a_gather_at_the_end_of_100000_copies_bounds_the_input() {
        assert_eq!(index_bounds(&chain(100_000)), vec![Some(17), None]);
        assert_eq!(index_bounds(&chain(3)), vec![Some(17), None]);
    }

    #[test]
    fn a_buffer_overwritten_after_its_lifetime_is_no_longer_the_input() {
        let mut p = chain(2);
        // Step 1 now copies from a slot nothing of the input's occupies any more.
        p.memory.entries[1].last_step = 0;
        p.steps.insert(1, copy(256, 320));
        p.step_names.push(String::new());
        assert_eq!(index_bounds(&p), vec![None, None]);
    }
}
