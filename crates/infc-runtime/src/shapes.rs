//! Range plans at run time: the symbols' values are read from the given inputs' dims (checked
//! against their ranges and for agreement between inputs that share a dim), and the plan is
//! instantiated at that shape ([`infc_plan::RangeTable::instantiate`]), validated in full and
//! cached, so a repeated shape costs a hash lookup on a fixed-size key and no allocation. A plan
//! with a per-shape arena ([`infc_plan::ShapeArena`]) plans each new shape's arena as it is
//! instantiated (checked against the session's memory budget); otherwise the arena planned at the
//! max shape serves every shape.

use crate::exec::{prepare, step_error};
use crate::tensor::{InputKey, TensorView};
use crate::RuntimeError;
use infc_plan::{PlanBody, RangeTable, MAX_SYMBOLS};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Most shapes a session keeps instantiated; past it the cache starts over.
const CACHED_SHAPES: usize = 256;

/// A plan at one shape: its body (steps and I/O patched) and its outputs' shapes.
#[derive(Debug)]
pub(crate) struct Instance {
    pub body: PlanBody,
    pub output_shapes: Vec<Vec<usize>>,
}

impl Instance {
    pub(crate) fn new(body: PlanBody) -> Instance {
        let output_shapes = body
            .outputs
            .iter()
            .map(|o| o.shape.iter().map(|&d| d as usize).collect())
            .collect();
        Instance {
            body,
            output_shapes,
        }
    }
}

type Key = [u64; MAX_SYMBOLS];

/// A range plan's table and the shapes instantiated so far.
#[derive(Debug)]
pub(crate) struct RangeState {
    table: RangeTable,
    /// `(input, dim, symbol)`: where each symbol's value is read.
    reads: Vec<(usize, usize, usize)>,
    /// The symbols' values at which the stored plan was lowered.
    nominal: Vec<u64>,
    cache: Mutex<HashMap<Key, Arc<Instance>>>,
}

impl RangeState {
    pub(crate) fn new(table: RangeTable, body: &PlanBody) -> RangeState {
        let reads = table.input_symbol_dims(body);
        RangeState {
            nominal: table.nominal_values(),
            table,
            reads,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn table(&self) -> &RangeTable {
        &self.table
    }

    /// The symbols' values the given inputs imply (a symbol no given input carries stays at its
    /// nominal value: the input check then reports the missing input).
    pub(crate) fn values(
        &self,
        inputs: &[(InputKey<'_>, TensorView<'_>)],
        index: &dyn Fn(&InputKey<'_>) -> Option<usize>,
        input_name: &dyn Fn(usize) -> String,
    ) -> Result<Key, RuntimeError> {
        let mut key = [0u64; MAX_SYMBOLS];
        let mut from = [usize::MAX; MAX_SYMBOLS];
        for (given, view) in inputs {
            let Some(i) = index(given) else { continue };
            for &(input, dim, sym) in self.reads.iter().filter(|r| r.0 == i) {
                let Some(&size) = view.shape.get(dim) else {
                    continue;
                };
                let s = &self.table.symbols[sym];
                let size = size as u64;
                if size < s.min || size > s.max {
                    return Err(RuntimeError::Input {
                        name: input_name(input),
                        msg: format!(
                            "dim {dim} ('{}') is {size}, outside the plan's range {}",
                            s.name,
                            s.range_text()
                        ),
                    });
                }
                if from[sym] != usize::MAX && key[sym] != size {
                    return Err(RuntimeError::Input {
                        name: input_name(input),
                        msg: format!(
                            "dim {dim} ('{}') is {size}, but input '{}' gives '{}' = {}",
                            s.name,
                            input_name(from[sym]),
                            s.name,
                            key[sym]
                        ),
                    });
                }
                key[sym] = size;
                from[sym] = input;
            }
        }
        for (sym, &v) in self.nominal.iter().enumerate() {
            if from[sym] == usize::MAX {
                key[sym] = v;
            }
        }
        Ok(key)
    }

    /// Whether `key` is the nominal shape (the session's own body).
    pub(crate) fn is_nominal(&self, key: &Key) -> bool {
        self.nominal.iter().zip(key).all(|(n, v)| n == v)
    }

    /// The plan at `key`, instantiated and validated on first use; `fits(arena bytes, output
    /// bytes, shape)` checks its arena and outputs against the memory budget.
    pub(crate) fn instance(
        &self,
        key: &Key,
        max_body: &PlanBody,
        consts: &[u8],
        fits: &dyn Fn(u64, u64, &str) -> Result<(), RuntimeError>,
    ) -> Result<Arc<Instance>, RuntimeError> {
        if let Some(i) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
        {
            return Ok(i.clone());
        }
        let values = &key[..self.table.symbols.len()];
        let body = self.table.instantiate(max_body, values)?;
        let outputs = body.outputs.iter().fold(0u64, |t, o| {
            t.saturating_add(o.byte_len().unwrap_or(u64::MAX))
        });
        fits(body.memory.arena_bytes, outputs, &self.table.show(values))?;
        infc_plan::validate(&body, consts.len() as u64).map_err(|e| RuntimeError::Shape {
            at: self.table.show(values),
            msg: e.to_string(),
        })?;
        if self.table.arena.is_some() {
            infc_plan::check_confined(&body, consts.len() as u64).map_err(|e| {
                RuntimeError::Shape {
                    at: self.table.show(values),
                    msg: e.to_string(),
                }
            })?;
        }
        for (i, step) in body.steps.iter().enumerate() {
            prepare(step, consts).map_err(|msg| step_error(&body, i, msg))?;
        }
        let inst = Arc::new(Instance::new(body));
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHED_SHAPES {
            cache.clear();
        }
        cache.insert(*key, inst.clone());
        Ok(inst)
    }
}
