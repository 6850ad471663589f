//! AMX-INT8 integer microkernel: tiles of 32 rows × 32 columns, as a 2 × 2 block of 16 × 16
//! i32 accumulator tiles (`tmm0..tmm3`), all whole row tiles of a row block per call. Per 64-deep k-step it loads two A tiles (16 rows × 64
//! u8 each, straight from the quantized rows at stride `lda`) and two B tiles (16 k-groups × 64
//! bytes: exactly 16 consecutive groups of a packed panel, stride 64 — the packed layout of
//! [`super::pack`] is AMX's B layout) and issues four `tdpbusd` (u8·s8 summed by fours into i32,
//! no saturation: the same exact sums as `vpdpbusd`). The accumulators go through a 4 KiB stack
//! block into the AVX-512 epilogue of [`super::kernel_vnni`], 8 rows at a time; the epilogue of
//! one tile runs after the next tile's products are issued (see [`full`]).
//!
//! Measured on a Sapphire Rapids guest: a `tileloadd` costs about three `tdpbusd` even from L1 and
//! the tile registers are not renamed, so the k-loop is bound by its four loads per step (about
//! 2 TOP/s per core) and each operand is loaded just before its first product.
//!
//! Used only when `k` is a multiple of 64 (whole k-steps; the driver keeps VNNI otherwise).
//! Tiles with fewer rows or columns than 32 × 32 (the edges) run the VNNI kernel on 8-row strips,
//! so no tile load ever reads past the operands.

use super::amx::{Tiles, TILE_ROWS, TILE_ROW_BYTES};
use super::driver::UNIT_MACS;
use super::kernel_vnni;
use super::pack::{GROUP_BYTES, PANEL};
use super::tile::{MicroKernel8, NextBlockPrefetch, Tile8, TileFn8};
use std::arch::x86_64::*;

/// Rows and panels of a full AMX tile call.
const MR: usize = 2 * TILE_ROWS;
const NP: usize = 2;
/// k-groups (4 deep) per 64-deep k-step.
const GROUPS_PER_STEP: usize = TILE_ROW_BYTES / 4;
/// 64-byte lines one output row of a full tile can touch (32 four-byte columns, 128 bytes, on
/// at most three lines).
const OUT_LINES: usize = 3;

pub(crate) static KERNEL: MicroKernel8 = MicroKernel8 {
    mr: MR,
    np: NP,
    select,
    next_block: NextBlockPrefetch::Off,
    runs_row_tiles: true,
    unit_macs: 4 * UNIT_MACS,
};

/// Whether the AMX kernel can take a product of depth `k` (whole 64-deep steps).
pub(crate) fn takes_depth(k: usize) -> bool {
    k > 0 && k.is_multiple_of(TILE_ROW_BYTES)
}

fn select(rows: usize, panels: usize) -> TileFn8 {
    select_with(full_hw, rows, panels)
}

/// `full` for whole 32 × 32 tiles, [`edge`] for the rest (shared with the emulated kernel of the
/// tests, so they exercise the same choice).
fn select_with(full: TileFn8, rows: usize, panels: usize) -> TileFn8 {
    if rows == MR && panels >= NP {
        full
    } else {
        edge
    }
}

/// # Safety
/// The [`Tile8`] contract for 32 rows and 2 panels, `k4` a multiple of 16, and
/// [`super::amx::usable`] (the driver selected this kernel only then).
unsafe fn full_hw(t: &Tile8) {
    // SAFETY: forwarded.
    unsafe { full(&mut super::amx::Hw, t) }
}

