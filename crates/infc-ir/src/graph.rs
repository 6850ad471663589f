//! The graph: values (typed SSA names), constants, and nodes kept in def-before-use order.
//!
//! Invariant (checked by `verify`): every node input is a graph input, a constant, or an output of an
//! earlier node in `nodes`. Passes rebuild `nodes` rather than patching indices, so a node's position
//! is its execution order. Def/use side tables are computed on demand ([`Graph::producers`],
//! [`Graph::uses`]) and never stored.

use crate::{Arena, Idx, IrError, Op, Precision, Realize, SecondaryMap, Tensor, TensorType};

pub type ValueId = Idx<Value>;
pub type ConstId = Idx<Const>;

/// An SSA value: a graph input, a constant, or one output of a node.
#[derive(Clone, Debug)]
pub struct Value {
    /// Source name (ONNX tensor name), kept for diagnostics and `--input NAME=`.
    pub name: String,
    pub ty: TensorType,
    /// Set when the value is a constant.
    pub konst: Option<ConstId>,
}

/// A named constant tensor (ONNX initializer or folded result).
#[derive(Clone, Debug)]
pub struct Const {
    pub name: String,
    pub tensor: Tensor,
}

/// One operation application.
#[derive(Clone, Debug)]
pub struct Node {
    /// Source node name (ONNX `NodeProto.name`, or generated); used in logs and errors.
    pub name: String,
    pub op: Op,
    pub inputs: Vec<ValueId>,
    pub outputs: Vec<ValueId>,
    /// Arithmetic precision, set by the quantization passes (default f32).
    pub precision: Precision,
    /// Own step, computed by its reader, or a view (default: own step).
    pub realize: Realize,
}

impl Node {
    /// A node with default marks (f32, its own step).
    pub fn new(
        name: impl Into<String>,
        op: Op,
        inputs: Vec<ValueId>,
        outputs: Vec<ValueId>,
    ) -> Self {
        Node {
            name: name.into(),
            op,
            inputs,
            outputs,
            precision: Precision::F32,
            realize: Realize::Step,
        }
    }
}

/// Position of a node in [`Graph::nodes`].
pub type NodeIndex = usize;

/// The whole model.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    pub name: String,
    pub values: Arena<Value>,
    pub consts: Arena<Const>,
    /// Execution order; def-before-use.
    pub nodes: Vec<Node>,
    pub inputs: Vec<ValueId>,
    pub outputs: Vec<ValueId>,
}

impl Graph {
    pub fn new(name: impl Into<String>) -> Graph {
        Graph {
            name: name.into(),
            ..Graph::default()
        }
    }

    /// New graph input.
    pub fn add_input(&mut self, name: impl Into<String>, ty: TensorType) -> ValueId {
        let v = self.values.alloc(Value {
            name: name.into(),
            ty,
            konst: None,
        });
        self.inputs.push(v);
        v
    }

    /// New constant value; its type is derived from the tensor.
    pub fn add_const(&mut self, name: impl Into<String>, tensor: Tensor) -> ValueId {
        let name = name.into();
        let ty = TensorType::known(tensor.dtype, &tensor.shape);
        let c = self.consts.alloc(Const {
            name: name.clone(),
            tensor,
        });
        self.values.alloc(Value {
            name,
            ty,
            konst: Some(c),
        })
    }

    /// New value with no definition yet (an output for a node about to be pushed).
    pub fn add_value(&mut self, name: impl Into<String>, ty: TensorType) -> ValueId {
        self.values.alloc(Value {
            name: name.into(),
            ty,
            konst: None,
        })
    }

    /// Append a node whose output values were created with [`Graph::add_value`].
    pub fn push_node(
        &mut self,
        name: impl Into<String>,
        op: Op,
        inputs: Vec<ValueId>,
        outputs: Vec<ValueId>,
    ) {
        self.nodes.push(Node::new(name, op, inputs, outputs));
    }

    pub fn value(&self, v: ValueId) -> &Value {
        &self.values[v]
    }

    pub fn ty(&self, v: ValueId) -> &TensorType {
        &self.values[v].ty
    }

