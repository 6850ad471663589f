//! Stride arithmetic shared by the lowerings: contiguous strides, numpy broadcasting strides, and
//! dimension simplification (drop size-1 dims, merge dims contiguous in every operand) so strided
//! steps stay within the plan's maximum rank and the runtime's inner loops run long.

/// Row-major element strides of `shape`.
pub fn contiguous(shape: &[u64]) -> Vec<i64> {
    let mut s = vec![1i64; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1] as i64;
    }
    s
}

/// Strides reading a contiguous tensor of `in_shape` broadcast to `out_shape` (right-aligned, 0 on
/// broadcast dims).
pub fn broadcast(in_shape: &[u64], out_shape: &[u64]) -> Vec<i64> {
    let own = contiguous(in_shape);
    let pad = out_shape.len() - in_shape.len().min(out_shape.len());
    (0..out_shape.len())
        .map(|i| {
            if i < pad {
                0
            } else {
                let j = i - pad;
                if in_shape[j] == 1 && out_shape[i] != 1 {
                    0
                } else {
                    own[j]
                }
            }
        })
        .collect()
}

/// Drop size-1 dims and merge adjacent dims that are contiguous with each other in every operand.
pub fn simplify(shape: &[u64], strides: &[Vec<i64>]) -> (Vec<u64>, Vec<Vec<i64>>) {
    if shape.contains(&0) {
        return (vec![0], strides.iter().map(|_| vec![1]).collect());
    }
    let mut out_shape: Vec<u64> = Vec::new();
    let mut out: Vec<Vec<i64>> = strides.iter().map(|_| Vec::new()).collect();
    for (d, &n) in shape.iter().enumerate() {
        if n == 1 {
            continue;
        }
        let mergeable = !out_shape.is_empty()
            && strides
                .iter()
                .zip(&out)
                .all(|(s, o)| *o.last().unwrap_or(&0) == s[d] * n as i64);
        if mergeable {
            *out_shape.last_mut().unwrap_or(&mut 0) *= n;
            for (s, o) in strides.iter().zip(out.iter_mut()) {
                if let Some(l) = o.last_mut() {
                    *l = s[d];
                }
            }
        } else {
            out_shape.push(n);
            for (s, o) in strides.iter().zip(out.iter_mut()) {
                o.push(s[d]);
            }
        }
    }
    (out_shape, out)
}

pub fn unsigned(v: &[i64]) -> Vec<u64> {
    v.iter().map(|&s| s.max(0) as u64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bias_broadcast_merges_to_two_dims() {
        let out = [2, 3, 4, 5];
        let a = contiguous(&out);
        let b = broadcast(&[5], &out);
        assert_eq!(b, vec![0, 0, 0, 1]);
        let (shape, s) = simplify(&out, &[a.clone(), b, a]);
        assert_eq!(shape, vec![24, 5]);
        assert_eq!(s[1], vec![0, 1]);
        assert_eq!(s[0], vec![5, 1]);
    }

    #[test]
    fn contiguous_collapses_to_one_dim_and_ones_vanish() {
        let out = [2, 1, 3];
        let c = contiguous(&out);
        let (shape, s) = simplify(&out, &[c.clone(), c]);
        assert_eq!(shape, vec![6]);
        assert_eq!(s, vec![vec![1], vec![1]]);
        let (shape, _) = simplify(&[1, 1], &[vec![1, 1]]);
        assert!(shape.is_empty());
    }
}
