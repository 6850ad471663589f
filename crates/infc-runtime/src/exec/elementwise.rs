//! Elementwise executors. f32 math goes to the kernels (`unary`, `binary`, `clip`); in-place f32
//! binary/clip, integer and bool ops, comparisons, Where, Fill and Range are plain loops here.

use super::int_pow::int_pow;
use super::ke;
use crate::fault::StepFault;
use crate::mem::{extent, for_rows, rd, signed, view as cast, view_mut as cast_mut, Mem};
use infc_kernels::Isa;
use infc_plan::{
    BinaryKind, BinaryStep, ClipStep, DType, FillStep, RangeStep, UnaryKind, UnaryStep, WhereStep,
};

fn kernel_unary(op: UnaryKind) -> Option<infc_kernels::UnaryKind> {
    use infc_kernels::UnaryKind as K;
    Some(match op {
        UnaryKind::Relu => K::Relu,
        UnaryKind::Sqrt => K::Sqrt,
        UnaryKind::Erf => K::Erf,
        UnaryKind::Tanh => K::Tanh,
        UnaryKind::Sigmoid => K::Sigmoid,
        UnaryKind::Exp => K::Exp,
        UnaryKind::Log => K::Log,
        UnaryKind::Neg => K::Neg,
        UnaryKind::Abs => K::Abs,
        UnaryKind::Reciprocal => K::Reciprocal,
        UnaryKind::Floor => K::Floor,
        UnaryKind::Ceil => K::Ceil,
        UnaryKind::Sin => K::Sin,
        UnaryKind::Cos => K::Cos,
        UnaryKind::GeluErf => K::GeluErf,
        UnaryKind::GeluTanh => K::GeluTanh,
        UnaryKind::IsNaN | UnaryKind::Not => return None,
    })
}

pub(crate) fn check_unary(s: &UnaryStep) -> Result<(), StepFault> {
    let ok = match s.op {
        UnaryKind::Not => s.dtype == DType::Bool,
        UnaryKind::IsNaN => s.dtype == DType::F32,
        UnaryKind::Neg | UnaryKind::Abs | UnaryKind::Relu => {
            matches!(s.dtype, DType::F32 | DType::I64 | DType::I32 | DType::I8)
        }
        _ => s.dtype == DType::F32,
    };
    if ok {
        Ok(())
    } else {
        Err(StepFault::Unsupported(format!("{:?} on {}", s.op, s.dtype)))
    }
}

pub(crate) fn check_binary(s: &BinaryStep) -> Result<(), StepFault> {
    use BinaryKind::*;
    let ok = match s.op {
        And | Or | Xor => s.dtype == DType::Bool,
        Equal => matches!(s.dtype, DType::F32 | DType::I64 | DType::I32 | DType::Bool),
        _ => matches!(s.dtype, DType::F32 | DType::I64 | DType::I32),
    };
    if ok {
        Ok(())
    } else {
        Err(StepFault::Unsupported(format!("{:?} on {}", s.op, s.dtype)))
    }
}

fn us(v: &[u64]) -> Result<&[usize], StepFault> {
    cast(bytemuck::cast_slice::<u64, u8>(v))
}

/// `y[i] = f(x[i])` or in place.
fn map<T: bytemuck::Pod, O: bytemuck::Pod>(
    x: Option<&[u8]>,
    y: &mut [u8],
    f: impl Fn(T) -> O,
    back: impl Fn(O) -> T,
) -> Result<(), StepFault> {
    let y: &mut [O] = cast_mut(y)?;
    match x {
        Some(x) => {
            let x: &[T] = cast(x)?;
            for (o, &i) in y.iter_mut().zip(x) {
                *o = f(i);
            }
        }
        None => {
            for o in y.iter_mut() {
                *o = f(back(*o));
            }
        }
    }
    Ok(())
}

