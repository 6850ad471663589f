//! Command-line definition (clap derive) for every `infc` subcommand.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "infc",
    version,
    about = "Ahead-of-time compiler for CPU inference of ONNX models"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Compile an ONNX model into a plan file.
    Compile(CompileArgs),
    /// Print a model's IR (after import, shape binding and the -O pipeline), op counts, DOT or JSON;
    /// or, given a plan file, its memory map and steps.
    Explain(ExplainArgs),
}

#[derive(Args, Debug)]
pub struct CompileArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Where to write the plan.
    #[arg(short = 'o', long = "output", value_name = "PLAN")]
    pub output: PathBuf,
}

/// Options that turn an ONNX file into optimised IR; shared by `compile` and `explain`.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// The ONNX model.
    pub model: PathBuf,
    /// Bind an input's shape (NAME=D0xD1x…) or one symbolic dim (NAME=D). Repeatable.
    #[arg(long = "shape", value_name = "NAME=DIMS")]
    pub shapes: Vec<String>,
    /// Optimisation level 0..3 (-O0 none; -O1 cleanup; -O2 fusions; -O3 layout and everything).
    #[arg(short = 'O', value_name = "LEVEL", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=3))]
    pub opt: u8,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Dot,
    Json,
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Output format of the IR dump.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Print one line per op kind, `<op> <count>`, sorted by name, instead of the IR.
    #[arg(long)]
    pub op_counts: bool,
    /// Print the IR after every pass.
    #[arg(long)]
    pub print_after_all: bool,
    /// Print the IR after the named pass (repeatable).
    #[arg(long, value_name = "PASS")]
    pub print_after: Vec<String>,
    /// Print the fusion log: one line per rule with its count, then every rewrite.
    #[arg(long)]
    pub fusion_log: bool,
    /// For a plan file: print arena_bytes, intermediates_bytes, lower_bound_bytes and the offset map.
    #[arg(long)]
    pub memory: bool,
}
