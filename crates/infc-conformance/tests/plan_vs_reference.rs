//! Compiled plans reproduce both oracles on every fixture: at -O0 and -O3 (and the levels
//! between), with every ISA path this CPU supports forced in turn (portable always), the plan's
//! outputs match onnxruntime's saved outputs and the reference interpreter's outputs on the same
//! optimised graph.

use infc_conformance::plan::{compile_fixture, isas_under_test, run_plan};
use infc_conformance::{all_fixtures, compare, Fixture};
use infc_passes::OptLevel;

fn check_level(f: &Fixture, level: OptLevel) -> Result<(), String> {
    let reference = {
        let g = f.bound_graph()?;
        let inputs: Vec<_> = f
            .inputs
            .iter()
            .map(|(n, t)| (n.as_str().into(), t.clone()))
            .collect();
        infc_reference::run_graph(&g, &inputs).map_err(|e| e.to_string())?
    };
    let plan = compile_fixture(f, level)?;
    for isa in isas_under_test() {
        let outs = run_plan(&plan, isa, &f.inputs)?;
        if outs.len() != f.expected.len() {
            return Err(format!(
                "{isa:?}: {} outputs, expected {}",
                outs.len(),
                f.expected.len()
            ));
        }
        for (((name, want), got), refd) in f.expected.iter().zip(&outs).zip(&reference) {
            compare(&format!("{isa:?} {name} vs onnxruntime"), got, want)?;
            compare(&format!("{isa:?} {name} vs reference"), got, refd)?;
        }
    }
    Ok(())
}

fn check_all(level: OptLevel) {
    let fixtures = all_fixtures();
    assert!(fixtures.len() >= 10, "found {} fixtures", fixtures.len());
    let failures: Vec<String> = fixtures
        .iter()
        .filter_map(|f| {
            check_level(f, level)
                .err()
                .map(|e| format!("{} {level:?}: {e}", f.name))
        })
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
