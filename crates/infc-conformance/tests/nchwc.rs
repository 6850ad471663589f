//! The -O3 NCHWc layout on the ResNet fixtures: every conv becomes a blocked conv, MaxPool runs
//! blocked, one reorder leaves the blocked region; the blocked IR (reference interpreter) and the
//! compiled plan (every ISA path this CPU has, blocks 16 and 8) reproduce onnxruntime's outputs.

use infc::ir::Graph;
use infc::passes::OptLevel;
use infc::reference::InputKey;
use infc::CompileOptions;
use infc_conformance::plan::{isas_under_test, lower, options, run_plan};
use infc_conformance::{all_fixtures, compare, Fixture};

fn resnets() -> Vec<Fixture> {
    let f: Vec<_> = all_fixtures()
        .into_iter()
        .filter(|f| f.meta.family == "resnet")
        .collect();
    assert!(f.len() >= 4, "found {} resnet fixtures", f.len());
    f
}

fn at_o3(f: &Fixture, block: usize) -> Graph {
    let opts = CompileOptions {
        nchwc_block: Some(block),
        ..options(OptLevel::O3)
    };
    f.optimised(&opts)
        .unwrap_or_else(|e| panic!("{}: {e}", f.name))
}

fn count(g: &Graph, op: &str) -> usize {
    g.op_counts()
        .iter()
        .find(|(o, _)| *o == op)
        .map_or(0, |&(_, n)| n)
}

#[test]
fn o3_runs_the_whole_conv_stack_blocked() {
    for f in resnets() {
        let o2 = f.optimised(&options(OptLevel::O2)).expect("-O2");
        let convs = count(&o2, "Conv") + count(&o2, "FusedConv");
        let g = at_o3(&f, 16);
        assert_eq!(
            count(&g, "NchwcConv"),
            convs,
            "{}: every conv blocked",
            f.name
        );
        assert_eq!(count(&g, "Conv") + count(&g, "FusedConv"), 0, "{}", f.name);
        assert_eq!(
            count(&g, "NchwcMaxPool"),
            1,
            "{}: stem pool blocked",
            f.name
        );
        assert_eq!(count(&g, "MaxPool"), 0, "{}", f.name);
        // The stem reads the 3-channel image directly: the only reorder is the exit one.
        assert_eq!(
            count(&g, "Reorder"),
            1,
            "{}: reorders only at the end",
            f.name
        );
    }
}

#[test]
fn blocked_graph_matches_onnxruntime_in_the_reference_interpreter() {
    for f in resnets() {
        for block in [16, 8] {
            let g = at_o3(&f, block);
            let inputs: Vec<(InputKey, _)> = f
                .inputs
                .iter()
                .map(|(n, t)| (InputKey::Name(n.clone()), t.clone()))
                .collect();
            let got = infc::reference::run_graph(&g, &inputs).expect("reference runs");
            for (t, (name, want)) in got.iter().zip(&f.expected) {
                compare(&format!("{} c={block} {name}", f.name), t, want)
                    .unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }
}

#[test]
fn blocked_plans_match_onnxruntime_on_every_isa() {
    for f in resnets() {
        for block in [16, 8] {
            let g = at_o3(&f, block);
            let plan = lower(&g).unwrap_or_else(|e| panic!("{}: {e}", f.name));
            let kinds: Vec<&str> = plan.body.steps.iter().map(|s| s.kind()).collect();
            assert!(kinds.contains(&"NchwcConv"), "{}: {kinds:?}", f.name);
            assert!(!kinds.contains(&"Conv"), "{}: {kinds:?}", f.name);
            for isa in isas_under_test() {
                let outs = run_plan(&plan, isa, &f.inputs).unwrap_or_else(|e| panic!("{e}"));
                for (t, (name, want)) in outs.iter().zip(&f.expected) {
                    compare(&format!("{} c={block} {isa} {name}", f.name), t, want)
                        .unwrap_or_else(|e| panic!("{e}"));
                }
            }
        }
    }
}
