//! The integer GEMM driver: splits the problem into units (row blocks or row pieces, cut into
//! column blocks when the columns are split) that threads claim one at a time ([`Split`],
//! [`crate::claim`]), walks row blocks sized so the A block stays in L2, and calls the ISA's
//! microkernel on each register tile over the full reduction (no k-blocking: the i32 accumulators
//! stay in registers and the epilogue runs once); a kernel with
//! [`MicroKernel8::runs_row_tiles`] gets all whole row tiles of a row block and column block in one
//! call. All bounds were checked by the public entry points.

use super::pack::{PackedB8Ref, GROUP_BYTES, PANEL};
use super::tile::{Dequant, MicroKernel8, NextBlockPrefetch, Tile8, TileOut};
use super::{AQuant, Int8Isa, QParams, PARALLEL_MIN_OPS};
use crate::claim::{self, Phase};
use crate::gemm::{Bias, Epilogue};
use std::ops::Range;

/// Bytes of A kept hot per row block (rows × k).
const A_BLOCK_BYTES: usize = 192 * 1024;
/// Most rows per row block: the C block (rows × n) is finished before the next one starts, which
/// keeps the output's pages and lines hot when k is small and C is large (e.g. 3136 × 576).
const MC_MAX: usize = 128;
/// Largest next block of packed B that `serial` prefetches into L2.
const PREFETCH_MAX_BYTES: usize = 64 * 1024;
/// Packed-B bytes below which row tiles sweep all columns (see `serial`).
const B_L2_BYTES: usize = 256 * 1024;
/// Multiply-adds a unit of a column split numbered column block first aims at (64 rows × 48
/// columns × 768 deep: about 10 µs on one AVX512-VNNI core).
pub(crate) const UNIT_MACS: usize = 64 * 48 * 768;
/// Most bytes of quantized A (all rows) for which a column split is numbered column block first:
/// A stays in L2 next to one column block of B while a thread runs that block's row pieces.
const COL_FIRST_A_BYTES: usize = 512 * 1024;

/// Where the result goes (pointer validity checked by the caller).
#[derive(Clone, Copy)]
pub(crate) enum Output<'a> {
    Raw {
        c: *mut i32,
        ldc: usize,
    },
    Dequant {
        c: *mut f32,
        ldc: usize,
        a_params: AQuant<'a>,
        epi: &'a Epilogue<'a>,
    },
}

// SAFETY: parallel parts write disjoint rectangles of C (see `run`); the pointer stays valid for
// the whole call because it comes from a `&mut` slice borrowed by the entry point.
unsafe impl Send for Output<'_> {}
// SAFETY: as above; no element is written by two parts.
unsafe impl Sync for Output<'_> {}

/// The microkernel for products of depth `k` on `isa`.
fn micro_kernel(isa: Int8Isa, k: usize) -> &'static MicroKernel8 {
    match isa.capped() {
        #[cfg(target_arch = "x86_64")]
        Int8Isa::Amx if super::kernel_amx::takes_depth(k) => &super::kernel_amx::KERNEL,
        #[cfg(target_arch = "x86_64")]
        Int8Isa::Amx => &super::kernel_vnni::KERNEL,
        #[cfg(target_arch = "x86_64")]
        Int8Isa::Avx512Vnni => &super::kernel_vnni::KERNEL,
        #[cfg(target_arch = "x86_64")]
        Int8Isa::Avx2 => &super::kernel_avx2::KERNEL,
        #[cfg(target_arch = "x86_64")]
        Int8Isa::AvxVnni => &super::kernel_avxvnni::KERNEL,
        _ => &super::kernel_portable::KERNEL,
    }
}

/// How a product is split into units of work for a claiming region ([`crate::claim`]): row blocks
/// of at most `mc` rows, each either whole (when the rows are split, `m ≥ n`) or cut into column
/// blocks of one register tile's width (when the columns are split). Units are numbered row block
/// first, so the threads work through one A block together; except [`Units::col_first`].
#[derive(Clone, Copy)]
pub(crate) struct Units {
    mk: &'static MicroKernel8,
    m: usize,
    n: usize,
    /// Rows and columns per unit.
    rows: usize,
    cols: usize,
    /// A column split whose A is small ([`COL_FIRST_A_BYTES`]) is cut into row pieces of about
    /// the kernel's [`MicroKernel8::unit_macs`] each (at most half the rows, unless the columns
    /// alone give every thread eight units), numbered column block first: the pieces of a
    /// column block are consecutive units, so one thread usually runs them all with that block's
    /// weights still in its caches. Short units shorten what a thread waits for the other's last
    /// unit at the end of the region: GPT-2's products at sequence 128 had 16–64 units of about
    /// 20 µs, and its depth-3072 products 32 units of about 40 µs, before they were cut into
    /// 64-row (depth 768) and 16-row (depth 3072) pieces. The AMX kernel's pieces are the whole
    /// row block (128 rows at depth 768, 64 at depth 3072), so each call pipelines its tiles.
    col_first: bool,
}

