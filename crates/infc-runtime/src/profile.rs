//! The profiling run loop: the same step dispatch as [`Session::run_into`], with every step
//! wrapped in `Instant::now()` / `elapsed()` and its wall time added to a [`StepTimes`]. It is a
//! separate loop so the normal one carries no timing cost. Also [`step_flops`], the arithmetic
//! work of the steps where a FLOP count means something (matrix products, convolutions,
//! attention), for GFLOP/s figures.

use crate::exec::{run_step, step_error};
use crate::session::{Lend, Sink};
use crate::tensor::TensorView;
use crate::{InputKey, RunOptions, RuntimeError, Session};
use infc_plan::Step;
use std::time::Instant;

/// Wall time per step, summed over the profiled runs (index = step index in the plan).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepTimes {
    pub nanos: Vec<u64>,
    /// How many runs the sums cover.
    pub runs: u64,
}

impl StepTimes {
    /// Zeroed times for every step of `session`'s plan.
    pub fn for_session(session: &Session) -> StepTimes {
        StepTimes {
            nanos: vec![0; session.plan().steps.len()],
            runs: 0,
        }
    }

    /// Mean nanoseconds of step `index` per run (0 before any run).
    pub fn mean_nanos(&self, index: usize) -> f64 {
        match (self.nanos.get(index), self.runs) {
            (Some(&n), r) if r > 0 => n as f64 / r as f64,
            _ => 0.0,
        }
    }

    /// Mean nanoseconds per run spent inside steps.
    pub fn mean_total_nanos(&self) -> f64 {
        if self.runs == 0 {
            return 0.0;
        }
        self.nanos.iter().map(|&n| n as f64).sum::<f64>() / self.runs as f64
    }

    pub fn clear(&mut self) {
        self.nanos.iter_mut().for_each(|n| *n = 0);
        self.runs = 0;
    }
}

impl Session {
    /// [`Session::run_into`] with each step timed into `times` (resized to the plan's step count
    /// if it does not match; no allocation otherwise).
    pub fn run_profiled_into(
        &self,
        inputs: &[(InputKey<'_>, TensorView<'_>)],
        outputs: &mut [&mut [u8]],
        times: &mut StepTimes,
    ) -> Result<(), RuntimeError> {
        self.run_profiled(inputs, Sink::Copy(outputs), times)
    }

    /// [`Session::run_with`] with each step timed into `times` (as [`Session::run_profiled_into`]).
    pub fn run_profiled_with<R>(
        &self,
        inputs: &[(InputKey<'_>, TensorView<'_>)],
        times: &mut StepTimes,
        f: impl FnOnce(&[TensorView<'_>]) -> R,
    ) -> Result<R, RuntimeError> {
        let mut lend = Lend::new(f);
        self.run_profiled(inputs, Sink::Lend(&mut |v| lend.call(v)), times)?;
        lend.result()
    }

    fn run_profiled(
        &self,
        inputs: &[(InputKey<'_>, TensorView<'_>)],
        sink: Sink<'_, '_>,
        times: &mut StepTimes,
    ) -> Result<(), RuntimeError> {
        let steps = self.plan().steps.len();
        if times.nanos.len() != steps {
            times.nanos.clear();
            times.nanos.resize(steps, 0);
            times.runs = 0;
        }
        let (isa, int8) = (self.isa(), self.int8_isa());
        let nanos = &mut times.nanos;
        let opts = RunOptions::default();
        self.run_into_with(inputs, sink, &opts, &mut |body, mem, stop| {
            for (index, (step, total)) in body.steps.iter().zip(nanos.iter_mut()).enumerate() {
                stop.check(index)?;
                let start = Instant::now();
                let r = run_step(step, mem, isa, int8);
                *total += start.elapsed().as_nanos() as u64;
                r.map_err(|msg| step_error(body, index, msg))?;
            }
            Ok(())
        })?;
        times.runs += 1;
        Ok(())
    }
}

fn conv_flops(n: u64, c_in: u64, c_out: u64, group: u64, kernel: [u64; 2], out: [u64; 2]) -> u64 {
    let per_out = (c_in / group.max(1))
        .saturating_mul(kernel[0])
        .saturating_mul(kernel[1]);
    2u64.saturating_mul(n)
        .saturating_mul(c_out)
        .saturating_mul(out[0])
        .saturating_mul(out[1])
        .saturating_mul(per_out)
}

/// Floating-point (or integer multiply-add) operations of one execution of `step`, counting a
/// multiply-add as 2; `None` for steps whose cost is memory traffic rather than arithmetic.
/// Attention counts Q·Kᵀ and P·V over the full score matrix (a causal mask skips about half).
pub fn step_flops(step: &Step) -> Option<u64> {
    // The conv steps share their geometry fields; `$group` is 1 for the blocked ones.
    macro_rules! conv {
        ($s:expr, $group:expr) => {
            Some(conv_flops(
                $s.n,
                $s.c_in,
                $s.c_out,
                $group,
                $s.window.kernel,
                [$s.oh, $s.ow],
            ))
        };
    }
    match step {
        Step::MatMul(s) => {
            let batch = s.batch_shape.iter().fold(1u64, |a, &d| a.saturating_mul(d));
            Some(
                2u64.saturating_mul(batch)
                    .saturating_mul(s.m)
                    .saturating_mul(s.n)
                    .saturating_mul(s.k),
            )
        }
        Step::QuantMatMul(s) => Some(
            2u64.saturating_mul(s.m)
                .saturating_mul(s.n)
                .saturating_mul(s.k),
        ),
        Step::Conv(s) => conv!(s, s.group),
        Step::QuantConv(s) => conv!(s, s.group),
        Step::NchwcConv(s) => conv!(s, 1),
        Step::QuantNchwcConv(s) => conv!(s, 1),
        Step::Attention(s) => Some(
            4u64.saturating_mul(s.batch)
                .saturating_mul(s.heads)
                .saturating_mul(s.sq)
                .saturating_mul(s.sk)
                .saturating_mul(s.d),
        ),
        _ => None,
    }
}

/// The op kind a profile groups by: the step kind, refined with the operator for elementwise and
/// reduction steps (`Binary.Add`, `Unary.Gelu`, `Reduce.Mean`).
pub fn step_op_kind(step: &Step) -> String {
    match step {
        Step::Unary(s) => format!("Unary.{:?}", s.op),
        Step::Binary(s) => format!("Binary.{:?}", s.op),
        Step::Reduce(s) => format!("Reduce.{:?}", s.op),
        other => other.kind().to_string(),
    }
}
