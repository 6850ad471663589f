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
//! deterministic tests at the end).

use infc_compile::{compile, CompileOptions};
use infc_conformance::plan::{isas_under_test, run_plan};
use infc_ir::{
    BinaryOp, ConvAttrs, DType, Float, Graph, Op, ReduceOp, Tensor, TensorType, UnaryOp, ValueId,
};
use infc_passes::{pipeline, run_pipeline, OptLevel, PassCx};
use infc_reference::{run_graph, InputKey};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

// ---------------------------------------------------------------------------------------------
// Shared harness
// ---------------------------------------------------------------------------------------------

/// A tiny graph builder: types from `infer_node`.
struct Builder {
    g: Graph,
    n: usize,
}

impl Builder {
    fn new(name: &str) -> Builder {
        Builder {
            g: Graph::new(name),
            n: 0,
        }
    }
    fn input(&mut self, name: &str, dims: &[usize]) -> ValueId {
        self.g.add_input(name, TensorType::known(DType::F32, dims))
    }
    fn node(&mut self, op: Op, inputs: &[ValueId]) -> ValueId {
        self.n += 1;
        let name = format!("n{}_{}", self.n, op.name());
        let tys =
            infc_ir::infer_node(&self.g, &op, inputs).unwrap_or_else(|e| panic!("{name}: {e}"));
        let out = self.g.add_value(format!("{name}:0"), tys[0].clone());
        self.g.push_node(name, op, inputs.to_vec(), vec![out]);
        out
    }
    fn f32s(&mut self, dims: &[usize], v: Vec<f32>) -> ValueId {
        self.n += 1;
        let t = Tensor::from_vec(dims.to_vec(), v).unwrap();
        self.g.add_const(format!("c{}", self.n), t)
    }
    /// A one-element constant: a scalar, or shape `[1]` as dynamo writes them.
    fn scalar(&mut self, v: f32, rank1: bool) -> ValueId {
        let dims: &[usize] = if rank1 { &[1] } else { &[] };
        self.f32s(dims, vec![v])
    }
    fn binary(&mut self, op: BinaryOp, a: ValueId, b: ValueId) -> ValueId {
        self.node(Op::Binary(op), &[a, b])
    }
    /// A commutative op with its operands in either order.
    fn comm(&mut self, op: BinaryOp, a: ValueId, b: ValueId, swap: bool) -> ValueId {
        if swap {
            self.binary(op, b, a)
        } else {
            self.binary(op, a, b)
        }
    }
    fn unary(&mut self, op: UnaryOp, x: ValueId) -> ValueId {
        self.node(Op::Unary(op), &[x])
    }
}

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
    let mut cx = PassCx {
        verify_each: true,
        nchwc_block: Some(block),
        ..PassCx::new()
    };
    run_pipeline(g, &pipeline(OptLevel::O3), &mut cx, |_, _, _| {}).map_err(|e| e.to_string())
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
    let plan = compile(&opt, &CompileOptions::default()).map_err(|e| format!("compile: {e}"))?;
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

