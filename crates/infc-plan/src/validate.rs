//! Structural validation of a decoded plan, generic over the step kinds: each step declares its
//! shape rules and a table of tensor descriptors ([`crate::describe`]); this module checks every
//! descriptor (offset + extent derived from dims and strides with checked arithmetic) lies inside
//! its region, is aligned for its element type, that writes go to the arena and reach each element
//! at most once, and that a step's writes do not overlap its reads (except an exact,
//! identity-mapped in-place update of an elementwise step). After this passes the runtime may
//! index the arena and constants without further bounds reasoning beyond what a step's data
//! (e.g. gather indices) decides at run time.

use crate::describe::{constant_dims, count, Extent, TensorDesc, Tensors, Use};
use crate::format::PlanBody;
use crate::step::{PackedRef, Step};
use crate::types::{DType, Region, TensorRef};
use crate::PlanError;

/// Largest rank a strided step may have (the runtime iterates with fixed-size counters).
pub const MAX_RANK: usize = 8;
/// Largest arena a plan may ask for (16 TiB): beyond this the file is treated as hostile.
pub const MAX_ARENA_BYTES: u64 = 1 << 44;
/// Largest rank of a plan input or output.
pub const MAX_IO_RANK: usize = 32;

/// One byte range a step reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    pub role: &'static str,
    pub region: Region,
    pub start: u64,
    pub end: u64,
    pub write: bool,
    /// Element `i` of this buffer corresponds to element `i` of the step's output (contiguous,
    /// same element count): the only kind of read an in-place write may coincide with.
    pub identity: bool,
}

struct Ctx {
    index: usize,
    kind: &'static str,
    arena: u64,
    consts: u64,
    acc: Vec<Access>,
}

/// Most elements a tensor (or a step's iteration space) may span, counting every zero dim as 1:
/// as many as the largest arena has bytes. A product with a zero factor is 0 however large its
/// other factors are, but the runtime multiplies sub-products of the dims (a row's bytes, an index
/// count, a per-image size) and loops over the outer ones; bounding the product of the non-zero
/// dims keeps every such sub-product, times an element size, far inside `u64` and `usize`.
pub const MAX_ELEMENTS: u64 = MAX_ARENA_BYTES;

/// Element count of `dims`: `None` when the product of its non-zero dims exceeds
/// [`MAX_ELEMENTS`] (checked before a zero dim makes the count 0).
pub fn element_count(dims: &[u64]) -> Option<u64> {
    let mut extent = 1u64;
    for &d in dims.iter().filter(|&&d| d != 0) {
        extent = extent.checked_mul(d).filter(|&e| e <= MAX_ELEMENTS)?;
    }
    Some(if dims.contains(&0) { 0 } else { extent })
}

impl Ctx {
    fn err(&self, msg: impl Into<String>) -> PlanError {
        PlanError::Step {
            index: self.index,
            kind: self.kind,
            msg: msg.into(),
        }
    }

    fn region_len(&self, r: Region) -> u64 {
        match r {
            Region::Arena => self.arena,
            Region::Const => self.consts,
        }
    }

    /// The element count of `dims` (see [`element_count`]).
    fn product(&self, what: &str, dims: &[u64]) -> Result<u64, PlanError> {
        count(what, dims).map_err(|m| self.err(m))
    }

    /// Record a byte range `[t.offset + lo·esize, t.offset + hi·esize)` (element indices lo ≤ hi).
    #[allow(clippy::too_many_arguments)]
    fn range(
        &mut self,
        role: &'static str,
        t: TensorRef,
        esize: u64,
        lo: i128,
        hi: i128,
        write: bool,
        identity: bool,
    ) -> Result<(), PlanError> {
        if !t.offset.is_multiple_of(esize) {
            return Err(self.err(format!(
                "{role} offset {} is not aligned to its {esize}-byte elements",
                t.offset
            )));
        }
        let rlen = self.region_len(t.region);
        let at = |i: i128| i.checked_mul(esize as i128)?.checked_add(t.offset as i128);
        let (Some(start), Some(end)) = (at(lo), at(hi)) else {
            return Err(self.err(format!("{role} extent overflows")));
        };
        if start < 0 || end > rlen as i128 {
            return Err(self.err(format!(
                "{role} {}+{} exceeds {} of {rlen} bytes",
                t.offset,
                end.saturating_sub(start),
                t.region.name()
            )));
        }
        if write && t.region != Region::Arena {
            return Err(self.err(format!("{role} writes into the {} region", t.region.name())));
        }
        self.acc.push(Access {
            role,
            region: t.region,
            start: start as u64,
            end: end as u64,
            write,
            identity,
        });
        Ok(())
    }