pub(crate) fn unary(s: &UnaryStep, m: &mut Mem<'_>, isa: Isa) -> Result<(), StepFault> {
    let n = s.len as usize;
    let out_size = if s.op == UnaryKind::IsNaN {
        1
    } else {
        s.dtype.size()
    };
    let (y, [x]) = m.io((s.y.offset, n * out_size), [rd(s.x, n * s.dtype.size())])?;
    match (s.dtype, kernel_unary(s.op)) {
        (DType::F32, Some(k)) => {
            let yf: &mut [f32] = cast_mut(y)?;
            match x {
                Some(x) => infc_kernels::unary(isa, k, cast(x)?, yf).map_err(ke),
                None => {
                    infc_kernels::unary_inplace(isa, k, yf);
                    Ok(())
                }
            }
        }
        (DType::F32, None) => map(x, y, |v: f32| v.is_nan() as u8, |_| 0.0),
        (DType::Bool, None) => map(x, y, |v: u8| (v == 0) as u8, |v| v),
        (DType::I64, _) => map(x, y, |v: i64| int_unary(s.op, v as i128) as i64, |v| v),
        (DType::I32, _) => map(x, y, |v: i32| int_unary(s.op, v as i128) as i32, |v| v),
        (DType::I8, _) => map(x, y, |v: i8| int_unary(s.op, v as i128) as i8, |v| v),
        (d, _) => Err(StepFault::Unsupported(format!("{:?} on {d}", s.op))),
    }
}

fn int_unary(op: UnaryKind, v: i128) -> i128 {
    match op {
        UnaryKind::Neg => -v,
        UnaryKind::Abs => v.abs(),
        UnaryKind::Relu => v.max(0),
        _ => v,
    }
}

/// Strided binary loop: `y[o] = f(a[..], b[..])`, `None` operands read `y` itself (in place).
fn bin_loop<T: bytemuck::Pod, O: bytemuck::Pod>(
    s: &BinaryStep,
    a: Option<&[u8]>,
    b: Option<&[u8]>,
    y: &mut [u8],
    f: impl Fn(T, T) -> O,
    back: impl Fn(O) -> T,
) -> Result<(), StepFault> {
    let a: Option<&[T]> = a.map(cast).transpose()?;
    let b: Option<&[T]> = b.map(cast).transpose()?;
    let y: &mut [O] = cast_mut(y)?;
    let r = s.shape.len();
    let (sa, sb) = (signed(&s.a_strides), signed(&s.b_strides));
    let (ia, ib) = if r == 0 {
        (0, 0)
    } else {
        (sa[r - 1], sb[r - 1])
    };
    let mut bad = false;
    for_rows(&s.shape, [&sa[..r], &sb[..r]], |out, [oa, ob], len| {
        for j in 0..len {
            let o = out + j;
            let av = match a {
                Some(a) => a.get((oa + j as i64 * ia) as usize).copied(),
                None => y.get(o).map(|&v| back(v)),
            };
            let bv = match b {
                Some(b) => b.get((ob + j as i64 * ib) as usize).copied(),
                None => y.get(o).map(|&v| back(v)),
            };
            match (av, bv, y.get_mut(o)) {
                (Some(av), Some(bv), Some(out)) => *out = f(av, bv),
                _ => bad = true,
            }
        }
    });
    if bad {
        return Err("strided access out of range".into());
    }
    Ok(())
}

fn cmp<T: PartialOrd>(op: BinaryKind, a: T, b: T) -> u8 {
    (match op {
        BinaryKind::Equal => a == b,
        BinaryKind::Less => a < b,
        BinaryKind::LessOrEqual => a <= b,
        BinaryKind::Greater => a > b,
        BinaryKind::GreaterOrEqual => a >= b,
        _ => false,
    }) as u8
}

fn f32_op(op: BinaryKind) -> Option<infc_kernels::BinaryKind> {
    use infc_kernels::BinaryKind as K;
    Some(match op {
        BinaryKind::Add => K::Add,
        BinaryKind::Sub => K::Sub,
        BinaryKind::Mul => K::Mul,
        BinaryKind::Div => K::Div,
        BinaryKind::Pow => K::Pow,
        BinaryKind::Max => K::Max,
        BinaryKind::Min => K::Min,
        _ => return None,
    })
}

