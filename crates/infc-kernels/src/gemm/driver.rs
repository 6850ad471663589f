//! The blocked GEMM driver: splits the problem over threads, walks `NC × KC × MC` cache blocks,
//! packs what is not pre-packed into per-thread aligned buffers (a small stack per thread, topped
//! by the pair a serial session lends for a run), and calls the ISA's microkernel on each register
//! tile. All bounds were checked by the public entry points before we get here.

use super::pack::{pack_a_block, pack_b_block, packed_a_len, packed_b_len};
use super::tile::{MicroKernel, Tile, TileEpilogue};
use super::{Bias, Epilogue, MatRef, A_PANEL, B_PANEL};
use crate::Isa;
use rayon::prelude::*;
use std::cell::RefCell;
use std::ops::Range;

/// Depth of a k-block: a `KC × 32` B micro-panel (32 KiB) stays in L1 across the row tiles.
const KC: usize = 256;
/// Rows of A packed per block (multiple of `A_PANEL`); `MC × KC` floats (≈ 240 KiB) live in L2.
const MC: usize = 240;
/// Columns per outer block (multiple of 32).
const NC: usize = 3072;

/// A source of B blocks packed on demand (strided matrices, im2col).
pub(crate) trait PackB: Sync {
    /// Writes rows `k0..k0+kc`, columns `j0..j0+nc` of B in packed-B layout (`ceil(nc/16)` panels
    /// of `kc × 16`, zero-padded) into `out[..packed_b_len(kc, nc)]`.
    fn pack(&self, k0: usize, kc: usize, j0: usize, nc: usize, out: &mut [f32]);
}

impl PackB for MatRef<'_> {
    fn pack(&self, k0: usize, kc: usize, j0: usize, nc: usize, out: &mut [f32]) {
        pack_b_block(self, k0, kc, j0, nc, out);
    }
}

