//! Structural validation of a decoded plan: every buffer reference (offset + extent derived from
//! the step's shapes and strides, with checked arithmetic) must lie inside its region, be aligned
//! for its element type, and a step's writes must go to the arena and must not overlap its reads
//! (except an exact, identity-mapped in-place update of an elementwise step). Shape relations that
//! kernels rely on (conv output size, group divisibility, …) are checked too. After this passes the
//! runtime may index the arena and constants without further bounds reasoning beyond what a
//! step's data (e.g. gather indices) decides at run time.

use crate::format::PlanBody;
use crate::step::*;
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
        element_count(dims).ok_or_else(|| {
            self.err(format!(
                "{what} {dims:?} overflows: its non-zero dims span more than {MAX_ELEMENTS} elements"
            ))
        })
    }

    fn mul(&self, what: &str, a: u64, b: u64) -> Result<u64, PlanError> {
        self.product(what, &[a, b])
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

    fn contiguous(
        &mut self,
        role: &'static str,
        t: TensorRef,
        dtype: DType,
        len: u64,
        write: bool,
    ) -> Result<(), PlanError> {
        self.range(role, t, dtype.size() as u64, 0, len as i128, write, false)
    }

    fn read(
        &mut self,
        role: &'static str,
        t: TensorRef,
        dtype: DType,
        len: u64,
    ) -> Result<(), PlanError> {
        self.contiguous(role, t, dtype, len, false)
    }

    /// An elementwise input read element-for-element with the output (may be updated in place).
    fn read_identity(
        &mut self,
        role: &'static str,
        t: TensorRef,
        dtype: DType,
        len: u64,
    ) -> Result<(), PlanError> {
        self.range(role, t, dtype.size() as u64, 0, len as i128, false, true)
    }

    fn write(
        &mut self,
        role: &'static str,
        t: TensorRef,
        dtype: DType,
        len: u64,
    ) -> Result<(), PlanError> {
        self.contiguous(role, t, dtype, len, true)
    }

    /// Strided access over `shape` (signed element strides); the number of elements its range
    /// spans (0 when empty).
    fn strided(
        &mut self,
        role: &'static str,
        t: TensorRef,
        dtype: DType,
        shape: &[u64],
        strides: &[i64],
        write: bool,
    ) -> Result<u64, PlanError> {
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
            return Ok(0);
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
        // A write reaches each element at most once, so it covers at least as many elements as
        // it writes (a stride-0 write would repeat work unbounded by the arena).
        if write && (count as i128) > hi - lo {
            return Err(self.err(format!(
                "{role} writes {count} elements into a span of {}: its strides repeat elements",
                hi - lo
            )));
        }
        let contiguous = contiguous_strides(shape);
        let identity = !write
            && strides
                .iter()
                .zip(&contiguous)
                .all(|(&s, &c)| s == c as i64);
        self.range(role, t, dtype.size() as u64, lo, hi, write, identity)?;
        Ok((hi - lo) as u64)
    }

    /// Unsigned-stride read (broadcasting inputs); identity when the strides are the contiguous ones.
    /// The number of elements its range spans.
    fn broadcast(
        &mut self,
        role: &'static str,
        t: TensorRef,
        dtype: DType,
        shape: &[u64],
        strides: &[u64],
    ) -> Result<u64, PlanError> {
        let signed: Vec<i64> = strides
            .iter()
            .map(|&s| i64::try_from(s).unwrap_or(i64::MAX))
            .collect();
        if signed.contains(&i64::MAX) {
            return Err(self.err(format!("{role} stride out of range")));
        }
        self.strided(role, t, dtype, shape, &signed, false)
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

fn need(c: &Ctx, ok: bool, msg: impl FnOnce() -> String) -> Result<(), PlanError> {
    if ok {
        Ok(())
    } else {
        Err(c.err(msg()))
    }
}

fn validate_step(c: &mut Ctx, step: &Step) -> Result<(), PlanError> {
    use DType::*;
    let mut in_place_ok = false;
    match step {
        Step::Unary(s) => {
            let out = if s.op == UnaryKind::IsNaN {
                Bool
            } else {
                s.dtype
            };
            c.read_identity("x", s.x, s.dtype, s.len)?;
            c.write("y", s.y, out, s.len)?;
            in_place_ok = out.size() == s.dtype.size();
        }
        Step::Binary(s) => {
            let out = if s.op.is_comparison() { Bool } else { s.dtype };
            let n = c.product("shape", &s.shape)?;
            c.broadcast("a", s.a, s.dtype, &s.shape, &s.a_strides)?;
            c.broadcast("b", s.b, s.dtype, &s.shape, &s.b_strides)?;
            c.write("y", s.y, out, n)?;
            in_place_ok = out.size() == s.dtype.size();
        }
        Step::Where(s) => {
            let n = c.product("shape", &s.shape)?;
            c.broadcast("cond", s.cond, Bool, &s.shape, &s.cond_strides)?;
            c.broadcast("a", s.a, s.dtype, &s.shape, &s.a_strides)?;
            c.broadcast("b", s.b, s.dtype, &s.shape, &s.b_strides)?;
            c.write("y", s.y, s.dtype, n)?;
            in_place_ok = true;
        }
        Step::Cast(s) => {
            c.read_identity("x", s.x, s.from, s.len)?;
            c.write("y", s.y, s.to, s.len)?;
            in_place_ok = s.from.size() == s.to.size();
        }
        Step::Clip(s) => {
            c.read_identity("x", s.x, F32, s.len)?;
            c.write("y", s.y, F32, s.len)?;
            in_place_ok = true;
        }
        Step::Fill(s) => {
            need(
                c,
                s.dtype.size() == 8 || s.value >> (8 * s.dtype.size()) == 0,
                || format!("fill value {:#x} does not fit {}", s.value, s.dtype),
            )?;
            c.write("y", s.y, s.dtype, s.len)?;
        }
        Step::Range(s) => {
            c.read("start", s.start, s.dtype, 1)?;
            c.read("delta", s.delta, s.dtype, 1)?;
            c.write("y", s.y, s.dtype, s.len)?;
        }
        Step::Copy(s) => {
            c.strided("src", s.src, s.dtype, &s.shape, &s.src_strides, false)?;
            c.strided("dst", s.dst, s.dtype, &s.shape, &s.dst_strides, true)?;
        }
        Step::MatMul(s) => {
            need(c, s.batch_shape.len() <= MAX_RANK, || {
                format!("batch rank {} exceeds {MAX_RANK}", s.batch_shape.len())
            })?;
            c.batched("a", s.a, &s.batch_shape, &s.a_batch_strides, [s.m, s.k])?;
            match &s.b {
                MatB::Packed(p) => {
                    need(c, s.b_batch_strides.iter().all(|&v| v == 0), || {
                        "packed B cannot vary over the batch".into()
                    })?;
                    c.product("b matrix", &[s.k, s.n])?;
                    c.packed("b", *p)?;
                }
                MatB::Plain { at, .. } => {
                    c.batched("b", *at, &s.batch_shape, &s.b_batch_strides, [s.k, s.n])?;
                }
            }
            if let Some(b) = &s.bias {
                let len = b
                    .kind
                    .len(s.m, s.n)
                    .ok_or_else(|| c.err("bias size overflows"))?;
                c.read("bias", b.at, F32, len)?;
            }
            let mut out = s.batch_shape.clone();
            out.extend_from_slice(&[s.m, s.n]);
            let total = c.product("output", &out)?;
            if let Some(r) = s.residual {
                c.read("residual", r, F32, total)?;
            }
            c.write("y", s.y, F32, total)?;
        }
        Step::Conv(s) => {
            need(
                c,
                s.group >= 1 && s.c_in % s.group == 0 && s.c_out % s.group == 0,
                || {
                    format!(
                        "group {} must divide c_in {} and c_out {}",
                        s.group, s.c_in, s.c_out
                    )
                },
            )?;
            s.window
                .check("conv", [s.h, s.w], [s.oh, s.ow], true)
                .map_err(|m| c.err(m))?;
            let xin = c.product("input", &[s.n, s.c_in, s.h, s.w])?;
            c.read("x", s.x, F32, xin)?;
            conv_weights(c, s.c_in / s.group, s.c_out, s.window.kernel, [s.oh, s.ow])?;
            c.packed("weights", s.weights)?;
            if let Some(b) = s.bias {
                c.read("bias", b, F32, s.c_out)?;
            }
            let yn = c.product("output", &[s.n, s.c_out, s.oh, s.ow])?;
            if let Some(r) = s.residual {
                c.read("residual", r, F32, yn)?;
            }
            c.write("y", s.y, F32, yn)?;
        }
        Step::Pool(s) => {
            s.window
                .check("pool", [s.h, s.w], [s.oh, s.ow], false)
                .map_err(|m| c.err(m))?;
            let xin = c.product("input", &[s.n, s.c, s.h, s.w])?;
            c.read("x", s.x, F32, xin)?;
            let yn = c.product("output", &[s.n, s.c, s.oh, s.ow])?;
            c.write("y", s.y, F32, yn)?;
        }
        Step::GlobalAvgPool(s) => {
            let xin = c.mul("input", s.nc, s.hw)?;
            c.read("x", s.x, F32, xin)?;
            c.write("y", s.y, F32, s.nc)?;
        }
        Step::BatchNorm(s) => {
            let n = c.product("input", &[s.n, s.c, s.inner])?;
            c.read_identity("x", s.x, F32, n)?;
            for (role, t) in [
                ("scale", s.scale),
                ("bias", s.bias),
                ("mean", s.mean),
                ("var", s.var),
            ] {
                c.read(role, t, F32, s.c)?;
            }
            c.write("y", s.y, F32, n)?;
            in_place_ok = true;
        }
        Step::Softmax(s) => {
            let n = c.product("shape", &[s.outer, s.axis, s.inner])?;
            c.read("x", s.x, F32, n)?;
            c.write("y", s.y, F32, n)?;
        }
        Step::LayerNorm(s) => {
            let n = c.mul("input", s.rows, s.cols)?;
            c.read("x", s.x, F32, n)?;
            c.read("scale", s.scale, F32, s.cols)?;
            if let Some(b) = s.bias {
                c.read("bias", b, F32, s.cols)?;
            }
            c.write("y", s.y, F32, n)?;
        }
        Step::Reduce(s) => {
            need(c, s.out_shape.len() + s.red_shape.len() <= MAX_RANK, || {
                format!("rank exceeds {MAX_RANK}")
            })?;
            let mut shape = s.out_shape.clone();
            shape.extend_from_slice(&s.red_shape);
            let mut strides = s.out_strides.clone();
            strides.extend_from_slice(&s.red_strides);
            need(
                c,
                s.out_strides.len() == s.out_shape.len()
                    && s.red_strides.len() == s.red_shape.len(),
                || "stride/shape rank mismatch".into(),
            )?;
            let span = c.broadcast("x", s.x, s.dtype, &shape, &strides)?;
            // A reduction reads each input element once: its work is bounded by its input's
            // bytes, not by a stride-0 dim.
            let count = c.product("input", &shape)?;
            need(c, count <= span, || {
                format!(
                    "x reads {count} elements from a span of {span}: its strides repeat elements"
                )
            })?;
            let n = c.product("output", &s.out_shape)?;
            c.write("y", s.y, s.dtype, n)?;
        }
        Step::Gather(s) => {
            need(c, matches!(s.idx_dtype, I64 | I32), || {
                format!("indices must be i64 or i32, got {}", s.idx_dtype)
            })?;
            let dn = c.product("data", &[s.outer, s.axis_len, s.inner])?;
            c.read("data", s.data, s.dtype, dn)?;
            c.read("indices", s.indices, s.idx_dtype, s.n_idx)?;
            let yn = c.product("output", &[s.outer, s.n_idx, s.inner])?;
            c.write("y", s.y, s.dtype, yn)?;
        }
        Step::GatherNd(s) => {
            need(c, matches!(s.idx_dtype, I64 | I32), || {
                format!("indices must be i64 or i32, got {}", s.idx_dtype)
            })?;
            need(c, s.index_dims.len() <= MAX_RANK, || {
                format!("index depth exceeds {MAX_RANK}")
            })?;
            let mut dims = vec![s.batch];
            dims.extend_from_slice(&s.index_dims);
            dims.push(s.slice_len);
            let dn = c.product("data", &dims)?;
            c.read("data", s.data, s.dtype, dn)?;
            let depth = s.index_dims.len() as u64;
            let idn = c.product("indices", &[s.batch, s.n_per_batch, depth])?;
            c.read("indices", s.indices, s.idx_dtype, idn)?;
            let yn = c.product("output", &[s.batch, s.n_per_batch, s.slice_len])?;
            c.write("y", s.y, s.dtype, yn)?;
        }
        Step::Trilu(s) => {
            let n = c.product("shape", &[s.batch, s.rows, s.cols])?;
            c.read("x", s.x, s.dtype, n)?;
            if let Some(k) = s.k_at {
                c.read("k", k, I64, 1)?;
            }
            c.write("y", s.y, s.dtype, n)?;
        }
        Step::Attention(s) => {
            let hd = c.mul("heads·d", s.heads, s.d)?;
            let qn = c.product("q", &[s.batch, s.sq, s.heads, s.d])?;
            c.product("k", &[s.batch, s.sk, s.heads, s.d])?;
            c.product("scores", &[s.batch, s.heads, s.sq, s.sk])?;
            let [ldq, ldk, ldv] = s.qkv_row_strides;
            need(c, ldq >= hd && ldk >= hd && ldv >= hd, || {
                format!(
                    "q/k/v row strides {:?} below heads·d = {hd}",
                    s.qkv_row_strides
                )
            })?;
            for (name, t, rows, ld) in [
                ("q", s.q, s.sq, ldq),
                ("k", s.k, s.sk, ldk),
                ("v", s.v, s.sk, ldv),
            ] {
                let dims = [c.mul(name, s.batch, rows)?, hd];
                c.broadcast(name, t, F32, &dims, &[ld, 1])?;
            }
            if let Some(m) = s.mask {
                let dims = [s.batch, s.heads, s.sq, s.sk];
                c.broadcast("mask", m, F32, &dims, &s.mask_strides)?;
            }
            c.write("y", s.y, F32, qn)?;
            let sn = s
                .scratch_floats()
                .ok_or_else(|| c.err("attention scratch size overflows"))?;
            c.write("scratch", s.scratch, F32, sn)?;
        }
        Step::QuantMatMul(s) => {
            let mk = c.mul("a matrix", s.m, s.k)?;
            c.read("a", s.a, F32, mk)?;
            if let Some(pn) = &s.pre_norm {
                need(c, s.per_row, || {
                    "a LayerNorm before quantization needs per-row quantization".into()
                })?;
                c.read("layer norm scale", pn.scale, F32, s.k)?;
                if let Some(b) = pn.bias {
                    c.read("layer norm bias", b, F32, s.k)?;
                }
            }
            c.product("weights", &[s.k, s.n])?;
            let wb = s
                .weights_bytes()
                .ok_or_else(|| c.err("quantized weights size overflows"))?;
            need(c, s.weights.bytes == wb, || {
                format!(
                    "quantized weights have {} bytes, k={} n={} needs {wb}",
                    s.weights.bytes, s.k, s.n
                )
            })?;
            c.packed("weights", s.weights)?;
            if let Some(b) = s.bias {
                c.read("bias", b, F32, s.n)?;
            }
            let mn = c.mul("output", s.m, s.n)?;
            if let Some(r) = s.residual {
                c.read("residual", r, F32, mn)?;
            }
            c.write("y", s.y, F32, mn)?;
            let sb = s
                .scratch_bytes()
                .ok_or_else(|| c.err("scratch size overflows"))?;
            need(c, s.scratch.region == Region::Arena, || {
                "scratch must live in the arena".into()
            })?;
            c.write("scratch", s.scratch, U8, sb)?;
        }
        Step::QuantConv(s) => {
            need(
                c,
                s.group >= 1 && s.c_in % s.group == 0 && s.c_out % s.group == 0,
                || {
                    format!(
                        "group {} must divide c_in {} and c_out {}",
                        s.group, s.c_in, s.c_out
                    )
                },
            )?;
            s.window
                .check("conv", [s.h, s.w], [s.oh, s.ow], true)
                .map_err(|m| c.err(m))?;
            let xin = c.product("input", &[s.n, s.c_in, s.h, s.w])?;
            c.read("x", s.x, F32, xin)?;
            conv_weights(c, s.c_in / s.group, s.c_out, s.window.kernel, [s.oh, s.ow])?;
            let (kg, cog) = s
                .group_dims()
                .ok_or_else(|| c.err("group size overflows"))?;
            let wb = s
                .weights_bytes()
                .ok_or_else(|| c.err("quantized weights size overflows"))?;
            need(c, s.weights.bytes == wb, || {
                format!(
                    "quantized weights have {} bytes, {} groups of k={kg} n={cog} need {wb}",
                    s.weights.bytes, s.group
                )
            })?;
            c.packed("weights", s.weights)?;
            if let Some(b) = s.bias {
                c.read("bias", b, F32, s.c_out)?;
            }
            let yn = c.product("output", &[s.n, s.c_out, s.oh, s.ow])?;
            if let Some(r) = s.residual {
                c.read("residual", r, F32, yn)?;
            }
            c.write("y", s.y, F32, yn)?;
            let layout = s
                .scratch_layout()
                .ok_or_else(|| c.err("scratch size overflows"))?;
            need(
                c,
                s.scratch.region == Region::Arena && s.scratch.offset % 64 == 0,
                || "scratch must be 64-byte aligned in the arena".into(),
            )?;
            c.write("scratch", s.scratch, U8, layout.bytes)?;
        }
        Step::QuantNchwcConv(s) => {
            need(
                c,
                matches!(s.act, Activation::None | Activation::Relu),
                || format!("activation {:?} (only none or relu)", s.act),
            )?;
            need(c, s.c_in >= 1 && s.c_out >= 1, || "zero channels".into())?;
            need(
                c,
                s.input_blocked || s.c_in <= QuantNchwcConvStep::BLOCK,
                || format!("plain input with {} channels (at most 16)", s.c_in),
            )?;
            s.window
                .check("conv", [s.h, s.w], [s.oh, s.ow], true)
                .map_err(|m| c.err(m))?;
            let block = QuantNchwcConvStep::BLOCK;
            let c_in = if s.input_blocked {
                blocked_channels(c, s.c_in, block)?
            } else {
                s.c_in
            };
            let xin = c.product("input", &[s.n, c_in, s.h, s.w])?;
            c.read("x", s.x, F32, xin)?;
            let p = s
                .kernel_params()
                .ok_or_else(|| c.err("a dim exceeds the address space"))?;
            let lanes = [p.in_blocks() as u64, p.lanes() as u64];
            conv_weights(
                c,
                c.product("input lanes", &lanes)?,
                s.c_out,
                s.window.kernel,
                [s.oh, s.ow],
            )?;
            let padded = s
                .window
                .padded([s.h, s.w])
                .ok_or_else(|| c.err("padding overflows"))?;
            c.product(
                "padded input",
                &[s.n, lanes[0], lanes[1], padded[0], padded[1]],
            )?;
            let wb = s
                .weights_bytes()
                .ok_or_else(|| c.err("quantized weights size overflows"))?;
            need(c, s.weights.bytes == wb, || {
                format!(
                    "quantized weights have {} bytes, the geometry needs {wb}",
                    s.weights.bytes
                )
            })?;
            c.packed("weights", s.weights)?;
            let c_out = blocked_channels(c, s.c_out, block)?;
            let yn = c.product("output", &[s.n, c_out, s.oh, s.ow])?;
            if let Some(r) = s.residual {
                c.read("residual", r, F32, yn)?;
            }
            c.write("y", s.y, F32, yn)?;
            let sb = s
                .scratch_bytes()
                .ok_or_else(|| c.err("scratch size overflows"))?;
            need(c, s.scratch.region == Region::Arena, || {
                "scratch must live in the arena".into()
            })?;
            c.write("scratch", s.scratch, U8, sb)?;
        }
        Step::NchwcConv(s) => {
            need(c, s.block == 8 || s.block == 16, || {
                format!("block {} is not 8 or 16", s.block)
            })?;
            need(
                c,
                matches!(s.act, Activation::None | Activation::Relu),
                || format!("activation {:?} (only none or relu)", s.act),
            )?;
            s.window
                .check("conv", [s.h, s.w], [s.oh, s.ow], true)
                .map_err(|m| c.err(m))?;
            let c_in = if s.input_blocked {
                blocked_channels(c, s.c_in, s.block)?
            } else {
                s.c_in
            };
            let xin = c.product("input", &[s.n, c_in, s.h, s.w])?;
            c.read("x", s.x, F32, xin)?;
            conv_weights(c, c_in, s.c_out, s.window.kernel, [s.oh, s.ow])?;
            c.packed("weights", s.weights)?;
            if let Some(b) = s.bias {
                c.read("bias", b, F32, s.c_out)?;
            }
            let c_out = blocked_channels(c, s.c_out, s.block)?;
            let yn = c.product("output", &[s.n, c_out, s.oh, s.ow])?;
            if let Some(r) = s.residual {
                c.read("residual", r, F32, yn)?;
            }
            c.write("y", s.y, F32, yn)?;
        }
        Step::Reorder(s) => {
            need(c, s.block == 8 || s.block == 16, || {
                format!("block {} is not 8 or 16", s.block)
            })?;
            let plain = c.product("plain tensor", &[s.n, s.c, s.hw])?;
            let cb = blocked_channels(c, s.c, s.block)?;
            let blocked = c.product("blocked tensor", &[s.n, cb, s.hw])?;
            let (xn, yn) = if s.to_blocked {
                (plain, blocked)
            } else {
                (blocked, plain)
            };
            c.read("x", s.x, F32, xn)?;
            c.write("y", s.y, F32, yn)?;
        }
        Step::NchwcMaxPool(s) => {
            need(c, s.block == 8 || s.block == 16, || {
                format!("block {} is not 8 or 16", s.block)
            })?;
            s.window
                .check("pool", [s.h, s.w], [s.oh, s.ow], false)
                .map_err(|m| c.err(m))?;
            let cb = blocked_channels(c, s.c, s.block)?;
            let xin = c.product("input", &[s.n, cb, s.h, s.w])?;
            c.read("x", s.x, F32, xin)?;
            let yn = c.product("output", &[s.n, cb, s.oh, s.ow])?;
            c.write("y", s.y, F32, yn)?;
        }
    }
    c.check_overlaps(in_place_ok)
}

/// The weights `[c_out][c_in][kh][kw]` and the im2col matrix `[c_in·kh·kw][oh·ow]` of a conv
/// (one group) span at most [`MAX_ELEMENTS`], even when a channel count is 0.
fn conv_weights(
    c: &Ctx,
    c_in: u64,
    c_out: u64,
    kernel: [u64; 2],
    out: [u64; 2],
) -> Result<(), PlanError> {
    c.product("weights", &[c_out, c_in, kernel[0], kernel[1]])?;
    c.product("im2col", &[c_in, kernel[0], kernel[1], out[0], out[1]])?;
    Ok(())
}

/// `channels` rounded up to a multiple of `block` (the channel extent of a blocked tensor).
fn blocked_channels(c: &Ctx, channels: u64, block: u64) -> Result<u64, PlanError> {
    channels
        .div_ceil(block.max(1))
        .checked_mul(block)
        .ok_or_else(|| c.err("blocked channel count overflows"))
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