fn cases_wanted(default: u32) -> u32 {
    std::env::var("INFC_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
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

// ---------------------------------------------------------------------------------------------
// LayerNorm and SkipLayerNorm
// ---------------------------------------------------------------------------------------------

/// How the graph spells the normalisation.
#[derive(Clone, Copy, Debug)]
enum LnForm {
    /// Opset ≤ 16 decomposition; the flags pick the spellings the matcher accepts.
    Decomposed {
        /// `Mul(d, d)` instead of `Pow(d, 2)`.
        square_as_mul: bool,
        /// `Add(ε, v)`, `Mul(γ, n)`, `Add(β, y)`: bit 0, 1, 2.
        swaps: u8,
        /// Reduce axes `[rank − 1]` instead of `[-1]`.
        positive_axis: bool,
        /// ε as a `[1]` constant.
        eps_rank1: bool,
    },
    /// Opset 17 `LayerNormalization(axis = -1)`, with or without its bias input.
    Op17 { bias: bool },
}

/// What surrounds the normalisation.
#[derive(Clone, Copy, Debug, PartialEq)]
enum LnContext {
    /// `y = LN(x)`.
    Alone,
    /// `y = LN(a + b)` (either operand order): SkipLayerNorm.
    Skip { swap: bool },
    /// Pre-LN residual stream: `h = a + b`, `y = LN(h)`, `z = h + Relu(y)`; outputs `y`, `z`.
    Stream,
    /// Near miss: `y = LN(x + bias[C])` (the Add broadcasts: a LayerNorm but no SkipLayerNorm).
    BroadcastAdd,
}

/// What one row of the normalised input holds.
#[derive(Clone, Copy, Debug)]
enum Row {
    /// Uniform noise around a random mean.
    Random,
    /// One value repeated (0.1, 1e4 + 0.3, … : values whose f32 sum is inexact).
    Constant,
    /// Variance ≈ ε.
    VarianceEps,
    /// Magnitudes of 1e-20.
    Tiny,
    /// An offset (±2⁻⁸ … 2¹⁶) plus noise of a few of its ulps summing to zero (an exact mean).
    OffsetGrid,
    /// A large offset plus noise of 2e-3 … 1e-2 of it.
    OffsetNoise,
}

const ROWS: [Row; 6] = [
    Row::Random,
    Row::Constant,
    Row::VarianceEps,
    Row::Tiny,
    Row::OffsetGrid,
    Row::OffsetNoise,
];

/// What γ and β hold.
#[derive(Clone, Copy, Debug)]
enum Affine {
    Random,
    /// γ = 1, β = 0 (an untrained norm).
    Identity,
    /// Random with zeros and negative entries in γ.
    ZerosAndNegatives,
}

#[derive(Clone, Debug)]
struct LnCase {
    form: LnForm,
    context: LnContext,
    /// Leading dims (the rows).
    lead: Vec<usize>,
    cols: usize,
    eps: f32,
    affine: Affine,
    /// The row kinds drawn from (each row picks one).
    rows: Vec<Row>,
    seed: u64,
}

impl LnCase {
    fn dims(&self) -> Vec<usize> {
        let mut d = self.lead.clone();
        d.push(self.cols);
        d
    }
    fn has_bias(&self) -> bool {
        !matches!(self.form, LnForm::Op17 { bias: false })
    }
    fn must_skip(&self) -> bool {
        matches!(self.context, LnContext::Skip { .. } | LnContext::Stream) && self.has_bias()
    }
}

fn ln_case() -> impl Strategy<Value = LnCase> {
    let form = prop_oneof![
        3 => (any::<bool>(), 0u8..8, any::<bool>(), any::<bool>()).prop_map(
            |(square_as_mul, swaps, positive_axis, eps_rank1)| LnForm::Decomposed {
                square_as_mul,
                swaps,
                positive_axis,
                eps_rank1,
            }
        ),
        2 => Just(LnForm::Op17 { bias: true }),
        1 => Just(LnForm::Op17 { bias: false }),
    ];
    let context = prop_oneof![
        2 => Just(LnContext::Alone),
        2 => any::<bool>().prop_map(|swap| LnContext::Skip { swap }),
        2 => Just(LnContext::Stream),
        1 => Just(LnContext::BroadcastAdd),
    ];
    let cols = prop_oneof![
        2 => proptest::sample::select(vec![64usize, 128, 256, 384, 512, 768, 1024]),
        2 => 1usize..=1024,
        1 => 1usize..=40,
    ];
    // Sometimes enough rows (with wide enough rows) for the kernel's multi-threaded region.
    let lead = prop_oneof![
        4 => (1usize..=8).prop_map(|r| vec![r]),
        4 => (1usize..=2, 1usize..=12).prop_map(|(b, s)| vec![b, s]),
        1 => (1usize..=2, 64usize..=128).prop_map(|(b, s)| vec![b, s]),
    ];
    let eps = proptest::sample::select(vec![1e-12f32, 1e-6, 1e-5]);
    let affine = prop_oneof![
        3 => Just(Affine::Random),
        1 => Just(Affine::Identity),
        2 => Just(Affine::ZerosAndNegatives),
    ];
    let rows = proptest::sample::subsequence(ROWS.to_vec(), 1..=ROWS.len());
    (form, context, lead, cols, eps, affine, rows, any::<u64>()).prop_map(
        |(form, context, lead, cols, eps, affine, rows, seed)| LnCase {
            form,
            context,
            lead,
            cols,
            eps,
            affine,
            rows,
            seed,
        },
    )
}

/// An offset whose ±16 ulps stay in its binade: `±2^e·[1.25, 1.75)`.
fn safe_offset(rng: &mut Rng, lo_exp: i32, hi_exp: i32) -> f32 {
    let e = lo_exp + rng.below((hi_exp - lo_exp + 1) as usize) as i32;
    rng.sign() * 2f32.powi(e) * rng.uniform(1.25, 1.75)
}

/// `center ± a·u` (u uniform) with the first two values on opposite sides, at least `a/2` away,
/// so even a short row's deviation is about `a` (two close draws would leave the row's mean, and
/// the graph's f32 rounding of it, to decide its normalised values).
fn noise_around(rng: &mut Rng, center: f32, a: f32, cols: usize) -> Vec<f32> {
    (0..cols)
        .map(|i| match i {
            0 => center + a * rng.uniform(0.5, 1.0),
            1 => center - a * rng.uniform(0.5, 1.0),
            _ => center + rng.uniform(-a, a),
        })
        .collect()
}

fn ln_row(rng: &mut Rng, kind: Row, cols: usize, eps: f32) -> Vec<f32> {
    match kind {
        Row::Random => {
            let (mean, spread) = (rng.uniform(-3.0, 3.0), rng.uniform(0.1, 3.0));
            noise_around(rng, mean, spread, cols)
        }
        Row::Constant => {
            let c = match rng.below(5) {
                0 => 0.1,
                1 => 1e4 + 0.3,
                2 => -7.3,
                3 => 0.0,
                _ => rng.uniform(-100.0, 100.0),
            };
            vec![c; cols]
        }
        Row::VarianceEps => {
            // Uniform on ±a has variance a²/3.
            let a = (3.0 * eps).sqrt() * rng.uniform(0.5, 2.0);
            // A mean of a few σ: a larger one would round (in the graph too) by more than σ/1e3.
            let mean = rng.uniform(-4.0, 4.0) * a;
            noise_around(rng, mean, a, cols)
        }
        Row::Tiny => {
            let mean = rng.uniform(-1e-20, 1e-20);
            (0..cols)
                .map(|_| mean + rng.uniform(-1e-20, 1e-20))
                .collect()
        }
        Row::OffsetGrid => {
            let offset = safe_offset(rng, -8, 16);
            let ulp = f32::from_bits(offset.abs().to_bits() + 1) - offset.abs();
            // Pairs ±k (and one 0 for odd rows), shuffled: Σk = 0, so the mean is `offset`.
            let mut k: Vec<i32> = (0..cols / 2)
                .flat_map(|_| {
                    let k = rng.below(9) as i32;
                    [k, -k]
                })
                .collect();
            if cols % 2 == 1 {
                k.push(0);
            }
            for i in (1..k.len()).rev() {
                k.swap(i, rng.below(i + 1));
            }
            k.iter().map(|&k| offset + k as f32 * ulp).collect()
        }
        Row::OffsetNoise => {
            let offset = rng.log_uniform(3.0, 4.5);
            let a = offset.abs() * rng.uniform(2e-3, 1e-2);
            noise_around(rng, offset, a, cols)
        }
    }
}

fn ln_affine(rng: &mut Rng, affine: Affine, cols: usize) -> (Vec<f32>, Vec<f32>) {
    match affine {
        Affine::Identity => (vec![1.0; cols], vec![0.0; cols]),
        Affine::Random => (rng.vec(cols, 0.5, 1.5), rng.vec(cols, -0.5, 0.5)),
        Affine::ZerosAndNegatives => (
            (0..cols)
                .map(|_| match rng.below(4) {
                    0 => 0.0,
                    1 => rng.uniform(-2.0, -0.1),
                    _ => rng.uniform(0.1, 2.0),
                })
                .collect(),
            (0..cols)
                .map(|_| {
                    if rng.chance(0.3) {
                        0.0
                    } else {
                        rng.uniform(-1.0, 1.0)
                    }
                })
                .collect(),
        ),
    }
}

/// The normalisation of `x` as the case spells it.
fn ln_node(b: &mut Builder, c: &LnCase, x: ValueId, gamma: Vec<f32>, beta: Vec<f32>) -> ValueId {
    let cols = c.cols;
    match c.form {
        LnForm::Op17 { bias } => {
            let g = b.f32s(&[cols], gamma);
            let mut inputs = vec![x, g];
            if bias {
                inputs.push(b.f32s(&[cols], beta));
            }
            b.node(
                Op::LayerNorm {
                    axis: -1,
                    epsilon: Float::new(c.eps),
                },
                &inputs,
            )
        }
        LnForm::Decomposed {
            square_as_mul,
            swaps,
            positive_axis,
            eps_rank1,
        } => {
            let rank = c.lead.len() as i64 + 1;
            let axis = if positive_axis { rank - 1 } else { -1 };
            let mean = |b: &mut Builder, v| {
                b.node(
                    Op::Reduce {
                        op: ReduceOp::Mean,
                        axes: Some(vec![axis]),
                        keepdims: true,
                    },
                    &[v],
                )
            };
            let m = mean(b, x);
            let d = b.binary(BinaryOp::Sub, x, m);
            let p = if square_as_mul {
                b.binary(BinaryOp::Mul, d, d)
            } else {
                let two = b.scalar(2.0, false);
                b.binary(BinaryOp::Pow, d, two)
            };
            let v = mean(b, p);
            let eps = b.scalar(c.eps, eps_rank1);
            let e = b.comm(BinaryOp::Add, v, eps, swaps & 1 != 0);
            let s = b.unary(UnaryOp::Sqrt, e);
            let n = b.binary(BinaryOp::Div, d, s);
            let g = b.f32s(&[cols], gamma);
            let y = b.comm(BinaryOp::Mul, n, g, swaps & 2 != 0);
            let bt = b.f32s(&[cols], beta);
            b.comm(BinaryOp::Add, y, bt, swaps & 4 != 0)
        }
    }
}

/// The case's graph and inputs.
fn ln_build(c: &LnCase) -> (Graph, Vec<(String, Tensor)>) {
    let mut rng = Rng(c.seed);
    let dims = c.dims();
    let rows: usize = c.lead.iter().product();
    // The kinds in turn from a random start, so every kind gets a row when there are enough.
    let start = rng.below(c.rows.len());
    let data: Vec<f32> = (0..rows)
        .flat_map(|r| {
            let kind = c.rows[(start + r) % c.rows.len()];
            ln_row(&mut rng, kind, c.cols, c.eps)
        })
        .collect();
    let (gamma, beta) = ln_affine(&mut rng, c.affine, c.cols);
    let mut b = Builder::new("layernorm_fuzz");
    let mut ins = Vec::new();
    let mut outs = Vec::new();
    match c.context {
        LnContext::Alone => {
            let x = b.input("x", &dims);
            ins.push(("x".into(), tensor(&dims, data)));
            outs.push(ln_node(&mut b, c, x, gamma, beta));
        }
        LnContext::BroadcastAdd => {
            // x + bias = data exactly: bias is a small integer where that holds in every row
            // (x = data − bias), 0 elsewhere.
            let bias: Vec<f32> = (0..c.cols)
                .map(|col| {
                    let b = rng.below(5) as f32 - 2.0;
                    let exact = data
                        .iter()
                        .skip(col)
                        .step_by(c.cols)
                        .all(|&v| (v - b) + b == v);
                    if exact {
                        b
                    } else {
                        0.0
                    }
                })
                .collect();
            let xs: Vec<f32> = data
                .iter()
                .enumerate()
                .map(|(i, &v)| v - bias[i % c.cols])
                .collect();
            let x = b.input("x", &dims);
            let bv = b.f32s(&[c.cols], bias);
            let s = b.binary(BinaryOp::Add, x, bv);
            ins.push(("x".into(), tensor(&dims, xs)));
            outs.push(ln_node(&mut b, c, s, gamma, beta));
        }
        LnContext::Skip { .. } | LnContext::Stream => {
            // a + b = data exactly: b is the row rounded to an integer, a the (exact) rest.
            let (av, bv): (Vec<f32>, Vec<f32>) = data
                .iter()
                .map(|&v| {
                    if v.abs() >= 8_388_608.0 {
                        (0.0, v)
                    } else {
                        (v - v.round(), v.round())
                    }
                })
                .unzip();
            let (a, bi) = (b.input("a", &dims), b.input("b", &dims));
            ins.push(("a".into(), tensor(&dims, av)));
            ins.push(("b".into(), tensor(&dims, bv)));
            let swap = matches!(c.context, LnContext::Skip { swap: true });
            let h = b.comm(BinaryOp::Add, a, bi, swap);
            let y = ln_node(&mut b, c, h, gamma, beta);
            outs.push(y);
            if c.context == LnContext::Stream {
                let r = b.unary(UnaryOp::Relu, y);
                outs.push(b.binary(BinaryOp::Add, h, r));
            }
        }
    }
    b.g.outputs = outs;
    (b.g, ins)
}

fn ln_check(c: &LnCase) -> Result<(), String> {
    let (g, ins) = ln_build(c);
    check(&g, &ins, 16, |opt| {
        let (ln, skip) = (
            count(opt, "LayerNormalization"),
            count(opt, "SkipLayerNorm"),
        );
        if count(opt, "ReduceMean") != 0 || ln + skip != 1 {
            return Err(format!("{ln} LayerNorm + {skip} SkipLayerNorm"));
        }
        if c.must_skip() != (skip == 1) {
            return Err(format!("SkipLayerNorm: {skip}"));
        }
        Ok(())
    })
}

#[test]
fn fused_layernorm_matches_the_unfused_graph() {
    fuzz(64, ln_case(), ln_check);
}

// ---------------------------------------------------------------------------------------------
// GELU
// ---------------------------------------------------------------------------------------------

/// How the graph spells GELU.
#[derive(Clone, Copy, Debug)]
struct GeluSpelling {
    tanh: bool,
    /// erf: `x · (1/√2)` instead of `x / √2`; tanh: `Pow(x, 3)` instead of a product.
    alt_inner: bool,
    /// tanh cube as a product: `x·(x·x)` instead of `(x·x)·x`.
    cube_right: bool,
    /// Association of `0.5 · x · (1 + f)`: 0 = `(x·0.5)·(1+f)`, 1 = `(x·(1+f))·0.5`,
    /// 2 = `(0.5·(1+f))·x`.
    outer: u8,
    /// Operand order of each commutative node (bit per node).
    swaps: u16,
    /// Constants of shape `[1]` (dynamo) instead of scalars.
    rank1: bool,
}

/// Where the GELU reads its input.
#[derive(Clone, Copy, Debug)]
enum GeluSite {
    /// A graph input.
    Alone,
    /// `MatMul(x, W)`, optionally `+ bias` (either order): a FusedMatMul epilogue.
    MatMul { bias: Option<bool> },
    /// `Gemm(x, W, bias, transB)` (2-D).
    Gemm { trans_b: bool },
}

#[derive(Clone, Debug)]
struct GeluCase {
    spelling: GeluSpelling,
    site: GeluSite,
    /// Leading dims of the GELU input (its rows).
    lead: Vec<usize>,
    /// Last dim of the GELU input (N for a matmul).
    cols: usize,
    /// Depth of the matmul.
    k: usize,
    seed: u64,
}

fn gelu_case() -> impl Strategy<Value = GeluCase> {
    let spelling = (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        0u8..3,
        any::<u16>(),
        any::<bool>(),
    )
        .prop_map(
            |(tanh, alt_inner, cube_right, outer, swaps, rank1)| GeluSpelling {
                tanh,
                alt_inner,
                cube_right,
                outer,
                swaps,
                rank1,
            },
        );
    let site = prop_oneof![
        2 => Just(GeluSite::Alone),
        2 => proptest::option::of(any::<bool>()).prop_map(|bias| GeluSite::MatMul { bias }),
        1 => any::<bool>().prop_map(|trans_b| GeluSite::Gemm { trans_b }),
    ];
    let lead = prop_oneof![
        2 => (1usize..=16).prop_map(|r| vec![r]),
        2 => (1usize..=2, 1usize..=16).prop_map(|(b, s)| vec![b, s]),
    ];
    let cols = prop_oneof![3 => 1usize..=96, 1 => 97usize..=700];
    let k = prop_oneof![3 => 1usize..=64, 1 => 65usize..=300];
    (spelling, site, lead, cols, k, any::<u64>(), 0..8).prop_map(
        |(spelling, site, mut lead, mut cols, k, seed, big)| {
            if matches!(site, GeluSite::Gemm { .. }) {
                lead = vec![lead.iter().product()];
            }
            // Sometimes a standalone GELU large enough for the multi-threaded elementwise path.
            if matches!(site, GeluSite::Alone) && big == 0 {
                lead = vec![2, 64];
                cols += 512;
            }
            GeluCase {
                spelling,
                site,
                lead,
                cols,
                k,
                seed,
            }
        },
    )
}

/// `GELU(x)` as `s` spells it.
fn gelu_pattern(b: &mut Builder, s: GeluSpelling, x: ValueId) -> ValueId {
    let r = s.rank1;
    let mut bit = 0;
    let mut swap = || {
        bit += 1;
        s.swaps >> (bit - 1) & 1 != 0
    };
    let f = if s.tanh {
        let cube = if s.alt_inner {
            let three = b.scalar(3.0, r);
            b.binary(BinaryOp::Pow, x, three)
        } else {
            let sq = b.binary(BinaryOp::Mul, x, x);
            b.comm(BinaryOp::Mul, x, sq, s.cube_right)
        };
        let k = b.scalar(0.044715, r);
        let kc = b.comm(BinaryOp::Mul, cube, k, swap());
        let inner = b.comm(BinaryOp::Add, x, kc, swap());
        let c = b.scalar(0.797_884_6, r);
        let arg = b.comm(BinaryOp::Mul, inner, c, swap());
        b.unary(UnaryOp::Tanh, arg)
    } else {
        let arg = if s.alt_inner {
            let c = b.scalar(std::f32::consts::FRAC_1_SQRT_2, r);
            b.comm(BinaryOp::Mul, x, c, swap())
        } else {
            let c = b.scalar(std::f32::consts::SQRT_2, r);
            b.binary(BinaryOp::Div, x, c)
        };
        b.unary(UnaryOp::Erf, arg)
    };
    let one = b.scalar(1.0, r);
    let one_plus = b.comm(BinaryOp::Add, f, one, swap());
    let half = b.scalar(0.5, r);
    match s.outer {
        0 => {
            let hx = b.comm(BinaryOp::Mul, x, half, swap());
            b.comm(BinaryOp::Mul, hx, one_plus, swap())
        }
        1 => {
            let xf = b.comm(BinaryOp::Mul, x, one_plus, swap());
            b.comm(BinaryOp::Mul, xf, half, swap())
        }
        _ => {
            let hf = b.comm(BinaryOp::Mul, half, one_plus, swap());
            b.comm(BinaryOp::Mul, hf, x, swap())
        }
    }
}

/// One GELU input value: mostly ordinary, often large, sometimes special.
fn gelu_value(rng: &mut Rng) -> f32 {
    match rng.below(20) {
        0..=7 => rng.uniform(-5.0, 5.0),
        8..=11 => rng.log_uniform(1.0, 4.0),
        12 => f32::INFINITY,
        13 => f32::NEG_INFINITY,
        14 => f32::NAN,
        15 => rng.sign() * 0.0,
        16 => rng.log_uniform(-30.0, -7.0),
        17 => rng.sign() * 1e-40,
        18 => rng.uniform(-12.0, -5.0),
        _ => rng.log_uniform(-3.0, 0.0),
    }
}

/// Row `kind` of a matmul input: ordinary (0–3), large (GELU inputs in the thousands: 4, 5),
/// one ±∞ (6) or NaN (7), zero (8).
fn matmul_row(rng: &mut Rng, k: usize, kind: usize) -> Vec<f32> {
    let mut row = rng.vec(k, -1.0, 1.0);
    match kind % 9 {
        0..=3 => {}
        4 | 5 => row.iter_mut().for_each(|v| *v *= 1e3),
        6 => row[rng.below(k)] = rng.sign() * f32::INFINITY,
        7 => row[rng.below(k)] = f32::NAN,
        _ => row.iter_mut().for_each(|v| *v = 0.0),
    }
    row
}

/// The case's graph and inputs; `data` replaces a standalone GELU's random input.
fn gelu_build(c: &GeluCase, data: Option<&[f32]>) -> (Graph, Vec<(String, Tensor)>) {
    let mut rng = Rng(c.seed);
    let mut b = Builder::new("gelu_fuzz");
    let rows: usize = c.lead.iter().product();
    let mut in_dims = c.lead.clone();
    let x = match c.site {
        GeluSite::Alone => {
            in_dims.push(c.cols);
            let data = match data {
                Some(d) => d.to_vec(),
                None => (0..rows * c.cols).map(|_| gelu_value(&mut rng)).collect(),
            };
            let x = b.input("x", &in_dims);
            let ins = vec![("x".to_string(), tensor(&in_dims, data))];
            let y = gelu_pattern(&mut b, c.spelling, x);
            b.g.outputs.push(y);
            return (b.g, ins);
        }
        _ => {
            in_dims.push(c.k);
            b.input("x", &in_dims)
        }
    };
    let start = rng.below(9);
    let data: Vec<f32> = (0..rows)
        .flat_map(|r| matmul_row(&mut rng, c.k, start + r))
        .collect();
    let ins = vec![("x".to_string(), tensor(&in_dims, data))];
    // Weights of either sign and never zero (so an ∞ input gives ±∞, not NaN, in every column).
    let scale = 1.0 / (c.k as f32).sqrt();
    let w: Vec<f32> = (0..c.k * c.cols)
        .map(|_| rng.sign() * rng.uniform(0.1, 1.0) * scale)
        .collect();
    let bias = rng.vec(c.cols, -1.0, 1.0);
    let pre = match c.site {
        GeluSite::MatMul { bias: with_bias } => {
            let wv = b.f32s(&[c.k, c.cols], w);
            let mm = b.node(Op::MatMul, &[x, wv]);
            match with_bias {
                Some(swap) => {
                    let bv = b.f32s(&[c.cols], bias);
                    b.comm(BinaryOp::Add, mm, bv, swap)
                }
                None => mm,
            }
        }
        GeluSite::Gemm { trans_b } => {
            let wv = if trans_b {
                let mut t = vec![0f32; w.len()];
                for r in 0..c.k {
                    for j in 0..c.cols {
                        t[j * c.k + r] = w[r * c.cols + j];
                    }
                }
                b.f32s(&[c.cols, c.k], t)
            } else {
                b.f32s(&[c.k, c.cols], w)
            };
            let bv = b.f32s(&[c.cols], bias);
            b.node(
                Op::Gemm {
                    alpha: Float::new(1.0),
                    beta: Float::new(1.0),
                    trans_a: false,
                    trans_b,
                },
                &[x, wv, bv],
            )
        }
        GeluSite::Alone => unreachable!(),
    };
    let y = gelu_pattern(&mut b, c.spelling, pre);
    b.g.outputs.push(y);
    (b.g, ins)
}

fn gelu_check(c: &GeluCase) -> Result<(), String> {
    gelu_check_data(c, None)
}

fn gelu_check_data(c: &GeluCase, data: Option<&[f32]>) -> Result<(), String> {
    let (g, ins) = gelu_build(c, data);
    check(&g, &ins, 16, |opt| {
        for op in ["Erf", "Tanh", "Pow"] {
            if count(opt, op) != 0 {
                return Err(format!("{op} left"));
            }
        }
        match c.site {
            GeluSite::Alone => (count(opt, "Gelu") == 1)
                .then_some(())
                .ok_or_else(|| "no Gelu".to_string()),
            _ => {
                let want = if c.spelling.tanh {
                    infc_ir::Epilogue::GeluTanh
                } else {
                    infc_ir::Epilogue::GeluErf
                };
                let ok = opt.nodes.len() == 1
                    && matches!(&opt.nodes[0].op,
                        Op::FusedMatMul { epilogue, .. } if epilogue.contains(&want));
                ok.then_some(())
                    .ok_or_else(|| "not one FusedMatMul with a GELU epilogue".to_string())
            }
        }
    })
}

#[test]
fn fused_gelu_matches_the_unfused_graph() {
    fuzz(64, gelu_case(), gelu_check);
}

// ---------------------------------------------------------------------------------------------
// Conv + BatchNormalization
// ---------------------------------------------------------------------------------------------

/// What a BN's per-channel parameters hold.
#[derive(Clone, Copy, Debug)]
enum Bn {
    Random,
    /// Some channels with variance 0 (so only ε keeps the scale finite).
    ZeroVariance,
    /// Negative and zero γ.
    NegativeAndZeroScale,
    /// Everything at once.
    Mixed,
}

#[derive(Clone, Debug)]
struct Stage {
    cout: usize,
    group: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    /// `[top, left, bottom, right]`.
    pads: [usize; 4],
    dilation: [usize; 2],
    conv_bias: bool,
    bn: Bn,
    eps: f32,
    /// `+ r` (a graph input of the output's shape) after the BN, either order.
    residual: Option<bool>,
    relu: bool,
}

#[derive(Clone, Debug)]
struct ConvCase {
    n: usize,
    cin: usize,
    h: usize,
    w: usize,
    stages: Vec<Stage>,
    block: usize,
    seed: u64,
}

impl Stage {
    fn out_hw(&self, h: usize, w: usize) -> (usize, usize) {
        let o = |x: usize, a: usize| {
            let span = self.dilation[a] * (self.kernel[a] - 1) + 1;
            (x + self.pads[a] + self.pads[a + 2] - span) / self.stride[a] + 1
        };
        (o(h, 0), o(w, 1))
    }
    /// Shrinks the kernel (then the dilation) until the padded input holds it.
    fn fit(&mut self, h: usize, w: usize) {
        for (a, x) in [(0, h), (1, w)] {
            let padded = x + self.pads[a] + self.pads[a + 2];
            while self.dilation[a] * (self.kernel[a] - 1) + 1 > padded {
                if self.dilation[a] > 1 {
                    self.dilation[a] = 1;
                } else {
                    self.kernel[a] -= 1;
                }
            }
            // Pads of at least the span (windows of padding only) are legal but no exporter
            // writes them.
            let span = self.dilation[a] * (self.kernel[a] - 1) + 1;
            self.pads[a] = self.pads[a].min(span - 1);
            self.pads[a + 2] = self.pads[a + 2].min(span - 1);
        }
    }
}

/// Channel counts: mostly multiples of 8 (realistic), sometimes anything.
fn channels() -> impl Strategy<Value = usize> {
    prop_oneof![
        2 => (1usize..=6).prop_map(|m| 8 * m),
        2 => 1usize..=40,
    ]
}

fn stage(cin: usize) -> impl Strategy<Value = Stage> {
    let kernel = prop_oneof![
        3 => (1usize..=3).prop_map(|k| [2 * k - 1; 2]),
        1 => (1usize..=5, 1usize..=5).prop_map(|(a, b)| [a, b]),
    ];
    let grouping = prop_oneof![
        4 => Just(0usize),
        2 => Just(1usize),
        1 => Just(2usize),
    ];
    (
        channels(),
        grouping,
        kernel,
        prop_oneof![3 => Just([1usize, 1]), 1 => (1usize..=3, 1usize..=3).prop_map(|(a, b)| [a, b])],
        (0usize..=2, 0usize..=2, 0usize..=2, 0usize..=2),
        prop_oneof![5 => Just([1usize, 1]), 1 => Just([2usize, 2])],
        any::<bool>(),
        prop_oneof![
            1 => Just(Bn::Random),
            1 => Just(Bn::ZeroVariance),
            1 => Just(Bn::NegativeAndZeroScale),
            1 => Just(Bn::Mixed),
        ],
        proptest::sample::select(vec![1e-5f32, 1e-3, 1e-10, 0.0]),
        proptest::option::of(any::<bool>()),
        any::<bool>(),
    )
        .prop_map(
            move |(
                cout,
                grouping,
                kernel,
                stride,
                (t, l, bo, r),
                dilation,
                conv_bias,
                bn,
                eps,
                residual,
                relu,
            )| {
                // 0: group 1; 1: depthwise (cout = cin · multiplier); 2: a divisor group.
                let (group, cout) = match grouping {
                    0 => (1, cout),
                    1 => (cin, cin * (1 + cout % 2)),
                    _ => {
                        let g = (2..=cin).rev().find(|&g| cin.is_multiple_of(g) && g * 2 <= cin).unwrap_or(1);
                        (g, g * (1 + cout % 3))
                    }
                };
                // ε = 0 only where no variance is 0 (see `conv_bn_with_zero_variance_and_epsilon`).
                let zero_var = matches!(bn, Bn::ZeroVariance | Bn::Mixed);
                let eps = if zero_var && eps == 0.0 { 1e-5 } else { eps };
                Stage {
                    cout,
                    group,
                    kernel,
                    stride,
                    pads: [t, l, bo, r],
                    dilation,
                    conv_bias,
                    bn,
                    eps,
                    residual,
                    relu,
                }
            },
        )
}

fn conv_case() -> impl Strategy<Value = ConvCase> {
    let hw = prop_oneof![3 => 4usize..=16, 1 => 1usize..=4];
    (
        1usize..=2,
        channels(),
        hw.clone(),
        hw,
        any::<bool>(),
        proptest::sample::select(vec![8usize, 16]),
        any::<u64>(),
    )
        .prop_flat_map(|(n, cin, h, w, two, block, seed)| {
            let first = stage(cin);
            first.prop_flat_map(move |s1| {
                let second = if two {
                    stage(s1.cout).prop_map(Some).boxed()
                } else {
                    Just(None).boxed()
                };
                let s1 = s1.clone();
                second.prop_map(move |s2| {
                    let mut stages = vec![s1.clone()];
                    stages.extend(s2);
                    let (mut hh, mut ww) = (h, w);
                    for s in &mut stages {
                        s.fit(hh, ww);
                        (hh, ww) = s.out_hw(hh, ww);
                    }
                    ConvCase {
                        n,
                        cin,
                        h,
                        w,
                        stages,
                        block,
                        seed,
                    }
                })
            })
        })
}

/// Per-channel BN parameters `(γ, β, mean, var)`; `out_scale` is about the conv output's size.
fn bn_params(rng: &mut Rng, bn: Bn, c: usize, out_scale: f32) -> [Vec<f32>; 4] {
    let (zero_var, odd_scale) = match bn {
        Bn::Random => (0.0, 0.0),
        Bn::ZeroVariance => (0.5, 0.0),
        Bn::NegativeAndZeroScale => (0.0, 0.6),
        Bn::Mixed => (0.3, 0.4),
    };
    let gamma = (0..c)
        .map(|_| {
            if rng.chance(odd_scale) {
                if rng.chance(0.4) {
                    0.0
                } else {
                    rng.uniform(-2.0, -0.1)
                }
            } else {
                rng.uniform(0.2, 2.0)
            }
        })
        .collect();
    let beta = rng.vec(c, -1.0, 1.0);
    let mean = rng.vec(c, -out_scale, out_scale);
    let var = (0..c)
        .map(|_| {
            if rng.chance(zero_var) {
                0.0
            } else {
                out_scale * out_scale * rng.uniform(0.05, 2.0)
            }
        })
        .collect();
    [gamma, beta, mean, var]
}

fn conv_build(c: &ConvCase) -> (Graph, Vec<(String, Tensor)>) {
    let mut rng = Rng(c.seed);
    let mut b = Builder::new("conv_bn_fuzz");
    let dims = [c.n, c.cin, c.h, c.w];
    let mut x = b.input("x", &dims);
    let mut ins = vec![(
        "x".to_string(),
        tensor(&dims, rng.vec(dims.iter().product(), -1.0, 1.0)),
    )];
    let (mut cin, mut h, mut w) = (c.cin, c.h, c.w);
    // Typical magnitude of the values entering the stage.
    let mut in_scale = 0.6f32;
    for (i, s) in c.stages.iter().enumerate() {
        let cg = cin / s.group;
        let fan_in = cg * s.kernel[0] * s.kernel[1];
        let ws = 1.0 / (fan_in as f32).sqrt();
        let wv = b.f32s(
            &[s.cout, cg, s.kernel[0], s.kernel[1]],
            rng.vec(s.cout * fan_in, -ws, ws),
        );
        let mut inputs = vec![x, wv];
        if s.conv_bias {
            let bias = rng.vec(s.cout, -0.5, 0.5);
            inputs.push(b.f32s(&[s.cout], bias));
        }
        let attrs = ConvAttrs {
            kernel: s.kernel.to_vec(),
            strides: s.stride.to_vec(),
            pads: vec![s.pads[0], s.pads[1], s.pads[2], s.pads[3]],
            dilations: s.dilation.to_vec(),
            group: s.group,
        };
        let conv = b.node(Op::Conv(attrs), &inputs);
        // The conv output is about in_scale · 0.6 (uniform weights of ±1/√fan_in).
        let out_scale = in_scale * 0.6;
        let params = bn_params(&mut rng, s.bn, s.cout, out_scale);
        let params: Vec<ValueId> = params.into_iter().map(|p| b.f32s(&[s.cout], p)).collect();
        let mut y = b.node(
            Op::BatchNorm {
                epsilon: Float::new(s.eps),
            },
            &[conv, params[0], params[1], params[2], params[3]],
        );
        let (oh, ow) = s.out_hw(h, w);
        let odims = [c.n, s.cout, oh, ow];
        if let Some(swap) = s.residual {
            let name = format!("r{i}");
            let r = b.input(&name, &odims);
            ins.push((
                name,
                tensor(&odims, rng.vec(odims.iter().product(), -2.0, 2.0)),
            ));
            y = b.comm(BinaryOp::Add, y, r, swap);
        }
        if s.relu {
            y = b.unary(UnaryOp::Relu, y);
        }
        x = y;
        (cin, h, w) = (s.cout, oh, ow);
        // After BN the values are about γ·(a few) + β.
        in_scale = 2.0;
    }
    b.g.outputs.push(x);
    (b.g, ins)
}

fn conv_check(c: &ConvCase) -> Result<(), String> {
    let (g, ins) = conv_build(c);
    check(&g, &ins, c.block, |opt| {
        let convs = count(opt, "Conv") + count(opt, "FusedConv") + count(opt, "NchwcConv");
        let blocked = c.stages.iter().filter(|s| s.group == 1).count();
        if ["BatchNormalization", "Relu", "Add"]
            .iter()
            .any(|op| count(opt, op) != 0)
        {
            return Err("BatchNormalization, Add or Relu left".into());
        }
        if convs != c.stages.len() || count(opt, "NchwcConv") != blocked {
            return Err(format!(
                "{convs} convs, want {} ({blocked} blocked)",
                c.stages.len()
            ));
        }
        Ok(())
    })
}

#[test]
fn folded_conv_bn_matches_the_unfused_graph() {
    fuzz(32, conv_case(), conv_check);
}

// ---------------------------------------------------------------------------------------------
// Deterministic cases: every spelling on the nastiest fixed inputs
// ---------------------------------------------------------------------------------------------

/// Every LayerNorm spelling and context on one row of each kind (constant rows of inexact sums,
/// variance ≈ ε, 1e-20, large offsets), odd and realistic widths, BERT's and GPT-2's ε. Constant
/// and offset rows broke the fused kernel (its f32 mean was rounded, by `5e-3·γ` at ε = 1e-12).
#[test]
fn layernorm_on_the_rows_that_break_it() {
    let forms = [
        LnForm::Decomposed {
            square_as_mul: false,
            swaps: 0,
            positive_axis: false,
            eps_rank1: false,
        },
        LnForm::Decomposed {
            square_as_mul: true,
            swaps: 7,
            positive_axis: true,
            eps_rank1: true,
        },
        LnForm::Op17 { bias: true },
        LnForm::Op17 { bias: false },
    ];
    let contexts = [
        LnContext::Alone,
        LnContext::Skip { swap: false },
        LnContext::Skip { swap: true },
        LnContext::Stream,
        LnContext::BroadcastAdd,
    ];
    for form in forms {
        for context in contexts {
            for cols in [1, 7, 768, 1023] {
                for eps in [1e-12, 1e-5] {
                    let c = LnCase {
                        form,
                        context,
                        lead: vec![2, ROWS.len()],
                        cols,
                        eps,
                        affine: Affine::ZerosAndNegatives,
                        rows: ROWS.to_vec(),
                        seed: 11,
                    };
                    if let Err(e) = ln_check(&c) {
                        panic!("{c:?}: {e}");
                    }
                }
            }
        }
    }
}

/// Every GELU spelling, alone on the ends of the float range (and on large negatives only, so
/// the tolerance is 1e-4: GELU must vanish there) and as a matmul epilogue on rows holding ±∞,
/// NaN and thousands. The fused erf form gave −6e-4 at −1e4 and −∞ at −∞, the tanh form −∞ at
/// −∞, where the graph gives 0 and NaN.
#[test]
fn gelu_on_the_ends_of_the_float_range() {
    let ends = [
        f32::NEG_INFINITY,
        f32::INFINITY,
        f32::NAN,
        0.0,
        -0.0,
        1e-40,
        -1e-40,
        1e-30,
        -1e-7,
        1e4,
        -1e4,
        -1e30,
        // Not f32::MAX: `x·(1 + erf) · 0.5` overflows in the graph where `x·0.5·(1 + erf)`
        // does not, and the fused op gives the finite value.
        1e38,
        -f32::MAX,
        -5.5,
        -20.0,
        3.0,
        -0.5,
    ];
    let negatives = [
        -1e4,
        -20.0,
        -1e30,
        -f32::MAX,
        -6.0,
        -1e3,
        -0.0,
        f32::NEG_INFINITY,
    ];
    let sites = [
        GeluSite::Alone,
        GeluSite::MatMul { bias: Some(false) },
        GeluSite::MatMul { bias: Some(true) },
        GeluSite::MatMul { bias: None },
        GeluSite::Gemm { trans_b: true },
        GeluSite::Gemm { trans_b: false },
    ];
    for tanh in [false, true] {
        for alt_inner in [false, true] {
            for outer in 0..3 {
                for (swaps, rank1, cube_right) in [
                    (0, false, false),
                    (0xffff, true, true),
                    (0x5555, false, true),
                ] {
                    let spelling = GeluSpelling {
                        tanh,
                        alt_inner,
                        cube_right,
                        outer,
                        swaps,
                        rank1,
                    };
                    for site in sites {
                        let c = GeluCase {
                            spelling,
                            site,
                            lead: vec![9],
                            cols: 18,
                            k: 33,
                            seed: 3,
                        };
                        let inputs: Vec<Option<&[f32]>> = match site {
                            GeluSite::Alone => vec![Some(&ends), Some(&negatives)],
                            _ => vec![None],
                        };
                        for data in inputs {
                            let c = match data {
                                Some(d) => GeluCase {
                                    lead: vec![1],
                                    cols: d.len(),
                                    ..c.clone()
                                },
                                None => c.clone(),
                            };
                            if let Err(e) = gelu_check_data(&c, data) {
                                panic!("{c:?}: {e}");
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Conv + BN stages with zero variance (ε alone scales them, 1e-5 and a tiny 1e-10), negative and
/// zero scales, depthwise and grouped convs, a stem reading fewer channels than the block,
/// strides, asymmetric pads and dilation, residual and Relu, in NCHW16c and NCHW8c.
#[test]
fn conv_bn_with_degenerate_statistics() {
    let st = |cout, group, k: usize, stride, pads, bn, eps, residual, relu| Stage {
        cout,
        group,
        kernel: [k, k],
        stride: [stride, stride],
        pads,
        dilation: [1, 1],
        conv_bias: cout % 2 == 0,
        bn,
        eps,
        residual,
        relu,
    };
    let nets: Vec<(usize, usize, Vec<Stage>)> = vec![
        // ResNet stem: 3 channels, 7×7 stride 2, then a 3×3 with a residual.
        (
            3,
            20,
            vec![
                st(16, 1, 7, 2, [3; 4], Bn::ZeroVariance, 1e-5, None, true),
                st(16, 1, 3, 1, [1; 4], Bn::Mixed, 1e-10, Some(true), true),
            ],
        ),
        // MobileNet: depthwise 3×3 stride 2, then pointwise.
        (
            24,
            15,
            vec![
                st(
                    24,
                    24,
                    3,
                    2,
                    [1, 1, 0, 0],
                    Bn::NegativeAndZeroScale,
                    1e-3,
                    None,
                    true,
                ),
                st(40, 1, 1, 1, [0; 4], Bn::ZeroVariance, 1e-10, None, false),
            ],
        ),
        // Grouped conv with a channel multiplier, odd channels, no Relu.
        (
            12,
            9,
            vec![
                st(
                    18,
                    3,
                    3,
                    1,
                    [0, 1, 2, 1],
                    Bn::Mixed,
                    1e-5,
                    Some(false),
                    false,
                ),
                st(
                    5,
                    1,
                    2,
                    2,
                    [1, 0, 0, 1],
                    Bn::NegativeAndZeroScale,
                    0.0,
                    None,
                    true,
                ),
            ],
        ),
    ];
    for (cin, hw, stages) in nets {
        for block in [8, 16] {
            for seed in 0..4 {
                let mut c = ConvCase {
                    n: 2,
                    cin,
                    h: hw,
                    w: hw + 3,
                    stages: stages.clone(),
                    block,
                    seed,
                };
                let (mut h, mut w) = (c.h, c.w);
                for s in &mut c.stages {
                    s.fit(h, w);
                    (h, w) = s.out_hw(h, w);
                }
                if let Err(e) = conv_check(&c) {
                    panic!("{c:?}: {e}");
                }
            }
        }
    }
}

/// Not fixed: a channel with variance 0 and ε = 0 divides by zero. The graph gives ±∞ (NaN
/// where the conv output equals the mean or γ = 0); the folded conv multiplies its weights by an
/// infinite scale and gives NaN for most elements, and so would the runtime's own BatchNorm step
/// (`x·scale + (β − mean·scale)` is `∞ − ∞`). No exporter writes ε = 0 (PyTorch's default is
/// 1e-5), and ONNX gives the output no meaning beyond IEEE's.
#[test]
#[ignore = "var + ε = 0: the fold and the runtime's BatchNorm give NaN where the graph gives ±∞"]
fn conv_bn_with_zero_variance_and_epsilon() {
    let stage = Stage {
        cout: 8,
        group: 1,
        kernel: [3, 3],
        stride: [1, 1],
        pads: [1; 4],
        dilation: [1, 1],
        conv_bias: true,
        bn: Bn::ZeroVariance,
        eps: 0.0,
        residual: None,
        relu: false,
    };
    let c = ConvCase {
        n: 1,
        cin: 8,
        h: 6,
        w: 6,
        stages: vec![stage],
        block: 16,
        seed: 1,
    };
    if let Err(e) = conv_check(&c) {
        panic!("{c:?}: {e}");
    }
}
