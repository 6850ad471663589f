//! The text parser: reads back what [`super::print_graph`] writes (and hand-written filetests).
//! Types come from the text; no inference runs. Every error is `IrError::Parse { line, msg }` and
//! names the offending token.

use super::attrs::{build_op, AttrReader, RawAttr};
use super::lex::{lex_line, Tok};
use crate::{
    DType, Dim, Graph, IrError, Node, Precision, Realize, Shape, Tensor, TensorType, ValueId,
};
use std::collections::HashMap;

/// Parse text IR into a graph.
pub fn parse_graph(text: &str) -> Result<Graph, IrError> {
    let mut p = Parser {
        graph: Graph::default(),
        scope: HashMap::new(),
        state: State::Header,
    };
    let mut last_line = 0;
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        last_line = lineno;
        let toks = lex_line(line).map_err(|msg| IrError::Parse { line: lineno, msg })?;
        // A line holding only `# "…"` is a comment too.
        if toks.is_empty() || matches!(toks.as_slice(), [Tok::SourceName(_)]) {
            continue;
        }
        let mut cur = Cursor {
            toks,
            pos: 0,
            line: lineno,
        };
        p.line(&mut cur)?;
    }
    match p.state {
        State::Done => Ok(p.graph),
        State::Header => Err(IrError::Parse {
            line: last_line.max(1),
            msg: "no `graph` header found".into(),
        }),
        State::Body { .. } => Err(IrError::Parse {
            line: last_line.max(1),
            msg: "missing closing `}`".into(),
        }),
    }
}

enum State {
    Header,
    Body { returned: bool },
    Done,
}

struct Parser {
    graph: Graph,
    /// Printed spelling → value.
    scope: HashMap<String, ValueId>,
    state: State,
}

/// Tokens of one line with a read position.
struct Cursor {
    toks: Vec<Tok>,
    pos: usize,
    line: usize,
}

impl Cursor {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn err(&self, msg: impl Into<String>) -> IrError {
        IrError::Parse {
            line: self.line,
            msg: msg.into(),
        }
    }
    /// "found `x`" / "found end of line" for the token at the cursor.
    fn found(&self) -> String {
        match self.peek() {
            Some(t) => format!("found {t}"),
            None => "found end of line".to_string(),
        }
    }
    fn expected(&self, what: &str) -> IrError {
        self.err(format!("expected {what}, {}", self.found()))
    }
    fn is_punct(&self, c: char) -> bool {
        self.peek() == Some(&Tok::Punct(c))
    }
    fn eat_punct(&mut self, c: char) -> bool {
        let hit = self.is_punct(c);
        if hit {
            self.pos += 1;
        }
        hit
    }
    fn expect_punct(&mut self, c: char) -> Result<(), IrError> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            Err(self.expected(&format!("`{c}`")))
        }
    }
    fn is_ident(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s == word)
    }
    fn ident(&mut self, what: &str) -> Result<String, IrError> {
        match self.peek() {
            Some(Tok::Ident(s)) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            _ => Err(self.expected(what)),
        }
    }
    fn value(&mut self) -> Result<(String, String), IrError> {
        match self.peek() {
            Some(Tok::Value { spelling, name }) => {
                let r = (spelling.clone(), name.clone());
                self.pos += 1;
                Ok(r)
            }
            _ => Err(self.expected("a value (`%name`)")),
        }
    }
    /// Optional `# "source name"`, then end of line.
    fn source_name_and_end(&mut self) -> Result<String, IrError> {
        let name = match self.peek() {
            Some(Tok::SourceName(s)) => {
                let s = s.clone();
                self.pos += 1;
                s
            }
            _ => String::new(),
        };
        self.end()?;
        Ok(name)
    }
    fn end(&self) -> Result<(), IrError> {
        match self.peek() {
            None => Ok(()),
            Some(t) => Err(self.err(format!("unexpected {t} at end of line"))),
        }
    }
    /// Comma-separated items up to (not including) `close`.
    fn list<T>(
        &mut self,
        close: char,
        mut item: impl FnMut(&mut Cursor) -> Result<T, IrError>,
    ) -> Result<Vec<T>, IrError> {
        let mut out = Vec::new();
        if self.is_punct(close) {
            return Ok(out);
        }
        loop {
            out.push(item(self)?);
            if !self.eat_punct(',') {
                return Ok(out);
            }
        }
    }

    /// `f32[batch,3,224,224]`.
    fn tensor_type(&mut self) -> Result<TensorType, IrError> {
        let dtype = match self.peek() {
            Some(Tok::Ident(s)) => {
                let dtype = DType::from_name(s).ok_or_else(|| {
                    let names: Vec<&str> = DType::ALL.iter().map(|d| d.name()).collect();
                    self.err(format!(
                        "unknown dtype `{s}` (expected one of {})",
                        names.join(", ")
                    ))
                })?;
                self.pos += 1;
                dtype
            }
            _ => return Err(self.expected("a type like `f32[N,3]`")),
        };
        self.expect_punct('[')?;
        let dims = self.list(']', |c| match c.next() {
            Some(Tok::Number(s)) => s
                .parse::<usize>()
                .map(Dim::Known)
                .map_err(|_| c.err(format!("bad dimension `{s}` (expected a size or a symbol)"))),
            Some(Tok::Ident(s)) | Some(Tok::Str(s)) => Ok(Dim::sym(&s)),
            _ => {
                c.pos -= 1;
                Err(c.expected("a dimension (number or symbol)"))
            }
        })?;
        self.expect_punct(']')?;
        Ok(TensorType::new(dtype, Shape(dims)))
    }

    /// An attribute atom or a constant element: number, identifier (`true`, `none`, `inf`, `f32`).
    fn atom(&mut self, what: &str) -> Result<String, IrError> {
        match self.peek() {
            Some(Tok::Number(s)) | Some(Tok::Ident(s)) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            _ => Err(self.expected(what)),
        }
    }
}

