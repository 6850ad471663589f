//! Differential fuzzer for the attention fusion: builds the attention sub-graph as each exporter
//! writes it (HuggingFace 5.x eager and SDPA through TorchScript and dynamo, transformers 4.x's
//! `Where(tril, s, min) + mask`, BERT's `(1 − mask)·−10000`, an export without a padding input),
//! plus near-miss patterns that must either be fused exactly or not fused (a `−1e4` Where fill, a
//! scale after the mask, an off-by-one triangle, a mask broadcast over keys), with random batch,
//! sequence, heads, head size and padding masks (left, right, middle, fully padded rows, random
//! bits, none). Each case runs the `-O3` plan on every ISA path this machine has and compares it
//! with the reference interpreter on the unoptimised graph: within `1e-4 + 1e-3·max|ref|`, NaN
//! exactly where the graph gives NaN.
//!
//! `cargo test` runs a small number of cases; `INFC_FUZZ_CASES=N` runs `N` (the proptest
//! seed is printed on failure; a found case is added to `regressions` below).

use infc::ir::{BinaryOp, DType, Graph, Op, Tensor, UnaryOp, ValueId};
use infc::passes::OptLevel;
use infc::reference::{run_graph, InputKey};
use infc_conformance::fuzz::{cases_wanted, Builder};
use infc_conformance::plan::{isas_under_test, lower, optimise, run_plan};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// How the graph builds and applies its mask.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Flavour {
    /// transformers 5.x eager GPT-2: `s/√d + Where(And(tril, pad), 0, f32::MIN)`.
    EagerCausal,
    /// The eager pattern with a `−1e30` fill (older exporters' "large negative" constant).
    BigFillCausal,
    /// transformers 5.x SDPA GPT-2 (TorchScript): q and k each scaled by `d^−¼`,
    /// `+ Where(And(tril, pad), 0, −∞)`, softmax behind `Where(IsNaN(p), 0, p)`.
    SdpaCausal,
    /// SDPA encoder (DistilBERT dynamo): `Where(And(all-true [S,1], pad), 0, f32::MIN)`, guard.
    SdpaPadding,
    /// transformers 4.x GPT-2: `Where(tril, s, f32::MIN) + (1 − mask)·f32::MIN`.
    LegacyCausal,
    /// BERT: `s/√d + (1 − mask)·−10000`.
    BertPadding,
    /// An export without a padding input: `s + const [1,1,S,S]` of 0 / `−∞` (causal, guarded).
    ConstCausal,
    /// Near miss: `Where(tril, s, −1e4)` (fill above the masking threshold) then the pad mask.
    NearMissSmallFill,
    /// Near miss: `(s + mask)·scale` (the scale after the mask).
    NearMissScaleAfterMask,
    /// Near miss: a strictly lower triangle (`j < i`: the diagonal hidden too).
    NearMissStrictTriangle,
    /// Near miss: a `[B,1,S,1]` mask (per query, broadcast over keys).
    NearMissQueryMask,
}

const FLAVOURS: [Flavour; 11] = [
    Flavour::EagerCausal,
    Flavour::BigFillCausal,
    Flavour::SdpaCausal,
    Flavour::SdpaPadding,
    Flavour::LegacyCausal,
    Flavour::BertPadding,
    Flavour::ConstCausal,
    Flavour::NearMissSmallFill,
    Flavour::NearMissScaleAfterMask,
    Flavour::NearMissStrictTriangle,
    Flavour::NearMissQueryMask,
];

impl Flavour {
    /// Patterns the fusion must take (a near miss may or may not be fused; it must be exact).
    fn must_fuse(self) -> bool {
        !matches!(
            self,
            Flavour::NearMissSmallFill
                | Flavour::NearMissScaleAfterMask
                | Flavour::NearMissStrictTriangle
                | Flavour::NearMissQueryMask
        )
    }
}

/// Which keys a row of the padding mask keeps.
#[derive(Clone, Copy, Debug)]
enum Padding {
    None,
    Left(usize),
    Right(usize),
    Middle(usize, usize),
    All,
    Random(u64),
}

