//! Spinning helpers for the parallel regions of one run ([`with_team`]).
//!
//! A rayon fork hands work to a worker that may have gone to sleep between two regions; waking it
//! costs a futex wake-up and, in a virtual machine, an inter-processor interrupt: about 10 µs
//! before the second thread starts on a region, measured across the 37 regions of a DistilBERT
//! run. [`with_team`] instead keeps the pool's other workers busy for the duration of a run, each
//! spinning on the team's state, so a region (`crate::claim::region`) only publishes its body and
//! the helpers join within a few hundred nanoseconds. While no region is open the helpers run
//! the pool's ordinary rayon jobs ([`rayon::yield_now`]), so kernels that fork with rayon
//! directly still get every thread.
//!
//! Protocol (all on the team's atomics, sequentially consistent where two threads race):
//! the owner writes the body and the part count, then opens `remaining = parts − 1`; a helper
//! first counts itself in `active`, then claims a part by decrementing `remaining`, runs it and
//! counts itself out. The owner runs part 0, closes (`remaining = 0`) and waits for `active` to
//! reach 0, so no helper can still hold the body when the region returns; a helper that counted
//! itself in after the close finds nothing to claim. Regions never wait for a helper that has not
//! joined (`crate::claim::Phase` lets the threads present claim every unit), so a busy or
//! descheduled helper delays nothing but its own part.

use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};

/// The body of the open region, lifetime erased (valid while the region is open; see the module
/// doc's protocol).
type Body = *const (dyn Fn(usize) + Sync);

/// State shared by a run's owner thread and its helpers.
pub(crate) struct Team {
    body: UnsafeCell<Option<Body>>,
    /// Parts of the open region (owner's part 0 included).
    parts: AtomicUsize,
    /// Parts not yet claimed by a helper; 0 when no region is open.
    remaining: AtomicUsize,
    /// Helpers between counting themselves in and out.
    active: AtomicUsize,
    stop: AtomicBool,
    panicked: AtomicBool,
}

// SAFETY: `body` is written only by the owner while no helper can read it (no region open and
// `active == 0`), and read by a helper only after a successful claim, which the owner's opening
// store orders after the write (see the module doc).
unsafe impl Sync for Team {}

thread_local! {
    /// The team of the run executing on this thread (null outside [`with_team`]).
    static TEAM: Cell<*const Team> = const { Cell::new(std::ptr::null()) };
    /// Whether this thread is inside a region body (a nested region runs serially).
    static IN_REGION: Cell<bool> = const { Cell::new(false) };
}

/// How many idle spins a helper makes between two looks for rayon jobs.
const SPINS_PER_YIELD: u32 = 32;

impl Team {
    fn new() -> Team {
        Team {
            body: UnsafeCell::new(None),
            parts: AtomicUsize::new(0),
            remaining: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            panicked: AtomicBool::new(false),
        }
    }

    /// A helper's loop: join open regions, run rayon jobs in between, until the run ends.
    ///
    /// A thread that owns a team returns at once: the owner itself can pick up its helper's job
    /// while it waits inside a rayon fork of its own (before another worker took the job), and
    /// spinning there would wait forever for the stop only it can give.
    fn help(&self) {
        if !TEAM.with(|t| t.get().is_null()) {
            return;
        }
        let mut spins = 0u32;
        while !self.stop.load(Acquire) {
            if self.remaining.load(Relaxed) > 0 {
                self.join();
                spins = 0;
            } else if spins < SPINS_PER_YIELD {
                std::hint::spin_loop();
                spins += 1;
            } else {
                spins = 0;
                rayon::yield_now();
            }
        }
    }

