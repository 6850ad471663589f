//! `infc compile --int8 --report` and `--int8-budget`: printing what the facade decided
//! ([`infc::Int8Decision`]): the layers the budget kept in f32, each candidate's error measured
//! alone, the layers kept in f32 and why.

use infc::int8::Int8Decision;
use infc::Int8Kind;

/// Print the budget's choices (stderr) and, with `report`, the per-layer report (stdout).
pub fn print_decision(d: &Int8Decision, report: bool) {
    if let Some(budget) = d.budget {
        for e in d.over_budget() {
            eprintln!(
                "int8 budget: keeping '{}' in f32 (error {:.4} > {budget})",
                e.name, e.rel
            );
        }
    }
    if !report {
        return;
    }
    let sel = &d.selection;
    if let Some(errs) = &d.layers {
        println!(
            "int8 layer report (relative L2 error of each layer alone vs f32, seed {}):",
            d.seed
        );
        for e in errs {
            let state = if sel.quantize.iter().any(|l| l.name == e.name) {
                "int8"
            } else {
                "f32 "
            };
            let kind = match e.kind {
                Int8Kind::MatMul => "matmul",
                Int8Kind::Conv => "conv",
            };
            println!(
                "  {state} {kind:6} {:>12} MACs  rel err {:.5}  {}",
                e.macs, e.rel, e.name
            );
        }
    }
    for (l, why) in &sel.kept {
        println!("  f32  {}: {why}", l.name);
    }
    println!(
        "{} layers int8, {} kept f32",
        sel.quantize.len(),
        sel.kept.len()
    );
}
