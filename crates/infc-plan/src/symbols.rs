//! Range plans (format 5.2, section [`crate::section::SYMBOLS`]): a plan compiled once for a
//! range of shapes. The plan's symbols (`batch`, `sequence`, …) each have a `min..=max` range; a
//! table of dim expressions (polynomials in the symbols with rational coefficients) gives every
//! shape-dependent field; a patch table says which numeric field of which step, input or output
//! each expression replaces.
//!
//! The STEPS and META sections of a range plan hold the plan *at its max shape* (with a per-shape
//! arena, section ARENA, at the table's nominal shape: see `shape_arena.rs`), a complete plan
//! validated like any other, so the arena and every offset are checked at load as usual. A run at another shape instantiates the plan there ([`RangeTable::instantiate`]):
//! evaluate the expressions (checked 128-bit arithmetic, exact division), patch the fields, and
//! validate the result in full before it runs. Nothing in the table is trusted: counts, ranges,
//! exponents, patch targets and the agreement of every expression with the field it patches at the
//! max shape are all checked at decode, in time linear in the table and the steps it patches.
//!
//! A numeric field is a `u64` or `i64` in a step's (or I/O descriptor's) encoding, numbered in
//! encoding order ([`numeric_fields`]): a patch needs no per-kind code, and the encoding is the one
//! definition of a step's fields.

use crate::format::PlanBody;
use crate::shape_arena::ShapeArena;
use crate::validate::MAX_ELEMENTS;
use crate::wire::{wire_struct, Reader, Wire, Writer};
use crate::PlanError;

/// Most symbols a plan may have.
pub const MAX_SYMBOLS: usize = 8;
/// Most terms of one expression.
pub const MAX_TERMS: usize = 64;
/// Highest exponent of a symbol in a term.
pub const MAX_EXPONENT: u8 = 4;

/// The `max` of a symbol with no bound but the memory budget (a run-time dim of a plan with a
/// per-shape arena).
pub const UNBOUNDED: u64 = MAX_ELEMENTS;

/// A plan symbol: a dim the caller chooses at run time within `min..=max`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    pub name: String,
    pub min: u64,
    pub max: u64,
}
wire_struct!(Symbol { name, min, max });

impl Symbol {
    /// `1..=8`, or `1..` for an unbounded symbol.
    pub fn range_text(&self) -> String {
        if self.max == UNBOUNDED {
            format!("{}..", self.min)
        } else {
            format!("{}..={}", self.min, self.max)
        }
    }
}

/// One term of a [`DimExpr`]: `coef · Π symbolᵢ^exps[i]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    pub coef: i64,
    pub exps: Vec<u8>,
}
wire_struct!(Term { coef, exps });

/// `(Σ terms) / den`, which must divide exactly wherever it is evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DimExpr {
    pub den: u64,
    pub terms: Vec<Term>,
}
wire_struct!(DimExpr { den, terms });

/// What a [`Patch`] patches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum PatchTarget {
    Step = 0,
    Input = 1,
    Output = 2,
}
crate::wire::wire_enum!(PatchTarget, "patch target", [Step, Input, Output]);

/// Field `field` (numbered by [`numeric_fields`]) of step / input / output `index` is expression
/// `expr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Patch {
    pub target: PatchTarget,
    pub index: u32,
    pub field: u32,
    pub expr: u32,
}
wire_struct!(Patch {
    target,
    index,
    field,
    expr
});

/// The SYMBOLS section.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeTable {
    pub symbols: Vec<Symbol>,
    pub exprs: Vec<DimExpr>,
    /// Sorted by `(target, index, field)`, each at most once.
    pub patches: Vec<Patch>,
    /// A per-shape arena (section ARENA, 5.4; `None`: the stored arena serves every shape).
    pub arena: Option<ShapeArena>,
}

/// The SYMBOLS section holds the symbols, expressions and patches; the arena has its own section.
impl Wire for RangeTable {
    const MIN_BYTES: usize = 0;
    fn put(&self, w: &mut Writer) {
        self.symbols.put(w);
        self.exprs.put(w);
        self.patches.put(w);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, PlanError> {
        Ok(RangeTable {
            symbols: Wire::get(r)?,
            exprs: Wire::get(r)?,
            patches: Wire::get(r)?,
            arena: None,
        })
    }
}

fn bad(msg: impl Into<String>) -> PlanError {
    PlanError::malformed("symbols", msg)
}

/// An encoding and its numeric fields (see [`numeric_fields`]).
type Encoded = (Vec<u8>, Vec<(usize, bool)>);

/// Byte positions and signedness of the numeric (`u64`/`i64`) fields of `v`'s encoding, in order,
/// and the encoding itself.
pub fn numeric_fields<T: Wire>(v: &T) -> Encoded {
    let mut w = Writer::recording();
    v.put(&mut w);
    let fields = w.numeric.take().unwrap_or_default();
    (w.buf, fields)
}

/// Read numeric field `(pos, signed)` of an encoding as i128.
pub(crate) fn read_field(bytes: &[u8], (pos, signed): (usize, bool)) -> i128 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&bytes[pos..pos + 8]);
    if signed {
        i64::from_le_bytes(a) as i128
    } else {
        u64::from_le_bytes(a) as i128
    }
}

