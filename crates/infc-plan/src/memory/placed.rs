//! The buffers already placed, indexed by time so that best-fit placement finds the ones whose
//! live intervals overlap a new buffer without scanning them all (a scan of every placed buffer
//! per buffer made planning quadratic: 200 000 chained steps took minutes).
//!
//! An interval `[f, l]` overlaps `[a, b]` when it is live at `a` (`f ≤ a ≤ l`) or starts in
//! `(a, b]`. The first set comes from a segment tree over the compressed start positions (each
//! interval stored at the O(log n) nodes that cover it; a query at `a` walks one leaf-to-root
//! path); the second from the placed intervals ordered by start. Both report each overlapping
//! interval once, so a query costs O(log n + overlaps).

use super::Interval;
use std::collections::BTreeSet;

pub(super) struct Placed {
    /// Distinct start positions of all intervals, sorted: the tree's leaves.
    starts: Vec<u32>,
    /// Leaf count rounded up to a power of two.
    size: usize,
    /// Per tree node, the placed intervals covering its whole leaf range.
    nodes: Vec<Vec<u32>>,
    /// Placed intervals by (start, index).
    by_start: BTreeSet<(u32, u32)>,
}

impl Placed {
    pub(super) fn new(items: &[Interval]) -> Placed {
        let mut starts: Vec<u32> = items.iter().map(|it| it.first).collect();
        starts.sort_unstable();
        starts.dedup();
        let size = starts.len().next_power_of_two();
        Placed {
            starts,
            size,
            nodes: vec![Vec::new(); 2 * size],
            by_start: BTreeSet::new(),
        }
    }

    /// Record interval `i` of `items` as placed.
    pub(super) fn insert(&mut self, items: &[Interval], i: usize) {
        let it = &items[i];
        // Leaves whose start lies in [first, last]: first is a leaf itself.
        let lo = self.starts.partition_point(|&s| s < it.first);
        let hi = self.starts.partition_point(|&s| s <= it.last);
        let (mut l, mut r) = (lo + self.size, hi + self.size);
        while l < r {
            if l & 1 == 1 {
                self.nodes[l].push(i as u32);
                l += 1;
            }
            if r & 1 == 1 {
                r -= 1;
                self.nodes[r].push(i as u32);
            }
            l >>= 1;
            r >>= 1;
        }
        self.by_start.insert((it.first, i as u32));
    }

    /// Calls `f` once with each placed interval that overlaps `it`.
    pub(super) fn overlapping(&self, it: &Interval, mut f: impl FnMut(usize)) {
        let leaf = self.starts.partition_point(|&s| s < it.first);
        let mut n = leaf + self.size;
        while n >= 1 {
            self.nodes[n].iter().for_each(|&j| f(j as usize));
            n >>= 1;
        }
        if it.first < it.last {
            for &(_, j) in self.by_start.range((it.first + 1, 0)..=(it.last, u32::MAX)) {
                f(j as usize);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn reports_exactly_the_overlapping_intervals_once(
            raw in proptest::collection::vec((0u32..50, 0u32..12), 1..80),
        ) {
            let items: Vec<Interval> = raw
                .iter()
                .map(|&(first, len)| Interval { size: 64, first, last: first + len })
                .collect();
            let mut placed = Placed::new(&items);
            for (i, it) in items.iter().enumerate() {
                let mut got = Vec::new();
                placed.overlapping(it, |j| got.push(j));
                got.sort_unstable();
                let want: Vec<usize> = (0..i).filter(|&j| super::super::overlaps(&items[j], it)).collect();
                prop_assert_eq!(got, want);
                placed.insert(&items, i);
            }
        }
    }
}
