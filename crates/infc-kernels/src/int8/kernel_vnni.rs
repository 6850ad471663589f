//! AVX-512 VNNI integer microkernel: up to 8 rows × 48 columns (three 16-column panels, 24 zmm
//! accumulators). Per 4-deep k-group it loads one zmm per panel (16 columns × 4 s8) and
//! broadcasts 4 u8 of each A row, then `vpdpbusd` adds the four u8·s8 products of every column
//! into its i32 lane (no intermediate saturation). The dequantize epilogue then runs on the
//! accumulator registers themselves (unrolled over rows and panels, one copy per activation).
//! Masked stores for partial columns. Besides its operands' prefetches, the k-loop prefetches the
//! tile's output lines and one line of the driver's next weight block per k-group. One call runs
//! every whole row tile of a row block against one column block ([`Tile8::row_tiles`]).

use super::pack::{GROUP_BYTES, PANEL};
use super::tile::{
    Dequant, MicroKernel8, NextBlockPrefetch, Tile8, TileFn8, TileOut, OUT_LINES_PER_ROW,
};
use crate::gemm::Activation;
use crate::simd::avx512::{activate, tail_mask};
use std::arch::x86_64::*;

/// How many 64-byte k-groups ahead the B panels are prefetched.
const PREFETCH_GROUPS: usize = 8;

pub(crate) static KERNEL: MicroKernel8 = MicroKernel8 {
    mr: 8,
    np: 3,
    select,
    next_block: NextBlockPrefetch::Spread,
    runs_row_tiles: true,
    unit_macs: super::driver::UNIT_MACS,
};

fn select(rows: usize, panels: usize) -> TileFn8 {
    macro_rules! pick {
        ($($r:literal)*) => {
            match (rows, panels) {
                $( ($r, 1) => tile::<$r, 1>, ($r, 2) => tile::<$r, 2>, ($r, _) => tile::<$r, 3>, )*
                _ => tile::<8, 3>,
            }
        };
    }
    pick!(1 2 3 4 5 6 7 8)
}

/// Runs the call's [`Tile8::row_tiles`] tiles, moving A and the output `MR` rows down each time
/// (one call per row block and column block: building a [`Tile8`] and calling through a pointer
/// per tile cost about 3 % of GPT-2's run).
///
/// # Safety
/// The [`Tile8`] contract holds and the CPU has AVX-512 F/BW/VL/VNNI (the driver capped the ISA).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,fma")]
unsafe fn tile<const MR: usize, const NP: usize>(t: &Tile8) {
    let mut cur = Tile8 { row_tiles: 1, ..*t };
    for r in 0..t.row_tiles {
        let first = r * t.pf_lines;
        cur.pf = t.pf.wrapping_add(64 * first);
        cur.pf_lines = t.pf_total.saturating_sub(first).min(t.pf_lines);
        // SAFETY: tile `r` of the call, which the contract covers.
        unsafe { one_tile::<MR, NP>(&cur) };
        cur.a = cur.a.wrapping_add(MR * t.lda);
        cur.out = cur.out.offset(MR, 0);
    }
}

