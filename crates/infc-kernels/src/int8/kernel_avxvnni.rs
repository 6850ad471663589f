//! AVX-VNNI integer microkernel: up to 6 rows × 16 columns (one packed panel, 12 ymm
//! accumulators), for CPUs with 256-bit `vpdpbusd` but no AVX-512 (Alder Lake and later client
//! cores, Zen 5 client parts). Per 4-deep k-group it loads the panel's 64 bytes as two ymm
//! (columns 0..8 and 8..16, each 4 s8 deep), broadcasts 4 u8 of each A row, and `vpdpbusd`
//! adds the four u8·s8 products of every column into its i32 lane (exact, no saturation). The
//! accumulators are in column order, so the AVX2 kernel's epilogue stores them.
//!
//! The instruction is the VEX encoding (AVX-VNNI) where the CPU has it, otherwise the EVEX
//! encoding of the same operation (AVX512-VNNI + VL): so the path runs, and is tested, on every
//! CPU with either, with identical results.

use super::kernel_avx2;
use super::pack::GROUP_BYTES;
use super::tile::{MicroKernel8, NextBlockPrefetch, Tile8, TileFn8};
use std::arch::x86_64::*;

pub(crate) static KERNEL: MicroKernel8 = MicroKernel8 {
    mr: 6,
    np: 1,
    select,
    next_block: NextBlockPrefetch::Burst,
    runs_row_tiles: false,
    unit_macs: super::driver::UNIT_MACS,
};

/// Whether the CPU has the VEX-encoded AVX-VNNI (else the EVEX form is used).
fn has_vex_vnni() -> bool {
    static VEX: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *VEX.get_or_init(|| is_x86_feature_detected!("avxvnni"))
}

fn select(rows: usize, _panels: usize) -> TileFn8 {
    macro_rules! pick {
        ($f:ident) => {
            match rows {
                1 => $f::<1>,
                2 => $f::<2>,
                3 => $f::<3>,
                4 => $f::<4>,
                5 => $f::<5>,
                _ => $f::<6>,
            }
        };
    }
    if has_vex_vnni() {
        pick!(tile_vex)
    } else {
        pick!(tile_evex)
    }
}

/// # Safety
/// The [`Tile8`] contract holds and the CPU has AVX2, FMA and AVX-VNNI.
#[target_feature(enable = "avx2,fma,avxvnni")]
unsafe fn tile_vex<const MR: usize>(t: &Tile8) {
    // SAFETY: forwarded; the closure runs the VEX `vpdpbusd` this function enables.
    unsafe { tile::<MR>(t, |c, a, b| _mm256_dpbusd_avx_epi32(c, a, b)) }
}

/// # Safety
/// The [`Tile8`] contract holds and the CPU has AVX2, FMA and AVX-512 VL + VNNI.
#[target_feature(enable = "avx2,fma,avx512vl,avx512vnni")]
unsafe fn tile_evex<const MR: usize>(t: &Tile8) {
    // SAFETY: forwarded; the closure runs the EVEX `vpdpbusd` this function enables.
    unsafe { tile::<MR>(t, |c, a, b| _mm256_dpbusd_epi32(c, a, b)) }
}

/// The tile with `dot(c, a, b) = c + Σ₄ u8(a)·s8(b)` per i32 lane.
///
/// # Safety
/// The [`Tile8`] contract holds, the CPU has AVX2 and FMA, and `dot` is executable here.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile<const MR: usize>(t: &Tile8, dot: impl Fn(__m256i, __m256i, __m256i) -> __m256i) {
    let mut acc = [[_mm256_setzero_si256(); 2]; MR];
    let mut a = t.a;
    let mut b = t.b;
    for _ in 0..t.k4 {
        // SAFETY: the k-group holds 64 readable bytes.
        let (b0, b1) = unsafe {
            (
                _mm256_loadu_si256(b as *const __m256i),
                _mm256_loadu_si256(b.add(32) as *const __m256i),
            )
        };
        for (i, row) in acc.iter_mut().enumerate() {
            // SAFETY: row `i` of A has 4 readable bytes at this k-group.
            let a4 = unsafe { (a.add(i * t.lda) as *const i32).read_unaligned() };
            let av = _mm256_set1_epi32(a4);
            row[0] = dot(row[0], av, b0);
            row[1] = dot(row[1], av, b1);
        }
        a = a.wrapping_add(4);
        b = b.wrapping_add(GROUP_BYTES);
    }
    // SAFETY: forwarded tile contract (AVX2 + FMA present).
    unsafe { kernel_avx2::store_tile::<MR>(&t.out, t.n, &acc) };
}
