//! Gemm, MatMul and FusedMatMul's product → `MatMul` steps. A constant right-hand side without
//! batch dims is packed at compile time with `infc_kernels::gemm::pack_b` (transposed when read
//! transposed; the batch folded into `m` when A allows it); otherwise B is read in place
//! (transposed operands are column-major views and cost nothing). Batch broadcasting becomes
//! per-operand strides.

use super::strides::{contiguous, simplify, unsigned};
use super::Lowerer;
use crate::error::CompileError;
use infc_ir::{DType, ValueId};
use infc_kernels::gemm::{pack_b, packed_b_len};
use infc_plan::{
    Activation, Bias, BiasKind, MatB, MatMulStep, PackedRef, Step, TensorRef, MAX_RANK,
};

/// Pack a constant `k × n` B (given row-major, or `n × k` when `trans`) into the constants blob.
fn packed_b(
    lw: &mut Lowerer<'_>,
    b: ValueId,
    k: u64,
    n: u64,
    trans: bool,
) -> Result<Option<MatB>, CompileError> {
    let Some(t) = lw.const_tensor(b) else {
        return Ok(None);
    };
    if t.dtype != DType::F32 || t.is_opaque() {
        return Ok(None);
    }
    let data = t
        .view::<f32>()
        .map_err(|e| lw.malformed(format!("B constant: {e}")))?;
    let (k, n) = (k as usize, n as usize);
    let mut packed = vec![0f32; packed_b_len(k, n)];
    let ldb = if trans { k } else { n };
    pack_b(
        k,
        n,
        &data[..(k * n).min(data.len())],
        ldb,
        trans,
        &mut packed,
    )
    .map_err(|e| lw.malformed(format!("packing B: {e}")))?;
    let offset = lw.push_f32(&packed);
    Ok(Some(MatB::Packed(PackedRef {
        offset,
        bytes: packed.len() as u64 * 4,
    })))
}

fn require_f32(lw: &Lowerer<'_>, vs: &[ValueId]) -> Result<(), CompileError> {
    for &v in vs {
        if lw.ir_dtype(v) != DType::F32 {
            return Err(lw.unsupported(format!(
                "{} operands (only f32 matmul is supported)",
                lw.ir_dtype(v)
            )));
        }
    }
    Ok(())
}

pub(crate) fn gemm(
    lw: &mut Lowerer<'_>,
    alpha: f32,
    beta: f32,
    trans_a: bool,
    trans_b: bool,
) -> Result<(), CompileError> {
    let (a, b, y) = (lw.input(0)?, lw.input(1)?, lw.output(0)?);
    require_f32(lw, &[a, b])?;
    let (sa, sb) = (lw.shape(a), lw.shape(b));
    if sa.len() != 2 || sb.len() != 2 {
        return Err(lw.malformed(format!("Gemm operands must be 2-D, got {sa:?} and {sb:?}")));
    }
    let (m, k) = if trans_a {
        (sa[1], sa[0])
    } else {
        (sa[0], sa[1])
    };
    let (kb, n) = if trans_b {
        (sb[1], sb[0])
    } else {
        (sb[0], sb[1])
    };
    if k != kb {
        return Err(lw.malformed(format!("inner dims differ: {k} vs {kb}")));
    }
    let bm = match packed_b(lw, b, k, n, trans_b)? {
        Some(p) => p,
        None => MatB::Plain {
            at: lw.at(b)?,
            trans: trans_b,
        },
    };
    let mut bias = None;
    if lw.has_input(2) && beta != 0.0 {
        let c = lw.input(2)?;
        require_f32(lw, &[c])?;
        let sc = lw.shape(c);
        let numel: u64 = sc.iter().product();
        let kind = match sc.as_slice() {
            _ if numel == 1 => BiasKind::Scalar,
            [x] if *x == n => BiasKind::Row,
            [1, x] if *x == n => BiasKind::Row,
            [x, 1] if *x == m => BiasKind::Col,
            [x, z] if *x == m && *z == n => BiasKind::Full,
            _ => {
                return Err(lw.malformed(format!(
                    "bias shape {sc:?} does not broadcast to [{m}, {n}]"
                )))
            }
        };
        let (at, beta) = match lw.const_f32(c)? {
            Some(vals) if beta != 1.0 => {
                let scaled: Vec<f32> = vals.iter().map(|v| v * beta).collect();
                (TensorRef::konst(lw.push_f32(&scaled)), 1.0)
            }
            _ => (lw.at(c)?, beta),
        };
        bias = Some(Bias { at, kind, beta });
    }
    let step = MatMulStep {
        batch_shape: vec![],
        a_batch_strides: vec![],
        b_batch_strides: vec![],
        m,
        n,
        k,
        a: lw.at(a)?,
        trans_a,
        b: bm,
        alpha,
        bias,
        residual: None,
        act: Activation::None,
        y: lw.at(y)?,
    };
    lw.emit(Step::MatMul(step));
    Ok(())
}

pub(crate) fn matmul(lw: &mut Lowerer<'_>) -> Result<(), CompileError> {
    let act = Activation::None;
    let plain = Transposed { a: false, b: false };
    matmul_with(lw, plain, None, None, act)
}

/// Which MatMul operands are stored with their last two axes swapped (read transposed).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Transposed {
    pub a: bool,
    pub b: bool,
}

