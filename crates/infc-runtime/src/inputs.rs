//! The input check of a run: every plan input given once, with the planned dtype, shape and byte
//! length. Names resolve through a table built at load ([`InputNames`]); "given once" is one pass
//! in plan order (the usual case) or a bitmap, so the check is linear in the input count (it used
//! to scan all plan inputs for every given input, for every plan input: 3 000 inputs took 30 s).
//! No allocation unless there is an error to report, or more than [`ON_STACK`] inputs given out of
//! plan order.

use crate::session::{dims_str, io_str};
use crate::tensor::{InputKey, TensorView};
use crate::RuntimeError;
use infc_plan::PlanBody;
use std::collections::HashMap;

/// Most inputs whose "seen" bits a check keeps on the stack.
const ON_STACK: usize = 4096;

/// Plan input index by name (names are unique: the plan validator checks it).
#[derive(Debug, Default)]
pub(crate) struct InputNames(HashMap<String, usize>);

impl InputNames {
    pub(crate) fn new(body: &PlanBody) -> InputNames {
        let mut m = HashMap::with_capacity(body.inputs.len());
        for (i, d) in body.inputs.iter().enumerate() {
            m.entry(d.name.clone()).or_insert(i);
        }
        InputNames(m)
    }

    /// The plan input `key` names, if any.
    pub(crate) fn index(&self, body: &PlanBody, key: &InputKey<'_>) -> Option<usize> {
        match *key {
            InputKey::Index(i) => (i < body.inputs.len()).then_some(i),
            InputKey::Name(n) => self.0.get(n).copied(),
        }
    }
}

/// See the module docs.
pub(crate) fn check_inputs(
    body: &PlanBody,
    names: &InputNames,
    inputs: &[(InputKey<'_>, TensorView<'_>)],
) -> Result<(), RuntimeError> {
    let mut in_order = inputs.len() == body.inputs.len();
    for (k, (key, view)) in inputs.iter().enumerate() {
        let Some(i) = names.index(body, key) else {
            let known: Vec<&str> = body.inputs.iter().map(|d| d.name.as_str()).collect();
            let name = match key {
                InputKey::Name(n) => n.to_string(),
                InputKey::Index(i) => format!("#{i}"),
            };
            return Err(RuntimeError::Input {
                name,
                msg: format!("no such input (the plan has {known:?})"),
            });
        };
        in_order &= i == k;
        let d = &body.inputs[i];
        let shape_ok = d.shape.len() == view.shape.len()
            && d.shape.iter().zip(view.shape).all(|(&a, &b)| a == b as u64);
        if d.dtype != view.dtype || !shape_ok {
            return Err(RuntimeError::Input {
                name: d.name.clone(),
                msg: format!(
                    "expected {}, given {}",
                    io_str(d),
                    dims_str(view.dtype, view.shape)
                ),
            });
        }
        let want = d.byte_len().unwrap_or(0) as usize;
        if view.data.len() != want {
            return Err(RuntimeError::Input {
                name: d.name.clone(),
                msg: format!(
                    "{} needs {want} bytes, given {}",
                    io_str(d),
                    view.data.len()
                ),
            });
        }
    }
    if in_order || (inputs.len() == body.inputs.len() && !any_twice(body, names, inputs)) {
        return Ok(());
    }
    // Some input is missing or given twice: name the first in plan order.
    let mut count = vec![0usize; body.inputs.len()];
    for (key, _) in inputs {
        if let Some(i) = names.index(body, key) {
            count[i] += 1;
        }
    }
    let (i, &c) = count
        .iter()
        .enumerate()
        .find(|(_, &c)| c != 1)
        .expect("a missing or repeated input");
    let msg = if c == 0 {
        "not given".to_string()
    } else {
        format!("given {c} times")
    };
    let d = &body.inputs[i];
    Err(RuntimeError::Input {
        name: d.name.clone(),
        msg: format!("{msg} (expected {})", io_str(d)),
    })
}

/// True when some plan input is named twice in `inputs` (every key is known to resolve).
fn any_twice(
    body: &PlanBody,
    names: &InputNames,
    inputs: &[(InputKey<'_>, TensorView<'_>)],
) -> bool {
    let mut stack = [0u64; ON_STACK / 64];
    let mut heap = Vec::new();
    let bits: &mut [u64] = if body.inputs.len() <= ON_STACK {
        &mut stack
    } else {
        heap.resize(body.inputs.len().div_ceil(64), 0u64);
        &mut heap
    };
    inputs.iter().any(|(key, _)| {
        let i = names.index(body, key).unwrap_or(0);
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        let seen = bits[word] & bit != 0;
        bits[word] |= bit;
        seen
    })
}
