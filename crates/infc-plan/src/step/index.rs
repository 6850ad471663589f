//! Indexing steps: Gather, GatherND and Trilu. Each kind's fields, encoding and descriptor
//! table (index values are checked at run time).

use crate::describe::{count, need, rank_at_most, Describe, Tensors};
use crate::types::{DType, TensorRef};
use crate::wire::wire_struct;

/// `y[o, i, r] = data[o, idx[i], r]` for data `[outer, axis_len, inner]`; negative indices wrap,
/// out-of-range indices are a run-time error.
#[derive(Clone, Debug, PartialEq)]
pub struct GatherStep {
    pub dtype: DType,
    pub idx_dtype: DType,
    pub outer: u64,
    pub axis_len: u64,
    pub inner: u64,
    pub n_idx: u64,
    pub data: TensorRef,
    pub indices: TensorRef,
    pub y: TensorRef,
}
wire_struct!(GatherStep {
    dtype,
    idx_dtype,
    outer,
    axis_len,
    inner,
    n_idx,
    data,
    indices,
    y
});

/// ONNX GatherND: for each of `batch` groups and `n_per_batch` index tuples of depth
/// `index_dims.len()`, copy a `slice_len` slice of data (`[batch, index_dims.., slice_len]`).
#[derive(Clone, Debug, PartialEq)]
pub struct GatherNdStep {
    pub dtype: DType,
    pub idx_dtype: DType,
    pub batch: u64,
    pub n_per_batch: u64,
    pub index_dims: Vec<u64>,
    pub slice_len: u64,
    pub data: TensorRef,
    pub indices: TensorRef,
    pub y: TensorRef,
}
wire_struct!(GatherNdStep {
    dtype,
    idx_dtype,
    batch,
    n_per_batch,
    index_dims,
    slice_len,
    data,
    indices,
    y
});

/// Keep the upper (or lower) triangle of each `rows × cols` matrix; diagonal offset `k`, or read
/// from the one-element i64 tensor `k_at` when present.
#[derive(Clone, Debug, PartialEq)]
pub struct TriluStep {
    pub dtype: DType,
    pub upper: bool,
    pub k: i64,
    pub k_at: Option<TensorRef>,
    pub batch: u64,
    pub rows: u64,
    pub cols: u64,
    pub x: TensorRef,
    pub y: TensorRef,
}
wire_struct!(TriluStep {
    dtype,
    upper,
    k,
    k_at,
    batch,
    rows,
    cols,
    x,
    y
});

/// Gather indices are i64 or i32.
fn index_dtype(d: DType) -> Result<(), String> {
    need(matches!(d, DType::I64 | DType::I32), || {
        format!("indices must be i64 or i32, got {d}")
    })
}

impl Describe for GatherStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        let s = self;
        index_dtype(s.idx_dtype)?;
        t.read(
            "data",
            s.data,
            s.dtype,
            count("data", &[s.outer, s.axis_len, s.inner])?,
        );
        t.read("indices", s.indices, s.idx_dtype, s.n_idx);
        t.write(
            "y",
            s.y,
            s.dtype,
            count("output", &[s.outer, s.n_idx, s.inner])?,
        );
        Ok(())
    }
}

impl Describe for GatherNdStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        let s = self;
        index_dtype(s.idx_dtype)?;
        rank_at_most("index depth", s.index_dims.len())?;
        let dims = [&[s.batch], s.index_dims.as_slice(), &[s.slice_len]].concat();
        t.read("data", s.data, s.dtype, count("data", &dims)?);
        let depth = s.index_dims.len() as u64;
        let idn = count("indices", &[s.batch, s.n_per_batch, depth])?;
        t.read("indices", s.indices, s.idx_dtype, idn);
        let yn = count("output", &[s.batch, s.n_per_batch, s.slice_len])?;
        t.write("y", s.y, s.dtype, yn);
        Ok(())
    }
}

impl Describe for TriluStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        let n = count("shape", &[self.batch, self.rows, self.cols])?;
        t.read("x", self.x, self.dtype, n);
        t.read_opt("k", self.k_at, DType::I64, 1);
        t.write("y", self.y, self.dtype, n);
        Ok(())
    }
}
