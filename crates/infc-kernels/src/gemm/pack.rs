//! Packing of GEMM operands into the ISA-independent panel formats the microkernels read.
//!
//! **Packed B** (`k × n`, e.g. weights, packed once at compile time): panels of
//! [`B_PANEL`](super::B_PANEL) = 16 columns. Panel `p` covers columns `16p .. 16p+16` and is `k × 16`
//! floats, k-major: `panel[kk*16 + j] = B[kk, 16p + j]`, zero where `16p + j ≥ n`. Panels follow
//! each other: panel `p` starts at `p * k * 16`. Total length [`packed_b_len`] `= ceil(n/16)·16·k`.
//! No header; `k` and `n` travel beside the buffer.
//!
//! **Packed A** (`m × k`, e.g. conv weights): panels of [`A_PANEL`](super::A_PANEL) = 12 rows.
//! Panel `q` covers rows `12q .. 12q+12` and is `k × 12` floats, k-major:
//! `panel[kk*12 + i] = A[12q + i, kk]`, zero where `12q + i ≥ m`; panel `q` starts at `q * k * 12`.
//! Total length [`packed_a_len`] `= ceil(m/12)·12·k`.
//!
//! Both layouts allow slicing a k-range `[k0, k0+kc)` without repacking (offset `k0*16` / `k0*12`
//! inside each panel), which is how cache blocking over k reads them. Every ISA's microkernel reads
//! the same layout (AVX-512 takes two B panels per tile, AVX2 and portable one; AVX2 takes a 6-row
//! half of an A panel, portable a 4-row third), so a plan packed once runs on any x86-64.

use super::{MatRef, A_PANEL, B_PANEL};
use crate::error::{bad_shape, check_len, Result};

/// Length in floats of a packed `k × n` B matrix, `None` when it exceeds `usize` (for sizes read
/// from a plan).
pub fn packed_b_len_checked(k: usize, n: usize) -> Option<usize> {
    n.checked_next_multiple_of(B_PANEL)?.checked_mul(k)
}

/// Length in floats of a packed `k × n` B matrix: [`packed_b_len_checked`], saturating at
/// `usize::MAX` (which no buffer holds, so a length check against it fails instead of wrapping).
pub fn packed_b_len(k: usize, n: usize) -> usize {
    packed_b_len_checked(k, n).unwrap_or(usize::MAX)
}

/// Length in floats of a packed `m × k` A matrix.
pub fn packed_a_len(m: usize, k: usize) -> usize {
    m.div_ceil(A_PANEL) * A_PANEL * k
}

/// Packs a `k × n` matrix B into the packed-B layout (see the module docs).
///
/// `transposed == false`: `B[kk, j] = b[kk*ldb + j]` (row-major `k × n`, `ldb ≥ n`).
/// `transposed == true`: `b` holds Bᵀ row-major (`n × k`), `B[kk, j] = b[j*ldb + kk]` (`ldb ≥ k`),
/// the layout of ONNX `Gemm(transB=1)` weights and `nn.Linear`.
pub fn pack_b(
    k: usize,
    n: usize,
    b: &[f32],
    ldb: usize,
    transposed: bool,
    out: &mut [f32],
) -> Result<()> {
    let mat = if transposed {
        MatRef::col_major(b, ldb)
    } else {
        MatRef::row_major(b, ldb)
    };
    let min_ld = if transposed { k } else { n };
    if ldb < min_ld && k > 0 && n > 0 {
        return Err(bad_shape(
            "pack_b",
            format!("ldb {ldb} is smaller than the row length {min_ld}"),
        ));
    }
    mat.check("pack_b input", k, n)?;
    check_len("pack_b output", out.len(), packed_b_len(k, n))?;
    pack_b_block(&mat, 0, k, 0, n, out);
    Ok(())
}

/// Packs an `m × k` matrix A into the packed-A layout (see the module docs).
///
/// `transposed == false`: `A[i, kk] = a[i*lda + kk]` (`lda ≥ k`); `true`: `a` holds Aᵀ row-major,
/// `A[i, kk] = a[kk*lda + i]` (`lda ≥ m`).
pub fn pack_a(
    m: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    transposed: bool,
    out: &mut [f32],
) -> Result<()> {
    let mat = if transposed {
        MatRef::col_major(a, lda)
    } else {
        MatRef::row_major(a, lda)
    };
    let min_ld = if transposed { m } else { k };
    if lda < min_ld && k > 0 && m > 0 {
        return Err(bad_shape(
            "pack_a",
            format!("lda {lda} is smaller than the row length {min_ld}"),
        ));
    }
    mat.check("pack_a input", m, k)?;
    check_len("pack_a output", out.len(), packed_a_len(m, k))?;
    pack_a_block(&mat, 0, m, 0, k, out);
    Ok(())
}

