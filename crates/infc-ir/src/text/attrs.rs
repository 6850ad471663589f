//! Op attributes in text form, both directions: [`op_attrs`] lists every attribute of an [`Op`] as
//! `key=value` text, and [`build_op`] turns an op name plus parsed attributes back into an `Op`.
//!
//! Both are exhaustive over the closed `Op` enum (no wildcard arm), so a new variant does not compile
//! until it prints and parses. The printer writes every attribute (except `FusedMatMul`'s
//! `trans_a`/`trans_b`, written only when set, so untransposed fused matmuls print as before); the
//! parser also accepts omitted attributes that have an ONNX default (`group=1`, `keepdims=true`, …)
//! so hand-written filetests stay short.

use crate::{
    AttentionMasking, BinaryOp, ConvAttrs, DType, Epilogue, Float, Op, PoolAttrs, ReduceOp, UnaryOp,
};
use std::fmt::Display;

fn list<T: Display>(items: &[T]) -> String {
    let parts: Vec<String> = items.iter().map(ToString::to_string).collect();
    format!("[{}]", parts.join(","))
}

fn opt_list<T: Display>(items: &Option<Vec<T>>) -> String {
    match items {
        Some(v) => list(v),
        None => "none".to_string(),
    }
}

fn opt<T: Display>(v: &Option<T>) -> String {
    match v {
        Some(x) => x.to_string(),
        None => "none".to_string(),
    }
}

fn conv_like(
    kernel: &[usize],
    strides: &[usize],
    pads: &[usize],
    dilations: &[usize],
) -> Vec<(&'static str, String)> {
    vec![
        ("kernel", list(kernel)),
        ("strides", list(strides)),
        ("pads", list(pads)),
        ("dilations", list(dilations)),
    ]
}

