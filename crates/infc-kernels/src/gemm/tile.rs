//! The microkernel contract: one register tile `C[mr × n] (op)= alpha · Apanel · Bpanels`, plus the
//! fused epilogue on the last k-block. Each ISA module provides a [`MicroKernel`] table.

use super::Activation;

/// Arguments of one microkernel call. All pointers were derived by the driver from slices whose
/// bounds it checked; the contract below is what each microkernel may assume.
pub(crate) struct Tile {
    /// Depth of this k-block.
    pub kc: usize,
    /// Packed A: `a[p * A_PANEL + i]` for `p < kc`, `i < mr` is readable.
    pub a: *const f32,
    /// Packed B panel 0: `b[p * 16 + j]` for `p < kc`, `j < 16`; panel `q` starts at `b + q*b_next`
    /// (readable for every panel the tile touches, zero-padded past `n`).
    pub b: *const f32,
    pub b_next: usize,
    /// C tile origin: `c[i*ldc + j]` for `i < mr`, `j < n` is writable (and readable).
    pub c: *mut f32,
    pub ldc: usize,
    /// Number of valid columns (`1 ..= np*16`).
    pub n: usize,
    /// Add onto C instead of overwriting it.
    pub load_c: bool,
    pub alpha: f32,
    /// Present on the last k-block only.
    pub epi: Option<TileEpilogue>,
}

/// Epilogue pointers, already offset to the tile origin; null when absent.
#[derive(Clone, Copy)]
pub(crate) struct TileEpilogue {
    /// `col_bias[j]` readable for `j < n`.
    pub col_bias: *const f32,
    /// `row_bias[i]` readable for `i < mr`.
    pub row_bias: *const f32,
    /// `residual[i*ld_res + j]` readable for `i < mr`, `j < n`.
    pub residual: *const f32,
    pub ld_res: usize,
    pub act: Activation,
}

/// A microkernel specialised for a row count and a panel count.
///
/// # Safety
/// The caller upholds the [`Tile`] pointer contract and has checked (via `Isa::capped`) that the
/// CPU supports the kernel's ISA.
pub(crate) type TileFn = unsafe fn(&Tile);

/// An ISA's microkernel family.
pub(crate) struct MicroKernel {
    /// Rows per full tile (divides `A_PANEL`).
    pub mr: usize,
    /// B panels per full tile (tile width `np * 16`).
    pub np: usize,
    /// Returns the kernel for `rows ∈ 1..=mr` and `panels ∈ 1..=np`.
    pub select: fn(rows: usize, panels: usize) -> TileFn,
}
