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
    /// Run a plan: inputs from .npy files (others generated, seeded); writes `DIR/<output>.npy`; or
    /// --bench (latency, throughput, peak RSS) or --profile (per-step and per-op-kind times).
    Run(RunArgs),
    /// Compare two `infc run --profile --json` files per op kind.
    Profile(ProfileArgs),
    /// Check a plan file whole: structure, checksum and the constants against their hash (a load
    /// checks all but the constants, so it never reads a weight page it does not use).
    Verify(VerifyArgs),
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The plan file (from `infc compile`).
    pub plan: PathBuf,
}

#[derive(Args, Debug)]
pub struct CompileArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Where to write the plan.
    #[arg(short = 'o', long = "output", value_name = "PLAN")]
    pub output: PathBuf,
    #[command(flatten)]
    pub quant: Int8Args,
    /// With --int8: print each quantized layer's relative error vs f32 on seeded inputs, and the
    /// model's cosine similarity and top-1 agreement vs the f32 plan.
    #[arg(long, requires = "int8")]
    pub report: bool,
}

/// `--int8` and its options; shared by `compile` and `explain` (which shows the marks).
#[derive(Args, Debug, Clone)]
pub struct Int8Args {
    /// INT8 dynamic quantization: MatMul/Gemm/Conv weights s8 per output channel, activations u8
    /// quantized at run time inside the consuming step.
    #[arg(long)]
    pub int8: bool,
    /// With --int8: keep these layers (node names) in f32.
    #[arg(long = "int8-exclude", value_name = "NAME", num_args = 1.., requires = "int8")]
    pub int8_exclude: Vec<String>,
    /// With --int8: keep layers whose relative error exceeds X in f32 (and say which); X is a
    /// finite number >= 0, e.g. 0.05.
    #[arg(long = "int8-budget", value_name = "X", requires = "int8")]
    pub int8_budget: Option<f64>,
    /// With --int8: quantize matmul activations with one scale per tensor instead of per row.
    #[arg(long = "int8-per-tensor", requires = "int8")]
    pub int8_per_tensor: bool,
    /// With --int8: keep attention's two GEMMs in f32 (by default they take bf16 inputs, with f32
    /// accumulation, on CPUs with AVX512-BF16).
    #[arg(long = "int8-f32-attention", requires = "int8")]
    pub int8_f32_attention: bool,
    /// Seed of the inputs --report and --int8-budget measure with.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Options that turn an ONNX file into optimised IR; shared by `compile` and `explain`.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// The ONNX model.
    pub model: PathBuf,
    /// Bind an input's shape (NAME=D0xD1x…) or one symbolic dim (NAME=D); a dim given as MIN..MAX
    /// (`batch=1..16`, `input_ids=1..8x1..512`) makes a range plan that runs at every shape
    /// within the bounds. A symbolic dim no flag binds compiles as a run-time dim (`1..`) when no
    /// constant depends on it, else as the range 1..512 (1..8 if the model does not lower there).
    /// Repeatable.
    #[arg(long = "shape", value_name = "NAME=DIMS")]
    pub shapes: Vec<String>,
    /// Optimisation level 0..3 (-O0 none; -O1 cleanup; -O2 fusions; -O3 layout and everything).
    #[arg(short = 'O', value_name = "LEVEL", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=3))]
    pub opt: u8,
    /// Leave the named pass out of the -O pipeline (repeatable), e.g. `--disable fuse-attention`
    /// to measure what one fusion family is worth.
    #[arg(long = "disable", value_name = "PASS")]
    pub disable: Vec<String>,
    /// Channel block of the -O3 NCHWc layout: 8 or 16 (default: from --target).
    #[arg(long = "nchwc-block", value_name = "8|16", value_parser = parse_nchwc_block)]
    pub nchwc_block: Option<usize>,
    /// The CPU the plan is tuned for: its layout choices (the NCHWc block: 16 for x86-64-v4, 8
    /// for x86-64-v3 and portable) follow it, not the build machine. `native`: this machine.
    /// Any plan still runs on any x86-64, through the paths that CPU has.
    #[arg(long, value_enum, value_name = "CPU", default_value_t = Target::Native)]
    pub target: Target,
    /// Range plans: keep the max shape's arena for every shape instead of planning one per shape
    /// (unbound dims then keep the range 1..8). For comparing the two.
    #[arg(long = "shared-arena")]
    pub shared_arena: bool,
}