/// Shape of an operand as the product sees it: the stored shape with the last two axes swapped
/// when it is read transposed.
fn logical_shape(
    lw: &Lowerer<'_>,
    v: ValueId,
    trans: bool,
    what: &str,
) -> Result<Vec<u64>, CompileError> {
    let mut s = lw.shape(v);
    if trans {
        let r = s.len();
        if r < 2 {
            return Err(lw.malformed(format!(
                "{what} is read transposed but has shape {s:?} (rank < 2)"
            )));
        }
        s.swap(r - 2, r - 1);
    }
    Ok(s)
}

/// MatMul (numpy semantics) of inputs 0 and 1, `y = act(a·b + bias + residual)`; bias is per column.
/// A transposed operand is read through a column-major view (a constant B is packed transposed),
/// so no transpose is materialised.
pub(crate) fn matmul_with(
    lw: &mut Lowerer<'_>,
    trans: Transposed,
    bias: Option<ValueId>,
    residual: Option<ValueId>,
    act: Activation,
) -> Result<(), CompileError> {
    let (a, b, y) = (lw.input(0)?, lw.input(1)?, lw.output(0)?);
    require_f32(lw, &[a, b])?;
    let (mut sa, mut sb) = (
        logical_shape(lw, a, trans.a, "A")?,
        logical_shape(lw, b, trans.b, "B")?,
    );
    if sa.is_empty() || sb.is_empty() {
        return Err(lw.malformed("MatMul operands must have rank ≥ 1"));
    }
    if sa.len() == 1 {
        sa.insert(0, 1);
    }
    if sb.len() == 1 {
        sb.push(1);
    }
    let (m, k) = (sa[sa.len() - 2], sa[sa.len() - 1]);
    let (kb, n) = (sb[sb.len() - 2], sb[sb.len() - 1]);
    if k != kb {
        return Err(lw.malformed(format!("inner dims differ: {k} vs {kb}")));
    }
    let (ba, bb) = (&sa[..sa.len() - 2], &sb[..sb.len() - 2]);
    let rank = ba.len().max(bb.len());
    let pad = |s: &[u64]| -> Vec<u64> {
        std::iter::repeat_n(1, rank - s.len())
            .chain(s.iter().copied())
            .collect()
    };
    let (ba, bb) = (pad(ba), pad(bb));
    let mut batch = Vec::with_capacity(rank);
    for (&x, &z) in ba.iter().zip(&bb) {
        batch.push(match (x, z) {
            _ if x == z => x,
            (1, z) => z,
            (x, 1) => x,
            _ => return Err(lw.malformed(format!("batch dims {ba:?} and {bb:?} do not broadcast"))),
        });
    }
    let strides_for = |dims: &[u64], mat: u64| -> Vec<i64> {
        let c = contiguous(dims);
        dims.iter()
            .zip(&batch)
            .zip(c)
            .map(|((&d, &o), s)| if d == 1 && o != 1 { 0 } else { s * mat as i64 })
            .collect()
    };
    let a_s = strides_for(&ba, m * k);
    let b_s = strides_for(&bb, k * n);
    let y_s: Vec<i64> = contiguous(&batch)
        .into_iter()
        .map(|s| s * (m * n) as i64)
        .collect();
    let (mut batch, s) = simplify(&batch, &[a_s, b_s, y_s]);
    let (mut a_s, mut b_s) = (unsigned(&s[0]), unsigned(&s[1]));
    let mut m_eff = m;
    let b_has_batch = b_s.iter().any(|&v| v != 0);
    let mut bm = None;
    if !b_has_batch {
        bm = packed_b(lw, b, k, n, trans.b)?;
        // A's batch entries follow each other like the output's: fold the batch into m (not for
        // a transposed A, whose rows are not contiguous across batch entries).
        let folds = batch.len() <= 1 && !trans.a && a_s.iter().all(|&v| v == m * k);
        if bm.is_some() && folds {
            m_eff = m * batch.iter().product::<u64>();
            batch.clear();
            a_s.clear();
            b_s.clear();
        } else if bm.is_some() {
            b_s.iter_mut().for_each(|v| *v = 0);
        }
    }
    if batch.len() > MAX_RANK {
        return Err(lw.unsupported(format!("batch rank {} exceeds {MAX_RANK}", batch.len())));
    }
    let bm = match bm {
        Some(p) => p,
        None => MatB::Plain {
            at: lw.at(b)?,
            trans: trans.b,
        },
    };
    let step = MatMulStep {
        batch_shape: batch,
        a_batch_strides: a_s,
        b_batch_strides: b_s,
        m: m_eff,
        n,
        k,
        a: lw.at(a)?,
        trans_a: trans.a,
        b: bm,
        alpha: 1.0,
        bias: match bias {
            Some(v) => {
                if lw.numel(v) != n {
                    return Err(
                        lw.malformed(format!("bias has {} elements, expected {n}", lw.numel(v)))
                    );
                }
                Some(Bias {
                    at: lw.at(v)?,
                    kind: BiasKind::Row,
                    beta: 1.0,
                })
            }
            None => None,
        },
        residual: match residual {
            Some(v) => Some(lw.at(v)?),
            None => None,
        },
        act,
        y: lw.at(y)?,
    };
    lw.emit(Step::MatMul(step));
    Ok(())
}