    /// Counts in, claims a part of the open region if one is left, runs it, counts out.
    fn join(&self) {
        self.active.fetch_add(1, SeqCst);
        let mut left = self.remaining.load(SeqCst);
        while left > 0 {
            match self
                .remaining
                .compare_exchange_weak(left, left - 1, SeqCst, SeqCst)
            {
                Ok(_) => {
                    let part = self.parts.load(Relaxed) - left;
                    // SAFETY: a successful claim means the region is open; its owner wrote the
                    // body before opening and waits for `active == 0` before returning, so the
                    // pointer is live until this helper counts out below.
                    let body = unsafe { (*self.body.get()).map(|b| &*b) };
                    if let Some(body) = body {
                        let run = std::panic::AssertUnwindSafe(|| in_region(|| body(part)));
                        if std::panic::catch_unwind(run).is_err() {
                            self.panicked.store(true, SeqCst);
                        }
                    }
                    break;
                }
                Err(now) => left = now,
            }
        }
        self.active.fetch_sub(1, SeqCst);
    }

    /// Runs `body(0)` here and `body(1..parts)` on helpers that join in time.
    fn region(&self, parts: usize, body: &(dyn Fn(usize) + Sync)) {
        /// Closes the region and waits for the helpers in it, also while unwinding.
        struct Close<'a>(&'a Team);
        impl Drop for Close<'_> {
            fn drop(&mut self) {
                self.0.remaining.store(0, SeqCst);
                while self.0.active.load(SeqCst) > 0 {
                    std::hint::spin_loop();
                }
                // SAFETY: closed and no helper active: nobody reads the body any more.
                unsafe { *self.0.body.get() = None };
            }
        }
        // SAFETY: no region is open and no helper is active (the previous region's `Close`
        // waited), so no helper reads `body` during this write. The lifetime is erased; `Close`
        // guarantees the pointer is not used after this function returns or unwinds.
        unsafe {
            let erased: Body = std::mem::transmute::<&(dyn Fn(usize) + Sync), Body>(body);
            *self.body.get() = Some(erased);
        }
        self.parts.store(parts, Relaxed);
        self.remaining.store(parts - 1, SeqCst);
        let close = Close(self);
        in_region(|| body(0));
        drop(close);
        if self.panicked.swap(false, SeqCst) {
            panic!("a parallel region panicked on a helper thread");
        }
    }
}

/// Runs `f` with [`IN_REGION`] set.
fn in_region<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            IN_REGION.with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(IN_REGION.with(|c| c.replace(true)));
    f()
}

/// Runs `f` on a worker of the current rayon pool with the pool's other workers spinning as its
/// team for the duration: `crate::claim::region` calls made by `f` on that thread start their
/// parts on the helpers without waking a sleeping thread. A one-thread pool runs `f` directly.
/// Nested calls (from inside `f`) just run their closure.
pub fn with_team<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let threads = crate::parallelism::threads();
    if threads <= 1 || !TEAM.with(|t| t.get().is_null()) {
        return f();
    }
    let team = Team::new();
    // `Mutex`es (no allocation) hand the `FnOnce` and its result through the `Fn` the joins share.
    let f = std::sync::Mutex::new(Some(f));
    let result = std::sync::Mutex::new(None);
    let owner = || {
        /// Ends the helpers' loops and unsets the thread's team, also while unwinding (the
        /// joins wait for their helpers).
        struct Stop<'a>(&'a Team);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.stop.store(true, Release);
                TEAM.with(|t| t.set(std::ptr::null()));
            }
        }
        let f = lock(&f).take();
        if let Some(f) = f {
            TEAM.with(|t| t.set(&team));
            let _stop = Stop(&team);
            let r = f();
            *lock(&result) = Some(r);
        }
    };
    join_helpers(&team, threads - 1, &owner);
    let r = lock(&result).take();
    r.expect("with_team: the owner ran (a panic would have propagated)")
}

/// Locks a mutex whose data stays valid when a holder panicked (it is only moved in and out).
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `owner` here with `helpers` [`Team::help`] loops forked beside it: nested
/// [`rayon::join`]s, whose jobs live on this stack (a `rayon::scope` spawn would allocate one per
/// helper and run, and runs must not allocate).
fn join_helpers(team: &Team, helpers: usize, owner: &(dyn Fn() + Sync)) {
    if helpers == 0 {
        owner();
    } else {
        rayon::join(|| join_helpers(team, helpers - 1, owner), || team.help());
    }
}

