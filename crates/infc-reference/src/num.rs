//! [`Num`]: the numeric element types the interpreter computes with directly (f32, i64, i32, i8, u8),
//! and [`dispatch_num!`], which picks the Rust type for a [`infc_ir::DType`].
//!
//! f16 never reaches these paths: `eval_op` widens f16 inputs to f32 and rounds results back.
//! Integer arithmetic wraps (two's complement), as ONNX runtimes do; integer division truncates
//! toward zero and callers reject zero divisors before dividing.

use infc_ir::Element;

pub(crate) trait Num: Element + PartialOrd + Default + Send + Sync + 'static {
    const IS_FLOAT: bool;
    const IS_SIGNED: bool;
    fn zero() -> Self;
    fn one() -> Self;
    /// Smallest value (−∞ for floats): the identity of `max`.
    fn lowest() -> Self;
    /// Largest value (+∞ for floats): the identity of `min`.
    fn highest() -> Self;
    fn to_f64(self) -> f64;
    /// Exact for integers (floats truncate; only integer paths call it).
    fn to_i64(self) -> i64;
    /// Floats round to nearest; integers truncate toward zero and saturate (NaN → 0).
    fn from_f64(v: f64) -> Self;
    /// Two's complement wrap for integers.
    fn from_i64_wrapping(v: i64) -> Self;
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    /// Integers: truncates toward zero, `MIN / -1` wraps. Callers must reject a zero divisor.
    fn div(self, o: Self) -> Self;
    fn neg(self) -> Self;
    fn abs(self) -> Self;
    fn is_nan(self) -> bool;
}

impl Num for f32 {
    const IS_FLOAT: bool = true;
    const IS_SIGNED: bool = true;
    fn zero() -> Self {
        0.0
    }
    fn one() -> Self {
        1.0
    }
    fn lowest() -> Self {
        f32::NEG_INFINITY
    }
    fn highest() -> Self {
        f32::INFINITY
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn to_i64(self) -> i64 {
        self as i64
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn from_i64_wrapping(v: i64) -> Self {
        v as f32
    }
    fn add(self, o: Self) -> Self {
        self + o
    }
    fn sub(self, o: Self) -> Self {
        self - o
    }
    fn mul(self, o: Self) -> Self {
        self * o
    }
    fn div(self, o: Self) -> Self {
        self / o
    }
    fn neg(self) -> Self {
        -self
    }
    fn abs(self) -> Self {
        self.abs()
    }
    fn is_nan(self) -> bool {
        self.is_nan()
    }
}

macro_rules! impl_int_num {
    ($($t:ty => $signed:expr, $abs:expr),*) => {$(
        impl Num for $t {
            const IS_FLOAT: bool = false;
            const IS_SIGNED: bool = $signed;
            fn zero() -> Self { 0 }
            fn one() -> Self { 1 }
            fn lowest() -> Self { <$t>::MIN }
            fn highest() -> Self { <$t>::MAX }
            fn to_f64(self) -> f64 { self as f64 }
            fn to_i64(self) -> i64 { self as i64 }
            fn from_f64(v: f64) -> Self { v as $t }
            fn from_i64_wrapping(v: i64) -> Self { v as $t }
            fn add(self, o: Self) -> Self { self.wrapping_add(o) }
            fn sub(self, o: Self) -> Self { self.wrapping_sub(o) }
            fn mul(self, o: Self) -> Self { self.wrapping_mul(o) }
            fn div(self, o: Self) -> Self { self.wrapping_div(o) }
            fn neg(self) -> Self { self.wrapping_neg() }
            fn abs(self) -> Self { $abs(self) }
            fn is_nan(self) -> bool { false }
        }
    )*};
}
impl_int_num!(
    i64 => true, i64::wrapping_abs,
    i32 => true, i32::wrapping_abs,
    i8 => true, i8::wrapping_abs,
    u8 => false, std::convert::identity
);

/// `dispatch_num!(dtype, |T| expr)`: evaluate `expr` with the type alias `T` bound to the Rust type of
/// `dtype` (f32, i64, i32, i8, u8). f16 and bool produce an error naming the context.
macro_rules! dispatch_num {
    ($dtype:expr, $what:expr, |$T:ident| $body:expr) => {
        match $dtype {
            infc_ir::DType::F32 => {
                type $T = f32;
                $body
            }
            infc_ir::DType::I64 => {
                type $T = i64;
                $body
            }
            infc_ir::DType::I32 => {
                type $T = i32;
                $body
            }
            infc_ir::DType::I8 => {
                type $T = i8;
                $body
            }
            infc_ir::DType::U8 => {
                type $T = u8;
                $body
            }
            d @ (infc_ir::DType::F16 | infc_ir::DType::Bool) => {
                Err(format!("{} does not accept {d} tensors", $what))
            }
        }
    };
}
pub(crate) use dispatch_num;
