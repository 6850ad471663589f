//! Element type conversion (ONNX Cast): every pair of the plan's dtypes, in place when the sizes
//! match. Float → int truncates toward zero (saturating), anything → bool is `!= 0`. f16 goes
//! through the `half` crate: f32 → f16 rounds to nearest, ties to even (subnormals included), out of
//! range values become ±inf and NaN stays NaN.

use crate::fault::StepFault;
use crate::mem::{rd, Mem};
use half::f16;
use infc_plan::{CastStep, DType};

/// A value in transit: floats as f64, integers as i64 (exact for every integer dtype).
#[derive(Clone, Copy)]
enum Val {
    F(f64),
    I(i64),
}

fn load(d: DType, b: &[u8]) -> Val {
    match d {
        DType::F32 => Val::F(f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64),
        DType::F16 => Val::F(f16::from_le_bytes([b[0], b[1]]).to_f64()),
        DType::I64 => Val::I(i64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ])),
        DType::I32 => Val::I(i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64),
        DType::I8 => Val::I(b[0] as i8 as i64),
        DType::U8 => Val::I(b[0] as i64),
        DType::Bool => Val::I((b[0] != 0) as i64),
    }
}

fn store(d: DType, v: Val, out: &mut [u8]) {
    let as_i = |v: Val| match v {
        Val::I(i) => i,
        Val::F(f) => f as i64,
    };
    let as_f = |v: Val| match v {
        Val::I(i) => i as f64,
        Val::F(f) => f,
    };
    match d {
        DType::F32 => out[..4].copy_from_slice(&(as_f(v) as f32).to_le_bytes()),
        // Through f32, not `f16::from_f64`: half's F16C path rounds an f64 to f32 first and its
        // software fallback does not, so the two can differ. f32 and f16 sources are exact in f32,
        // and so is every integer up to 2^24, far past the f16 range.
        DType::F16 => out[..2].copy_from_slice(&f16::from_f32(as_f(v) as f32).to_le_bytes()),
        DType::I64 => out[..8].copy_from_slice(&as_i(v).to_le_bytes()),
        DType::I32 => out[..4].copy_from_slice(&(as_i(v) as i32).to_le_bytes()),
        DType::I8 => out[0] = as_i(v) as i8 as u8,
        DType::U8 => out[0] = as_i(v) as u8,
        DType::Bool => {
            out[0] = match v {
                Val::I(i) => (i != 0) as u8,
                Val::F(f) => (f != 0.0) as u8,
            }
        }
    }
}

