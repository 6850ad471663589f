//! Structural goals of the optimisation pipeline, checked on any optimised model graph (fixtures,
//! variants, full-size exports): the decomposed ops the fusions must remove are gone, every
//! transformer layer has one fused Attention (counted against its one GELU feed-forward), and no
//! Conv output feeds a standalone Relu.

use infc::ir::{Epilogue, Graph, Op, UnaryOp};

/// Ops that must not survive -O2/-O3 in ResNet, GPT-2 and DistilBERT graphs.
pub const MUST_BE_GONE: [&str; 10] = [
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
];

/// Every violated goal, described; empty when the graph meets them all.
pub fn violations(g: &Graph, family: &str) -> Vec<String> {
    let counts = g.op_counts();
    let count = |op: &str| counts.iter().find(|(o, _)| *o == op).map_or(0, |&(_, n)| n);
    let mut out: Vec<String> = MUST_BE_GONE
        .iter()
        .filter(|op| count(op) > 0)
        .map(|op| format!("{} {op} left", count(op)))
        .collect();
    if family != "resnet" {
        let attention = count("Attention");
        let gelu_ffn = g
            .nodes
            .iter()
            .filter(|n| match &n.op {
                Op::FusedMatMul { epilogue, .. } => epilogue
                    .iter()
                    .any(|e| matches!(e, Epilogue::GeluErf | Epilogue::GeluTanh)),
                _ => false,
            })
            .count();
        if attention == 0 || attention != gelu_ffn {
            out.push(format!(
                "{attention} Attention ops for {gelu_ffn} layers (GELU feed-forwards)"
            ));
        }
    }
    let uses = g.uses();
    for node in &g.nodes {
        // Any conv flavour (plain, fused, blocked layouts).
        if node.op.name().contains("Conv") {
            let readers = uses.get(node.outputs[0]).cloned().unwrap_or_default();
            if readers
                .iter()
                .any(|&u| g.nodes[u].op == Op::Unary(UnaryOp::Relu))
            {
                out.push(format!("conv '{}' feeds a standalone Relu", node.name));
            }
        }
    }
    out
}
