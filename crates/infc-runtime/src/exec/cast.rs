//! Element type conversion (ONNX Cast): every pair of the plan's dtypes, in place when the sizes
//! match. Float → int truncates toward zero (saturating), anything → bool is `!= 0`.

use crate::mem::{rd, Mem};
use infc_plan::{CastStep, DType};

/// IEEE half → f32.
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h as u32) & 0x8000) << 16;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x3ff) as u32;
    let bits = match exp {
        0 if man == 0 => sign,
        0 => {
            // Subnormal: normalise.
            let mut e = 127 - 15 + 1;
            let mut m = man;
            while m & 0x400 == 0 {
                m <<= 1;
                e -= 1;
            }
            sign | ((e as u32) << 23) | ((m & 0x3ff) << 13)
        }
        0x1f => sign | 0x7f80_0000 | (man << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

/// f32 → IEEE half, round to nearest even.
pub(crate) fn f32_to_f16(v: f32) -> u16 {
    let b = v.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xff) as i32;
    let man = b & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if man != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = (man | 0x80_0000) >> (1 - e);
        return sign | ((m + 0x1000) >> 13) as u16;
    }
    let half = sign | ((e as u16) << 10) | (man >> 13) as u16;
    let rest = man & 0x1fff;
    if rest > 0x1000 || (rest == 0x1000 && half & 1 == 1) {
        half + 1
    } else {
        half
    }
}

/// A value in transit: floats as f64, integers as i64 (exact for every integer dtype).
#[derive(Clone, Copy)]
enum Val {
    F(f64),
    I(i64),
}

fn load(d: DType, b: &[u8]) -> Val {
    match d {
        DType::F32 => Val::F(f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64),
        DType::F16 => Val::F(f16_to_f32(u16::from_le_bytes([b[0], b[1]])) as f64),
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
        DType::F16 => out[..2].copy_from_slice(&f32_to_f16(as_f(v) as f32).to_le_bytes()),
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

pub(crate) fn cast(s: &CastStep, m: &mut Mem<'_>) -> Result<(), String> {
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

    #[test]
    fn half_round_trip() {
        for v in [
            0.0f32,
            1.0,
            -2.5,
            65504.0,
            6.1035156e-5,
            5.9604645e-8,
            0.333,
        ] {
            let h = f32_to_f16(v);
            let back = f16_to_f32(h);
            assert!(
                (back - v).abs() <= v.abs() * 1e-3 + 1e-7,
                "{v} -> {h:#x} -> {back}"
            );
        }
        assert!(f16_to_f32(f32_to_f16(f32::NAN)).is_nan());
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
    }
}
