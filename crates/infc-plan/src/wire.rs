//! Hand-written little-endian wire encoding. [`Writer`] appends, [`Reader`] consumes with bounds
//! checks (a length prefix is never trusted beyond the bytes that remain), and the [`Wire`] trait is
//! implemented for primitives, `Vec`, `Option`, `String` and — via `wire_struct!` — the step structs.

use crate::PlanError;

/// Growable output buffer.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
    /// When recording: the byte position of every `u64` / `i64` written and whether it is signed
    /// (the numeric fields a range plan may patch, see `symbols.rs`).
    pub numeric: Option<Vec<(usize, bool)>>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }
    /// A writer that records where its numeric fields are.
    pub fn recording() -> Writer {
        Writer {
            buf: Vec::new(),
            numeric: Some(Vec::new()),
        }
    }
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        if let Some(n) = &mut self.numeric {
            n.push((self.buf.len(), false));
        }
        self.bytes(&v.to_le_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        if let Some(n) = &mut self.numeric {
            n.push((self.buf.len(), true));
        }
        self.bytes(&v.to_le_bytes());
    }
    /// Zero-pad to a multiple of `align`.
    pub fn pad_to(&mut self, align: usize) {
        while !self.buf.len().is_multiple_of(align) {
            self.buf.push(0);
        }
    }
}

/// Most items a decoder reserves room for from a count read from the file: an item in memory can
/// be far larger than its smallest encoding (a `Step` is 248 bytes, its frame 5), so reserving the
/// whole count would let a sparse file ask for gigabytes before one item is read. Past this the
/// vector grows as items actually decode.
pub const MAX_PREALLOCATION: usize = 1024;

/// Room to reserve for `n` items counted by the file.
pub fn preallocation(n: usize) -> usize {
    n.min(MAX_PREALLOCATION)
}

/// Bounds-checked cursor over one section's bytes.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    section: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8], section: &'static str) -> Reader<'a> {
        Reader {
            data,
            pos: 0,
            section,
        }
    }
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }
    pub fn err(&self, msg: impl Into<String>) -> PlanError {
        PlanError::malformed(
            self.section,
            format!("at byte {}: {}", self.pos, msg.into()),
        )
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], PlanError> {
        if n > self.remaining() {
            return Err(self.err(format!(
                "needs {n} more bytes, only {} left",
                self.remaining()
            )));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    /// A reader over the next `len` bytes (positions in errors stay those of this section), and
    /// this reader moved past them.
    pub fn framed(&mut self, len: usize) -> Result<Reader<'a>, PlanError> {
        if len > self.remaining() {
            return Err(self.err(format!(
                "a frame of {len} bytes, only {} left",
                self.remaining()
            )));
        }
        let sub = Reader {
            data: &self.data[..self.pos + len],
            pos: self.pos,
            section: self.section,
        };
        self.pos += len;
        Ok(sub)
    }
    pub fn u8(&mut self) -> Result<u8, PlanError> {
        Ok(self.take(1)?[0])
    }
    pub fn u16(&mut self) -> Result<u16, PlanError> {
        let mut a = [0u8; 2];
        a.copy_from_slice(self.take(2)?);
        Ok(u16::from_le_bytes(a))
    }
    pub fn u32(&mut self) -> Result<u32, PlanError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }
    pub fn u64(&mut self) -> Result<u64, PlanError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    /// A count prefix for items of at least `min_item_bytes` each: rejected if the rest of the
    /// section could not possibly hold that many (so hostile counts never cause huge allocations).
    pub fn count(&mut self, min_item_bytes: usize) -> Result<usize, PlanError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_item_bytes.max(1)) > self.remaining() {
            return Err(self.err(format!(
                "count {n} exceeds the {} bytes left",
                self.remaining()
            )));
        }
        Ok(n)
    }
    /// Fail unless every byte was consumed.
    pub fn finish(&self) -> Result<(), PlanError> {
        if self.remaining() != 0 {
            return Err(self.err(format!("{} trailing bytes", self.remaining())));
        }
        Ok(())
    }
}

