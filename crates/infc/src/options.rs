//! What [`crate::compile`] is asked for: the same knobs as `infc compile` (optimisation level,
//! shape bindings, disabled passes, target CPU, INT8 and its options).

/// Options of [`crate::compile`] (and of `infc compile` / `infc explain`, which build one).
#[derive(Clone, Debug, PartialEq)]
pub struct CompileOptions {
    /// Optimisation level 0..=3: 0 none, 1 cleanup, 2 fusions, 3 fusions and the NCHWc layout.
    pub opt_level: u8,
    /// Shape bindings: `NAME=D0xD1x…` binds an input's dims, `SYM=N` one symbolic dim.
    pub shapes: Vec<String>,
    /// Passes left out of the pipeline, by name (see `infc_passes::pass_names`).
    pub disable: Vec<String>,
    /// The CPU the plan's layout choices are made for.
    pub target: Target,
    /// Channel block of the `-O3` NCHWc layout (8 or 16); `None`: the target's.
    pub nchwc_block: Option<usize>,
    /// INT8 dynamic quantization and its options; `None`: everything f32.
    pub int8: Option<Int8Options>,
    /// Run the IR verifier after every pass (as the differential tests do): a pass that leaves
    /// the graph malformed is an error naming it, not a wrong plan later.
    pub verify_each: bool,
    /// Range plans: keep the max shape's arena for every shape instead of planning one per shape
    /// (what range plans did before format 5.4; for comparing the two). Unbound dims then keep
    /// their default bound.
    pub shared_arena: bool,
}

impl Default for CompileOptions {
    /// `-O3` for this machine, no bindings, f32, no verifier between passes.
    fn default() -> Self {
        CompileOptions {
            opt_level: 3,
            shapes: Vec::new(),
            disable: Vec::new(),
            target: Target::Native,
            nchwc_block: None,
            int8: None,
            verify_each: false,
            shared_arena: false,
        }
    }
}

/// INT8 dynamic quantization (`--int8`): MatMul/Gemm/Conv weights s8 per output channel,
/// activations quantized at run time inside the consuming step.
#[derive(Clone, Debug, PartialEq)]
pub struct Int8Options {
    /// Layers (node names) kept in f32.
    pub exclude: Vec<String>,
    /// Keep in f32 every layer whose relative error, measured alone on seeded inputs, exceeds this
    /// (a finite number ≥ 0, e.g. 0.05).
    pub budget: Option<f64>,
    /// Measure every layer's error even without a budget ([`crate::Int8Decision::layers`]).
    pub measure: bool,
    /// Quantize matmul activations with one scale per row (else one per tensor).
    pub per_row: bool,
    /// Attention's two GEMMs take bf16 inputs with f32 accumulation on CPUs with AVX512-BF16.
    pub bf16_attention: bool,
    /// Seed of the inputs the budget and the measurements use.
    pub seed: u64,
}

impl Default for Int8Options {
    /// Every selected layer, per-row activations, bf16 attention, no measurement.
    fn default() -> Self {
        Int8Options {
            exclude: Vec::new(),
            budget: None,
            measure: false,
            per_row: true,
            bf16_attention: true,
            seed: 0,
        }
    }
}

/// The CPU a plan's layout choices are made for. Any plan still runs on any x86-64, through the
/// paths that CPU has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// This machine.
    Native,
    /// AVX-512 (F, BW, DQ, VL).
    X86_64V4,
    /// AVX2 + FMA.
    X86_64V3,
    /// No vector extension assumed.
    Portable,
}

impl Target {
    /// The NCHWc channel block: one vector register of f32 on the target.
    pub fn nchwc_block(self) -> usize {
        let wide = match self {
            Target::Native => infc_runtime::Isa::detect() == infc_runtime::Isa::Avx512,
            Target::X86_64V4 => true,
            Target::X86_64V3 | Target::Portable => false,
        };
        if wide {
            16
        } else {
            8
        }
    }

    /// The name `--target` takes (`native`, `x86-64-v4`, `x86-64-v3`, `portable`).
    pub fn name(self) -> &'static str {
        match self {
            Target::Native => "native",
            Target::X86_64V4 => "x86-64-v4",
            Target::X86_64V3 => "x86-64-v3",
            Target::Portable => "portable",
        }
    }
}
