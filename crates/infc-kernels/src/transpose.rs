//! General tensor transpose (any element type, any permutation). Dims that stay adjacent are
//! merged first; when the result is a (batched) 2-D transpose of the two innermost dims it runs a
//! cache-blocked 16×16 tile loop, otherwise an odometer walk over the output.

use crate::error::{bad_shape, check_len, Result};

/// `y = x.permute(perm)`: output dim `d` is input dim `perm[d]`. `x` and `y` are row-major.
pub fn transpose<T: Copy>(shape: &[usize], perm: &[usize], x: &[T], y: &mut [T]) -> Result<()> {
    let rank = shape.len();
    let mut seen = vec![false; rank];
    if perm.len() != rank
        || perm
            .iter()
            .any(|&p| p >= rank || std::mem::replace(&mut seen[p], true))
    {
        return Err(bad_shape(
            "transpose",
            format!("{perm:?} is not a permutation of 0..{rank}"),
        ));
    }
    let total: usize = shape.iter().product();
    check_len("transpose input", x.len(), total)?;
    check_len("transpose output", y.len(), total)?;
    if total == 0 {
        return Ok(());
    }
    // Input strides, then output-ordered (len, input stride) with 1-dims dropped and runs merged.
    let mut in_strides = vec![1usize; rank];
    for d in (0..rank.saturating_sub(1)).rev() {
        in_strides[d] = in_strides[d + 1] * shape[d + 1];
    }
    let mut dims: Vec<(usize, usize)> = Vec::with_capacity(rank);
    for &p in perm {
        if shape[p] == 1 {
            continue;
        }
        let cur = (shape[p], in_strides[p]);
        match dims.last_mut() {
            Some(prev) if prev.1 == cur.0 * cur.1 => *prev = (prev.0 * cur.0, cur.1),
            _ => dims.push(cur),
        }
    }
    let y = &mut y[..total];
    match dims.as_slice() {
        [] => y[0] = x[0],
        [(_, 1)] => y.copy_from_slice(&x[..total]),
        _ => {
            let n = dims.len();
            let (cols, cs) = dims[n - 1];
            let (rows, rs) = dims[n - 2];
            if rs == 1 && cs == rows {
                // Batched 2-D: output [.., rows, cols] reads input [.., cols, rows].
                let outer = &dims[..n - 2];
                let plane = rows * cols;
                for (b, out) in y.chunks_exact_mut(plane).enumerate() {
                    let base = offset(outer, b);
                    tile_2d(&x[base..base + plane], rows, cols, out);
                }
            } else {
                let mut idx = vec![0usize; n];
                for out in y.chunks_exact_mut(cols) {
                    let base: usize = idx.iter().zip(&dims).map(|(i, (_, s))| i * s).sum();
                    for (c, o) in out.iter_mut().enumerate() {
                        *o = x[base + c * cs];
                    }
                    for d in (0..n - 1).rev() {
                        idx[d] += 1;
                        if idx[d] < dims[d].0 {
                            break;
                        }
                        idx[d] = 0;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Input offset of outer index `b` over `(len, stride)` dims.
fn offset(dims: &[(usize, usize)], mut b: usize) -> usize {
    let mut off = 0;
    for &(len, s) in dims.iter().rev() {
        off += (b % len) * s;
        b /= len;
    }
    off
}

/// `out[r, c] = x[c, r]` for `out: rows × cols`, in 16×16 tiles.
fn tile_2d<T: Copy>(x: &[T], rows: usize, cols: usize, out: &mut [T]) {
    const T: usize = 16;
    for r0 in (0..rows).step_by(T) {
        for c0 in (0..cols).step_by(T) {
            for r in r0..(r0 + T).min(rows) {
                for c in c0..(c0 + T).min(cols) {
                    out[r * cols + c] = x[c * rows + r];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(shape: &[usize], perm: &[usize], x: &[i64]) -> Vec<i64> {
        let rank = shape.len();
        let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
        let total: usize = shape.iter().product();
        let mut y = vec![0; total];
        for (flat, v) in y.iter_mut().enumerate() {
            let mut rem = flat;
            let mut oidx = vec![0; rank];
            for d in (0..rank).rev() {
                oidx[d] = rem % out_shape[d];
                rem /= out_shape[d];
            }
            let mut iflat = 0;
            for d in 0..rank {
                let i = oidx[perm.iter().position(|&p| p == d).unwrap()];
                iflat = iflat * shape[d] + i;
            }
            *v = x[iflat];
        }
        y
    }

    #[test]
    fn transposes_match_reference() {
        let cases: [(&[usize], &[usize]); 8] = [
            (&[3, 4], &[1, 0]),
            (&[33, 17], &[1, 0]),
            (&[2, 3, 4], &[0, 2, 1]),
            (&[2, 3, 4, 5], &[0, 2, 1, 3]),
            (&[2, 3, 4, 5], &[3, 1, 0, 2]),
            (&[1, 5, 1, 7], &[3, 2, 1, 0]),
            (&[4, 6], &[0, 1]),
            (&[2, 12, 64, 5], &[0, 2, 3, 1]),
        ];
        for (shape, perm) in cases {
            let n: usize = shape.iter().product();
            let x: Vec<i64> = (0..n as i64).collect();
            let mut y = vec![-1; n];
            transpose(shape, perm, &x, &mut y).unwrap();
            assert_eq!(y, reference(shape, perm, &x), "{shape:?} {perm:?}");
        }
    }

    #[test]
    fn transpose_errors() {
        let mut y = [0f32; 4];
        let err = transpose(&[2, 2], &[0, 0], &[0f32; 4], &mut y).unwrap_err();
        assert_eq!(
            err.to_string(),
            "transpose: [0, 0] is not a permutation of 0..2"
        );
        assert!(transpose(&[2, 3], &[1, 0], &[0f32; 6], &mut y).is_err());
    }
}
