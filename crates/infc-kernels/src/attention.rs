//! Fused multi-head attention: `y[b, i, h·d..] = softmax(scale·q_h k_hᵀ + mask (+ causal)) · v_h`,
//! with q/k/v read as strided per-head views of their `[batch, seq, heads·d]` buffers, so the head
//! split/merge transposes never exist. Their rows may be further apart than `heads·d`
//! ([`AttentionShape::row_strides`]): q, k and v can be column ranges of one fused QKV projection
//! output, so its Split never copies.
//!
//! Schedule, in two phases of one claiming region (`crate::claim`) over one caller-provided
//! scratch buffer ([`attention_scratch_len`] floats, nothing allocated):
//! 1. per (batch, head): pack `k_hᵀ` (`d × sk`) and `v_h` (`sk × d`) once into packed-B panels, so
//!    the GEMMs below never repack them (packing per query block was most of the old step's time);
//! 2. per (batch, block of query rows), every head: the score GEMM against packed `k_hᵀ`, mask add,
//!    causal limit and a vectorised row softmax, then the GEMM against packed `v_h` into the head's
//!    columns of `y`. A task owns its rows of `y` and its rows of the score scratch, so tasks never
//!    share a byte. Under a causal mask a block only computes the keys its last row can see
//!    (half the work for a full-sequence GPT-2 pass).
//!
//! With [`AttentionShape::bf16`] on a CPU with AVX512-BF16 both GEMMs take bf16 inputs with f32
//! accumulation (`bf16`); elsewhere the flag is ignored and everything stays f32.

use crate::claim::{self, Phase, SharedMut};
use crate::error::{bad_shape, check_len, strided_extent, Result};
use crate::gemm::{
    pack_b, packed_b_len, packed_b_len_checked, sgemm, AOperand, BOperand, Epilogue, MatRef,
    A_PANEL, B_PANEL,
};
use crate::Isa;
use bf16_tile::Bf16Kernel;
use row_softmax::{masked_softmax_row, RowRule};
use std::sync::Mutex;

/// Sizes and flags of one attention call.
#[derive(Clone, Copy, Debug)]
pub struct AttentionShape {
    pub batch: usize,
    pub heads: usize,
    /// Query rows.
    pub sq: usize,
    /// Key/value rows.
    pub sk: usize,
    /// Head dimension.
    pub d: usize,
    pub scale: f32,
    /// Key `j` is hidden from query `i` when `j > i + sk − sq`: its score is `hidden_fill`
    /// (`+ mask` when `mask_hidden`).
    pub causal: bool,
    /// The score of a causally hidden key: the fill of the mask the graph hid it with
    /// (`f32::MIN` for HuggingFace's combined masks, `−∞` for SDPA's).
    pub hidden_fill: f32,
    /// The additive mask reaches hidden keys too (the graph added it after the causal fill).
    pub mask_hidden: bool,
    /// A row whose softmax is NaN (every score `−∞`, or a NaN or `+∞` score) gives zero
    /// probabilities, as SDPA exports' `Where(IsNaN(p), 0, p)` guard makes it; otherwise NaN.
    pub zero_nan_rows: bool,
    /// Elements between consecutive sequence rows of q, k and v (each `≥ heads·d`; `heads·d` when
    /// dense). `y` is always dense.
    pub row_strides: [usize; 3],
    /// Round q, k, v and the probabilities to bf16 for the two GEMMs (f32 accumulation), where
    /// the CPU has AVX512-BF16 (the compiler sets it for `--int8` plans). bf16 keeps 8 significant
    /// bits (relative rounding error ≤ 2⁻⁹); scores, softmax and output stay f32.
    pub bf16: bool,
}

/// An additive f32 mask read with element strides over `[batch, heads, sq, sk]` (0 = broadcast).
#[derive(Clone, Copy, Debug)]
pub struct AttentionMask<'a> {
    pub data: &'a [f32],
    pub strides: [usize; 4],
}

