//! `MatMul` (numpy semantics: batch broadcasting, 1-D promotion) and `Gemm` (transposes, alpha, beta,
//! bias broadcast to `[M, N]`).
//!
//! Float products are accumulated in f64 and rounded once to f32 (an oracle tighter than any
//! optimised f32 kernel). Integer (i32/i64) products are exact with two's complement wrap. The float
//! kernel walks `i-k-j` over column panels of B converted to f64 once, so its innermost loop is a
//! contiguous multiply-add over one output row.

use crate::access::{tensor, view, OpResult};
use crate::broadcast::{broadcast_shapes, for_each_offset};
use infc_ir::{DType, Tensor};

/// `a (m×k) · b (k×n)` accumulated in f64, row-major `m×n`.
fn matmul_f64(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut out = vec![0f64; m * n];
    // Panel of B columns sized to about 1 MiB of f64.
    let cols = (131_072 / k.max(1)).clamp(16, 1024).min(n.max(1));
    let mut panel = vec![0f64; k * cols];
    for j0 in (0..n).step_by(cols) {
        let jw = cols.min(n - j0);
        for kk in 0..k {
            let src = &b[kk * n + j0..][..jw];
            for (p, &v) in panel[kk * jw..][..jw].iter_mut().zip(src) {
                *p = v as f64;
            }
        }
        for i in 0..m {
            let row = &mut out[i * n + j0..][..jw];
            let a_row = &a[i * k..][..k];
            for (kk, &aik) in a_row.iter().enumerate() {
                let aik = aik as f64;
                for (o, &p) in row.iter_mut().zip(&panel[kk * jw..][..jw]) {
                    *o += aik * p;
                }
            }
        }
    }
    out
}

/// `a (m×k) · b (k×n)` on i64 with wrapping.
fn matmul_i64(a: &[i64], b: &[i64], m: usize, k: usize, n: usize) -> Vec<i64> {
    let mut out = vec![0i64; m * n];
    for i in 0..m {
        let row = &mut out[i * n..][..n];
        for kk in 0..k {
            let aik = a[i * k + kk];
            for (o, &v) in row.iter_mut().zip(&b[kk * n..][..n]) {
                *o = o.wrapping_add(aik.wrapping_mul(v));
            }
        }
    }
    out
}

/// Element data of a MatMul/Gemm operand: f32 or exact integers.
enum Operand<'a> {
    F32(std::borrow::Cow<'a, [f32]>),
    Int(Vec<i64>),
}

fn operands<'a>(a: &'a Tensor, b: &'a Tensor) -> OpResult<(Operand<'a>, Operand<'a>)> {
    if a.dtype != b.dtype {
        return Err(format!(
            "A and B dtypes differ: {} and {}",
            a.dtype, b.dtype
        ));
    }
    match a.dtype {
        DType::F32 => Ok((Operand::F32(view::<f32>(a)?), Operand::F32(view::<f32>(b)?))),
        DType::I64 | DType::I32 => {
            let int = |t: &Tensor| t.to_i64_vec().map_err(|e| e.to_string());
            Ok((Operand::Int(int(a)?), Operand::Int(int(b)?)))
        }
        d => Err(format!("does not accept {d} tensors (f32, i32, i64 only)")),
    }
}

/// Integer results back to the operand dtype (wrapping).
fn int_tensor(dtype: DType, shape: Vec<usize>, v: Vec<i64>) -> OpResult<Tensor> {
    match dtype {
        DType::I32 => tensor(shape, v.into_iter().map(|x| x as i32).collect()),
        _ => tensor(shape, v),
    }
}