/// The numeric field values of `v`, in encoding order (compile time: what a fit compares).
pub fn numeric_values<T: Wire>(v: &T) -> Vec<i128> {
    let (bytes, fields) = numeric_fields(v);
    fields.iter().map(|&f| read_field(&bytes, f)).collect()
}

/// `v`'s encoding with every numeric field zeroed: two values with equal skeletons differ only in
/// numeric fields (compile time: the structural check of a fit).
pub fn skeleton<T: Wire>(v: &T) -> Vec<u8> {
    let (mut bytes, fields) = numeric_fields(v);
    for (pos, _) in fields {
        bytes[pos..pos + 8].fill(0);
    }
    bytes
}

impl DimExpr {
    /// The value at `values` (one per symbol), or why not: overflow, inexact division, or a
    /// result outside `lo..=hi`.
    pub fn eval(&self, values: &[u64], lo: i128, hi: i128) -> Result<i128, String> {
        let overflow = || "overflows".to_string();
        let mut sum: i128 = 0;
        for t in &self.terms {
            let mut p = t.coef as i128;
            for (&v, &e) in values.iter().zip(&t.exps) {
                let f = (v as i128).checked_pow(e as u32).ok_or_else(overflow)?;
                p = p.checked_mul(f).ok_or_else(overflow)?;
            }
            sum = sum.checked_add(p).ok_or_else(overflow)?;
        }
        let den = self.den as i128;
        if den == 0 || sum % den != 0 {
            return Err(format!("{sum}/{den} is not an integer"));
        }
        let v = sum / den;
        if v < lo || v > hi {
            return Err(format!("gives {v}, outside {lo}..={hi}"));
        }
        Ok(v)
    }

    /// `Some(k)` when the expression is symbol `k` itself.
    pub fn as_symbol(&self) -> Option<usize> {
        match self.terms.as_slice() {
            [t] if self.den == 1 && t.coef == 1 && t.exps.iter().sum::<u8>() == 1 => {
                t.exps.iter().position(|&e| e == 1)
            }
            _ => None,
        }
    }
}

impl RangeTable {
    /// The max value of every symbol.
    pub fn max_values(&self) -> Vec<u64> {
        self.symbols.iter().map(|s| s.max).collect()
    }

    /// The symbols' values at which the stored plan was lowered: the max shape, or a per-shape
    /// arena's nominal shape.
    pub fn nominal_values(&self) -> Vec<u64> {
        match &self.arena {
            Some(a) => a.nominal.clone(),
            None => self.max_values(),
        }
    }

