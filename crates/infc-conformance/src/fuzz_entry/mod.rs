//! The bodies of the cargo-fuzz targets in `fuzz/` (one function per target, bytes in, panic on a
//! bug), kept in library code so `tests/fuzz_regressions.rs` replays every committed crash and
//! corpus sample through exactly what the fuzzer ran.
//!
//! - [`onnx_compile`]: bytes → ONNX import → every symbolic dim bound → `-O3` → plan → encode
//!   (the facade's `import_bytes`, `optimise_graph` and `lower`); a plan the compiler wrote must
//!   decode.
//! - [`plan_decode`]: raw bytes (as-is and with the checksum rewritten) → decode + validate →
//!   re-encode round trip → session load.
//! - [`plan_run`]: structure-aware ([`plan_gen`]): a well-formed plan with a valid checksum and
//!   random fields for any step kinds, decoded, loaded and run on generated inputs.
//! - [`npy_read`]: the CLI's `.npy` parser.
//!
//! Inputs whose declared memory exceeds [`MAX_BYTES`] are skipped before anything is allocated,
//! so the fuzzer reports crashes, not the machine running out of memory.

pub mod plan_gen;
mod steps;
mod steps_nn;

use infc::ir::Dim;
use infc::passes::{OptLevel, DEFAULT_NCHWC_BLOCK};
use infc::plan_format::{decode, rewrite_checksum};
use infc::{CompileOptions, Session, SessionOptions, TensorView};

/// Largest arena, constants blob or input a fuzz iteration may declare (64 MiB).
pub const MAX_BYTES: u64 = 64 << 20;

/// The fuzz targets, by name: the directories under `fuzz/regressions/` and `fuzz/seeds/`.
pub const TARGETS: [&str; 4] = ["onnx_compile", "plan_decode", "plan_run", "npy_read"];

/// Run target `name` on `data` (panics on an unknown name).
pub fn run_target(name: &str, data: &[u8]) {
    match name {
        "onnx_compile" => onnx_compile(data),
        "plan_decode" => plan_decode(data),
        "plan_run" => plan_run(data),
        "npy_read" => npy_read(data),
        _ => panic!("unknown fuzz target {name}"),
    }
}

/// Size every symbolic dim of a graph input gets (small, so shape sub-graphs fold quickly).
const SYMBOL_SIZE: usize = 2;

/// Import `data` as an ONNX model, bind every symbolic input dim to 2, optimise at `-O3`,
/// compile and encode, all through the facade; the encoded plan must decode. Errors anywhere
/// before are fine.
pub fn onnx_compile(data: &[u8]) {
    let Ok(g) = infc::import_bytes(data) else {
        return;
    };
    let mut shapes: Vec<String> = Vec::new();
    for &v in &g.inputs {
        for d in g.ty(v).shape.dims() {
            if let Dim::Sym(s) = d {
                let flag = format!("{s}={SYMBOL_SIZE}");
                if !shapes.contains(&flag) {
                    shapes.push(flag);
                }
            }
        }
    }
    let opts = CompileOptions {
        opt_level: OptLevel::O3 as u8,
        shapes,
        // The passes' default block and the verifier in debug builds, as `PassCx::new` has them.
        nchwc_block: Some(DEFAULT_NCHWC_BLOCK),
        verify_each: cfg!(debug_assertions),
        ..CompileOptions::default()
    };
    let Ok(o) = infc::optimise_graph(g, &opts, |_, _, _| {}) else {
        return;
    };
    let Ok(plan) = infc::lower(&o.graph) else {
        return;
    };
    let bytes = plan.encode();
    if let Err(e) = decode(&bytes) {
        panic!("a compiled plan does not decode: {e}");
    }
}

/// Decode `data` as a plan, as-is and with its checksum rewritten (so the structural validators
/// behind the checksum are reached); a plan that decodes must re-encode to bytes that decode and
/// re-encode identically, and loading it in a session must not panic.
pub fn plan_decode(data: &[u8]) {
    let _ = decode(data);
    let mut fixed = data.to_vec();
    rewrite_checksum(&mut fixed);
    if let Ok(plan) = decode(&fixed) {
        // Compared as bytes: float payloads may be NaN.
        let bytes = plan.encode();
        let again = decode(&bytes).expect("re-encoded plan decodes");
        assert_eq!(again.encode(), bytes);
        let _ = Session::from_bytes(&bytes);
    }
}

/// Generate a checksum-valid plan from `data` ([`plan_gen::generate`]), load it and, when it
/// validates and fits [`MAX_BYTES`], run it on the generated inputs. Any error is fine.
pub fn plan_run(data: &[u8]) {
    let case = plan_gen::generate(data);
    let bytes = case.plan.encode();
    let opts = SessionOptions {
        isa: Some(case.isa),
        ..Default::default()
    };
    let Ok(session) = Session::from_bytes_with(&bytes, opts) else {
        return;
    };
    let session = session.with_int8_isa(case.int8_isa);
    if session.plan().memory.arena_bytes > MAX_BYTES {
        return;
    }
    let shapes: Vec<Vec<usize>> = session
        .inputs()
        .iter()
        .map(|d| d.shape.iter().map(|&s| s as usize).collect())
        .collect();
    let mut data = Vec::with_capacity(shapes.len());
    for d in session.inputs() {
        let len = d.byte_len().unwrap_or(u64::MAX);
        if len > MAX_BYTES {
            return;
        }
        data.push(case.input_bytes(len as usize));
    }
    let views: Vec<_> = session
        .inputs()
        .iter()
        .zip(&shapes)
        .zip(&data)
        .map(|((d, s), b)| (d.name.as_str().into(), TensorView::new(d.dtype, s, b)))
        .collect();
    let _ = session.run(&views);
}

/// Parse `data` with the CLI's `.npy` reader, from memory and (as `infc run --input` does) from a
/// file; a parsed array's bytes must match its type and shape, and both paths must agree.
pub fn npy_read(data: &[u8]) {
    let parsed = infc_cli::npy_io::parse_npy(data);
    let path = std::env::temp_dir().join(format!("infc-fuzz-{}.npy", std::process::id()));
    let read = match std::fs::write(&path, data) {
        Ok(()) => Some(infc_cli::npy_io::read_npy(&path)),
        Err(_) => None,
    };
    let _ = std::fs::remove_file(&path);
    if let Ok(arr) = &parsed {
        if let Some(dt) = arr.dtype {
            let n: usize = arr.shape.iter().product();
            assert_eq!(arr.data.len(), n * dt.size(), "{}", arr.type_string());
        }
    }
    if let Some(read) = read {
        match (&parsed, &read) {
            (Ok(a), Ok(b)) => assert!(
                a.dtype == b.dtype && a.shape == b.shape && a.data == b.data,
                "parse_npy and read_npy disagree"
            ),
            (Err(_), Err(_)) => {}
            (a, b) => panic!(
                "parse_npy {} but read_npy {}",
                if a.is_ok() { "accepts" } else { "refuses" },
                if b.is_ok() { "accepts" } else { "refuses" }
            ),
        }
    }
}