pub(crate) fn matmul(a: &Tensor, b: &Tensor) -> OpResult<Tensor> {
    if a.shape.is_empty() || b.shape.is_empty() {
        return Err(format!(
            "inputs must have rank ≥ 1, got {:?} and {:?}",
            a.shape, b.shape
        ));
    }
    let a_shape = if a.shape.len() == 1 {
        vec![1, a.shape[0]]
    } else {
        a.shape.clone()
    };
    let b_shape = if b.shape.len() == 1 {
        vec![b.shape[0], 1]
    } else {
        b.shape.clone()
    };
    let (ra, rb) = (a_shape.len(), b_shape.len());
    let (m, k) = (a_shape[ra - 2], a_shape[ra - 1]);
    let (k2, n) = (b_shape[rb - 2], b_shape[rb - 1]);
    if k != k2 {
        return Err(format!(
            "inner dimensions differ: A {:?} × B {:?}",
            a.shape, b.shape
        ));
    }
    let (batch_a, batch_b) = (&a_shape[..ra - 2], &b_shape[..rb - 2]);
    let batch = broadcast_shapes(&[batch_a, batch_b]).map_err(|_| {
        format!(
            "batch dimensions do not broadcast: A {:?} × B {:?}",
            a.shape, b.shape
        )
    })?;
    let mut shape = batch.clone();
    if a.shape.len() > 1 {
        shape.push(m);
    }
    if b.shape.len() > 1 {
        shape.push(n);
    }
    let mut pairs = Vec::new();
    for_each_offset(&batch, [batch_a, batch_b], |[i, j]| pairs.push((i, j)));
    let (sa, sb) = (m * k, k * n);
    match operands(a, b)? {
        (Operand::F32(x), Operand::F32(y)) => {
            let mut out = Vec::with_capacity(pairs.len() * m * n);
            for &(i, j) in &pairs {
                let r = matmul_f64(&x[i * sa..][..sa], &y[j * sb..][..sb], m, k, n);
                out.extend(r.into_iter().map(|v| v as f32));
            }
            tensor(shape, out)
        }
        (Operand::Int(x), Operand::Int(y)) => {
            let mut out = Vec::with_capacity(pairs.len() * m * n);
            for &(i, j) in &pairs {
                out.extend(matmul_i64(&x[i * sa..][..sa], &y[j * sb..][..sb], m, k, n));
            }
            int_tensor(a.dtype, shape, out)
        }
        _ => unreachable!("operands() returns matching kinds"),
    }
}

/// Row-major transpose of an `r×c` matrix.
fn transpose2<T: Copy>(v: &[T], r: usize, c: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(r * c);
    for j in 0..c {
        out.extend((0..r).map(|i| v[i * c + j]));
    }
    out
}

