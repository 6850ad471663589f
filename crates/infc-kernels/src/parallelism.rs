//! How many threads a kernel called on this thread may use: the current rayon pool's, or one
//! inside [`serial`]. Every parallel split in the kernels asks [`threads`] first and runs its
//! serial path when it says 1, so a run inside [`serial`] never hands work to a pool: it stays on
//! the calling thread (a session with one intra-op thread, many callers each on their own
//! thread).

use rayon::prelude::*;
use std::cell::Cell;

thread_local! {
    /// Set inside [`serial`] on this thread.
    static SERIAL: Cell<bool> = const { Cell::new(false) };
}

/// Threads the kernels called on this thread split their work over: 1 inside [`serial`], else
/// the current rayon pool's thread count.
pub fn threads() -> usize {
    if SERIAL.with(Cell::get) {
        1
    } else {
        rayon::current_num_threads()
    }
}

/// Runs `f` with every kernel it calls on this thread serial (no rayon fork, no pool hop).
pub fn serial<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            SERIAL.with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(SERIAL.with(|c| c.replace(true)));
    f()
}

/// `f(index, chunk)` over the `chunk`-element chunks of `y`, on the pool's threads when
/// [`threads`] allows, else in order on this thread.
pub fn for_each_chunk_mut<T: Send>(y: &mut [T], chunk: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    if threads() > 1 {
        y.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, c)| f(i, c));
    } else {
        y.chunks_mut(chunk).enumerate().for_each(|(i, c)| f(i, c));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_caps_threads_at_one_and_restores_it() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| {
            assert_eq!(threads(), 2);
            serial(|| {
                assert_eq!(threads(), 1);
                serial(|| assert_eq!(threads(), 1));
                assert_eq!(threads(), 1);
            });
            assert_eq!(threads(), 2);
        });
    }

    #[test]
    fn chunks_run_on_this_thread_when_serial() {
        let here = std::thread::current().id();
        let mut y = vec![0usize; 100_000];
        serial(|| {
            for_each_chunk_mut(&mut y, 1000, |i, c| {
                assert_eq!(std::thread::current().id(), here);
                c.fill(i);
            })
        });
        assert_eq!(y[99_999], 99);
    }
}
