//! Safe access to the two memory regions during a run. [`Mem::io`] hands out one mutable output
//! range of the arena and any number of read ranges (arena or constants) by splitting the arena
//! around the output, so reads and the write never alias; a read that is exactly the output range
//! comes back as `None` ("read the output itself": an in-place step). Everything is bounds-checked
//! and returns an error string instead of panicking.

use crate::fault::{fault, StepFault};
use infc_plan::{Region, TensorRef};

pub(crate) struct Mem<'a> {
    pub arena: &'a mut [u8],
    pub consts: &'a [u8],
}

/// A byte range to read: where, and how many bytes.
#[derive(Clone, Copy)]
pub(crate) struct Rd {
    pub at: TensorRef,
    pub len: usize,
}

pub(crate) fn rd(at: TensorRef, len: usize) -> Rd {
    Rd { at, len }
}

/// An absent optional input.
pub(crate) const NONE: Rd = Rd {
    at: TensorRef {
        region: Region::Const,
        offset: 0,
    },
    len: 0,
};

/// The output slice and the input slices (`None` where a read is absent) of one step.
pub type Io<'m, const N: usize> = (&'m mut [u8], [Option<&'m [u8]>; N]);

impl Mem<'_> {
    /// Split out the write range `out` (arena) and the reads.
    pub fn io<const N: usize>(
        &mut self,
        out: (u64, usize),
        reads: [Rd; N],
    ) -> Result<Io<'_, N>, StepFault> {
        let (ws, wl) = (out.0 as usize, out.1);
        let we = ws
            .checked_add(wl)
            .filter(|&e| e <= self.arena.len())
            .ok_or_else(|| {
                format!(
                    "output {}+{} outside the arena of {} bytes",
                    ws,
                    wl,
                    self.arena.len()
                )
            })?;
        let (left, rest) = self.arena.split_at_mut(ws);
        let (outb, right) = rest.split_at_mut(wl);
        let (left, right): (&[u8], &[u8]) = (left, right);
        let mut res: [Option<&[u8]>; N] = [None; N];
        for (slot, r) in res.iter_mut().zip(reads.iter()) {
            let (s, l) = (r.at.offset as usize, r.len);
            let e = s.checked_add(l).ok_or("read range overflows")?;
            *slot = Some(match r.at.region {
                Region::Const => self
                    .consts
                    .get(s..e)
                    .ok_or_else(|| format!("read {s}+{l} outside the constants"))?,
                // At the arena's (aligned) base, not a dangling `&[]`.
                Region::Arena if l == 0 => &left[..0],
                Region::Arena if s == ws && l == wl => {
                    *slot = None;
                    continue;
                }
                Region::Arena if e <= ws => left.get(s..e).ok_or("read outside the arena")?,
                Region::Arena if s >= we => {
                    right.get(s - we..e - we).ok_or("read outside the arena")?
                }
                Region::Arena => return Err(fault!("read {s}+{l} overlaps the output {ws}+{wl}")),
            });
        }
        Ok((outb, res))
    }
}

impl Mem<'_> {
    /// Like [`Mem::io`] with two disjoint write ranges; reads may not alias either.
    #[allow(clippy::type_complexity)]
    pub fn io2<const N: usize>(
        &mut self,
        out1: (u64, usize),
        out2: (u64, usize),
        reads: [Rd; N],
    ) -> Result<(&mut [u8], &mut [u8], [Option<&[u8]>; N]), StepFault> {
        let (mut r1, mut r2) = (
            (out1.0 as usize, out1.0 as usize + out1.1),
            (out2.0 as usize, out2.0 as usize + out2.1),
        );
        // An empty output writes nothing wherever it is: put it at an end of the other range, so
        // it never sits inside it (the split below would underflow).
        if out1.1 == 0 {
            r1 = (r2.0, r2.0);
        } else if out2.1 == 0 {
            r2 = (r1.1, r1.1);
        }
        if r1.1 > r2.0 && r2.1 > r1.0 && out1.1 > 0 && out2.1 > 0 {
            return Err("the two outputs overlap".into());
        }
        let swap = r2.0 < r1.0;
        let (lo, hi) = if swap { (r2, r1) } else { (r1, r2) };
        if hi.1 > self.arena.len() {
            return Err("output outside the arena".into());
        }
        let (p0, rest) = self.arena.split_at_mut(lo.0);
        let (w_lo, rest) = rest.split_at_mut(lo.1 - lo.0);
        let (p2, rest) = rest.split_at_mut(hi.0 - lo.1);
        let (w_hi, p4) = rest.split_at_mut(hi.1 - hi.0);
        let (p0, p2, p4): (&[u8], &[u8], &[u8]) = (p0, p2, p4);
        let mut res: [Option<&[u8]>; N] = [None; N];
        for (slot, r) in res.iter_mut().zip(reads.iter()) {
            let (s, l) = (r.at.offset as usize, r.len);
            let e = s.checked_add(l).ok_or("read range overflows")?;
            *slot = Some(match r.at.region {
                Region::Const => self
                    .consts
                    .get(s..e)
                    .ok_or_else(|| format!("read {s}+{l} outside the constants"))?,
                Region::Arena if l == 0 => &p0[..0],
                Region::Arena if e <= lo.0 => &p0[s..e],
                Region::Arena if s >= lo.1 && e <= hi.0 => &p2[s - lo.1..e - lo.1],
                Region::Arena if s >= hi.1 => {
                    p4.get(s - hi.1..e - hi.1).ok_or("read outside the arena")?
                }
                Region::Arena => return Err(fault!("read {s}+{l} overlaps an output")),
            });
        }
        Ok(if swap {
            (w_hi, w_lo, res)
        } else {
            (w_lo, w_hi, res)
        })
    }
}

