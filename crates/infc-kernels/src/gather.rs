//! Gather along one axis (ONNX `Gather`; embedding lookup is `axis = 0`), for any element type.
//! Indices may be negative (counted from the end); an index outside `[-len, len)` is an error
//! naming the index and its position, and nothing past that point is written.

use crate::error::{check_len, KernelError, Result};

/// `data` viewed as `[outer, axis_len, inner]`; `y` as `[outer, indices.len(), inner]` with
/// `y[o, i, :] = data[o, indices[i], :]`.
pub fn gather<T: Copy>(
    data: &[T],
    outer: usize,
    axis_len: usize,
    inner: usize,
    indices: &[i64],
    y: &mut [T],
) -> Result<()> {
    check_len("gather data", data.len(), outer * axis_len * inner)?;
    check_len("gather output", y.len(), outer * indices.len() * inner)?;
    for (pos, &idx) in indices.iter().enumerate() {
        let len = axis_len as i64;
        if idx < -len || idx >= len {
            return Err(KernelError::IndexOutOfBounds {
                index: idx,
                position: pos,
                len: axis_len,
            });
        }
    }
    for o in 0..outer {
        for (pos, &idx) in indices.iter().enumerate() {
            let row = if idx < 0 { idx + axis_len as i64 } else { idx } as usize;
            let src = (o * axis_len + row) * inner;
            let dst = (o * indices.len() + pos) * inner;
            y[dst..dst + inner].copy_from_slice(&data[src..src + inner]);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedding_lookup_and_middle_axis() {
        let table: Vec<f32> = (0..12).map(|v| v as f32).collect(); // [4, 3]
        let mut y = vec![0.0; 9];
        gather(&table, 1, 4, 3, &[2, 0, -1], &mut y).unwrap();
        assert_eq!(y, [6.0, 7.0, 8.0, 0.0, 1.0, 2.0, 9.0, 10.0, 11.0]);
        // [2, 3, 2] along axis 1.
        let data: Vec<i64> = (0..12).collect();
        let mut y = vec![0; 4];
        gather(&data, 2, 3, 2, &[1], &mut y).unwrap();
        assert_eq!(y, [2, 3, 8, 9]);
    }

    #[test]
    fn out_of_bounds_index_is_an_error() {
        let table = [0f32; 8];
        let mut y = [0f32; 4];
        let err = gather(&table, 1, 4, 2, &[1, 4], &mut y).unwrap_err();
        assert_eq!(
            err.to_string(),
            "gather: index 4 at position 1 is out of bounds for axis of length 4"
        );
        assert!(gather(&table, 1, 4, 2, &[-5, 0], &mut y).is_err());
        assert!(gather(&table, 1, 4, 2, &[0, 1, 2], &mut y).is_err());
    }
}
