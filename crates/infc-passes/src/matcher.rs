//! The def/use view of a graph that fusion rules match against ([`Matcher`]), kept current across
//! rewrites: after a rule fires, [`Matcher::refresh`] updates only the nodes the rule touched (its
//! anchor, the nodes it consumed, nodes it appended, and the readers [`Matcher::replace_uses`]
//! rewired) instead of rebuilding the tables from the whole graph, which made every fusion pass
//! quadratic in the node count (50 000 chained Transposes took minutes at -O3).

use infc_ir::{BinaryOp, Graph, Node, NodeIndex, Op, SecondaryMap, UnaryOp, Value, ValueId};
use std::cell::RefCell;
use std::collections::HashSet;

/// Def/use tables of a graph. Users lists are in node order, as [`Graph::uses`] builds them.
pub struct Matcher {
    producers: SecondaryMap<Value, (NodeIndex, usize)>,
    users: SecondaryMap<Value, Vec<NodeIndex>>,
    outputs: HashSet<ValueId>,
    /// Each node's inputs and outputs as the tables last saw them.
    seen: Vec<(Vec<ValueId>, Vec<ValueId>)>,
    /// Readers [`Matcher::replace_uses`] rewired since the last refresh, and whether it changed
    /// the graph outputs.
    rewired: RefCell<(Vec<NodeIndex>, bool)>,
}

impl Matcher {
    pub fn new(g: &Graph) -> Matcher {
        Matcher {
            producers: g.producers(),
            users: g.uses(),
            outputs: g.outputs.iter().copied().collect(),
            seen: g
                .nodes
                .iter()
                .map(|n| (n.inputs.clone(), n.outputs.clone()))
                .collect(),
            rewired: RefCell::new((Vec::new(), false)),
        }
    }

    /// The node defining `v` (None for graph inputs and constants).
    pub fn producer(&self, v: ValueId) -> Option<NodeIndex> {
        self.producers.get(v).map(|&(n, _)| n)
    }

