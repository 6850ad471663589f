//! Runtime CPU dispatch: which instruction-set path ([`Isa`]) the kernels may use on this machine.
//!
//! Detection runs once (`is_x86_feature_detected!`, cached). Every kernel entry point takes an
//! [`Isa`] chosen by the caller at load time and *caps* it with [`Isa::capped`] before dispatching,
//! so asking for a path the CPU lacks can never execute an illegal instruction: it silently runs the
//! best path the CPU has that is not above the request (`Avx512` → `Avx2Fma` → `Portable`).

use crate::error::{KernelError, Result};
use std::sync::OnceLock;

/// An instruction-set path. Ordered: `Portable < Avx2Fma < Avx512`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Isa {
    /// Plain Rust (scalar, auto-vectorisable); runs on any target.
    Portable,
    /// x86-64 with AVX2 and FMA (Haswell and later).
    Avx2Fma,
    /// x86-64 with AVX-512 F/BW/DQ/VL plus AVX2/FMA (Skylake-SP and later).
    Avx512,
}

/// Environment variable that forces a path: `portable`, `avx2` or `avx512` (case-insensitive).
pub const ISA_ENV_VAR: &str = "INFC_ISA";

impl Isa {
    /// Every path, lowest first.
    pub const ALL: [Isa; 3] = [Isa::Portable, Isa::Avx2Fma, Isa::Avx512];

    /// The best path this CPU supports (detected once, then cached).
    pub fn detect() -> Isa {
        static DETECTED: OnceLock<Isa> = OnceLock::new();
        *DETECTED.get_or_init(detect_uncached)
    }

    /// The path to use: `INFC_ISA` if set and valid, capped to what the CPU has (see
    /// [`Isa::capped`]); otherwise [`Isa::detect`]. An unparsable `INFC_ISA` is ignored here; use
    /// [`Isa::from_env`] to report it.
    pub fn best() -> Isa {
        match Isa::from_env() {
            Ok(Some(requested)) => requested.capped(),
            _ => Isa::detect(),
        }
    }

    /// Reads `INFC_ISA`: `Ok(None)` when unset or empty, an error when it names no path.
    /// The returned value is the *request*, not yet capped.
    pub fn from_env() -> Result<Option<Isa>> {
        match std::env::var(ISA_ENV_VAR) {
            Ok(v) if v.trim().is_empty() => Ok(None),
            Ok(v) => Isa::parse(&v).map(Some).ok_or(KernelError::UnknownIsa(v)),
            Err(_) => Ok(None),
        }
    }

    /// Parses `portable`, `avx2` (or `avx2fma`) and `avx512`, case-insensitively.
    pub fn parse(s: &str) -> Option<Isa> {
        match s.trim().to_ascii_lowercase().as_str() {
            "portable" | "scalar" => Some(Isa::Portable),
            "avx2" | "avx2fma" | "avx2+fma" => Some(Isa::Avx2Fma),
            "avx512" | "avx512f" => Some(Isa::Avx512),
            _ => None,
        }
    }

    /// Whether this CPU can run the path.
    pub fn is_supported(self) -> bool {
        self <= Isa::detect()
    }

    /// The fallback rule: the request itself when supported, else the best supported path below it.
    pub fn capped(self) -> Isa {
        self.min(Isa::detect())
    }

    /// All paths this CPU can run, lowest first (tests loop over these).
    pub fn supported() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|i| i.is_supported()).collect()
    }

    /// Short lowercase name, the same spelling [`Isa::parse`] accepts.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2Fma => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// The CPU features the path needs (names as `is_x86_feature_detected!` spells them), e.g. for
    /// the "required CPU features" field of a plan header.
    pub fn cpu_features(self) -> &'static [&'static str] {
        match self {
            Isa::Portable => &[],
            Isa::Avx2Fma => &["avx2", "fma"],
            Isa::Avx512 => &["avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl"],
        }
    }
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(target_arch = "x86_64")]
fn detect_uncached() -> Isa {
    let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
    let avx512 = avx2
        && is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512dq")
        && is_x86_feature_detected!("avx512vl");
    if avx512 {
        Isa::Avx512
    } else if avx2 {
        Isa::Avx2Fma
    } else {
        Isa::Portable
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect_uncached() -> Isa {
    Isa::Portable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names() {
        assert_eq!(Isa::parse("AVX512"), Some(Isa::Avx512));
        assert_eq!(Isa::parse(" avx2 "), Some(Isa::Avx2Fma));
        assert_eq!(Isa::parse("portable"), Some(Isa::Portable));
        assert_eq!(Isa::parse("sse9"), None);
        for isa in Isa::ALL {
            assert_eq!(Isa::parse(isa.name()), Some(isa));
        }
    }

    #[test]
    fn capping_never_exceeds_detection() {
        for isa in Isa::ALL {
            assert!(isa.capped() <= Isa::detect());
            assert!(isa.capped().is_supported());
            if isa.is_supported() {
                assert_eq!(isa.capped(), isa);
            }
        }
        assert!(Isa::supported().contains(&Isa::Portable));
        assert_eq!(*Isa::supported().last().unwrap(), Isa::detect());
    }
}
