//! Lowering against a reference plan (range plans): a range plan is the plan at its max shape
//! with shape-dependent fields patched per shape, so every other shape must lower to the same
//! memory layout and constants. [`Layout`] is what the max-shape compile decided (every arena
//! buffer with its live interval and offset, every constant's place in the blob); compiling another
//! shape with [`CompileOptions::reference`](crate::CompileOptions::reference) set adopts those
//! offsets, after checking that the buffers are the same ones, live at the same steps, and no
//! larger than at the max shape, and that each constant is a prefix of its max-shape bytes (a
//! position table sliced by the sequence length, say), whose max-shape bytes it then stores.

use crate::error::CompileError;
use crate::memory::{Assignment, Interval};
use std::collections::HashMap;

/// The memory layout and constants placement of a compile (see the module docs).
#[derive(Clone, Debug)]
pub struct Layout {
    /// Every arena buffer (values, then scratch): name and live interval, in planning order.
    pub items: Vec<(String, Interval)>,
    pub assignment: Assignment,
    /// Constants blob placement by buffer root (value index): `(offset, bytes)`.
    pub consts: HashMap<usize, (u64, u64)>,
    /// In-place updates: `(node, input slot)`, sorted.
    pub in_place: Vec<(usize, usize)>,
}

/// A max-shape layout and its constants blob, which other shapes are lowered against.
#[derive(Debug)]
pub struct Reference {
    pub layout: Layout,
    pub consts: Vec<u8>,
}

impl Layout {
    /// Adopt this layout for `items` (another shape's buffers): the same buffers, live at the
    /// same node positions, each at most its size here (unless `larger` allows more: a shape
    /// beyond the reference's, lowered only to be read).
    pub(crate) fn adopt(
        &self,
        items: &[(String, Interval)],
        larger: bool,
    ) -> Result<Assignment, CompileError> {
        let err = |msg: String| CompileError::Range(msg);
        if items.len() != self.items.len() {
            return Err(err(format!(
                "{} arena buffers at this shape, {} at the max shape",
                items.len(),
                self.items.len()
            )));
        }
        for ((name, it), (max_name, max)) in items.iter().zip(&self.items) {
            if name != max_name || it.first != max.first || it.last != max.last {
                return Err(err(format!(
                    "buffer '{name}' (steps {}..={}) stands where the max shape has '{max_name}' (steps {}..={})",
                    it.first, it.last, max.first, max.last
                )));
            }
            if it.size > max.size && !larger {
                return Err(err(format!(
                    "buffer '{name}' needs {} bytes at this shape, more than its {} at the max shape",
                    it.size, max.size
                )));
            }
        }
        Ok(self.assignment.clone())
    }
}

impl Reference {
    /// The bytes constant `root` stores: its max-shape bytes, once `bytes` (its value at this
    /// shape) are checked to be a prefix of them (or, `beyond` the max shape, to start with them).
    pub(crate) fn constant(
        &self,
        root: usize,
        name: &str,
        bytes: &[u8],
        beyond: bool,
    ) -> Result<&[u8], CompileError> {
        let Some(&(off, len)) = self.layout.consts.get(&root) else {
            return Err(CompileError::Range(format!(
                "constant '{name}' exists at this shape but not at the max shape"
            )));
        };
        let max = self
            .consts
            .get(off as usize..(off + len) as usize)
            .ok_or_else(|| {
                CompileError::Range(format!("constant '{name}' lies outside the max-shape blob"))
            })?;
        let common = bytes.len().min(max.len());
        if (bytes.len() > max.len() && !beyond) || max[..common] != bytes[..common] {
            return Err(CompileError::Range(format!(
                "constant '{name}' depends on the shape in a way a range plan cannot store: its {} bytes \
                 here are not the first bytes of its {} at the max shape",
                bytes.len(),
                max.len()
            )));
        }
        Ok(max)
    }
}