/// Packs rows `k0..k0+kc` × columns `j0..j0+nc` of `mat` into `ceil(nc/16)` B panels of `kc × 16`.
/// The caller has checked that the block lies inside `mat` and `out` holds
/// `packed_b_len(kc, nc)` floats.
pub(crate) fn pack_b_block(
    mat: &MatRef<'_>,
    k0: usize,
    kc: usize,
    j0: usize,
    nc: usize,
    out: &mut [f32],
) {
    if kc == 0 {
        return;
    }
    let (rs, cs) = (mat.row_stride, mat.col_stride);
    for (p, panel) in out[..packed_b_len(kc, nc)]
        .chunks_exact_mut(kc * B_PANEL)
        .enumerate()
    {
        let jb = j0 + p * B_PANEL;
        let w = (nc - p * B_PANEL).min(B_PANEL);
        if cs == 1 {
            for (kk, row) in panel.chunks_exact_mut(B_PANEL).enumerate() {
                let s = (k0 + kk) * rs + jb;
                copy_panel_row(row, &mat.data[s..s + w]);
            }
        } else {
            if w < B_PANEL {
                panel.fill(0.0);
            }
            // Column-major B (a transposed operand): 4×4 blocks transposed in registers.
            let (j4, k4) = if rs == 1 {
                transpose_rows_4x4::<B_PANEL>(mat.data, (jb, w), cs, (k0, kc), panel)
            } else {
                (0, 0)
            };
            for j in 0..w {
                let col = (jb + j) * cs;
                let from = if j < j4 { k4 } else { 0 };
                for kk in from..kc {
                    panel[kk * B_PANEL + j] = mat.data[col + (k0 + kk) * rs];
                }
            }
        }
    }
}

/// Packs rows `i0..i0+mc` × columns `k0..k0+kc` of `mat` into `ceil(mc/12)` A panels of `kc × 12`.
/// The caller has checked bounds and that `out` holds `packed_a_len(mc, kc)` floats.
pub(crate) fn pack_a_block(
    mat: &MatRef<'_>,
    i0: usize,
    mc: usize,
    k0: usize,
    kc: usize,
    out: &mut [f32],
) {
    if kc == 0 {
        return;
    }
    let (rs, cs) = (mat.row_stride, mat.col_stride);
    for (q, panel) in out[..packed_a_len(mc, kc)]
        .chunks_exact_mut(kc * A_PANEL)
        .enumerate()
    {
        let ib = i0 + q * A_PANEL;
        let h = (mc - q * A_PANEL).min(A_PANEL);
        if rs == 1 {
            for (kk, col) in panel.chunks_exact_mut(A_PANEL).enumerate() {
                let s = (k0 + kk) * cs + ib;
                copy_panel_row(col, &mat.data[s..s + h]);
            }
        } else {
            if h < A_PANEL {
                panel.fill(0.0);
            }
            // Row-major A: 4×4 blocks transposed in registers, the rest one by one.
            let (i4, k4) = if cs == 1 {
                transpose_rows_4x4::<A_PANEL>(mat.data, (ib, h), rs, (k0, kc), panel)
            } else {
                (0, 0)
            };
            for i in 0..h {
                let row = &mat.data[(ib + i) * rs..];
                if cs == 1 {
                    // Rows below `i4` were packed up to column `k4` already.
                    let from = if i < i4 { k4 } else { 0 };
                    for (kk, &v) in row[k0 + from..k0 + kc].iter().enumerate() {
                        panel[(from + kk) * A_PANEL + i] = v;
                    }
                } else {
                    for kk in 0..kc {
                        panel[kk * A_PANEL + i] = row[(k0 + kk) * cs];
                    }
                }
            }
        }
    }
}

