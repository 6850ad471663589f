//! GELU: the erf and tanh forms in every association, operand order and constant shape,
//! standalone and as a `MatMul (+ bias)` / `Gemm` epilogue, on the ends of the float range.

use crate::{check, count, fuzz, must_pass, tensor, Rng};
use infc::ir::{BinaryOp, Float, Graph, Op, Tensor, UnaryOp, ValueId};
use infc_conformance::fuzz::Builder;
use proptest::prelude::*;

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
                    infc::ir::Epilogue::GeluTanh
                } else {
                    infc::ir::Epilogue::GeluErf
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
                            must_pass(&c, |c| gelu_check_data(c, data));
                        }
                    }
                }
            }
        }
    }
}