/// One tile.
///
/// # Safety
/// As [`tile`], for one tile.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,fma")]
unsafe fn one_tile<const MR: usize, const NP: usize>(t: &Tile8) {
    let mut acc = [[_mm512_setzero_si512(); NP]; MR];
    let mut a = t.a;
    let mut b = t.b;
    // The output lines this tile's epilogue writes, prefetched one every `every` k-groups from
    // the loop's start (see `Tile8::out_rows`), row by row.
    let (mut row, row_step) = t.out_rows();
    let line_step = |l: usize| (64 * l).min((4 * t.n).saturating_sub(1));
    let lines = OUT_LINES_PER_ROW * MR;
    let every = (t.k4 / lines).clamp(1, 4);
    let (mut next_line, mut next_at) = (0, 0);
    for g in 0..t.k4 {
        if g == next_at && next_line < lines {
            let l = next_line % OUT_LINES_PER_ROW;
            _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(line_step(l)));
            if l == OUT_LINES_PER_ROW - 1 {
                row = row.wrapping_add(row_step);
            }
            next_line += 1;
            next_at += every;
        }
        // One line of the driver's L2 prefetch per k-group: spread out, the misses never fill
        // the core's miss buffers the way a burst before the tile did.
        if g < t.pf_lines {
            _mm_prefetch::<_MM_HINT_T1>(t.pf.wrapping_add(g * 64));
        }
        let mut bv = [_mm512_setzero_si512(); NP];
        // Software prefetch of every panel `PREFETCH_GROUPS` k-groups ahead: on the first row tile
        // of a column block the packed weights stream from DRAM/L3, and the panels are
        // `k4·64` bytes apart, too far for the hardware prefetcher to follow all of them.
        for q in 0..NP {
            _mm_prefetch::<_MM_HINT_T0>(
                b.wrapping_add(q * t.b_next + PREFETCH_GROUPS * GROUP_BYTES),
            );
        }
        for (q, v) in bv.iter_mut().enumerate() {
            // SAFETY: panel `q` holds 64 readable bytes at this k-group.
            *v = unsafe { _mm512_loadu_si512(b.add(q * t.b_next) as *const __m512i) };
        }
        for (i, row) in acc.iter_mut().enumerate() {
            // SAFETY: row `i` of A has 4 readable bytes at this k-group.
            let a4 = unsafe { (a.add(i * t.lda) as *const i32).read_unaligned() };
            let av = _mm512_set1_epi32(a4);
            for q in 0..NP {
                row[q] = _mm512_dpbusd_epi32(row[q], av, bv[q]);
            }
        }
        a = a.wrapping_add(4);
        b = b.wrapping_add(GROUP_BYTES);
    }
    // SAFETY (both arms): forwarded tile contract.
    match &t.out {
        // The dequantize epilogue works on the accumulators where they are, in registers. Handed
        // over through memory (24 zmm stores, then reloads) it cost about 250 cycles a tile:
        // 6 % of a depth-768 product, 16 % at depth 256.
        TileOut::Dequant(d) => unsafe {
            match d.act {
                Activation::None => dequant_tile::<MR, NP, ACT_NONE>(d, t.n, &acc),
                Activation::Relu => dequant_tile::<MR, NP, ACT_RELU>(d, t.n, &acc),
                Activation::GeluErf => dequant_tile::<MR, NP, ACT_GELU_ERF>(d, t.n, &acc),
                Activation::GeluTanh => dequant_tile::<MR, NP, ACT_GELU_TANH>(d, t.n, &acc),
            }
        },
        TileOut::Raw { .. } => unsafe { store_tile::<MR, NP>(&t.out, t.n, &acc) },
    }
}

/// The activations as const parameters of [`dequant_tile`], so each copy of its unrolled body
/// has one activation and no branch on it.
const ACT_NONE: u8 = 0;
const ACT_RELU: u8 = 1;
const ACT_GELU_ERF: u8 = 2;
const ACT_GELU_TANH: u8 = 3;

const fn activation(code: u8) -> Activation {
    match code {
        ACT_RELU => Activation::Relu,
        ACT_GELU_ERF => Activation::GeluErf,
        ACT_GELU_TANH => Activation::GeluTanh,
        _ => Activation::None,
    }
}

/// Runs `$body` with `$i` bound to each constant `0, 1, …` below `$n` (at most 8): source-level
/// unrolling, so every `acc[$i]` has a constant index and the accumulators never leave their
/// registers (LLVM does not fully unroll a loop whose body holds a GELU).
macro_rules! unroll8 {
    ($i:ident < $n:expr => $body:block) => {
        unroll8!(@each $i, $n, $body, 0 1 2 3 4 5 6 7)
    };
    (@each $i:ident, $n:expr, $body:block, $($k:literal)*) => {
        $( if $k < $n { let $i: usize = $k; $body } )*
    };
}

/// The dequantize epilogue of a whole tile straight from its accumulator registers, activation
/// `ACT` ([`store_tile`] runs the same [`dequant_store`] from accumulators in memory).
///
/// # Safety
/// As [`store_tile`] with a [`TileOut::Dequant`] output.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma")]
unsafe fn dequant_tile<const MR: usize, const NP: usize, const ACT: u8>(
    d: &Dequant,
    n: usize,
    acc: &[[__m512i; NP]; MR],
) {
    // `unroll8!` covers at most 8 rows and 8 panels.
    const { assert!(MR <= 8 && NP <= 8) };
    let act = const { activation(ACT) };
    let alpha = _mm512_set1_ps(d.alpha);
    unroll8!(q < NP => {
        let valid = n.saturating_sub(q * PANEL).min(PANEL);
        if valid > 0 {
            let mask = tail_mask(valid);
            // SAFETY: forwarded contract (panel `q` of the tile).
            let panel = unsafe { PanelParams::load(d, q, mask) };
            unroll8!(i < MR => {
                // SAFETY: row `i`, panel `q` of the tile.
                unsafe { dequant_store(d, &panel, alpha, i, acc[i][q], act) };
            });
        }
    });
}

