//! Constant tensor data. Bytes are shared (`Arc`) and may point into an mmap of the model file, so a
//! 650 MB GPT-2 is never held twice: cloning a [`Tensor`] or slicing it copies no element.

use crate::{DType, IrError};
use bytemuck::Pod;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

enum Storage {
    Owned(Vec<u8>),
    Mapped(memmap2::Mmap),
    /// Owned storage whose start is 64-byte aligned (for typed views without copying).
    Aligned(Vec<Align64>),
}

#[derive(Clone, Copy, Pod, bytemuck::Zeroable)]
#[repr(C, align(64))]
struct Align64([u8; 64]);

impl Storage {
    fn bytes(&self) -> &[u8] {
        match self {
            Storage::Owned(v) => v,
            Storage::Mapped(m) => m,
            Storage::Aligned(v) => bytemuck::cast_slice(v),
        }
    }
}

/// A shared, immutable byte range (owned buffer or file mapping). Cheap to clone and to slice.
#[derive(Clone)]
pub struct Bytes {
    storage: Arc<Storage>,
    start: usize,
    len: usize,
}

impl Bytes {
    pub fn from_vec(v: Vec<u8>) -> Bytes {
        let len = v.len();
        Bytes {
            storage: Arc::new(Storage::Owned(v)),
            start: 0,
            len,
        }
    }
    /// Copy `data` into a 64-byte-aligned buffer.
    pub fn aligned_copy(data: &[u8]) -> Bytes {
        let mut blocks = vec![Align64([0; 64]); data.len().div_ceil(64)];
        bytemuck::cast_slice_mut::<Align64, u8>(&mut blocks)[..data.len()].copy_from_slice(data);
        Bytes {
            storage: Arc::new(Storage::Aligned(blocks)),
            start: 0,
            len: data.len(),
        }
    }
    pub fn from_mmap(m: memmap2::Mmap) -> Bytes {
        let len = m.len();
        Bytes {
            storage: Arc::new(Storage::Mapped(m)),
            start: 0,
            len,
        }
    }
    /// Sub-range `start..start+len` of this range, sharing the storage.
    pub fn slice(&self, start: usize, len: usize) -> Result<Bytes, IrError> {
        let end = start
            .checked_add(len)
            .filter(|&e| e <= self.len)
            .ok_or_else(|| {
                IrError::Data(format!(
                    "byte range {start}+{len} outside buffer of {} bytes",
                    self.len
                ))
            })?;
        let _ = end;
        Ok(Bytes {
            storage: self.storage.clone(),
            start: self.start + start,
            len,
        })
    }
    pub fn as_slice(&self) -> &[u8] {
        &self.storage.bytes()[self.start..self.start + self.len]
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// True when both point at the same bytes of the same storage (no copy was made).
    pub fn shares_storage_with(&self, other: &Bytes) -> bool {
        Arc::ptr_eq(&self.storage, &other.storage)
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes({} bytes)", self.len)
    }
}

/// Where a constant's elements are.
#[derive(Clone, Debug)]
pub enum TensorData {
    /// Real data, little-endian, row-major.
    Bytes(Bytes),
    /// Data not available: a large constant read back from text IR, where only its fingerprint was printed.
    Opaque { fingerprint: u64 },
}

/// A constant tensor: dtype, concrete shape and shared data.
#[derive(Clone, Debug)]
pub struct Tensor {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub data: TensorData,
}

/// Element types with a fixed little-endian layout that can be viewed from tensor bytes.
pub trait Element: Pod {
    const DTYPE: DType;
}
impl Element for f32 {
    const DTYPE: DType = DType::F32;
}
impl Element for half::f16 {
    const DTYPE: DType = DType::F16;
}
impl Element for i64 {
    const DTYPE: DType = DType::I64;
}
impl Element for i32 {
    const DTYPE: DType = DType::I32;
}
impl Element for i8 {
    const DTYPE: DType = DType::I8;
}
impl Element for u8 {
    const DTYPE: DType = DType::U8;
}

impl Tensor {
    /// Tensor over existing bytes; checks the byte length against dtype × shape.
    pub fn from_bytes(dtype: DType, shape: Vec<usize>, bytes: Bytes) -> Result<Tensor, IrError> {
        let numel = checked_numel(&shape)?;
        let want = numel
            .checked_mul(dtype.size())
            .ok_or_else(|| IrError::Data("tensor too large".into()))?;
        if bytes.len() != want {
            return Err(IrError::Data(format!(
                "{dtype}{shape:?} needs {want} bytes, got {}",
                bytes.len()
            )));
        }
        Ok(Tensor {
            dtype,
            shape,
            data: TensorData::Bytes(bytes),
        })
    }

    /// Tensor owning a copy of `values` (64-byte aligned).
    pub fn from_vec<T: Element>(shape: Vec<usize>, values: Vec<T>) -> Result<Tensor, IrError> {
        Tensor::from_bytes(
            T::DTYPE,
            shape,
            Bytes::aligned_copy(bytemuck::cast_slice(&values)),
        )
    }

    /// Boolean tensor (stored one byte per element, 0 or 1).
    pub fn from_bools(shape: Vec<usize>, values: &[bool]) -> Result<Tensor, IrError> {
        let bytes: Vec<u8> = values.iter().map(|&b| b as u8).collect();
        Tensor::from_bytes(DType::Bool, shape, Bytes::aligned_copy(&bytes))
    }

