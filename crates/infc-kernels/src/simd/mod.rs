//! Vector building blocks shared by the kernels of one ISA: loads/stores with tail masks and the
//! vector twins of [`crate::math`] (`exp`, `erf`, `tanh`, GELU, activations).
//!
//! Everything here is `#[target_feature]` code; callers must only reach it after
//! [`crate::Isa::capped`] confirmed the CPU has the features.

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