impl Units {
    pub(crate) fn new(isa: Int8Isa, m: usize, n: usize, k: usize) -> Units {
        Units::with_kernel(micro_kernel(isa, k), m, n, k)
    }

    /// As [`Units::new`] with the given microkernel (tests run the emulated AMX kernel).
    pub(crate) fn with_kernel(mk: &'static MicroKernel8, m: usize, n: usize, k: usize) -> Units {
        let nr = mk.np * PANEL;
        let block = row_block(mk, k);
        let split_m = (m >= n && m > block) || n <= nr;
        let a_bytes = m.saturating_mul(k.div_ceil(4) * 4);
        let col_first = !split_m && a_bytes <= COL_FIRST_A_BYTES && m >= 2 * mk.mr;
        // Split rows: about four units per thread, so claiming evens out the last ones.
        let rows = if split_m {
            let quarter = m.div_ceil(4 * crate::parallelism::threads());
            block.min(quarter.next_multiple_of(mk.mr))
        } else if col_first {
            let piece = (mk.unit_macs / (nr * k).max(1)).next_multiple_of(mk.mr);
            // At most half the rows, so a column block is two units, unless the columns alone
            // give every thread eight units or more.
            let col_units = n.div_ceil(nr);
            let piece = if col_units >= 8 * crate::parallelism::threads() {
                piece
            } else {
                piece.min(m.div_ceil(2).next_multiple_of(mk.mr))
            };
            piece.min(block)
        } else {
            block
        };
        Units {
            mk,
            m,
            n,
            rows,
            cols: if split_m { n.max(1) } else { nr },
            col_first,
        }
    }

    fn col_units(&self) -> usize {
        self.n.div_ceil(self.cols)
    }

    pub(crate) fn count(&self) -> usize {
        self.m.div_ceil(self.rows) * self.col_units()
    }

    /// Rows and columns of unit `u`; distinct units cover disjoint rectangles.
    fn rect(&self, u: usize) -> (Range<usize>, Range<usize>) {
        let (rb, cb) = if self.col_first {
            let pieces = self.m.div_ceil(self.rows);
            (u % pieces, u / pieces)
        } else {
            (u / self.col_units(), u % self.col_units())
        };
        let (r0, c0) = (rb * self.rows, cb * self.cols);
        (
            r0..(r0 + self.rows).min(self.m),
            c0..(c0 + self.cols).min(self.n),
        )
    }
}

/// A product ready to run unit by unit (see [`Units`]). Preconditions as [`run`].
pub(crate) struct Split<'a> {
    pub units: Units,
    pub k: usize,
    pub a: &'a [u8],
    pub lda: usize,
    pub b: &'a PackedB8Ref<'a>,
    pub out: Output<'a>,
}

impl Split<'_> {
    /// Computes unit `u` (`< units.count()`).
    pub(crate) fn run_unit(&self, u: usize) {
        let (rows, cols) = self.units.rect(u);
        self.run_rect(rows, cols);
    }

    /// The whole product on the calling thread.
    pub(crate) fn run_serial(&self) {
        self.run_rect(0..self.units.m, 0..self.units.n);
    }

    fn run_rect(&self, rows: Range<usize>, cols: Range<usize>) {
        let mk = self.units.mk;
        serial(mk, self.k, self.a, self.lda, self.b, self.out, rows, cols);
    }
}

/// Whether a product of `m × n × k` is worth splitting over threads: enough operations, or a B
/// (one byte per weight) large enough that reading it bounds a product of few rows.
pub(crate) fn parallel(m: usize, n: usize, k: usize) -> bool {
    let ops = 2usize.saturating_mul(m).saturating_mul(n).saturating_mul(k);
    crate::parallelism::threads() > 1
        && (ops >= PARALLEL_MIN_OPS || k.saturating_mul(n) >= crate::gemm::PARALLEL_MIN_B_BYTES)
}

/// Runs the product over the whole `m × n` output. Preconditions (checked by callers): A holds
/// `m` rows of `round_up(k,4)` bytes at stride `lda`, B is packed for `k × n`, C and the epilogue
/// buffers cover `m × n`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    isa: Int8Isa,
    m: usize,
    n: usize,
    k: usize,
    a: &[u8],
    lda: usize,
    b: &PackedB8Ref<'_>,
    out: Output<'_>,
) {
    if m == 0 || n == 0 {
        return;
    }
    let split = Split {
        units: Units::new(isa, m, n, k),
        k,
        a,
        lda,
        b,
        out,
    };
    if !parallel(m, n, k) {
        split.run_serial();
        return;
    }
    let units = split.units.count();
    let threads = claim::region_threads(units);
    let phase = Phase::new(units, threads);
    claim::region(threads, |part| phase.work(part, |u| split.run_unit(u)));
}