/// `--target`: the CPU a plan's layout choices are made for.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// This machine.
    Native,
    /// AVX-512 (F, BW, DQ, VL).
    #[value(name = "x86-64-v4")]
    X86_64V4,
    /// AVX2 + FMA.
    #[value(name = "x86-64-v3")]
    X86_64V3,
    /// No vector extension assumed.
    Portable,
}

impl Target {
    /// The facade's target.
    pub fn to_facade(self) -> infc::Target {
        match self {
            Target::Native => infc::Target::Native,
            Target::X86_64V4 => infc::Target::X86_64V4,
            Target::X86_64V3 => infc::Target::X86_64V3,
            Target::Portable => infc::Target::Portable,
        }
    }
}

impl ModelArgs {
    /// The facade's compile options for these flags and the `--int8` ones (`measure`: measure
    /// every layer's error, for `--report`).
    pub fn options(&self, quant: &Int8Args, measure: bool) -> infc::CompileOptions {
        infc::CompileOptions {
            opt_level: self.opt,
            shapes: self.shapes.clone(),
            disable: self.disable.clone(),
            target: self.target.to_facade(),
            nchwc_block: self.nchwc_block,
            shared_arena: self.shared_arena,
            int8: quant.int8.then(|| infc::Int8Options {
                exclude: quant.int8_exclude.clone(),
                budget: quant.int8_budget,
                measure,
                per_row: !quant.int8_per_tensor,
                bf16_attention: !quant.int8_f32_attention,
                seed: quant.seed,
            }),
            ..infc::CompileOptions::default()
        }
    }
}