    /// Strided access over `shape` (signed element strides). A write, or a read used once per
    /// element ([`Use::ReadOnce`]), must not reach an element twice.
    fn strided(
        &mut self,
        role: &'static str,
        t: TensorRef,
        dtype: DType,
        shape: &[u64],
        strides: &[i64],
        usage: Use,
    ) -> Result<(), PlanError> {
        let write = usage == Use::Write;
        if strides.len() != shape.len() {
            return Err(self.err(format!(
                "{role} has {} strides for rank {}",
                strides.len(),
                shape.len()
            )));
        }
        if shape.len() > MAX_RANK {
            return Err(self.err(format!(
                "rank {} exceeds the maximum {MAX_RANK}",
                shape.len()
            )));
        }
        // Before the zero short-circuit: a zero dim must not hide a huge one or a huge stride.
        let count = element_count(shape).ok_or_else(|| {
            self.err(format!(
                "{role} extent overflows: shape {shape:?} spans more than {MAX_ELEMENTS} elements"
            ))
        })?;
        if let Some(s) = strides.iter().find(|s| s.unsigned_abs() > MAX_ELEMENTS) {
            return Err(self.err(format!("{role} stride {s} exceeds {MAX_ELEMENTS} elements")));
        }
        if count == 0 {
            return Ok(());
        }
        // Element index bounds; a product or sum past i128 (rank 8 of 2^64 dims) is an error.
        let bounds = || {
            let (mut lo, mut hi) = (0i128, 1i128);
            for (&d, &s) in shape.iter().zip(strides) {
                let span = (d as i128 - 1).checked_mul(s as i128)?;
                if span < 0 {
                    lo = lo.checked_add(span)?;
                } else {
                    hi = hi.checked_add(span)?;
                }
            }
            Some((lo, hi))
        };
        let Some((lo, hi)) = bounds() else {
            return Err(self.err(format!("{role} extent overflows")));
        };
        // A write (or a once-per-element read: a reduction) reaches each element at most once,
        // so it covers at least as many elements as it touches (a stride-0 dim would repeat work
        // unbounded by the arena).
        if (count as i128) > hi - lo {
            let span = hi - lo;
            match usage {
                Use::Write => {
                    return Err(self.err(format!(
                        "{role} writes {count} elements into a span of {span}: its strides repeat elements"
                    )))
                }
                Use::ReadOnce => {
                    return Err(self.err(format!(
                        "{role} reads {count} elements from a span of {span}: its strides repeat elements"
                    )))
                }
                Use::Read | Use::ReadInPlace => {}
            }
        }
        let contiguous = contiguous_strides(shape);
        let identity = !write
            && strides
                .iter()
                .zip(&contiguous)
                .all(|(&s, &c)| s == c as i64);
        self.range(role, t, dtype.size() as u64, lo, hi, write, identity)
    }

    /// Batched matrices: `batch_shape` with element strides, each matrix of `mat` (rows, columns)
    /// contiguous elements.
    fn batched(
        &mut self,
        role: &'static str,
        t: TensorRef,
        batch: &[u64],
        strides: &[u64],
        mat: [u64; 2],
    ) -> Result<(), PlanError> {
        if batch.len() != strides.len() {
            return Err(self.err(format!(
                "{role} has {} batch strides for batch rank {}",
                strides.len(),
                batch.len()
            )));
        }
        // Before the zero short-circuit: a zero dim must not hide a huge one or a huge stride.
        let mut dims = batch.to_vec();
        dims.extend_from_slice(&mat);
        let count = self.product(role, &dims)?;
        if let Some(s) = strides.iter().find(|&&s| s > MAX_ELEMENTS) {
            return Err(self.err(format!(
                "{role} batch stride {s} exceeds {MAX_ELEMENTS} elements"
            )));
        }
        if count == 0 {
            return Ok(());
        }
        let mat = mat[0] * mat[1];
        let hi = batch
            .iter()
            .zip(strides)
            .try_fold(mat as i128, |hi, (&d, &s)| {
                hi.checked_add((d as i128 - 1).checked_mul(s as i128)?)
            });
        let Some(hi) = hi else {
            return Err(self.err(format!("{role} extent overflows")));
        };
        self.range(role, t, 4, 0, hi, false, false)
    }

    fn packed(&mut self, role: &'static str, p: PackedRef) -> Result<(), PlanError> {
        if !p.offset.is_multiple_of(64) {
            return Err(self.err(format!(
                "{role} packed weights at {} are not 64-byte aligned",
                p.offset
            )));
        }
        let end = p
            .offset
            .checked_add(p.bytes)
            .ok_or_else(|| self.err(format!("{role} range overflows")))?;
        if end > self.consts {
            return Err(self.err(format!(
                "{role} {}+{} exceeds constants of {} bytes",
                p.offset, p.bytes, self.consts
            )));
        }
        self.acc.push(Access {
            role,
            region: Region::Const,
            start: p.offset,
            end,
            write: false,
            identity: false,
        });
        Ok(())
    }