impl Padding {
    fn keep(self, s: usize) -> Vec<i64> {
        (0..s)
            .map(|j| {
                let kept = match self {
                    Padding::None => true,
                    Padding::Left(n) => j >= n.min(s),
                    Padding::Right(n) => j + n.min(s) < s,
                    Padding::Middle(a, n) => !(a..a + n).contains(&j),
                    Padding::All => false,
                    Padding::Random(seed) => (seed >> (j % 64)) & 1 == 1,
                };
                kept as i64
            })
            .collect()
    }
}

#[derive(Clone, Debug)]
struct Case {
    flavour: Flavour,
    batch: usize,
    seq: usize,
    heads: usize,
    d: usize,
    padding: Vec<Padding>,
    seed: u64,
}

fn padding() -> impl Strategy<Value = Padding> {
    prop_oneof![
        2 => Just(Padding::None),
        3 => (0usize..70).prop_map(Padding::Left),
        3 => (0usize..70).prop_map(Padding::Right),
        1 => (0usize..64, 0usize..8).prop_map(|(a, n)| Padding::Middle(a, n)),
        2 => Just(Padding::All),
        1 => any::<u64>().prop_map(Padding::Random),
    ]
}

/// Mostly realistic sizes (sequence 8–64, heads 2–12, head size 16–64), sometimes tiny or odd.
fn case() -> impl Strategy<Value = Case> {
    let seq = prop_oneof![3 => 8usize..=64, 1 => 1usize..8];
    let heads = prop_oneof![3 => 2usize..=12, 1 => Just(1usize)];
    let d = prop_oneof![3 => 16usize..=64, 1 => 1usize..16];
    (
        proptest::sample::select(FLAVOURS.to_vec()),
        1usize..=3,
        seq,
        heads,
        d,
        any::<u64>(),
    )
        .prop_flat_map(|(flavour, batch, seq, heads, d, seed)| {
            proptest::collection::vec(padding(), batch).prop_map(move |padding| Case {
                flavour,
                batch,
                seq,
                heads,
                d,
                padding,
                seed,
            })
        })
}

/// `[B,S,H·D]` → `[B,H,S,D]` (or `[B,H,D,S]` for k).
fn heads(b: &mut Builder, x: ValueId, c: &Case, transposed: bool) -> ValueId {
    let shape = b.i64s(vec![
        c.batch as i64,
        c.seq as i64,
        c.heads as i64,
        c.d as i64,
    ]);
    let r = b.node(Op::Reshape { allowzero: false }, &[x, shape]);
    let perm = if transposed {
        vec![0, 2, 3, 1]
    } else {
        vec![0, 2, 1, 3]
    };
    b.node(Op::Transpose { perm }, &[r])
}

/// `tri[i][j]` over `[1,1,S,S]`: `j ≤ i` (or `j < i` when strict).
fn triangle(s: usize, strict: bool) -> Vec<bool> {
    (0..s * s)
        .map(|x| {
            if strict {
                x % s < x / s
            } else {
                x % s <= x / s
            }
        })
        .collect()
}

