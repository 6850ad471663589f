//! Batched use replacement for the forward-sweep passes (identity elimination, CSE, constant
//! folding): instead of a [`Graph::replace_uses`] per rewrite, each a scan of every node (quadratic
//! on a 200 000-node chain), a pass records `old → new` here and rewrites each node's inputs as
//! its sweep reaches it. Nodes are in def-before-use order, so that is before anything reads them:
//! the same graph the scans gave.

use infc_ir::{Graph, NodeIndex, SecondaryMap, Value, ValueId};

#[derive(Default)]
pub(crate) struct Substitution(SecondaryMap<Value, ValueId>);

impl Substitution {
    /// Uses of `old` become uses of `new` (which is never itself replaced later).
    pub(crate) fn insert(&mut self, old: ValueId, new: ValueId) {
        self.0.insert(old, new);
    }

    fn get(&self, v: ValueId) -> ValueId {
        self.0.get(v).copied().unwrap_or(v)
    }

    /// Rewrite node `i`'s inputs.
    pub(crate) fn apply_to_node(&self, g: &mut Graph, i: NodeIndex) {
        for v in &mut g.nodes[i].inputs {
            *v = self.get(*v);
        }
    }

    /// Rewrite the graph outputs.
    pub(crate) fn apply_to_outputs(&self, g: &mut Graph) {
        for v in &mut g.outputs {
            *v = self.get(*v);
        }
    }

    /// Rewrite every node's inputs and the graph outputs.
    pub(crate) fn apply_everywhere(&self, g: &mut Graph) {
        for i in 0..g.nodes.len() {
            self.apply_to_node(g, i);
        }
        self.apply_to_outputs(g);
    }
}
