//! Elementwise and data-movement steps: unary, binary, where, cast, clip, fill, range, strided
//! copy. Each kind's fields, encoding and descriptor table.

use super::{BinaryKind, UnaryKind};
use crate::describe::{count, need, Describe, Tensors, Use};
use crate::types::{DType, TensorRef};
use crate::wire::wire_struct;

/// `y = op(x)` over `len` contiguous elements. `dtype` is the input type.
#[derive(Clone, Debug, PartialEq)]
pub struct UnaryStep {
    pub op: UnaryKind,
    pub dtype: DType,
    pub len: u64,
    pub x: TensorRef,
    pub y: TensorRef,
}
wire_struct!(UnaryStep {
    op,
    dtype,
    len,
    x,
    y
});

/// `y[i] = a[i·a_strides] op b[i·b_strides]` over `shape`; `y` contiguous. `dtype` is the input type.
#[derive(Clone, Debug, PartialEq)]
pub struct BinaryStep {
    pub op: BinaryKind,
    pub dtype: DType,
    pub shape: Vec<u64>,
    pub a: TensorRef,
    pub a_strides: Vec<u64>,
    pub b: TensorRef,
    pub b_strides: Vec<u64>,
    pub y: TensorRef,
}
wire_struct!(BinaryStep {
    op,
    dtype,
    shape,
    a,
    a_strides,
    b,
    b_strides,
    y
});

/// `y = cond ? a : b` with broadcasting; `cond` is bool, `a`/`b`/`y` are `dtype`.
#[derive(Clone, Debug, PartialEq)]
pub struct WhereStep {
    pub dtype: DType,
    pub shape: Vec<u64>,
    pub cond: TensorRef,
    pub cond_strides: Vec<u64>,
    pub a: TensorRef,
    pub a_strides: Vec<u64>,
    pub b: TensorRef,
    pub b_strides: Vec<u64>,
    pub y: TensorRef,
}
wire_struct!(WhereStep {
    dtype,
    shape,
    cond,
    cond_strides,
    a,
    a_strides,
    b,
    b_strides,
    y
});

/// Element type conversion (ONNX Cast semantics: float→int truncates, →bool is `!= 0`).
#[derive(Clone, Debug, PartialEq)]
pub struct CastStep {
    pub from: DType,
    pub to: DType,
    pub len: u64,
    pub x: TensorRef,
    pub y: TensorRef,
}
wire_struct!(CastStep {
    from,
    to,
    len,
    x,
    y
});

/// f32 clamp with compile-time bounds.
#[derive(Clone, Debug, PartialEq)]
pub struct ClipStep {
    pub len: u64,
    pub min: f32,
    pub max: f32,
    pub x: TensorRef,
    pub y: TensorRef,
}
wire_struct!(ClipStep {
    len,
    min,
    max,
    x,
    y
});

/// Fill `len` elements with one value (its little-endian bits in the low `dtype.size()` bytes).
#[derive(Clone, Debug, PartialEq)]
pub struct FillStep {
    pub dtype: DType,
    pub len: u64,
    pub value: u64,
    pub y: TensorRef,
}
wire_struct!(FillStep {
    dtype,
    len,
    value,
    y
});

/// `y[i] = start + i · delta` (start and delta are one-element tensors of `dtype`).
#[derive(Clone, Debug, PartialEq)]
pub struct RangeStep {
    pub dtype: DType,
    pub len: u64,
    pub start: TensorRef,
    pub delta: TensorRef,
    pub y: TensorRef,
}
wire_struct!(RangeStep {
    dtype,
    len,
    start,
    delta,
    y
});

/// Strided copy: `dst[i·dst_strides] = src[i·src_strides]` over `shape`. Transpose, slice (negative
/// strides for negative steps), expand (zero source strides), concat and split parts all lower to it.
#[derive(Clone, Debug, PartialEq)]
pub struct CopyStep {
    pub dtype: DType,
    pub shape: Vec<u64>,
    pub src: TensorRef,
    pub src_strides: Vec<i64>,
    pub dst: TensorRef,
    pub dst_strides: Vec<i64>,
}
wire_struct!(CopyStep {
    dtype,
    shape,
    src,
    src_strides,
    dst,
    dst_strides
});

impl Describe for UnaryStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        let out = if self.op == UnaryKind::IsNaN {
            DType::Bool
        } else {
            self.dtype
        };
        t.read_in_place("x", self.x, self.dtype, self.len);
        t.write("y", self.y, out, self.len);
        t.in_place = out.size() == self.dtype.size();
        Ok(())
    }
}

impl Describe for BinaryStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        let out = if self.op.is_comparison() {
            DType::Bool
        } else {
            self.dtype
        };
        let n = count("shape", &self.shape)?;
        t.broadcast("a", self.a, self.dtype, &self.shape, &self.a_strides)?;
        t.broadcast("b", self.b, self.dtype, &self.shape, &self.b_strides)?;
        t.write("y", self.y, out, n);
        t.in_place = out.size() == self.dtype.size();
        Ok(())
    }
}

impl Describe for WhereStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        let n = count("shape", &self.shape)?;
        let shape = &self.shape;
        t.broadcast("cond", self.cond, DType::Bool, shape, &self.cond_strides)?;
        t.broadcast("a", self.a, self.dtype, shape, &self.a_strides)?;
        t.broadcast("b", self.b, self.dtype, shape, &self.b_strides)?;
        t.write("y", self.y, self.dtype, n);
        t.in_place = true;
        Ok(())
    }
}

impl Describe for CastStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        t.read_in_place("x", self.x, self.from, self.len);
        t.write("y", self.y, self.to, self.len);
        t.in_place = self.from.size() == self.to.size();
        Ok(())
    }
}

impl Describe for ClipStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        t.read_in_place("x", self.x, DType::F32, self.len);
        t.write("y", self.y, DType::F32, self.len);
        t.in_place = true;
        Ok(())
    }
}

impl Describe for FillStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        let size = self.dtype.size();
        need(size == 8 || self.value >> (8 * size) == 0, || {
            format!("fill value {:#x} does not fit {}", self.value, self.dtype)
        })?;
        t.write("y", self.y, self.dtype, self.len);
        Ok(())
    }
}

impl Describe for RangeStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        t.read("start", self.start, self.dtype, 1);
        t.read("delta", self.delta, self.dtype, 1);
        t.write("y", self.y, self.dtype, self.len);
        Ok(())
    }
}

impl Describe for CopyStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        let (dtype, shape) = (self.dtype, &self.shape);
        t.strided("src", self.src, dtype, shape, &self.src_strides, Use::Read);
        t.strided("dst", self.dst, dtype, shape, &self.dst_strides, Use::Write);
        Ok(())
    }
}
