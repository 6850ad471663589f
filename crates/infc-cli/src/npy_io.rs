//! `.npy` files for `infc run`: reading an input array into plan element type + shape +
//! little-endian bytes (the header parsed by `npyz`, the data taken as is and byte-swapped when the
//! file is big-endian), and writing an output tensor's bytes back out with a version 1.0 header.

use anyhow::{bail, Context, Result};
use infc_runtime::DType;
use npyz::{NpyHeader, Order, TypeChar};
use std::io::Write;
use std::path::Path;

/// An array read from a `.npy` file.
#[derive(Debug)]
pub struct NpyArray {
    /// The plan element type, `None` when the file holds a type plans do not use (e.g. f64).
    pub dtype: Option<DType>,
    /// The file's element type as infc spells types (`f32`, `i64`, `f64`, `u16`, …).
    pub dtype_name: String,
    pub shape: Vec<usize>,
    /// Little-endian element bytes (empty when `dtype` is `None`).
    pub data: Vec<u8>,
}

impl NpyArray {
    /// `dtype[d0,d1,…]`, the way runtime errors print types.
    pub fn type_string(&self) -> String {
        type_string(&self.dtype_name, &self.shape)
    }
}

/// `name[d0,d1,…]`.
pub fn type_string(dtype: &str, shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("{dtype}[{}]", dims.join(","))
}

fn plan_dtype(tc: TypeChar, bytes: usize) -> Option<DType> {
    match (tc, bytes) {
        (TypeChar::Float, 4) => Some(DType::F32),
        (TypeChar::Float, 2) => Some(DType::F16),
        (TypeChar::Int, 8) => Some(DType::I64),
        (TypeChar::Int, 4) => Some(DType::I32),
        (TypeChar::Int, 1) => Some(DType::I8),
        (TypeChar::Uint, 1) => Some(DType::U8),
        (TypeChar::Bool, 1) => Some(DType::Bool),
        _ => None,
    }
}

fn type_name(tc: TypeChar, bytes: usize) -> String {
    match tc {
        TypeChar::Float => format!("f{}", bytes * 8),
        TypeChar::Int => format!("i{}", bytes * 8),
        TypeChar::Uint => format!("u{}", bytes * 8),
        TypeChar::Bool => "bool".to_string(),
        other => format!("npy '{}{bytes}'", other.to_str()),
    }
}

/// Read a C-order `.npy` file of a plain (non-structured) dtype.
pub fn read_npy(path: &Path) -> Result<NpyArray> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read '{}'", path.display()))?;
    parse_npy(&bytes).with_context(|| format!("'{}' is not a usable .npy file", path.display()))
}

/// Parse the bytes of a `.npy` file (see [`read_npy`]).
pub fn parse_npy(bytes: &[u8]) -> Result<NpyArray> {
    let mut rest = bytes;
    let header = NpyHeader::from_reader(&mut rest).context("bad header")?;
    let npyz::DType::Plain(ts) = header.dtype() else {
        bail!("structured or array dtypes are not supported");
    };
    if header.order() == Order::Fortran {
        bail!("Fortran-order arrays are not supported (save with np.ascontiguousarray)");
    }
    let shape = header
        .shape()
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<Result<Vec<usize>, _>>()
        .context("a dimension does not fit in usize")?;
    let elem = ts
        .num_bytes()
        .context("element size does not fit in usize")?;
    let dtype = plan_dtype(ts.type_char(), elem);
    let dtype_name = type_name(ts.type_char(), elem);
    let Some(dt) = dtype else {
        return Ok(NpyArray {
            dtype,
            dtype_name,
            shape,
            data: Vec::new(),
        });
    };
    let count = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .context("element count overflows")?;
    let len = count.checked_mul(elem).context("byte length overflows")?;
    if rest.len() < len {
        bail!(
            "{} needs {len} data bytes, the file has {}",
            type_string(&dtype_name, &shape),
            rest.len()
        );
    }
    let mut data = rest[..len].to_vec();
    if elem > 1 && ts.endianness() == npyz::Endianness::Big {
        for chunk in data.chunks_exact_mut(elem) {
            chunk.reverse();
        }
    }
    Ok(NpyArray {
        dtype: Some(dt),
        dtype_name,
        shape,
        data,
    })
}

