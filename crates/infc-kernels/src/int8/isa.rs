//! Runtime dispatch for the integer kernels: [`Int8Isa`], kept separate from [`crate::Isa`] so the
//! f32 enum does not change. Detection runs once; `INFC_INT8_ISA=portable|avx2|avx512vnni` forces
//! a path, capped to what the CPU has (a forced path above the CPU falls back, never faults).
//!
//! AMX-INT8 ([`Int8Isa::Amx`], `tdpbusd` tiles) is detected with the OS permission it needs (see
//! `super::amx`); without it the best path is AVX-512 VNNI. The AMX kernel's logic is tested on
//! every machine through an emulation of the tile registers; its instructions run only where the
//! CPU has them. [`Int8Isa::AvxVnni`] (256-bit `vpdpbusd`, for client CPUs without AVX-512) runs
//! its GEMM kernel with the VEX instruction where the CPU has AVX-VNNI and with the EVEX one of
//! AVX512-VNNI otherwise, so it is exercised on both kinds of machine.

use crate::error::{bad_shape, Result};
use std::sync::OnceLock;

/// An integer-kernel path. Ordered: `Portable < Avx2 < AvxVnni < Avx512Vnni < Amx`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Int8Isa {
    /// Scalar i32 multiply-add; runs anywhere.
    Portable,
    /// AVX2 (+FMA for the epilogue): widening `vpmovzxbw`/`vpmovsxbw` + `vpmaddwd`.
    Avx2,
    /// AVX2 + 256-bit `vpdpbusd` (AVX-VNNI, or AVX512-VNNI's EVEX form) for the GEMM kernel; the
    /// rest (quantization, convolutions) as `Avx2`.
    AvxVnni,
    /// AVX-512 F/BW/VL + VNNI: `vpdpbusd` on zmm.
    Avx512Vnni,
    /// AMX-INT8 tiles for the GEMM's full 32 × 32 tiles of products whose depth is a multiple of
    /// 64; everything else (edges, other depths, quantization, convolutions) as `Avx512Vnni`.
    Amx,
}

/// The vector code a path runs for its work besides the GEMM microkernel (quantization, the NCHWc
/// convolution kernels): AMX runs the AVX-512 code beside its tiles, AVX-VNNI the AVX2 code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VectorCode {
    Portable,
    /// Needs AVX2 + FMA (every path from `Avx2` up has them).
    Avx2,
    /// Needs AVX-512 F/BW/VL (every path from `Avx512Vnni` up has them).
    Avx512,
}

impl VectorCode {
    /// The f32 kernels' path with the same vectors (the LayerNorm rows an INT8 quantizer
    /// reproduces run on it).
    pub(crate) fn f32_isa(self) -> crate::Isa {
        match self {
            VectorCode::Avx512 => crate::Isa::Avx512,
            VectorCode::Avx2 => crate::Isa::Avx2Fma,
            VectorCode::Portable => crate::Isa::Portable,
        }
    }
}

/// Environment variable forcing a path: `portable`, `avx2` or `avx512vnni` (case-insensitive).
pub const INT8_ISA_ENV_VAR: &str = "INFC_INT8_ISA";

impl Int8Isa {
    /// Every path, lowest first.
    pub const ALL: [Int8Isa; 5] = [
        Int8Isa::Portable,
        Int8Isa::Avx2,
        Int8Isa::AvxVnni,
        Int8Isa::Avx512Vnni,
        Int8Isa::Amx,
    ];

    /// The best path this CPU supports (detected once, then cached).
    pub fn detect() -> Int8Isa {
        static DETECTED: OnceLock<Int8Isa> = OnceLock::new();
        *DETECTED.get_or_init(detect_uncached)
    }

    /// `INFC_INT8_ISA` if set and valid (capped), otherwise [`Int8Isa::detect`].
    pub fn best() -> Int8Isa {
        match Int8Isa::from_env() {
            Ok(Some(requested)) => requested.capped(),
            _ => Int8Isa::detect(),
        }
    }

    /// Reads `INFC_INT8_ISA`: `Ok(None)` when unset or empty, an error naming the variable when
    /// the value names no path. The result is the request, not yet capped.
    pub fn from_env() -> Result<Option<Int8Isa>> {
        match std::env::var(INT8_ISA_ENV_VAR) {
            Ok(v) if v.trim().is_empty() => Ok(None),
            Ok(v) => Int8Isa::parse(&v).map(Some).ok_or_else(|| {
                bad_shape(
                    INT8_ISA_ENV_VAR,
                    format!("{v:?} is not one of portable, avx2, avxvnni, avx512vnni, amx"),
                )
            }),
            Err(_) => Ok(None),
        }
    }

