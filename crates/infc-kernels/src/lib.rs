//! Compute kernels for infc with runtime CPU dispatch (AVX-512, AVX2+FMA, portable) and weight
//! packing. No dependency on the IR: kernels work on slices plus plain shape/stride parameters, and
//! validate them (a bad shape or short buffer is a [`KernelError`], never a panic or an
//! out-of-bounds access).
//!
//! # Dispatch
//! [`Isa::best`] (honours `INFC_ISA=portable|avx2|avx512`) is resolved once at load; every kernel
//! takes that [`Isa`] and caps it with [`Isa::capped`], so forcing a path the CPU lacks falls back to
//! the best path below it instead of executing illegal instructions.
//!
//! # Kernels
//! * [`gemm`]: packed SGEMM with fused epilogue ([`sgemm`], [`sgemm_batched`], [`pack_b`],
//!   [`pack_a`]); packed layouts are ISA-independent.
//! * [`conv`]: NCHW 2-D convolution (groups, strides, pads, dilations) as im2col + GEMM with
//!   pre-packed weights and bias/residual/activation epilogue.
//! * [`conv_nchwc`]: direct convolution on channel-blocked (NCHWc) activations with fused
//!   epilogue, its weight packing, reorders and blocked max pooling (the -O3 conv path).
//! * [`pool`]: max/average pooling (pads, `ceil_mode`, dilations) and global average pooling.
//! * [`elementwise`]: broadcasting binary ops, unary ops, clip, per-channel affine (batch norm).
//! * [`mod@attention`]: fused multi-head attention on strided per-head views (K/V packed once per head,
//!   masked/causal softmax, causal blocks skip hidden keys).
//! * [`mod@softmax`], [`layernorm`], [`mod@reduce`], [`mod@transpose`], [`mod@gather`], [`scan`] (CumSum).
//! * [`peak`]: measured single-core FMA peak per ISA (for GFLOP/s reports).
//! * [`math`]: scalar `exp`/`erf`/`tanh`/GELU approximations (vector twins inside).
//!
//! Parallelism: kernels use the *current* rayon pool (install a pool around calls to control the
//! thread count); small problems stay on the calling thread. GEMM packing buffers are thread-local
//! and grow-only, so repeated calls do not allocate after the first.

pub mod attention;
mod claim;
pub mod conv;
pub mod conv_nchwc;
pub mod elementwise;
pub mod error;
pub mod gather;
pub mod gemm;
pub mod int8;
pub mod isa;
pub mod layernorm;
pub mod math;
pub mod parallelism;
pub mod peak;
pub mod pool;
pub mod reduce;
pub mod scan;
mod simd;
pub mod softmax;
pub mod team;
pub mod transpose;

pub use attention::{
    attention, attention_scratch_floats, attention_scratch_floats_bound, attention_scratch_len,
    AttentionMask, AttentionShape,
};
pub use conv::{conv2d, pack_conv_weights, packed_conv_weights_len, Conv2dParams};
pub use conv_nchwc::{
    blocked_len, conv2d_nchwc, from_blocked, max_pool2d_nchwc, pack_nchwc_weights,
    packed_nchwc_weights_len, to_blocked, NchwcConvParams,
};
pub use elementwise::{
    affine_channels, binary, broadcast_strides, clip, unary, unary_inplace, BinaryKind, UnaryKind,
};
pub use error::{KernelError, Result};
pub use gather::gather;
pub use gemm::{
    pack_a, pack_b, packed_a_len, packed_b_len, packed_b_len_checked, reserve_pack_buffers, sgemm,
    sgemm_batched, with_pack_buffers, AOperand, Activation, BOperand, BatchLayout, Bias, Epilogue,
    MatRef, PackBuffers,
};
pub use isa::Isa;
pub use layernorm::{layer_norm, rms_norm, RowNorm};
pub use parallelism::{serial, threads};
pub use pool::{avg_pool2d, global_avg_pool, max_pool2d, Pool2dParams};
pub use reduce::{reduce, reduce_last_axis, ReduceKind};
pub use softmax::{log_softmax, softmax};
pub use transpose::transpose;
