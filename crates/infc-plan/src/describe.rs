//! The tensor descriptor table of a step: every buffer a step reads or writes, as (role, region
//! and offset, dtype, extent, use), plus the step kind's own shape rules. Each step kind declares
//! both next to its fields (the [`Describe`] impls under `step/`); the validator
//! ([`crate::validate`]) checks the table generically (alignment, bounds, writable region,
//! repeated elements, overlaps), so a new step kind adds no validation code of its own.

use crate::format::section::SYMBOLIC_DIM;
use crate::step::PackedRef;
use crate::types::{DType, TensorRef};
use crate::validate::{element_count, MAX_ELEMENTS, MAX_RANK};

/// How a step uses one of its tensors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// Read; a contiguous read is never the source of an in-place update, a strided one is when
    /// its strides are the contiguous ones.
    Read,
    /// Read element for element with the output (contiguous, the output's element count): the
    /// only read an in-place write may coincide with.
    ReadInPlace,
    /// Read, each element at most once (a reduction: its work is bounded by its input's bytes,
    /// not by a stride-0 dim).
    ReadOnce,
    /// Written (arena only, each element at most once).
    Write,
}

/// Which elements of its region a tensor spans.
#[derive(Clone, Debug, PartialEq)]
pub enum Extent {
    /// `len` contiguous elements.
    Flat(u64),
    /// Element `i` of `dims` at `Σ i_d · strides_d` (signed element strides; 0 broadcasts).
    Strided { dims: Vec<u64>, strides: Vec<i64> },
    /// Row-major `rows × cols` f32 matrices, one per index of `batch` at `Σ i_d · strides_d`.
    Batched {
        batch: Vec<u64>,
        strides: Vec<u64>,
        rows: u64,
        cols: u64,
    },
    /// `bytes` of weights packed at compile time for a kernel (64-byte aligned constants).
    Packed(u64),
}

/// One row of a step's descriptor table.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorDesc {
    /// Name of the field, in errors (`x`, `weights`, `scratch`…).
    pub role: &'static str,
    pub at: TensorRef,
    pub dtype: DType,
    pub extent: Extent,
    pub usage: Use,
}

/// A step's descriptor table, filled by [`Describe::describe`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tensors {
    pub list: Vec<TensorDesc>,
    /// The step's write may coincide exactly with a [`Use::ReadInPlace`] (or identity-strided)
    /// read: an elementwise step whose input and output elements have the same size.
    pub in_place: bool,
}

impl Tensors {
    fn push(
        &mut self,
        role: &'static str,
        at: TensorRef,
        dtype: DType,
        extent: Extent,
        usage: Use,
    ) {
        self.list.push(TensorDesc {
            role,
            at,
            dtype,
            extent,
            usage,
        });
    }

    /// `len` contiguous elements read.
    pub fn read(&mut self, role: &'static str, at: TensorRef, dtype: DType, len: u64) {
        self.push(role, at, dtype, Extent::Flat(len), Use::Read)
    }

    /// `len` contiguous elements read element for element with the output.
    pub fn read_in_place(&mut self, role: &'static str, at: TensorRef, dtype: DType, len: u64) {
        self.push(role, at, dtype, Extent::Flat(len), Use::ReadInPlace)
    }

    /// `len` contiguous elements written.
    pub fn write(&mut self, role: &'static str, at: TensorRef, dtype: DType, len: u64) {
        self.push(role, at, dtype, Extent::Flat(len), Use::Write)
    }

    /// An optional contiguous read.
    pub fn read_opt(&mut self, role: &'static str, at: Option<TensorRef>, dtype: DType, len: u64) {
        if let Some(at) = at {
            self.read(role, at, dtype, len)
        }
    }

    /// A signed-stride access over `dims`.
    pub fn strided(
        &mut self,
        role: &'static str,
        at: TensorRef,
        dtype: DType,
        dims: &[u64],
        strides: &[i64],
        usage: Use,
    ) {
        let extent = Extent::Strided {
            dims: dims.to_vec(),
            strides: strides.to_vec(),
        };
        self.push(role, at, dtype, extent, usage)
    }

    /// An unsigned-stride (broadcasting) read over `dims`.
    pub fn broadcast(
        &mut self,
        role: &'static str,
        at: TensorRef,
        dtype: DType,
        dims: &[u64],
        strides: &[u64],
    ) -> Result<(), String> {
        self.broadcast_as(role, at, dtype, dims, strides, Use::Read)
    }

