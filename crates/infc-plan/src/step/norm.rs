//! Normalisation and reduction steps: inference batch norm, softmax, layer norm and the strided
//! reduction. Each kind's fields, encoding and descriptor table.

use super::ReduceKind;
use crate::describe::{count, need, rank_at_most, Describe, Tensors, Use};
use crate::types::{DType, TensorRef};
use crate::wire::wire_struct;

/// Inference batch norm over `[n, c, inner]`: `(x - mean) / sqrt(var + eps) · scale + bias`.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNormStep {
    pub n: u64,
    pub c: u64,
    pub inner: u64,
    pub epsilon: f32,
    pub x: TensorRef,
    pub scale: TensorRef,
    pub bias: TensorRef,
    pub mean: TensorRef,
    pub var: TensorRef,
    pub y: TensorRef,
}
wire_struct!(BatchNormStep {
    n,
    c,
    inner,
    epsilon,
    x,
    scale,
    bias,
    mean,
    var,
    y
});

/// Softmax over the middle axis of `[outer, axis, inner]`.
#[derive(Clone, Debug, PartialEq)]
pub struct SoftmaxStep {
    pub outer: u64,
    pub axis: u64,
    pub inner: u64,
    pub x: TensorRef,
    pub y: TensorRef,
}
wire_struct!(SoftmaxStep {
    outer,
    axis,
    inner,
    x,
    y
});

/// Layer norm of each `cols`-long row; `scale`/`bias` have `cols` elements.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerNormStep {
    pub rows: u64,
    pub cols: u64,
    pub epsilon: f32,
    pub x: TensorRef,
    pub scale: TensorRef,
    pub bias: Option<TensorRef>,
    pub y: TensorRef,
}
wire_struct!(LayerNormStep {
    rows,
    cols,
    epsilon,
    x,
    scale,
    bias,
    y
});

/// Strided reduction: `y[o] = reduce_r x[o·out_strides + r·red_strides]`, `y` contiguous over `out_shape`.
#[derive(Clone, Debug, PartialEq)]
pub struct ReduceStep {
    pub op: ReduceKind,
    pub dtype: DType,
    pub out_shape: Vec<u64>,
    pub out_strides: Vec<u64>,
    pub red_shape: Vec<u64>,
    pub red_strides: Vec<u64>,
    pub x: TensorRef,
    pub y: TensorRef,
}
wire_struct!(ReduceStep {
    op,
    dtype,
    out_shape,
    out_strides,
    red_shape,
    red_strides,
    x,
    y
});

impl Describe for BatchNormStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        let n = count("input", &[self.n, self.c, self.inner])?;
        t.read_in_place("x", self.x, DType::F32, n);
        for (role, at) in [
            ("scale", self.scale),
            ("bias", self.bias),
            ("mean", self.mean),
            ("var", self.var),
        ] {
            t.read(role, at, DType::F32, self.c);
        }
        t.write("y", self.y, DType::F32, n);
        t.in_place = true;
        Ok(())
    }
}

impl Describe for SoftmaxStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        let n = count("shape", &[self.outer, self.axis, self.inner])?;
        t.read("x", self.x, DType::F32, n);
        t.write("y", self.y, DType::F32, n);
        Ok(())
    }
}

impl Describe for LayerNormStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        let n = count("input", &[self.rows, self.cols])?;
        t.read("x", self.x, DType::F32, n);
        t.read("scale", self.scale, DType::F32, self.cols);
        t.read_opt("bias", self.bias, DType::F32, self.cols);
        t.write("y", self.y, DType::F32, n);
        Ok(())
    }
}

/// `y[r, :] = x[r, :] / √(mean(x[r, :]²) + ε) · scale` for `rows × cols` f32 (RMSNorm).
#[derive(Clone, Debug, PartialEq)]
pub struct RmsNormStep {
    pub rows: u64,
    pub cols: u64,
    pub epsilon: f32,
    pub x: TensorRef,
    pub scale: TensorRef,
    pub y: TensorRef,
}
wire_struct!(RmsNormStep {
    rows,
    cols,
    epsilon,
    x,
    scale,
    y
});

impl Describe for RmsNormStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        let n = count("input", &[self.rows, self.cols])?;
        t.read("x", self.x, DType::F32, n);
        t.read("scale", self.scale, DType::F32, self.cols);
        t.write("y", self.y, DType::F32, n);
        Ok(())
    }
}

impl Describe for ReduceStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        let s = self;
        rank_at_most("reduction", s.out_shape.len() + s.red_shape.len())?;
        need(
            s.out_strides.len() == s.out_shape.len() && s.red_strides.len() == s.red_shape.len(),
            || "stride/shape rank mismatch".into(),
        )?;
        let shape = [s.out_shape.as_slice(), &s.red_shape].concat();
        let strides = [s.out_strides.as_slice(), &s.red_strides].concat();
        t.broadcast_as("x", s.x, s.dtype, &shape, &strides, Use::ReadOnce)?;
        t.write("y", s.y, s.dtype, count("output", &s.out_shape)?);
        Ok(())
    }
}
