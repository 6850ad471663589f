//! Symmetric per-output-channel s8 weights in the packed layout of the integer microkernels.
//!
//! **Quantization** ([`quantize_pack_b_s8`]): column `j` of the `k × n` weight matrix gets
//! `scale_j = max_kk |W[kk, j]| / 127` (`1.0` for an all-zero column) and
//! `q = clamp(round_half_even(W / scale_j), −127, 127)`; the zero point is 0.
//!
//! Why `−127..=127` and never `−128`: the range is symmetric, so `±max|w|` map to `±127`
//! exactly; and it bounds every product by `255·127`, which keeps the i32 accumulators exact for
//! `k ≤ K_MAX` (`65536·255·127 < 2³¹`). For the AVX2 path the relevant bound is per
//! instruction: it does *not* use `vpmaddubsw`, whose i16 pair sums saturate
//! (`2·255·127 = 64770 > 32767`); it widens both operands to i16 and uses `vpmaddwd`, whose pair
//! sums are at most `2·255·127 = 64770` in magnitude — far inside i32 — and whose single
//! saturating case (both pairs `−32768·−32768`) cannot occur with inputs in `−127..=255`.
//! [`pack_b_s8`] rejects `−128` so packed data always satisfies these bounds.
//!
//! **Layout** (ISA-independent, a plan packed once runs on every path): k is split into groups
//! of 4 (`k4 = ceil(k/4)`), n into panels of 16 columns (`np = ceil(n/16)`). Panel `p` is
//! `k4 × 64` bytes, group-major; inside a group the 4 k-values of each column are adjacent:
//! `data[p·k4·64 + g·64 + j·4 + t] = q[4g + t, 16p + j]`, zero where `4g + t ≥ k` or
//! `16p + j ≥ n`. One 64-byte group is exactly one `vpdpbusd` zmm operand (16 columns × 4 k).
//! `col_sums[j] = Σ_kk q[kk, j]` and `scales[j]`, both padded with zeros to `np·16` entries.

use crate::error::{bad_shape, check_len, strided_extent, Result};

/// Columns per packed panel.
pub const PANEL: usize = 16;
/// Bytes of one k-group of one panel (16 columns × 4 k).
pub const GROUP_BYTES: usize = 64;

/// Length in bytes of packed `k × n` s8 weights; `None` on overflow.
pub fn packed_b8_len(k: usize, n: usize) -> Option<usize> {
    n.div_ceil(PANEL)
        .checked_mul(k.div_ceil(4))?
        .checked_mul(GROUP_BYTES)
}

/// Length of the padded `col_sums` / `scales` vectors for `n` columns; `None` on overflow.
pub fn packed_cols_len(n: usize) -> Option<usize> {
    n.checked_next_multiple_of(PANEL)
}

/// Bytes of packed `k × n` s8 weights as a plan stores them: the data ([`packed_b8_len`]), then
/// [`packed_cols_len`] i32 column sums and as many f32 scales. Every part is a multiple of 64
/// bytes, so each stays 64-byte aligned. `None` on overflow.
pub fn packed_b8_bytes(k: usize, n: usize) -> Option<usize> {
    packed_b8_len(k, n)?.checked_add(packed_cols_len(n)?.checked_mul(8)?)
}

/// `(packed_b8_len(k, n), packed_cols_len(n))`, or an error naming `what` on overflow.
fn packed_lens(what: &'static str, k: usize, n: usize) -> Result<(usize, usize)> {
    packed_b8_len(k, n)
        .zip(packed_cols_len(n))
        .ok_or_else(|| bad_shape(what, format!("k {k} × n {n} overflows usize")))
}

/// Owned packed s8 weights (see the module docs for the layout).
#[derive(Clone, Debug, PartialEq)]
pub struct PackedB8 {
    k: usize,
    n: usize,
    data: Vec<i8>,
    col_sums: Vec<i32>,
    scales: Vec<f32>,
}

