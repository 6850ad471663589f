//! Reading elements out of [`infc_ir::Tensor`]s and building output tensors, plus the small index
//! helpers (axis normalisation, checked element counts) every op family shares.
//!
//! Op implementations return [`OpResult`], whose error is a plain message; [`crate::eval_op`] wraps it
//! into [`crate::RefError::Op`] with the op's name, so messages here need not repeat it.

use infc_ir::{Bytes, DType, Element, Tensor};
use std::borrow::Cow;

/// Result of one op implementation; the error message is prefixed with the op name by `eval_op`.
pub(crate) type OpResult<T> = Result<T, String>;

/// Typed view of `t` (borrowed when aligned). Errors on a dtype mismatch or an opaque tensor.
pub(crate) fn view<T: Element>(t: &Tensor) -> OpResult<Cow<'_, [T]>> {
    t.view::<T>().map_err(|e| e.to_string())
}

/// Raw little-endian element bytes of `t`.
pub(crate) fn raw(t: &Tensor) -> OpResult<&[u8]> {
    t.bytes().map_err(|e| e.to_string())
}

/// Elements of a bool tensor.
pub(crate) fn bools(t: &Tensor, what: &str) -> OpResult<Vec<bool>> {
    if t.dtype != DType::Bool {
        return Err(format!("{what} must be bool, got {}", t.dtype));
    }
    Ok(raw(t)?.iter().map(|&b| b != 0).collect())
}

/// Elements of an integer tensor (i64, i32, i8, u8) widened to i64; `what` names the input in errors.
pub(crate) fn ints(t: &Tensor, what: &str) -> OpResult<Vec<i64>> {
    if !t.dtype.is_integer() {
        return Err(format!("{what} must be an integer tensor, got {}", t.dtype));
    }
    t.to_i64_vec().map_err(|e| e.to_string())
}

/// The single element of an integer tensor of one element (rank 0 or `[1]`).
pub(crate) fn int_scalar(t: &Tensor, what: &str) -> OpResult<i64> {
    let v = ints(t, what)?;
    match v[..] {
        [x] => Ok(x),
        _ => Err(format!(
            "{what} must hold exactly one element, got shape {:?}",
            t.shape
        )),
    }
}

/// Output tensor owning `values`.
pub(crate) fn tensor<T: Element>(shape: Vec<usize>, values: Vec<T>) -> OpResult<Tensor> {
    Tensor::from_vec(shape, values).map_err(|e| e.to_string())
}

/// Output bool tensor.
pub(crate) fn bool_tensor(shape: Vec<usize>, values: &[bool]) -> OpResult<Tensor> {
    Tensor::from_bools(shape, values).map_err(|e| e.to_string())
}

/// Output tensor from raw little-endian element bytes.
pub(crate) fn bytes_tensor(dtype: DType, shape: Vec<usize>, bytes: &[u8]) -> OpResult<Tensor> {
    Tensor::from_bytes(dtype, shape, Bytes::aligned_copy(bytes)).map_err(|e| e.to_string())
}

/// Element count of `shape`, erroring on overflow.
pub(crate) fn numel(shape: &[usize]) -> OpResult<usize> {
    shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| format!("shape {shape:?} overflows"))
}

/// Element count of `shape` when its bytes (at `elem_size` each) are addressable; for outputs whose
/// size comes from data (Range, ConstantOfShape, Expand) so a hostile value errors instead of aborting.
pub(crate) fn alloc_numel(shape: &[usize], elem_size: usize) -> OpResult<usize> {
    let n = numel(shape)?;
    match n.checked_mul(elem_size.max(1)) {
        Some(b) if b <= isize::MAX as usize => Ok(n),
        _ => Err(format!("output shape {shape:?} is too large to allocate")),
    }
}

/// Normalise an ONNX axis (`-rank..rank`) to `0..rank`.
pub(crate) fn norm_axis(axis: i64, rank: usize) -> OpResult<usize> {
    let r = rank as i64;
    if axis < -r || axis >= r {
        return Err(format!("axis {axis} is out of range for rank {rank}"));
    }
    Ok(if axis < 0 { axis + r } else { axis } as usize)
}

/// Row-major strides of `shape`, in elements.
pub(crate) fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Convert a dim read from a tensor (i64) to usize, rejecting negatives.
pub(crate) fn dim_from_i64(v: i64, what: &str) -> OpResult<usize> {
    usize::try_from(v).map_err(|_| format!("{what} has a negative dimension {v}"))
}
