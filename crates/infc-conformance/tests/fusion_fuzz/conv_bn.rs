//! Conv + BatchNormalization (+ residual Add) (+ Relu) in one or two stages, folded by
//! `fuse-conv-bn` and laid out in NCHWc at -O3, with degenerate BN statistics.

use crate::{check, count, fuzz, must_pass, tensor, Rng};
use infc::ir::{BinaryOp, ConvAttrs, Float, Graph, Op, Tensor, UnaryOp, ValueId};
use infc_conformance::fuzz::Builder;
use proptest::prelude::*;

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

impl ConvCase {
    /// Fits each stage to the size of its input (see [`Stage::fit`]).
    fn fit_stages(&mut self) {
        let (mut h, mut w) = (self.h, self.w);
        for s in &mut self.stages {
            s.fit(h, w);
            (h, w) = s.out_hw(h, w);
        }
    }
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
                    let mut c = ConvCase {
                        n,
                        cin,
                        h,
                        w,
                        stages,
                        block,
                        seed,
                    };
                    c.fit_stages();
                    c
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
                c.fit_stages();
                must_pass(&c, conv_check);
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
    must_pass(&c, conv_check);
}