/// Column parameters of one 16-column panel of a tile.
struct PanelParams {
    off: usize,
    mask: __mmask16,
    col_sums: __m512i,
    col_scales: __m512,
    col_bias: Option<__m512>,
}

impl PanelParams {
    /// # Safety
    /// The [`Dequant`] contract holds for the tile; `mask` selects panel `q`'s valid columns.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    unsafe fn load(d: &Dequant, q: usize, mask: __mmask16) -> PanelParams {
        let off = q * PANEL;
        // SAFETY: column sums and scales are padded to whole panels; bias reads are masked.
        unsafe {
            PanelParams {
                off,
                mask,
                col_sums: _mm512_loadu_si512(d.col_sums.add(off) as *const __m512i),
                col_scales: _mm512_loadu_ps(d.col_scales.add(off)),
                col_bias: if d.col_bias.is_null() {
                    None
                } else {
                    Some(_mm512_maskz_loadu_ps(mask, d.col_bias.add(off)))
                },
            }
        }
    }
}

/// Epilogue of one accumulator register (row `i` of the tile, the panel of `p`), the operation
/// order of [`Dequant::scalar`].
///
/// # Safety
/// The [`Dequant`] contract holds for the tile; `i` is one of its rows.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma")]
unsafe fn dequant_store(
    d: &Dequant,
    p: &PanelParams,
    alpha: __m512,
    i: usize,
    acc: __m512i,
    act: Activation,
) {
    // SAFETY: `i` is a row of the tile.
    let (sa, za) = unsafe { d.a_params(i) };
    let comp = _mm512_mullo_epi32(_mm512_set1_epi32(za), p.col_sums);
    let f = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc, comp));
    let s = _mm512_mul_ps(_mm512_set1_ps(sa), p.col_scales);
    let mut v = _mm512_mul_ps(_mm512_mul_ps(f, s), alpha);
    // SAFETY (all masked accesses below): row `i`, valid columns of the panel.
    let cp = unsafe { d.c.add(i * d.ldc + p.off) };
    if d.load_c {
        v = _mm512_add_ps(v, unsafe { _mm512_maskz_loadu_ps(p.mask, cp) });
    }
    if let Some(bias) = p.col_bias {
        v = _mm512_add_ps(v, bias);
    }
    if !d.row_bias.is_null() {
        v = _mm512_add_ps(v, _mm512_set1_ps(unsafe { *d.row_bias.add(i) }));
    }
    if !d.residual.is_null() {
        v = _mm512_add_ps(v, unsafe {
            _mm512_maskz_loadu_ps(p.mask, d.residual.add(i * d.ld_res + p.off))
        });
    }
    v = activate(v, act);
    // Whole panels store unmasked: masked stores are slow on some CPUs (Zen 4).
    if p.mask == 0xffff {
        unsafe { _mm512_storeu_ps(cp, v) };
    } else {
        unsafe { _mm512_mask_storeu_ps(cp, p.mask, v) };
    }
}

/// Writes the accumulators of an `MR`-row tile with `n` valid columns (`≤ NP·16`): raw i32 or
/// through the dequantize epilogue (also used by the AMX kernel, which keeps its accumulators in
/// tile registers and reloads them 8 rows at a time).
///
/// # Safety
/// `out` satisfies the [`Tile8`] output contract for `MR` rows and `n` columns; the CPU has
/// AVX-512 F/BW/VL.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,fma")]
pub(crate) unsafe fn store_tile<const MR: usize, const NP: usize>(
    out: &TileOut,
    n: usize,
    acc: &[[__m512i; NP]; MR],
) {
    for q in 0..NP {
        let valid = n.saturating_sub(q * PANEL).min(PANEL);
        if valid == 0 {
            continue;
        }
        let mask = tail_mask(valid);
        match out {
            TileOut::Raw { c, ldc } => {
                for (i, row) in acc.iter().enumerate() {
                    // SAFETY: masked store to the valid columns of C row `i`.
                    unsafe { _mm512_mask_storeu_epi32(c.add(i * ldc + q * PANEL), mask, row[q]) };
                }
            }
            TileOut::Dequant(d) => {
                // SAFETY: forwarded tile contract (panel `q`, row `i` of the tile).
                let panel = unsafe { PanelParams::load(d, q, mask) };
                let alpha = _mm512_set1_ps(d.alpha);
                for (i, row) in acc.iter().enumerate() {
                    unsafe { dequant_store(d, &panel, alpha, i, row[q], d.act) };
                }
            }
        }
    }
}