/// The call's [`Tile8::row_tiles`] full 32 × 32 tiles on the tile registers `tiles`, moving A
/// and the output 32 rows down each time. Software-pipelined: tile `r`'s products are issued
/// before tile `r − 1`'s epilogue, so the out-of-order core runs the AVX-512 epilogue while the
/// tile unit computes (the two accumulator blocks alternate).
///
/// # Safety
/// As [`full_hw`] (the CPU has AVX-512 F/BW/VL for the epilogue).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma")]
pub(crate) unsafe fn full<T: Tiles>(tiles: &mut T, t: &Tile8) {
    debug_assert!(t.k4.is_multiple_of(GROUPS_PER_STEP) && t.n > PANEL && t.row_tiles >= 1);
    // Left uninitialised: the tile stores write every element before the epilogue reads it
    // (zeroing first was a 4 KiB memset per tile).
    let mut acc = [const { std::mem::MaybeUninit::<Accumulators>::uninit() }; 2];
    // SAFETY: the tile registers are usable (the caller's contract).
    unsafe { tiles.configure() };
    let mut cur = Tile8 { row_tiles: 1, ..*t };
    let mut prev = cur;
    for r in 0..t.row_tiles {
        // SAFETY: tile `r` of the call, which the contract covers; `acc[r % 2]` is a whole block.
        unsafe { products(tiles, &cur, acc[r % 2].as_mut_ptr()) };
        if r > 0 {
            // SAFETY: `products` of tile `r − 1` wrote all of `acc[(r − 1) % 2]`.
            unsafe { epilogue(&prev, acc[(r - 1) % 2].assume_init_ref()) };
        }
        prev = cur;
        cur.a = cur.a.wrapping_add(MR * t.lda);
        cur.out = cur.out.offset(MR, 0);
    }
    // SAFETY: as above, for the last tile.
    unsafe { epilogue(&prev, acc[(t.row_tiles - 1) % 2].assume_init_ref()) };
}

/// One tile's i32 sums into `acc`: zero the accumulator tiles, run the k-steps, store them.
/// Meanwhile the output lines the epilogue will write are prefetched, spread over the k-steps
/// (see [`Tile8::out_rows`]: on the 128 × 50257 logits of an LM head the stores otherwise wait
/// for each line from DRAM; 7.8 → 6.4 ms per GPT-2 LM head on Sapphire Rapids).
///
/// # Safety
/// As [`full`], for one tile; `acc` points to a writable [`Accumulators`].
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma")]
unsafe fn products<T: Tiles>(tiles: &mut T, t: &Tile8, acc: *mut Accumulators) {
    let steps = t.k4 / GROUPS_PER_STEP;
    let (out, row_step) = t.out_rows();
    let line_at = |l: usize| (64 * l).min((4 * t.n).saturating_sub(1));
    let out_lines = MR * OUT_LINES;
    let per_step = out_lines.div_ceil(steps.max(1));
    // SAFETY: A rows `0..32` hold `4·k4` readable bytes at stride `lda`, and panels 0 and 1 hold
    // `k4·64` bytes (the tile contract); every load below stays inside them, and `acc` is a
    // 32 × 32 i32 block (128-byte rows). Prefetches never fault.
    unsafe {
        tiles.zero::<0>();
        tiles.zero::<1>();
        tiles.zero::<2>();
        tiles.zero::<3>();
        for step in 0..steps {
            for i in step * per_step..((step + 1) * per_step).min(out_lines) {
                let (r, l) = (i / OUT_LINES, i % OUT_LINES);
                _mm_prefetch::<_MM_HINT_T0>(out.wrapping_add(r * row_step + line_at(l)));
            }
            let a = t.a.add(step * TILE_ROW_BYTES);
            let b = (t.b as *const u8).add(step * GROUPS_PER_STEP * GROUP_BYTES);
            // Each operand tile is loaded just before its first product: the tile registers
            // are not renamed, so a load waits for the products still reading the old value.
            tiles.load::<4>(a, t.lda);
            tiles.load::<6>(b, GROUP_BYTES);
            tiles.dpbusd::<0, 4, 6>();
            tiles.load::<7>(b.add(t.b_next), GROUP_BYTES);
            tiles.dpbusd::<1, 4, 7>();
            tiles.load::<5>(a.add(TILE_ROWS * t.lda), t.lda);
            tiles.dpbusd::<2, 5, 6>();
            tiles.dpbusd::<3, 5, 7>();
        }
        let row_bytes = NP * PANEL * 4;
        let base = acc as *mut u8;
        let half = TILE_ROWS * row_bytes;
        tiles.store::<0>(base, row_bytes);
        tiles.store::<1>(base.add(PANEL * 4), row_bytes);
        tiles.store::<2>(base.add(half), row_bytes);
        tiles.store::<3>(base.add(half + PANEL * 4), row_bytes);
    }
}