    /// The constant tensor behind `v`, if `v` is a constant.
    pub fn const_of(&self, v: ValueId) -> Option<&Tensor> {
        self.values[v].konst.map(|c| &self.consts[c].tensor)
    }

    pub fn is_const(&self, v: ValueId) -> bool {
        self.values[v].konst.is_some()
    }

    /// For each node output: `(node index, output slot)`.
    pub fn producers(&self) -> SecondaryMap<Value, (NodeIndex, usize)> {
        let mut m = SecondaryMap::with_capacity(self.values.len());
        for (i, n) in self.nodes.iter().enumerate() {
            for (slot, &o) in n.outputs.iter().enumerate() {
                m.insert(o, (i, slot));
            }
        }
        m
    }

    /// For each value: the nodes reading it (a node reading it twice appears twice).
    pub fn uses(&self) -> SecondaryMap<Value, Vec<NodeIndex>> {
        let mut m: SecondaryMap<Value, Vec<NodeIndex>> =
            SecondaryMap::with_capacity(self.values.len());
        for (i, n) in self.nodes.iter().enumerate() {
            for &v in &n.inputs {
                match m.get_mut(v) {
                    Some(list) => list.push(i),
                    None => {
                        m.insert(v, vec![i]);
                    }
                }
            }
        }
        m
    }

    /// True when `v` has readers, is not a graph output, and every reader is an `Attention` node
    /// using it only as q, k or v (inputs 0–2): reads that lowering can serve from a strided view
    /// of a larger buffer. `uses` is [`Graph::uses`].
    pub fn read_only_as_attention_qkv(
        &self,
        uses: &SecondaryMap<Value, Vec<NodeIndex>>,
        v: ValueId,
    ) -> bool {
        let readers = uses.get(v).map(Vec::as_slice).unwrap_or_default();
        !self.outputs.contains(&v)
            && !readers.is_empty()
            && readers.iter().all(|&u| {
                let n = &self.nodes[u];
                matches!(n.op, Op::Attention { .. })
                    && n.inputs
                        .iter()
                        .enumerate()
                        .all(|(slot, &x)| x != v || slot < 3)
            })
    }

    /// Replace every use of `old` (node inputs and graph outputs) by `new`.
    pub fn replace_uses(&mut self, old: ValueId, new: ValueId) {
        for n in &mut self.nodes {
            for v in &mut n.inputs {
                if *v == old {
                    *v = new;
                }
            }
        }
        for v in &mut self.outputs {
            if *v == old {
                *v = new;
            }
        }
    }

    /// Find a graph input by source name.
    pub fn input_by_name(&self, name: &str) -> Option<ValueId> {
        self.inputs
            .iter()
            .copied()
            .find(|&v| self.values[v].name == name)
    }

    /// Sort `nodes` topologically (stable: keeps the current order where it is already valid).
    /// Errors on a cycle or on an input that nothing defines.
    pub fn toposort(&mut self) -> Result<(), IrError> {
        let n = self.nodes.len();
        let mut defined = vec![false; self.values.len()];
        for &v in &self.inputs {
            defined[v.index()] = true;
        }
        for (v, val) in self.values.iter() {
            if val.konst.is_some() {
                defined[v.index()] = true;
            }
        }
        let producers = self.producers();
        for node in &self.nodes {
            for &i in &node.inputs {
                if !defined[i.index()] && producers.get(i).is_none() {
                    return Err(IrError::Verify(format!(
                        "node '{}' reads '{}', which nothing defines",
                        node.name, self.values[i].name
                    )));
                }
            }
        }
        // The order the old repeated forward sweeps gave (kept, so pass output does not move), in
        // O(n log n): sweep `r` placed every node whose inputs were defined by earlier sweeps or
        // earlier in sweep `r`, so a node's sweep is the largest over its producers `p` of `r(p)`
        // (`p` before it) or `r(p) + 1` (`p` after it), and the order is by (sweep, index).
        // Sweeps are computed in Kahn order; a node never reached lies on or behind a cycle.
        let uses = self.uses();
        let mut waiting: Vec<usize> = self
            .nodes
            .iter()
            .map(|node| node.inputs.iter().filter(|v| !defined[v.index()]).count())
            .collect();
        let mut sweep = vec![0usize; n];
        let mut ready: Vec<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
        let mut placed = 0;
        while let Some(p) = ready.pop() {
            placed += 1;
            for &o in &self.nodes[p].outputs {
                if std::mem::replace(&mut defined[o.index()], true) {
                    continue; // defined twice: the verifier's to report
                }
                for &u in uses.get(o).map(Vec::as_slice).unwrap_or_default() {
                    sweep[u] = sweep[u].max(sweep[p] + usize::from(p > u));
                    waiting[u] -= 1;
                    if waiting[u] == 0 {
                        ready.push(u);
                    }
                }
            }
        }
        if placed < n {
            let stuck = (0..n).find(|&i| waiting[i] > 0);
            return Err(IrError::Verify(format!(
                "graph has a cycle through node '{}'",
                stuck
                    .map(|i| self.nodes[i].name.clone())
                    .unwrap_or_default()
            )));
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| (sweep[i], i));
        let mut old: Vec<Option<Node>> = std::mem::take(&mut self.nodes)
            .into_iter()
            .map(Some)
            .collect();
        self.nodes = order
            .into_iter()
            .map(|i| old[i].take().expect("each node placed once"))
            .collect();
        Ok(())
    }

