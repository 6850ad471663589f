//! The step list: one enum variant per kernel call, each with fully resolved shapes, element
//! strides and buffer references. Strides are in elements; a stride of 0 broadcasts. Outputs are
//! contiguous unless a step says otherwise (only `Copy` writes a strided destination).
//!
//! A step kind is declared once: its fields struct with `wire_struct!` (the encoding) and its
//! [`Describe`] impl (shape rules and descriptor table, from which validation follows) in the
//! family file below, plus one line of the [`step_kinds!`] table here (tag, enum variant, kind
//! name, framing, dispatch).

mod conv;
mod elementwise;
mod index;
mod linear;
mod nchwc;
mod norm;
mod scan;

pub use conv::*;
pub use elementwise::*;
pub use index::*;
pub use linear::*;
pub use nchwc::*;
pub use norm::*;
pub use scan::*;

use crate::describe::{Describe, Tensors};
use crate::types::{DType, Region, TensorRef};
use crate::wire::{wire_enum, wire_struct, Reader, Wire, Writer};
use crate::PlanError;
use infc_kernels::int8;

/// One-input elementwise operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum UnaryKind {
    Relu = 0,
    Sqrt = 1,
    Erf = 2,
    Tanh = 3,
    Sigmoid = 4,
    Exp = 5,
    Log = 6,
    Neg = 7,
    Abs = 8,
    Reciprocal = 9,
    Floor = 10,
    Ceil = 11,
    /// Output bool.
    IsNaN = 12,
    /// Bool in, bool out.
    Not = 13,
    GeluErf = 14,
    GeluTanh = 15,
    Sin = 16,
    Cos = 17,
}
wire_enum!(
    UnaryKind,
    "unary op",
    [
        Relu, Sqrt, Erf, Tanh, Sigmoid, Exp, Log, Neg, Abs, Reciprocal, Floor, Ceil, IsNaN, Not,
        GeluErf, GeluTanh, Sin, Cos
    ]
);

/// Two-input elementwise operations (numpy broadcasting resolved into strides).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BinaryKind {
    Add = 0,
    Sub = 1,
    Mul = 2,
    Div = 3,
    Pow = 4,
    Max = 5,
    Min = 6,
    Equal = 7,
    Less = 8,
    LessOrEqual = 9,
    Greater = 10,
    GreaterOrEqual = 11,
    And = 12,
    Or = 13,
    Xor = 14,
}
wire_enum!(
    BinaryKind,
    "binary op",
    [
        Add,
        Sub,
        Mul,
        Div,
        Pow,
        Max,
        Min,
        Equal,
        Less,
        LessOrEqual,
        Greater,
        GreaterOrEqual,
        And,
        Or,
        Xor
    ]
);

impl BinaryKind {
    /// Ops whose output is bool.
    pub fn is_comparison(self) -> bool {
        (self as u8) >= BinaryKind::Equal as u8
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ReduceKind {
    Mean = 0,
    Sum = 1,
    Max = 2,
    Min = 3,
    Prod = 4,
}
wire_enum!(ReduceKind, "reduce op", [Mean, Sum, Max, Min, Prod]);

/// Fused activation applied after a GEMM/conv (after the bias).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Activation {
    None = 0,
    Relu = 1,
    GeluErf = 2,
    GeluTanh = 3,
}
wire_enum!(Activation, "activation", [None, Relu, GeluErf, GeluTanh]);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PoolKind {
    Max = 0,
    /// Average counting padded positions.
    AvgIncludePad = 1,
    /// Average over the in-bounds positions only.
    AvgExcludePad = 2,
}
wire_enum!(PoolKind, "pool kind", [Max, AvgIncludePad, AvgExcludePad]);

/// How a GEMM bias `C` broadcasts over the `m × n` output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BiasKind {
    /// One value.
    Scalar = 0,
    /// `n` values, one per output column (the usual linear-layer bias).
    Row = 1,
    /// `m` values, one per output row.
    Col = 2,
    /// `m × n` values.
    Full = 3,
}
wire_enum!(BiasKind, "bias kind", [Scalar, Row, Col, Full]);

