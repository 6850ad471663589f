//! The integer microkernel contract: one register tile `acc[mr × n] = A[mr × k] · B[k × n]` in
//! i32, then either a raw i32 store or the dequantize epilogue into f32.

use super::QParams;
use crate::gemm::Activation;

/// Arguments of one microkernel call; pointers derived by the driver from checked slices.
#[derive(Clone, Copy)]
pub(crate) struct Tile8 {
    /// Number of 4-deep k-groups (`ceil(k/4)`).
    pub k4: usize,
    /// Rows of the tile (`1 ..= mr`; kernels monomorphised per row count may ignore it).
    pub rows: usize,
    /// Tiles the call runs, one below the other: tile `r` starts `r·mr` rows further down A and
    /// the output (its row parameters, row bias and residual too). Above 1 only for kernels with
    /// [`MicroKernel8::runs_row_tiles`], and then every tile has `rows == mr`; the contracts
    /// below hold for each tile so moved.
    pub row_tiles: usize,
    /// A: `a[i*lda + 4g + t]` readable for `i < rows`, `g < k4`, `t < 4`.
    pub a: *const u8,
    pub lda: usize,
    /// B panel 0: `b[g*64 + j*4 + t]`, `g < k4`; panel `q` starts at `b + q*b_next` (readable
    /// for every panel the tile touches, zero past `n`).
    pub b: *const i8,
    pub b_next: usize,
    /// Valid columns (`1 ..= panels*16`).
    pub n: usize,
    pub out: TileOut,
    /// Packed-B bytes the driver wants in L2 for a later tile (a hint, set only for kernels with
    /// [`NextBlockPrefetch::Spread`], which issue one 64-byte line of it per k-group): tile `r` of
    /// the call asks for lines `r·pf_lines ..` of the `pf_total` lines from `pf`, inside the packed
    /// weights.
    pub pf: *const i8,
    pub pf_lines: usize,
    pub pf_total: usize,
}

/// Most 64-byte output lines one row of a tile writes: at most 48 four-byte columns (192
/// bytes), which straddle four lines when the row does not start on a line boundary.
pub(crate) const OUT_LINES_PER_ROW: usize = 4;

/// Where the accumulators go.
#[derive(Clone, Copy)]
pub(crate) enum TileOut {
    /// `c[i*ldc + j] = acc[i][j]` for `i < rows`, `j < n`.
    Raw {
        c: *mut i32,
        ldc: usize,
    },
    Dequant(Dequant),
}

impl TileOut {
    /// The same output moved to the tile origin `(r0, c0)` relative to this one.
    pub(crate) fn offset(&self, r0: usize, c0: usize) -> TileOut {
        match self {
            TileOut::Raw { c, ldc } => TileOut::Raw {
                c: c.wrapping_add(r0 * ldc + c0),
                ldc: *ldc,
            },
            TileOut::Dequant(d) => {
                let moved = |p: *const f32, by: usize| {
                    if p.is_null() {
                        p
                    } else {
                        p.wrapping_add(by)
                    }
                };
                TileOut::Dequant(Dequant {
                    c: d.c.wrapping_add(r0 * d.ldc + c0),
                    params: d.params.wrapping_add(r0 * d.param_step),
                    col_sums: d.col_sums.wrapping_add(c0),
                    col_scales: d.col_scales.wrapping_add(c0),
                    col_bias: moved(d.col_bias, c0),
                    row_bias: moved(d.row_bias, r0),
                    residual: moved(d.residual, r0 * d.ld_res + c0),
                    ..*d
                })
            }
        }
    }
}

/// Dequantize epilogue of one tile, pointers offset to the tile origin:
/// `c[i,j] = act(alpha·((acc − za[i]·col_sums[j]) as f32 · (sa[i]·col_scales[j])) + [c] + col_bias[j]
/// + row_bias[i] + residual[i,j])`, in exactly this operation order on every path.
#[derive(Clone, Copy)]
pub(crate) struct Dequant {
    /// `c[i*ldc + j]` writable (and readable) for `i < rows`, `j < n`.
    pub c: *mut f32,
    pub ldc: usize,
    /// Row `i`'s activation parameters at `params[i·param_step]` for `i < rows` (`param_step` 1
    /// for per-row parameters, 0 for one per-tensor pair), read in place rather than copied per
    /// tile.
    pub params: *const QParams,
    pub param_step: usize,
    /// `col_sums[j]`, `col_scales[j]` readable for `j < panels*16` (padded in the packed weights).
    pub col_sums: *const i32,
    pub col_scales: *const f32,
    pub alpha: f32,
    pub load_c: bool,
    /// `col_bias[j]` readable for `j < n`, or null.
    pub col_bias: *const f32,
    /// `row_bias[i]` readable for `i < rows`, or null.
    pub row_bias: *const f32,
    /// `residual[i*ld_res + j]` readable for `i < rows`, `j < n`, or null.
    pub residual: *const f32,
    pub ld_res: usize,
    pub act: Activation,
}

/// A kernel for a given row count and panel count.
///
/// # Safety
/// The caller upholds the [`Tile8`] contract and has capped the ISA to the CPU.
pub(crate) type TileFn8 = unsafe fn(&Tile8);

