//! Data movement executors (dtype-generic, on bytes): strided Copy (transpose, slice, expand,
//! concat/split parts), Gather, GatherND and Trilu.

use crate::fault::StepFault;
use crate::mem::{for_rows, rd, signed_extent, Mem};
use infc_plan::{CopyStep, DType, GatherNdStep, GatherStep, TensorRef, TriluStep};

fn shifted(t: TensorRef, bytes: i64) -> Result<TensorRef, StepFault> {
    let offset =
        u64::try_from(t.offset as i64 + bytes).map_err(|_| "negative offset".to_string())?;
    Ok(TensorRef {
        region: t.region,
        offset,
    })
}

pub(crate) fn copy(s: &CopyStep, m: &mut Mem<'_>) -> Result<(), StepFault> {
    let es = s.dtype.size();
    if s.shape.contains(&0) {
        return Ok(());
    }
    let (slo, shi) = signed_extent(&s.shape, &s.src_strides);
    let (dlo, dhi) = signed_extent(&s.shape, &s.dst_strides);
    let src = shifted(s.src, slo * es as i64)?;
    let dst = shifted(s.dst, dlo * es as i64)?;
    let (y, [x]) = m.io(
        (dst.offset, (dhi - dlo) as usize * es),
        [rd(src, (shi - slo) as usize * es)],
    )?;
    let x = x.ok_or("copy source is its destination")?;
    let r = s.shape.len();
    let (is, id) = if r == 0 {
        (1, 1)
    } else {
        (s.src_strides[r - 1], s.dst_strides[r - 1])
    };
    let mut bad = false;
    for_rows(
        &s.shape,
        [&s.src_strides[..], &s.dst_strides[..]],
        |_, [os, od], len| {
            let (os, od) = (os - slo, od - dlo);
            if is == 1 && id == 1 {
                let (a, b) = (os as usize * es, od as usize * es);
                match (x.get(a..a + len * es), y.get_mut(b..b + len * es)) {
                    (Some(src), Some(dst)) => dst.copy_from_slice(src),
                    _ => bad = true,
                }
            } else {
                for j in 0..len as i64 {
                    let (a, b) = ((os + j * is) as usize * es, (od + j * id) as usize * es);
                    match (x.get(a..a + es), y.get_mut(b..b + es)) {
                        (Some(src), Some(dst)) => dst.copy_from_slice(src),
                        _ => bad = true,
                    }
                }
            }
        },
    );
    if bad {
        return Err("strided access out of range".into());
    }
    Ok(())
}

fn index(idx: &[u8], dtype: DType, i: usize) -> Option<i64> {
    match dtype {
        DType::I64 => idx
            .get(i * 8..i * 8 + 8)
            .map(|b| i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])),
        DType::I32 => idx
            .get(i * 4..i * 4 + 4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64),
        _ => None,
    }
}

/// Wrap a negative index and bounds-check it.
fn resolve(i: i64, len: u64, at: usize) -> Result<usize, StepFault> {
    let n = len as i64;
    let j = if i < 0 { i + n } else { i };
    if j < 0 || j >= n {
        return Err(StepFault::IndexOutOfRange {
            index: i,
            position: at,
            len,
        });
    }
    Ok(j as usize)
}

pub(crate) fn gather(s: &GatherStep, m: &mut Mem<'_>) -> Result<(), StepFault> {
    let es = s.dtype.size();
    let (outer, axis, inner, n) = (
        s.outer as usize,
        s.axis_len as usize,
        s.inner as usize,
        s.n_idx as usize,
    );
    let row = inner * es;
    // An empty output: nothing to gather (no loop over the rows of an empty tensor).
    if outer * n * row == 0 {
        return Ok(());
    }
    let reads = [
        rd(s.data, outer * axis * row),
        rd(s.indices, n * s.idx_dtype.size()),
    ];
    let (y, [data, idx]) = m.io((s.y.offset, outer * n * row), reads)?;
    let (data, idx) = (
        data.ok_or("data aliases the output")?,
        idx.ok_or("indices alias the output")?,
    );
    for o in 0..outer {
        for i in 0..n {
            let raw = index(idx, s.idx_dtype, i).ok_or("bad index dtype")?;
            let j = resolve(raw, s.axis_len, i)?;
            let src = (o * axis + j) * row;
            let dst = (o * n + i) * row;
            match (data.get(src..src + row), y.get_mut(dst..dst + row)) {
                (Some(a), Some(b)) => b.copy_from_slice(a),
                _ => return Err("gather out of range".into()),
            }
        }
    }
    Ok(())
}

pub(crate) fn gather_nd(s: &GatherNdStep, m: &mut Mem<'_>) -> Result<(), StepFault> {
    let es = s.dtype.size();
    let depth = s.index_dims.len();
    let per_batch: usize = s.index_dims.iter().product::<u64>() as usize;
    let (batch, n, slice) = (
        s.batch as usize,
        s.n_per_batch as usize,
        s.slice_len as usize * es,
    );
    // An empty output: nothing to gather (no loop over the batches of an empty tensor).
    if batch * n * slice == 0 {
        return Ok(());
    }
    let reads = [
        rd(s.data, batch * per_batch * slice),
        rd(s.indices, batch * n * depth * s.idx_dtype.size()),
    ];
    let (y, [data, idx]) = m.io((s.y.offset, batch * n * slice), reads)?;
    let (data, idx) = (
        data.ok_or("data aliases the output")?,
        idx.ok_or("indices alias the output")?,
    );
    for b in 0..batch {
        for i in 0..n {
            let mut flat = 0usize;
            for (d, &dim) in s.index_dims.iter().enumerate() {
                let at = (b * n + i) * depth + d;
                let raw = index(idx, s.idx_dtype, at).ok_or("bad index dtype")?;
                flat = flat * dim as usize + resolve(raw, dim, at)?;
            }
            let src = (b * per_batch + flat) * slice;
            let dst = (b * n + i) * slice;
            match (data.get(src..src + slice), y.get_mut(dst..dst + slice)) {
                (Some(a), Some(o)) => o.copy_from_slice(a),
                _ => return Err("gather_nd out of range".into()),
            }
        }
    }
    Ok(())
}

pub(crate) fn trilu(s: &TriluStep, m: &mut Mem<'_>) -> Result<(), StepFault> {
    let es = s.dtype.size();
    let (rows, cols) = (s.rows as usize, s.cols as usize);
    let total = s.batch as usize * rows * cols * es;
    let k_read = match s.k_at {
        Some(k) => rd(k, 8),
        None => crate::mem::NONE,
    };
    let (y, [x, kb]) = m.io((s.y.offset, total), [rd(s.x, total), k_read])?;
    let x = x.ok_or("input aliases the output")?;
    let k = match (s.k_at, kb) {
        (Some(_), Some(b)) => index(b, DType::I64, 0).ok_or("bad k")?,
        _ => s.k,
    };
    y.copy_from_slice(x);
    if rows * cols == 0 {
        return Ok(());
    }
    for mat in y.chunks_exact_mut(rows * cols * es) {
        for i in 0..rows {
            for j in 0..cols {
                let d = j as i64 - i as i64;
                let keep = if s.upper { d >= k } else { d <= k };
                if !keep {
                    let at = (i * cols + j) * es;
                    mat[at..at + es].fill(0);
                }
            }
        }
    }
    Ok(())
}