/// Validated A operand.
#[derive(Clone, Copy)]
pub(crate) enum ASrc<'a> {
    Packed(&'a [f32]),
    Strided(MatRef<'a>),
}

/// Validated B operand.
#[derive(Clone, Copy)]
pub(crate) enum BSrc<'a> {
    /// Packed B and the depth it was packed for (`≥ k`; panels are `depth × 16` apart).
    Packed(&'a [f32], usize),
    Strided(MatRef<'a>),
    Custom(&'a dyn PackB),
}

/// Microkernel family for a (capped) ISA.
fn micro_kernel(isa: Isa) -> &'static MicroKernel {
    match isa.capped() {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => &super::kernel_avx512::KERNEL,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => &super::kernel_avx2::KERNEL,
        _ => &super::kernel_portable::KERNEL,
    }
}

/// Raw C pointer shared by the parallel parts. Each part writes a disjoint rectangle of C.
#[derive(Clone, Copy)]
struct CPtr(*mut f32);
// SAFETY: parts write disjoint row/column ranges of C (see `gemm_unchecked`), and the pointer stays
// valid for the whole parallel section because it borrows `c` mutably for that duration.
unsafe impl Send for CPtr {}
// SAFETY: as above; no two parts touch the same element.
unsafe impl Sync for CPtr {}

/// Runs the GEMM. Preconditions (checked by callers): A, B readable for their shapes, C writable
/// for `m × n` with `ldc`, epilogue buffers long enough.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_unchecked(
    isa: Isa,
    m: usize,
    n: usize,
    k: usize,
    a: ASrc<'_>,
    b: BSrc<'_>,
    c: &mut [f32],
    ldc: usize,
    epi: &Epilogue<'_>,
) {
    if m == 0 || n == 0 {
        return;
    }
    let mk = micro_kernel(isa);
    let cp = CPtr(c.as_mut_ptr());
    let threads = crate::parallelism::threads();
    if threads <= 1 || !super::worth_splitting(m, n, k, 4) {
        serial(mk, k, a, b, cp, ldc, epi, 0..m, 0..n);
        return;
    }
    // Split the dimension whose operand is cheaper to share: splitting M makes every part read all
    // of B, splitting N makes every part pack all of A.
    let m_units = m.div_ceil(A_PANEL);
    let n_units = n.div_ceil(2 * B_PANEL);
    let split_m = (m >= n && m_units >= 2) || n_units < 2;
    let (units, unit) = if split_m {
        (m_units, A_PANEL)
    } else {
        (n_units, 2 * B_PANEL)
    };
    let parts = threads.min(units);
    if parts < 2 {
        // One part (few rows and columns, however deep): no fork to pay for.
        serial(mk, k, a, b, cp, ldc, epi, 0..m, 0..n);
        return;
    }
    let per = units.div_ceil(parts);
    (0..parts).into_par_iter().for_each(|p| {
        let lo = (p * per * unit).min(if split_m { m } else { n });
        let hi = ((p + 1) * per * unit).min(if split_m { m } else { n });
        if lo < hi {
            // Bind the whole wrapper (a closure would otherwise capture only the raw-pointer field,
            // which is not `Send`).
            let part_c = cp;
            if split_m {
                serial(mk, k, a, b, part_c, ldc, epi, lo..hi, 0..n);
            } else {
                serial(mk, k, a, b, part_c, ldc, epi, 0..m, lo..hi);
            }
        }
    });
}

/// Grow-only 64-byte-aligned scratch buffer.
#[derive(Default)]
struct AlignedBuf(Vec<f32>);

impl AlignedBuf {
    fn get(&mut self, len: usize) -> &mut [f32] {
        if self.0.len() < len + 16 {
            self.0 = vec![0.0; len + 16];
        }
        let off = self.0.as_ptr().align_offset(64).min(15);
        &mut self.0[off..off + len]
    }
}

/// How many packing-buffer pairs a thread keeps: one per level of re-entry (a rayon steal inside a
/// parallel region re-enters the driver); a deeper re-entry packs into a pair of its own.
const STACK_DEPTH: usize = 4;

/// This thread's packing buffers, a stack held inline (pushing and popping never allocates).
struct PackStack {
    slots: [Option<PackBuffers>; STACK_DEPTH],
    len: usize,
}

impl PackStack {
    fn pop(&mut self) -> Option<PackBuffers> {
        let top = self.len.checked_sub(1)?;
        self.len = top;
        self.slots[top].take()
    }

    /// Keeps `bufs` (or hands them back when the stack is full).
    fn push(&mut self, bufs: PackBuffers) -> Result<(), PackBuffers> {
        match self.slots.get_mut(self.len) {
            Some(slot) => {
                *slot = Some(bufs);
                self.len += 1;
                Ok(())
            }
            None => Err(bufs),
        }
    }
}

thread_local! {
    /// Packing buffers of this thread, a stack: a thread that re-enters `serial` (rayon steals a
    /// GEMM task while this thread waits inside a parallel region, e.g. batched attention GEMMs
    /// whose inner GEMM is parallel too) takes the next free pair. Buffers go back on the stack
    /// after use, so in steady state (same shapes every run) no call allocates.
    static PACK_BUFS: RefCell<PackStack> = const {
        RefCell::new(PackStack { slots: [const { None }; STACK_DEPTH], len: 0 })
    };
}

/// One pair of GEMM packing buffers (an A block and a B block), grown to the largest size any GEMM
/// asks for. A session that runs on its callers' threads keeps one pair with each arena and lends it
/// to the thread of the run ([`with_pack_buffers`]), so a caller thread's first run allocates
/// nothing.
#[derive(Default)]
pub struct PackBuffers(AlignedBuf, AlignedBuf);

impl PackBuffers {
    /// A pair at full size (about 3.3 MB).
    pub fn reserved() -> PackBuffers {
        let mut bufs = PackBuffers::default();
        bufs.reserve();
        bufs
    }

    fn reserve(&mut self) {
        self.0.get(packed_a_len(MC, KC));
        self.1.get(packed_b_len(KC, NC));
    }
}

/// Runs `f` with `bufs` on top of this thread's packing-buffer stack, so the GEMMs `f` runs on this
/// thread pack into them; they are taken back when `f` returns. Nested GEMMs on other threads use
/// those threads' own buffers.
pub fn with_pack_buffers<R>(bufs: &mut PackBuffers, f: impl FnOnce() -> R) -> R {
    let lent = std::mem::take(bufs);
    let pushed = PACK_BUFS.with(|cell| cell.borrow_mut().push(lent));
    if let Err(back) = pushed {
        // The stack is full (deep re-entry): nothing to lend to.
        *bufs = back;
        return f();
    }
    let out = f();
    // Every GEMM pops and pushes back in pairs, so the top is the pair lent above.
    if let Some(back) = PACK_BUFS.with(|cell| cell.borrow_mut().pop()) {
        *bufs = back;
    }
    out
}

/// Grows this thread's packing buffers to the largest size any GEMM asks for, two levels deep (a
/// thread can re-enter the driver through a rayon steal), so no later GEMM on this thread allocates.
/// The runtime calls it once per session on every worker of the pool (`rayon::broadcast`) before the
/// first run: without it, a worker that happens to run its first GEMM part in the third run of a plan
/// allocates then.
pub fn reserve_pack_buffers() {
    PACK_BUFS.with(|cell| {
        let mut stack = cell.borrow_mut();
        while stack.len < 2 {
            if stack.push(PackBuffers::default()).is_err() {
                break;
            }
        }
        for bufs in stack.slots.iter_mut().flatten() {
            bufs.reserve();
        }
    });
}

/// The single-threaded blocked loop over the `rows × cols` rectangle of C. `rows.start` is a
/// multiple of `A_PANEL` and `cols.start` a multiple of `2*B_PANEL` (so packed panels line up).
#[allow(clippy::too_many_arguments)]
fn serial(
    mk: &MicroKernel,
    k: usize,
    a: ASrc<'_>,
    b: BSrc<'_>,
    c: CPtr,
    ldc: usize,
    epi: &Epilogue<'_>,
    rows: Range<usize>,
    cols: Range<usize>,
) {
    let mut bufs = PACK_BUFS
        .with(|cell| cell.borrow_mut().pop())
        .unwrap_or_default();
    serial_with(
        mk,
        k,
        a,
        b,
        c,
        ldc,
        epi,
        rows,
        cols,
        &mut bufs.0,
        &mut bufs.1,
    );
    // A full stack (deep re-entry) drops the pair.
    let _ = PACK_BUFS.with(|cell| cell.borrow_mut().push(bufs));
}

#[allow(clippy::too_many_arguments)]
fn serial_with(
    mk: &MicroKernel,
    k: usize,
    a: ASrc<'_>,
    b: BSrc<'_>,
    c: CPtr,
    ldc: usize,
    epi: &Epilogue<'_>,
    rows: Range<usize>,
    cols: Range<usize>,
    abuf: &mut AlignedBuf,
    bbuf: &mut AlignedBuf,
) {
    let nr = mk.np * B_PANEL;
    let mut jc = cols.start;
    while jc < cols.end {
        let nc = NC.min(cols.end - jc);
        let mut pc = 0;
        loop {
            let kc = KC.min(k - pc);
            let last = pc + kc == k;
            let (bptr, b_stride): (*const f32, usize) = match b {
                BSrc::Packed(p, depth) => (
                    p[(jc / B_PANEL) * depth * B_PANEL + pc * B_PANEL..].as_ptr(),
                    depth * B_PANEL,
                ),
                BSrc::Strided(mat) => {
                    let buf = bbuf.get(packed_b_len(kc, nc));
                    pack_b_block(&mat, pc, kc, jc, nc, buf);
                    (buf.as_ptr(), kc * B_PANEL)
                }
                BSrc::Custom(src) => {
                    let buf = bbuf.get(packed_b_len(kc, nc));
                    src.pack(pc, kc, jc, nc, buf);
                    (buf.as_ptr(), kc * B_PANEL)
                }
            };
            let mut ic = rows.start;
            while ic < rows.end {
                let mc = MC.min(rows.end - ic);
                let (aptr, a_stride): (*const f32, usize) = match a {
                    ASrc::Packed(p) => (
                        p[(ic / A_PANEL) * k * A_PANEL + pc * A_PANEL..].as_ptr(),
                        k * A_PANEL,
                    ),
                    ASrc::Strided(mat) => {
                        let buf = abuf.get(packed_a_len(mc, kc));
                        pack_a_block(&mat, ic, mc, pc, kc, buf);
                        (buf.as_ptr(), kc * A_PANEL)
                    }
                };
                let mut jr = 0;
                while jr < nc {
                    let ncols = nr.min(nc - jr);
                    let panels = ncols.div_ceil(B_PANEL);
                    let col = jc + jr;
                    let mut ir = 0;
                    while ir < mc {
                        let mrows = mk.mr.min(mc - ir);
                        let row = ic + ir;
                        let tile_epi = if last {
                            Some(tile_epilogue(epi, row, col))
                        } else {
                            None
                        };
                        // The packed offsets below stay inside the buffers: `ir/A_PANEL < ceil(mc/12)`
                        // panels of `a_stride` floats, `jr/16 < ceil(nc/16)` panels of `b_stride`.
                        let tile = Tile {
                            kc,
                            a: aptr.wrapping_add((ir / A_PANEL) * a_stride + ir % A_PANEL),
                            b: bptr.wrapping_add((jr / B_PANEL) * b_stride),
                            b_next: b_stride,
                            c: c.0.wrapping_add(row * ldc + col),
                            ldc,
                            n: ncols,
                            load_c: pc > 0 || epi.accumulate,
                            alpha: epi.alpha,
                            epi: tile_epi,
                        };
                        let f = (mk.select)(mrows, panels);
                        // SAFETY: `mk` was chosen by `micro_kernel`, which capped the ISA to the
                        // detected CPU features. The tile lies inside the checked `m × n` C, the
                        // A/B panel pointers address packed data covering `kc` steps of `mrows` rows
                        // and `panels` panels, and the epilogue pointers were offset within their
                        // checked buffers (`tile_epilogue`).
                        unsafe { f(&tile) };
                        ir += mrows;
                    }
                    jr += ncols;
                }
                ic += mc;
            }
            pc += kc;
            if last {
                break;
            }
        }
        jc += nc;
    }
}

/// Epilogue pointers offset to the tile at `(row, col)`.
fn tile_epilogue(epi: &Epilogue<'_>, row: usize, col: usize) -> TileEpilogue {
    let null = std::ptr::null();
    let (col_bias, row_bias) = match epi.bias {
        Some(Bias::PerColumn(b)) => (b[col..].as_ptr(), null),
        Some(Bias::PerRow(b)) => (null, b[row..].as_ptr()),
        None => (null, null),
    };
    let (residual, ld_res) = match epi.residual {
        Some((r, ld)) => (r[row * ld + col..].as_ptr(), ld),
        None => (null, 0),
    };
    TileEpilogue {
        col_bias,
        row_bias,
        residual,
        ld_res,
        act: epi.activation,
    }
}
