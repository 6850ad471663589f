//! Sentence embeddings from an encoder's last hidden state, as sentence-transformers computes
//! them: the mean of the token vectors the attention mask keeps, then L2 normalisation; and the
//! cosine similarity matrix of normalised embeddings.

/// Mean-pool `hidden` (`[batch, seq, dim]`, row-major) over the positions where `mask`
/// (`[batch, seq]`) is non-zero and L2-normalise each row; returns `batch` rows of `dim`.
/// A row with no kept position, or an all-zero mean, stays zero. `None` if the lengths disagree
/// with `batch · seq · dim`.
pub fn mean_pool_normalize(
    hidden: &[f32],
    mask: &[i64],
    batch: usize,
    seq: usize,
    dim: usize,
) -> Option<Vec<Vec<f32>>> {
    if hidden.len() != batch * seq * dim || mask.len() != batch * seq {
        return None;
    }
    let rows = (0..batch)
        .map(|b| {
            let mut sum = vec![0f64; dim];
            let mut kept = 0f64;
            for t in 0..seq {
                if mask[b * seq + t] != 0 {
                    kept += 1.0;
                    let v = &hidden[(b * seq + t) * dim..][..dim];
                    for (s, &x) in sum.iter_mut().zip(v) {
                        *s += f64::from(x);
                    }
                }
            }
            let mean: Vec<f64> = sum.iter().map(|s| s / kept.max(1e-9)).collect();
            let norm = mean.iter().map(|m| m * m).sum::<f64>().sqrt().max(1e-12);
            mean.iter().map(|m| (m / norm) as f32).collect()
        })
        .collect();
    Some(rows)
}

/// `sim[i][j]` = the dot product of rows `i` and `j` (the cosine similarity, for unit rows).
pub fn cosine_matrix(rows: &[Vec<f32>]) -> Vec<Vec<f32>> {
    rows.iter()
        .map(|a| {
            rows.iter()
                .map(|b| {
                    a.iter()
                        .zip(b)
                        .map(|(&x, &y)| f64::from(x) * f64::from(y))
                        .sum::<f64>() as f32
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_only_kept_positions() {
        // Two sequences of three 2-d tokens; the second keeps only its first two positions.
        let hidden = [1., 0., 3., 4., 9., 9., 0., 2., 0., 4., 100., 100.];
        let rows = mean_pool_normalize(&hidden, &[1, 1, 1, 1, 1, 0], 2, 3, 2).unwrap();
        // Means (13/3, 13/3) and (0, 3): unit vectors along the diagonal and along y.
        let d = 0.5f32.sqrt();
        assert!((rows[0][0] - d).abs() < 1e-6 && (rows[0][1] - d).abs() < 1e-6);
        assert_eq!(rows[1], [0.0, 1.0]);
        let sim = cosine_matrix(&rows);
        assert!((sim[0][0] - 1.0).abs() < 1e-6 && (sim[0][1] - d).abs() < 1e-6);
        assert_eq!(sim[0][1], sim[1][0]);
        assert!(mean_pool_normalize(&hidden, &[1; 5], 2, 3, 2).is_none());
    }
}
