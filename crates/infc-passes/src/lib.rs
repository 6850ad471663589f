//! Graph-to-graph passes over infc IR: the pass manager, `-O` pipelines, shape binding, and one
//! pass per file. Each pass is `fn(&mut Graph, &mut PassCx) -> Result<bool, PassError>` returning
//! whether it changed the graph; rewrites that fire are recorded in the [`FusionLog`].

mod absorb_layernorm;
mod bind_shapes;
mod cse;
mod dce;
mod eliminate_identities;
mod error;
mod fold_constants;
mod fold_transpose_matmul;
mod fuse_attention;
mod fuse_conv_bn;
mod fuse_conv_epilogue;
mod fuse_gelu;
mod fuse_global_pool;
mod fuse_layernorm;
mod fuse_matmul_epilogue;
mod fuse_qkv_projection;
mod fuse_rmsnorm;
mod fuse_skip_layernorm;
mod gather_nd_as_reshape;
mod layout_nchwc;
mod manager;
mod mark_int8;
mod mark_qkv_views;
mod matcher;
pub mod pattern;
mod quantize;
mod simplify_reshape_transpose;
mod split_causal_mask;
mod substitute;

pub use absorb_layernorm::absorb_layernorm;
pub use bind_shapes::{bind_input_shapes, parse_shape_binding, unbound_symbols, ShapeBinding};
pub use cse::eliminate_common_subexpressions;
pub use dce::eliminate_dead_code;
pub use eliminate_identities::eliminate_identities;
pub use error::PassError;
pub use fold_constants::fold_constants;
pub use fold_transpose_matmul::fold_transpose_matmul;
pub use fuse_attention::fuse_attention;
pub use fuse_conv_bn::fuse_conv_bn;
pub use fuse_conv_epilogue::fuse_conv_epilogue;
pub use fuse_gelu::fuse_gelu;
pub use fuse_global_pool::fuse_global_pool;
pub use fuse_layernorm::fuse_layernorm;
pub use fuse_matmul_epilogue::fuse_matmul_epilogue;
pub use fuse_qkv_projection::fuse_qkv_projection;
pub use fuse_rmsnorm::fuse_rmsnorm;
pub use fuse_skip_layernorm::fuse_skip_layernorm;
pub use gather_nd_as_reshape::gather_nd_as_reshape;
pub use layout_nchwc::{layout_nchwc, DEFAULT_NCHWC_BLOCK};
pub use manager::{
    int8_passes, pass_by_name, pass_names, pipeline, run_pipeline, FusionLog, OptLevel, Pass,
    PassCx,
};
pub use mark_int8::{mark_int8, Int8Marking};
pub use mark_qkv_views::mark_qkv_views;
pub use quantize::{
    select_int8_layers, Int8Kind, Int8Layer, Int8Options, Int8Selection, INT8_K_MAX, INT8_MIN_MACS,
};
pub use simplify_reshape_transpose::simplify_reshape_transpose;
pub use split_causal_mask::split_causal_mask;