impl PackedB8 {
    /// Borrowed view used by the GEMM entry points.
    pub fn as_ref(&self) -> PackedB8Ref<'_> {
        PackedB8Ref {
            k: self.k,
            n: self.n,
            data: &self.data,
            col_sums: &self.col_sums,
            scales: &self.scales,
        }
    }
    pub fn k(&self) -> usize {
        self.k
    }
    pub fn n(&self) -> usize {
        self.n
    }
    /// Packed weight bytes (`packed_b8_len(k, n)`).
    pub fn data(&self) -> &[i8] {
        &self.data
    }
    /// Per-column sums of the s8 weights (padded to a multiple of 16 with zeros).
    pub fn col_sums(&self) -> &[i32] {
        &self.col_sums
    }
    /// Per-column dequantization scales (padded to a multiple of 16 with zeros).
    pub fn scales(&self) -> &[f32] {
        &self.scales
    }
    /// The quantized weight `q[kk, j]` (reads the packed layout; for tests and reports).
    pub fn get(&self, kk: usize, j: usize) -> Option<i8> {
        (kk < self.k && j < self.n).then(|| self.data[index(self.k, kk, j)])
    }
}

/// Position of `q[kk, j]` in the packed data.
fn index(k: usize, kk: usize, j: usize) -> usize {
    (j / PANEL) * k.div_ceil(4) * GROUP_BYTES + (kk / 4) * GROUP_BYTES + (j % PANEL) * 4 + kk % 4
}

/// A borrowed packed s8 weight matrix (e.g. pointing into a plan file).
#[derive(Clone, Copy, Debug)]
pub struct PackedB8Ref<'a> {
    k: usize,
    n: usize,
    data: &'a [i8],
    col_sums: &'a [i32],
    scales: &'a [f32],
}

impl<'a> PackedB8Ref<'a> {
    /// Validates externally stored packed weights: lengths, no `−128`, zero padding, and column
    /// sums that match the data (one pass over the bytes; do it once at load).
    pub fn new(
        k: usize,
        n: usize,
        data: &'a [i8],
        col_sums: &'a [i32],
        scales: &'a [f32],
    ) -> Result<Self> {
        let (dl, cl) = packed_lens("packed s8 weights", k, n)?;
        check_len("packed s8 weights", data.len(), dl)?;
        check_len("packed s8 column sums", col_sums.len(), cl)?;
        check_len("packed s8 scales", scales.len(), cl)?;
        let k4 = k.div_ceil(4);
        let mut sums = vec![0i32; cl];
        // `max(1)`: with k = 0 there is no data (and so no panel), only zero sums to check.
        for (p, panel) in data[..dl]
            .chunks_exact((k4 * GROUP_BYTES).max(1))
            .enumerate()
        {
            for (g, group) in panel.chunks_exact(GROUP_BYTES).enumerate() {
                for (idx, &v) in group.iter().enumerate() {
                    let (j, kk) = (p * PANEL + idx / 4, g * 4 + idx % 4);
                    if v == i8::MIN {
                        return Err(bad_shape(
                            "packed s8 weights",
                            format!("value -128 at k {kk}, column {j} (range is -127..=127)"),
                        ));
                    }
                    if (j >= n || kk >= k) && v != 0 {
                        return Err(bad_shape(
                            "packed s8 weights",
                            format!("padding at k {kk}, column {j} is {v}, not 0"),
                        ));
                    }
                    sums[p * PANEL + idx / 4] += v as i32;
                }
            }
        }
        if let Some(j) = (0..sums.len()).find(|&j| sums[j] != col_sums[j]) {
            return Err(bad_shape(
                "packed s8 column sums",
                format!(
                    "column {j} sum is {} but the weights sum to {}",
                    col_sums[j], sums[j]
                ),
            ));
        }
        Ok(PackedB8Ref {
            k,
            n,
            data,
            col_sums,
            scales,
        })
    }
    /// Borrows packed weights whose values were already checked once with [`PackedB8Ref::new`]
    /// (e.g. when a plan is loaded), so a run pays nothing per call: only the lengths are checked.
    /// Weights that would fail `new` cannot make the kernels read out of bounds, only compute
    /// wrong results.
    pub fn from_checked_parts(
        k: usize,
        n: usize,
        data: &'a [i8],
        col_sums: &'a [i32],
        scales: &'a [f32],
    ) -> Result<Self> {
        let (dl, cl) = packed_lens("packed s8 weights", k, n)?;
        check_len("packed s8 weights", data.len(), dl)?;
        check_len("packed s8 column sums", col_sums.len(), cl)?;
        check_len("packed s8 scales", scales.len(), cl)?;
        Ok(PackedB8Ref {
            k,
            n,
            data,
            col_sums,
            scales,
        })
    }
    pub fn k(&self) -> usize {
        self.k
    }
    pub fn n(&self) -> usize {
        self.n
    }
    pub fn data(&self) -> &'a [i8] {
        self.data
    }
    pub fn col_sums(&self) -> &'a [i32] {
        self.col_sums
    }
    pub fn scales(&self) -> &'a [f32] {
        self.scales
    }
}

