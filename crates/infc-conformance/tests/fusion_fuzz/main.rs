//! Differential fuzzer for the fusions whose result depends on the data flowing through them:
//! LayerNorm (`fuse-layernorm`, `fuse-skip-layernorm`), GELU (`fuse-gelu`, alone and as a
//! `fuse-matmul-epilogue` stage) and Conv + BatchNormalization (`fuse-conv-bn`, then
//! `fuse-conv-epilogue` and the -O3 NCHWc layout). Each family builds its sub-graph as the ONNX
//! exporters write it, with random shapes (mostly realistic, sometimes tiny or odd) and inputs chosen
//! to hurt the fused kernels:
//!
//! - LayerNorm: opset ≤ 16's decomposition (`ReduceMean, Sub, Pow 2 | Mul, ReduceMean, Add ε, Sqrt,
//!   Div, Mul γ, Add β`, every operand order the matcher takes) and opset 17's
//!   `LayerNormalization`, alone, after a residual Add (SkipLayerNorm) and in a pre-LN residual
//!   stream (the sum read again after the norm), and after a broadcasting Add (a near miss:
//!   LayerNorm, no SkipLayerNorm); rows that are constant, of variance ≈ ε, of 1e-20
//!   magnitudes, or an offset (up to 1e4) plus tiny noise; last dims 1..=1024; ε 1e-12 … 1e-5.
//! - GELU: the erf form (`x/√2` or `x·(1/√2)`) and the tanh form (`Pow(x, 3)` or `x·x·x`), every
//!   association of the outer product and operand order, scalar or `[1]` constants; standalone
//!   and after `MatMul (+ Add bias)` / `Gemm`; inputs up to 1e4 in magnitude, ±∞, NaN, ±0,
//!   subnormals.
//! - Conv + BatchNormalization (+ residual Add) (+ Relu), one or two stages: random channels,
//!   kernel, stride, padding (asymmetric too), dilation and group (depthwise and channel
//!   multipliers), BN with zero variance, tiny ε, negative and zero scale; NCHWc blocks 8 and 16.
//!
//! Each case runs the `-O3` plan on every ISA path this machine has and compares every output
//! with the reference interpreter on the unoptimised graph: within `1e-4 + 1e-3·max|ref|` (per
//! output), NaN exactly where the graph gives NaN, an infinity exactly where it gives one. Each
//! case also checks that the fusion fired.
//!
//! The oracle is the unfused graph in f32, so inputs must keep that graph well conditioned: a row
//! with an offset gets either noise on the offset's ulp grid that sums to zero (its mean is
//! exact and the graph's LayerNorm is exact), or noise of at least 2e-3 of the offset (the graph's
//! rounding of the mean then costs far less than the tolerance); a row of variance ≈ ε has a
//! mean of a few σ; GELU inputs stay below `f32::MAX / 2` (above, some associations of
//! `0.5·x·(1 + f)` overflow in the graph, which the fused op rightly does not).
//!
//! Found and fixed: the LayerNorm kernel's f32 mean of a constant or offset row was rounded (a
//! constant row of 0.1s gave `β + 5e-3·γ` at ε = 1e-12, not β); fused GELU gave −∞ at −∞ (the
//! graph's `−∞·0` is NaN) and, in the erf form, `x·2⁻²⁴` (−6e-4 at −1e4) for large negative `x`,
//! where the graph gives 0. Found, not fixed: `conv_bn_with_zero_variance_and_epsilon` (ignored).
//!
//! `cargo test` runs a small number of cases per family; `INFC_FUZZ_CASES=N` runs `N` per family
//! (a failure prints the case, whose `seed` regenerates its data; a found case becomes one of the
//! deterministic tests at the end of its family's module: `layernorm.rs`, `gelu.rs`, `conv_bn.rs`).

mod conv_bn;
mod gelu;
mod layernorm;

