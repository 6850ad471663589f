//! Static memory planning over one arena (at compile time, and at run time for each new shape of
//! a range plan with a per-shape arena): given buffers with sizes and inclusive live intervals
//! (in execution-order positions), assign 64-byte aligned offsets such that no two buffers live at
//! the same time overlap. Greedy best-fit (TFLite's "greedy by size", and by size × lifetime; the
//! smaller arena wins): each buffer takes the smallest gap between already-placed,
//! time-overlapping buffers that fits it, or goes on top. Also computes the lower bound (max bytes live at once).

mod placed;

/// One buffer to place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    pub size: u64,
    /// First and last position (inclusive) at which the buffer is live.
    pub first: u32,
    pub last: u32,
}

/// Result of [`assign_offsets`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// Byte offset of each input interval, same order.
    pub offsets: Vec<u64>,
    pub arena_bytes: u64,
    /// Max over positions of the summed (aligned) sizes live there.
    pub lower_bound: u64,
    /// Sum of all (aligned) sizes.
    pub total: u64,
}

pub const ALIGN: u64 = 64;

/// `size` rounded up to the arena alignment.
pub fn aligned(size: u64) -> u64 {
    size.div_ceil(ALIGN) * ALIGN
}

#[cfg(test)]
fn overlaps(a: &Interval, b: &Interval) -> bool {
    a.first <= b.last && b.first <= a.last
}

/// Max bytes simultaneously live (aligned sizes).
pub fn lower_bound(items: &[Interval]) -> u64 {
    let mut events: Vec<(u32, bool, u64)> = Vec::with_capacity(items.len() * 2);
    for it in items {
        events.push((it.first, true, aligned(it.size)));
        events.push((it.last.saturating_add(1), false, aligned(it.size)));
    }
    // At equal positions process frees (false) before allocations (true).
    events.sort_unstable_by_key(|&(t, alloc, _)| (t, alloc));
    let (mut live, mut best) = (0u64, 0u64);
    for (_, alloc, size) in events {
        if alloc {
            live += size;
            best = best.max(live);
        } else {
            live -= size;
        }
    }
    best
}

/// Assign offsets (see module docs): the smaller arena of two placement orders, decreasing size
/// and decreasing size × lifetime ("greedy by breadth"; it wins when a large buffer lives long,
/// e.g. a fused QKV projection output held until its attention).
pub fn assign_offsets(items: &[Interval]) -> Assignment {
    let by = |key: &dyn Fn(&Interval) -> u128| {
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_by(|&a, &b| {
            let (x, y) = (&items[a], &items[b]);
            key(y)
                .cmp(&key(x))
                .then(x.first.cmp(&y.first))
                .then(a.cmp(&b))
        });
        place(items, &order)
    };
    let by_size = by(&|it| aligned(it.size) as u128);
    let by_breadth =
        by(&|it| aligned(it.size) as u128 * (u128::from(it.last.saturating_sub(it.first)) + 1));
    if by_breadth.arena_bytes < by_size.arena_bytes {
        by_breadth
    } else {
        by_size
    }
}

/// How many overlapping neighbours best-fit placement may visit in all. A buffer's gaps come from
/// every placed buffer live with it, so a graph with many buffers live at once (150 000 inputs of
/// one Concat) costs the square of their count; past this budget the remaining buffers go on top
/// of the arena instead (still a valid plan, no longer the tightest).
const PLACEMENT_WORK: usize = 1 << 24;