/// Every attribute of `op` as `(key, value text)`, in the order the printer writes them.
pub fn op_attrs(op: &Op) -> Vec<(&'static str, String)> {
    match op {
        Op::Unary(_)
        | Op::Binary(_)
        | Op::Where
        | Op::Clip
        | Op::Identity
        | Op::Dropout
        | Op::GlobalAveragePool
        | Op::MatMul
        | Op::Slice
        | Op::Range
        | Op::Expand => vec![],
        Op::Cast { to } => vec![("to", to.to_string())],
        Op::Conv(c) => {
            let mut v = conv_like(&c.kernel, &c.strides, &c.pads, &c.dilations);
            v.push(("group", c.group.to_string()));
            v
        }
        Op::BatchNorm { epsilon } => vec![("epsilon", epsilon.to_string())],
        Op::MaxPool(p) => {
            let mut v = conv_like(&p.kernel, &p.strides, &p.pads, &p.dilations);
            v.push(("ceil_mode", p.ceil_mode.to_string()));
            v
        }
        Op::AveragePool {
            attrs: p,
            count_include_pad,
        } => {
            let mut v = conv_like(&p.kernel, &p.strides, &p.pads, &p.dilations);
            v.push(("ceil_mode", p.ceil_mode.to_string()));
            v.push(("count_include_pad", count_include_pad.to_string()));
            v
        }
        Op::Gemm {
            alpha,
            beta,
            trans_a,
            trans_b,
        } => vec![
            ("alpha", alpha.to_string()),
            ("beta", beta.to_string()),
            ("trans_a", trans_a.to_string()),
            ("trans_b", trans_b.to_string()),
        ],
        Op::Softmax { axis } => vec![("axis", axis.to_string())],
        Op::LayerNorm { axis, epsilon } => {
            vec![("axis", axis.to_string()), ("epsilon", epsilon.to_string())]
        }
        Op::Reduce {
            op: _,
            axes,
            keepdims,
        } => vec![("axes", opt_list(axes)), ("keepdims", keepdims.to_string())],
        Op::Reshape { allowzero } => vec![("allowzero", allowzero.to_string())],
        Op::Flatten { axis } => vec![("axis", axis.to_string())],
        Op::Transpose { perm } => vec![("perm", list(perm))],
        Op::Concat { axis } => vec![("axis", axis.to_string())],
        Op::Split { axis, splits } => vec![("axis", axis.to_string()), ("splits", list(splits))],
        Op::Gather { axis } => vec![("axis", axis.to_string())],
        Op::GatherND { batch_dims } => vec![("batch_dims", batch_dims.to_string())],
        Op::GatherElements { axis } => vec![("axis", axis.to_string())],
        Op::Unsqueeze { axes } => vec![("axes", list(axes))],
        Op::Squeeze { axes } => vec![("axes", opt_list(axes))],
        Op::Shape { start, end } => vec![("start", start.to_string()), ("end", opt(end))],
        Op::ConstantOfShape { dtype, value_bits } => {
            vec![
                ("dtype", dtype.to_string()),
                ("value", format!("{:?}", f64::from_bits(*value_bits))),
            ]
        }
        Op::Trilu { upper } => vec![("upper", upper.to_string())],
        Op::CumSum { exclusive, reverse } => vec![
            ("exclusive", exclusive.to_string()),
            ("reverse", reverse.to_string()),
        ],
        Op::Gelu { tanh } => vec![("tanh", tanh.to_string())],
        Op::FusedConv { attrs: c, epilogue } => {
            let mut v = conv_like(&c.kernel, &c.strides, &c.pads, &c.dilations);
            v.push(("group", c.group.to_string()));
            v.push(("epilogue", epilogue_list(epilogue)));
            v
        }
        Op::FusedMatMul {
            epilogue,
            trans_a,
            trans_b,
        } => {
            let mut v = vec![("epilogue", epilogue_list(epilogue))];
            for (key, set) in [("trans_a", trans_a), ("trans_b", trans_b)] {
                if *set {
                    v.push((key, "true".to_string()));
                }
            }
            v
        }
        Op::SkipLayerNorm { epsilon } => vec![("epsilon", epsilon.to_string())],
        Op::RmsNorm { epsilon } => vec![("epsilon", epsilon.to_string())],
        Op::Attention {
            num_heads,
            scale,
            causal,
            masking,
        } => {
            let mut v = vec![
                ("num_heads", num_heads.to_string()),
                ("scale", scale.to_string()),
                ("causal", causal.to_string()),
            ];
            // Masking attributes are printed only where they differ from the default.
            let default = AttentionMasking::default();
            if masking.hidden_fill != default.hidden_fill {
                v.push(("hidden_fill", masking.hidden_fill.to_string()));
            }
            if masking.mask_hidden {
                v.push(("mask_hidden", "true".to_string()));
            }
            if masking.zero_nan_rows {
                v.push(("zero_nan_rows", "true".to_string()));
            }
            v
        }
        Op::Reorder {
            to_blocked,
            block,
            channels,
        } => vec![
            ("to_blocked", to_blocked.to_string()),
            ("block", block.to_string()),
            ("channels", channels.to_string()),
        ],
        Op::NchwcConv {
            attrs: c,
            epilogue,
            block,
        } => {
            let mut v = conv_like(&c.kernel, &c.strides, &c.pads, &c.dilations);
            v.push(("group", c.group.to_string()));
            v.push(("epilogue", epilogue_list(epilogue)));
            v.push(("block", block.to_string()));
            v
        }
        Op::NchwcMaxPool(p) => {
            let mut v = conv_like(&p.kernel, &p.strides, &p.pads, &p.dilations);
            v.push(("ceil_mode", p.ceil_mode.to_string()));
            v
        }
    }
}

fn epilogue_list(stages: &[Epilogue]) -> String {
    let names: Vec<&str> = stages.iter().map(|e| e.name()).collect();
    list(&names)
}

/// `key=value, …` as printed inside `Op[…]` (empty for an op without attributes).
pub fn attrs_text(op: &Op) -> String {
    let parts: Vec<String> = op_attrs(op)
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    parts.join(", ")
}

/// A parsed attribute value, still untyped: one atom (`3`, `-1.5e-5`, `true`, `f32`, `none`) or a list.
#[derive(Clone, Debug)]
pub(crate) enum RawAttr {
    Atom(String),
    List(Vec<String>),
}

impl Display for RawAttr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RawAttr::Atom(s) => f.write_str(s),
            RawAttr::List(items) => write!(f, "[{}]", items.join(",")),
        }
    }
}

/// Typed access to the attributes of one op; remembers which were read so leftovers are reported.
pub(crate) struct AttrReader {
    op: String,
    items: Vec<(String, RawAttr, bool)>,
}

fn parse_int(s: &str) -> Option<i64> {
    s.parse().ok()
}

fn parse_f32(s: &str) -> Option<f32> {
    s.parse().ok()
}