use infc::ir::{Graph, Tensor};
use infc::passes::OptLevel;
use infc::reference::{run_graph, InputKey};
use infc::CompileOptions;
use infc_conformance::fuzz::cases_wanted;
use infc_conformance::plan::{isas_under_test, lower, optimise_with, options, run_plan};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Deterministic data from a case's seed (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
    fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, p: f32) -> bool {
        self.unit() < p
    }
    fn sign(&mut self) -> f32 {
        if self.chance(0.5) {
            -1.0
        } else {
            1.0
        }
    }
    /// `10^u` for `u` uniform in `[lo, hi]`, random sign.
    fn log_uniform(&mut self, lo: f32, hi: f32) -> f32 {
        self.sign() * 10f32.powf(self.uniform(lo, hi))
    }
    fn vec(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }
}

fn tensor(dims: &[usize], v: Vec<f32>) -> Tensor {
    Tensor::from_vec(dims.to_vec(), v).unwrap()
}

fn count(g: &Graph, op: &str) -> usize {
    g.op_counts()
        .iter()
        .find(|(o, _)| *o == op)
        .map_or(0, |&(_, n)| n)
}

/// `-O3` with the verifier after every pass, NCHWc block `block`.
fn optimise(g: &mut Graph, block: usize) -> Result<(), String> {
    let opts = CompileOptions {
        nchwc_block: Some(block),
        ..options(OptLevel::O3)
    };
    optimise_with(g, &opts).map(|_| ())
}

/// Element `got` against the graph's `want` within `tol`: NaN only where the graph has NaN, an
/// infinity only where the graph has the same one.
fn close(got: f32, want: f32, tol: f32) -> bool {
    if want.is_nan() {
        got.is_nan()
    } else if want.is_infinite() {
        got == want
    } else {
        (got - want).abs() <= tol
    }
}

/// Runs the reference on `g`, optimises it at -O3, checks `fused` on the optimised graph, compiles
/// it and runs the plan on every ISA path; `Err` describes the first mismatch.
fn check(
    g: &Graph,
    ins: &[(String, Tensor)],
    block: usize,
    fused: impl Fn(&Graph) -> Result<(), String>,
) -> Result<(), String> {
    let keyed: Vec<(InputKey, Tensor)> = ins
        .iter()
        .map(|(n, t)| (InputKey::Name(n.clone()), t.clone()))
        .collect();
    let want = run_graph(g, &keyed).map_err(|e| format!("reference: {e}"))?;
    let want: Vec<Vec<f32>> = want
        .iter()
        .map(|t| t.view::<f32>().map(|v| v.into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let mut opt = g.clone();
    optimise(&mut opt, block)?;
    fused(&opt).map_err(|e| format!("after -O3: {e} ({:?})", opt.op_counts()))?;
    let plan = lower(&opt)?;
    for isa in isas_under_test() {
        let got = run_plan(&plan, isa, ins)?;
        for (o, (got, want)) in got.iter().zip(&want).enumerate() {
            let got = got.view::<f32>().map_err(|e| e.to_string())?;
            let max = want
                .iter()
                .filter(|v| v.is_finite())
                .fold(0f32, |m, v| m.max(v.abs()));
            let tol = 1e-4 + 1e-3 * max;
            if got.len() != want.len() {
                return Err(format!("{isa:?}: output {o} has {} elements", got.len()));
            }
            if let Some(i) = (0..want.len()).find(|&i| !close(got[i], want[i], tol)) {
                return Err(format!(
                    "{isa:?}: output {o} element {i} is {}, the graph gives {} (tolerance {tol})",
                    got[i], want[i]
                ));
            }
        }
    }
    Ok(())
}

fn fuzz<C: std::fmt::Debug>(
    default_cases: u32,
    strategy: impl Strategy<Value = C>,
    check_case: impl Fn(&C) -> Result<(), String>,
) {
    let mut runner = TestRunner::new(Config {
        cases: cases_wanted(default_cases),
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&strategy, |c| {
        check_case(&c).map_err(|e| TestCaseError::fail(format!("{c:?}: {e}")))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Runs one fixed case; a mismatch panics with the case and the first difference.
fn must_pass<C: std::fmt::Debug>(c: &C, check_case: impl Fn(&C) -> Result<(), String>) {
    if let Err(e) = check_case(c) {
        panic!("{c:?}: {e}");
    }
}
