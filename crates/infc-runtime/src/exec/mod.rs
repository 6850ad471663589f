//! The run loop: `for step in steps { match step { … } }`, each arm calling one executor (one file
//! per op family). Executors take the step, the memory regions and the ISA chosen at load, and
//! return a [`StepFault`] that the loop wraps with the step index, kind and node name.

mod attention;
mod cast;
mod elementwise;
mod int_pow;
mod linalg;
mod movement;
mod nchwc;
mod nn;
mod quant;
mod quant_nchwc;
mod scan;

use crate::control::Stop;
use crate::fault::StepFault;
use crate::mem::Mem;
use crate::RuntimeError;
use infc_kernels::int8::Int8Isa;
use infc_kernels::Isa;
use infc_plan::{PlanBody, Step};

pub(crate) fn run_steps(
    body: &PlanBody,
    isa: Isa,
    int8: Int8Isa,
    mem: &mut Mem<'_>,
    stop: &Stop<'_>,
) -> Result<(), RuntimeError> {
    for (index, step) in body.steps.iter().enumerate() {
        stop.check(index)?;
        if let Err(msg) = run_step(step, mem, isa, int8) {
            return Err(step_error(body, index, msg));
        }
    }
    Ok(())
}

/// Execute one step (the body of the run loop; the profiling loop in `profile.rs` times it).
#[inline(always)]
pub(crate) fn run_step(
    step: &Step,
    mem: &mut Mem<'_>,
    isa: Isa,
    int8: Int8Isa,
) -> Result<(), StepFault> {
    match step {
        Step::Unary(s) => elementwise::unary(s, mem, isa),
        Step::Binary(s) => elementwise::binary(s, mem, isa),
        Step::Where(s) => elementwise::where_(s, mem),
        Step::Cast(s) => cast::cast(s, mem),
        Step::Clip(s) => elementwise::clip(s, mem, isa),
        Step::Fill(s) => elementwise::fill(s, mem),
        Step::Range(s) => elementwise::range(s, mem),
        Step::Copy(s) => movement::copy(s, mem),
        Step::MatMul(s) => linalg::matmul(s, mem, isa),
        Step::Conv(s) => linalg::conv(s, mem, isa),
        Step::Attention(s) => attention::attention(s, mem, isa),
        Step::Pool(s) => nn::pool(s, mem, isa),
        Step::GlobalAvgPool(s) => nn::global_avg_pool(s, mem, isa),
        Step::BatchNorm(s) => nn::batch_norm(s, mem),
        Step::Softmax(s) => nn::softmax(s, mem, isa),
        Step::LayerNorm(s) => nn::layer_norm(s, mem, isa),
        Step::Reduce(s) => nn::reduce(s, mem, isa),
        Step::Gather(s) => movement::gather(s, mem),
        Step::GatherNd(s) => movement::gather_nd(s, mem),
        Step::Trilu(s) => movement::trilu(s, mem),
        Step::CumSum(s) => scan::cumsum(s, mem),
        Step::RmsNorm(s) => nn::rms_norm(s, mem),
        Step::QuantMatMul(s) => quant::matmul(s, mem, int8),
        Step::QuantConv(s) => quant::conv(s, mem, int8, isa),
        Step::QuantNchwcConv(s) => quant_nchwc::conv(s, mem, int8),
        Step::NchwcConv(s) => nchwc::conv(s, mem, isa),
        Step::Reorder(s) => nchwc::reorder(s, mem, isa),
        Step::NchwcMaxPool(s) => nchwc::max_pool(s, mem, isa),
    }
}

pub(crate) fn step_error(body: &PlanBody, index: usize, fault: StepFault) -> RuntimeError {
    let step = &body.steps[index];
    RuntimeError::Step {
        index,
        kind: step.kind(),
        node: body.step_names.get(index).cloned().unwrap_or_default(),
        fault,
    }
}

/// Load-time checks of what validation cannot know: kernel-specific sizes, supported dtypes and
/// the values of quantized weights (`consts` is the plan's constants blob).
pub(crate) fn prepare(step: &Step, consts: &[u8]) -> Result<(), StepFault> {
    match step {
        Step::QuantMatMul(s) => quant::check_matmul(s, consts),
        Step::QuantConv(s) => quant::check_conv(s, consts),
        Step::QuantNchwcConv(s) => quant_nchwc::check(s, consts),
        Step::Unary(s) => elementwise::check_unary(s),
        Step::Binary(s) => elementwise::check_binary(s),
        Step::MatMul(s) => linalg::check_matmul(s),
        Step::Conv(s) => linalg::conv_params(s).map(|_| ()),
        Step::Pool(s) => nn::pool_params(s).map(|_| ()),
        Step::NchwcConv(s) => nchwc::nchwc_conv_params(s).map(|_| ()),
        Step::NchwcMaxPool(s) => nchwc::max_pool_params(s).map(|_| ()),
        Step::Reduce(s) => match s.dtype {
            // As the reference interpreter: an integer mean of nothing has no value.
            infc_plan::DType::I64
                if s.op == infc_plan::ReduceKind::Mean
                    && s.red_shape.contains(&0)
                    && !s.out_shape.contains(&0) =>
            {
                Err("integer mean over an empty set".into())
            }
            infc_plan::DType::F32 | infc_plan::DType::I64 => Ok(()),
            d => Err(StepFault::Unsupported(format!("{d} reductions"))),
        },
        Step::Range(s) => match s.dtype {
            infc_plan::DType::F32 | infc_plan::DType::I64 | infc_plan::DType::I32 => Ok(()),
            d => Err(StepFault::Unsupported(format!("{d} ranges"))),
        },
        Step::Clip(_)
        | Step::Where(_)
        | Step::Cast(_)
        | Step::Fill(_)
        | Step::Copy(_)
        | Step::Attention(_)
        | Step::GlobalAvgPool(_)
        | Step::BatchNorm(_)
        | Step::Softmax(_)
        | Step::LayerNorm(_)
        | Step::Gather(_)
        | Step::GatherNd(_)
        | Step::Trilu(_)
        | Step::CumSum(_)
        | Step::RmsNorm(_)
        | Step::Reorder(_) => Ok(()),
    }
}

fn ke(e: infc_kernels::KernelError) -> StepFault {
    StepFault::Kernel(e)
}
