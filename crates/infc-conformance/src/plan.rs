//! Compiled-plan side of the differential tests, on the facade: a fixture imported, bound to the
//! shapes of its saved inputs and optimised at an `-O` level ([`infc::optimise_graph`], with the
//! verifier after every pass), optionally marked INT8, lowered ([`infc::lower`]), encoded, loaded
//! in a [`Session`] with a forced ISA and run; the outputs come back as IR tensors (so
//! [`crate::compare`] applies).

use crate::Fixture;
use infc::ir::{DType, Graph, Tensor};
use infc::passes::{OptLevel, DEFAULT_NCHWC_BLOCK};
use infc::{full_message, CompileOptions, FusionLog, Int8Options, Isa, Plan, Session};
use infc::{SessionOptions, TensorView};
use std::path::Path;

/// The facade's options at `level` as the tests use them: the verifier after every pass, and the
/// passes' default NCHWc block (16) whatever this machine's vector width, so every machine
/// checks the same graphs.
pub fn options(level: OptLevel) -> CompileOptions {
    CompileOptions {
        opt_level: level as u8,
        nchwc_block: Some(DEFAULT_NCHWC_BLOCK),
        verify_each: true,
        ..CompileOptions::default()
    }
}

/// `--int8` marking every layer the quantization pass selects (no exclusion, no budget), matmul
/// activations per row or per tensor, attention in bf16 when asked.
pub fn int8_options(per_row: bool, bf16_attention: bool) -> Int8Options {
    Int8Options {
        per_row,
        bf16_attention,
        ..Int8Options::default()
    }
}

/// `--shape NAME=D0xD1x…` for every input of `inputs` (a scalar has no dim to bind).
pub fn shape_flags(inputs: &[(String, Tensor)]) -> Vec<String> {
    inputs
        .iter()
        .filter(|(_, t)| !t.shape.is_empty())
        .map(|(n, t)| {
            let dims: Vec<String> = t.shape.iter().map(|d| d.to_string()).collect();
            format!("{n}={}", dims.join("x"))
        })
        .collect()
}

/// Import `model` and run the facade's pipeline with `opts`, every input bound to the shape of
/// its tensor in `inputs` (the shape sub-graphs folded and dead code dropped).
pub fn optimise_model(
    model: &Path,
    inputs: &[(String, Tensor)],
    opts: &CompileOptions,
) -> Result<Graph, String> {
    let g = infc::import(model).map_err(|e| full_message(&e))?;
    let opts = CompileOptions {
        shapes: shape_flags(inputs),
        ..opts.clone()
    };
    infc::optimise_graph(g, &opts, |_, _, _| {})
        .map(|o| o.graph)
        .map_err(|e| full_message(&e))
}

/// Run the facade's pipeline with `opts` on `g` in place.
pub fn optimise_with(g: &mut Graph, opts: &CompileOptions) -> Result<FusionLog, String> {
    let o = infc::optimise_graph(std::mem::take(g), opts, |_, _, _| {})
        .map_err(|e| full_message(&e))?;
    *g = o.graph;
    Ok(o.log)
}

/// Run the `-O` pipeline on `g` with the verifier after every pass ([`options`]).
pub fn optimise(g: &mut Graph, level: OptLevel) -> Result<FusionLog, String> {
    optimise_with(g, &options(level))
}

/// Mark an optimised `g` INT8 (verified after each pass): the quantization pass's selection
/// marked `@int8_per_row`/`@int8` (matmul activations per row or per tensor), attention `@bf16`
/// when asked, then the LayerNorms the per-row matmuls absorb. Returns how many layers were
/// marked INT8.
pub fn quantize(g: &mut Graph, per_row: bool, bf16_attention: bool) -> Result<usize, String> {
    let opts = CompileOptions {
        int8: Some(int8_options(per_row, bf16_attention)),
        // The -O passes already ran: only the INT8 ones.
        ..options(OptLevel::O0)
    };
    optimise_with(g, &opts)?;
    Ok(g.nodes.iter().filter(|n| n.precision.is_int8()).count())
}

/// Lower an optimised graph to a plan.
pub fn lower(g: &Graph) -> Result<Plan, String> {
    infc::lower(g).map_err(|e| format!("compile: {}", full_message(&e)))
}

/// `f` bound and optimised with `opts`, compiled to a plan.
pub fn compile_fixture_with(f: &Fixture, opts: &CompileOptions) -> Result<Plan, String> {
    lower(&f.optimised(opts)?)
}

/// `f` bound, optimised at `level` ([`options`]), compiled to a plan.
pub fn compile_fixture(f: &Fixture, level: OptLevel) -> Result<Plan, String> {
    compile_fixture_with(f, &options(level))
}

/// The runtime's views of `inputs` (by name), borrowing their bytes.
pub fn views(
    inputs: &[(String, Tensor)],
) -> Result<Vec<(infc::InputKey<'_>, TensorView<'_>)>, String> {
    inputs
        .iter()
        .map(|(n, t)| {
            let bytes = t.bytes().map_err(|e| format!("input {n}: {e}"))?;
            let view = TensorView::new(runtime_dtype(t.dtype), &t.shape, bytes);
            Ok((n.as_str().into(), view))
        })
        .collect()
}

/// Run `inputs` (by name) on `session` and convert the outputs.
pub fn run_session(session: &Session, inputs: &[(String, Tensor)]) -> Result<Vec<Tensor>, String> {
    let outs = session
        .run(&views(inputs)?)
        .map_err(|e| format!("run: {e}"))?;
    outs.into_iter()
        .map(|o| {
            let dtype = ir_dtype(o.dtype);
            Tensor::from_bytes(dtype, o.shape, infc::ir::Bytes::from_vec(o.data))
                .map_err(|e| format!("output {}: {e}", o.name))
        })
        .collect()
}

/// Encode `plan`, load it with `isa` forced, run `inputs` (by name) and convert the outputs.
pub fn run_plan(plan: &Plan, isa: Isa, inputs: &[(String, Tensor)]) -> Result<Vec<Tensor>, String> {
    let bytes = plan.encode();
    let session = Session::from_bytes_with(
        &bytes,
        SessionOptions {
            isa: Some(isa),
            ..Default::default()
        },
    )
    .map_err(|e| format!("load: {e}"))?;
    run_session(&session, inputs)
}

/// Same element type in the runtime's vocabulary.
pub fn runtime_dtype(d: DType) -> infc::DType {
    use infc::DType as R;
    match d {
        DType::F32 => R::F32,
        DType::F16 => R::F16,
        DType::I64 => R::I64,
        DType::I32 => R::I32,
        DType::I8 => R::I8,
        DType::U8 => R::U8,
        DType::Bool => R::Bool,
    }
}

/// Same element type in the IR's vocabulary.
pub fn ir_dtype(d: infc::DType) -> DType {
    use infc::DType as R;
    match d {
        R::F32 => DType::F32,
        R::F16 => DType::F16,
        R::I64 => DType::I64,
        R::I32 => DType::I32,
        R::I8 => DType::I8,
        R::U8 => DType::U8,
        R::Bool => DType::Bool,
    }
}

/// The ISA paths every machine tests: every path this CPU supports (portable always, then AVX2+FMA
/// and AVX-512 where present).
pub fn isas_under_test() -> Vec<Isa> {
    Isa::supported()
}
