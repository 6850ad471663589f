//! Compiled plans reproduce both oracles on every fixture: at -O0 and -O3 (and the levels
//! between), with every ISA path this CPU supports forced in turn (portable always), the plan's
//! outputs match onnxruntime's saved outputs and the reference interpreter's outputs on the same
//! optimised graph. Every input set of a fixture is run: the main inputs and each extra case under
//! `cases/` (the padded-mask cases of the transformer fixtures), on the same compiled plan.

use infc::ir::{Graph, Tensor};
use infc::passes::OptLevel;
use infc::{Isa, Plan};
use infc_conformance::plan::{compile_fixture, isas_under_test, run_plan};
use infc_conformance::{all_fixtures, compare, Fixture, InputSet};

fn check_isa(plan: &Plan, isa: Isa, set: &InputSet, reference: &[Tensor]) -> Result<(), String> {
    let outs = run_plan(plan, isa, set.inputs)?;
    if outs.len() != set.expected.len() {
        return Err(format!(
            "{isa:?}: {} outputs, expected {}",
            outs.len(),
            set.expected.len()
        ));
    }
    for (((name, want), got), refd) in set.expected.iter().zip(&outs).zip(reference) {
        compare(&format!("{isa:?} {name} vs onnxruntime"), got, want)?;
        compare(&format!("{isa:?} {name} vs reference"), got, refd)?;
    }
    Ok(())
}

/// The reference interpreter on `g`, then the plan on every ISA path (all of them, even after one
/// fails, so the message says which paths are affected).
fn check_set(g: &Graph, plan: &Plan, set: &InputSet) -> Result<(), String> {
    let reference = {
        let inputs: Vec<_> = set
            .inputs
            .iter()
            .map(|(n, t)| (n.as_str().into(), t.clone()))
            .collect();
        infc::reference::run_graph(g, &inputs).map_err(|e| e.to_string())?
    };
    let failed: Vec<String> = isas_under_test()
        .into_iter()
        .filter_map(|isa| check_isa(plan, isa, set, &reference).err())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("\n    "))
    }
}

/// One failure line per input set of `f` that fails at `level` (one for the fixture when it does
/// not compile).
fn check_level(f: &Fixture, level: OptLevel) -> Vec<String> {
    let prepared = f
        .bound_graph()
        .and_then(|g| Ok((g, compile_fixture(f, level)?)));
    let (g, plan) = match prepared {
        Ok(p) => p,
        Err(e) => return vec![format!("{} {level:?}: {e}", f.name)],
    };
    f.input_sets()
        .iter()
        .filter_map(|set| {
            check_set(&g, &plan, set)
                .err()
                .map(|e| format!("{} {level:?}: {e}", set.label))
        })
        .collect()
}

fn check_all(level: OptLevel) {
    let fixtures = all_fixtures();
    assert!(fixtures.len() >= 10, "found {} fixtures", fixtures.len());
    let cases: usize = fixtures.iter().map(|f| f.cases.len()).sum();
    assert!(cases >= 24, "found {cases} extra input sets under cases/");
    let failures: Vec<String> = fixtures
        .iter()
        .flat_map(|f| check_level(f, level))
        .collect();
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

#[test]
fn plans_match_oracles_at_o0() {
    check_all(OptLevel::O0);
}

#[test]
fn plans_match_oracles_at_o1() {
    check_all(OptLevel::O1);
}

#[test]
fn plans_match_oracles_at_o2() {
    check_all(OptLevel::O2);
}

#[test]
fn plans_match_oracles_at_o3() {
    check_all(OptLevel::O3);
}
