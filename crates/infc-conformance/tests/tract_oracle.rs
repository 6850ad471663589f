//! tract, in process, as a second oracle: for every fixture tract's outputs on the same inputs agree
//! with our reference interpreter's.

use infc::ir::{DType, Tensor};
use infc_conformance::{all_fixtures, compare, Fixture};
use tract_onnx::prelude::*;

fn to_tract(t: &Tensor) -> TractResult<tract_onnx::prelude::Tensor> {
    let shape = t.shape.clone();
    Ok(match t.dtype {
        DType::F32 => tract_ndarray::ArrayD::from_shape_vec(shape, t.view::<f32>()?.into_owned())?
            .into_tensor(),
        DType::I64 => tract_ndarray::ArrayD::from_shape_vec(shape, t.view::<i64>()?.into_owned())?
            .into_tensor(),
        DType::I32 => tract_ndarray::ArrayD::from_shape_vec(shape, t.view::<i32>()?.into_owned())?
            .into_tensor(),
        other => anyhow::bail!("no tract conversion for {other}"),
    })
}

fn from_tract(t: &tract_onnx::prelude::Tensor) -> TractResult<Tensor> {
    let t = t.cast_to::<f32>()?;
    let shape = t.shape().to_vec();
    let data: Vec<f32> = t.to_plain_array_view::<f32>()?.iter().copied().collect();
    Ok(Tensor::from_vec(shape, data)?)
}

fn run_tract(f: &Fixture) -> TractResult<Vec<Tensor>> {
    // Exporters write symbolic value_info for intermediates (and outputs); with concrete input facts
    // tract cannot unify those, so it is told to ignore them and infer every shape itself.
    let mut model = tract_onnx::onnx()
        .with_ignore_value_info(true)
        .with_ignore_output_shapes(true)
        .model_for_path(f.model_path())?;
    for (i, (_, t)) in f.inputs.iter().enumerate() {
        let fact = match t.dtype {
            DType::F32 => f32::fact(&t.shape),
            DType::I64 => i64::fact(&t.shape),
            DType::I32 => i32::fact(&t.shape),
            other => anyhow::bail!("no tract fact for {other}"),
        };
        model = model.with_input_fact(i, fact.into())?;
    }
    let runnable = model.into_optimized()?.into_runnable()?;
    let inputs: TVec<TValue> = f
        .inputs
        .iter()
        .map(|(_, t)| to_tract(t).map(|t| t.into()))
        .collect::<TractResult<_>>()?;
    let outs = runnable.run(inputs)?;
    outs.iter().map(|o| from_tract(o)).collect()
}

#[test]
fn tract_agrees_with_reference_interpreter() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for f in all_fixtures() {
        let tract_out = match run_tract(&f) {
            Ok(o) => o,
            Err(e) => {
                failures.push(format!("{}: tract failed: {e:#}", f.name));
                continue;
            }
        };
        let g = f
            .bound_graph()
            .unwrap_or_else(|e| panic!("{}: {e}", f.name));
        let inputs: Vec<_> = f
            .inputs
            .iter()
            .map(|(n, t)| (n.as_str().into(), t.clone()))
            .collect();
        let ours =
            infc::reference::run_graph(&g, &inputs).unwrap_or_else(|e| panic!("{}: {e}", f.name));
        for (((name, _), got), want) in f.expected.iter().zip(&ours).zip(&tract_out) {
            if let Err(e) = compare(name, got, want) {
                failures.push(format!("{}: vs tract: {e}", f.name));
            }
        }
        checked += 1;
    }
    assert!(checked > 0);
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}