/// `dst[..src.len()] = src`, zeros after: one panel row (a fixed-size move when full, so a
/// 16-float row is a register copy, not a `memcpy` call).
#[inline(always)]
fn copy_panel_row(dst: &mut [f32], src: &[f32]) {
    match (
        <&mut [f32; B_PANEL]>::try_from(&mut *dst),
        <&[f32; B_PANEL]>::try_from(src),
    ) {
        (Ok(d), Ok(s)) => *d = *s,
        _ => match (
            <&mut [f32; A_PANEL]>::try_from(&mut *dst),
            <&[f32; A_PANEL]>::try_from(src),
        ) {
            (Ok(d), Ok(s)) => *d = *s,
            _ => {
                dst[..src.len()].copy_from_slice(src);
                dst[src.len()..].fill(0.0);
            }
        },
    }
}

/// Packs the first `i4 = 4·⌊h/4⌋` rows × `k4 = 4·⌊kc/4⌋` columns of a row-major block (rows
/// `ib..ib+h` at stride `rs`, columns `k0..k0+kc`) into `panel` (`panel[kk*W + i]`, `W` the panel
/// width: an A panel's rows, or a B panel's columns when B is read transposed), one 4×4 register
/// transpose per block instead of sixteen scalar stores. Returns `(i4, k4)`; the caller packs the
/// rest. Off x86-64 it packs nothing.
fn transpose_rows_4x4<const W: usize>(
    data: &[f32],
    (ib, h): (usize, usize),
    rs: usize,
    (k0, kc): (usize, usize),
    panel: &mut [f32],
) -> (usize, usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        let (i4, k4) = (h / 4 * 4, kc / 4 * 4);
        for i in (0..i4).step_by(4) {
            let row = |r: usize| &data[(ib + i + r) * rs + k0..][..k4];
            let rows = [row(0), row(1), row(2), row(3)];
            for kk in (0..k4).step_by(4) {
                // SAFETY: each `rows[r][kk..kk + 4]` and `panel[(kk + c)*W + i..][..4]` is a
                // bounds-checked slice of 4 floats; SSE is part of the x86-64 baseline.
                unsafe {
                    let [a, b, c, d] = rows.map(|r| _mm_loadu_ps(r[kk..kk + 4].as_ptr()));
                    let (t0, t1) = (_mm_unpacklo_ps(a, b), _mm_unpacklo_ps(c, d));
                    let (t2, t3) = (_mm_unpackhi_ps(a, b), _mm_unpackhi_ps(c, d));
                    let cols = [
                        _mm_movelh_ps(t0, t1),
                        _mm_movehl_ps(t1, t0),
                        _mm_movelh_ps(t2, t3),
                        _mm_movehl_ps(t3, t2),
                    ];
                    for (c, v) in cols.into_iter().enumerate() {
                        let dst = &mut panel[(kk + c) * W + i..][..4];
                        _mm_storeu_ps(dst.as_mut_ptr(), v);
                    }
                }
            }
        }
        (i4, k4)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (data, ib, h, rs, k0, kc, panel);
        (0, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Row-major blocks of every height and width around the 4×4 transpose's edges, at a k offset
    /// and a row stride wider than the block, pack exactly as the element-wise definition says.
    #[test]
    fn row_major_a_blocks_pack_like_the_definition() {
        let (rows, ld) = (30, 23);
        let data: Vec<f32> = (0..rows * ld).map(|v| v as f32 * 0.5 - 7.0).collect();
        let mat = MatRef::row_major(&data, ld);
        for (i0, mc) in [(0, 12), (1, 11), (2, 7), (0, 24), (5, 3), (6, 22), (0, 1)] {
            for (k0, kc) in [(0, 16), (3, 13), (1, 4), (2, 3), (0, 23), (7, 9)] {
                let mut out = vec![f32::NAN; packed_a_len(mc, kc)];
                pack_a_block(&mat, i0, mc, k0, kc, &mut out);
                for (q, panel) in out.chunks_exact(kc * A_PANEL).enumerate() {
                    for kk in 0..kc {
                        for i in 0..A_PANEL {
                            let r = q * A_PANEL + i;
                            let want = if r < mc {
                                data[(i0 + r) * ld + k0 + kk]
                            } else {
                                0.0
                            };
                            let got = panel[kk * A_PANEL + i];
                            assert_eq!(got, want, "rows {i0}+{mc} cols {k0}+{kc} at {kk},{r}");
                        }
                    }
                }
            }
        }
    }

    /// B blocks read transposed (column-major, as attention packs `kᵀ`) and row-major, of every
    /// width around the 4×4 transpose's and the panel's edges, at offsets, pack exactly as the
    /// element-wise definition says (zeros past the block's columns).
    #[test]
    fn b_blocks_pack_like_the_definition_in_both_layouts() {
        let (cols, ld) = (40, 27);
        let data: Vec<f32> = (0..cols * ld).map(|v| v as f32 * 0.25 - 9.0).collect();
        for col_major in [true, false] {
            let mat = if col_major {
                MatRef::col_major(&data, ld)
            } else {
                MatRef::row_major(&data, ld)
            };
            let at = |kk: usize, j: usize| data[kk * mat.row_stride + j * mat.col_stride];
            for (j0, nc) in [(0, 16), (1, 15), (2, 7), (0, 32), (5, 3), (3, 21), (0, 1)] {
                for (k0, kc) in [(0, 16), (3, 13), (1, 4), (2, 3), (0, 24), (7, 9)] {
                    let mut out = vec![f32::NAN; packed_b_len(kc, nc)];
                    pack_b_block(&mat, k0, kc, j0, nc, &mut out);
                    for (p, panel) in out.chunks_exact(kc * B_PANEL).enumerate() {
                        for kk in 0..kc {
                            for j in 0..B_PANEL {
                                let c = p * B_PANEL + j;
                                let want = if c < nc { at(k0 + kk, j0 + c) } else { 0.0 };
                                let got = panel[kk * B_PANEL + j];
                                let what = format!("col-major {col_major} cols {j0}+{nc}");
                                assert_eq!(got, want, "{what} rows {k0}+{kc} at {kk},{c}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn pack_b_layout_is_panel_major_and_zero_padded() {
        let (k, n) = (3, 18);
        let b: Vec<f32> = (0..k * n).map(|v| v as f32).collect();
        let mut out = vec![f32::NAN; packed_b_len(k, n)];
        pack_b(k, n, &b, n, false, &mut out).unwrap();
        assert_eq!(out.len(), 2 * 16 * 3);
        for kk in 0..k {
            for j in 0..32 {
                let got = out[(j / 16) * k * 16 + kk * 16 + j % 16];
                let want = if j < n { b[kk * n + j] } else { 0.0 };
                assert_eq!(got, want, "kk {kk} j {j}");
            }
        }
        // Transposed input gives the same packing.
        let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        let mut out_t = vec![f32::NAN; packed_b_len(k, n)];
        pack_b(k, n, &bt, k, true, &mut out_t).unwrap();
        assert_eq!(out, out_t);
    }

    #[test]
    fn pack_a_layout_and_transpose_agree() {
        let (m, k) = (14, 5);
        let a: Vec<f32> = (0..m * k).map(|v| v as f32 + 1.0).collect();
        let mut out = vec![f32::NAN; packed_a_len(m, k)];
        pack_a(m, k, &a, k, false, &mut out).unwrap();
        for i in 0..24 {
            for kk in 0..k {
                let got = out[(i / 12) * k * 12 + kk * 12 + i % 12];
                let want = if i < m { a[i * k + kk] } else { 0.0 };
                assert_eq!(got, want);
            }
        }
        let at: Vec<f32> = (0..m * k).map(|idx| a[(idx % m) * k + idx / m]).collect();
        let mut out_t = vec![f32::NAN; packed_a_len(m, k)];
        pack_a(m, k, &at, m, true, &mut out_t).unwrap();
        assert_eq!(out, out_t);
    }

    #[test]
    fn pack_rejects_short_buffers() {
        let b = vec![0.0; 10];
        let mut out = vec![0.0; packed_b_len(2, 5)];
        assert!(pack_b(3, 5, &b, 5, false, &mut out).is_err());
        assert!(pack_b(2, 5, &b, 5, false, &mut out[..10]).is_err());
        assert!(pack_b(2, 5, &b, 4, false, &mut out).is_err());
        let mut outa = vec![0.0; packed_a_len(2, 5)];
        assert!(pack_a(2, 5, &b, 5, false, &mut outa).is_ok());
        assert!(pack_a(3, 5, &b, 5, false, &mut outa).is_err());
    }
}
