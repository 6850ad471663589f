//! Elementwise ops: `Unary`, `Binary` (numpy broadcasting), `Where`, `Clip`.
//!
//! Precision: f32 transcendental functions (Sqrt, Erf, Tanh, Sigmoid, Exp, Log, Pow) are computed in
//! f64 and rounded once to f32, so they are correctly rounded in practice. f32 Add/Sub/Mul/Div are
//! computed in f32 (IEEE, exactly what any runtime does). Integer ops are exact with two's complement
//! wrap; integer Div truncates toward zero and a zero divisor is an error. Max/Min/Relu/Clip
//! propagate NaN (as numpy and torch do). Comparisons with NaN are false (Equal included).

use crate::access::{bool_tensor, bools, bytes_tensor, raw, tensor, view, OpResult};
use crate::broadcast::{broadcast_shapes, for_each_offset};
use crate::erf::erf;
use crate::num::{dispatch_num, Num};
use infc_ir::{BinaryOp, DType, Tensor, UnaryOp};

pub(crate) fn unary(op: UnaryOp, x: &Tensor) -> OpResult<Tensor> {
    let shape = x.shape.clone();
    match op {
        UnaryOp::Not => {
            let v = bools(x, "input")?;
            bool_tensor(shape, &v.iter().map(|b| !b).collect::<Vec<_>>())
        }
        UnaryOp::IsNaN => {
            let v = float_input(x)?;
            bool_tensor(shape, &v.iter().map(|f| f.is_nan()).collect::<Vec<_>>())
        }
        UnaryOp::Relu => dispatch_num!(x.dtype, "Relu", |T| {
            if !T::IS_SIGNED {
                return Err(format!("does not accept {} tensors", x.dtype));
            }
            map::<T>(x, |v| if v < T::zero() { T::zero() } else { v })
        }),
        UnaryOp::Neg => dispatch_num!(x.dtype, "Neg", |T| {
            if !T::IS_SIGNED {
                return Err(format!("does not accept {} tensors", x.dtype));
            }
            map::<T>(x, <T as Num>::neg)
        }),
        UnaryOp::Abs => dispatch_num!(x.dtype, "Abs", |T| map::<T>(x, <T as Num>::abs)),
        UnaryOp::Sqrt => float_map(x, f64::sqrt),
        UnaryOp::Erf => float_map(x, erf),
        UnaryOp::Tanh => float_map(x, f64::tanh),
        UnaryOp::Sigmoid => float_map(x, |v| 1.0 / (1.0 + (-v).exp())),
        UnaryOp::Exp => float_map(x, f64::exp),
        UnaryOp::Log => float_map(x, f64::ln),
        UnaryOp::Reciprocal => float_map(x, |v| 1.0 / v),
        UnaryOp::Floor => float_map(x, f64::floor),
        UnaryOp::Ceil => float_map(x, f64::ceil),
        UnaryOp::Sin => float_map(x, f64::sin),
        UnaryOp::Cos => float_map(x, f64::cos),
    }
}

fn float_input(x: &Tensor) -> OpResult<std::borrow::Cow<'_, [f32]>> {
    if x.dtype != DType::F32 {
        return Err(format!("needs a float tensor, got {}", x.dtype));
    }
    view::<f32>(x)
}

fn float_map(x: &Tensor, f: impl Fn(f64) -> f64) -> OpResult<Tensor> {
    let v = float_input(x)?;
    tensor(
        x.shape.clone(),
        v.iter().map(|&a| f(a as f64) as f32).collect(),
    )
}

fn map<T: Num>(x: &Tensor, f: impl Fn(T) -> T) -> OpResult<Tensor> {
    let v = view::<T>(x)?;
    tensor(x.shape.clone(), v.iter().map(|&a| f(a)).collect())
}

