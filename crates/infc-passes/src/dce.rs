//! Dead-code elimination: drops nodes none of whose outputs reach a graph output, then compacts
//! the value and constant arenas. Precondition: none. Invalidates value ids (arenas are rebuilt).

use crate::{PassCx, PassError};
use infc_ir::Graph;

pub fn eliminate_dead_code(g: &mut Graph, _cx: &mut PassCx) -> Result<bool, PassError> {
    let values_before = g.values.len();
    let removed = g.compact();
    Ok(removed > 0 || g.values.len() != values_before)
}
