//! `infc explain`: the IR of a model after import, binding and the `-O` pipeline, as text, DOT or
//! JSON; op counts; per-pass dumps; the fusion log.

use crate::cli::{ExplainArgs, Format};
use crate::model;
use anyhow::Result;
use infc_ir::Graph;
use std::fmt::Write as _;

pub fn run(args: ExplainArgs) -> Result<()> {
    let mut out = String::new();
    let wanted = |name: &str| args.print_after_all || args.print_after.iter().any(|p| p == name);
    let (g, log) = model::load(&args.model, |pass, g, changed| {
        if wanted(pass) {
            let note = if changed { "" } else { " (no change)" };
            let _ = writeln!(out, "// ----- IR after {pass}{note} -----");
            out.push_str(&render(g, args.format));
        }
    })?;
    print!("{out}");
    if args.fusion_log {
        println!("// ----- fusion log -----");
        for (rule, n) in log.counts() {
            println!("{rule} {n}");
        }
        for e in &log.entries {
            println!("  {}: {}", e.rule, e.nodes.join(", "));
        }
    }
    if args.op_counts {
        for (op, n) in g.op_counts() {
            println!("{op} {n}");
        }
    } else if !args.print_after_all && args.print_after.is_empty() {
        print!("{}", render(&g, args.format));
    }
    Ok(())
}

fn render(g: &Graph, format: Format) -> String {
    match format {
        Format::Text => infc_ir::print_graph(g),
        Format::Dot => infc_ir::to_dot(g),
        Format::Json => infc_ir::to_json(g),
    }
}