/// The case's graph: inputs q, k, v `[B,S,H·D]` and `attention_mask` i64 `[B,S]`, output `[B,S,H·D]`.
fn build(c: &Case) -> Graph {
    let mut b = Builder::new("attention_fuzz");
    let (bs, s, e) = (c.batch, c.seq, c.heads * c.d);
    let (q, k, v) = (
        b.input("q", &[bs, s, e]),
        b.input("k", &[bs, s, e]),
        b.input("v", &[bs, s, e]),
    );
    let mask_in = b.typed_input("attention_mask", DType::I64, &[bs, s]);
    let scale = 1.0 / (c.d as f32).sqrt();
    let sdpa = c.flavour == Flavour::SdpaCausal;
    let (mut qh, mut kt) = (heads(&mut b, q, c, false), heads(&mut b, k, c, true));
    let vh = heads(&mut b, v, c, false);
    if sdpa {
        let root = b.scalar(scale.sqrt(), false);
        qh = b.binary(BinaryOp::Mul, qh, root);
        let root = b.scalar(scale.sqrt(), false);
        kt = b.binary(BinaryOp::Mul, kt, root);
    }
    let mut scores = b.node(Op::MatMul, &[qh, kt]);
    let scale_scores = |b: &mut Builder, x: ValueId| {
        let d = b.scalar((c.d as f32).sqrt(), false);
        b.binary(BinaryOp::Div, x, d)
    };
    // The padding mask as bool [B,1,1,S] and as additive float (1 − mask)·fill.
    let pad_bool = |b: &mut Builder| {
        let cast = b.node(Op::Cast { to: DType::Bool }, &[mask_in]);
        let shape = b.i64s(vec![bs as i64, 1, 1, s as i64]);
        b.node(Op::Reshape { allowzero: false }, &[cast, shape])
    };
    let pad_additive = |b: &mut Builder, fill: f32| {
        let cast = b.node(Op::Cast { to: DType::F32 }, &[mask_in]);
        let shape = b.i64s(vec![bs as i64, 1, 1, s as i64]);
        let r = b.node(Op::Reshape { allowzero: false }, &[cast, shape]);
        let one = b.scalar(1.0, false);
        let inv = b.binary(BinaryOp::Sub, one, r);
        let f = b.scalar(fill, false);
        b.binary(BinaryOp::Mul, inv, f)
    };
    let combined = |b: &mut Builder, cond: ValueId, fill: f32| {
        let pad = pad_bool(b);
        let both = b.binary(BinaryOp::And, cond, pad);
        let (zero, f) = (b.scalar(0.0, false), b.scalar(fill, false));
        b.node(Op::Where, &[both, zero, f])
    };
    let mut guard = false;
    match c.flavour {
        Flavour::EagerCausal | Flavour::BigFillCausal | Flavour::SdpaCausal => {
            if !sdpa {
                scores = scale_scores(&mut b, scores);
            }
            let tril = b.bools(&[1, 1, s, s], &triangle(s, false));
            let fill = match c.flavour {
                Flavour::SdpaCausal => f32::NEG_INFINITY,
                Flavour::BigFillCausal => -1e30,
                _ => f32::MIN,
            };
            let m = combined(&mut b, tril, fill);
            scores = b.binary(BinaryOp::Add, scores, m);
            guard = sdpa;
        }
        Flavour::SdpaPadding => {
            scores = scale_scores(&mut b, scores);
            let all = b.bools(&[1, 1, s, 1], &vec![true; s]);
            let m = combined(&mut b, all, f32::MIN);
            scores = b.binary(BinaryOp::Add, scores, m);
            guard = true;
        }
        Flavour::LegacyCausal | Flavour::NearMissSmallFill | Flavour::NearMissStrictTriangle => {
            scores = scale_scores(&mut b, scores);
            let strict = c.flavour == Flavour::NearMissStrictTriangle;
            let tril = b.bools(&[1, 1, s, s], &triangle(s, strict));
            let fill = if c.flavour == Flavour::NearMissSmallFill {
                -1e4
            } else {
                f32::MIN
            };
            let f = b.scalar(fill, false);
            scores = b.node(Op::Where, &[tril, scores, f]);
            let m = pad_additive(&mut b, f32::MIN);
            scores = b.binary(BinaryOp::Add, scores, m);
        }
        Flavour::BertPadding => {
            scores = scale_scores(&mut b, scores);
            let m = pad_additive(&mut b, -10000.0);
            scores = b.binary(BinaryOp::Add, scores, m);
        }
        Flavour::ConstCausal => {
            scores = scale_scores(&mut b, scores);
            let values = triangle(s, false)
                .iter()
                .map(|&k| if k { 0.0 } else { f32::NEG_INFINITY })
                .collect();
            let m = b.f32s(&[1, 1, s, s], values);
            scores = b.binary(BinaryOp::Add, scores, m);
            guard = true;
        }
        Flavour::NearMissScaleAfterMask => {
            let m = pad_additive(&mut b, f32::MIN);
            scores = b.binary(BinaryOp::Add, scores, m);
            scores = scale_scores(&mut b, scores);
        }
        Flavour::NearMissQueryMask => {
            scores = scale_scores(&mut b, scores);
            let cast = b.node(Op::Cast { to: DType::Bool }, &[mask_in]);
            let shape = b.i64s(vec![bs as i64, 1, s as i64, 1]);
            let pad = b.node(Op::Reshape { allowzero: false }, &[cast, shape]);
            let (zero, f) = (b.scalar(0.0, false), b.scalar(f32::MIN, false));
            let m = b.node(Op::Where, &[pad, zero, f]);
            scores = b.binary(BinaryOp::Add, scores, m);
        }
    }
    let mut p = b.node(Op::Softmax { axis: -1 }, &[scores]);
    if guard {
        let nan = b.node(Op::Unary(UnaryOp::IsNaN), &[p]);
        let zero = b.scalar(0.0, false);
        p = b.node(Op::Where, &[nan, zero, p]);
    }
    let o = b.node(Op::MatMul, &[p, vh]);
    let t = b.node(
        Op::Transpose {
            perm: vec![0, 2, 1, 3],
        },
        &[o],
    );
    let shape = b.i64s(vec![bs as i64, s as i64, e as i64]);
    let y = b.node(Op::Reshape { allowzero: false }, &[t, shape]);
    b.g.outputs.push(y);
    b.g
}