/// Rows per row block: the A block (rows × k bytes) stays in L2, at most [`MC_MAX`], a multiple of
/// the microkernel's rows.
fn row_block(mk: &MicroKernel8, k: usize) -> usize {
    let k4 = k.div_ceil(4);
    ((A_BLOCK_BYTES / (4 * k4).max(1)).min(MC_MAX) / mk.mr).max(1) * mk.mr
}

/// Single-threaded loop over the `rows × cols` rectangle (`cols.start` a multiple of 16).
#[allow(clippy::too_many_arguments)]
fn serial(
    mk: &MicroKernel8,
    k: usize,
    a: &[u8],
    lda: usize,
    b: &PackedB8Ref<'_>,
    out: Output<'_>,
    rows: Range<usize>,
    cols: Range<usize>,
) {
    let k4 = k.div_ceil(4);
    let panel_bytes = k4 * GROUP_BYTES;
    let nr = mk.np * PANEL;
    let mc = row_block(mk, k);
    // Loop order inside a row block: when all of this part's packed B fits in L2 (small k·n),
    // sweep each row tile across every column block, so C is written row by row (sequential
    // lines the prefetcher can follow — the 3136 × 64 × 576 case is bound by C's write traffic);
    // otherwise keep a B micro-panel hot in L1 across the row tiles.
    let b_bytes = cols.len().div_ceil(PANEL) * panel_bytes;
    let rows_outer = b_bytes <= B_L2_BYTES;
    let mut ic = rows.start;
    while ic < rows.end {
        let mcur = mc.min(rows.end - ic);
        let tiles = mcur.div_ceil(mk.mr).max(1);
        let col_blocks = (cols.start..cols.end).step_by(nr);
        // The packed B after this rectangle's columns (the next unit a thread claims) or after
        // the current column block is fetched into L2 a slice per row tile of the first row block,
        // so the next block's first row tile does not wait on DRAM for cold weights. The VNNI
        // kernel spreads a slice's lines over its k-loop, the AMX kernel takes none; for the others
        // it is one burst before the tile. Returns the bytes and the slice length per row tile.
        let next_block = |from_col: usize, bytes: usize| -> (&[i8], usize) {
            // Only blocks that leave L2 room for the current one (long reductions stream B
            // from L2 across the row tiles anyway).
            if mk.next_block == NextBlockPrefetch::Off
                || ic != rows.start
                || bytes > PREFETCH_MAX_BYTES
            {
                return (&[], 0);
            }
            let at = (from_col / PANEL * panel_bytes).min(b.data().len());
            let slice = bytes.div_ceil(tiles).next_multiple_of(64);
            let next = &b.data()[at..];
            (&next[..(tiles * slice).min(next.len())], slice)
        };
        // Row tiles `t0 .. t0 + count` of this row block (`count > 1` only for whole tiles of a
        // kernel that runs several per call) against column block `jr`, each asking for its
        // slice of `pf`.
        let run_tiles = |t0: usize, count: usize, jr: usize, pf: &[i8], slice: usize| {
            let ir = ic + t0 * mk.mr;
            let mrows = mk.mr.min(ic + mcur - ir);
            let ncols = nr.min(cols.end - jr);
            let pf = pf.get(t0 * slice..).unwrap_or(&[]);
            let (pf_lines, pf_total) = if mk.next_block == NextBlockPrefetch::Spread {
                (slice / 64, pf.len() / 64)
            } else {
                prefetch_l2(&pf[..(count * slice).min(pf.len())]);
                (0, 0)
            };
            let tile = Tile8 {
                k4,
                rows: mrows,
                row_tiles: count,
                a: a.as_ptr().wrapping_add(ir * lda),
                lda,
                b: b.data().as_ptr().wrapping_add((jr / PANEL) * panel_bytes),
                b_next: panel_bytes,
                n: ncols,
                out: tile_out(&out, b, ir, jr),
                pf: pf.as_ptr(),
                pf_lines,
                pf_total,
            };
            let f = (mk.select)(mrows, ncols.div_ceil(PANEL));
            // SAFETY: `mk` matches the capped ISA (and runs several tiles per call only if it
            // says so). Each tile's rows (`ir + r·mr ..`, `mrows` of them, inside this row
            // block) and columns `jr..jr+ncols` lie inside the checked `m × n` problem, so the A
            // rows (`lda` stride, `4·k4` bytes each), the B panels (zero-padded, `k4·64` bytes
            // each) and the output/epilogue pointers built by `tile_out` and moved down per tile
            // are in bounds; `pf` is a live slice.
            unsafe { f(&tile) };
        };
        if rows_outer && col_blocks.len() > 1 {
            let (pf, slice) = next_block(cols.end, b_bytes);
            for t in 0..tiles {
                for (c, jr) in col_blocks.clone().enumerate() {
                    run_tiles(t, 1, jr, if c == 0 { pf } else { &[] }, slice);
                }
            }
        } else {
            let whole = mcur / mk.mr;
            for jr in col_blocks {
                let (pf, slice) = if rows_outer {
                    next_block(cols.end, b_bytes)
                } else {
                    next_block(jr + nr, mk.np * panel_bytes)
                };
                if mk.runs_row_tiles && whole > 1 {
                    run_tiles(0, whole, jr, pf, slice);
                    if whole < tiles {
                        run_tiles(whole, 1, jr, pf, slice);
                    }
                } else {
                    for t in 0..tiles {
                        run_tiles(t, 1, jr, pf, slice);
                    }
                }
            }
        }
        ic += mcur;
    }
}

