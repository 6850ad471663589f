//! Fused attention step: resolves the step's q/k/v/mask/y/scratch buffers in the arena and runs
//! [`infc_kernels::attention`] (K/V packed once per head, masked/causal softmax, no head
//! transposes). The scratch size is the plan's [`AttentionStep::scratch_floats`], the kernel's
//! own `infc_kernels::attention_scratch_floats`.

use super::ke;
use crate::fault::StepFault;
use crate::mem::{f32s, f32s_mut, rd, Mem, NONE};
use infc_kernels::{AttentionMask, AttentionShape, Isa};
use infc_plan::AttentionStep;

pub(crate) fn attention(s: &AttentionStep, mem: &mut Mem<'_>, isa: Isa) -> Result<(), StepFault> {
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
    let ld = s.qkv_row_strides.map(|v| v as usize);
    // Floats spanned by `rows` rows `ld` apart, the last one `hd` long (validated at load).
    let span = |rows: usize, ld: usize| if rows == 0 { 0 } else { (rows - 1) * ld + hd };
    let reads = [
        rd(s.q, span(b * sq, ld[0]) * 4),
        rd(s.k, span(b * sk, ld[1]) * 4),
        rd(s.v, span(b * sk, ld[2]) * 4),
        s.mask.map(|m| rd(m, mask_len * 4)).unwrap_or(NONE),
    ];
    let scratch_floats = s
        .scratch_floats()
        .ok_or("attention scratch size overflows")? as usize;
    let (y, scratch, [q, k, v, mask]) = mem.io2(
        (s.y.offset, b * sq * hd * 4),
        (s.scratch.offset, scratch_floats * 4),
        reads,
    )?;
    let (q, k, v) = (
        f32s(q.ok_or("q aliases y")?)?,
        f32s(k.ok_or("k aliases y")?)?,
        f32s(v.ok_or("v aliases y")?)?,
    );
    let mask = match mask {
        Some(m) if s.mask.is_some() => Some(AttentionMask {
            data: f32s(m)?,
            strides: ms,
        }),
        _ => None,
    };
    let shape = AttentionShape {
        batch: b,
        heads: h,
        sq,
        sk,
        d,
        scale: s.scale,
        causal: s.causal,
        hidden_fill: s.hidden_fill,
        mask_hidden: s.mask_hidden,
        zero_nan_rows: s.zero_nan_rows,
        bf16: s.bf16,
        row_strides: ld,
    };
    infc_kernels::attention(isa, &shape, q, k, v, mask, f32s_mut(y)?, f32s_mut(scratch)?)
        .map_err(ke)
}
