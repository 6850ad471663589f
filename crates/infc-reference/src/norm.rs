//! Normalisations: `BatchNorm` (inference), `LayerNorm`, `Softmax` (with max subtraction).
//! All statistics and the normalisation itself are computed in f64 and rounded once to f32.

use crate::access::{norm_axis, tensor, view, OpResult};
use crate::broadcast::{broadcast_shapes, for_each_offset};
use infc_ir::{DType, Tensor};

fn require_f32(t: &Tensor, what: &str) -> OpResult<()> {
    if t.dtype != DType::F32 {
        return Err(format!("{what} must be float, got {}", t.dtype));
    }
    Ok(())
}

/// `(x, scale, bias, mean, var)`: `(x − mean)/√(var + ε)·scale + bias` per channel (dim 1).
pub(crate) fn batch_norm(epsilon: f32, inputs: [&Tensor; 5]) -> OpResult<Tensor> {
    let [x, scale, bias, mean, var] = inputs;
    if x.shape.len() < 2 {
        return Err(format!("X must be N×C×…, got shape {:?}", x.shape));
    }
    let c = x.shape[1];
    for (t, what) in [
        (x, "X"),
        (scale, "scale"),
        (bias, "B"),
        (mean, "mean"),
        (var, "var"),
    ] {
        require_f32(t, what)?;
        if what != "X" && t.shape != [c] {
            return Err(format!("{what} must have shape [{c}], got {:?}", t.shape));
        }
    }
    let xs = view::<f32>(x)?;
    let [s, b, m, v] = [scale, bias, mean, var]
        .map(|t| view::<f32>(t).map(|v| v.iter().map(|&f| f as f64).collect::<Vec<_>>()));
    let (s, b, m, v) = (s?, b?, m?, v?);
    let inner: usize = x.shape[2..].iter().product();
    let eps = epsilon as f64;
    let out: Vec<f32> = xs
        .iter()
        .enumerate()
        .map(|(i, &xv)| {
            let ch = (i / inner.max(1)) % c;
            ((xv as f64 - m[ch]) / (v[ch] + eps).sqrt() * s[ch] + b[ch]) as f32
        })
        .collect();
    tensor(x.shape.clone(), out)
}

/// `(x, scale, bias?)`: normalise over dims `axis..` (population variance), then scale and shift.
/// `scale`/`bias` broadcast to the normalised shape `x.shape[axis..]`.
pub(crate) fn layer_norm(
    axis: i64,
    epsilon: f32,
    x: &Tensor,
    scale: &Tensor,
    bias: Option<&Tensor>,
) -> OpResult<Tensor> {
    require_f32(x, "X")?;
    let axis = norm_axis(axis, x.shape.len())?;
    let norm_shape = &x.shape[axis..];
    let inner: usize = norm_shape.iter().product();
    let expand = |t: &Tensor, what: &str| -> OpResult<Vec<f64>> {
        require_f32(t, what)?;
        if broadcast_shapes(&[&t.shape, norm_shape]).ok().as_deref() != Some(norm_shape) {
            return Err(format!(
                "{what} of shape {:?} does not broadcast to the normalised shape {norm_shape:?}",
                t.shape
            ));
        }
        let v = view::<f32>(t)?;
        let mut out = Vec::with_capacity(inner);
        for_each_offset(norm_shape, [&t.shape], |[i]| out.push(v[i] as f64));
        Ok(out)
    };
    let s = expand(scale, "scale")?;
    let b = bias.map(|b| expand(b, "B")).transpose()?;
    let xs = view::<f32>(x)?;
    let eps = epsilon as f64;
    let mut out = Vec::with_capacity(xs.len());
    if inner > 0 {
        for row in xs.chunks_exact(inner) {
            let mean = row.iter().map(|&v| v as f64).sum::<f64>() / inner as f64;
            let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / inner as f64;
            let inv = 1.0 / (var + eps).sqrt();
            for (j, &v) in row.iter().enumerate() {
                let y = (v as f64 - mean) * inv * s[j] + b.as_ref().map_or(0.0, |b| b[j]);
                out.push(y as f32);
            }
        }
    }
    tensor(x.shape.clone(), out)
}

