//! numpy broadcasting (the broadcast shape of several inputs) and strided walks: visitors that go over
//! every output element in row-major order handing out the matching flat offset into each input.
//! Broadcasting, Transpose and Slice are all strided walks with different strides.

use crate::access::{strides, OpResult};

/// numpy's broadcast shape: shapes are right-aligned; each dim pair must be equal or contain a 1.
pub(crate) fn broadcast_shapes(shapes: &[&[usize]]) -> OpResult<Vec<usize>> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![1usize; rank];
    for s in shapes {
        let off = rank - s.len();
        for (i, &d) in s.iter().enumerate() {
            let o = &mut out[off + i];
            if *o == 1 {
                *o = d;
            } else if d != 1 && d != *o {
                let list: Vec<String> = shapes.iter().map(|s| format!("{s:?}")).collect();
                return Err(format!("shapes {} do not broadcast", list.join(", ")));
            }
        }
    }
    Ok(out)
}

/// Strides of a row-major tensor of `shape` seen through the broadcast to `out` (0 on broadcast dims).
/// `shape` must broadcast to `out` (checked by [`broadcast_shapes`]).
pub(crate) fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let own = strides(shape);
    let off = out.len() - shape.len();
    (0..out.len())
        .map(|i| {
            if i < off || shape[i - off] == 1 {
                0
            } else {
                own[i - off]
            }
        })
        .collect()
}

/// Call `f` with the flat offset into each input, for every element of `out` in row-major order.
/// Each input shape must broadcast to `out`.
pub(crate) fn for_each_offset<const N: usize>(
    out: &[usize],
    shapes: [&[usize]; N],
    f: impl FnMut([usize; N]),
) {
    let st: [Vec<isize>; N] = shapes.map(|s| {
        broadcast_strides(s, out)
            .into_iter()
            .map(|v| v as isize)
            .collect()
    });
    for_each_strided(out, [0; N], std::array::from_fn(|k| &st[k][..]), f);
}

/// Strided walk: for every index `i` of `out` (row-major), call `f` with `base[k] + Σ_d i[d]·strides[k][d]`
/// for each of the `N` operands. Strides may be negative (Slice with negative steps) or zero (broadcast);
/// the caller guarantees every visited offset is in bounds.
pub(crate) fn for_each_strided<const N: usize>(
    out: &[usize],
    base: [isize; N],
    strides: [&[isize]; N],
    mut f: impl FnMut([usize; N]),
) {
    if out.contains(&0) {
        return;
    }
    let Some((&last, outer)) = out.split_last() else {
        f(base.map(|b| b as usize));
        return;
    };
    let inner: [isize; N] = std::array::from_fn(|k| strides[k][outer.len()]);
    let mut idx = vec![0usize; outer.len()];
    let mut pos = base;
    loop {
        for j in 0..last as isize {
            f(std::array::from_fn(|k| (pos[k] + j * inner[k]) as usize));
        }
        // Odometer step over the outer dims, innermost first.
        let mut d = outer.len();
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            for k in 0..N {
                pos[k] += strides[k][d];
            }
            if idx[d] < outer[d] {
                break;
            }
            for k in 0..N {
                pos[k] -= strides[k][d] * outer[d] as isize;
            }
            idx[d] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_shape_rules() {
        assert_eq!(broadcast_shapes(&[&[2, 3], &[3]]).unwrap(), vec![2, 3]);
        assert_eq!(broadcast_shapes(&[&[], &[4, 1]]).unwrap(), vec![4, 1]);
        assert_eq!(broadcast_shapes(&[&[4, 1], &[1, 5]]).unwrap(), vec![4, 5]);
        assert_eq!(broadcast_shapes(&[&[0, 1], &[1, 5]]).unwrap(), vec![0, 5]);
        assert_eq!(
            broadcast_shapes(&[&[2, 3], &[2]]).unwrap_err(),
            "shapes [2, 3], [2] do not broadcast"
        );
    }

    #[test]
    fn offsets_follow_broadcast() {
        let mut seen = vec![];
        for_each_offset(&[2, 3], [&[2, 1], &[3]], |[a, b]| seen.push((a, b)));
        assert_eq!(seen, vec![(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]);
        let mut scalar = vec![];
        for_each_offset(&[], [&[]], |[a]| scalar.push(a));
        assert_eq!(scalar, vec![0]);
        let mut none = 0;
        for_each_offset(&[2, 0], [&[2, 0]], |_| none += 1);
        assert_eq!(none, 0);
    }
}
