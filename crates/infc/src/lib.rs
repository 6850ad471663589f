//! infc: an ahead-of-time compiler for CPU inference of ONNX models.
//!
//! [`compile`] turns an ONNX file into a [`Plan`]: every decision (shapes, fusions, layout,
//! quantization, memory offsets, weight packing) is taken at compile time. A [`Session`] loads a
//! plan (mapped or copied, validated before anything runs) and runs it with no per-op dispatch by
//! name and no allocation inside a run.
//!
//! ```
//! use infc::{compile, CompileOptions, Session, TensorView, InputKey, DType};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let model = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/fixtures/resnet_ts14/model.onnx");
//! // Compile at -O3 for this machine, binding the symbolic batch.
//! let opts = CompileOptions {
//!     shapes: vec!["pixel_values=1x3x32x32".into()],
//!     ..CompileOptions::default()
//! };
//! let plan = compile(model, &opts)?;
//! let dir = std::env::temp_dir().join(format!("infc-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let path = dir.join("resnet.plan");
//! plan.write(&path)?;
//!
//! // Load and run it.
//! let session = Session::load(&path)?;
//! let input = &session.inputs()[0];
//! assert_eq!(input.shape, [1, 3, 32, 32]);
//! let pixels = vec![0u8; 3 * 32 * 32 * 4]; // f32 zeros, little-endian
//! let outputs = session.run(&[(
//!     InputKey::Name(&input.name),
//!     TensorView::new(DType::F32, &[1, 3, 32, 32], &pixels),
//! )])?;
//! assert_eq!(outputs[0].dtype, DType::F32);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod compile;
mod error;
pub mod inputs;
pub mod int8;
mod options;
mod pipeline;
mod provenance;
pub mod range;

pub use compile::{compile, compile_observed, lower, Compiled};
pub use error::{full_message, Error, Result};
pub use int8::{Int8Decision, LayerError};
pub use options::{CompileOptions, Int8Options, Target};
pub use pipeline::{
    check_pass_name, import, import_bytes, optimise, optimise_graph, require_bound, Optimised,
};
pub use provenance::provenance;

/// Text, DOT and JSON renderings of a [`Graph`] (what `infc explain` prints).
pub mod render {
    pub use infc_ir::{print_graph, to_dot, to_json};
}

/// The plan file format: decoding (and validating) a plan's bytes without loading a session, as
/// `infc explain PLAN` and `infc verify PLAN` do, and the step, tensor and memory-plan types a
/// plan is made of (for plans built or inspected in code).
pub mod plan_format {
    pub use infc_plan::*;

    /// Lengths of the packed weights and scratch buffers the kernels read: a plan built in code
    /// must give its packed constants and scratch exactly these sizes.
    pub mod packing {
        pub use infc_kernels::int8::{packed_b8_bytes, quant_a_len};
        pub use infc_kernels::{
            packed_b_len, packed_conv_weights_len, packed_nchwc_weights_len, Conv2dParams,
            NchwcConvParams,
        };
    }
}

/// The IR: graphs built in code, the text form (parse and print), shape inference and the
/// verifier. What [`import`] returns and [`optimise_graph`] and [`lower`] take.
pub use infc_ir as ir;

/// The optimisation passes one by one: the registry ([`passes::pass_by_name`],
/// [`passes::pipeline`]), [`passes::OptLevel`] and the [`passes::PassCx`] a pass runs with, for
/// tests and tools that run single passes rather than [`optimise_graph`]'s pipeline.
pub use infc_passes as passes;

/// The reference interpreter: runs a graph op by op, naively (accumulations in f64), the oracle
/// compiled plans are checked against.
pub use infc_reference as reference;

pub use infc_ir::Graph;
pub use infc_passes::{FusionLog, Int8Kind};
pub use infc_plan::{IoDesc, PatchTarget, Plan, PlanBody, RangeTable};
pub use infc_runtime::{
    physical_memory, step_flops, step_op_kind, CancelToken, DType, InputKey, Int8Isa, Isa,
    PlanLoad, RunOptions, RunStats, RuntimeError, Session, SessionOptions, SessionStats, Spin,
    StepFault, StepTimes, Tensor, TensorView,
};