impl Parser {
    fn line(&mut self, c: &mut Cursor) -> Result<(), IrError> {
        match self.state {
            State::Header => self.header(c),
            State::Body { returned } => {
                if c.eat_punct('}') {
                    c.end()?;
                    if !returned {
                        return Err(c.err("graph body ends without a `return` line"));
                    }
                    self.state = State::Done;
                    Ok(())
                } else if returned {
                    Err(c.err(format!("expected `}}` after `return`, {}", c.found())))
                } else if c.is_ident("return") {
                    c.pos += 1;
                    self.ret(c)
                } else {
                    self.definition(c)
                }
            }
            State::Done => Err(c.err(format!(
                "unexpected {} after the closing `}}`",
                c.peek().map(|t| t.to_string()).unwrap_or_default()
            ))),
        }
    }

    /// `graph "name"(%a: f32[N,3], …) {`
    fn header(&mut self, c: &mut Cursor) -> Result<(), IrError> {
        if !c.is_ident("graph") {
            return Err(c.expected("`graph \"name\"(…) {`"));
        }
        c.pos += 1;
        self.graph.name = match c.next() {
            Some(Tok::Str(s)) => s,
            _ => {
                c.pos -= 1;
                return Err(c.expected("the graph name as a quoted string"));
            }
        };
        c.expect_punct('(')?;
        let inputs = c.list(')', |c| {
            let (spelling, name) = c.value()?;
            c.expect_punct(':')?;
            let ty = c.tensor_type()?;
            Ok((spelling, name, ty))
        })?;
        c.expect_punct(')')?;
        c.expect_punct('{')?;
        c.end()?;
        for (spelling, name, ty) in inputs {
            self.check_fresh(c, &spelling)?;
            let v = self.graph.add_input(name, ty);
            self.scope.insert(spelling, v);
        }
        self.state = State::Body { returned: false };
        Ok(())
    }

    fn check_fresh(&self, c: &Cursor, spelling: &str) -> Result<(), IrError> {
        if self.scope.contains_key(spelling) {
            Err(c.err(format!("`{spelling}` is defined more than once")))
        } else {
            Ok(())
        }
    }

    fn lookup(&self, c: &Cursor, spelling: &str) -> Result<ValueId, IrError> {
        self.scope
            .get(spelling)
            .copied()
            .ok_or_else(|| c.err(format!("undefined value `{spelling}`")))
    }