impl BiasKind {
    pub fn len(self, m: u64, n: u64) -> Option<u64> {
        match self {
            BiasKind::Scalar => Some(1),
            BiasKind::Row => Some(n),
            BiasKind::Col => Some(m),
            BiasKind::Full => m.checked_mul(n),
        }
    }
}

impl Wire for DType {
    const MIN_BYTES: usize = 1;
    fn put(&self, w: &mut Writer) {
        w.u8(*self as u8)
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, PlanError> {
        let c = r.u8()?;
        DType::from_code(c).ok_or_else(|| r.err(format!("unknown dtype code {c}")))
    }
}

impl Wire for Region {
    const MIN_BYTES: usize = 1;
    fn put(&self, w: &mut Writer) {
        w.u8(*self as u8)
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, PlanError> {
        match r.u8()? {
            0 => Ok(Region::Arena),
            1 => Ok(Region::Const),
            2 => Err(r.err(
                "region code 2 (persistent state, reserved for a later 5.x) is unknown to this infc",
            )),
            c => Err(r.err(format!("unknown region code {c}"))),
        }
    }
}
wire_struct!(TensorRef { region, offset });

/// A weight prepacked at compile time for the kernel that reads it: a 64-byte aligned byte range
/// of the constants blob. Its layout is the kernel crate's (`infc_kernels::pack_b` and friends).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PackedRef {
    pub offset: u64,
    pub bytes: u64,
}
wire_struct!(PackedRef { offset, bytes });

/// The right-hand matrix of a matmul.
#[derive(Clone, Debug, PartialEq)]
pub enum MatB {
    /// Constant `k × n` weight, packed at compile time.
    Packed(PackedRef),
    /// A runtime tensor, `k × n` row-major (or `n × k` when `trans`).
    Plain { at: TensorRef, trans: bool },
}

impl Wire for MatB {
    const MIN_BYTES: usize = 1;
    fn put(&self, w: &mut Writer) {
        match self {
            MatB::Packed(p) => {
                w.u8(0);
                p.put(w);
            }
            MatB::Plain { at, trans } => {
                w.u8(1);
                at.put(w);
                trans.put(w);
            }
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, PlanError> {
        match r.u8()? {
            0 => Ok(MatB::Packed(PackedRef::get(r)?)),
            1 => Ok(MatB::Plain {
                at: TensorRef::get(r)?,
                trans: bool::get(r)?,
            }),
            c => Err(r.err(format!("unknown matmul B kind {c}"))),
        }
    }
}

/// GEMM bias: `y += beta · C` broadcast per `kind`.
#[derive(Clone, Debug, PartialEq)]
pub struct Bias {
    pub at: TensorRef,
    pub kind: BiasKind,
    pub beta: f32,
}
wire_struct!(Bias { at, kind, beta });

/// A plan dim as an argument of the kernels' size functions (`None` past `usize`).
pub(crate) fn kdim(v: u64) -> Option<usize> {
    usize::try_from(v).ok()
}

/// A size from the kernels' size functions as a plan size (`None` past `u64`).
pub(crate) fn psize(v: usize) -> Option<u64> {
    u64::try_from(v).ok()
}

/// Bytes of `rows` quantized rows of reduction length `k` (`infc_kernels::int8::quant_a_len`).
pub(crate) fn quant_a_bytes(rows: u64, k: u64) -> Option<u64> {
    psize(int8::quant_a_len(kdim(rows)?, kdim(k)?)?)
}

/// Bytes of one packed s8 `k × n` weight matrix (`infc_kernels::int8::packed_b8_bytes`).
pub(crate) fn packed_b8_bytes(k: u64, n: u64) -> Option<u64> {
    psize(int8::packed_b8_bytes(kdim(k)?, kdim(n)?)?)
}

/// The step kinds: one line each (variant, fields struct, wire tag). The enum, its `kind` names,
/// the tags and the framed encoding (tag byte, u32 length of the fields, the fields) all follow from
/// this table; a decoder checks that a step's fields fill exactly its length. Tags are the format's:
/// never reuse or renumber one (that is a major version).
macro_rules! step_kinds {
    ($( $variant:ident($fields:ty) = $tag:literal ),* $(,)?) => {
        #[derive(Clone, Debug, PartialEq)]
        pub enum Step {
            $( $variant($fields), )*
        }

        impl Step {
            /// Variant name, used in errors, `explain` and profiles.
            pub fn kind(&self) -> &'static str {
                match self {
                    $( Step::$variant(_) => stringify!($variant), )*
                }
            }

            /// The wire tag of the step's kind.
            pub fn tag(&self) -> u8 {
                match self {
                    $( Step::$variant(_) => $tag, )*
                }
            }

            fn put_fields(&self, w: &mut Writer) {
                match self {
                    $( Step::$variant(s) => s.put(w), )*
                }
            }

            /// The step's shape rules and descriptor table ([`Describe`]).
            pub fn describe(&self, t: &mut Tensors) -> Result<(), String> {
                match self {
                    $( Step::$variant(s) => s.describe(t), )*
                }
            }

            fn get_fields(tag: u8, r: &mut Reader<'_>) -> Result<Step, PlanError> {
                Ok(match tag {
                    $( $tag => Step::$variant(Wire::get(r)?), )*
                    t => return Err(r.err(format!("unknown step tag {t}"))),
                })
            }
        }
    };
}

step_kinds! {
    Unary(UnaryStep) = 0,
    Binary(BinaryStep) = 1,
    Where(WhereStep) = 2,
    Cast(CastStep) = 3,
    Clip(ClipStep) = 4,
    Fill(FillStep) = 5,
    Range(RangeStep) = 6,
    Copy(CopyStep) = 7,
    MatMul(MatMulStep) = 8,
    Conv(ConvStep) = 9,
    Pool(PoolStep) = 10,
    GlobalAvgPool(GlobalAvgPoolStep) = 11,
    BatchNorm(BatchNormStep) = 12,
    Softmax(SoftmaxStep) = 13,
    LayerNorm(LayerNormStep) = 14,
    Reduce(ReduceStep) = 15,
    Gather(GatherStep) = 16,
    GatherNd(GatherNdStep) = 17,
    Trilu(TriluStep) = 18,
    Attention(AttentionStep) = 19,
    CumSum(CumSumStep) = 20,
    RmsNorm(RmsNormStep) = 21,
    QuantMatMul(QuantMatMulStep) = 30,
    QuantConv(QuantConvStep) = 31,
    QuantNchwcConv(QuantNchwcConvStep) = 32,
    NchwcConv(NchwcConvStep) = 40,
    Reorder(ReorderStep) = 41,
    NchwcMaxPool(NchwcMaxPoolStep) = 42,
}

impl Wire for Step {
    /// Tag byte and length.
    const MIN_BYTES: usize = 5;
    fn put(&self, w: &mut Writer) {
        w.u8(self.tag());
        let len_at = w.buf.len();
        w.u32(0);
        self.put_fields(w);
        let len = (w.buf.len() - len_at - 4) as u32;
        w.buf[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, PlanError> {
        let tag = r.u8()?;
        let len = r.u32()? as usize;
        let mut fields = r.framed(len)?;
        let step = Step::get_fields(tag, &mut fields)?;
        if fields.remaining() != 0 {
            return Err(fields.err(format!(
                "{} step: {} bytes of its {len} left unread",
                step.kind(),
                fields.remaining()
            )));
        }
        Ok(step)
    }
}