pub(crate) fn cast(s: &CastStep, m: &mut Mem<'_>) -> Result<(), StepFault> {
    let (fs, ts) = (s.from.size(), s.to.size());
    let n = s.len as usize;
    let (y, [x]) = m.io((s.y.offset, n * ts), [rd(s.x, n * fs)])?;
    match x {
        Some(x) => {
            if s.from == s.to {
                y.copy_from_slice(x);
                return Ok(());
            }
            for (xi, yi) in x.chunks_exact(fs).zip(y.chunks_exact_mut(ts)) {
                store(s.to, load(s.from, xi), yi);
            }
        }
        None => {
            // In place: sizes are equal (validated), convert element by element.
            for yi in y.chunks_exact_mut(ts) {
                let v = load(s.from, yi);
                store(s.to, v, yi);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_f16(v: f32) -> u16 {
        let mut out = [0u8; 2];
        store(DType::F16, load(DType::F32, &v.to_le_bytes()), &mut out);
        u16::from_le_bytes(out)
    }

    fn from_f16(bits: u16) -> f32 {
        let mut out = [0u8; 4];
        store(DType::F32, load(DType::F16, &bits.to_le_bytes()), &mut out);
        f32::from_le_bytes(out)
    }

    /// `k · 2^-24` (`k` halves allowed): multiples of the smallest f16 subnormal.
    fn tiny(k: f32) -> f32 {
        k * 2f32.powi(-24)
    }

    #[test]
    fn f32_to_f16_rounds_ties_to_even_in_the_subnormal_range() {
        assert_eq!(to_f16(tiny(0.5)), 0x0000);
        assert_eq!(to_f16(-tiny(0.5)), 0x8000);
        assert_eq!(to_f16(tiny(1.5)), 0x0002);
        assert_eq!(to_f16(tiny(2.5)), 0x0002);
        assert_eq!(to_f16(tiny(3.5)), 0x0004);
        assert_eq!(to_f16(-tiny(2.5)), 0x8002);
        assert_eq!(to_f16(tiny(1023.5)), 0x0400);
        // Just past a tie rounds away from it.
        assert_eq!(to_f16(f32::from_bits(tiny(0.5).to_bits() + 1)), 0x0001);
        assert_eq!(to_f16(f32::from_bits(tiny(2.5).to_bits() + 1)), 0x0003);
        assert_eq!(to_f16(f32::from_bits(tiny(0.5).to_bits() - 1)), 0x0000);
        // Normal range ties: 1 + 2^-11 and 1 + 3·2^-11.
        assert_eq!(to_f16(1.0 + 2f32.powi(-11)), 0x3c00);
        assert_eq!(to_f16(1.0 + 3.0 * 2f32.powi(-11)), 0x3c02);
    }

    #[test]
    fn f32_to_f16_specials_and_range() {
        assert_eq!(to_f16(65504.0), 0x7bff);
        assert_eq!(to_f16(-65504.0), 0xfbff);
        assert_eq!(to_f16(65519.0), 0x7bff);
        assert_eq!(to_f16(65520.0), 0x7c00);
        assert_eq!(to_f16(1e6), 0x7c00);
        assert_eq!(to_f16(-1e6), 0xfc00);
        assert_eq!(to_f16(f32::MAX), 0x7c00);
        assert_eq!(to_f16(f32::INFINITY), 0x7c00);
        assert_eq!(to_f16(f32::NEG_INFINITY), 0xfc00);
        let nan = to_f16(f32::NAN);
        assert!(nan & 0x7c00 == 0x7c00 && nan & 0x3ff != 0, "{nan:#x}");
        assert_eq!(to_f16(-0.0), 0x8000);
        assert_eq!(to_f16(f32::MIN_POSITIVE), 0x0000);
        assert_eq!(to_f16(2f32.powi(-14)), 0x0400);
    }

    #[test]
    fn f16_to_f32_specials_and_range() {
        assert_eq!(from_f16(0x0001), tiny(1.0));
        assert_eq!(from_f16(0x03ff), tiny(1023.0));
        assert_eq!(from_f16(0x0400), 2f32.powi(-14));
        assert_eq!(from_f16(0x7bff), 65504.0);
        assert_eq!(from_f16(0xfbff), -65504.0);
        assert_eq!(from_f16(0x7c00), f32::INFINITY);
        assert_eq!(from_f16(0xfc00), f32::NEG_INFINITY);
        assert!(from_f16(0x7e00).is_nan());
        assert!(from_f16(0x7c01).is_nan());
        assert_eq!(from_f16(0x8000).to_bits(), (-0.0f32).to_bits());
    }

    /// Every finite f16 survives f16 → f32 → f16, and every midpoint between finite neighbours
    /// (exact in f32) rounds to the neighbour with the even mantissa, one f32 ulp either side to
    /// the nearer one.
    #[test]
    fn every_f16_round_trips_and_every_midpoint_rounds_to_even() {
        for h in 0..0x7c00u16 {
            for bits in [h, h | 0x8000] {
                assert_eq!(to_f16(from_f16(bits)), bits, "{bits:#06x}");
            }
        }
        for h in 0..0x7bffu16 {
            let (lo, hi) = (from_f16(h) as f64, from_f16(h + 1) as f64);
            let mid = ((lo + hi) / 2.0) as f32;
            assert_eq!(mid as f64, (lo + hi) / 2.0, "{h:#06x}");
            let even = if h & 1 == 0 { h } else { h + 1 };
            assert_eq!(to_f16(mid), even, "midpoint above {h:#06x}");
            assert_eq!(to_f16(-mid), even | 0x8000, "midpoint below -{h:#06x}");
            assert_eq!(to_f16(f32::from_bits(mid.to_bits() - 1)), h);
            assert_eq!(to_f16(f32::from_bits(mid.to_bits() + 1)), h + 1);
        }
    }

    #[test]
    fn integers_to_f16() {
        let from_i64 = |v: i64| {
            let mut out = [0u8; 2];
            store(DType::F16, load(DType::I64, &v.to_le_bytes()), &mut out);
            u16::from_le_bytes(out)
        };
        assert_eq!(from_i64(2049), 0x6800); // tie between 2048 and 2050: even (2048)
        assert_eq!(from_i64(2051), 0x6802); // tie between 2050 and 2052: even (2052)
        assert_eq!(from_i64(65504), 0x7bff);
        assert_eq!(from_i64(65520), 0x7c00);
        assert_eq!(from_i64(i64::MIN), 0xfc00);
    }
}