fn descr(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "<f4",
        DType::F16 => "<f2",
        DType::I64 => "<i8",
        DType::I32 => "<i4",
        DType::I8 => "|i1",
        DType::U8 => "|u1",
        DType::Bool => "|b1",
    }
}

/// The complete bytes of a version 1.0 `.npy` file holding `data` (little-endian elements).
pub fn npy_bytes(dtype: DType, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims = match shape {
        [] => "()".to_string(),
        [d] => format!("({d},)"),
        _ => {
            let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
            format!("({})", parts.join(", "))
        }
    };
    let mut dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {dims}, }}",
        descr(dtype)
    );
    // magic (6) + version (2) + header length (2) + dict + '\n', padded to a multiple of 64.
    let unpadded = 10 + dict.len() + 1;
    dict.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    dict.push('\n');
    let mut out = Vec::with_capacity(10 + dict.len() + data.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend_from_slice(data);
    out
}

/// Write `data` as a `.npy` file.
pub fn write_npy(path: &Path, dtype: DType, shape: &[usize], data: &[u8]) -> Result<()> {
    let mut f = std::fs::File::create(path)
        .with_context(|| format!("cannot create '{}'", path.display()))?;
    f.write_all(&npy_bytes(dtype, shape, data))
        .with_context(|| format!("cannot write '{}'", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_files_parse_back_with_the_same_type_shape_and_bytes() {
        let cases: [(DType, Vec<usize>, usize); 4] = [
            (DType::F32, vec![2, 3], 4),
            (DType::I64, vec![5], 8),
            (DType::Bool, vec![], 1),
            (DType::I32, vec![1, 1, 2], 4),
        ];
        for (dtype, shape, elem) in cases {
            let n: usize = shape.iter().product();
            let data: Vec<u8> = (0..n * elem).map(|i| (i % 2) as u8).collect();
            let bytes = npy_bytes(dtype, &shape, &data);
            let header_len = bytes.len() - data.len();
            assert_eq!(header_len % 64, 0, "{dtype}");
            let back = parse_npy(&bytes).unwrap();
            assert_eq!(back.dtype, Some(dtype));
            assert_eq!(back.shape, shape);
            assert_eq!(back.data, data);
        }
    }

    /// `file` with its header's dtype `from` replaced by `to` (same length).
    fn with_descr(mut file: Vec<u8>, from: &[u8; 3], to: &[u8; 3]) -> Vec<u8> {
        let at = file.windows(3).position(|w| w == from).unwrap();
        file[at..at + 3].copy_from_slice(to);
        file
    }

    #[test]
    fn unsupported_types_are_named_and_truncated_data_is_an_error() {
        let f64_file = npy_bytes(DType::I64, &[2], &[0; 16]);
        let arr = parse_npy(&with_descr(f64_file, b"<i8", b"<f8")).unwrap();
        assert_eq!(arr.dtype, None);
        assert_eq!(arr.type_string(), "f64[2]");
        let short = npy_bytes(DType::F32, &[4], &[0; 16]);
        let err = parse_npy(&short[..short.len() - 3]).unwrap_err();
        assert!(
            format!("{err:#}").contains("needs 16 data bytes"),
            "{err:#}"
        );
        assert!(parse_npy(b"not an npy file").is_err());
    }

    #[test]
    fn big_endian_data_is_swapped() {
        let file = npy_bytes(DType::I32, &[1], &[0, 0, 0, 7]);
        let arr = parse_npy(&with_descr(file, b"<i4", b">i4")).unwrap();
        assert_eq!(arr.data, vec![7, 0, 0, 0]);
    }
}