/// Best-fit placement of `items` in `order`.
fn place(items: &[Interval], order: &[usize]) -> Assignment {
    let mut offsets = vec![0u64; items.len()];
    let mut placed = placed::Placed::new(items);
    let mut arena = 0u64;
    let mut neighbours: Vec<(u64, u64)> = Vec::new();
    let mut work = 0usize;
    for &i in order {
        let it = &items[i];
        let size = aligned(it.size);
        if size == 0 {
            continue;
        }
        neighbours.clear();
        if work > PLACEMENT_WORK {
            // Past the budget: on top of everything, in O(1).
            offsets[i] = arena;
            arena += size;
            continue;
        }
        placed.overlapping(it, |j| {
            neighbours.push((offsets[j], offsets[j] + aligned(items[j].size)));
        });
        work += neighbours.len() + 1;
        neighbours.sort_unstable();
        let mut best: Option<(u64, u64)> = None; // (gap size, offset)
        let mut cursor = 0u64;
        for &(start, end) in &neighbours {
            if start > cursor {
                let gap = start - cursor;
                if gap >= size && best.is_none_or(|(g, _)| gap < g) {
                    best = Some((gap, cursor));
                }
            }
            cursor = cursor.max(end);
        }
        let offset = best.map(|(_, o)| o).unwrap_or(cursor);
        offsets[i] = offset;
        arena = arena.max(offset + size);
        placed.insert(items, i);
    }
    let total = items.iter().map(|it| aligned(it.size)).sum();
    Assignment {
        offsets,
        arena_bytes: arena,
        lower_bound: lower_bound(items),
        total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(items: &[Interval], a: &Assignment) {
        for i in 0..items.len() {
            assert_eq!(a.offsets[i] % ALIGN, 0);
            assert!(a.offsets[i] + aligned(items[i].size) <= a.arena_bytes);
            for j in 0..i {
                if overlaps(&items[i], &items[j]) && items[i].size > 0 && items[j].size > 0 {
                    let (ai, bi) = (a.offsets[i], a.offsets[i] + aligned(items[i].size));
                    let (aj, bj) = (a.offsets[j], a.offsets[j] + aligned(items[j].size));
                    assert!(
                        bi <= aj || bj <= ai,
                        "buffers {i} and {j} overlap: {ai}..{bi} vs {aj}..{bj}"
                    );
                }
            }
        }
        assert!(a.arena_bytes >= a.lower_bound);
        assert!(a.lower_bound <= a.total);
    }

    #[test]
    fn chain_reuses_two_slots() {
        // x0 -> x1 -> x2 -> x3, each live for two positions: only two buffers at once.
        let items: Vec<Interval> = (0..4)
            .map(|i| Interval {
                size: 1000,
                first: i,
                last: i + 1,
            })
            .collect();
        let a = assign_offsets(&items);
        check(&items, &a);
        assert_eq!(a.lower_bound, 2 * 1024);
        assert_eq!(a.arena_bytes, 2 * 1024);
        assert_eq!(a.total, 4 * 1024);
    }

    #[test]
    fn long_lived_buffers_placed_first_when_that_packs_tighter() {
        // Decreasing size alone needs 832 bytes here; size × lifetime order reaches the lower
        // bound (640) by placing the long-lived 256 and 192 buffers first.
        let items: Vec<Interval> = [
            (256, 0, 3),
            (320, 4, 6),
            (192, 2, 5),
            (384, 0, 1),
            (64, 2, 2),
        ]
        .into_iter()
        .map(|(size, first, last)| Interval { size, first, last })
        .collect();
        let by_size: Vec<usize> = vec![3, 1, 0, 2, 4];
        assert_eq!(place(&items, &by_size).arena_bytes, 832);
        let a = assign_offsets(&items);
        check(&items, &a);
        assert_eq!((a.arena_bytes, a.lower_bound), (640, 640));
    }

    #[test]
    fn best_fit_prefers_the_tightest_gap() {
        let items = vec![
            Interval {
                size: 128,
                first: 0,
                last: 9,
            },
            Interval {
                size: 64,
                first: 0,
                last: 1,
            },
            Interval {
                size: 256,
                first: 0,
                last: 1,
            },
            Interval {
                size: 64,
                first: 5,
                last: 6,
            },
        ];
        let a = assign_offsets(&items);
        check(&items, &a);
        assert_eq!(a.arena_bytes, 448);
    }

    #[test]
    fn many_buffers_live_at_once_past_the_work_budget_still_do_not_overlap() {
        // 6 000 buffers all live together: best fit would visit 18 M neighbours.
        let items: Vec<Interval> = (0..6000)
            .map(|i| Interval {
                size: 64 + (i % 3) * 64,
                first: (i % 7) as u32,
                last: 10,
            })
            .collect();
        let a = assign_offsets(&items);
        check(&items, &a);
        assert_eq!(a.arena_bytes, a.total);
    }

    proptest! {
        #[test]
        fn no_two_live_buffers_overlap(raw in proptest::collection::vec((1u64..5000, 0u32..40, 0u32..10), 0..60)) {
            let items: Vec<Interval> = raw.iter().map(|&(size, first, len)| Interval { size, first, last: first + len }).collect();
            let a = assign_offsets(&items);
            check(&items, &a);
        }
    }
}
