//! Portable integer microkernel: up to 4 rows × 16 columns of scalar i32 multiply-adds over the
//! packed layout (the compiler may vectorise the 16-wide inner loop with baseline SIMD).

use super::pack::{GROUP_BYTES, PANEL};
use super::tile::{MicroKernel8, NextBlockPrefetch, Tile8, TileFn8, TileOut};

pub(crate) static KERNEL: MicroKernel8 = MicroKernel8 {
    mr: 4,
    np: 1,
    select,
    next_block: NextBlockPrefetch::Burst,
    runs_row_tiles: false,
    unit_macs: super::driver::UNIT_MACS,
};

fn select(rows: usize, _panels: usize) -> TileFn8 {
    match rows {
        1 => tile::<1>,
        2 => tile::<2>,
        3 => tile::<3>,
        _ => tile::<4>,
    }
}

/// # Safety
/// The [`Tile8`] contract holds (no CPU feature needed).
unsafe fn tile<const MR: usize>(t: &Tile8) {
    let mut acc = [[0i32; PANEL]; MR];
    if t.k4 > 0 {
        // SAFETY: the B panel holds `k4` groups of 64 bytes.
        let b = unsafe { std::slice::from_raw_parts(t.b, t.k4 * GROUP_BYTES) };
        let rows: [&[u8]; MR] = std::array::from_fn(|i| {
            // SAFETY: row `i < rows` of A holds `4·k4` readable bytes at `a + i*lda`.
            unsafe { std::slice::from_raw_parts(t.a.add(i * t.lda), t.k4 * 4) }
        });
        for (g, group) in b.chunks_exact(GROUP_BYTES).enumerate() {
            // Transpose the group once (shared by all rows) so the inner loop runs over 16
            // contiguous columns and vectorises.
            let mut w = [[0i32; PANEL]; 4];
            for (j, w4) in group.chunks_exact(4).enumerate() {
                for (t, &v) in w4.iter().enumerate() {
                    w[t][j] = v as i32;
                }
            }
            for (row, a) in acc.iter_mut().zip(&rows) {
                for (t, wt) in w.iter().enumerate() {
                    let av = a[4 * g + t] as i32;
                    for (c, &wv) in row.iter_mut().zip(wt) {
                        // Exact: |acc| ≤ k·255·127 < 2³¹ for k ≤ K_MAX (checked by the entry points).
                        *c += av * wv;
                    }
                }
            }
        }
    }
    match &t.out {
        TileOut::Raw { c, ldc } => {
            for (i, row) in acc.iter().enumerate() {
                for (j, &v) in row.iter().enumerate().take(t.n) {
                    // SAFETY: `(i, j)` is inside the C tile.
                    unsafe { *c.add(i * ldc + j) = v };
                }
            }
        }
        TileOut::Dequant(d) => {
            for (i, row) in acc.iter().enumerate() {
                for (j, &v) in row.iter().enumerate().take(t.n) {
                    // SAFETY: `(i, j)` is inside the tile, so every epilogue pointer is readable
                    // there and the C element writable.
                    unsafe { *d.c.add(i * d.ldc + j) = d.scalar(i, j, v) };
                }
            }
        }
    }
}
