//! The validator and the kernels agree on degenerate dims (issue 19, row 3 and the zero-size
//! tensors bullet). For every step kind with dims, one-step plans with a valid checksum are built
//! for every combination of each dim in {0, 1, 2}, each operand in its own arena slot, weights
//! of the size the kernel layout asks for (all zero) and a bias of known values. Each plan must
//! either be refused at load with an error naming the step, or load and run on every ISA path
//! without panicking. Weights are zero, so every matmul and conv output is its epilogue on a zero
//! product: the bias (`k = 0` and `c_in = 0` included), which is checked too. A QuantMatMul with
//! `k = 0` and a QuantConv with `c_in = 0` panicked (`chunk size must be non-zero`).

use infc_plan::*;
use infc_runtime::{Isa, Session, SessionOptions};
use std::panic::{catch_unwind, AssertUnwindSafe};

#[path = "degenerate_dims/hidden.rs"]
mod hidden;
#[path = "degenerate_dims/steps.rs"]
mod steps;
use steps::{Case, BIAS, SLOT, SLOTS};

/// Bias values of the constants blob: `bias[j] = j + 1`.
fn bias_value(j: usize) -> f32 {
    j as f32 + 1.0
}

/// The one-step plan of `case`: constants = zero weights (padded to [`BIAS`]), then the bias.
fn plan(case: &Case) -> Plan {
    assert!(
        case.weight_bytes <= BIAS,
        "{}: weights too large",
        case.name
    );
    let mut consts = vec![0u8; BIAS as usize];
    consts.extend((0..1024).flat_map(|j| bias_value(j).to_le_bytes()));
    let outputs = case
        .output
        .iter()
        .map(|&(len, dtype)| IoDesc {
            name: "y".into(),
            dtype,
            shape: vec![len],
            at: case.y_at(),
        })
        .collect();
    Plan {
        body: PlanBody {
            producer: "degenerate dims test".into(),
            required_features: 0,
            inputs: vec![],
            outputs,
            step_names: vec![case.name.clone()],
            steps: vec![case.step.clone()],
            memory: MemoryPlan {
                arena_bytes: SLOTS * SLOT,
                intermediates_bytes: SLOTS * SLOT,
                lower_bound_bytes: 0,
                entries: vec![],
            },
            provenance: Vec::new(),
            range: None,
        },
        consts,
    }
}

/// Load and run `case` on `isa`; `Ok(None)` when refused at load (with an error naming the
/// step), `Ok(Some(y))` with the output's values, `Err` for a panic or a failed run.
fn run(case: &Case, bytes: &[u8], isa: Isa) -> Result<Option<Vec<f32>>, String> {
    let opts = SessionOptions {
        isa: Some(isa),
        ..Default::default()
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let session = match Session::from_bytes_with(bytes, opts) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e.to_string())),
        };
        session
            .run(&[])
            .map(|o| Ok(o.first().map(|t| t.to_f32_vec()).unwrap_or_default()))
            .map_err(|e| format!("run failed: {e}"))
    }));
    match outcome {
        Err(p) => Err(format!(
            "panicked: {}",
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        )),
        Ok(Err(e)) => Err(e),
        Ok(Ok(Err(refused))) => {
            let kind = case.step.kind();
            if refused.contains(kind) || refused.contains(&case.name) {
                Ok(None)
            } else {
                Err(format!("refused without naming the step: {refused}"))
            }
        }
        Ok(Ok(Ok(y))) => Ok(Some(y)),
    }
}

