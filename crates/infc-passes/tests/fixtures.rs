//! Fusion passes on the committed model fixtures: every pass alone (after the -O1 cleanup) and the
//! whole -O2 pipeline must keep the reference interpreter's outputs equal to onnxruntime's saved
//! outputs (project tolerance), and the op counts after -O2 are snapshotted per fixture, with the
//! structural goals of the fusions asserted directly.

use infc_conformance::{all_fixtures, compare, Fixture};
use infc_ir::Graph;
use infc_passes::{pipeline, run_pipeline, OptLevel, Pass, PassCx};
use infc_reference::{run_graph, InputKey};

const FUSION_PASSES: [&str; 8] = [
    "fuse-conv-bn",
    "fuse-gelu",
    "fuse-layernorm",
    "fuse-skip-layernorm",
    "fuse-attention",
    "fuse-matmul-epilogue",
    "fuse-conv-epilogue",
    "fuse-global-pool",
];

fn verified_cx() -> PassCx {
    PassCx {
        verify_each: true,
        ..PassCx::new()
    }
}

fn at_level(fx: &Fixture, level: OptLevel) -> (Graph, PassCx) {
    let mut g = fx
        .bound_graph()
        .unwrap_or_else(|e| panic!("{}: {e}", fx.name));
    let mut cx = verified_cx();
    run_pipeline(&mut g, &pipeline(level), &mut cx, |_, _, _| {})
        .unwrap_or_else(|e| panic!("{}: {e}", fx.name));
    (g, cx)
}

fn check_outputs(fx: &Fixture, g: &Graph, what: &str) {
    let inputs: Vec<(InputKey, _)> = fx
        .inputs
        .iter()
        .map(|(n, t)| (InputKey::Name(n.clone()), t.clone()))
        .collect();
    let got = run_graph(g, &inputs)
        .unwrap_or_else(|e| panic!("{} {what}: reference run failed: {e}", fx.name));
    assert_eq!(
        got.len(),
        fx.expected.len(),
        "{} {what}: output count",
        fx.name
    );
    for (t, (name, want)) in got.iter().zip(&fx.expected) {
        compare(&format!("{} {what} output {name}", fx.name), t, want)
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn each_fusion_pass_alone_keeps_fixture_outputs() {
    for fx in all_fixtures() {
        let (base, _) = at_level(&fx, OptLevel::O1);
        for name in FUSION_PASSES {
            let pass: Pass = infc_passes::pass_by_name(name).expect("registered");
            let mut g = base.clone();
            let mut cx = verified_cx();
            run_pipeline(&mut g, &[pass], &mut cx, |_, _, _| {})
                .unwrap_or_else(|e| panic!("{} {name}: {e}", fx.name));
            if !cx.log.entries.is_empty() {
                check_outputs(&fx, &g, name);
            }
        }
    }
}

#[test]
fn o2_pipeline_keeps_fixture_outputs() {
    for fx in all_fixtures() {
        let (g, _) = at_level(&fx, OptLevel::O2);
        check_outputs(&fx, &g, "-O2");
    }
}

fn op_counts_text(g: &Graph) -> String {
    g.op_counts()
        .iter()
        .map(|(op, n)| format!("{op} {n}\n"))
        .collect()
}

#[test]
fn o2_op_counts_and_fusion_log() {
    for fx in all_fixtures() {
        let (g, cx) = at_level(&fx, OptLevel::O2);
        let counts = g.op_counts();
        let count = |op: &str| counts.iter().find(|(o, _)| *o == op).map_or(0, |&(_, n)| n);
        let rules: String = cx
            .log
            .counts()
            .iter()
            .filter(|(r, _)| !matches!(*r, "fold-constant" | "cse") && !r.starts_with("remove-"))
            .map(|(r, n)| format!("{r} {n}\n"))
            .collect();
        insta::assert_snapshot!(
            format!("o2_{}", fx.name),
            format!(
                "# op counts\n{}\n# fusion rules\n{rules}",
                op_counts_text(&g)
            )
        );
        // Structural goals that hold at -O2 for every fixture.
        for gone in [
            "BatchNormalization",
            "ReduceMean",
            "Pow",
            "Sqrt",
            "Erf",
            "Tanh",
            "Softmax",
            "Transpose",
            "Shape",
            "Gemm",
        ] {
            assert_eq!(count(gone), 0, "{}: {gone} left after -O2", fx.name);
        }
        if fx.meta.family != "resnet" {
            assert_eq!(
                count("Attention"),
                2,
                "{}: one Attention per layer (2 layers)",
                fx.name
            );
        }
        // Every Conv followed by a Relu carries it in its epilogue.
        let uses = g.uses();
        for node in &g.nodes {
            if matches!(node.op, infc_ir::Op::Conv(_)) {
                let readers = uses.get(node.outputs[0]).cloned().unwrap_or_default();
                assert!(
                    !readers
                        .iter()
                        .any(|&u| g.nodes[u].op == infc_ir::Op::Unary(infc_ir::UnaryOp::Relu)),
                    "{}: Conv '{}' feeds a Relu",
                    fx.name,
                    node.name
                );
            }
        }
    }
}

/// Debugging aid, not a check: `FIXTURE=gpt2_ts14 LEVEL=2 cargo test -p infc-passes --test fixtures
/// print_fixture_ir -- --ignored --nocapture` prints the bound IR after the given -O level.
#[test]
#[ignore]
fn print_fixture_ir() {
    let name = std::env::var("FIXTURE").unwrap_or_else(|_| "gpt2_ts14".into());
    let level = std::env::var("LEVEL")
        .ok()
        .and_then(|l| l.parse().ok())
        .and_then(OptLevel::from_digit);
    let fx = infc_conformance::load_fixture(&name);
    let (g, cx) = at_level(&fx, level.unwrap_or(OptLevel::O2));
    println!("{}", infc_ir::print_graph(&g));
    for e in &cx.log.entries {
        println!("{}: {}", e.rule, e.nodes.join(", "));
    }
}

/// Pipeline snapshots: op counts, then the whole IR, of every fixture after -O1, -O2 and -O3
/// (`tests/snapshots/fixtures__pipeline_o<level>_<fixture>.snap`).
#[test]
fn pipeline_ir_snapshots_per_level() {
    for fx in all_fixtures() {
        for (digit, level) in [(1, OptLevel::O1), (2, OptLevel::O2), (3, OptLevel::O3)] {
            let (g, _) = at_level(&fx, level);
            insta::assert_snapshot!(
                format!("pipeline_o{digit}_{}", fx.name),
                format!(
                    "# op counts\n{}\n# IR\n{}",
                    op_counts_text(&g),
                    infc_ir::print_graph(&g)
                )
            );
        }
    }
}