    fn check_overlaps(&self, in_place_ok: bool) -> Result<(), PlanError> {
        for w in self.acc.iter().filter(|a| a.write) {
            for r in self
                .acc
                .iter()
                .filter(|a| !std::ptr::eq(*a, w) && a.region == w.region)
            {
                let disjoint =
                    r.end <= w.start || w.end <= r.start || r.start == r.end || w.start == w.end;
                if disjoint {
                    continue;
                }
                let exact = r.start == w.start && r.end == w.end && !r.write && r.identity;
                if !(exact && in_place_ok) {
                    return Err(self.err(format!(
                        "{} {}..{} overlaps {} {}..{}",
                        w.role, w.start, w.end, r.role, r.start, r.end
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Row-major strides of a contiguous tensor of `shape`.
pub fn contiguous_strides(shape: &[u64]) -> Vec<u64> {
    let mut s = vec![1u64; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1].saturating_mul(shape[i + 1]);
    }
    s
}

/// Check one descriptor against the regions and record the byte range it touches.
fn apply(c: &mut Ctx, d: &TensorDesc) -> Result<(), PlanError> {
    let write = d.usage == Use::Write;
    // A symbolic dim (reserved) gets its own message rather than an overflow.
    match &d.extent {
        Extent::Flat(len) => constant_dims(d.role, &[*len]),
        Extent::Strided { dims, .. } | Extent::Batched { batch: dims, .. } => {
            constant_dims(d.role, dims)
        }
        Extent::Packed(_) => Ok(()),
    }
    .map_err(|m| c.err(m))?;
    match &d.extent {
        Extent::Flat(len) => {
            let identity = d.usage == Use::ReadInPlace;
            let esize = d.dtype.size() as u64;
            c.range(d.role, d.at, esize, 0, *len as i128, write, identity)
        }
        Extent::Strided { dims, strides } => {
            c.strided(d.role, d.at, d.dtype, dims, strides, d.usage)
        }
        Extent::Batched {
            batch,
            strides,
            rows,
            cols,
        } => c.batched(d.role, d.at, batch, strides, [*rows, *cols]),
        Extent::Packed(bytes) => c.packed(
            d.role,
            PackedRef {
                offset: d.at.offset,
                bytes: *bytes,
            },
        ),
    }
}

/// The step's rules, then its descriptor table checked generically, then overlaps.
fn validate_step(c: &mut Ctx, step: &Step) -> Result<(), PlanError> {
    let mut table = Tensors::default();
    step.describe(&mut table).map_err(|m| c.err(m))?;
    for d in &table.list {
        apply(c, d)?;
    }
    c.check_overlaps(table.in_place)
}

/// The byte ranges a step touches, after validating it against regions of the given sizes.
pub fn step_accesses(
    index: usize,
    step: &Step,
    arena_bytes: u64,
    consts_bytes: u64,
) -> Result<Vec<Access>, PlanError> {
    let mut c = Ctx {
        index,
        kind: step.kind(),
        arena: arena_bytes,
        consts: consts_bytes,
        acc: Vec::new(),
    };
    validate_step(&mut c, step)?;
    Ok(c.acc)
}

/// Validate a whole plan body against a constants blob of `consts_len` bytes.
pub fn validate(body: &PlanBody, consts_len: u64) -> Result<(), PlanError> {
    let arena = body.memory.arena_bytes;
    if arena > MAX_ARENA_BYTES {
        return Err(PlanError::Memory(format!(
            "arena of {arena} bytes exceeds the {MAX_ARENA_BYTES}-byte limit"
        )));
    }
    if body.step_names.len() != body.steps.len() {
        return Err(PlanError::malformed(
            "steps",
            format!(
                "{} names for {} steps",
                body.step_names.len(),
                body.steps.len()
            ),
        ));
    }
    for (i, step) in body.steps.iter().enumerate() {
        step_accesses(i, step, arena, consts_len)?;
    }
    for (what, list) in [("input", &body.inputs), ("output", &body.outputs)] {
        // A set, not a scan of the earlier names: 150 000 inputs took minutes.
        let mut names = std::collections::HashSet::with_capacity(list.len());
        for io in list.iter() {
            let bad = |msg: String| PlanError::Io {
                what,
                name: io.name.clone(),
                msg,
            };
            if !names.insert(io.name.as_str()) {
                return Err(bad("name appears twice".into()));
            }
            if io.shape.len() > MAX_IO_RANK {
                return Err(bad(format!("rank {} is not plausible", io.shape.len())));
            }
            let len = io
                .byte_len()
                .ok_or_else(|| bad(format!("shape {:?} overflows", io.shape)))?;
            if what == "input" && io.at.region != Region::Arena {
                return Err(bad("inputs must live in the arena".into()));
            }
            let rlen = if io.at.region == Region::Arena {
                arena
            } else {
                consts_len
            };
            if io.at.offset % io.dtype.size() as u64 != 0 {
                return Err(bad(format!(
                    "offset {} is not aligned for {}",
                    io.at.offset, io.dtype
                )));
            }
            if io.at.offset.checked_add(len).is_none_or(|e| e > rlen) {
                return Err(bad(format!(
                    "{}+{len} exceeds {} of {rlen} bytes",
                    io.at.offset,
                    io.at.region.name()
                )));
            }
        }
    }
    for e in &body.memory.entries {
        if e.offset.checked_add(e.size).is_none_or(|end| end > arena) || e.first_step > e.last_step
        {
            return Err(PlanError::Memory(format!(
                "entry '{}' {}+{} (steps {}..={}) is outside the arena of {arena} bytes or has an empty lifetime",
                e.name, e.offset, e.size, e.first_step, e.last_step
            )));
        }
    }
    Ok(())
}