/// How the driver fetches the next block of packed weights into L2 (see `driver::serial`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum NextBlockPrefetch {
    /// The driver issues a tile's slice in one burst before the tile.
    Burst,
    /// The kernel spreads its slice over its k-loop ([`Tile8::pf`]; the VNNI kernel).
    Spread,
    /// Not fetched: the AMX kernel, where both a burst and spreading measured slower on
    /// Sapphire Rapids (GPT-2 24.0 and 25.6 ms against 23.7 ms without).
    Off,
}

/// An ISA's integer microkernel family.
pub(crate) struct MicroKernel8 {
    /// Rows per full tile.
    pub mr: usize,
    /// Panels (16 columns each) per full tile.
    pub np: usize,
    /// Kernel for `rows ∈ 1..=mr`, `panels ∈ 1..=np`.
    pub select: fn(rows: usize, panels: usize) -> TileFn8,
    /// How the next block of packed weights is fetched into L2 while this kernel runs.
    pub next_block: NextBlockPrefetch,
    /// Whether the kernel runs [`Tile8::row_tiles`] tiles per call (otherwise the driver calls
    /// it once per tile, with `row_tiles == 1`).
    pub runs_row_tiles: bool,
    /// Multiply-adds of about 10 µs on one core with this kernel: the size the driver aims at
    /// for the row pieces of a column split (see `driver::Units`). AMX does about three to
    /// four times the multiply-adds of AVX-512 VNNI per second, and runs more row tiles per
    /// call better (each tile's epilogue overlaps the next tile's products).
    pub unit_macs: usize,
}

impl Tile8 {
    /// The part of this tile from row `r0` and panel `p0` on (`rows` and `n` reduced to what
    /// remains; callers run a kernel on a prefix of it), for kernels that hand a tile's edges to
    /// a smaller kernel. Pointer
    /// arithmetic only (`wrapping_add`): the sub-tile lies inside this tile, so its contract
    /// follows from this one's.
    pub(crate) fn sub(&self, r0: usize, p0: usize) -> Tile8 {
        let c0 = p0 * super::pack::PANEL;
        Tile8 {
            k4: self.k4,
            rows: self.rows.saturating_sub(r0),
            row_tiles: 1,
            a: self.a.wrapping_add(r0 * self.lda),
            lda: self.lda,
            b: self.b.wrapping_add(p0 * self.b_next),
            b_next: self.b_next,
            n: self.n.saturating_sub(c0),
            out: self.out.offset(r0, c0),
            pf: self.pf,
            pf_lines: 0,
            pf_total: 0,
        }
    }

    /// The tile's output origin and row stride in bytes, for write prefetches: line `l <
    /// OUT_LINES_PER_ROW` of output row `i` holds byte `i·stride + min(64·l, 4·n − 1)` (the
    /// first, 64th and 128th byte of the row's `n ≤ 48` four-byte columns, and its last). Kernels
    /// prefetch these lines (`prefetcht0`: Rust's `prfchw` target feature, which `prefetchw`
    /// needs, is unstable; a line no other core holds arrives exclusive, so the store needs no
    /// further request) during the k-loop, so the epilogue's stores find them in cache: on a large
    /// output (the 128 × 50257 logits of an LM head) the stores otherwise wait for each line's
    /// read-for-ownership from DRAM, about a tenth of the product's time. Only a hint: the
    /// addresses are never dereferenced.
    #[inline(always)]
    pub(crate) fn out_rows(&self) -> (*const i8, usize) {
        match &self.out {
            TileOut::Raw { c, ldc } => (*c as *const i8, 4 * ldc),
            TileOut::Dequant(d) => (d.c as *const i8, 4 * d.ldc),
        }
    }
}

impl Dequant {
    /// Row `i`'s activation scale and zero point.
    ///
    /// # Safety
    /// `i` is a row of the tile (see [`Dequant::params`]).
    #[inline(always)]
    pub(crate) unsafe fn a_params(&self, i: usize) -> (f32, i32) {
        // SAFETY: per the caller's contract.
        let p = unsafe { *self.params.add(i * self.param_step) };
        (p.scale, p.zero_point as i32)
    }

    /// Scalar epilogue of one element (the reference order all paths follow).
    ///
    /// # Safety
    /// `(i, j)` is inside the tile (see the pointer contracts above).
    #[inline]
    pub(crate) unsafe fn scalar(&self, i: usize, j: usize, acc: i32) -> f32 {
        // SAFETY: per the caller's contract every pointer read below is in bounds.
        unsafe {
            let (sa, za) = self.a_params(i);
            let d = acc.wrapping_sub(za.wrapping_mul(*self.col_sums.add(j)));
            let mut v = d as f32 * (sa * *self.col_scales.add(j)) * self.alpha;
            if self.load_c {
                v += *self.c.add(i * self.ldc + j);
            }
            if !self.col_bias.is_null() {
                v += *self.col_bias.add(j);
            }
            if !self.row_bias.is_null() {
                v += *self.row_bias.add(i);
            }
            if !self.residual.is_null() {
                v += *self.residual.add(i * self.ld_res + j);
            }
            activate(v, self.act)
        }
    }
}

/// Scalar activation (same functions as the f32 GEMM's portable epilogue).
#[inline]
pub(crate) fn activate(v: f32, act: Activation) -> f32 {
    match act {
        Activation::None => v,
        Activation::Relu => v.max(0.0),
        Activation::GeluErf => crate::math::gelu_erf(v),
        Activation::GeluTanh => crate::math::gelu_tanh(v),
    }
}