impl AttentionShape {
    fn row_rule(&self) -> RowRule {
        RowRule {
            fill: self.hidden_fill,
            mask_hidden: self.mask_hidden,
            nan_row: if self.zero_nan_rows { 0.0 } else { f32::NAN },
        }
    }
    fn packed_k_len(&self) -> usize {
        packed_b_len(self.d, self.sk)
    }
    fn packed_v_len(&self) -> usize {
        packed_b_len(self.sk, self.d)
    }
}

/// Floats of scratch [`attention`] needs: packed `k_hᵀ` and `v_h` for every (batch, head), then
/// one `sq × sk` score matrix per batch. `None` on overflow.
pub fn attention_scratch_len(s: &AttentionShape) -> Option<usize> {
    attention_scratch_floats(s.batch, s.heads, s.sq, s.sk, s.d)
}

/// [`attention_scratch_len`] from the sizes alone: per (batch, head) `k_hᵀ` packed as `d × sk`
/// and `v_h` as `sk × d` ([`packed_b_len_checked`]), plus `batch · sq · sk` scores. `None` on
/// overflow.
pub fn attention_scratch_floats(
    batch: usize,
    heads: usize,
    sq: usize,
    sk: usize,
    d: usize,
) -> Option<usize> {
    scratch_floats(packed_b_len_checked(d, sk)?, batch, heads, sq, sk, d)
}

/// An upper bound of [`attention_scratch_floats`] that is a polynomial in the dims: `k_hᵀ`'s
/// packed length rounds `sk` up to whole panels, counted here as `d · (sk + B_PANEL − 1)`. What a
/// range plan's per-shape arena sizes the scratch buffer by (an expression of the sequence
/// length); the kernel and the plan's validation use the exact length. `None` on overflow.
pub fn attention_scratch_floats_bound(
    batch: usize,
    heads: usize,
    sq: usize,
    sk: usize,
    d: usize,
) -> Option<usize> {
    let k_bound = sk.checked_add(B_PANEL - 1)?.checked_mul(d)?;
    scratch_floats(k_bound, batch, heads, sq, sk, d)
}

/// The scratch with `k_len` floats for each packed `k_hᵀ`.
fn scratch_floats(
    k_len: usize,
    batch: usize,
    heads: usize,
    sq: usize,
    sk: usize,
    d: usize,
) -> Option<usize> {
    let per_head = k_len.checked_add(packed_b_len_checked(sk, d)?)?;
    let packs = batch.checked_mul(heads)?.checked_mul(per_head)?;
    let scores = batch.checked_mul(sq)?.checked_mul(sk)?;
    packs.checked_add(scores)
}

/// Fewest query blocks per causal sequence: a block computes the scores of every key its last
/// row sees, so one block per sequence (batch 8 and more on two threads) computed the whole
/// square, twice the triangle's work.
const CAUSAL_BLOCKS_MIN: usize = 8;

/// Query rows per task. Without a causal mask every row costs the same, so each thread gets two
/// equal blocks (whole 12-row panels would leave one thread up to a panel more). Under a causal
/// mask later rows see more keys, so about four tasks per thread of whole panels let claiming
/// even out the costs, and a sequence is cut into about [`CAUSAL_BLOCKS_MIN`] blocks or more
/// (whole panels: 128 rows make six blocks of 24).
fn rows_per_task(batch: usize, sq: usize, causal: bool) -> usize {
    let per_thread = if causal { 4 } else { 2 };
    let tasks_wanted = crate::parallelism::threads() * per_thread;
    let per_batch = tasks_wanted.div_ceil(batch.max(1)).max(1);
    let per_batch = if causal {
        per_batch.max(CAUSAL_BLOCKS_MIN)
    } else {
        per_batch
    };
    let rows = sq.div_ceil(per_batch);
    let rows = if causal {
        rows.next_multiple_of(A_PANEL)
    } else {
        rows
    };
    rows.min(sq.max(1))
}