pub(crate) fn binary(op: BinaryOp, a: &Tensor, b: &Tensor) -> OpResult<Tensor> {
    let out = broadcast_shapes(&[&a.shape, &b.shape])?;
    if op == BinaryOp::Pow {
        return pow(a, b, out);
    }
    if a.dtype != b.dtype {
        return Err(format!("input dtypes differ: {} and {}", a.dtype, b.dtype));
    }
    use BinaryOp::*;
    match op {
        And | Or | Xor => {
            let (x, y) = (bools(a, "A")?, bools(b, "B")?);
            let f = |p: bool, q: bool| match op {
                And => p && q,
                Or => p || q,
                _ => p != q,
            };
            let mut r = Vec::with_capacity(out.iter().product());
            for_each_offset(&out, [&a.shape, &b.shape], |[i, j]| r.push(f(x[i], y[j])));
            bool_tensor(out, &r)
        }
        Equal if a.dtype == DType::Bool => {
            let (x, y) = (bools(a, "A")?, bools(b, "B")?);
            let mut r = Vec::with_capacity(out.iter().product());
            for_each_offset(&out, [&a.shape, &b.shape], |[i, j]| r.push(x[i] == y[j]));
            bool_tensor(out, &r)
        }
        Equal | Less | LessOrEqual | Greater | GreaterOrEqual => {
            dispatch_num!(a.dtype, op_name(op), |T| compare::<T>(op, a, b, out))
        }
        Add | Sub | Mul | Div | Max | Min => {
            dispatch_num!(a.dtype, op_name(op), |T| arith::<T>(op, a, b, out))
        }
        Mod | FMod => dispatch_num!(a.dtype, op_name(op), |T| modulo::<T>(op, a, b, out)),
        Pow => unreachable!("Pow handled above"),
    }
}

fn op_name(op: BinaryOp) -> &'static str {
    infc_ir::Op::Binary(op).name()
}

fn compare<T: Num>(op: BinaryOp, a: &Tensor, b: &Tensor, out: Vec<usize>) -> OpResult<Tensor> {
    let (x, y) = (view::<T>(a)?, view::<T>(b)?);
    let f = |p: T, q: T| match op {
        BinaryOp::Equal => p == q,
        BinaryOp::Less => p < q,
        BinaryOp::LessOrEqual => p <= q,
        BinaryOp::Greater => p > q,
        _ => p >= q,
    };
    let mut r = Vec::with_capacity(out.iter().product());
    for_each_offset(&out, [&a.shape, &b.shape], |[i, j]| r.push(f(x[i], y[j])));
    bool_tensor(out, &r)
}

/// NaN-propagating max/min.
fn nan_max<T: Num>(p: T, q: T) -> T {
    if p.is_nan() || p > q {
        p
    } else {
        q
    }
}

fn nan_min<T: Num>(p: T, q: T) -> T {
    if p.is_nan() || p < q {
        p
    } else {
        q
    }
}

fn arith<T: Num>(op: BinaryOp, a: &Tensor, b: &Tensor, out: Vec<usize>) -> OpResult<Tensor> {
    let (x, y) = (view::<T>(a)?, view::<T>(b)?);
    if op == BinaryOp::Div && !T::IS_FLOAT && y.iter().any(|&v| v == T::zero()) && !out.contains(&0)
    {
        return Err("integer division by zero".into());
    }
    let f = |p: T, q: T| match op {
        BinaryOp::Add => p.add(q),
        BinaryOp::Sub => p.sub(q),
        BinaryOp::Mul => p.mul(q),
        BinaryOp::Div => p.div(q),
        BinaryOp::Max => nan_max(p, q),
        _ => nan_min(p, q),
    };
    let mut r = Vec::with_capacity(out.iter().product());
    for_each_offset(&out, [&a.shape, &b.shape], |[i, j]| r.push(f(x[i], y[j])));
    tensor(out, r)
}

/// ONNX Mod: `Mod` (fmod=0, integers only) takes the divisor's sign like Python's `%`; `FMod`
/// (fmod=1) is C's `fmod`, the dividend's sign, on integers or floats (exact through f64).
fn modulo<T: Num>(op: BinaryOp, a: &Tensor, b: &Tensor, out: Vec<usize>) -> OpResult<Tensor> {
    let (x, y) = (view::<T>(a)?, view::<T>(b)?);
    if T::IS_FLOAT && op == BinaryOp::Mod {
        return Err("Mod of floating-point tensors needs fmod=1".into());
    }
    if !T::IS_FLOAT && y.iter().any(|&v| v == T::zero()) && !out.contains(&0) {
        return Err("integer modulo by zero".into());
    }
    let f = |p: T, q: T| {
        if T::IS_FLOAT {
            T::from_f64(p.to_f64() % q.to_f64())
        } else {
            let (p, q) = (p.to_i64(), q.to_i64());
            let r = p.wrapping_rem(q);
            let python = op == BinaryOp::Mod && r != 0 && (r < 0) != (q < 0);
            T::from_i64_wrapping(if python { r.wrapping_add(q) } else { r })
        }
    };
    let mut r = Vec::with_capacity(out.iter().product());
    for_each_offset(&out, [&a.shape, &b.shape], |[i, j]| r.push(f(x[i], y[j])));
    tensor(out, r)
}