/// Runs a region on the current thread's team: `Some(())` when it did (a call nested in a
/// region body runs `body(0)` alone, which claims every unit), `None` when there is no team here
/// (outside [`with_team`]).
pub(crate) fn region(parts: usize, body: &(dyn Fn(usize) + Sync)) -> Option<()> {
    if IN_REGION.with(|c| c.get()) {
        body(0);
        return Some(());
    }
    let team = TEAM.with(|t| t.get());
    if team.is_null() {
        return None;
    }
    // SAFETY: `TEAM` points at the `Team` owned by the enclosing `with_team` call on this thread,
    // which outlives every call made inside it and unsets the pointer before the team is dropped.
    let team = unsafe { &*team };
    team.region(parts, body);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claim::{self, Phase};

    /// Whether a region run now has a part on another thread than the caller.
    fn helper_joined(parts: usize) -> bool {
        let owner = std::thread::current().id();
        let other = AtomicBool::new(false);
        claim::region(parts, |_| {
            if std::thread::current().id() != owner {
                other.store(true, Relaxed);
            }
            // Long enough for a spinning helper to join.
            std::thread::sleep(std::time::Duration::from_micros(20));
        });
        other.load(Relaxed)
    }

    /// Regions on a team reach the helpers (once they have started), run every unit exactly once
    /// over many back-to-back regions, and run nested regions serially.
    #[test]
    fn team_regions_run_each_unit_once() {
        for threads in 1..=3 {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                with_team(|| {
                    // The helpers start when a worker picks up their jobs; give them 10 s.
                    let start = std::time::Instant::now();
                    let mut joined = false;
                    while threads > 1 && !joined && start.elapsed().as_secs() < 10 {
                        joined = helper_joined(threads);
                    }
                    assert_eq!(joined, threads > 1, "{threads} threads");
                    for round in 0..2000 {
                        let units = 1 + round % 37;
                        let hits: Vec<AtomicUsize> =
                            (0..units).map(|_| AtomicUsize::new(0)).collect();
                        let parts = claim::region_threads(units);
                        let phase = Phase::new(units, parts);
                        claim::region(parts, |part| {
                            phase.work(part, |u| {
                                // Regions nested in a parallel one run serially on this thread
                                // (one with a single part is no region: it runs inline).
                                let here = std::thread::current().id();
                                claim::region(2, |_| {
                                    if parts > 1 {
                                        assert_eq!(std::thread::current().id(), here);
                                    }
                                });
                                hits[u].fetch_add(1, Relaxed);
                            });
                        });
                        assert!(hits.iter().all(|h| h.load(Relaxed) == 1), "round {round}");
                    }
                    // Still reaching the helpers after the rounds.
                    let mut joined = false;
                    for _ in 0..10_000 {
                        joined = joined || threads == 1 || helper_joined(threads);
                    }
                    assert!(joined, "{threads} threads, after the rounds");
                });
            });
        }
    }

    /// The owner picking up its own helper's job (waiting in a rayon fork before any other worker
    /// took it) returns from it instead of spinning forever.
    #[test]
    fn owner_running_its_helper_job_does_not_hang() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| {
            with_team(|| {
                let team = TEAM.with(|t| t.get());
                // SAFETY: the team of this `with_team` call, alive for its duration.
                unsafe { &*team }.help();
            })
        });
    }

    #[test]
    fn helper_panic_reaches_the_owner() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let owner_panicked = pool.install(|| {
            std::panic::catch_unwind(|| {
                with_team(|| {
                    let owner = std::thread::current().id();
                    // Keep opening regions until a helper runs a part (and panics there).
                    for _ in 0..100_000 {
                        claim::region(2, |_| {
                            if std::thread::current().id() != owner {
                                panic!("helper part");
                            }
                            std::thread::sleep(std::time::Duration::from_micros(50));
                        });
                    }
                })
            })
            .is_err()
        });
        assert!(owner_panicked);
    }
}