    /// Check the table alone: counts, names, ranges, exponents, patch order and bounds of
    /// indices into `body` (not yet the fields: see [`RangeTable::check_against`]).
    pub fn check(&self, body: &PlanBody) -> Result<(), PlanError> {
        let n = self.symbols.len();
        if n == 0 || n > MAX_SYMBOLS {
            return Err(bad(format!(
                "{n} symbols (a range plan has 1..={MAX_SYMBOLS})"
            )));
        }
        let mut names: Vec<&str> = self.symbols.iter().map(|s| s.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(bad(format!("symbol '{}' appears twice", w[0])));
        }
        for s in &self.symbols {
            if s.name.is_empty() || s.min == 0 || s.min > s.max || s.max > MAX_ELEMENTS {
                return Err(bad(format!(
                    "symbol '{}' has range {}..={} (a range is 1 <= min <= max <= {MAX_ELEMENTS})",
                    s.name, s.min, s.max
                )));
            }
        }
        for (i, e) in self.exprs.iter().enumerate() {
            if e.den == 0 || e.terms.is_empty() || e.terms.len() > MAX_TERMS {
                return Err(bad(format!(
                    "expression {i}: denominator {} and {} terms (a denominator >= 1, 1..={MAX_TERMS} terms)",
                    e.den,
                    e.terms.len()
                )));
            }
            for t in &e.terms {
                if t.exps.len() != n || t.exps.iter().any(|&x| x > MAX_EXPONENT) {
                    return Err(bad(format!(
                        "expression {i}: a term has exponents {:?} ({n} symbols, each exponent <= {MAX_EXPONENT})",
                        t.exps
                    )));
                }
            }
        }
        for w in self.patches.windows(2) {
            let key = |p: &Patch| (p.target, p.index, p.field);
            if key(&w[0]) >= key(&w[1]) {
                return Err(bad(format!(
                    "patches are not in strictly increasing order at {:?}",
                    w[1]
                )));
            }
        }
        for p in &self.patches {
            let len = match p.target {
                PatchTarget::Step => body.steps.len(),
                PatchTarget::Input => body.inputs.len(),
                PatchTarget::Output => body.outputs.len(),
            };
            if p.index as usize >= len || p.expr as usize >= self.exprs.len() {
                return Err(bad(format!(
                    "patch {p:?} points past the plan ({len} {:?}s, {} expressions)",
                    p.target,
                    self.exprs.len()
                )));
            }
        }
        // Every symbol must be read from an input dim: that is how a run learns its value.
        for (k, s) in self.symbols.iter().enumerate() {
            let read = self.patches.iter().any(|p| {
                p.target == PatchTarget::Input && self.exprs[p.expr as usize].as_symbol() == Some(k)
            });
            if !read {
                return Err(bad(format!("symbol '{}' is no input's dim", s.name)));
            }
        }
        Ok(())
    }