    /// Nodes reading `v` (a node reading it twice is listed twice).
    pub fn users(&self, v: ValueId) -> &[NodeIndex] {
        self.users.get(v).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn is_graph_output(&self, v: ValueId) -> bool {
        self.outputs.contains(&v)
    }

    /// [`Graph::replace_uses`] through the users table: rewrites only the nodes that read `old`
    /// (and nodes appended since the last refresh), not every node of the graph. The tables catch
    /// up at the next [`Matcher::refresh`].
    pub fn replace_uses(&self, g: &mut Graph, old: ValueId, new: ValueId) {
        let mut rewired = self.rewired.borrow_mut();
        let appended = self.seen.len()..g.nodes.len();
        for n in self.users(old).iter().copied().chain(appended) {
            let node = &mut g.nodes[n];
            if node.inputs.contains(&old) {
                node.inputs
                    .iter_mut()
                    .filter(|v| **v == old)
                    .for_each(|v| *v = new);
                rewired.0.push(n);
            }
        }
        if self.is_graph_output(old) {
            g.outputs
                .iter_mut()
                .filter(|v| **v == old)
                .for_each(|v| *v = new);
            rewired.1 = true;
        }
    }

    /// Bring the tables up to date after a rewrite anchored at `anchor` that consumed `consumed`:
    /// re-reads those nodes, the readers of their outputs and the readers' readers (the rule may
    /// have replaced one and rewired its readers), the nodes appended since, and the readers
    /// [`Matcher::replace_uses`] rewired.
    pub fn refresh(&mut self, g: &Graph, anchor: NodeIndex, consumed: &[NodeIndex]) {
        let (mut touched, outputs_changed) = std::mem::take(self.rewired.get_mut());
        // The node a rule replaces in place is the pattern's last (`anchor` or a reader of a value
        // the pattern defined), and it may rewire that node's readers: two rounds of readers.
        let mut near: Vec<NodeIndex> = consumed.iter().copied().chain([anchor]).collect();
        for _ in 0..2 {
            let readers: Vec<NodeIndex> = near
                .iter()
                .flat_map(|&n| self.seen.get(n).map_or(&[][..], |(_, outs)| &outs[..]))
                .flat_map(|&o| self.users(o).iter().copied())
                .collect();
            touched.append(&mut near);
            near = readers;
        }
        touched.append(&mut near);
        touched.extend(self.seen.len()..g.nodes.len());
        self.seen.resize_with(g.nodes.len(), Default::default);
        touched.sort_unstable();
        touched.dedup();
        for n in touched {
            self.reread(n, &g.nodes[n]);
        }
        if outputs_changed {
            self.outputs = g.outputs.iter().copied().collect();
        }
        #[cfg(debug_assertions)]
        if g.nodes.len() <= 2048 {
            self.assert_fresh(g);
        }
    }

    /// Replace node `n`'s entries in the tables by those of `node`.
    fn reread(&mut self, n: NodeIndex, node: &Node) {
        let (inputs, outputs) = &self.seen[n];
        if *inputs == node.inputs && *outputs == node.outputs {
            return;
        }
        let (inputs, outputs) = std::mem::take(&mut self.seen[n]);
        for v in inputs {
            if let Some(list) = self.users.get_mut(v) {
                let at = list.partition_point(|&u| u < n);
                let end = at + list[at..].iter().take_while(|&&u| u == n).count();
                list.drain(at..end);
            }
        }
        for v in outputs {
            if self.producers.get(v).is_some_and(|&(p, _)| p == n) {
                self.producers.remove(v);
            }
        }
        for &v in &node.inputs {
            match self.users.get_mut(v) {
                Some(list) => {
                    let at = list.partition_point(|&u| u <= n);
                    list.insert(at, n);
                }
                None => {
                    self.users.insert(v, vec![n]);
                }
            }
        }
        for (slot, &o) in node.outputs.iter().enumerate() {
            self.producers.insert(o, (n, slot));
        }
        self.seen[n] = (node.inputs.clone(), node.outputs.clone());
    }

    /// Debug builds, small graphs: the updated tables equal a rebuild (a rule that edits a node
    /// the refresh does not re-read fails here in the tests).
    #[cfg(debug_assertions)]
    fn assert_fresh(&self, g: &Graph) {
        let fresh = Matcher::new(g);
        let users = |m: &Matcher| -> Vec<(ValueId, Vec<NodeIndex>)> {
            m.users
                .iter()
                .filter(|(_, l)| !l.is_empty())
                .map(|(v, l)| (v, l.clone()))
                .collect()
        };
        let producers = |m: &Matcher| -> Vec<(ValueId, (NodeIndex, usize))> {
            m.producers.iter().map(|(v, &p)| (v, p)).collect()
        };
        assert_eq!(users(self), users(&fresh), "matcher users out of date");
        assert_eq!(
            producers(self),
            producers(&fresh),
            "matcher producers out of date"
        );
        assert_eq!(self.outputs, fresh.outputs, "matcher outputs out of date");
    }

    /// The single node reading `v`, if exactly one node reads it exactly once and `v` is not a
    /// graph output: the condition for swallowing `v` into a chain.
    pub fn sole_user(&self, v: ValueId) -> Option<NodeIndex> {
        match self.users(v) {
            [u] if !self.is_graph_output(v) => Some(*u),
            _ => None,
        }
    }

    /// True when `v` is read only by nodes in `pattern` and is not a graph output.
    pub fn internal(&self, v: ValueId, pattern: &[NodeIndex]) -> bool {
        !self.is_graph_output(v) && self.users(v).iter().all(|u| pattern.contains(u))
    }

    /// True when every output of every node of `pattern` except `anchor` is internal to `pattern`.
    pub fn all_internal(&self, g: &Graph, pattern: &[NodeIndex], anchor: NodeIndex) -> bool {
        pattern.iter().filter(|&&n| n != anchor).all(|&n| {
            g.nodes[n]
                .outputs
                .iter()
                .all(|&o| self.internal(o, pattern))
        })
    }

    /// The node defining `v` when its op satisfies `pred`.
    pub fn def_if<'g>(
        &self,
        g: &'g Graph,
        v: ValueId,
        pred: impl Fn(&Op) -> bool,
    ) -> Option<(NodeIndex, &'g Node)> {
        let n = self.producer(v)?;
        let node = &g.nodes[n];
        pred(&node.op).then_some((n, node))
    }

    /// The node defining `v` when it is the binary op `op`; returns its two operands.
    pub fn def_binary(
        &self,
        g: &Graph,
        v: ValueId,
        op: BinaryOp,
    ) -> Option<(NodeIndex, ValueId, ValueId)> {
        let (n, node) = self.def_if(g, v, |o| *o == Op::Binary(op))?;
        Some((n, node.inputs[0], node.inputs[1]))
    }

    /// The node defining `v` when it is the unary op `op`; returns its operand.
    pub fn def_unary(&self, g: &Graph, v: ValueId, op: UnaryOp) -> Option<(NodeIndex, ValueId)> {
        let (n, node) = self.def_if(g, v, |o| *o == Op::Unary(op))?;
        Some((n, node.inputs[0]))
    }
}