/// ONNX Pow: the output has the base's dtype; the exponent may have another numeric dtype.
/// Integer base with integer exponent is exact (wrapping); anything involving a float goes through
/// f64 `powf` and converts to the base type (truncating toward zero for integer bases).
fn pow(a: &Tensor, b: &Tensor, out: Vec<usize>) -> OpResult<Tensor> {
    if b.dtype == DType::Bool {
        return Err("exponent must be numeric, got bool".into());
    }
    dispatch_num!(a.dtype, "Pow", |T| {
        let x = view::<T>(a)?;
        let mut r: Vec<T> = Vec::with_capacity(out.iter().product());
        if !T::IS_FLOAT && b.dtype.is_integer() {
            let y = b.to_i64_vec().map_err(|e| e.to_string())?;
            let mut err = None;
            for_each_offset(&out, [&a.shape, &b.shape], |[i, j]| {
                match int_pow(x[i], y[j]) {
                    Ok(v) => r.push(v),
                    Err(e) => {
                        err.get_or_insert(e);
                        r.push(T::zero())
                    }
                }
            });
            if let Some(e) = err {
                return Err(e);
            }
        } else {
            let y = b.to_f64_vec().map_err(|e| e.to_string())?;
            for_each_offset(&out, [&a.shape, &b.shape], |[i, j]| {
                r.push(T::from_f64(x[i].to_f64().powf(y[j])))
            });
        }
        tensor(out, r)
    })
}

/// Exact integer power with wrapping; a negative exponent gives `1 / base^|e|` truncated toward zero.
fn int_pow<T: Num>(base: T, e: i64) -> OpResult<T> {
    if e < 0 {
        let one = T::one();
        return if base == T::zero() {
            Err("0 raised to a negative integer power".into())
        } else if base == one {
            Ok(one)
        } else if T::IS_SIGNED && base == one.neg() {
            Ok(if e % 2 == 0 { one } else { base })
        } else {
            Ok(T::zero())
        };
    }
    let (mut result, mut b, mut e) = (T::one(), base, e as u64);
    while e > 0 {
        if e & 1 == 1 {
            result = result.mul(b);
        }
        b = b.mul(b);
        e >>= 1;
    }
    Ok(result)
}

/// `(cond, a, b)`: element from `a` where `cond`, else from `b`; all three broadcast.
pub(crate) fn where_(cond: &Tensor, a: &Tensor, b: &Tensor) -> OpResult<Tensor> {
    let c = bools(cond, "condition")?;
    if a.dtype != b.dtype {
        return Err(format!(
            "X and Y dtypes differ: {} and {}",
            a.dtype, b.dtype
        ));
    }
    let out = broadcast_shapes(&[&cond.shape, &a.shape, &b.shape])?;
    let size = a.dtype.size();
    let (x, y) = (raw(a)?, raw(b)?);
    let mut r = Vec::with_capacity(out.iter().product::<usize>() * size);
    for_each_offset(&out, [&cond.shape, &a.shape, &b.shape], |[k, i, j]| {
        let (src, at) = if c[k] { (x, i) } else { (y, j) };
        r.extend_from_slice(&src[at * size..(at + 1) * size]);
    });
    bytes_tensor(a.dtype, out, &r)
}

