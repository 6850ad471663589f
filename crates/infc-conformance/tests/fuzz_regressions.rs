//! Replays the committed fuzz inputs through the bodies of the cargo-fuzz targets
//! (`infc_conformance::fuzz_entry`): every past crash, minimized, under
//! `fuzz/regressions/<target>/` and the minimized corpus sample under `fuzz/seeds/<target>/`.
//! A crash whose fix is still open lives in `fuzz/regressions/<target>/open/` and has an ignored
//! test of its own below until it is fixed (then the file moves up a directory).

use infc_conformance::fuzz_entry::{run_target, TARGETS};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files directly inside `dir` (none when it does not exist), sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

/// Run `target` on each file, then fail naming every file that panicked.
fn replay(target: &str, paths: &[PathBuf]) {
    let mut failed = Vec::new();
    for p in paths {
        let data = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        if catch_unwind(AssertUnwindSafe(|| run_target(target, &data))).is_err() {
            failed.push(p.display().to_string());
        }
    }
    assert!(failed.is_empty(), "{target} panicked on {failed:#?}");
}

/// Every committed crash and seed of `target` (not the open ones).
fn replay_committed(target: &str) {
    let mut paths = files(&fuzz_dir().join("regressions").join(target));
    paths.extend(files(&fuzz_dir().join("seeds").join(target)));
    replay(target, &paths);
}

#[test]
fn every_target_has_a_seed_directory() {
    for t in TARGETS {
        let seeds = files(&fuzz_dir().join("seeds").join(t));
        assert!(!seeds.is_empty(), "fuzz/seeds/{t}/ is empty");
    }
}

#[test]
fn onnx_compile_regressions_and_seeds() {
    replay_committed("onnx_compile");
}

#[test]
fn plan_decode_regressions_and_seeds() {
    replay_committed("plan_decode");
}

#[test]
fn plan_run_regressions_and_seeds() {
    replay_committed("plan_run");
}

#[test]
fn npy_read_regressions_and_seeds() {
    replay_committed("npy_read");
}

/// Replay one committed crash of `target`: `rel` is its path under `fuzz/regressions/<target>/`.
fn replay_file(target: &str, rel: &str) {
    replay(
        target,
        &[fuzz_dir().join("regressions").join(target).join(rel)],
    );
}

/// Replay one open crash of `target` (under `open/`, with an ignored test, while its fix is
/// pending; none is open now).
#[allow(dead_code)]
fn replay_open(target: &str, name: &str) {
    replay_file(target, &format!("open/{name}"));
}

/// The plan generator of `plan_run` must get past the validator often, for every step kind
/// (else the fuzzer only exercises the validator's error paths).
#[test]
fn generated_plans_validate_for_every_step_kind() {
    use infc_conformance::fuzz_entry::plan_gen::generate;
    use std::collections::BTreeMap;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut valid: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut total, mut ok) = (0, 0);
    for _ in 0..3000 {
        let data: Vec<u8> = (0..256).map(|_| next() as u8).collect();
        let case = generate(&data);
        total += 1;
        if let Ok(plan) = infc::plan_format::decode(&case.plan.encode()) {
            ok += 1;
            for s in &plan.body.steps {
                *valid.entry(s.kind()).or_default() += 1;
            }
        }
    }
    eprintln!("{ok} of {total} generated plans validate; steps by kind: {valid:?}");
    assert!(
        ok * 5 >= total,
        "only {ok} of {total} generated plans validate"
    );
    assert_eq!(valid.len(), 28, "kinds that never validated: {valid:?}");
}

// Fixed crashes of issue 19, each named (they are replayed with the others above too). The
// validator refuses a zero dim hiding a huge one (`MAX_ELEMENTS`), and executors and kernels do no
// work and size no buffer for an empty output.

/// GatherNd with batch 0 and slice_len 2^63 overflowed the slice's byte count (exec/movement.rs).
#[test]
fn fixed_gather_nd_slice_bytes_overflow() {
    replay_file("plan_run", "gather_nd_slice_bytes_overflow");
}

/// GatherNd with batch 0 and an index dim of 2^63 overflowed the index count (exec/movement.rs).
#[test]
fn fixed_gather_nd_index_count_overflow() {
    replay_file("plan_run", "gather_nd_index_count_overflow");
}

/// An f32 Reduce over a [2^63, 3] reduction (stride 0) overflowed the element count (exec/nn.rs).
#[test]
fn fixed_reduce_count_overflow() {
    replay_file("plan_run", "reduce_count_overflow");
}

/// NchwcConv of an input of height 0 underflowed in the kernel's interior window
/// (conv_nchwc/direct.rs).
#[test]
fn fixed_nchwc_conv_empty_input() {
    replay_file("plan_run", "nchwc_conv_empty_input");
}

/// Pool with 0 channels and a 2^61 output width sized a Vec of taps by the width (kernels/pool.rs).
#[test]
fn fixed_pool_taps_capacity_overflow() {
    replay_file("plan_run", "pool_taps_capacity_overflow");
}

/// MaxPool of an empty tensor with a huge output sized a Vec of taps by the output
/// (kernels/pool.rs max_pool2d).
#[test]
fn fixed_max_pool_taps_capacity_overflow() {
    replay_file("plan_run", "max_pool_taps_capacity_overflow");
}

/// Gather with 0 indices and 2^63 outer rows looped over every (empty) row (exec/movement.rs).
#[test]
fn fixed_gather_empty_rows_hang() {
    replay_file("plan_run", "gather_empty_rows_hang");
}

/// QuantMatMul with an empty output inside its scratch range underflowed splitting the arena for
/// its two outputs (runtime mem.rs io2).
#[test]
fn fixed_quant_matmul_empty_output_split() {
    replay_file("plan_run", "quant_matmul_empty_output_split");
}

/// MatMul with an empty matrix (m·n = 0) and a huge batch overflowed the batch stride product in
/// the runtime (exec/linalg.rs); the validator now counts the output over batch, m and n together.
#[test]
fn fixed_matmul_batch_count_overflow() {
    replay_file("plan_run", "matmul_batch_count_overflow");
}
