//! Issue 19: the memory budget and the plan load modes. A session checks the plan copy, the arena
//! and the outputs of `run` against `max_memory` (default: physical memory) at load, before any of
//! them is allocated; `PlanLoad::Copy` holds the plan in memory so a file truncated or rewritten
//! while the session runs cannot touch it (a mapped plan would raise SIGBUS).

mod common;

use infc_runtime::{PlanLoad, RuntimeError, Session, SessionOptions, TensorView};

fn opts(max_memory: Option<u64>, load: PlanLoad) -> SessionOptions {
    SessionOptions {
        max_memory,
        load,
        ..Default::default()
    }
}

fn run_y(s: &Session) -> Vec<f32> {
    let x = common::input();
    let out = s
        .run(&[("x".into(), TensorView::f32(&[4, 8], &x))])
        .unwrap();
    out[0].to_f32_vec()
}

#[test]
fn a_copied_plan_survives_the_file_being_truncated_and_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.plan");
    std::fs::write(&path, common::plan().encode()).unwrap();
    let s = Session::load_with(&path, opts(None, PlanLoad::Copy)).unwrap();
    let before = run_y(&s);
    // In place: same inode, as a careless `cp new.plan p.plan` or a truncating writer does.
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    assert_eq!(run_y(&s), before);
    std::fs::write(&path, vec![0xa5u8; 1 << 16]).unwrap();
    assert_eq!(run_y(&s), before);
    assert_eq!(
        before,
        run_y(&Session::from_bytes(&common::plan().encode()).unwrap())
    );
}

#[test]
fn the_arena_is_checked_against_the_budget_at_load() {
    let bytes = common::plan().encode();
    let plan = Session::from_bytes(&bytes).unwrap();
    let arena = plan.plan().memory.arena_bytes;
    let copy = bytes.len() as u64;
    // Outputs of `run` counted beside the plan copy and arena.
    let outputs: u64 = plan.outputs().iter().map(|o| o.byte_len().unwrap()).sum();
    let just_enough = copy + arena + outputs;
    Session::from_bytes_with(&bytes, opts(Some(just_enough), PlanLoad::Map)).unwrap();
    let err = Session::from_bytes_with(&bytes, opts(Some(copy + arena - 1), PlanLoad::Map))
        .err()
        .unwrap();
    let msg = err.to_string();
    assert!(matches!(err, RuntimeError::MemoryBudget { .. }), "{msg}");
    assert!(
        msg.contains("the arena") && msg.contains(&arena.to_string()),
        "{msg}"
    );
    let err = Session::from_bytes_with(&bytes, opts(Some(just_enough - 1), PlanLoad::Map))
        .err()
        .unwrap();
    assert!(err.to_string().contains("the outputs"), "{err}");
}

#[test]
fn the_plan_copy_is_checked_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.plan");
    let bytes = common::plan().encode();
    std::fs::write(&path, &bytes).unwrap();
    let err = Session::load_with(&path, opts(Some(bytes.len() as u64 - 1), PlanLoad::Copy))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("the plan copy") && err.contains("(max_memory)"),
        "{err}"
    );
    // A mapped plan is not counted (page cache, shared, reclaimable): only the arena and outputs.
    let s = Session::load_with(&path, opts(Some(bytes.len() as u64 - 1), PlanLoad::Map)).unwrap();
    assert_eq!(s.resident_bytes(), s.plan().memory.arena_bytes);
    let e = s
        .check_memory("the inputs", u64::MAX)
        .unwrap_err()
        .to_string();
    assert!(e.contains("the inputs"), "{e}");
}

#[test]
fn only_regular_files_load() {
    let dir = tempfile::tempdir().unwrap();
    for load in [PlanLoad::Map, PlanLoad::Copy] {
        let err = Session::load_with(dir.path(), opts(None, load))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("cannot read plan"), "{err}");
    }
}
