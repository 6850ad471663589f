//! No heap allocation inside `Session::run_into` after the first call, on real fixture plans
//! (ResNet, GPT-2, DistilBERT at -O3, and ResNet at -O3 --int8; a GPT-2 range plan at three
//! shapes it has seen), counted on every thread of the process: the calling thread
//! and the kernels' rayon workers. This file holds a single test so nothing else in the process
//! allocates while it counts.

use infc::passes::OptLevel;
use infc::{CompileOptions, Plan, Session, TensorView};
use infc_conformance::load_fixture;
use infc_conformance::plan::{
    compile_fixture, compile_fixture_with, int8_options, options, runtime_dtype,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

fn note() {
    if COUNTING.load(Ordering::SeqCst) {
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

/// The fixture at -O3 with the quantization pass's selection lowered to INT8 (blocked convs run
/// as `QuantNchwcConv`, whose quantized input lives in planned arena scratch).
fn int8_o3_plan(f: &infc_conformance::Fixture) -> Plan {
    let opts = CompileOptions {
        int8: Some(int8_options(true, true)),
        ..options(OptLevel::O3)
    };
    compile_fixture_with(f, &opts).unwrap()
}

#[test]
fn fixture_plans_run_without_allocating_after_the_first_call() {
    // Two rayon workers even on a one-core CI box, so the parallel kernel paths are exercised.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build_global();
    for (name, int8) in [
        ("resnet_ts17", false),
        ("gpt2_ts17", false),
        ("distilbert_ts17", false),
        ("resnet_ts17", true),
    ] {
        let f = load_fixture(name);
        let plan = if int8 {
            int8_o3_plan(&f)
        } else {
            compile_fixture(&f, OptLevel::O3).unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        let session = Session::from_bytes(&plan.encode()).unwrap();
        let views: Vec<_> = f
            .inputs
            .iter()
            .map(|(n, t)| {
                (
                    n.as_str().into(),
                    TensorView::new(runtime_dtype(t.dtype), &t.shape, t.bytes().unwrap()),
                )
            })
            .collect();
        let mut storage: Vec<Vec<u8>> = session
            .outputs()
            .iter()
            .map(|o| vec![0u8; o.byte_len().unwrap() as usize])
            .collect();
        let mut slots: Vec<&mut [u8]> = storage.iter_mut().map(|o| o.as_mut_slice()).collect();
        // The first call may set up the arena; later calls must not allocate.
        session.run_into(&views, &mut slots).unwrap();
        let before = ALLOCS.load(Ordering::SeqCst);
        COUNTING.store(true, Ordering::SeqCst);
        for _ in 0..5 {
            session.run_into(&views, &mut slots).unwrap();
        }
        COUNTING.store(false, Ordering::SeqCst);
        let n = ALLOCS.load(Ordering::SeqCst) - before;
        assert_eq!(
            n, 0,
            "{name} (int8 {int8}): run_into allocated {n} times in 5 runs"
        );
    }
    range_plan_runs_without_allocating_once_each_shape_was_seen();
}

/// A range plan instantiates a shape on its first run (allocating); runs at shapes seen before,
/// alternating, allocate nothing.
fn range_plan_runs_without_allocating_once_each_shape_was_seen() {
    let model = infc_conformance::fixtures_dir().join("gpt2_ts17/model.onnx");
    let opts = CompileOptions {
        shapes: vec!["batch=1..3".into(), "sequence=1..16".into()],
        ..CompileOptions::default()
    };
    let plan = infc::compile(&model, &opts).unwrap();
    let session = Session::from_bytes(&plan.encode()).unwrap();
    let shapes = [[2usize, 8], [1, 5], [3, 16]];
    let ids: Vec<Vec<u8>> = shapes.iter().map(|s| vec![0u8; s[0] * s[1] * 8]).collect();
    let views: Vec<Vec<_>> = shapes
        .iter()
        .zip(&ids)
        .map(|(s, b)| {
            ["input_ids", "attention_mask"]
                .map(|n| (n.into(), TensorView::new(infc::DType::I64, s, b)))
                .to_vec()
        })
        .collect();
    let mut storage: Vec<Vec<Vec<u8>>> = views
        .iter()
        .map(|v| {
            session
                .outputs_for(v)
                .unwrap()
                .iter()
                .map(|o| vec![0u8; o.byte_len().unwrap() as usize])
                .collect()
        })
        .collect();
    let mut slots: Vec<Vec<&mut [u8]>> = storage
        .iter_mut()
        .map(|o| o.iter_mut().map(|b| b.as_mut_slice()).collect())
        .collect();
    for (v, out) in views.iter().zip(slots.iter_mut()) {
        session.run_into(v, out).unwrap();
    }
    let before = ALLOCS.load(Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    for _ in 0..3 {
        for (v, out) in views.iter().zip(slots.iter_mut()) {
            session.run_into(v, out).unwrap();
        }
    }
    COUNTING.store(false, Ordering::SeqCst);
    let n = ALLOCS.load(Ordering::SeqCst) - before;
    assert_eq!(
        n, 0,
        "range plan: run_into allocated {n} times in 9 runs at seen shapes"
    );
}