fn parse_f64(s: &str) -> Option<f64> {
    s.parse().ok()
}

impl AttrReader {
    pub fn new(op: &str, items: Vec<(String, RawAttr)>) -> AttrReader {
        AttrReader {
            op: op.to_string(),
            items: items.into_iter().map(|(k, v)| (k, v, false)).collect(),
        }
    }

    fn take(&mut self, key: &str) -> Option<RawAttr> {
        let item = self.items.iter_mut().find(|(k, _, _)| k == key)?;
        item.2 = true;
        Some(item.1.clone())
    }

    fn bad(&self, key: &str, want: &str, got: &RawAttr) -> String {
        format!(
            "{}: attribute `{key}` expects {want}, found `{got}`",
            self.op
        )
    }

    fn missing(&self, key: &str) -> String {
        format!("{}: missing attribute `{key}`", self.op)
    }

    /// Read `key` with `conv`, falling back to `default` when absent.
    fn typed<T>(
        &mut self,
        key: &str,
        want: &str,
        default: Option<T>,
        conv: impl Fn(&RawAttr) -> Option<T>,
    ) -> Result<T, String> {
        match self.take(key) {
            Some(raw) => conv(&raw).ok_or_else(|| self.bad(key, want, &raw)),
            None => default.ok_or_else(|| self.missing(key)),
        }
    }

    pub fn int(&mut self, key: &str, default: Option<i64>) -> Result<i64, String> {
        self.typed(key, "an integer", default, |r| match r {
            RawAttr::Atom(s) => parse_int(s),
            RawAttr::List(_) => None,
        })
    }

    pub fn opt_int(&mut self, key: &str) -> Result<Option<i64>, String> {
        self.typed(key, "an integer or `none`", Some(None), |r| match r {
            RawAttr::Atom(s) if s == "none" => Some(None),
            RawAttr::Atom(s) => parse_int(s).map(Some),
            RawAttr::List(_) => None,
        })
    }

    pub fn usize(&mut self, key: &str, default: Option<usize>) -> Result<usize, String> {
        self.typed(key, "a non-negative integer", default, |r| match r {
            RawAttr::Atom(s) => s.parse().ok(),
            RawAttr::List(_) => None,
        })
    }

    pub fn bool(&mut self, key: &str, default: Option<bool>) -> Result<bool, String> {
        self.typed(key, "`true` or `false`", default, |r| match r {
            RawAttr::Atom(s) if s == "true" => Some(true),
            RawAttr::Atom(s) if s == "false" => Some(false),
            _ => None,
        })
    }

    pub fn float(&mut self, key: &str, default: Option<f32>) -> Result<Float, String> {
        self.typed(key, "a number", default.map(Float::new), |r| match r {
            RawAttr::Atom(s) => parse_f32(s).map(Float::new),
            RawAttr::List(_) => None,
        })
    }

    pub fn f64_bits(&mut self, key: &str, default: Option<f64>) -> Result<u64, String> {
        self.typed(key, "a number", default.map(f64::to_bits), |r| match r {
            RawAttr::Atom(s) => parse_f64(s).map(f64::to_bits),
            RawAttr::List(_) => None,
        })
    }

    pub fn dtype(&mut self, key: &str, default: Option<DType>) -> Result<DType, String> {
        let names: Vec<&str> = DType::ALL.iter().map(|d| d.name()).collect();
        let want = format!("a dtype ({})", names.join(", "));
        self.typed(key, &want, default, |r| match r {
            RawAttr::Atom(s) => DType::from_name(s),
            RawAttr::List(_) => None,
        })
    }

    pub fn ints(&mut self, key: &str, default: Option<Vec<i64>>) -> Result<Vec<i64>, String> {
        self.typed(key, "a list of integers", default, |r| match r {
            RawAttr::List(items) => items.iter().map(|s| parse_int(s)).collect(),
            RawAttr::Atom(_) => None,
        })
    }

    pub fn opt_ints(&mut self, key: &str) -> Result<Option<Vec<i64>>, String> {
        self.typed(
            key,
            "a list of integers or `none`",
            Some(None),
            |r| match r {
                RawAttr::Atom(s) if s == "none" => Some(None),
                RawAttr::List(items) => items
                    .iter()
                    .map(|s| parse_int(s))
                    .collect::<Option<Vec<_>>>()
                    .map(Some),
                RawAttr::Atom(_) => None,
            },
        )
    }