/// The dequantize (or raw) epilogue of one full tile from its stored sums, 8 rows at a time
/// through the VNNI kernel's epilogue.
///
/// # Safety
/// As [`full`], for one tile.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma")]
unsafe fn epilogue(t: &Tile8, acc: &Accumulators) {
    for r0 in (0..MR).step_by(8) {
        let mut strip = [[_mm512_setzero_si512(); NP]; 8];
        for (i, row) in strip.iter_mut().enumerate() {
            for (q, v) in row.iter_mut().enumerate() {
                let at = (r0 + i) * NP * PANEL + q * PANEL;
                // SAFETY: 16 i32 inside the block.
                *v = unsafe { _mm512_loadu_si512(acc.0.as_ptr().add(at) as *const __m512i) };
            }
        }
        // SAFETY: rows `r0..r0+8` and the tile's `n` columns are inside the tile's output.
        unsafe { kernel_vnni::store_tile::<8, NP>(&t.out.offset(r0, 0), t.n, &strip) };
    }
}

/// The 32 × 32 accumulator block between the tile stores and the epilogue.
#[repr(C, align(64))]
struct Accumulators([i32; MR * NP * PANEL]);

/// A tile with fewer than 32 rows or 2 panels: VNNI strips of up to 8 rows × 2 panels.
///
/// # Safety
/// The [`Tile8`] contract holds and the CPU has AVX-512 VNNI.
unsafe fn edge(t: &Tile8) {
    // The call's row tiles are consecutive rows: one block of them, cut into strips.
    let all = Tile8 {
        rows: t.rows + (t.row_tiles - 1) * MR,
        row_tiles: 1,
        ..*t
    };
    let panels = t.n.div_ceil(PANEL);
    for r0 in (0..all.rows).step_by(8) {
        let f = (kernel_vnni::KERNEL.select)((all.rows - r0).min(8), panels);
        // SAFETY: the strip lies inside the call's tiles, so the contract covers it.
        unsafe { f(&all.sub(r0, 0)) };
    }
}

#[cfg(test)]
mod tests {
    use super::super::amx::Emulated;
    use super::super::driver::{Output, Split, Units};
    use super::super::{quantize_pack_b_s8, AQuant, Int8Isa, QParams};
    use super::*;
    use crate::gemm::{Activation, Bias, Epilogue};

    /// The AMX kernel on emulated tile registers (every machine).
    static EMULATED: MicroKernel8 = MicroKernel8 {
        mr: MR,
        np: NP,
        select: select_emulated,
        next_block: NextBlockPrefetch::Off,
        runs_row_tiles: true,
        unit_macs: 4 * UNIT_MACS,
    };

    fn select_emulated(rows: usize, panels: usize) -> TileFn8 {
        select_with(full_emulated, rows, panels)
    }

    unsafe fn full_emulated(t: &Tile8) {
        let mut tiles = Emulated([[0; TILE_ROWS * TILE_ROW_BYTES]; 8]);
        // SAFETY: forwarded tile contract.
        unsafe { full(&mut tiles, t) }
    }

