//! Where a session's runs execute: on the caller's rayon pool (the default), serially on each
//! caller's thread (`threads: Some(1)`: N callers use N threads with no pool hop), or in a pool
//! of the session's own or the host's. And whether a run keeps its helper threads spinning
//! between parallel regions ([`Spin`]).

use crate::RuntimeError;
use infc_kernels::PackBuffers;
use std::sync::Arc;

/// Whether a run's helper threads spin between its parallel regions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Spin {
    /// The pool's other threads spin for the duration of a run, so each parallel region starts
    /// within a few hundred nanoseconds instead of a wake-up (about 10 µs on a VM). They go idle
    /// when the run ends: no CPU is used while no run is in flight.
    #[default]
    WhileRunning,
    /// Helpers sleep between regions (plain rayon forks): less CPU burnt beside other work, more
    /// latency per region.
    Off,
}

/// How runs execute (resolved at load from the session options).
#[derive(Debug)]
pub(crate) enum Exec {
    /// In the current rayon pool of the caller (the global one unless the caller is inside an
    /// `install`).
    Ambient,
    /// On the caller's thread, every kernel serial.
    Serial,
    /// In this pool (the session's own or the host's).
    Pool(Arc<rayon::ThreadPool>),
}

impl Exec {
    pub(crate) fn new(
        threads: Option<usize>,
        pool: Option<Arc<rayon::ThreadPool>>,
    ) -> Result<Exec, RuntimeError> {
        if let Some(pool) = pool {
            return Ok(Exec::Pool(pool));
        }
        match threads {
            None => Ok(Exec::Ambient),
            Some(0) => Err(RuntimeError::ThreadPool {
                threads: 0,
                msg: "a session needs at least one thread".into(),
            }),
            Some(1) => Ok(Exec::Serial),
            Some(n) => rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .thread_name(|i| format!("infc-{i}"))
                .build()
                .map(|p| Exec::Pool(Arc::new(p)))
                .map_err(|e| RuntimeError::ThreadPool {
                    threads: n,
                    msg: e.to_string(),
                }),
        }
    }

    /// Threads one run splits its work over.
    pub(crate) fn threads(&self) -> usize {
        match self {
            Exec::Ambient => rayon::current_num_threads(),
            Exec::Serial => 1,
            Exec::Pool(p) => p.current_num_threads(),
        }
    }

    /// Reserve the GEMM packing buffers of every thread a run may use (once per session; a
    /// serial run packs into the buffers its arena lends it).
    pub(crate) fn reserve_pack_buffers(&self) {
        match self {
            Exec::Ambient => {
                rayon::broadcast(|_| infc_kernels::reserve_pack_buffers());
                infc_kernels::reserve_pack_buffers();
            }
            Exec::Serial => {}
            Exec::Pool(p) => {
                p.broadcast(|_| infc_kernels::reserve_pack_buffers());
            }
        }
    }

    /// The packing buffers a new arena carries: full size for serial runs (which lend them to
    /// their caller's thread), empty otherwise (the pool's workers have their own).
    pub(crate) fn pack_buffers_for_an_arena(&self) -> PackBuffers {
        match self {
            Exec::Serial => PackBuffers::reserved(),
            Exec::Ambient | Exec::Pool(_) => PackBuffers::default(),
        }
    }

    /// Runs `f` (one run's steps) as the session was configured; a serial run packs its GEMMs into
    /// `pack`.
    pub(crate) fn run<R: Send>(
        &self,
        spin: Spin,
        pack: &mut PackBuffers,
        f: impl FnOnce() -> R + Send,
    ) -> R {
        match self {
            Exec::Ambient => with_spin(spin, f),
            Exec::Serial => infc_kernels::with_pack_buffers(pack, || infc_kernels::serial(f)),
            Exec::Pool(p) => p.install(|| with_spin(spin, f)),
        }
    }
}

/// `f` inside a spinning team of the current pool, or plainly.
fn with_spin<R: Send>(spin: Spin, f: impl FnOnce() -> R + Send) -> R {
    match spin {
        Spin::WhileRunning => infc_kernels::team::with_team(f),
        Spin::Off => f(),
    }
}