    pub fn usizes(&mut self, key: &str, default: Option<Vec<usize>>) -> Result<Vec<usize>, String> {
        self.typed(
            key,
            "a list of non-negative integers",
            default,
            |r| match r {
                RawAttr::List(items) => items.iter().map(|s| s.parse().ok()).collect(),
                RawAttr::Atom(_) => None,
            },
        )
    }

    pub fn epilogue(&mut self, key: &str) -> Result<Vec<Epilogue>, String> {
        let want = "a list of epilogue stages (bias, residual, relu, gelu_erf, gelu_tanh)";
        self.typed(key, want, Some(Vec::new()), |r| match r {
            RawAttr::List(items) => items.iter().map(|s| Epilogue::from_name(s)).collect(),
            RawAttr::Atom(_) => None,
        })
    }

    /// Error on any attribute the op did not read.
    pub fn finish(self) -> Result<(), String> {
        match self.items.iter().find(|(_, _, used)| !used) {
            Some((k, _, _)) => Err(format!("{}: unknown attribute `{k}`", self.op)),
            None => Ok(()),
        }
    }
}

fn reduce(name: &str) -> Option<ReduceOp> {
    Some(match name {
        "ReduceMean" => ReduceOp::Mean,
        "ReduceSum" => ReduceOp::Sum,
        "ReduceMax" => ReduceOp::Max,
        "ReduceMin" => ReduceOp::Min,
        "ReduceProd" => ReduceOp::Prod,
        _ => return None,
    })
}

/// `(kernel, strides, pads, dilations)` of a conv or pool.
type Window = (Vec<usize>, Vec<usize>, Vec<usize>, Vec<usize>);

/// Kernel, strides, pads and dilations; everything but the kernel defaults as in ONNX.
fn window(a: &mut AttrReader) -> Result<Window, String> {
    let kernel = a.usizes("kernel", None)?;
    let n = kernel.len();
    let strides = a.usizes("strides", Some(vec![1; n]))?;
    let pads = a.usizes("pads", Some(vec![0; 2 * n]))?;
    let dilations = a.usizes("dilations", Some(vec![1; n]))?;
    Ok((kernel, strides, pads, dilations))
}

fn pool(a: &mut AttrReader) -> Result<PoolAttrs, String> {
    let (kernel, strides, pads, dilations) = window(a)?;
    let ceil_mode = a.bool("ceil_mode", Some(false))?;
    Ok(PoolAttrs {
        kernel,
        strides,
        pads,
        dilations,
        ceil_mode,
    })
}