    /// Parses `portable`, `avx2`, `avxvnni`, `avx512vnni` (also `vnni`), `amx`, case-insensitively.
    pub fn parse(s: &str) -> Option<Int8Isa> {
        match s.trim().to_ascii_lowercase().as_str() {
            "portable" | "scalar" => Some(Int8Isa::Portable),
            "avx2" => Some(Int8Isa::Avx2),
            "avxvnni" | "avx_vnni" | "avx-vnni" => Some(Int8Isa::AvxVnni),
            "avx512vnni" | "avx512_vnni" | "vnni" => Some(Int8Isa::Avx512Vnni),
            "amx" | "amx-int8" | "amx_int8" => Some(Int8Isa::Amx),
            _ => None,
        }
    }

    /// Whether this CPU can run the path.
    pub fn is_supported(self) -> bool {
        self <= Int8Isa::detect()
    }

    /// The request when supported, else the best supported path below it.
    pub fn capped(self) -> Int8Isa {
        self.min(Int8Isa::detect())
    }

    /// The vector code this path runs outside the GEMM microkernel.
    pub(crate) fn vector_code(self) -> VectorCode {
        match self {
            Int8Isa::Portable => VectorCode::Portable,
            Int8Isa::Avx2 | Int8Isa::AvxVnni => VectorCode::Avx2,
            Int8Isa::Avx512Vnni | Int8Isa::Amx => VectorCode::Avx512,
        }
    }

    /// All paths this CPU can run, lowest first (tests loop over these).
    pub fn supported() -> Vec<Int8Isa> {
        Int8Isa::ALL
            .into_iter()
            .filter(|i| i.is_supported())
            .collect()
    }

    /// Short lowercase name, as [`Int8Isa::parse`] accepts it.
    pub fn name(self) -> &'static str {
        match self {
            Int8Isa::Portable => "portable",
            Int8Isa::Avx2 => "avx2",
            Int8Isa::AvxVnni => "avxvnni",
            Int8Isa::Avx512Vnni => "avx512vnni",
            Int8Isa::Amx => "amx",
        }
    }

    /// CPU features the path needs (as `is_x86_feature_detected!` spells them; AVX-VNNI's entry
    /// names its two alternatives, the VEX or the EVEX `vpdpbusd`).
    pub fn cpu_features(self) -> &'static [&'static str] {
        match self {
            Int8Isa::Portable => &[],
            Int8Isa::Avx2 => &["avx2", "fma"],
            Int8Isa::AvxVnni => &["avx2", "fma", "avxvnni or avx512vl+avx512vnni"],
            Int8Isa::Avx512Vnni => &[
                "avx2",
                "fma",
                "avx512f",
                "avx512bw",
                "avx512vl",
                "avx512vnni",
            ],
            Int8Isa::Amx => &[
                "avx2",
                "fma",
                "avx512f",
                "avx512bw",
                "avx512vl",
                "avx512vnni",
                "amx-tile",
                "amx-int8",
            ],
        }
    }
}

impl std::fmt::Display for Int8Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(target_arch = "x86_64")]
fn detect_uncached() -> Int8Isa {
    let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
    let vnni = avx2
        && is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512vnni");
    if vnni && super::amx::usable() {
        Int8Isa::Amx
    } else if vnni {
        Int8Isa::Avx512Vnni
    } else if avx2 && is_x86_feature_detected!("avxvnni") {
        Int8Isa::AvxVnni
    } else if avx2 {
        Int8Isa::Avx2
    } else {
        Int8Isa::Portable
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect_uncached() -> Int8Isa {
    Int8Isa::Portable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_cap() {
        assert_eq!(Int8Isa::parse(" VNNI "), Some(Int8Isa::Avx512Vnni));
        assert_eq!(Int8Isa::parse("AMX"), Some(Int8Isa::Amx));
        assert_eq!(Int8Isa::parse("sse"), None);
        for isa in Int8Isa::ALL {
            assert_eq!(Int8Isa::parse(isa.name()), Some(isa));
            assert!(isa.capped().is_supported());
            assert!(isa.capped() <= isa);
        }
        assert_eq!(*Int8Isa::supported().last().unwrap(), Int8Isa::detect());
    }
}
