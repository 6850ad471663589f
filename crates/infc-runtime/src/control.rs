//! Run control and statistics: cancelling a run or bounding its time ([`RunOptions`]), what one
//! run did ([`RunStats`]) and what a session did since it was loaded ([`SessionStats`]).
//!
//! A run checks its cancel flag and deadline between steps (one atomic load, plus one clock read
//! when a timeout is set), so a cancelled run stops after the step in flight; no step is
//! interrupted halfway and the session stays usable.

use crate::RuntimeError;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A flag another thread sets to stop runs that were given it (cheap to clone: all clones share
/// the flag).
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token not yet cancelled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Stop the runs holding this token (at their next step boundary), and refuse new ones until
    /// [`CancelToken::reset`].
    pub fn cancel(&self) {
        self.0.store(true, Relaxed)
    }

    /// Whether [`CancelToken::cancel`] was called (since the last reset).
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Relaxed)
    }

    /// Clear the flag so the token can serve new runs.
    pub fn reset(&self) {
        self.0.store(false, Relaxed)
    }
}

/// Per-run options of [`crate::Session::run_opts`] and [`crate::Session::run_into_opts`].
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Stop the run when this token is cancelled.
    pub cancel: Option<CancelToken>,
    /// Stop the run once it has taken longer than this (checked between steps).
    pub timeout: Option<Duration>,
}

/// What one run did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunStats {
    /// From the input checks to the outputs delivered.
    pub wall: Duration,
    /// Steps executed (all of the plan's on success).
    pub steps: usize,
    /// Size of the arena the run used.
    pub arena_bytes: u64,
    /// The run allocated a new arena (the pool had none free: a first run, or more concurrent
    /// runs than ever before).
    pub new_arena: bool,
}

/// Counters of a session since it was loaded ([`crate::Session::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Runs that completed.
    pub runs: u64,
    /// Runs that returned an error (bad inputs, cancelled, timed out, a step failing).
    pub failed_runs: u64,
    /// Arenas allocated: the most runs that were ever in flight at once, plus each time a range
    /// plan's larger shape outgrew a pooled arena.
    pub arenas: u64,
    /// Total wall time of completed runs.
    pub busy: Duration,
}

/// The session's counters (atomics: runs update them concurrently).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    runs: AtomicU64,
    failed: AtomicU64,
    arenas: AtomicU64,
    busy_nanos: AtomicU64,
}

impl Counters {
    pub(crate) fn new_arena(&self) {
        self.arenas.fetch_add(1, Relaxed);
    }

    pub(crate) fn record(&self, ok: bool, wall: Duration) {
        if ok {
            self.runs.fetch_add(1, Relaxed);
            let nanos = u64::try_from(wall.as_nanos()).unwrap_or(u64::MAX);
            self.busy_nanos.fetch_add(nanos, Relaxed);
        } else {
            self.failed.fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn snapshot(&self) -> SessionStats {
        SessionStats {
            runs: self.runs.load(Relaxed),
            failed_runs: self.failed.load(Relaxed),
            arenas: self.arenas.load(Relaxed),
            busy: Duration::from_nanos(self.busy_nanos.load(Relaxed)),
        }
    }
}

/// A run's stop conditions, checked between steps.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stop<'a> {
    cancel: Option<&'a AtomicBool>,
    /// Start and limit of a timeout.
    deadline: Option<(Instant, Duration)>,
}

impl<'a> Stop<'a> {
    pub(crate) fn new(opts: &'a RunOptions, start: Instant) -> Stop<'a> {
        Stop {
            cancel: opts.cancel.as_ref().map(|t| &*t.0),
            deadline: opts.timeout.map(|limit| (start, limit)),
        }
    }

    /// An error when the run must stop before step `next` (`next` steps done).
    #[inline]
    pub(crate) fn check(&self, next: usize) -> Result<(), RuntimeError> {
        if let Some(flag) = self.cancel {
            if flag.load(Relaxed) {
                return Err(RuntimeError::Cancelled { steps_done: next });
            }
        }
        if let Some((start, limit)) = self.deadline {
            let elapsed = start.elapsed();
            if elapsed > limit {
                return Err(RuntimeError::TimedOut {
                    limit,
                    elapsed,
                    steps_done: next,
                });
            }
        }
        Ok(())
    }
}
