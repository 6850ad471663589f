//! `Session::run_into` (and `run_with`) perform no heap allocation after the first call: checked with a counting
//! global allocator that counts allocations made on the thread under test (the test harness's
//! own threads allocate concurrently and are not the runtime's doing). The plan is small enough
//! that the kernels stay on the calling thread.

mod common;

use infc_runtime::{Session, TensorView};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn note() {
    if COUNTING.with(|c| c.get()) {
        ALLOCS.fetch_add(1, Ordering::SeqCst);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn run_into_does_not_allocate_after_the_first_call() {
    let session = Session::from_bytes(&common::plan().encode()).unwrap();
    let x = common::input();
    let shape = [4usize, 8];
    let inputs = [("x".into(), TensorView::f32(&shape, &x))];
    let mut y = [0u8; 4 * 16 * 4];
    let mut t = [0u8; 8 * 4 * 4];
    session
        .run_into(&inputs, &mut [&mut y[..], &mut t[..]])
        .unwrap();
    let before = ALLOCS.load(Ordering::SeqCst);
    COUNTING.with(|c| c.set(true));
    for _ in 0..10 {
        session
            .run_into(&inputs, &mut [&mut y[..], &mut t[..]])
            .unwrap();
    }
    COUNTING.with(|c| c.set(false));
    let after = ALLOCS.load(Ordering::SeqCst);
    assert_eq!(
        after - before,
        0,
        "run_into allocated {} times in 10 runs",
        after - before
    );
    // Lending the outputs allocates nothing either (views on the stack).
    COUNTING.with(|c| c.set(true));
    let mut lent = 0;
    for _ in 0..10 {
        lent += session.run_with(&inputs, |views| views.len()).unwrap();
    }
    COUNTING.with(|c| c.set(false));
    assert_eq!(lent, 20);
    assert_eq!(
        ALLOCS.load(Ordering::SeqCst) - after,
        0,
        "run_with allocated"
    );
    let y: Vec<f32> = y
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let want = common::expected(&x).0;
    assert!(y.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-4));
}

/// A session that runs on its callers' threads (`threads: Some(1)`) lends each run the GEMM packing
/// buffers pooled with its arena: a caller thread's first run allocates nothing either.
#[test]
fn a_serial_run_on_a_new_caller_thread_does_not_allocate() {
    let session = Session::from_bytes_with(
        &common::plan().encode(),
        infc_runtime::SessionOptions {
            threads: Some(1),
            ..Default::default()
        },
    )
    .unwrap();
    let x = common::input();
    let shape = [4usize, 8];
    let inputs = [("x".into(), TensorView::f32(&shape, &x))];
    let run = || {
        let mut y = [0u8; 4 * 16 * 4];
        let mut t = [0u8; 8 * 4 * 4];
        session
            .run_into(&inputs, &mut [&mut y[..], &mut t[..]])
            .unwrap();
        y
    };
    // The first run allocates the arena and its packing buffers.
    let first = run();
    for round in 0..3 {
        let (allocs, y) = std::thread::scope(|s| {
            s.spawn(|| {
                let before = ALLOCS.load(Ordering::SeqCst);
                COUNTING.with(|c| c.set(true));
                let y = run();
                COUNTING.with(|c| c.set(false));
                (ALLOCS.load(Ordering::SeqCst) - before, y)
            })
            .join()
            .unwrap()
        });
        assert_eq!(
            allocs, 0,
            "round {round}: a new thread's first run allocated"
        );
        assert_eq!(y, first, "round {round}: outputs differ");
    }
}
