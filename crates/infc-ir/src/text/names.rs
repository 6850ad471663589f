//! Printed spellings in text IR: which `%name` each value gets, and how strings are quoted.
//!
//! Graph inputs and graph outputs keep their source names (`%input_ids`, `%logits`); constants are
//! `%c0, %c1, …` in order of first use; every other value is `%0, %1, …` in definition order. A name
//! that is not a plain identifier, or that looks like a generated one (`c3`), is printed quoted
//! (`%"input.1:0"`). The same [`ValueNames`] table feeds the text printer, DOT and JSON output, so
//! all three agree on ids.

use crate::{Graph, ValueId};
use std::collections::HashSet;
use std::fmt::Write;

/// True when `s` can be printed without quotes: `[A-Za-z_][A-Za-z0-9_.]*`.
pub(crate) fn is_bare_ident(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// True for spellings the printer generates itself (`c` followed by digits), which a source name
/// must not shadow.
fn looks_generated(s: &str) -> bool {
    s.strip_prefix('c')
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
}

/// `"…"` with `\\`, `\"`, `\n`, `\r`, `\t` and `\u{..}` escapes; what the lexer reads back.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A symbolic dim or other name: bare when it is an identifier, quoted otherwise.
pub(crate) fn ident_or_quoted(s: &str) -> String {
    if is_bare_ident(s) {
        s.to_string()
    } else {
        quote(s)
    }
}

/// True for a name worth keeping on a graph output: not empty and not a bare number (a number is
/// what the parser names `%7`, and printing it back as `%"7"` would not round-trip).
fn is_source_name(s: &str) -> bool {
    !s.is_empty() && !s.bytes().all(|b| b.is_ascii_digit())
}

/// `%name` for a source name (inputs and outputs of the graph).
fn source_spelling(name: &str) -> String {
    if is_bare_ident(name) && !looks_generated(name) {
        format!("%{name}")
    } else {
        format!("%{}", quote(name))
    }
}

/// The printed `%…` spelling of every value of a graph, and the order constants are printed in.
pub struct ValueNames {
    names: Vec<Option<String>>,
    /// Constant values in order of first use (node inputs, then graph outputs).
    pub(crate) consts: Vec<ValueId>,
}

impl ValueNames {
    /// Assign spellings: inputs, then constants by first use, then node outputs in order.
    pub fn new(g: &Graph) -> ValueNames {
        let mut b = Builder {
            names: vec![None; g.values.len()],
            taken: HashSet::new(),
            next_num: 0,
            consts: Vec::new(),
        };
        for &v in &g.inputs {
            let name = g.values.get(v).map(|val| val.name.as_str()).unwrap_or("");
            b.name_source(v, name);
        }
        let const_uses = g
            .nodes
            .iter()
            .flat_map(|n| n.inputs.iter())
            .chain(&g.outputs);
        for &v in const_uses {
            if g.values.get(v).is_some_and(|val| val.konst.is_some()) && b.unnamed(v) {
                let spelling = format!("%c{}", b.consts.len());
                b.consts.push(v);
                b.set(v, spelling);
            }
        }
        let outputs: HashSet<ValueId> = g.outputs.iter().copied().collect();
        for node in &g.nodes {
            // Inputs not defined yet (a broken graph) still get a name so the text can be read.
            for &v in &node.inputs {
                if b.unnamed(v) {
                    b.name_numbered(v);
                }
            }
            for &v in &node.outputs {
                if !b.unnamed(v) {
                    continue;
                }
                match g.values.get(v) {
                    Some(val) if outputs.contains(&v) && is_source_name(&val.name) => {
                        b.name_source(v, &val.name)
                    }
                    _ => b.name_numbered(v),
                }
            }
        }
        for &v in &g.outputs {
            if b.unnamed(v) {
                b.name_numbered(v);
            }
        }
        ValueNames {
            names: b.names,
            consts: b.consts,
        }
    }

    /// The `%…` spelling of `v` (also for an id outside the graph, so broken graphs still print).
    pub fn get(&self, v: ValueId) -> String {
        match self.names.get(v.index()) {
            Some(Some(s)) => s.clone(),
            _ => format!("%{}", quote(&format!("<invalid value #{}>", v.index()))),
        }
    }
}

struct Builder {
    names: Vec<Option<String>>,
    taken: HashSet<String>,
    next_num: usize,
    consts: Vec<ValueId>,
}

impl Builder {
    fn unnamed(&self, v: ValueId) -> bool {
        matches!(self.names.get(v.index()), Some(None))
    }
    fn set(&mut self, v: ValueId, spelling: String) {
        if let Some(slot) = self.names.get_mut(v.index()) {
            self.taken.insert(spelling.clone());
            *slot = Some(spelling);
        }
    }
    fn name_source(&mut self, v: ValueId, name: &str) {
        if !self.unnamed(v) {
            return;
        }
        let spelling = source_spelling(name);
        if self.taken.contains(&spelling) {
            self.name_numbered(v);
        } else {
            self.set(v, spelling);
        }
    }
    fn name_numbered(&mut self, v: ValueId) {
        if !self.unnamed(v) {
            return;
        }
        let spelling = format!("%{}", self.next_num);
        self.next_num += 1;
        self.set(v, spelling);
    }
}