/// `Y = alpha·op(A)·op(B) + beta·C`. C is skipped when `beta == 0` (as onnxruntime does), so a NaN
/// in an unused bias does not leak. Integer Gemm is exact when alpha = beta = 1; otherwise it goes
/// through f64 and truncates toward zero.
pub(crate) fn gemm(
    alpha: f32,
    beta: f32,
    trans_a: bool,
    trans_b: bool,
    a: &Tensor,
    b: &Tensor,
    c: Option<&Tensor>,
) -> OpResult<Tensor> {
    if a.shape.len() != 2 || b.shape.len() != 2 {
        return Err(format!(
            "A and B must be 2-D, got {:?} and {:?}",
            a.shape, b.shape
        ));
    }
    let (m, k) = if trans_a {
        (a.shape[1], a.shape[0])
    } else {
        (a.shape[0], a.shape[1])
    };
    let (k2, n) = if trans_b {
        (b.shape[1], b.shape[0])
    } else {
        (b.shape[0], b.shape[1])
    };
    if k != k2 {
        return Err(format!(
            "inner dimensions differ: A {:?} (trans_a {trans_a}) × B {:?} (trans_b {trans_b})",
            a.shape, b.shape
        ));
    }
    let c = c.filter(|_| beta != 0.0);
    if let Some(c) = c {
        if c.dtype != a.dtype {
            return Err(format!("C is {} but A is {}", c.dtype, a.dtype));
        }
        let ok =
            c.shape.len() <= 2 && broadcast_shapes(&[&c.shape, &[m, n]]).is_ok_and(|s| s == [m, n]);
        if !ok {
            return Err(format!(
                "C of shape {:?} does not broadcast to [{m}, {n}]",
                c.shape
            ));
        }
    }
    let c_at = |f: &mut dyn FnMut(usize, usize)| {
        if let Some(c) = c {
            let mut o = 0;
            for_each_offset(&[m, n], [&c.shape], |[j]| {
                f(o, j);
                o += 1;
            });
        }
    };
    let (alpha64, beta64) = (alpha as f64, beta as f64);
    match operands(a, b)? {
        (Operand::F32(x), Operand::F32(y)) => {
            let x = if trans_a {
                std::borrow::Cow::Owned(transpose2(&x, k, m))
            } else {
                x
            };
            let y = if trans_b {
                std::borrow::Cow::Owned(transpose2(&y, n, k))
            } else {
                y
            };
            let mut acc = matmul_f64(&x, &y, m, k, n);
            acc.iter_mut().for_each(|v| *v *= alpha64);
            if let Some(c) = c {
                let cv = view::<f32>(c)?;
                c_at(&mut |o, j| acc[o] += beta64 * cv[j] as f64);
            }
            tensor(vec![m, n], acc.into_iter().map(|v| v as f32).collect())
        }
        (Operand::Int(x), Operand::Int(y)) => {
            let x = if trans_a { transpose2(&x, k, m) } else { x };
            let y = if trans_b { transpose2(&y, n, k) } else { y };
            let mut acc = matmul_i64(&x, &y, m, k, n);
            let exact = alpha == 1.0 && (beta == 1.0 || c.is_none());
            if !exact {
                acc.iter_mut()
                    .for_each(|v| *v = (*v as f64 * alpha64) as i64);
            }
            if let Some(c) = c {
                let cv = c.to_i64_vec().map_err(|e| e.to_string())?;
                c_at(&mut |o, j| {
                    acc[o] = if exact {
                        acc[o].wrapping_add(cv[j])
                    } else {
                        (acc[o] as f64 + beta64 * cv[j] as f64) as i64
                    }
                });
            }
            int_tensor(a.dtype, vec![m, n], acc)
        }
        _ => unreachable!("operands() returns matching kinds"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    #[test]
    fn matmul_2d_by_hand() {
        let a = f32t(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
        let b = f32t(&[3, 2], &[7., 8., 9., 10., 11., 12.]);
        let y = matmul(&a, &b).unwrap();
        assert_eq!(y.shape, vec![2, 2]);
        assert_eq!(f32s(&y), vec![58., 64., 139., 154.]);
    }

    #[test]
    fn one_d_promotion() {
        let v = f32t(&[3], &[1., 2., 3.]);
        let m = f32t(&[3, 2], &[1., 0., 0., 1., 1., 1.]);
        let y = matmul(&v, &m).unwrap();
        assert_eq!((y.shape.clone(), f32s(&y)), (vec![2], vec![4., 5.]));
        let mt = f32t(&[2, 3], &[1., 0., 1., 0., 1., 1.]);
        let y = matmul(&mt, &v).unwrap();
        assert_eq!((y.shape.clone(), f32s(&y)), (vec![2], vec![4., 5.]));
        let y = matmul(&v, &v).unwrap();
        assert_eq!((y.shape.clone(), f32s(&y)), (vec![], vec![14.]));
    }

    #[test]
    fn batch_broadcast() {
        // A: [2,1,2,2], B: [3,2,2] → [2,3,2,2]
        let a = f32t(&[2, 1, 2, 2], &[1., 0., 0., 1., 2., 0., 0., 2.]);
        let b = f32t(&[3, 2, 2], &iota(12));
        let y = matmul(&a, &b).unwrap();
        assert_eq!(y.shape, vec![2, 3, 2, 2]);
        let mut want = iota(12);
        want.extend(iota(12).iter().map(|v| 2. * v));
        assert_eq!(f32s(&y), want);
        let e = matmul(&f32t(&[2, 2, 2], &[0.; 8]), &f32t(&[3, 2, 2], &[0.; 12])).unwrap_err();
        assert_eq!(
            e,
            "batch dimensions do not broadcast: A [2, 2, 2] × B [3, 2, 2]"
        );
        let e = matmul(&f32t(&[2, 3], &[0.; 6]), &f32t(&[2, 3], &[0.; 6])).unwrap_err();
        assert_eq!(e, "inner dimensions differ: A [2, 3] × B [2, 3]");
    }

    #[test]
    fn integer_matmul_exact() {
        let a = i64t(&[1, 2], &[1 << 40, 3]);
        let b = i64t(&[2, 1], &[1 << 20, 5]);
        assert_eq!(i64s(&matmul(&a, &b).unwrap()), vec![(1i64 << 60) + 15]);
        let a = i32t(&[1, 1], &[i32::MAX]);
        assert_eq!(i32s(&matmul(&a, &i32t(&[1, 1], &[2])).unwrap()), vec![-2]);
        let e = matmul(&u8t(&[1, 1], &[1]), &u8t(&[1, 1], &[1])).unwrap_err();
        assert_eq!(e, "does not accept u8 tensors (f32, i32, i64 only)");
    }

    #[test]
    fn wide_matmul_crosses_panels() {
        // n larger than one column panel: k = 1 → panel of 1024 columns, n = 2500.
        let (k, n) = (1, 2500);
        let a = f32t(&[2, k], &[1., -2.]);
        let b = f32t(&[k, n], &iota(n));
        let y = f32s(&matmul(&a, &b).unwrap());
        assert_eq!(y[2499], 2499.);
        assert_eq!(y[n + 1234], -2468.);
    }

    #[test]
    fn gemm_trans_alpha_beta_bias() {
        // A^T with A = [[1,3],[2,4]] (so A^T = [[1,2],[3,4]]), B^T with B = [[5,7],[6,8]].
        let a = f32t(&[2, 2], &[1., 3., 2., 4.]);
        let b = f32t(&[2, 2], &[5., 7., 6., 8.]);
        let c = f32t(&[2], &[1., -1.]);
        let y = gemm(2.0, 0.5, true, true, &a, &b, Some(&c)).unwrap();
        // A^T·B^T = [[1,2],[3,4]]·[[5,6],[7,8]] = [[19,22],[43,50]]; ×2 + 0.5·[1,-1].
        assert_eq!(f32s(&y), vec![38.5, 43.5, 86.5, 99.5]);
        let c = f32t(&[2, 1], &[10., 20.]);
        let y = gemm(1.0, 1.0, true, true, &a, &b, Some(&c)).unwrap();
        assert_eq!(f32s(&y), vec![29., 32., 63., 70.]);
        let nan_c = f32t(&[], &[f32::NAN]);
        assert_eq!(
            f32s(&gemm(1.0, 0.0, true, true, &a, &b, Some(&nan_c)).unwrap()),
            vec![19., 22., 43., 50.]
        );
        let e = gemm(1.0, 1.0, false, false, &a, &b, Some(&f32t(&[3], &[0.; 3]))).unwrap_err();
        assert_eq!(e, "C of shape [3] does not broadcast to [2, 2]");
    }

    #[test]
    fn gemm_integer() {
        let a = i64t(&[1, 2], &[2, 3]);
        let b = i64t(&[2, 1], &[4, 5]);
        assert_eq!(
            i64s(&gemm(1.0, 1.0, false, false, &a, &b, Some(&i64t(&[], &[1]))).unwrap()),
            vec![24]
        );
        assert_eq!(
            i64s(&gemm(0.5, 1.0, false, false, &a, &b, None).unwrap()),
            vec![11]
        );
    }

    /// numpy float64 matmul of a 3×4 by 4×5 pattern (python3, once), rounded to f32.
    #[test]
    fn matmul_against_numpy() {
        let a: Vec<f32> = (0..12).map(|i| ((i * 7 % 11) as f32 - 5.) / 3.).collect();
        let b: Vec<f32> = (0..20).map(|i| ((i * 5 % 13) as f32 - 6.) / 7.).collect();
        let y = matmul(&f32t(&[3, 4], &a), &f32t(&[4, 5], &b)).unwrap();
        assert_close(&f32s(&y), &NUMPY_MATMUL, 1e-6);
    }

    #[rustfmt::skip]
    const NUMPY_MATMUL: [f32; 15] = [
        2.4761906, -0.61904764, -0.61904764, 2.4761906, -0.61904764, -0.19047616, -0.33333334, 0.14285718, -0.61904764, -0.14285715, 0.8095238, 1.0, -0.66666675, -1.095238, 0.33333334,
    ];
}