/// The typed view of a step's bytes. An empty read may sit at a dangling, unaligned address (a
/// zero-size tensor), which bytemuck refuses; it is the empty view wherever it is.
pub(crate) fn view<T: bytemuck::Pod>(b: &[u8]) -> Result<&[T], StepFault> {
    if b.is_empty() {
        return Ok(&[]);
    }
    bytemuck::try_cast_slice(b).map_err(|e| fault!("{} view: {e:?}", std::any::type_name::<T>()))
}

/// The mutable typed view of a step's bytes (empty bytes are the empty view, as in [`view`]).
pub(crate) fn view_mut<T: bytemuck::Pod>(b: &mut [u8]) -> Result<&mut [T], StepFault> {
    if b.is_empty() {
        return Ok(&mut []);
    }
    bytemuck::try_cast_slice_mut(b)
        .map_err(|e| fault!("{} view: {e:?}", std::any::type_name::<T>()))
}

pub(crate) fn f32s(b: &[u8]) -> Result<&[f32], StepFault> {
    view(b)
}

/// The f32 view of an optional input's bytes: `None` when the step has no such input
/// (`wanted` is `None`) or its read came back empty.
pub(crate) fn opt_f32s<T>(
    wanted: Option<T>,
    b: Option<&[u8]>,
) -> Result<Option<&[f32]>, StepFault> {
    match (wanted, b) {
        (Some(_), Some(b)) => f32s(b).map(Some),
        _ => Ok(None),
    }
}

pub(crate) fn f32s_mut(b: &mut [u8]) -> Result<&mut [f32], StepFault> {
    view_mut(b)
}

/// Largest element index + 1 reached by a strided walk with non-negative strides (0 if empty).
pub(crate) fn extent(shape: &[u64], strides: &[u64]) -> usize {
    if shape.contains(&0) {
        return 0;
    }
    shape
        .iter()
        .zip(strides)
        .map(|(&d, &s)| (d as usize - 1) * s as usize)
        .sum::<usize>()
        + 1
}

/// `(lo, hi)` element index range reached by a strided walk with signed strides.
pub(crate) fn signed_extent(shape: &[u64], strides: &[i64]) -> (i64, i64) {
    if shape.contains(&0) {
        return (0, 0);
    }
    let (mut lo, mut hi) = (0i64, 0i64);
    for (&d, &s) in shape.iter().zip(strides) {
        let span = (d as i64 - 1) * s;
        if span < 0 {
            lo += span;
        } else {
            hi += span;
        }
    }
    (lo, hi + 1)
}

/// Calls `row(out_index, offsets, inner_len)` for every innermost row of a walk over `shape`
/// (row-major), with per-operand element offsets of the row start. No allocation.
pub(crate) fn for_rows<const K: usize>(
    shape: &[u64],
    strides: [&[i64]; K],
    mut row: impl FnMut(usize, [i64; K], usize),
) {
    let rank = shape.len();
    if shape.contains(&0) {
        return;
    }
    if rank == 0 {
        row(0, [0; K], 1);
        return;
    }
    let inner = shape[rank - 1] as usize;
    let outer_rank = rank - 1;
    let mut idx = [0u64; infc_plan::MAX_RANK];
    let mut offs = [0i64; K];
    let mut out = 0usize;
    loop {
        row(out, offs, inner);
        out += inner;
        // Odometer over the outer dims.
        let mut d = outer_rank;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            for k in 0..K {
                offs[k] += strides[k][d];
            }
            if idx[d] < shape[d] {
                break;
            }
            for k in 0..K {
                offs[k] -= strides[k][d] * shape[d] as i64;
            }
            idx[d] = 0;
        }
    }
}

/// Signed copy of unsigned strides into a fixed array.
pub(crate) fn signed(strides: &[u64]) -> [i64; infc_plan::MAX_RANK] {
    let mut out = [0i64; infc_plan::MAX_RANK];
    for (o, &s) in out.iter_mut().zip(strides) {
        *o = s as i64;
    }
    out
}
