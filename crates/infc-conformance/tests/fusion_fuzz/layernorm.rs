//! LayerNorm and SkipLayerNorm: opset ≤ 16's decomposition in every spelling the matcher
//! takes and opset 17's `LayerNormalization`, alone, after a residual Add, in a pre-LN residual
//! stream and after a broadcasting Add, on the rows that break a fused kernel.

use crate::{check, count, fuzz, must_pass, tensor, Rng};
use infc::ir::{BinaryOp, Float, Graph, Op, ReduceOp, Tensor, UnaryOp, ValueId};
use infc_conformance::fuzz::Builder;
use proptest::prelude::*;

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
                    must_pass(&c, ln_check);
                }
            }
        }
    }
}