    /// `return %a, %b`
    fn ret(&mut self, c: &mut Cursor) -> Result<(), IrError> {
        let outs = if c.peek().is_none() {
            Vec::new()
        } else {
            c.list('\0', |c| c.value())?
        };
        c.end()?;
        for (spelling, _) in outs {
            let v = self.lookup(c, &spelling)?;
            self.graph.outputs.push(v);
        }
        self.state = State::Body { returned: true };
        Ok(())
    }

    /// A constant line or a node line.
    fn definition(&mut self, c: &mut Cursor) -> Result<(), IrError> {
        let outs = if matches!(c.peek(), Some(Tok::Value { .. })) {
            let outs = c.list('=', |c| c.value())?;
            c.expect_punct('=')?;
            outs
        } else if matches!(c.peek(), Some(Tok::Ident(_))) {
            Vec::new() // a node without outputs
        } else {
            return Err(c.expected("a definition (`%x = …`), `return` or `}`"));
        };
        for (i, (spelling, _)) in outs.iter().enumerate() {
            self.check_fresh(c, spelling)?;
            if outs[..i].iter().any(|(s, _)| s == spelling) {
                return Err(c.err(format!("`{spelling}` is defined more than once")));
            }
        }
        if c.is_ident("const") {
            c.pos += 1;
            return self.constant(c, outs);
        }
        self.node(c, outs)
    }

    /// `%c0 = const i64[2] [1, -1]  # "name"` or `%c1 = const f32[64,3,7,7] fp=0x…  # "name"`
    fn constant(&mut self, c: &mut Cursor, outs: Vec<(String, String)>) -> Result<(), IrError> {
        let [(spelling, _)] = <[_; 1]>::try_from(outs).map_err(|o: Vec<_>| {
            c.err(format!("a constant defines one value, found {}", o.len()))
        })?;
        let ty = c.tensor_type()?;
        let Some(shape) = ty.shape.as_known() else {
            return Err(c.err(format!("constant type `{ty}` must have known dims")));
        };
        let tensor = if c.is_ident("fp") {
            c.pos += 1;
            c.expect_punct('=')?;
            let text = c.atom("a fingerprint like `0x1a2b…`")?;
            let fp = text
                .strip_prefix("0x")
                .and_then(|h| u64::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    c.err(format!(
                        "bad fingerprint `{text}` (expected `0x` and up to 16 hex digits)"
                    ))
                })?;
            Tensor::opaque(ty.dtype, shape, fp)
        } else if c.eat_punct('[') {
            let elems = c.list(']', |c| c.atom("a constant element"))?;
            c.expect_punct(']')?;
            tensor_from_text(ty.dtype, shape, &elems).map_err(|m| c.err(m))?
        } else {
            return Err(c.expected("constant data (`[…]` or `fp=0x…`)"));
        };
        let name = c.source_name_and_end()?;
        let v = self.graph.add_const(name, tensor);
        self.scope.insert(spelling, v);
        Ok(())
    }

    /// `%0, %1 = Op[k=v, …](%a, %b) : f32[…], f32[…]  # "name"`
    fn node(&mut self, c: &mut Cursor, outs: Vec<(String, String)>) -> Result<(), IrError> {
        let op_name = c.ident("an op name")?;
        let mut raw = Vec::new();
        if c.eat_punct('[') {
            raw = c.list(']', |c| {
                let key = c.ident("an attribute name")?;
                c.expect_punct('=')?;
                let value = if c.eat_punct('[') {
                    let items = c.list(']', |c| c.atom("a list element"))?;
                    c.expect_punct(']')?;
                    RawAttr::List(items)
                } else {
                    RawAttr::Atom(c.atom("an attribute value")?)
                };
                Ok((key, value))
            })?;
            c.expect_punct(']')?;
        }
        for (i, (k, _)) in raw.iter().enumerate() {
            if raw[..i].iter().any(|(k2, _)| k2 == k) {
                return Err(c.err(format!("{op_name}: attribute `{k}` given twice")));
            }
        }
        let mut reader = AttrReader::new(&op_name, raw);
        let op = build_op(&op_name, &mut reader).map_err(|m| c.err(m))?;
        reader.finish().map_err(|m| c.err(m))?;
        c.expect_punct('(')?;
        let ins = c.list(')', |c| c.value())?;
        c.expect_punct(')')?;
        let (mut precision, mut realize) = (None, None);
        while c.eat_punct('@') {
            let mark = c.ident("a mark (`@int8`, `@view`, …)")?;
            if let Some(p) = Precision::ALL.into_iter().find(|p| p.name() == mark) {
                if precision.replace(p).is_some() {
                    return Err(c.err(format!("{op_name}: two precision marks")));
                }
            } else if let Some(r) = Realize::ALL.into_iter().find(|r| r.name() == mark) {
                if realize.replace(r).is_some() {
                    return Err(c.err(format!("{op_name}: two realize marks")));
                }
            } else {
                let known: Vec<&str> = Precision::ALL
                    .iter()
                    .map(|p| p.name())
                    .chain(Realize::ALL.iter().map(|r| r.name()))
                    .collect();
                return Err(c.err(format!(
                    "unknown mark `@{mark}` (known: {})",
                    known.join(", ")
                )));
            }
        }
        let types = if outs.is_empty() {
            Vec::new()
        } else {
            if !c.eat_punct(':') {
                return Err(c.expected("`:` and the output types"));
            }
            c.list('\0', |c| c.tensor_type())?
        };
        let name = c.source_name_and_end()?;

        let arity = op.arity();
        if ins.len() < arity.min_inputs || ins.len() > arity.max_inputs {
            let want = match (arity.min_inputs, arity.max_inputs) {
                (a, b) if a == b => format!("{a}"),
                (a, usize::MAX) => format!("at least {a}"),
                (a, b) => format!("{a} to {b}"),
            };
            return Err(c.err(format!(
                "{op_name} takes {want} input(s), found {}",
                ins.len()
            )));
        }
        if outs.len() != arity.outputs {
            return Err(c.err(format!(
                "{op_name} has {} output(s), found {}",
                arity.outputs,
                outs.len()
            )));
        }
        if types.len() != outs.len() {
            return Err(c.err(format!(
                "{} output(s) but {} type(s)",
                outs.len(),
                types.len()
            )));
        }
        let inputs = ins
            .iter()
            .map(|(s, _)| self.lookup(c, s))
            .collect::<Result<Vec<_>, _>>()?;
        let mut outputs = Vec::with_capacity(outs.len());
        for ((spelling, vname), ty) in outs.into_iter().zip(types) {
            let v = self.graph.add_value(vname, ty);
            self.scope.insert(spelling, v);
            outputs.push(v);
        }
        let mut node = Node::new(name, op, inputs, outputs);
        node.precision = precision.unwrap_or_default();
        node.realize = realize.unwrap_or_default();
        self.graph.nodes.push(node);
        Ok(())
    }
}