fn f32_scalar(op: BinaryKind, a: f32, b: f32) -> f32 {
    match op {
        BinaryKind::Add => a + b,
        BinaryKind::Sub => a - b,
        BinaryKind::Mul => a * b,
        BinaryKind::Div => a / b,
        BinaryKind::Pow => a.powf(b),
        BinaryKind::Max => {
            if a.is_nan() || b.is_nan() {
                f32::NAN
            } else {
                a.max(b)
            }
        }
        BinaryKind::Min => {
            if a.is_nan() || b.is_nan() {
                f32::NAN
            } else {
                a.min(b)
            }
        }
        _ => 0.0,
    }
}

macro_rules! int_arith {
    ($t:ty) => {
        |op: BinaryKind, a: $t, b: $t| -> $t {
            match op {
                BinaryKind::Add => a.wrapping_add(b),
                BinaryKind::Sub => a.wrapping_sub(b),
                BinaryKind::Mul => a.wrapping_mul(b),
                // Division by zero has no defined result in ONNX; give 0 rather than trap.
                BinaryKind::Div => a.checked_div(b).unwrap_or(0),
                BinaryKind::Pow => int_pow(a, b),
                BinaryKind::Max => a.max(b),
                BinaryKind::Min => a.min(b),
                _ => 0,
            }
        }
    };
}

pub(crate) fn binary(s: &BinaryStep, m: &mut Mem<'_>, isa: Isa) -> Result<(), StepFault> {
    let es = s.dtype.size();
    let total: usize = s.shape.iter().product::<u64>() as usize;
    let out_size = if s.op.is_comparison() { 1 } else { es };
    let reads = [
        rd(s.a, extent(&s.shape, &s.a_strides) * es),
        rd(s.b, extent(&s.shape, &s.b_strides) * es),
    ];
    let (y, [a, b]) = m.io((s.y.offset, total * out_size), reads)?;
    let op = s.op;
    match s.dtype {
        DType::F32 => match (f32_op(op), a, b) {
            (Some(k), Some(a), Some(b)) => infc_kernels::binary(
                isa,
                k,
                us(&s.shape)?,
                cast(a)?,
                us(&s.a_strides)?,
                cast(b)?,
                us(&s.b_strides)?,
                cast_mut(y)?,
            )
            .map_err(ke),
            (Some(_), a, b) => bin_loop(s, a, b, y, |x: f32, z: f32| f32_scalar(op, x, z), |v| v),
            (None, a, b) => bin_loop(s, a, b, y, |x: f32, z: f32| cmp(op, x, z), |_| 0.0),
        },
        DType::I64 if !op.is_comparison() => bin_loop(
            s,
            a,
            b,
            y,
            |x: i64, z: i64| int_arith!(i64)(op, x, z),
            |v| v,
        ),
        DType::I64 => bin_loop(s, a, b, y, |x: i64, z: i64| cmp(op, x, z), |_| 0),
        DType::I32 if !op.is_comparison() => bin_loop(
            s,
            a,
            b,
            y,
            |x: i32, z: i32| int_arith!(i32)(op, x, z),
            |v| v,
        ),
        DType::I32 => bin_loop(s, a, b, y, |x: i32, z: i32| cmp(op, x, z), |_| 0),
        DType::Bool => bin_loop(
            s,
            a,
            b,
            y,
            |x: u8, z: u8| {
                let (x, z) = (x != 0, z != 0);
                (match op {
                    BinaryKind::And => x && z,
                    BinaryKind::Or => x || z,
                    BinaryKind::Xor => x ^ z,
                    _ => x == z,
                }) as u8
            },
            |v| v,
        ),
        d => Err(StepFault::Unsupported(format!("{op:?} on {d}"))),
    }
}

