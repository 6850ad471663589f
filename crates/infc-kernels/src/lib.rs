//! tmp
pub mod error;
pub mod gemm;
pub mod isa;
pub mod math;
mod simd;
pub use isa::Isa;
