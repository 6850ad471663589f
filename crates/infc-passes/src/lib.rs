//! Graph-to-graph passes over infc IR: the pass manager, `-O` pipelines, shape binding, and one
//! pass per file. Each pass is `fn(&mut Graph, &mut PassCx) -> Result<bool, PassError>` returning
//! whether it changed the graph; rewrites that fire are recorded in the [`FusionLog`].

mod bind_shapes;
mod cse;
mod dce;
mod eliminate_identities;
mod error;
mod fold_constants;
mod manager;

pub use bind_shapes::{bind_input_shapes, parse_shape_binding, unbound_symbols, ShapeBinding};
pub use cse::eliminate_common_subexpressions;
pub use dce::eliminate_dead_code;
pub use eliminate_identities::eliminate_identities;
pub use error::PassError;
pub use fold_constants::fold_constants;
pub use manager::{pass_by_name, pipeline, run_pipeline, FusionLog, OptLevel, Pass, PassCx};