    fn bytes(len: usize, seed: u32) -> Vec<u8> {
        (0..len as u32)
            .map(|i| (i.wrapping_mul(2654435761) ^ seed).rotate_left(7) as u8)
            .collect()
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        bytes(len, seed)
            .iter()
            .map(|&b| b as f32 / 64.0 - 2.0)
            .collect()
    }

    /// Runs `m × n × k` on `mk` (all units, in reverse order) into raw i32 and into a full
    /// dequantize epilogue.
    fn run(mk: &'static MicroKernel8, m: usize, n: usize, k: usize) -> (Vec<i32>, Vec<f32>) {
        let lda = k + 4;
        let a = bytes(m * lda, 1);
        let packed = quantize_pack_b_s8(k, n, &values(k * n, 2), n, false).unwrap();
        let b = packed.as_ref();
        let params: Vec<QParams> = (0..m)
            .map(|i| QParams {
                scale: 0.01 + i as f32 * 1e-4,
                zero_point: (i * 37 % 256) as u8,
            })
            .collect();
        let (bias, res) = (values(n, 3), values(m * n, 4));
        let epi = Epilogue {
            bias: Some(Bias::PerColumn(&bias)),
            residual: Some((&res, n)),
            activation: Activation::GeluTanh,
            ..Epilogue::default()
        };
        let mut raw = vec![0i32; m * n];
        let mut deq = vec![0f32; m * n];
        let outs = [
            Output::Raw {
                c: raw.as_mut_ptr(),
                ldc: n,
            },
            Output::Dequant {
                c: deq.as_mut_ptr(),
                ldc: n,
                a_params: AQuant::PerRow(&params),
                epi: &epi,
            },
        ];
        for out in outs {
            let split = Split {
                units: Units::with_kernel(mk, m, n, k),
                k,
                a: &a,
                lda,
                b: &b,
                out,
            };
            for u in (0..split.units.count()).rev() {
                split.run_unit(u);
            }
        }
        (raw, deq)
    }

    /// `mk` gives the VNNI kernel's raw sums and dequantized bits on every shape `(m, n, k)`.
    fn assert_same_as_vnni(mk: &'static MicroKernel8, shapes: &[(usize, usize, usize)]) {
        for &(m, n, k) in shapes {
            let want = run(&kernel_vnni::KERNEL, m, n, k);
            let got = run(mk, m, n, k);
            assert_eq!(got.0, want.0, "{m}x{n}x{k}: raw sums");
            let same = got
                .1
                .iter()
                .zip(&want.1)
                .all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "{m}x{n}x{k}: dequantized output");
        }
    }

    /// Full tiles, row and column edges, one and several k-steps: the emulated AMX kernel gives
    /// the VNNI kernel's bits (raw sums exactly, the epilogue bit for bit: it is the same code).
    #[test]
    fn emulated_amx_matches_vnni_bit_for_bit() {
        if !Int8Isa::Avx512Vnni.is_supported() {
            eprintln!("skipped: the AMX kernel's edges and epilogue need AVX-512 VNNI");
            return;
        }
        let shapes = [
            (32, 32, 64),
            (64, 80, 128),
            (37, 50, 192),
            (96, 33, 64),
            (5, 7, 64),
        ];
        assert_same_as_vnni(&EMULATED, &shapes);
    }

    /// The tile registers themselves, where the CPU and OS grant them.
    #[test]
    fn hardware_amx_matches_vnni_bit_for_bit() {
        if !Int8Isa::Amx.is_supported() {
            eprintln!("skipped: AMX-INT8 is not usable here (CPU, OS or permission)");
            return;
        }
        let shapes = [(32, 32, 64), (64, 80, 128), (37, 50, 192), (128, 96, 768)];
        assert_same_as_vnni(&KERNEL, &shapes);
    }

    #[test]
    fn only_whole_k_steps_take_amx() {
        assert!(takes_depth(64) && takes_depth(768) && takes_depth(3072));
        assert!(!takes_depth(0) && !takes_depth(60) && !takes_depth(100));
    }
}