/// A constant tensor from its printed elements.
fn tensor_from_text(dtype: DType, shape: Vec<usize>, elems: &[String]) -> Result<Tensor, String> {
    let numel: usize = shape.iter().product();
    if elems.len() != numel {
        return Err(format!(
            "constant {dtype}{shape:?} needs {numel} elements, found {}",
            elems.len()
        ));
    }
    fn each<T>(
        elems: &[String],
        what: &str,
        f: impl Fn(&str) -> Option<T>,
    ) -> Result<Vec<T>, String> {
        elems
            .iter()
            .map(|s| f(s).ok_or_else(|| format!("bad {what} element `{s}`")))
            .collect()
    }
    let t = match dtype {
        DType::F32 => Tensor::from_vec(shape, each(elems, "f32", |s| s.parse::<f32>().ok())?),
        DType::F16 => Tensor::from_vec(
            shape,
            each(elems, "f16", |s| {
                s.parse::<f32>().ok().map(half::f16::from_f32)
            })?,
        ),
        DType::I64 => Tensor::from_vec(shape, each(elems, "i64", |s| s.parse::<i64>().ok())?),
        DType::I32 => Tensor::from_vec(shape, each(elems, "i32", |s| s.parse::<i32>().ok())?),
        DType::I8 => Tensor::from_vec(shape, each(elems, "i8", |s| s.parse::<i8>().ok())?),
        DType::U8 => Tensor::from_vec(shape, each(elems, "u8", |s| s.parse::<u8>().ok())?),
        DType::Bool => {
            let b = each(elems, "bool", |s| match s {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            })?;
            Tensor::from_bools(shape, &b)
        }
    };
    t.map_err(|e| e.to_string())
}