    /// Drop nodes whose outputs are unused (transitively), then drop unreachable values and constants
    /// by rebuilding the arenas. Returns how many nodes were removed.
    pub fn compact(&mut self) -> usize {
        // Dead-node elimination, backwards.
        let mut live = vec![false; self.values.len()];
        for &v in &self.outputs {
            live[v.index()] = true;
        }
        let mut keep = vec![false; self.nodes.len()];
        for (i, node) in self.nodes.iter().enumerate().rev() {
            if node.outputs.iter().any(|o| live[o.index()]) {
                keep[i] = true;
                for &v in &node.inputs {
                    live[v.index()] = true;
                }
            }
        }
        let before = self.nodes.len();
        let mut k = keep.iter();
        self.nodes.retain(|_| *k.next().expect("one flag per node"));
        let removed = before - self.nodes.len();

        // Rebuild arenas keeping inputs, live values and all outputs of kept nodes, in a stable order.
        let mut remap: SecondaryMap<Value, ValueId> = SecondaryMap::new();
        let mut values = Arena::new();
        let mut consts = Arena::new();
        let mut const_remap: SecondaryMap<Const, ConstId> = SecondaryMap::new();
        let mut wanted = vec![false; self.values.len()];
        for &v in self.inputs.iter().chain(&self.outputs) {
            wanted[v.index()] = true;
        }
        for node in &self.nodes {
            for &v in node.inputs.iter().chain(&node.outputs) {
                wanted[v.index()] = true;
            }
        }
        for (v, val) in self.values.iter() {
            if !wanted[v.index()] {
                continue;
            }
            let mut val = val.clone();
            if let Some(c) = val.konst {
                let nc = match const_remap.get(c) {
                    Some(&nc) => nc,
                    None => {
                        let nc = consts.alloc(self.consts[c].clone());
                        const_remap.insert(c, nc);
                        nc
                    }
                };
                val.konst = Some(nc);
            }
            remap.insert(v, values.alloc(val));
        }
        let map = |v: &mut ValueId| *v = *remap.get(*v).expect("every referenced value was kept");
        self.inputs.iter_mut().for_each(map);
        self.outputs.iter_mut().for_each(map);
        for node in &mut self.nodes {
            node.inputs.iter_mut().for_each(map);
            node.outputs.iter_mut().for_each(map);
        }
        self.values = values;
        self.consts = consts;
        removed
    }

    /// Count of nodes per op name, sorted by name (what `--op-counts` prints).
    pub fn op_counts(&self) -> Vec<(&'static str, usize)> {
        let mut m = std::collections::BTreeMap::new();
        for n in &self.nodes {
            *m.entry(n.op.name()).or_insert(0usize) += 1;
        }
        m.into_iter().collect()
    }
}