/// A value with an explicit wire encoding.
pub trait Wire: Sized {
    /// Smallest possible encoding, used to bound count prefixes.
    const MIN_BYTES: usize;
    fn put(&self, w: &mut Writer);
    fn get(r: &mut Reader<'_>) -> Result<Self, PlanError>;
}

impl Wire for u8 {
    const MIN_BYTES: usize = 1;
    fn put(&self, w: &mut Writer) {
        w.u8(*self)
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, PlanError> {
        r.u8()
    }
}

impl Wire for u32 {
    const MIN_BYTES: usize = 4;
    fn put(&self, w: &mut Writer) {
        w.u32(*self)
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, PlanError> {
        r.u32()
    }
}

impl Wire for u64 {
    const MIN_BYTES: usize = 8;
    fn put(&self, w: &mut Writer) {
        w.u64(*self)
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, PlanError> {
        r.u64()
    }
}

impl Wire for i64 {
    const MIN_BYTES: usize = 8;
    fn put(&self, w: &mut Writer) {
        w.i64(*self)
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, PlanError> {
        Ok(r.u64()? as i64)
    }
}

impl Wire for f32 {
    const MIN_BYTES: usize = 4;
    fn put(&self, w: &mut Writer) {
        w.u32(self.to_bits())
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, PlanError> {
        Ok(f32::from_bits(r.u32()?))
    }
}

impl Wire for bool {
    const MIN_BYTES: usize = 1;
    fn put(&self, w: &mut Writer) {
        w.u8(*self as u8)
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, PlanError> {
        match r.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(r.err(format!("bad bool byte {b}"))),
        }
    }
}

impl<const N: usize> Wire for [u64; N] {
    const MIN_BYTES: usize = 8 * N;
    fn put(&self, w: &mut Writer) {
        for v in self {
            w.u64(*v);
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, PlanError> {
        let mut out = [0u64; N];
        for v in &mut out {
            *v = r.u64()?;
        }
        Ok(out)
    }
}

impl Wire for String {
    const MIN_BYTES: usize = 4;
    fn put(&self, w: &mut Writer) {
        w.u32(self.len() as u32);
        w.bytes(self.as_bytes());
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, PlanError> {
        let n = r.count(1)?;
        let b = r.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| r.err("string is not UTF-8"))
    }
}

impl<T: Wire> Wire for Vec<T> {
    const MIN_BYTES: usize = 4;
    fn put(&self, w: &mut Writer) {
        w.u32(self.len() as u32);
        for v in self {
            v.put(w);
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, PlanError> {
        let n = r.count(T::MIN_BYTES)?;
        let mut out = Vec::with_capacity(preallocation(n));
        for _ in 0..n {
            out.push(T::get(r)?);
        }
        Ok(out)
    }
}

impl<T: Wire> Wire for Option<T> {
    const MIN_BYTES: usize = 1;
    fn put(&self, w: &mut Writer) {
        match self {
            None => w.u8(0),
            Some(v) => {
                w.u8(1);
                v.put(w);
            }
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, PlanError> {
        match r.u8()? {
            0 => Ok(None),
            1 => Ok(Some(T::get(r)?)),
            b => Err(r.err(format!("bad option tag {b}"))),
        }
    }
}

/// Implement [`Wire`] for a struct by encoding the listed fields in order.
macro_rules! wire_struct {
    ($name:ident { $($field:ident),* $(,)? }) => {
        impl $crate::wire::Wire for $name {
            const MIN_BYTES: usize = 0;
            fn put(&self, w: &mut $crate::wire::Writer) {
                $( $crate::wire::Wire::put(&self.$field, w); )*
            }
            fn get(r: &mut $crate::wire::Reader<'_>) -> Result<Self, $crate::PlanError> {
                Ok($name { $( $field: $crate::wire::Wire::get(r)?, )* })
            }
        }
    };
}

/// Implement [`Wire`] for a fieldless `#[repr(u8)]` enum listed variant by variant.
macro_rules! wire_enum {
    ($name:ident, $what:literal, [$($variant:ident),* $(,)?]) => {
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
            pub fn from_code(code: u8) -> Option<$name> {
                $name::ALL.iter().copied().find(|v| *v as u8 == code)
            }
        }
        impl $crate::wire::Wire for $name {
            const MIN_BYTES: usize = 1;
            fn put(&self, w: &mut $crate::wire::Writer) {
                w.u8(*self as u8)
            }
            fn get(r: &mut $crate::wire::Reader<'_>) -> Result<Self, $crate::PlanError> {
                let c = r.u8()?;
                $name::from_code(c).ok_or_else(|| r.err(format!(concat!("unknown ", $what, " code {}"), c)))
            }
        }
    };
}

pub(crate) use {wire_enum, wire_struct};