    /// An unsigned-stride read with an explicit use ([`Use::ReadOnce`] for reductions).
    pub fn broadcast_as(
        &mut self,
        role: &'static str,
        at: TensorRef,
        dtype: DType,
        dims: &[u64],
        strides: &[u64],
        usage: Use,
    ) -> Result<(), String> {
        let signed = strides
            .iter()
            .map(|&s| i64::try_from(s).map_err(|_| format!("{role} stride out of range")))
            .collect::<Result<Vec<i64>, String>>()?;
        self.strided(role, at, dtype, dims, &signed, usage);
        Ok(())
    }

    /// Batched f32 matrices read.
    pub fn batched(
        &mut self,
        role: &'static str,
        at: TensorRef,
        batch: &[u64],
        strides: &[u64],
        [rows, cols]: [u64; 2],
    ) {
        let extent = Extent::Batched {
            batch: batch.to_vec(),
            strides: strides.to_vec(),
            rows,
            cols,
        };
        self.push(role, at, DType::F32, extent, Use::Read)
    }

    /// Packed weights read from the constants.
    pub fn packed(&mut self, role: &'static str, p: PackedRef) {
        let at = TensorRef {
            region: crate::types::Region::Const,
            offset: p.offset,
        };
        self.push(role, at, DType::U8, Extent::Packed(p.bytes), Use::Read)
    }
}

/// What a step kind declares about itself for validation.
pub trait Describe {
    /// Check the kind's shape rules (what its kernel relies on beyond the extents: group
    /// divisibility, window arithmetic, packed sizes…) and list every tensor it touches.
    /// An error is a sentence about the step's fields; the validator adds the step's index and
    /// kind.
    fn describe(&self, t: &mut Tensors) -> Result<(), String>;
}

/// `Err(msg())` unless `ok`.
pub fn need(ok: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(msg())
    }
}

/// An error when a dim of `what` is a reference into the (reserved) symbolic dim expressions:
/// [`SYMBOLIC_DIM`] set over a plausible expression index. Any other huge value is just too large
/// and fails as an overflow.
pub fn constant_dims(what: &str, dims: &[u64]) -> Result<(), String> {
    match dims
        .iter()
        .find(|&&d| d & SYMBOLIC_DIM != 0 && d & !SYMBOLIC_DIM <= u64::from(u32::MAX))
    {
        Some(d) => Err(format!(
            "{what} dim {d:#x} refers to symbolic dim expression {} (reserved for a later 5.x); \
             this infc reads constant dims only",
            d & !SYMBOLIC_DIM
        )),
        None => Ok(()),
    }
}

/// The element count of `dims` ([`element_count`]), or an error naming `what`.
pub fn count(what: &str, dims: &[u64]) -> Result<u64, String> {
    constant_dims(what, dims)?;
    element_count(dims).ok_or_else(|| {
        format!(
            "{what} {dims:?} overflows: its non-zero dims span more than {MAX_ELEMENTS} elements"
        )
    })
}

/// A rank at most [`MAX_RANK`].
pub fn rank_at_most(what: &str, rank: usize) -> Result<(), String> {
    need(rank <= MAX_RANK, || {
        format!("{what} rank {rank} exceeds the maximum {MAX_RANK}")
    })
}

/// `Some(v)` or an error saying which size overflowed.
pub fn sized<T>(v: Option<T>, what: &str) -> Result<T, String> {
    v.ok_or_else(|| format!("{what} size overflows"))
}

/// The weights `[c_out][c_in][kh][kw]` and the im2col matrix `[c_in·kh·kw][oh·ow]` of a conv
/// (one group) span at most [`MAX_ELEMENTS`], even when a channel count is 0.
pub fn conv_weights(c_in: u64, c_out: u64, kernel: [u64; 2], out: [u64; 2]) -> Result<(), String> {
    count("weights", &[c_out, c_in, kernel[0], kernel[1]])?;
    count("im2col", &[c_in, kernel[0], kernel[1], out[0], out[1]])?;
    Ok(())
}

/// `channels` rounded up to a multiple of `block` (the channel extent of a blocked tensor).
pub fn blocked_channels(channels: u64, block: u64) -> Result<u64, String> {
    channels
        .div_ceil(block.max(1))
        .checked_mul(block)
        .ok_or_else(|| "blocked channel count overflows".to_string())
}

/// `group` divides both channel counts (and is at least 1).
pub fn group_divides(group: u64, c_in: u64, c_out: u64) -> Result<(), String> {
    need(
        group >= 1 && c_in.is_multiple_of(group) && c_out.is_multiple_of(group),
        || format!("group {group} must divide c_in {c_in} and c_out {c_out}"),
    )
}

/// A packed weight blob of exactly `expected` bytes.
pub fn packed_len(what: &str, actual: u64, expected: u64) -> Result<(), String> {
    need(actual == expected, || {
        format!("{what} have {actual} bytes, the geometry needs {expected}")
    })
}