fn rand_f32(n: usize, seed: u64, spread: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0) * spread
        })
        .collect()
}

fn inputs(c: &Case) -> Vec<(String, Tensor)> {
    let dims = vec![c.batch, c.seq, c.heads * c.d];
    let n = dims.iter().product();
    let mask: Vec<i64> = c.padding.iter().flat_map(|p| p.keep(c.seq)).collect();
    vec![
        (
            "q".into(),
            Tensor::from_vec(dims.clone(), rand_f32(n, c.seed, 2.0)).unwrap(),
        ),
        (
            "k".into(),
            Tensor::from_vec(dims.clone(), rand_f32(n, c.seed ^ 1, 2.0)).unwrap(),
        ),
        (
            "v".into(),
            Tensor::from_vec(dims, rand_f32(n, c.seed ^ 2, 1.0)).unwrap(),
        ),
        (
            "attention_mask".into(),
            Tensor::from_vec(vec![c.batch, c.seq], mask).unwrap(),
        ),
    ]
}

/// Runs one case; `Err` describes the first mismatch.
fn check_case(c: &Case) -> Result<(), String> {
    let g = build(c);
    let ins = inputs(c);
    let keyed: Vec<(InputKey, Tensor)> = ins
        .iter()
        .map(|(n, t)| (InputKey::Name(n.clone()), t.clone()))
        .collect();
    let want = run_graph(&g, &keyed).map_err(|e| format!("reference: {e}"))?;
    let want = want[0]
        .view::<f32>()
        .map_err(|e| e.to_string())?
        .into_owned();
    let mut opt = g.clone();
    optimise(&mut opt, OptLevel::O3)?;
    let fused = opt
        .nodes
        .iter()
        .filter(|n| matches!(n.op, Op::Attention { .. }))
        .count();
    if c.flavour.must_fuse() && fused != 1 {
        return Err(format!(
            "{:?}: {fused} Attention nodes after -O3",
            c.flavour
        ));
    }
    let plan = lower(&opt)?;
    let max = want
        .iter()
        .filter(|v| v.is_finite())
        .fold(0f32, |m, v| m.max(v.abs()));
    let tol = 1e-4 + 1e-3 * max;
    for isa in isas_under_test() {
        let got = run_plan(&plan, isa, &ins)?;
        let got = got[0].view::<f32>().map_err(|e| e.to_string())?;
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            let ok = if w.is_nan() {
                g.is_nan()
            } else {
                (g - w).abs() <= tol
            };
            if !ok {
                return Err(format!(
                    "{isa:?}, {fused} fused: element {i} is {g}, the graph gives {w}"
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn fused_attention_matches_the_unfused_graph() {
    let mut runner = TestRunner::new(Config {
        cases: cases_wanted(48),
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&case(), |c| {
        check_case(&c).map_err(|e| TestCaseError::fail(format!("{c:?}: {e}")))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Every flavour with the masks that broke fused attention before: left padding, a fully
/// padded row, sequence 1, a causal sequence long enough to be cut into query blocks.
#[test]
fn every_flavour_on_the_padding_that_broke_it() {
    for flavour in FLAVOURS {
        for (batch, seq, padding) in [
            (2, 16, vec![Padding::None, Padding::Left(4)]),
            (2, 17, vec![Padding::All, Padding::Right(3)]),
            (
                3,
                40,
                vec![Padding::Left(13), Padding::All, Padding::Middle(5, 7)],
            ),
            (2, 1, vec![Padding::None, Padding::All]),
        ] {
            let c = Case {
                flavour,
                batch,
                seq,
                heads: 2,
                d: 16,
                padding,
                seed: 5,
            };
            if let Err(e) = check_case(&c) {
                panic!("{c:?}: {e}");
            }
        }
    }
}
