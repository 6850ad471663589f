//! Integer `Pow` (base and exponent of the same integer dtype), the same semantics as the reference
//! interpreter's `int_pow`:
//!
//! - a non-negative exponent gives the exact power with two's complement wrap (what repeated
//!   wrapping multiplication gives, as numpy computes it), for every exponent up to the type's maximum;
//! - a negative exponent gives `1 / base^|e|` truncated toward zero: 1 for base 1, ±1 for base −1
//!   (−1 when the exponent is odd), 0 for any other base. Base 0 has no defined result; the runtime
//!   gives 0 (the reference interpreter reports an error), as integer division by zero gives 0 here.

/// The integer element types [`int_pow`] is written for (every Rust primitive from i8/u8 to i64/u64;
/// the plan's `Binary` step uses it for i32 and i64).
pub(crate) trait PowInt: Copy + PartialEq {
    const ZERO: Self;
    const ONE: Self;
    fn mul_wrapping(self, other: Self) -> Self;
    /// True for −1 (never for unsigned types).
    fn is_minus_one(self) -> bool;
    fn is_odd(self) -> bool;
    /// The exponent as a `u64`, `None` when negative.
    fn non_negative(self) -> Option<u64>;
}

macro_rules! impl_pow_int {
    (|$v:ident| $minus_one:expr; $($t:ty),*) => {$(
        impl PowInt for $t {
            const ZERO: Self = 0;
            const ONE: Self = 1;
            fn mul_wrapping(self, other: Self) -> Self {
                self.wrapping_mul(other)
            }
            fn is_minus_one(self) -> bool {
                let $v = self;
                $minus_one
            }
            fn is_odd(self) -> bool {
                self & 1 == 1
            }
            fn non_negative(self) -> Option<u64> {
                u64::try_from(self).ok()
            }
        }
    )*};
}
impl_pow_int!(|v| v == -1; i8, i16, i32, i64);
impl_pow_int!(|_v| false; u8, u16, u32, u64);

/// `base^exp`, see the module docs.
pub(crate) fn int_pow<T: PowInt>(base: T, exp: T) -> T {
    match exp.non_negative() {
        Some(e) => pow_wrapping(base, e),
        None => pow_negative(base, exp),
    }
}

/// Square and multiply over all 64 exponent bits, wrapping.
fn pow_wrapping<T: PowInt>(base: T, mut e: u64) -> T {
    let (mut result, mut b) = (T::ONE, base);
    while e > 0 {
        if e & 1 == 1 {
            result = result.mul_wrapping(b);
        }
        b = b.mul_wrapping(b);
        e >>= 1;
    }
    result
}

/// `1 / base^|exp|` truncated toward zero (0 for base 0).
fn pow_negative<T: PowInt>(base: T, exp: T) -> T {
    if base == T::ONE {
        T::ONE
    } else if base.is_minus_one() {
        if exp.is_odd() {
            base
        } else {
            T::ONE
        }
    } else {
        T::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::int_pow;

    /// Oracle from std's `wrapping_pow` (u32 exponents): `b^e = (b^(2^32))^(e >> 32) · b^(e mod 2^32)`.
    macro_rules! oracle {
        ($t:ty, $b:expr, $e:expr) => {{
            let (b, e): ($t, u64) = ($b, $e);
            let b32 = b.wrapping_pow(1 << 16).wrapping_pow(1 << 16);
            b32.wrapping_pow((e >> 32) as u32)
                .wrapping_mul(b.wrapping_pow(e as u32))
        }};
    }

    macro_rules! check_signed {
        ($t:ty) => {{
            let bases: [$t; 12] = [0, 1, -1, 2, -2, 3, -3, 7, -128, 127, <$t>::MIN, <$t>::MAX];
            let exps: [$t; 15] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 15, 31, 33, 63, 126, <$t>::MAX];
            for &b in &bases {
                for &e in &exps {
                    let want = oracle!($t, b, e as u64);
                    assert_eq!(int_pow(b, e), want, "{}: {b}^{e}", stringify!($t));
                }
                for &e in &[-1 as $t, -2, -3, -4, -127, <$t>::MIN] {
                    let want: $t = match b {
                        1 => 1,
                        -1 if e % 2 != 0 => -1,
                        -1 => 1,
                        _ => 0,
                    };
                    assert_eq!(int_pow(b, e), want, "{}: {b}^{e}", stringify!($t));
                }
            }
        }};
    }

    macro_rules! check_unsigned {
        ($t:ty) => {{
            let bases: [$t; 9] = [0, 1, 2, 3, 7, 128, 255, <$t>::MAX - 1, <$t>::MAX];
            let exps: [$t; 14] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 15, 33, 128, 255, <$t>::MAX];
            for &b in &bases {
                for &e in &exps {
                    let want = oracle!($t, b, e as u64);
                    assert_eq!(int_pow(b, e), want, "{}: {b}^{e}", stringify!($t));
                }
            }
        }};
    }

    #[test]
    fn onnx_node_test_pow_types_int32_int32() {
        let got: Vec<i32> = [(1, 4), (2, 5), (3, 6)]
            .iter()
            .map(|&(b, e)| int_pow::<i32>(b, e))
            .collect();
        assert_eq!(got, [1, 32, 729]);
        let got: Vec<i64> = [(1, 4), (2, 5), (3, 6)]
            .iter()
            .map(|&(b, e)| int_pow::<i64>(b, e))
            .collect();
        assert_eq!(got, [1, 32, 729]);
    }

    #[test]
    fn every_signed_type_and_sign() {
        check_signed!(i8);
        check_signed!(i16);
        check_signed!(i32);
        check_signed!(i64);
    }

    #[test]
    fn every_unsigned_type() {
        check_unsigned!(u8);
        check_unsigned!(u16);
        check_unsigned!(u32);
        check_unsigned!(u64);
    }

    #[test]
    fn overflow_wraps() {
        assert_eq!(int_pow::<i32>(2, 31), i32::MIN);
        assert_eq!(int_pow::<i32>(2, 32), 0);
        assert_eq!(int_pow::<i32>(3, 21), 3i64.pow(21) as i32);
        assert_eq!(int_pow::<i32>(-3, 21), (-3i64).pow(21) as i32);
        assert_eq!(int_pow::<i8>(3, 5), 243u8 as i8);
        assert_eq!(int_pow::<u8>(3, 5), 243);
        assert_eq!(int_pow::<u8>(2, 8), 0);
        // Exponents past u32::MAX are not clamped: 3 has order 2^62 modulo 2^64.
        assert_eq!(int_pow::<i64>(3, 1 << 62), 1);
        assert_ne!(int_pow::<i64>(3, (1 << 62) - 1), 1);
        assert_eq!(
            int_pow::<i64>(3, u32::MAX as i64 + 1),
            oracle!(i64, 3, 1 << 32)
        );
    }
}