/// Runs attention (see the module docs). `q`: `batch·sq` rows at `row_strides[0]`; `k`, `v`:
/// `batch·sk` rows at `row_strides[1]`, `row_strides[2]` (each row `heads·d` floats); `y`:
/// `batch·sq·heads·d`; `scratch`: at least [`attention_scratch_len`]. Errors name the buffer at
/// fault; nothing is written to `y` then.
#[allow(clippy::too_many_arguments)]
pub fn attention(
    isa: Isa,
    s: &AttentionShape,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    mask: Option<AttentionMask<'_>>,
    y: &mut [f32],
    scratch: &mut [f32],
) -> Result<()> {
    let bf16 = if s.bf16 {
        Bf16Kernel::detect(isa)
    } else {
        None
    };
    run(isa, bf16, s, q, k, v, mask, y, scratch)
}

/// [`attention`] with the bf16 kernel chosen by the caller (`None`: f32).
#[allow(clippy::too_many_arguments)]
fn run(
    isa: Isa,
    bf16: Option<Bf16Kernel>,
    s: &AttentionShape,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    mask: Option<AttentionMask<'_>>,
    y: &mut [f32],
    scratch: &mut [f32],
) -> Result<()> {
    let (b, h, sq, sk, d) = (s.batch, s.heads, s.sq, s.sk, s.d);
    let overflow = || bad_shape("attention", "sizes overflow usize");
    let hd = h.checked_mul(d).ok_or_else(overflow)?;
    let [ldq, ldk, ldv] = s.row_strides;
    if ldq < hd || ldk < hd || ldv < hd {
        return Err(bad_shape(
            "attention",
            format!("row strides {:?} below heads·d = {hd}", s.row_strides),
        ));
    }
    let extent = |rows: usize, ld: usize| {
        let n = b.checked_mul(rows)?;
        strided_extent(&[n, hd], &[ld, 1])
    };
    let qn = extent(sq, hd).ok_or_else(overflow)?;
    let q_ext = extent(sq, ldq).ok_or_else(overflow)?;
    let k_ext = extent(sk, ldk).ok_or_else(overflow)?;
    let v_ext = extent(sk, ldv).ok_or_else(overflow)?;
    check_len("attention q", q.len(), q_ext)?;
    check_len("attention k", k.len(), k_ext)?;
    check_len("attention v", v.len(), v_ext)?;
    check_len("attention y", y.len(), qn)?;
    let need = attention_scratch_len(s).ok_or_else(overflow)?;
    check_len("attention scratch", scratch.len(), need)?;
    if let Some(m) = mask {
        let ext = strided_extent(&[b, h, sq, sk], &m.strides).ok_or_else(overflow)?;
        check_len("attention mask", m.data.len(), ext)?;
    }
    if qn == 0 {
        return Ok(());
    }
    if sk == 0 {
        // No keys: the scores and probabilities are empty and `P·V` (depth 0) is zero, as the
        // unfused graph computes it.
        y[..qn].fill(0.0);
        return Ok(());
    }
    let (pk, pv) = (s.packed_k_len(), s.packed_v_len());
    let (packs, scores) = scratch[..need].split_at_mut(b * h * (pk + pv));

    let (heads_total, per_head) = (b * h, pk + pv);
    let rows = rows_per_task(b, sq, s.causal);
    let blocks = sq.div_ceil(rows);
    // One claiming region, two phases: (1) pack every head's kᵀ and v once; (2) query blocks.
    let threads = claim::region_threads(heads_total.max(b * blocks));
    let packing = Phase::new(heads_total, threads);
    let querying = Phase::new(b * blocks, threads);
    let first_error = Mutex::new(None);
    let keep_error = |r: Result<()>| {
        if let Err(e) = r {
            first_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert(e);
        }
    };
    let (packs_ptr, scores_ptr) = (
        SharedMut(packs.as_mut_ptr()),
        SharedMut(scores.as_mut_ptr()),
    );
    let y_ptr = SharedMut(y.as_mut_ptr());
    let pack = |bh: usize| -> Result<()> {
        let (bi, hi) = (bh / h, bh % h);
        // SAFETY: head `bh`'s `pk + pv` floats of `packs` belong to this unit alone, and nothing
        // reads them before the packing phase ends.
        let buf =
            unsafe { std::slice::from_raw_parts_mut(packs_ptr.get().add(bh * per_head), per_head) };
        if let Some(kern) = bf16 {
            bf16::pack_head(kern, s, k, v, bi, hi, pk, buf);
            return Ok(());
        }
        let (kt, vp) = buf.split_at_mut(pk);
        pack_b(d, sk, &k[bi * sk * ldk + hi * d..], ldk, true, kt)?;
        pack_b(sk, d, &v[bi * sk * ldv + hi * d..], ldv, false, vp)
    };
    let task =
        |packs: &[f32], bi: usize, i0: usize, yc: &mut [f32], sc: &mut [f32]| -> Result<()> {
            let n = yc.len() / hd;
            let shift = sk as i64 - sq as i64;
            // Keys this block computes: all, or under a causal mask those its last row can see (a
            // block whose first row sees nothing keeps them all: that row's logits are all the
            // hidden fill, as in the graph).
            let keys = if s.causal && i0 as i64 + shift + 1 > 0 {
                ((i0 + n) as i64 + shift).clamp(1, sk as i64) as usize
            } else {
                sk
            };
            for hi in 0..h {
                let head = &packs[(bi * h + hi) * per_head..][..per_head];
                // A row whose visible keys are all masked down to the fill would tie with the
                // hidden keys the block skipped; such a block is redone over every key.
                let at = Block { bi, hi, i0 };
                if !head_block(isa, bf16, s, mask, q, head, pk, at, keys, sc, yc)? {
                    head_block(isa, bf16, s, mask, q, head, pk, at, sk, sc, yc)?;
                }
            }
            Ok(())
        };
    claim::region(threads, |part| {
        packing.work(part, |bh| keep_error(pack(bh)));
        packing.wait();
        // A packing error skips the query blocks (as the two forks did before).
        if first_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
        {
            return;
        }
        // SAFETY: every head was packed and the phase is over (`wait` orders its writes before
        // this point), so `packs` is only read from here on.
        let packs = unsafe {
            std::slice::from_raw_parts(packs_ptr.get() as *const f32, heads_total * per_head)
        };
        querying.work(part, |u| {
            let (bi, i0) = (u / blocks, u % blocks * rows);
            let n = rows.min(sq - i0);
            let first = bi * sq + i0;
            // SAFETY: block `u`'s rows of `y` (`n·hd` floats) and of the scores (`n·sk`) belong to
            // this unit alone; both lie inside the checked buffers (`first + n ≤ b·sq`).
            let (yc, sc) = unsafe {
                (
                    std::slice::from_raw_parts_mut(y_ptr.get().add(first * hd), n * hd),
                    std::slice::from_raw_parts_mut(scores_ptr.get().add(first * sk), n * sk),
                )
            };
            keep_error(task(packs, bi, i0, yc, sc));
        });
    });
    match first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Which block a task works on: batch `bi`, head `hi`, query rows from `i0`.
#[derive(Clone, Copy)]
struct Block {
    bi: usize,
    hi: usize,
    i0: usize,
}

/// One head of one query block over the first `keys` keys: scores against the packed `kᵀ`, mask,
/// causal limit, softmax, then `· v` into the head's columns of `yc`. Returns `false` when
/// `keys < sk` and the skipped keys are not negligible for some row (its visible logits are
/// all masked down to the hidden keys' fill), so the caller must redo the block over all keys
/// (the head's columns of `yc` then hold nothing of use: the bf16 path parks q there).
#[allow(clippy::too_many_arguments)]
fn head_block(
    isa: Isa,
    bf16: Option<Bf16Kernel>,
    s: &AttentionShape,
    mask: Option<AttentionMask<'_>>,
    q: &[f32],
    head: &[f32],
    pk: usize,
    Block { bi, hi, i0 }: Block,
    keys: usize,
    sc: &mut [f32],
    yc: &mut [f32],
) -> Result<bool> {
    let (sq, sk, d) = (s.sq, s.sk, s.d);
    let hd = s.heads * d;
    let n = yc.len() / hd;
    let shift = sk as i64 - sq as i64;
    let (kt, vp) = head.split_at(pk);
    let sc = &mut sc[..n * keys];
    if let Some(kern) = bf16 {
        bf16::scores(kern, s, q, kt, bi, hi, i0, keys, sc, yc);
    } else {
        let epi = Epilogue {
            alpha: s.scale,
            ..Epilogue::default()
        };
        let ldq = s.row_strides[0];
        let qo = (bi * sq + i0) * ldq + hi * d;
        sgemm(
            isa,
            n,
            keys,
            d,
            AOperand::Strided(MatRef::row_major(&q[qo..], ldq)),
            BOperand::Packed(kt),
            sc,
            keys,
            &epi,
        )?;
    }
    let rule = s.row_rule();
    // Row `r`'s mask (applied here when strided; returned when contiguous), the keys the row
    // function treats as visible, and the largest logit among the keys this block skipped
    // (`None` when it computes all `sk`): hidden for every row of the block, so they hold the
    // fill, plus the mask under `mask_hidden`.
    let prepare = |r: usize, row: &mut [f32]| {
        let i = i0 + r;
        let visible = if s.causal {
            (i as i64 + shift + 1).clamp(0, keys as i64) as usize
        } else {
            keys
        };
        let mut skipped = (keys < sk).then_some(s.hidden_fill);
        let Some(m) = mask else {
            return (None, visible, skipped);
        };
        let base = bi * m.strides[0] + hi * m.strides[1] + i * m.strides[2];
        let at = |j: usize| m.data[base + j * m.strides[3]];
        if s.mask_hidden && keys < sk {
            skipped = Some(s.hidden_fill + (keys..sk).map(at).fold(f32::NEG_INFINITY, f32::max));
        }
        if m.strides[3] == 1 {
            return (Some(&m.data[base..base + keys]), visible, skipped);
        }
        // A strided mask is applied here, hidden keys included, so the row function sees every
        // key as visible.
        for (j, v) in row.iter_mut().enumerate() {
            *v = match (j < visible, s.mask_hidden) {
                (true, _) => *v + at(j),
                (false, true) => s.hidden_fill + at(j),
                (false, false) => s.hidden_fill,
            };
        }
        (None, keys, skipped)
    };
    if let Some(kern) = bf16 {
        // Per group of tile rows: unnormalised bf16 probabilities, then their `· v` scaled by
        // each row's `1/Σ` (while the group's rows are still in L1).
        for g0 in (0..n).step_by(bf16::GROUP) {
            let rows = (n - g0).min(bf16::GROUP);
            let mut inv = [1f32; bf16::GROUP];
            for (r, row) in sc[g0 * keys..(g0 + rows) * keys]
                .chunks_exact_mut(keys)
                .enumerate()
            {
                let (m, visible, skipped) = prepare(g0 + r, row);
                match row_softmax::exp_row_bf16(kern, row, m, visible, rule, skipped) {
                    Some(x) => inv[r] = x,
                    None => return Ok(false),
                }
            }
            let probs = &sc[g0 * keys..(g0 + rows) * keys];
            bf16::apply_values(
                kern,
                s,
                vp,
                hi,
                keys,
                probs,
                &inv[..rows],
                &mut yc[g0 * hd..],
            );
        }
        return Ok(true);
    }
    for (r, row) in sc.chunks_exact_mut(keys).enumerate() {
        let (m, visible, skipped) = prepare(r, row);
        if !masked_softmax_row(isa, row, m, visible, rule, skipped) {
            return Ok(false);
        }
    }
    sgemm(
        isa,
        n,
        d,
        keys,
        AOperand::Strided(MatRef::row_major(sc, keys)),
        BOperand::PackedPrefix {
            data: vp,
            depth: sk,
        },
        &mut yc[hi * d..],
        hd,
        &Epilogue::default(),
    )?;
    Ok(true)
}

mod bf16;
mod bf16_tile;
mod row_softmax;
#[cfg(test)]
mod tests;
