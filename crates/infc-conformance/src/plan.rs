//! Compiled-plan side of the differential tests: optimise a fixture's bound graph at an `-O`
//! level, lower it to a plan, encode it, load the bytes in a runtime `Session` with a forced ISA,
//! run the fixture's inputs and return the outputs as IR tensors (so [`crate::compare`] applies).

use crate::Fixture;
use infc_compile::{compile, CompileOptions, Plan};
use infc_ir::{DType, Graph, Tensor};
use infc_passes::{pipeline, run_pipeline, OptLevel, PassCx};
use infc_runtime::{Isa, Session, SessionOptions, TensorView};

/// Run the `-O` pipeline on `g` with the verifier after every pass.
pub fn optimise(g: &mut Graph, level: OptLevel) -> Result<PassCx, String> {
    let mut cx = PassCx::new();
    cx.verify_each = true;
    run_pipeline(g, &pipeline(level), &mut cx, |_, _, _| {}).map_err(|e| e.to_string())?;
    Ok(cx)
}

/// Run the `--int8` passes on an optimised `g` (verified after each): the quantization pass's
/// selection marked `@int8_per_row`/`@int8` (matmul activations per row or per tensor),
/// attention `@bf16` when asked, then the LayerNorms the per-row matmuls absorb. Returns how many
/// layers were marked INT8.
pub fn quantize(g: &mut Graph, per_row: bool, bf16_attention: bool) -> Result<usize, String> {
    let mut cx = PassCx::new();
    cx.verify_each = true;
    cx.int8 = Some(infc_passes::Int8Marking {
        exclude: Vec::new(),
        per_row,
        bf16_attention,
    });
    run_pipeline(g, &infc_passes::int8_passes(), &mut cx, |_, _, _| {})
        .map_err(|e| e.to_string())?;
    Ok(g.nodes.iter().filter(|n| n.precision.is_int8()).count())
}

/// Bound graph of `f`, optimised at `level`, compiled to a plan.
pub fn compile_fixture(f: &Fixture, level: OptLevel) -> Result<Plan, String> {
    let mut g = f.bound_graph()?;
    optimise(&mut g, level)?;
    compile(&g, &CompileOptions::default()).map_err(|e| format!("compile: {e}"))
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
    let raw: Vec<(&str, infc_runtime::DType, &[u8])> = inputs
        .iter()
        .map(|(n, t)| {
            let bytes = t.bytes().map_err(|e| format!("input {n}: {e}"))?;
            Ok((n.as_str(), runtime_dtype(t.dtype), bytes))
        })
        .collect::<Result<_, String>>()?;
    let views: Vec<_> = raw
        .iter()
        .zip(inputs)
        .map(|((n, d, b), (_, t))| ((*n).into(), TensorView::new(*d, &t.shape, b)))
        .collect();
    let outs = session.run(&views).map_err(|e| format!("run: {e}"))?;
    outs.into_iter()
        .map(|o| {
            let dtype = ir_dtype(o.dtype);
            Tensor::from_bytes(dtype, o.shape, infc_ir::Bytes::from_vec(o.data))
                .map_err(|e| format!("output {}: {e}", o.name))
        })
        .collect()
}

/// Same element type in the runtime's vocabulary.
pub fn runtime_dtype(d: DType) -> infc_runtime::DType {
    use infc_runtime::DType as R;
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
pub fn ir_dtype(d: infc_runtime::DType) -> DType {
    use infc_runtime::DType as R;
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