/// Softmax along `axis`: `exp(x − max) / Σ exp(x − max)`.
pub(crate) fn softmax(axis: i64, x: &Tensor) -> OpResult<Tensor> {
    require_f32(x, "input")?;
    let axis = norm_axis(axis, x.shape.len())?;
    let len = x.shape[axis];
    let inner: usize = x.shape[axis + 1..].iter().product();
    let outer: usize = x.shape[..axis].iter().product();
    let xs = view::<f32>(x)?;
    let mut out = vec![0f32; xs.len()];
    let mut e = vec![0f64; len];
    for o in 0..outer {
        for i in 0..inner {
            let at = |j: usize| (o * len + j) * inner + i;
            let max = (0..len)
                .map(|j| xs[at(j)] as f64)
                .fold(f64::NEG_INFINITY, f64::max);
            for (j, ej) in e.iter_mut().enumerate() {
                *ej = (xs[at(j)] as f64 - max).exp();
            }
            let sum: f64 = e.iter().sum();
            for (j, ej) in e.iter().enumerate() {
                out[at(j)] = (ej / sum) as f32;
            }
        }
    }
    tensor(x.shape.clone(), out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    #[test]
    fn batch_norm_by_hand() {
        let x = f32t(&[1, 2, 1, 2], &[1., 3., 10., 20.]);
        let y = batch_norm(
            0.0,
            [
                &x,
                &f32t(&[2], &[2., 1.]),
                &f32t(&[2], &[0.5, 0.]),
                &f32t(&[2], &[1., 10.]),
                &f32t(&[2], &[4., 25.]),
            ],
        )
        .unwrap();
        // ch0: (x-1)/2*2+0.5 → 0.5, 2.5; ch1: (x-10)/5 → 0, 2
        assert_eq!(f32s(&y), vec![0.5, 2.5, 0., 2.]);
        let e = batch_norm(0.0, [&x, &x, &x, &x, &x]).unwrap_err();
        assert_eq!(e, "scale must have shape [2], got [1, 2, 1, 2]");
    }

    #[test]
    fn layer_norm_rows_and_negative_axis() {
        let x = f32t(&[2, 2], &[1., 3., -1., -1.]);
        let y = f32s(
            &layer_norm(
                -1,
                0.0,
                &x,
                &f32t(&[2], &[1., 2.]),
                Some(&f32t(&[2], &[0., 1.])),
            )
            .unwrap(),
        );
        // Row 0: mean 2, var 1 → [-1, 1]·[1, 2] + [0, 1]. Row 1 has zero variance and ε = 0: 0/0.
        assert_close(&y[..2], &[-1., 3.], 1e-6);
        assert!(y[2].is_nan() && y[3].is_nan());
        let y = layer_norm(-1, 1e-5, &x, &f32t(&[], &[1.]), None).unwrap();
        assert_close(&f32s(&y), &[-0.999995, 0.999995, 0., 0.], 1e-6);
        let e = layer_norm(1, 0.0, &x, &f32t(&[3], &[1., 1., 1.]), None).unwrap_err();
        assert_eq!(
            e,
            "scale of shape [3] does not broadcast to the normalised shape [2]"
        );
    }

    /// torch.nn.functional.layer_norm(x, [3, 2], weight, bias, eps=1e-5) on
    /// x = arange(12).reshape(2,3,2)**1.5/7, weight = [[1,2],[3,4],[5,6]]/4, bias = [[-1,0],[1,0],[0,1]]
    /// (python3, once): normalising over the last two dims.
    #[test]
    fn layer_norm_two_axes_against_torch() {
        let x: Vec<f32> = (0..12).map(|i| (i as f32).powf(1.5) / 7.).collect();
        let w: Vec<f32> = (1..7).map(|i| i as f32 / 4.).collect();
        let b = [-1., 0., 1., 0., 0., 1.];
        let y = layer_norm(
            1,
            1e-5,
            &f32t(&[2, 3, 2], &x),
            &f32t(&[3, 2], &w),
            Some(&f32t(&[3, 2], &b)),
        )
        .unwrap();
        assert_close(&f32s(&y), &TORCH_LN, 1e-5);
    }

    #[rustfmt::skip]
    const TORCH_LN: [f32; 12] = [
        -1.2994429, -0.4714855, 0.642185, 0.126211, 1.0507914, 3.476_478,
        -1.3508842, -0.4452946, 0.7453292, 0.2470774, 1.0841031, 3.2789903,
    ];

    #[test]
    fn softmax_axes_and_stability() {
        let x = f32t(&[2, 2], &[1000., 1000., 0., (3f32).ln()]);
        let y = softmax(1, &x).unwrap();
        assert_close(&f32s(&y), &[0.5, 0.5, 0.25, 0.75], 1e-6);
        let y = softmax(0, &f32t(&[2, 1], &[0., 0.])).unwrap();
        assert_eq!(f32s(&y), vec![0.5, 0.5]);
        let y = softmax(-1, &f32t(&[3], &[f32::NEG_INFINITY, 0., f32::NEG_INFINITY])).unwrap();
        assert_eq!(f32s(&y), vec![0., 1., 0.]);
        assert_eq!(
            softmax(2, &x).unwrap_err(),
            "axis 2 is out of range for rank 2"
        );
    }
}