    pub fn scalar<T: Element>(v: T) -> Tensor {
        Tensor::from_vec(vec![], vec![v]).expect("one element for a scalar")
    }

    pub fn opaque(dtype: DType, shape: Vec<usize>, fingerprint: u64) -> Tensor {
        Tensor {
            dtype,
            shape,
            data: TensorData::Opaque { fingerprint },
        }
    }

    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn byte_len(&self) -> usize {
        self.numel() * self.dtype.size()
    }

    pub fn is_opaque(&self) -> bool {
        matches!(self.data, TensorData::Opaque { .. })
    }

    /// Raw little-endian bytes, or an error for an opaque constant.
    pub fn bytes(&self) -> Result<&[u8], IrError> {
        match &self.data {
            TensorData::Bytes(b) => Ok(b.as_slice()),
            TensorData::Opaque { .. } => Err(IrError::OpaqueConstant),
        }
    }

    /// Typed view: borrowed when the bytes are aligned for `T`, copied otherwise.
    pub fn view<T: Element>(&self) -> Result<Cow<'_, [T]>, IrError> {
        if self.dtype != T::DTYPE {
            return Err(IrError::Data(format!(
                "tensor is {}, read as {}",
                self.dtype,
                T::DTYPE
            )));
        }
        let bytes = self.bytes()?;
        Ok(match bytemuck::try_cast_slice::<u8, T>(bytes) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => Cow::Owned(
                bytes
                    .chunks_exact(std::mem::size_of::<T>())
                    .map(bytemuck::pod_read_unaligned)
                    .collect(),
            ),
        })
    }

    /// Integer elements widened to i64 (for shape, axes and index tensors). Errors on float/bool data.
    pub fn to_i64_vec(&self) -> Result<Vec<i64>, IrError> {
        Ok(match self.dtype {
            DType::I64 => self.view::<i64>()?.into_owned(),
            DType::I32 => self.view::<i32>()?.iter().map(|&v| v as i64).collect(),
            DType::I8 => self.view::<i8>()?.iter().map(|&v| v as i64).collect(),
            DType::U8 | DType::Bool => self.bytes()?.iter().map(|&v| v as i64).collect(),
            DType::F32 | DType::F16 => {
                return Err(IrError::Data(format!(
                    "expected an integer tensor, got {}",
                    self.dtype
                )))
            }
        })
    }

    /// Every element converted to f64 (for printing, folding and comparisons). Bool reads 0/1.
    pub fn to_f64_vec(&self) -> Result<Vec<f64>, IrError> {
        Ok(match self.dtype {
            DType::F32 => self.view::<f32>()?.iter().map(|&v| v as f64).collect(),
            DType::F16 => self
                .view::<half::f16>()?
                .iter()
                .map(|v| v.to_f64())
                .collect(),
            _ => self.to_i64_vec()?.into_iter().map(|v| v as f64).collect(),
        })
    }

    /// Content fingerprint (FNV-1a over dtype, shape and a sample of the bytes: at most 3 × 4 KiB,
    /// so printing a 650 MB model stays fast). Opaque tensors return the fingerprint they were read with.
    pub fn fingerprint(&self) -> u64 {
        match &self.data {
            TensorData::Opaque { fingerprint } => *fingerprint,
            TensorData::Bytes(b) => {
                let mut h = Fnv::new();
                h.write(self.dtype.name().as_bytes());
                for &d in &self.shape {
                    h.write(&(d as u64).to_le_bytes());
                }
                let s = b.as_slice();
                const CHUNK: usize = 4096;
                if s.len() <= 3 * CHUNK {
                    h.write(s);
                } else {
                    let mid = s.len() / 2;
                    h.write(&s[..CHUNK]);
                    h.write(&s[mid..mid + CHUNK]);
                    h.write(&s[s.len() - CHUNK..]);
                }
                h.0
            }
        }
    }
}

fn checked_numel(shape: &[usize]) -> Result<usize, IrError> {
    shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| IrError::Data(format!("shape {shape:?} overflows")))
}

/// 64-bit FNV-1a.
pub(crate) struct Fnv(pub u64);
impl Fnv {
    pub fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slicing_shares_storage() {
        let b = Bytes::from_vec((0u8..100).collect());
        let s = b.slice(10, 8).unwrap();
        assert!(s.shares_storage_with(&b));
        assert_eq!(s.as_slice()[0], 10);
        assert!(b.slice(95, 8).is_err());
    }

    #[test]
    fn typed_view_handles_misalignment() {
        let mut raw = vec![0u8; 1];
        raw.extend_from_slice(bytemuck::cast_slice(&[1.5f32, -2.0]));
        let b = Bytes::from_vec(raw).slice(1, 8).unwrap();
        let t = Tensor::from_bytes(DType::F32, vec![2], b).unwrap();
        assert_eq!(&*t.view::<f32>().unwrap(), &[1.5, -2.0]);
    }

    #[test]
    fn length_mismatch_is_an_error() {
        let err = Tensor::from_bytes(DType::F32, vec![3], Bytes::from_vec(vec![0; 8])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "bad tensor data: f32[3] needs 12 bytes, got 8"
        );
    }
}