#[test]
fn every_step_kind_on_dims_0_1_2_is_refused_or_runs() {
    let mut failures = Vec::new();
    let mut counts = [0usize; 2];
    for case in steps::cases() {
        let bytes = plan(&case).encode();
        if let Err(e) = infc_plan::decode(&bytes) {
            let msg = e.to_string();
            if !msg.contains(case.step.kind()) {
                failures.push(format!(
                    "{}: invalid without naming the step: {msg}",
                    case.name
                ));
            }
            counts[0] += 1;
            continue;
        }
        counts[1] += 1;
        let gather = matches!(case.step, Step::Gather(_) | Step::GatherNd(_));
        for isa in Isa::supported() {
            match run(&case, &bytes, isa) {
                // Index data the zero-filled arena makes invalid: a clean, data-dependent error.
                Err(e) if gather && e.contains("out of bounds") => {}
                Err(e) => failures.push(format!("{} on {isa:?}: {e}", case.name)),
                Ok(None) => {}
                Ok(Some(y)) => {
                    if let Some(b) = case.bias_at {
                        let want = |i| bias_value(b.index(i));
                        let bad = y.iter().enumerate().find(|&(i, &v)| v != want(i));
                        if let Some((i, v)) = bad {
                            failures.push(format!(
                                "{} on {isa:?}: y[{i}] = {v}, want the bias {}",
                                case.name,
                                want(i)
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of the cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(counts[1] > 1000, "too few valid cases: {counts:?}");
}

/// The two cases of the audit, by name: both now load, run and give the bias.
#[test]
fn quant_matmul_k0_and_quant_conv_cin0_give_the_bias() {
    let cases = steps::cases();
    for name in [
        "QuantMatMul m=2 n=2 k=0 per_row=true",
        "QuantMatMul m=2 n=2 k=0 per_row=false",
        "QuantMatMul m=2 n=2 k=0 pre_norm",
        "QuantConv n=2 c_in=0 c_out=2 h=1 w=1 kernel=3",
        "QuantConv n=2 c_in=0 c_out=2 h=1 w=1 kernel=1",
    ] {
        let case = cases.iter().find(|c| c.name == name).expect(name);
        let bytes = plan(case).encode();
        infc_plan::decode(&bytes).expect("valid plan");
        let y = run(case, &bytes, Isa::Portable)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .unwrap_or_else(|| panic!("{name}: refused at load"));
        let b = case.bias_at.expect("has a bias");
        let want: Vec<f32> = (0..y.len()).map(|i| bias_value(b.index(i))).collect();
        assert_eq!((y.len(), y), (4, want), "{name}");
    }
}

/// A zero dim does not hide huge other dims: the steps of [`hidden::refused`] (the `plan_run`
/// fuzzer's crashes and the same products in the other step kinds) fail validation naming the step.
#[test]
fn a_zero_dim_does_not_hide_huge_ones() {
    let mut failures = Vec::new();
    for case in hidden::refused() {
        match infc_plan::decode(&plan(&case).encode()) {
            Ok(_) => failures.push(format!("{}: accepted", case.name)),
            Err(e) if !e.to_string().contains(case.step.kind()) => failures.push(format!(
                "{}: refused without naming the step: {e}",
                case.name
            )),
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The valid empty steps of [`hidden::empty_runs`] (other dims up to 2^40) load and run on every
/// ISA path at once: no loop over the rows of an empty tensor, no buffer sized by a dim (a 2^40
/// Gather looped for hours, a 2^40-wide Pool aborted allocating its taps, an NCHWc conv of an
/// empty input underflowed). The conv's output is its bias.
#[test]
fn empty_steps_with_huge_dims_run_at_once() {
    let start = std::time::Instant::now();
    let mut failures = Vec::new();
    for case in hidden::empty_runs() {
        let bytes = plan(&case).encode();
        if let Err(e) = infc_plan::decode(&bytes) {
            failures.push(format!("{}: refused: {e}", case.name));
            continue;
        }
        for isa in Isa::supported() {
            match run(&case, &bytes, isa) {
                Err(e) => failures.push(format!("{} on {isa:?}: {e}", case.name)),
                Ok(None) => failures.push(format!("{} on {isa:?}: refused at load", case.name)),
                Ok(Some(y)) => {
                    let want: Vec<f32> = match (case.bias_at, case.output) {
                        (Some(b), Some((n, _))) => {
                            (0..n as usize).map(|i| bias_value(b.index(i))).collect()
                        }
                        _ => Vec::new(),
                    };
                    if y != want {
                        failures.push(format!("{} on {isa:?}: {y:?}, want {want:?}", case.name));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
}
