//! Work-claiming parallel regions: one rayon fork for a whole multi-phase kernel (e.g. quantize
//! A, then multiply), instead of one fork/join per phase.
//!
//! Every thread taking part runs the same body. Within a [`Phase`] it claims units (its own
//! contiguous range first, then the others') until none are left, so a slow or descheduled thread
//! only delays the unit it holds, never a fixed share of the work. [`Phase::wait`] waits only for units that were already
//! *claimed*, i.e. that a running thread is executing; it never waits for a thread that has not
//! started. So a region is deadlock-free whether the pool gives it one thread or all of them.

use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Most threads a region uses (sizes the per-thread cursors of a [`Phase`]).
pub(crate) const MAX_PARTS: usize = 16;

/// One phase of a region: `units` independent pieces of work, cut into one contiguous range per
/// thread. A thread claims its own range front to back, then helps with the others', so each
/// thread walks memory sequentially (hardware prefetchers follow it; weights stream in order)
/// and a slow thread's leftovers are still picked up.
///
/// Each cursor and the done count sit on cache lines of their own, and a thread adds its
/// finished units to the done count once, when it runs out of work: while every thread works
/// through its own range, claiming a unit touches no line another core writes. (With the
/// cursors packed into one line, each claim moved that line between the cores: about 2 % of a
/// GPT-2 run's samples sat on those atomics.)
pub(crate) struct Phase {
    units: usize,
    parts: usize,
    /// `next[r]`: next unclaimed unit of range `r` (absolute index).
    next: [Line; MAX_PARTS],
    done: Line,
}

/// An atomic counter alone on its cache line (128 bytes: the adjacent-line prefetcher pairs
/// 64-byte lines, so a 64-byte neighbour would still be pulled across).
#[repr(align(128))]
struct Line(AtomicUsize);

/// Adds the units a thread claimed to the phase's done count when dropped: at the end of
/// [`Phase::work`], and also while unwinding, a panicking unit included (it must not leave the
/// other threads waiting forever; the panic itself propagates out of the region).
struct Finished<'a> {
    done: &'a AtomicUsize,
    count: usize,
}

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        if self.count > 0 {
            self.done.fetch_add(self.count, Ordering::Release);
        }
    }
}

impl Phase {
    /// `units` split into `parts` ranges (clamped to `1..=MAX_PARTS`); pass the thread count of
    /// the region that runs it.
    pub(crate) fn new(units: usize, parts: usize) -> Phase {
        let parts = parts.clamp(1, MAX_PARTS);
        Phase {
            units,
            parts,
            next: std::array::from_fn(|r| Line(AtomicUsize::new(Self::start(units, parts, r)))),
            done: Line(AtomicUsize::new(0)),
        }
    }

    fn start(units: usize, parts: usize, r: usize) -> usize {
        (units * r.min(parts)) / parts
    }

    /// Claims and runs units until none are left: first those of range `part` (the caller's
    /// index in the region), then the other ranges'.
    pub(crate) fn work(&self, part: usize, mut unit: impl FnMut(usize)) {
        let mut finished = Finished {
            done: &self.done.0,
            count: 0,
        };
        for i in 0..self.parts {
            let r = (part + i) % self.parts;
            let end = Self::start(self.units, self.parts, r + 1);
            loop {
                let u = self.next[r].0.fetch_add(1, Ordering::Relaxed);
                if u >= end {
                    break;
                }
                // Counted before it runs, so an unwinding unit is counted too.
                finished.count += 1;
                unit(u);
            }
        }
    }

    /// Returns once every unit has finished; their writes are visible to the caller afterwards.
    /// Call after [`Phase::work`] returned, so every unit has been claimed.
    pub(crate) fn wait(&self) {
        let mut spins = 0u32;
        while self.done.0.load(Ordering::Acquire) < self.units {
            if spins < 1 << 12 {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// Threads a region of `units` units would use in the current pool.
pub(crate) fn region_threads(units: usize) -> usize {
    units.min(crate::parallelism::threads()).clamp(1, MAX_PARTS)
}

/// Runs `body(part)` on `threads` threads of the current pool (at most the pool's size and
/// [`MAX_PARTS`]), each with its own `part` index; the caller is one of them. Pass the count the
/// region's phases were cut for ([`region_threads`]). Inside [`crate::team::with_team`] the parts
/// go to the run's spinning helpers, otherwise to a rayon fork.
pub(crate) fn region(threads: usize, body: impl Fn(usize) + Sync) {
    let threads = threads
        .min(crate::parallelism::threads())
        .clamp(1, MAX_PARTS);
    if threads <= 1 {
        body(0);
    } else if crate::team::region(threads, &body).is_none() {
        (0..threads).into_par_iter().with_max_len(1).for_each(&body);
    }
}

/// A pointer shared by the threads of a region that write disjoint parts of its buffer.
/// (Read it with [`SharedMut::get`]: a closure naming the field would capture the bare pointer.)
#[derive(Clone, Copy)]
pub(crate) struct SharedMut<T>(pub *mut T);

impl<T> SharedMut<T> {
    pub(crate) fn get(self) -> *mut T {
        self.0
    }
}

// SAFETY: the users of a `SharedMut` write disjoint elements per unit and read only after the
// phase that wrote them finished (`Phase::wait` orders those writes before the reads).
unsafe impl<T: Send> Send for SharedMut<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for SharedMut<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every unit of every phase runs exactly once and a phase's writes are all visible after
    /// its wait, in pools of 1–4 threads and when the region gets fewer threads than it asks for.
    #[test]
    fn phases_run_each_unit_once_and_in_order() {
        for pool_threads in 1..=4 {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(pool_threads)
                .build()
                .unwrap();
            for region_threads_wanted in [1, 2, 8] {
                let first: Vec<AtomicUsize> = (0..37).map(|_| AtomicUsize::new(0)).collect();
                let second: Vec<AtomicUsize> = (0..11).map(|_| AtomicUsize::new(0)).collect();
                let (p1, p2) = pool.install(|| {
                    let parts = region_threads(region_threads_wanted);
                    (
                        Phase::new(first.len(), parts),
                        Phase::new(second.len(), parts),
                    )
                });
                pool.install(|| {
                    region(region_threads_wanted, |part| {
                        p1.work(part, |u| {
                            first[u].fetch_add(1, Ordering::Relaxed);
                        });
                        p1.wait();
                        p2.work(part, |u| {
                            // Phase 1 is complete before any unit of phase 2 starts.
                            let total: usize =
                                first.iter().map(|c| c.load(Ordering::Relaxed)).sum();
                            second[u].store(total, Ordering::Relaxed);
                        });
                    })
                });
                assert!(first.iter().all(|c| c.load(Ordering::Relaxed) == 1));
                assert!(second.iter().all(|c| c.load(Ordering::Relaxed) == 37));
            }
        }
    }

    /// A panicking unit propagates out of the region instead of hanging the waiting threads.
    #[test]
    fn a_panicking_unit_does_not_hang_the_region() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let phase = Phase::new(8, 2);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.install(|| {
                region(2, |part| {
                    phase.work(part, |u| assert_ne!(u, 3, "unit 3 fails"));
                    phase.wait();
                })
            })
        }));
        assert!(result.is_err());
    }
}
