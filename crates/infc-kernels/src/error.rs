//! The error type shared by every kernel entry point: kernels validate their slices and shape
//! parameters up front and return a [`KernelError`] naming the operand at fault instead of
//! panicking or reading out of bounds.

use thiserror::Error;

/// Why a kernel refused to run.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum KernelError {
    /// A slice is shorter than the shape/stride parameters require.
    #[error("{what}: buffer holds {got} elements but the shape and strides need {needed}")]
    BufferTooSmall {
        what: &'static str,
        needed: usize,
        got: usize,
    },
    /// Shape parameters are inconsistent with each other (message says how).
    #[error("{what}: {detail}")]
    BadShape { what: &'static str, detail: String },
    /// A gather index is outside `[-len, len)` of the indexed axis.
    #[error(
        "gather: index {index} at position {position} is out of bounds for axis of length {len}"
    )]
    IndexOutOfBounds {
        index: i64,
        position: usize,
        len: usize,
    },
    /// `INFC_ISA` holds a value that names no instruction-set path.
    #[error("INFC_ISA={0:?} is not one of portable, avx2, avx512")]
    UnknownIsa(String),
}

/// Result alias for kernel entry points.
pub type Result<T> = std::result::Result<T, KernelError>;

/// Checks that `buf` holds at least `needed` elements.
pub(crate) fn check_len(what: &'static str, got: usize, needed: usize) -> Result<()> {
    if got < needed {
        Err(KernelError::BufferTooSmall { what, needed, got })
    } else {
        Ok(())
    }
}

/// Shorthand for a [`KernelError::BadShape`].
pub(crate) fn bad_shape(what: &'static str, detail: impl Into<String>) -> KernelError {
    KernelError::BadShape {
        what,
        detail: detail.into(),
    }
}

/// Smallest length of a buffer addressed as `sum(i_d * stride_d)` for `i_d < dims_d`
/// (0 when any dim is 0). Returns `None` on overflow.
pub(crate) fn strided_extent(dims: &[usize], strides: &[usize]) -> Option<usize> {
    if dims.contains(&0) {
        return Some(0);
    }
    let mut last = 0usize;
    for (&d, &s) in dims.iter().zip(strides) {
        last = last.checked_add((d - 1).checked_mul(s)?)?;
    }
    last.checked_add(1)
}
