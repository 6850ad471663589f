//! Caller-facing tensors: [`TensorView`] (borrowed input), [`Tensor`] (owned output) and
//! [`InputKey`] (input by name or position).

pub use infc_plan::DType;

/// Borrowed input: dtype, shape and little-endian bytes.
#[derive(Clone, Copy, Debug)]
pub struct TensorView<'a> {
    pub dtype: DType,
    pub shape: &'a [usize],
    pub data: &'a [u8],
}

impl<'a> TensorView<'a> {
    pub fn new(dtype: DType, shape: &'a [usize], data: &'a [u8]) -> TensorView<'a> {
        TensorView { dtype, shape, data }
    }
    pub fn f32(shape: &'a [usize], data: &'a [f32]) -> TensorView<'a> {
        TensorView {
            dtype: DType::F32,
            shape,
            data: bytemuck::cast_slice(data),
        }
    }
    pub fn i64(shape: &'a [usize], data: &'a [i64]) -> TensorView<'a> {
        TensorView {
            dtype: DType::I64,
            shape,
            data: bytemuck::cast_slice(data),
        }
    }
    pub fn i32(shape: &'a [usize], data: &'a [i32]) -> TensorView<'a> {
        TensorView {
            dtype: DType::I32,
            shape,
            data: bytemuck::cast_slice(data),
        }
    }
}

/// Owned output tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub dtype: DType,
    pub shape: Vec<usize>,
    /// Little-endian element bytes.
    pub data: Vec<u8>,
}

impl Tensor {
    /// Elements as f32 (converting integer/bool data; f16 decoded).
    pub fn to_f32_vec(&self) -> Vec<f32> {
        let b = &self.data;
        match self.dtype {
            DType::F32 => b
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            DType::F16 => b
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            _ => self.to_i64_vec().into_iter().map(|v| v as f32).collect(),
        }
    }

    /// Elements as i64 (floats truncated).
    pub fn to_i64_vec(&self) -> Vec<i64> {
        let b = &self.data;
        match self.dtype {
            DType::I64 => b
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect(),
            DType::I32 => b
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64)
                .collect(),
            DType::I8 => b.iter().map(|&v| v as i8 as i64).collect(),
            DType::U8 | DType::Bool => b.iter().map(|&v| v as i64).collect(),
            DType::F32 | DType::F16 => self.to_f32_vec().into_iter().map(|v| v as i64).collect(),
        }
    }
}

/// Selects an input by name or by position.
#[derive(Clone, Copy, Debug)]
pub enum InputKey<'a> {
    Name(&'a str),
    Index(usize),
}

impl<'a> From<&'a str> for InputKey<'a> {
    fn from(s: &'a str) -> Self {
        InputKey::Name(s)
    }
}

impl From<usize> for InputKey<'_> {
    fn from(i: usize) -> Self {
        InputKey::Index(i)
    }
}