/// Element accessor for a `k × n` matrix stored row-major (`W[kk, j] = w[kk*ld + j]`) or
/// transposed (`W[kk, j] = w[j*ld + kk]`, the `nn.Linear` / `Gemm(transB=1)` layout).
fn checked_index(
    what: &'static str,
    k: usize,
    n: usize,
    len: usize,
    ld: usize,
    transposed: bool,
) -> Result<impl Fn(usize, usize) -> usize> {
    let min_ld = if transposed { k } else { n };
    if ld < min_ld && k > 0 && n > 0 {
        return Err(bad_shape(
            what,
            format!("ld {ld} is smaller than the row length {min_ld}"),
        ));
    }
    let (rs, cs) = if transposed { (1, ld) } else { (ld, 1) };
    let need = strided_extent(&[k, n], &[rs, cs]).ok_or_else(|| bad_shape(what, "overflow"))?;
    check_len(what, len, need)?;
    Ok(move |kk: usize, j: usize| kk * rs + j * cs)
}

/// Quantizes f32 weights `W (k × n)` symmetrically per column and packs them (module docs).
/// Non-finite weights are refused (they have no meaningful scale).
pub fn quantize_pack_b_s8(
    k: usize,
    n: usize,
    w: &[f32],
    ld: usize,
    transposed: bool,
) -> Result<PackedB8> {
    let at = checked_index("quantize_pack_b_s8 input", k, n, w.len(), ld, transposed)?;
    let (dl, cl) = packed_lens("quantize_pack_b_s8 output", k, n)?;
    let mut scales = vec![0f32; cl];
    for (j, s) in scales.iter_mut().enumerate().take(n) {
        let mut amax = 0f32;
        for kk in 0..k {
            let v = w[at(kk, j)];
            if !v.is_finite() {
                return Err(bad_shape(
                    "quantize_pack_b_s8 input",
                    format!("weight at k {kk}, column {j} is {v}"),
                ));
            }
            amax = amax.max(v.abs());
        }
        *s = if amax == 0.0 { 1.0 } else { amax / 127.0 };
    }
    Ok(pack_with(
        k,
        n,
        dl,
        |kk, j| {
            (w[at(kk, j)] / scales[j])
                .round_ties_even()
                .clamp(-127.0, 127.0) as i8
        },
        scales.clone(),
    ))
}

/// Packs already-quantized s8 weights (values in `−127..=127`, `−128` is refused) with their
/// per-column `scales` (`len ≥ n`).
pub fn pack_b_s8(
    k: usize,
    n: usize,
    q: &[i8],
    ld: usize,
    transposed: bool,
    scales: &[f32],
) -> Result<PackedB8> {
    let at = checked_index("pack_b_s8 input", k, n, q.len(), ld, transposed)?;
    check_len("pack_b_s8 scales", scales.len(), n)?;
    for j in 0..n {
        for kk in 0..k {
            if q[at(kk, j)] == i8::MIN {
                return Err(bad_shape(
                    "pack_b_s8 input",
                    format!("value -128 at k {kk}, column {j} (range is -127..=127)"),
                ));
            }
        }
    }
    let (dl, cl) = packed_lens("pack_b_s8 output", k, n)?;
    let mut padded = vec![0f32; cl];
    padded[..n].copy_from_slice(&scales[..n]);
    Ok(pack_with(k, n, dl, |kk, j| q[at(kk, j)], padded))
}

/// Packs `get(kk, j)` into `data_len` bytes (`packed_b8_len(k, n)`), with `scales` already
/// padded to `packed_cols_len(n)`.
fn pack_with(
    k: usize,
    n: usize,
    data_len: usize,
    get: impl Fn(usize, usize) -> i8,
    scales: Vec<f32>,
) -> PackedB8 {
    let mut data = vec![0i8; data_len];
    let mut col_sums = vec![0i32; scales.len()];
    for (j, sum) in col_sums.iter_mut().enumerate().take(n) {
        for kk in 0..k {
            let v = get(kk, j);
            data[index(k, kk, j)] = v;
            *sum += v as i32;
        }
    }
    PackedB8 {
        k,
        n,
        data,
        col_sums,
        scales,
    }
}