pub(crate) fn where_(s: &WhereStep, m: &mut Mem<'_>) -> Result<(), StepFault> {
    let es = s.dtype.size();
    let total: usize = s.shape.iter().product::<u64>() as usize;
    let reads = [
        rd(s.cond, extent(&s.shape, &s.cond_strides)),
        rd(s.a, extent(&s.shape, &s.a_strides) * es),
        rd(s.b, extent(&s.shape, &s.b_strides) * es),
    ];
    let (y, [c, a, b]) = m.io((s.y.offset, total * es), reads)?;
    let c = c.ok_or("condition cannot be the output")?;
    let r = s.shape.len();
    let (sc, sa, sb) = (
        signed(&s.cond_strides),
        signed(&s.a_strides),
        signed(&s.b_strides),
    );
    let inner = |v: &[i64; infc_plan::MAX_RANK]| if r == 0 { 0 } else { v[r - 1] };
    let (ic, ia, ib) = (inner(&sc), inner(&sa), inner(&sb));
    let mut bad = false;
    for_rows(
        &s.shape,
        [&sc[..r], &sa[..r], &sb[..r]],
        |out, [oc, oa, ob], len| {
            for j in 0..len {
                let o = (out + j) * es;
                let pick = c
                    .get((oc + j as i64 * ic) as usize)
                    .is_some_and(|&v| v != 0);
                let (src, idx) = if pick {
                    (a, oa + j as i64 * ia)
                } else {
                    (b, ob + j as i64 * ib)
                };
                // `None` means the chosen operand is the output itself: the value is already there.
                if let Some(src) = src {
                    let at = idx as usize * es;
                    match (src.get(at..at + es), y.get_mut(o..o + es)) {
                        (Some(v), Some(dst)) => dst.copy_from_slice(v),
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

pub(crate) fn clip(s: &ClipStep, m: &mut Mem<'_>, isa: Isa) -> Result<(), StepFault> {
    let n = s.len as usize * 4;
    let (y, [x]) = m.io((s.y.offset, n), [rd(s.x, n)])?;
    let y: &mut [f32] = cast_mut(y)?;
    match x {
        Some(x) => infc_kernels::clip(isa, cast(x)?, s.min, s.max, y).map_err(ke),
        None => {
            for v in y.iter_mut() {
                *v = if v.is_nan() {
                    *v
                } else {
                    v.max(s.min).min(s.max)
                };
            }
            Ok(())
        }
    }
}

pub(crate) fn fill(s: &FillStep, m: &mut Mem<'_>) -> Result<(), StepFault> {
    let es = s.dtype.size();
    let (y, []) = m.io((s.y.offset, s.len as usize * es), [])?;
    let bytes = s.value.to_le_bytes();
    for chunk in y.chunks_exact_mut(es) {
        chunk.copy_from_slice(&bytes[..es]);
    }
    Ok(())
}

pub(crate) fn range(s: &RangeStep, m: &mut Mem<'_>) -> Result<(), StepFault> {
    let es = s.dtype.size();
    let n = s.len as usize;
    let (y, [start, delta]) = m.io((s.y.offset, n * es), [rd(s.start, es), rd(s.delta, es)])?;
    let (start, delta) = (
        start.ok_or("start aliases the output")?,
        delta.ok_or("delta aliases the output")?,
    );
    match s.dtype {
        DType::F32 => {
            let (a, d) = (cast::<f32>(start)?[0], cast::<f32>(delta)?[0]);
            for (i, v) in cast_mut::<f32>(y)?.iter_mut().enumerate() {
                *v = a + i as f32 * d;
            }
        }
        DType::I64 => {
            let (a, d) = (cast::<i64>(start)?[0], cast::<i64>(delta)?[0]);
            for (i, v) in cast_mut::<i64>(y)?.iter_mut().enumerate() {
                *v = a.wrapping_add((i as i64).wrapping_mul(d));
            }
        }
        DType::I32 => {
            let (a, d) = (cast::<i32>(start)?[0], cast::<i32>(delta)?[0]);
            for (i, v) in cast_mut::<i32>(y)?.iter_mut().enumerate() {
                *v = a.wrapping_add((i as i32).wrapping_mul(d));
            }
        }
        d => return Err(StepFault::Unsupported(format!("{d} ranges"))),
    }
    Ok(())
}