/// Asks for `bytes` in L2 (a hint: no effect off x86-64).
fn prefetch_l2(bytes: &[i8]) {
    #[cfg(target_arch = "x86_64")]
    for line in bytes.chunks(64) {
        // SAFETY: a prefetch of an address inside a live slice (and prefetches never fault).
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T1 }>(line.as_ptr())
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// Output pointers and per-row parameters offset to the tile at `(row, col)`. The tile's
/// activation parameters point into `out` itself (per tensor) or its per-row slice, both alive
/// for the whole [`serial`] call that runs the tile.
fn tile_out(out: &Output<'_>, b: &PackedB8Ref<'_>, row: usize, col: usize) -> TileOut {
    match out {
        &Output::Raw { c, ldc } => TileOut::Raw {
            c: c.wrapping_add(row * ldc + col),
            ldc,
        },
        Output::Dequant {
            c,
            ldc,
            a_params,
            epi,
        } => {
            let (c, ldc) = (*c, *ldc);
            let (params, param_step) = match a_params {
                AQuant::PerTensor(p) => (p as *const QParams, 0),
                AQuant::PerRow(ps) => (ps[row..].as_ptr(), 1),
            };
            let null = std::ptr::null();
            let (col_bias, row_bias) = match epi.bias {
                Some(Bias::PerColumn(bb)) => (bb[col..].as_ptr(), null),
                Some(Bias::PerRow(bb)) => (null, bb[row..].as_ptr()),
                None => (null, null),
            };
            let (residual, ld_res) = match epi.residual {
                Some((r, ld)) => (r[row * ld + col..].as_ptr(), ld),
                None => (null, 0),
            };
            TileOut::Dequant(Dequant {
                c: c.wrapping_add(row * ldc + col),
                ldc,
                params,
                param_step,
                col_sums: b.col_sums()[col..].as_ptr(),
                col_scales: b.scales()[col..].as_ptr(),
                alpha: epi.alpha,
                load_c: epi.accumulate,
                col_bias,
                row_bias,
                residual,
                ld_res,
                act: epi.activation,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every output element belongs to exactly one unit (row and column splits, one and several
    /// row blocks, edges).
    #[test]
    fn units_cover_the_output_once() {
        for &(m, n, k) in &[
            (128, 768, 768),
            (128, 768, 3072),
            (130, 300, 3072),
            (40, 100, 20000),
            (96, 3072, 256),
            (300, 70, 130),
            (3136, 64, 576),
            (2000, 3000, 768),
            (1, 2000, 64),
        ] {
            // Every kernel's tile shape and unit size (the cut does not run the kernel).
            let kernels: &[&'static MicroKernel8] = &[
                &super::super::kernel_portable::KERNEL,
                #[cfg(target_arch = "x86_64")]
                &super::super::kernel_vnni::KERNEL,
                #[cfg(target_arch = "x86_64")]
                &super::super::kernel_amx::KERNEL,
            ];
            for &mk in kernels {
                let units = Units::with_kernel(mk, m, n, k);
                let mut seen = vec![0u8; m * n];
                for u in 0..units.count() {
                    let (rows, cols) = units.rect(u);
                    for i in rows {
                        for j in cols.clone() {
                            seen[i * n + j] += 1;
                        }
                    }
                }
                assert!(seen.iter().all(|&c| c == 1), "{m}x{k}x{n}, mr {}", mk.mr);
            }
        }
    }
}