/// `(x, min, max)`: `min(max(x, lo), hi)`; `lo`/`hi` are one-element tensors of x's dtype.
pub(crate) fn clip(x: &Tensor, lo: &Tensor, hi: &Tensor) -> OpResult<Tensor> {
    for (t, what) in [(lo, "min"), (hi, "max")] {
        if t.dtype != x.dtype {
            return Err(format!("{what} is {} but input is {}", t.dtype, x.dtype));
        }
        if t.numel() != 1 {
            return Err(format!("{what} must be a scalar, got shape {:?}", t.shape));
        }
    }
    dispatch_num!(x.dtype, "Clip", |T| {
        let (l, h) = (view::<T>(lo)?[0], view::<T>(hi)?[0]);
        map::<T>(x, |v| {
            if v.is_nan() {
                v
            } else {
                nan_min(nan_max(v, l), h)
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    #[test]
    fn add_broadcasts_rank0_and_rows() {
        let a = f32t(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
        let s = f32t(&[], &[10.]);
        let r = binary(BinaryOp::Add, &a, &s).unwrap();
        assert_eq!(r.shape, vec![2, 3]);
        assert_eq!(f32s(&r), vec![11., 12., 13., 14., 15., 16.]);
        let col = f32t(&[2, 1], &[100., 200.]);
        let r = binary(BinaryOp::Sub, &col, &a).unwrap();
        assert_eq!(f32s(&r), vec![99., 98., 97., 196., 195., 194.]);
        let r = binary(BinaryOp::Mul, &s, &s).unwrap();
        assert_eq!((r.shape.clone(), f32s(&r)), (vec![], vec![100.]));
    }

    #[test]
    fn empty_broadcast() {
        let a = f32t(&[0, 3], &[]);
        let b = f32t(&[1, 3], &[1., 2., 3.]);
        let r = binary(BinaryOp::Add, &a, &b).unwrap();
        assert_eq!(r.shape, vec![0, 3]);
        assert_eq!(r.numel(), 0);
    }

    #[test]
    fn mod_takes_the_divisors_sign_and_fmod_the_dividends() {
        let a = i64t(&[4], &[7, -7, 7, -8]);
        let b = i64t(&[4], &[3, 3, -3, 4]);
        assert_eq!(
            i64s(&binary(BinaryOp::Mod, &a, &b).unwrap()),
            vec![1, 2, -2, 0]
        );
        assert_eq!(
            i64s(&binary(BinaryOp::FMod, &a, &b).unwrap()),
            vec![1, -1, 1, 0]
        );
        let x = f32t(&[2], &[-7.5, 7.5]);
        let y = f32t(&[], &[2.0]);
        assert_eq!(
            f32s(&binary(BinaryOp::FMod, &x, &y).unwrap()),
            vec![-1.5, 1.5]
        );
        assert!(binary(BinaryOp::Mod, &x, &y)
            .unwrap_err()
            .contains("fmod=1"));
        let z = i64t(&[], &[0]);
        assert_eq!(
            binary(BinaryOp::Mod, &a, &z).unwrap_err(),
            "integer modulo by zero"
        );
    }

    #[test]
    fn integer_division_truncates_and_rejects_zero() {
        let a = i64t(&[4], &[7, -7, 7, i64::MIN]);
        let b = i64t(&[4], &[2, 2, -2, -1]);
        assert_eq!(
            i64s(&binary(BinaryOp::Div, &a, &b).unwrap()),
            vec![3, -3, -3, i64::MIN]
        );
        let z = i64t(&[], &[0]);
        assert_eq!(
            binary(BinaryOp::Div, &a, &z).unwrap_err(),
            "integer division by zero"
        );
        let i = i32t(&[2], &[i32::MAX, 5]);
        assert_eq!(
            i32s(&binary(BinaryOp::Add, &i, &i32t(&[], &[1])).unwrap()),
            vec![i32::MIN, 6]
        );
    }

    #[test]
    fn pow_mixed_types() {
        let x = f32t(&[3], &[2., 4., -8.]);
        assert_eq!(
            f32s(&binary(BinaryOp::Pow, &x, &f32t(&[], &[0.5])).unwrap())[..2],
            [2f32.sqrt(), 2.]
        );
        assert_eq!(
            f32s(&binary(BinaryOp::Pow, &x, &i64t(&[], &[2])).unwrap()),
            vec![4., 16., 64.]
        );
        let i = i64t(&[4], &[3, -2, 1, -1]);
        assert_eq!(
            i64s(&binary(BinaryOp::Pow, &i, &i64t(&[], &[3])).unwrap()),
            vec![27, -8, 1, -1]
        );
        assert_eq!(
            i64s(&binary(BinaryOp::Pow, &i, &i64t(&[], &[-1])).unwrap()),
            vec![0, 0, 1, -1]
        );
        assert_eq!(
            i64s(&binary(BinaryOp::Pow, &i, &f32t(&[], &[0.5])).unwrap())[0],
            1
        );
        let r = binary(BinaryOp::Pow, &i64t(&[1], &[0]), &i64t(&[1], &[-2])).unwrap_err();
        assert_eq!(r, "0 raised to a negative integer power");
    }

    /// Expected integer `base^e`: std's `wrapping_pow` (u32 exponents) for `e ≥ 0`, as
    /// `(b^(2^32))^(e >> 32) · b^(e mod 2^32)`; for `e < 0`, `1 / base^|e|` truncated toward zero,
    /// `None` (an error) for base 0.
    macro_rules! pow_oracle {
        ($t:ty, $b:expr, $e:expr) => {{
            let (b, e): ($t, i64) = ($b, $e);
            if e >= 0 {
                let (e, b32) = (e as u64, b.wrapping_pow(1 << 16).wrapping_pow(1 << 16));
                Some(
                    b32.wrapping_pow((e >> 32) as u32)
                        .wrapping_mul(b.wrapping_pow(e as u32)),
                )
            } else {
                match b as i64 {
                    0 => None,
                    1 => Some(b),
                    -1 if e % 2 != 0 => Some(b),
                    -1 => Some(1),
                    _ => Some(0),
                }
            }
        }};
    }

    /// Every base in `$bases` (dtype `$t`) to every exponent in `$exps` (dtype `$e`), one scalar
    /// pair at a time, then the non-zero bases once broadcast (a column against a row of exponents).
    macro_rules! check_pow {
        ($t:ty, $e:ty, $bases:expr, $exps:expr) => {{
            let (bases, exps): (&[$t], &[$e]) = (&$bases, &$exps);
            let mut want = Vec::new();
            for &b in bases {
                for &e in exps {
                    let r = binary(BinaryOp::Pow, &Tensor::scalar(b), &Tensor::scalar(e));
                    let what = format!("{}^{}: {b}^{e}", stringify!($t), stringify!($e));
                    match pow_oracle!($t, b, e as i64) {
                        Some(w) => {
                            let r = r.expect(&what);
                            assert_eq!(r.dtype, Tensor::scalar(b).dtype, "{what}");
                            assert_eq!(r.view::<$t>().expect(&what)[0], w, "{what}");
                            if b != 0 {
                                want.push(w);
                            }
                        }
                        None => {
                            let err = r.expect_err(&what);
                            assert_eq!(err, "0 raised to a negative integer power", "{what}");
                        }
                    }
                }
            }
            let nonzero: Vec<$t> = bases.iter().copied().filter(|&b| b != 0).collect();
            let col = Tensor::from_vec(vec![nonzero.len(), 1], nonzero).expect("shape");
            let row = Tensor::from_vec(vec![exps.len()], exps.to_vec()).expect("shape");
            let r = binary(BinaryOp::Pow, &col, &row).expect("broadcast Pow");
            assert_eq!(r.view::<$t>().expect("dtype").into_owned(), want);
        }};
    }

    /// Integer Pow on every integer dtype (base) with every integer dtype (exponent), both signs
    /// of each: wrapping for overflow, exponents past `u32::MAX` exact, negative exponents 1 / ±1 /
    /// 0, base 0 to a negative power an error. The runtime's `exec/int_pow.rs` tests the same rules.
    #[test]
    fn integer_pow_every_dtype_and_sign() {
        macro_rules! bases {
            (signed $t:ty) => {
                [0, 1, -1, 2, -2, 3, -3, 7, -7, <$t>::MIN, <$t>::MAX]
            };
            (unsigned $t:ty) => {
                [0, 1, 2, 3, 7, 128, 254, 255]
            };
        }
        macro_rules! exps {
            (signed $t:ty) => {
                [
                    0,
                    1,
                    2,
                    3,
                    5,
                    8,
                    31,
                    33,
                    63,
                    64,
                    126,
                    <$t>::MAX,
                    -1,
                    -2,
                    -3,
                    <$t>::MIN,
                ]
            };
            (unsigned $t:ty) => {
                [0, 1, 2, 3, 5, 8, 31, 33, 63, 64, 126, 255]
            };
        }
        macro_rules! for_exps {
            ($kind:ident $t:ty) => {
                check_pow!($t, i64, bases!($kind $t), exps!(signed i64));
                check_pow!($t, i32, bases!($kind $t), exps!(signed i32));
                check_pow!($t, i8, bases!($kind $t), exps!(signed i8));
                check_pow!($t, u8, bases!($kind $t), exps!(unsigned u8));
            };
        }
        for_exps!(signed i64);
        for_exps!(signed i32);
        for_exps!(signed i8);
        for_exps!(unsigned u8);
        // ONNX node test test_pow_types_int32_int32, and exponents the runtime once clamped.
        let r = binary(
            BinaryOp::Pow,
            &i32t(&[3], &[1, 2, 3]),
            &i32t(&[3], &[4, 5, 6]),
        );
        assert_eq!(i32s(&r.unwrap()), vec![1, 32, 729]);
        let r = binary(
            BinaryOp::Pow,
            &i64t(&[2], &[3, 3]),
            &i64t(&[2], &[1 << 62, 1 << 32]),
        );
        let b32 = 3i64.wrapping_pow(1 << 16).wrapping_pow(1 << 16);
        assert_eq!(i64s(&r.unwrap()), vec![1, b32]);
    }

    #[test]
    fn comparisons_and_logic() {
        let a = f32t(&[4], &[1., f32::NAN, 3., 4.]);
        let b = f32t(&[], &[3.]);
        assert_eq!(
            boolv(&binary(BinaryOp::Less, &a, &b).unwrap()),
            vec![true, false, false, false]
        );
        assert_eq!(
            boolv(&binary(BinaryOp::GreaterOrEqual, &a, &b).unwrap()),
            vec![false, false, true, true]
        );
        assert_eq!(
            boolv(&binary(BinaryOp::Equal, &a, &a).unwrap()),
            vec![true, false, true, true]
        );
        let p = boolt(&[2, 1], &[true, false]);
        let q = boolt(&[2], &[true, false]);
        assert_eq!(
            boolv(&binary(BinaryOp::And, &p, &q).unwrap()),
            vec![true, false, false, false]
        );
        assert_eq!(
            boolv(&binary(BinaryOp::Xor, &p, &q).unwrap()),
            vec![false, true, true, false]
        );
        assert_eq!(
            boolv(&binary(BinaryOp::Equal, &p, &q).unwrap()),
            vec![true, false, false, true]
        );
        let e = binary(BinaryOp::Add, &p, &q).unwrap_err();
        assert_eq!(e, "Add does not accept bool tensors");
        let e = binary(BinaryOp::Add, &a, &i64t(&[], &[1])).unwrap_err();
        assert_eq!(e, "input dtypes differ: f32 and i64");
    }

    #[test]
    fn max_min_propagate_nan() {
        let a = f32t(&[3], &[1., f32::NAN, 5.]);
        let b = f32t(&[3], &[f32::NAN, 2., 3.]);
        let mx = f32s(&binary(BinaryOp::Max, &a, &b).unwrap());
        assert!(mx[0].is_nan() && mx[1].is_nan() && mx[2] == 5.);
        let mn = f32s(&binary(BinaryOp::Min, &a, &b).unwrap());
        assert!(mn[0].is_nan() && mn[1].is_nan() && mn[2] == 3.);
    }

    #[test]
    fn unary_functions() {
        let x = f32t(&[4], &[-1.5, 0., 0.5, 4.]);
        assert_eq!(
            f32s(&unary(UnaryOp::Relu, &x).unwrap()),
            vec![0., 0., 0.5, 4.]
        );
        assert_eq!(
            f32s(&unary(UnaryOp::Floor, &x).unwrap()),
            vec![-2., 0., 0., 4.]
        );
        assert_eq!(
            f32s(&unary(UnaryOp::Ceil, &x).unwrap()),
            vec![-1., 0., 1., 4.]
        );
        assert_eq!(
            f32s(&unary(UnaryOp::Abs, &x).unwrap()),
            vec![1.5, 0., 0.5, 4.]
        );
        assert_eq!(
            f32s(&unary(UnaryOp::Neg, &x).unwrap()),
            vec![1.5, -0., -0.5, -4.]
        );
        assert_eq!(
            f32s(&unary(UnaryOp::Reciprocal, &x).unwrap()),
            vec![-1. / 1.5, f32::INFINITY, 2., 0.25]
        );
        assert_eq!(f32s(&unary(UnaryOp::Sqrt, &x).unwrap())[3], 2.);
        assert!(f32s(&unary(UnaryOp::Log, &x).unwrap())[0].is_nan());
        assert_eq!(
            i64s(&unary(UnaryOp::Relu, &i64t(&[2], &[-3, 3])).unwrap()),
            vec![0, 3]
        );
        assert_eq!(
            i8s(&unary(UnaryOp::Abs, &i8t(&[2], &[-128, -3])).unwrap()),
            vec![-128, 3]
        );
        assert_eq!(
            unary(UnaryOp::Neg, &u8t(&[1], &[1])).unwrap_err(),
            "does not accept u8 tensors"
        );
        assert_eq!(
            unary(UnaryOp::Exp, &i64t(&[1], &[1])).unwrap_err(),
            "needs a float tensor, got i64"
        );
        let nan = f32t(&[3], &[f32::NAN, 1., f32::INFINITY]);
        assert_eq!(
            boolv(&unary(UnaryOp::IsNaN, &nan).unwrap()),
            vec![true, false, false]
        );
        assert_eq!(
            boolv(&unary(UnaryOp::Not, &boolt(&[2], &[true, false])).unwrap()),
            vec![false, true]
        );
    }

    /// float32 values computed once with python3 (math.erf, np.tanh, 1/(1+exp(-x)) in f64, np.exp), rounded to f32.
    #[test]
    fn transcendental_against_numpy() {
        let x = f32t(&[5], &[-2.0, -0.5, 0.1, 1.0, 3.0]);
        let close = |got: Vec<f32>, want: [f64; 5]| {
            for (&g, w) in got.iter().zip(want) {
                assert!(
                    (g as f64 - w).abs() <= 2e-7 * w.abs().max(1.0),
                    "{got:?} vs {want:?}"
                );
            }
        };
        close(
            f32s(&unary(UnaryOp::Erf, &x).unwrap()),
            [-0.99532228, -0.52049988, 0.11246292, 0.84270078, 0.99997789],
        );
        close(
            f32s(&unary(UnaryOp::Tanh, &x).unwrap()),
            [-0.96402758, -0.46211720, 0.09966800, 0.76159418, 0.99505478],
        );
        close(
            f32s(&unary(UnaryOp::Sigmoid, &x).unwrap()),
            [0.11920292, 0.37754068, 0.52497917, 0.73105860, 0.95257413],
        );
        close(
            f32s(&unary(UnaryOp::Exp, &x).unwrap()),
            [0.13533528, 0.60653067, 1.10517097, 2.71828198, 20.08553696],
        );
    }

    #[test]
    fn where_broadcasts_any_dtype() {
        let c = boolt(&[2, 1], &[true, false]);
        let a = i64t(&[3], &[1, 2, 3]);
        let b = i64t(&[], &[-1]);
        let r = where_(&c, &a, &b).unwrap();
        assert_eq!(
            (r.shape.clone(), i64s(&r)),
            (vec![2, 3], vec![1, 2, 3, -1, -1, -1])
        );
        let f = where_(
            &boolt(&[2], &[false, true]),
            &f32t(&[], &[1.]),
            &f32t(&[2], &[5., 6.]),
        )
        .unwrap();
        assert_eq!(f32s(&f), vec![5., 1.]);
        assert_eq!(
            where_(&a, &a, &a).unwrap_err(),
            "condition must be bool, got i64"
        );
    }

    #[test]
    fn clip_bounds() {
        let x = f32t(&[4], &[-5., 0.5, 9., f32::NAN]);
        let r = f32s(&clip(&x, &f32t(&[], &[0.]), &f32t(&[], &[1.])).unwrap());
        assert_eq!(r[..3], [0., 0.5, 1.]);
        assert!(r[3].is_nan());
        let r = clip(&x, &f32t(&[], &[f32::NEG_INFINITY]), &f32t(&[], &[6.])).unwrap();
        assert_eq!(f32s(&r)[..3], [-5., 0.5, 6.]);
        let i = i32t(&[3], &[-9, 3, 9]);
        assert_eq!(
            i32s(&clip(&i, &i32t(&[], &[0]), &i32t(&[], &[5])).unwrap()),
            vec![0, 3, 5]
        );
        assert_eq!(
            clip(&i, &i64t(&[], &[0]), &i32t(&[], &[5])).unwrap_err(),
            "min is i64 but input is i32"
        );
    }
}
