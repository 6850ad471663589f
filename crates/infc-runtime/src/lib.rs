//! infc's runtime: load a plan file (mmap + full validation) into a [`Session`] and run it.
//!
//! Depends only on `infc-plan` (format) and `infc-kernels` (compute): it never sees the IR or ONNX.
//! The run loop is a `match` over the plan's step enum with buffers resolved to arena/constant
//! offsets at compile time: no name or hash lookups and no allocation inside a run (see
//! [`Session::run_into`]). Kernels parallelise with rayon inside the current pool.

mod budget;
mod control;
mod error;
mod exec;
mod fault;
mod inputs;
mod mem;
mod profile;
mod session;
mod shapes;
mod storage;
mod tensor;
mod threading;

pub use budget::{physical_memory, PlanLoad};
pub use control::{CancelToken, RunOptions, RunStats, SessionStats};
pub use error::RuntimeError;
pub use fault::StepFault;
pub use infc_kernels::int8::Int8Isa;
pub use infc_kernels::Isa;
pub use profile::{step_flops, step_op_kind, StepTimes};
pub use session::{Session, SessionOptions};
pub use tensor::{DType, InputKey, Tensor, TensorView};
pub use threading::Spin;

#[cfg(test)]
mod tests {
    #[test]
    fn session_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<crate::Session>();
    }
}
