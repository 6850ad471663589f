//! Portable integer microkernel: up to 4 rows × 16 columns of scalar i32 multiply-adds over the
//! packed layout (the compiler may vectorise the 16-wide inner loop with baseline SIMD).

use super::pack::{GROUP_BYTES, PANEL};
use super::tile::{MicroKernel8, Tile8, TileFn8, TileOut};

pub(crate) static KERNEL: MicroKernel8 = MicroKernel8 { mr: 4, np: 1, select };

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
        for (i, row) in acc.iter_mut().enumerate() {
            // SAFETY: row `i < rows` of A holds `4·k4` readable bytes at `a + i*lda`.
            let a = unsafe { std::slice::from_raw_parts(t.a.add(i * t.lda), t.k4 * 4) };
            for (a4, group) in a.chunks_exact(4).zip(b.chunks_exact(GROUP_BYTES)) {
                for (c, w4) in row.iter_mut().zip(group.chunks_exact(4)) {
                    let dot: i32 = a4.iter().zip(w4).map(|(&x, &w)| x as i32 * w as i32).sum();
                    // Exact: |acc| ≤ k·255·127 < 2³¹ for k ≤ K_MAX (checked by the entry points).
                    *c += dot;
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
