//! Fused attention step: `y[b, i, h·d..] = softmax(scale·q_h k_hᵀ + mask (+ causal)) · v_h` with
//! q/k/v read as strided per-head views of their `[batch, seq, heads·d]` buffers, so the head
//! split/merge transposes never exist. Work splits over rayon by (batch, block of query rows):
//! each task owns its rows of `y` (all heads) and its rows of the score scratch, so tasks never
//! share a byte. Per task and head: one GEMM for the scores, mask/causal add and a vectorised row
//! softmax, one GEMM into the head's columns of `y`.

use super::ke;
use crate::mem::{f32s, f32s_mut, rd, Mem, NONE};
use infc_kernels::{sgemm, unary_inplace, AOperand, BOperand, Epilogue, Isa, MatRef, UnaryKind};
use infc_plan::AttentionStep;
use rayon::prelude::*;

/// Query rows per task: enough tasks for every thread (4 per thread to balance), at least 8 rows.
fn rows_per_task(batch: usize, sq: usize) -> usize {
    let tasks_wanted = rayon::current_num_threads() * 4;
    let per_batch = tasks_wanted.div_ceil(batch.max(1)).max(1);
    sq.div_ceil(per_batch).max(8).min(sq.max(1))
}

pub(crate) fn attention(s: &AttentionStep, mem: &mut Mem<'_>, isa: Isa) -> Result<(), String> {
    let (b, h, sq, sk, d) = (
        s.batch as usize,
        s.heads as usize,
        s.sq as usize,
        s.sk as usize,
        s.d as usize,
    );
    let hd = h * d;
    let ms = s.mask_strides.map(|v| v as usize);
    let mask_len = if s.mask.is_some() && b * h * sq * sk > 0 {
        (b - 1) * ms[0] + (h - 1) * ms[1] + (sq - 1) * ms[2] + (sk - 1) * ms[3] + 1
    } else {
        0
    };
    let reads = [
        rd(s.q, b * sq * hd * 4),
        rd(s.k, b * sk * hd * 4),
        rd(s.v, b * sk * hd * 4),
        s.mask.map(|m| rd(m, mask_len * 4)).unwrap_or(NONE),
    ];
    // The plan reserves `batch·heads·sq·sk` floats of scratch; this schedule uses `batch·sq·sk`.
    let scores_bytes = b * h * sq * sk * 4;
    let (y, scores, [q, k, v, mask]) = mem.io2(
        (s.y.offset, b * sq * hd * 4),
        (s.scratch.offset, scores_bytes),
        reads,
    )?;
    let (q, k, v) = (
        f32s(q.ok_or("q aliases y")?)?,
        f32s(k.ok_or("k aliases y")?)?,
        f32s(v.ok_or("v aliases y")?)?,
    );
    let mask = match mask {
        Some(m) if s.mask.is_some() => Some(f32s(m)?),
        _ => None,
    };
    let y = f32s_mut(y)?;
    let scores = f32s_mut(scores)?;
    if b * sq * hd == 0 || sk == 0 {
        return Ok(());
    }
    let scores = scores.get_mut(..b * sq * sk).ok_or("scratch too small")?;
    let y = y.get_mut(..b * sq * hd).ok_or("y too small")?;
    let rows = rows_per_task(b, sq);
    let task = |bi: usize, i0: usize, yc: &mut [f32], sc: &mut [f32]| -> Result<(), String> {
        let n = yc.len() / hd;
        let shift = sk as i64 - sq as i64;
        for hi in 0..h {
            let qo = (bi * sq + i0) * hd + hi * d;
            let ko = bi * sk * hd + hi * d;
            let epi = Epilogue {
                alpha: s.scale,
                ..Epilogue::default()
            };
            sgemm(
                isa,
                n,
                sk,
                d,
                AOperand::Strided(MatRef::row_major(&q[qo..], hd)),
                BOperand::Strided(MatRef::col_major(&k[ko..], hd)),
                sc,
                sk,
                &epi,
            )
            .map_err(ke)?;
            for r in 0..n {
                let i = i0 + r;
                let row = &mut sc[r * sk..(r + 1) * sk];
                if let Some(mk) = mask {
                    let base = bi * ms[0] + hi * ms[1] + i * ms[2];
                    if ms[3] == 1 {
                        for (v, m) in row.iter_mut().zip(&mk[base..base + sk]) {
                            *v += m;
                        }
                    } else {
                        for (j, v) in row.iter_mut().enumerate() {
                            *v += mk[base + j * ms[3]];
                        }
                    }
                }
                if s.causal {
                    let first_masked = (i as i64 + shift + 1).clamp(0, sk as i64) as usize;
                    row[first_masked..].fill(f32::MIN);
                }
                softmax_row(isa, row);
            }
            sgemm(
                isa,
                n,
                d,
                sk,
                AOperand::Strided(MatRef::row_major(sc, sk)),
                BOperand::Strided(MatRef::row_major(&v[ko..], hd)),
                &mut yc[hi * d..],
                hd,
                &Epilogue::default(),
            )
            .map_err(ke)?;
        }
        Ok(())
    };
    y.par_chunks_mut(sq * hd)
        .zip(scores.par_chunks_mut(sq * sk))
        .enumerate()
        .try_for_each(|(bi, (yb, sb))| {
            yb.par_chunks_mut(rows * hd)
                .zip(sb.par_chunks_mut(rows * sk))
                .enumerate()
                .try_for_each(|(blk, (yc, sc))| task(bi, blk * rows, yc, sc))
        })
}

/// In-place softmax of one row with the ISA's vectorised `exp`. A row of only `f32::MIN`
/// (everything masked) comes out uniform, as onnxruntime's does.
fn softmax_row(isa: Isa, row: &mut [f32]) {
    let max = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    for v in row.iter_mut() {
        *v -= max;
    }
    unary_inplace(isa, UnaryKind::Exp, row);
    let sum: f32 = row.iter().sum();
    let inv = 1.0 / sum;
    for v in row.iter_mut() {
        *v *= inv;
    }
}
