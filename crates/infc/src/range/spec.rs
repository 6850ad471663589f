//! `--shape` flags with ranges: `NAME=MIN..MAX` bounds a symbolic dim, `input=1..8x1..512` an
//! input's dims (a fixed size still works, `input=1x3x224x224`). The flags split into fixed
//! bindings (what the passes bind) and symbol ranges (what a range plan keeps); a symbolic dim no
//! flag mentions gets [`DEFAULT_MAX`] as its bound when compiling.

use crate::error::{Error, Result};
use infc_ir::{Dim, Graph};
use infc_passes::{parse_shape_binding, unbound_symbols, ShapeBinding};

/// The bound a symbolic dim left unbound compiles with: `1..=DEFAULT_MAX`.
pub const DEFAULT_MAX: u64 = 8;

/// The bound a symbolic dim no flag bounds is tried with when a constant grows with it (so it
/// cannot be a run-time dim): a position table sliced by the sequence length makes `sequence`
/// `1..=TIED_DEFAULT_MAX` when the model lowers there (its table holds that many positions),
/// else it keeps [`DEFAULT_MAX`].
pub const TIED_DEFAULT_MAX: u64 = 512;

/// One symbol of a range plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolRange {
    /// The ONNX dim parameter (`batch_size`, `sequence_length`).
    pub name: String,
    /// Smallest size (at least 1).
    pub min: u64,
    /// Largest size.
    pub max: u64,
    /// Whether the bound is [`DEFAULT_MAX`] rather than a flag's.
    pub defaulted: bool,
}

/// `--shape` flags split into fixed bindings and symbol ranges.
#[derive(Clone, Debug, Default)]
pub struct Ranges {
    /// Bindings to a single size.
    pub fixed: Vec<ShapeBinding>,
    /// Symbols with a range of more than one size, in order of first appearance on the inputs.
    pub symbols: Vec<SymbolRange>,
}

fn bad(flag: &str, why: impl std::fmt::Display) -> Error {
    Error::Options(format!(
        "--shape {flag}: {why} (expected NAME=D0xD1x… where each D is N or MIN..MAX, e.g. input_ids=1..8x1..512 or batch=1..16)"
    ))
}

/// `N` or `MIN..MAX`.
fn parse_dim(flag: &str, d: &str) -> Result<(u64, u64)> {
    let num = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|_| bad(flag, format!("'{s}' is not a non-negative integer")))
    };
    match d.split_once("..") {
        None => num(d).map(|n| (n, n)),
        Some((lo, hi)) => {
            let (lo, hi) = (num(lo)?, num(hi.trim_start_matches('='))?);
            if lo == 0 || lo > hi {
                return Err(bad(
                    flag,
                    format!("range {lo}..{hi} is empty or starts at 0"),
                ));
            }
            Ok((lo, hi))
        }
    }
}

impl Ranges {
    /// Split `flags` against the model's inputs; `default_unbound` gives every symbolic input dim
    /// no flag mentions the range `1..=DEFAULT_MAX` (compiling), else they stay symbolic.
    pub fn parse(g: &Graph, flags: &[String], default_unbound: bool) -> Result<Ranges> {
        // (symbol, lo, hi, flag that set it)
        let mut set: Vec<(String, u64, u64, String)> = Vec::new();
        let mut fixed = Vec::new();
        let mut note = |sym: &str, lo: u64, hi: u64, flag: &str| -> Result<()> {
            if let Some((_, l, h, by)) = set.iter().find(|(s, ..)| s == sym) {
                if (*l, *h) != (lo, hi) {
                    return Err(bad(
                        flag,
                        format!("dim '{sym}' is {l}..{h} by {by} and {lo}..{hi} here"),
                    ));
                }
                return Ok(());
            }
            set.push((sym.to_string(), lo, hi, flag.to_string()));
            Ok(())
        };
        for flag in flags {
            if !flag.contains("..") {
                fixed.push(parse_shape_binding(flag)?);
                continue;
            }
            let (name, dims) = flag
                .rsplit_once('=')
                .filter(|(n, d)| !n.is_empty() && !d.is_empty())
                .ok_or_else(|| bad(flag, "not NAME=DIMS"))?;
            let dims: Vec<(u64, u64)> = dims
                .split(['x', 'X'])
                .map(|d| parse_dim(flag, d))
                .collect::<Result<_>>()?;
            if let Some(v) = g.input_by_name(name) {
                let ty = g.ty(v);
                if ty.rank() != dims.len() {
                    return Err(bad(
                        flag,
                        format!(
                            "input '{name}' is {ty}: {} dims, the flag gives {}",
                            ty.rank(),
                            dims.len()
                        ),
                    ));
                }
                for (axis, (d, &(lo, hi))) in ty.shape.dims().iter().zip(&dims).enumerate() {
                    match d {
                        Dim::Known(k) if (lo, hi) != (*k as u64, *k as u64) => {
                            return Err(bad(
                                flag,
                                format!("input '{name}' is {ty}: dim {axis} is fixed at {k}"),
                            ))
                        }
                        Dim::Known(_) => {}
                        Dim::Sym(s) => note(s, lo, hi, flag)?,
                    }
                }
            } else if dims.len() == 1 && unbound_symbols(g).iter().any(|(_, s)| &**s == name) {
                note(name, dims[0].0, dims[0].1, flag)?;
            } else {
                return Err(bad(
                    flag,
                    format!("'{name}' is neither a model input nor a symbolic dim of one"),
                ));
            }
        }
        let mut symbols = Vec::new();
        for (sym, lo, hi, _) in set {
            if lo == hi {
                fixed.push(ShapeBinding {
                    name: sym,
                    dims: vec![lo as usize],
                });
            } else {
                symbols.push(SymbolRange {
                    name: sym,
                    min: lo,
                    max: hi,
                    defaulted: false,
                });
            }
        }
        if default_unbound {
            let mut bound = g.clone();
            infc_passes::bind_input_shapes(&mut bound, &fixed)?;
            for (_, sym) in unbound_symbols(&bound) {
                if !symbols.iter().any(|s| *s.name == *sym) {
                    symbols.push(SymbolRange {
                        name: sym.to_string(),
                        min: 1,
                        max: DEFAULT_MAX,
                        defaulted: true,
                    });
                }
            }
        }
        // Order of first appearance on the inputs (stable across flag orders).
        let order = unbound_symbols(g);
        symbols.sort_by_key(|s| order.iter().position(|(_, o)| **o == *s.name));
        Ok(Ranges { fixed, symbols })
    }

    /// The bindings that fix every symbol at `values` (one per symbol), fixed ones included.
    pub fn bindings_at(&self, values: &[u64]) -> Vec<ShapeBinding> {
        let mut b = self.fixed.clone();
        for (s, &v) in self.symbols.iter().zip(values) {
            b.push(ShapeBinding {
                name: s.name.clone(),
                dims: vec![v as usize],
            });
        }
        b
    }

    /// Every symbol at its max.
    pub fn max_values(&self) -> Vec<u64> {
        self.symbols.iter().map(|s| s.max).collect()
    }
}