fn parse_nchwc_block(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(b @ (8 | 16)) => Ok(b),
        _ => Err(format!("'{s}' is not a channel block: use 8 or 16")),
    }
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
    #[command(flatten)]
    pub quant: Int8Args,
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
    /// Print a unified diff of the text IR for every pass that changed the graph.
    #[arg(long)]
    pub diff: bool,
    /// Print the fusion log: one line per rule with its count, then every rewrite.
    #[arg(long)]
    pub fusion_log: bool,
    /// For a plan file: print arena_bytes, intermediates_bytes, lower_bound_bytes and the offset map.
    #[arg(long)]
    pub memory: bool,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The plan file (from `infc compile`).
    pub plan: PathBuf,
    /// An input array (NAME=FILE.npy). Repeatable; inputs not given are generated from --seed.
    #[arg(long = "input", value_name = "NAME=FILE.npy")]
    pub inputs: Vec<String>,
    /// Directory for `<output>.npy` files (default: the current directory; with --bench or
    /// --profile, outputs are written only when this is given).
    #[arg(long = "output-dir", value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Threads of the global rayon pool (default: all cores, or RAYON_NUM_THREADS); at least 1, at
    /// most 16 per CPU and never above 256.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Seed of generated inputs.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Benchmark: --warmup untimed runs, then --iters timed runs; prints P50/P99/mean latency,
    /// throughput, peak RSS and plan load time.
    #[arg(long)]
    pub bench: bool,
    /// A range plan at these shapes, with seeded inputs: NAME=DIMS for an input or a symbol,
    /// a dim may list alternatives (`--shape 'input_ids=1x{16,32,64}'`, quoted from the shell); the
    /// flags expand to the product of their alternatives; a symbol no flag names runs at its min.
    /// Several shapes need --bench (latency per shape and over all).
    #[arg(long = "shape", value_name = "NAME=DIMS")]
    pub shapes: Vec<String>,
    /// With --bench: a file of requests, one per line (whitespace-separated NAME=DIMS, `#`
    /// comments), e.g. sequence lengths drawn from a service's distribution; each timed pass runs
    /// them in order.
    #[arg(long = "shape-sweep", value_name = "FILE")]
    pub shape_sweep: Option<PathBuf>,
    /// Profile: per-step and per-op-kind mean time over --iters runs, GFLOP/s, runtime overhead.
    #[arg(long, conflicts_with = "bench")]
    pub profile: bool,
    /// Untimed runs before --bench / --profile measurements (at most 10000000).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub warmup: usize,
    /// Timed runs of --bench / --profile (at least 1, at most 10000000).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub iters: usize,
    /// With --bench or --profile: print JSON instead of text, or with FILE write JSON there
    /// (and text to stdout).
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub json: Option<Option<PathBuf>>,
    /// Most memory the run may hold, checked when the plan is loaded before anything is allocated:
    /// the arena, the plan with --load copy, and the inputs (read or generated). Bytes, or with a
    /// suffix K/M/G/T (powers of 1024) or KB/MB/GB/TB (powers of 1000). Default: physical memory.
    #[arg(long = "max-memory", value_name = "BYTES", value_parser = parse_byte_size)]
    pub max_memory: Option<u64>,
    /// How the plan file is held. `map` (default): mapped, instant and shared with the page cache,
    /// but truncating or overwriting the file in place while it runs kills the process (SIGBUS);
    /// replacing it by rename is safe. `copy`: read into memory at load (costs the plan's size and
    /// the read), immune to later changes of the file.
    #[arg(long, value_enum, value_name = "MODE", default_value_t = PlanLoadArg::Map)]
    pub load: PlanLoadArg,
    /// Also check the constants against the plan's weights hash at load (reads every weight byte;
    /// see `infc verify`).
    #[arg(long)]
    pub verify: bool,
}

/// `--load`: how `infc run` holds the plan file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlanLoadArg {
    Map,
    Copy,
}

/// A byte count: digits with an optional K/M/G/T (1024^n, also KiB...) or KB/MB/GB/TB (1000^n)
/// suffix, case-insensitive; overflowing u64 is an error.
pub fn parse_byte_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, suffix) = t.split_at(split);
    if digits.is_empty() {
        return Err(format!("'{s}': expected a byte count such as 8G or 512MB"));
    }
    let scale: u64 = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        other => {
            return Err(format!(
                "'{s}': unknown size suffix '{other}' (K, M, G, T, KB, MB, GB, TB)"
            ))
        }
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| format!("'{s}': above {} bytes", u64::MAX))
}

#[derive(Args, Debug)]
pub struct ProfileArgs {
    /// Two profiles from `infc run --profile --json FILE`: per op kind, old vs new time.
    #[arg(long, num_args = 2, value_names = ["OLD.json", "NEW.json"], required = true)]
    pub compare: Vec<PathBuf>,
    /// Changes smaller than this percentage (a finite number >= 0) are reported as unchanged.
    #[arg(long, default_value_t = 2.0)]
    pub threshold: f64,
}

#[cfg(test)]
mod tests {
    use super::parse_byte_size;

    #[test]
    fn byte_sizes_take_binary_and_decimal_suffixes() {
        assert_eq!(parse_byte_size("4096"), Ok(4096));
        assert_eq!(parse_byte_size("8G"), Ok(8 << 30));
        assert_eq!(parse_byte_size("8gib"), Ok(8 << 30));
        assert_eq!(parse_byte_size("512MB"), Ok(512_000_000));
        assert_eq!(parse_byte_size("1 KiB"), Ok(1024));
        assert_eq!(parse_byte_size("16T"), Ok(16 << 40));
        assert!(parse_byte_size("16777216T").is_err(), "overflows u64");
        assert!(parse_byte_size("1.5G").is_err());
    }
}
