//! Elementwise kernels: broadcasting binary ops ([`binary`]), unary ops ([`unary`],
//! [`unary_inplace`]), [`clip`] and the per-channel affine transform of inference batch norm
//! ([`affine_channels`]).

mod affine;
mod binary;
mod unary;

pub use affine::{affine_channels, clip};
pub use binary::{binary, broadcast_strides, BinaryKind};
pub use unary::{unary, unary_inplace, UnaryKind};

#[cfg(test)]
mod tests;