    /// Every symbol's value as the inputs' patched dims give it: `(input, dim)` for each input
    /// dim that is a plain symbol (what a run reads its symbols from).
    pub fn input_symbol_dims(&self, body: &PlanBody) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        for p in self
            .patches
            .iter()
            .filter(|p| p.target == PatchTarget::Input)
        {
            let Some(sym) = self.exprs[p.expr as usize].as_symbol() else {
                continue;
            };
            let input = p.index as usize;
            // Numeric fields of an IoDesc: its dims, then the offset.
            let rank = body.inputs[input].shape.len();
            if (p.field as usize) < rank {
                out.push((input, p.field as usize, sym));
            }
        }
        out
    }

    /// Check that the plan in `body` is this table instantiated at the nominal shape: every
    /// patched field exists and holds its expression's value there (one encoding of each patched
    /// item), and a per-shape arena table agrees with the plan's memory map.
    pub fn check_against(&self, body: &PlanBody) -> Result<(), PlanError> {
        if let Some(a) = &self.arena {
            a.check(self, body)?;
        }
        let max = self.nominal_values();
        let mut encoded: Option<((PatchTarget, u32), Encoded)> = None;
        for p in &self.patches {
            let i = p.index as usize;
            if encoded.as_ref().map(|(key, _)| *key) != Some((p.target, p.index)) {
                let enc = match p.target {
                    PatchTarget::Step => numeric_fields(&body.steps[i]),
                    PatchTarget::Input => numeric_fields(&body.inputs[i]),
                    PatchTarget::Output => numeric_fields(&body.outputs[i]),
                };
                encoded = Some(((p.target, p.index), enc));
            }
            let Some((_, (bytes, fields))) = &encoded else {
                continue;
            };
            let Some(&f) = fields.get(p.field as usize) else {
                return Err(bad(format!(
                    "patch {p:?}: the target has {} numeric fields",
                    fields.len()
                )));
            };
            let e = p.expr as usize;
            let want = self.exprs[e]
                .eval(&max, i128::MIN, i128::MAX)
                .map_err(|why| bad(format!("expression {e} at the nominal shape: {why}")))?;
            let have = read_field(bytes, f);
            if want != have {
                return Err(bad(format!(
                    "patch {p:?}: the plan holds {have} at the nominal shape, expression {e} gives {want}"
                )));
            }
        }
        Ok(())
    }

    /// `body` (the plan at its nominal shape) with every patched field set to its expression at
    /// `values` and, with a per-shape arena, the arena planned there and every offset moved into
    /// it. Not validated: callers validate the result before running it.
    pub fn instantiate(&self, body: &PlanBody, values: &[u64]) -> Result<PlanBody, PlanError> {
        if values.len() != self.symbols.len() {
            return Err(bad(format!(
                "{} symbol values for {} symbols",
                values.len(),
                self.symbols.len()
            )));
        }
        let mut evaluated: Vec<Option<i128>> = vec![None; self.exprs.len()];
        let mut out = body.clone();
        let mut k = 0;
        while k < self.patches.len() {
            let first = self.patches[k];
            let mut end = k;
            while end < self.patches.len()
                && self.patches[end].target == first.target
                && self.patches[end].index == first.index
            {
                end += 1;
            }
            let group = &self.patches[k..end];
            let i = first.index as usize;
            match first.target {
                PatchTarget::Step => {
                    out.steps[i] = self.patch_one(&body.steps[i], group, values, &mut evaluated)?
                }
                PatchTarget::Input => {
                    out.inputs[i] =
                        self.patch_one(&body.inputs[i], group, values, &mut evaluated)?
                }
                PatchTarget::Output => {
                    out.outputs[i] =
                        self.patch_one(&body.outputs[i], group, values, &mut evaluated)?
                }
            }
            k = end;
        }
        if let Some(a) = &self.arena {
            let planned = a.plan(self, values)?;
            a.apply(body, &planned, &mut out)?;
        }
        Ok(out)
    }

    fn patch_one<T: Wire>(
        &self,
        v: &T,
        patches: &[Patch],
        values: &[u64],
        evaluated: &mut [Option<i128>],
    ) -> Result<T, PlanError> {
        let (mut bytes, fields) = numeric_fields(v);
        for p in patches {
            let Some(&(pos, signed)) = fields.get(p.field as usize) else {
                return Err(bad(format!(
                    "patch {p:?}: the target has {} numeric fields",
                    fields.len()
                )));
            };
            let (lo, hi) = if signed {
                (i64::MIN as i128, i64::MAX as i128)
            } else {
                (0, u64::MAX as i128)
            };
            let e = p.expr as usize;
            let val = match evaluated[e] {
                Some(v) => v,
                None => {
                    let v = self.exprs[e]
                        .eval(values, i128::MIN, i128::MAX)
                        .map_err(|why| {
                            bad(format!("expression {e} at {}: {why}", self.show(values)))
                        })?;
                    evaluated[e] = Some(v);
                    v
                }
            };
            if val < lo || val > hi {
                return Err(bad(format!(
                    "expression {e} at {} gives {val}, which field {} of {:?} {} cannot hold",
                    self.show(values),
                    p.field,
                    p.target,
                    p.index
                )));
            }
            let le = if signed {
                (val as i64).to_le_bytes()
            } else {
                (val as u64).to_le_bytes()
            };
            bytes[pos..pos + 8].copy_from_slice(&le);
        }
        let mut r = Reader::new(&bytes, "symbols");
        let v = T::get(&mut r)?;
        r.finish()?;
        Ok(v)
    }

    /// The dims of input or output `index` (`shape` at the max shape) as text: a fixed size, a
    /// symbol with its range (`batch(1..=8)`), or an expression of the symbols.
    pub fn io_dims(&self, target: PatchTarget, index: usize, shape: &[u64]) -> Vec<String> {
        shape
            .iter()
            .enumerate()
            .map(|(d, &size)| {
                let patch = self.patches.iter().find(|p| {
                    p.target == target && p.index as usize == index && p.field as usize == d
                });
                match patch.map(|p| &self.exprs[p.expr as usize]) {
                    None => size.to_string(),
                    Some(e) => match e.as_symbol() {
                        Some(k) => {
                            let s = &self.symbols[k];
                            format!("{}({})", s.name, s.range_text())
                        }
                        None => self.expr_text(e),
                    },
                }
            })
            .collect()
    }

    /// An expression as text: `(768·batch·sequence + 3) / 2`.
    pub fn expr_text(&self, e: &DimExpr) -> String {
        let terms: Vec<String> = e
            .terms
            .iter()
            .map(|t| {
                let mut parts = Vec::new();
                if t.coef != 1 || t.exps.iter().all(|&x| x == 0) {
                    parts.push(t.coef.to_string());
                }
                for (s, &x) in self.symbols.iter().zip(&t.exps) {
                    match x {
                        0 => {}
                        1 => parts.push(s.name.clone()),
                        _ => parts.push(format!("{}^{x}", s.name)),
                    }
                }
                parts.join("·")
            })
            .collect();
        let sum = terms.join(" + ");
        if e.den == 1 {
            sum
        } else {
            format!("({sum}) / {}", e.den)
        }
    }

    /// `batch=2, sequence=17`.
    pub fn show(&self, values: &[u64]) -> String {
        self.symbols
            .iter()
            .zip(values)
            .map(|(s, v)| format!("{}={v}", s.name))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The section's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.put(&mut w);
        w.buf
    }

    /// Parse the section (structure only; see [`RangeTable::check`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<RangeTable, PlanError> {
        let mut r = Reader::new(bytes, "symbols");
        let t = RangeTable::get(&mut r)?;
        r.finish()?;
        Ok(t)
    }
}
