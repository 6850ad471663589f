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

/// Length in floats of a packed `k × n` B matrix.
pub fn packed_b_len(k: usize, n: usize) -> usize {
    n.div_ceil(B_PANEL) * B_PANEL * k
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
                row[..w].copy_from_slice(&mat.data[s..s + w]);
                row[w..].fill(0.0);
            }
        } else {
            if w < B_PANEL {
                panel.fill(0.0);
            }
            for j in 0..w {
                let col = (jb + j) * cs;
                for kk in 0..kc {
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
                col[..h].copy_from_slice(&mat.data[s..s + h]);
                col[h..].fill(0.0);
            }
        } else {
            if h < A_PANEL {
                panel.fill(0.0);
            }
            for i in 0..h {
                let row = &mat.data[(ib + i) * rs..];
                if cs == 1 {
                    for (kk, &v) in row[k0..k0 + kc].iter().enumerate() {
                        panel[kk * A_PANEL + i] = v;
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

#[cfg(test)]
mod tests {
    use super::*;

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