/// The op called `name` with the attributes in `a`; errors name the op and the attribute at fault.
pub(crate) fn build_op(name: &str, a: &mut AttrReader) -> Result<Op, String> {
    if let Some(u) = UnaryOp::from_name(name) {
        return Ok(Op::Unary(u));
    }
    if let Some(b) = BinaryOp::from_name(name) {
        return Ok(Op::Binary(b));
    }
    if let Some(op) = reduce(name) {
        return Ok(Op::Reduce {
            op,
            axes: a.opt_ints("axes")?,
            keepdims: a.bool("keepdims", Some(true))?,
        });
    }
    Ok(match name {
        "Where" => Op::Where,
        "Cast" => Op::Cast {
            to: a.dtype("to", None)?,
        },
        "Clip" => Op::Clip,
        "Identity" => Op::Identity,
        "Dropout" => Op::Dropout,
        "Conv" => {
            let (kernel, strides, pads, dilations) = window(a)?;
            Op::Conv(ConvAttrs {
                kernel,
                strides,
                pads,
                dilations,
                group: a.usize("group", Some(1))?,
            })
        }
        "BatchNormalization" => Op::BatchNorm {
            epsilon: a.float("epsilon", Some(1e-5))?,
        },
        "MaxPool" => Op::MaxPool(pool(a)?),
        "AveragePool" => Op::AveragePool {
            attrs: pool(a)?,
            count_include_pad: a.bool("count_include_pad", Some(false))?,
        },
        "GlobalAveragePool" => Op::GlobalAveragePool,
        "Gemm" => Op::Gemm {
            alpha: a.float("alpha", Some(1.0))?,
            beta: a.float("beta", Some(1.0))?,
            trans_a: a.bool("trans_a", Some(false))?,
            trans_b: a.bool("trans_b", Some(false))?,
        },
        "MatMul" => Op::MatMul,
        "Softmax" => Op::Softmax {
            axis: a.int("axis", Some(-1))?,
        },
        "LayerNormalization" => Op::LayerNorm {
            axis: a.int("axis", Some(-1))?,
            epsilon: a.float("epsilon", Some(1e-5))?,
        },
        "Reshape" => Op::Reshape {
            allowzero: a.bool("allowzero", Some(false))?,
        },
        "Flatten" => Op::Flatten {
            axis: a.int("axis", Some(1))?,
        },
        "Transpose" => Op::Transpose {
            perm: a.usizes("perm", None)?,
        },
        "Concat" => Op::Concat {
            axis: a.int("axis", None)?,
        },
        "Split" => Op::Split {
            axis: a.int("axis", Some(0))?,
            splits: a.usizes("splits", None)?,
        },
        "Slice" => Op::Slice,
        "Gather" => Op::Gather {
            axis: a.int("axis", Some(0))?,
        },
        "GatherND" => Op::GatherND {
            batch_dims: a.usize("batch_dims", Some(0))?,
        },
        "GatherElements" => Op::GatherElements {
            axis: a.int("axis", Some(0))?,
        },
        "Unsqueeze" => Op::Unsqueeze {
            axes: a.ints("axes", None)?,
        },
        "Squeeze" => Op::Squeeze {
            axes: a.opt_ints("axes")?,
        },
        "Shape" => Op::Shape {
            start: a.int("start", Some(0))?,
            end: a.opt_int("end")?,
        },
        "Range" => Op::Range,
        "Expand" => Op::Expand,
        "ConstantOfShape" => Op::ConstantOfShape {
            dtype: a.dtype("dtype", Some(DType::F32))?,
            value_bits: a.f64_bits("value", Some(0.0))?,
        },
        "Trilu" => Op::Trilu {
            upper: a.bool("upper", Some(true))?,
        },
        "Gelu" => Op::Gelu {
            tanh: a.bool("tanh", Some(false))?,
        },
        "CumSum" => Op::CumSum {
            exclusive: a.bool("exclusive", Some(false))?,
            reverse: a.bool("reverse", Some(false))?,
        },
        "FusedConv" => {
            let (kernel, strides, pads, dilations) = window(a)?;
            let group = a.usize("group", Some(1))?;
            Op::FusedConv {
                attrs: ConvAttrs {
                    kernel,
                    strides,
                    pads,
                    dilations,
                    group,
                },
                epilogue: a.epilogue("epilogue")?,
            }
        }
        "FusedMatMul" => Op::FusedMatMul {
            epilogue: a.epilogue("epilogue")?,
            trans_a: a.bool("trans_a", Some(false))?,
            trans_b: a.bool("trans_b", Some(false))?,
        },
        "SkipLayerNorm" => Op::SkipLayerNorm {
            epsilon: a.float("epsilon", Some(1e-5))?,
        },
        "RmsNorm" => Op::RmsNorm {
            epsilon: a.float("epsilon", Some(1e-6))?,
        },
        "Attention" => Op::Attention {
            num_heads: a.usize("num_heads", None)?,
            scale: a.float("scale", None)?,
            causal: a.bool("causal", Some(false))?,
            masking: AttentionMasking {
                hidden_fill: a.float("hidden_fill", Some(f32::MIN))?,
                mask_hidden: a.bool("mask_hidden", Some(false))?,
                zero_nan_rows: a.bool("zero_nan_rows", Some(false))?,
            },
        },
        "Reorder" => Op::Reorder {
            to_blocked: a.bool("to_blocked", None)?,
            block: a.usize("block", None)?,
            channels: a.usize("channels", None)?,
        },
        "NchwcConv" => {
            let (kernel, strides, pads, dilations) = window(a)?;
            let group = a.usize("group", Some(1))?;
            Op::NchwcConv {
                attrs: ConvAttrs {
                    kernel,
                    strides,
                    pads,
                    dilations,
                    group,
                },
                epilogue: a.epilogue("epilogue")?,
                block: a.usize("block", None)?,
            }
        }
        "NchwcMaxPool" => Op::NchwcMaxPool(pool(a)?),
        _ => return Err(format!("unknown op `{name}`")),
    })
}
