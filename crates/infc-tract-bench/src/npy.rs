//! Reading `.npy` files into tract tensors (f32, f64, i64, i32, i8, u8, bool — what the benchmark inputs use).

use std::path::Path;

use anyhow::{bail, Context, Result};
use tract_onnx::prelude::*;

fn array<T: npyz::Deserialize + Datum>(
    npy: npyz::NpyFile<&[u8]>,
    shape: &[usize],
    path: &Path,
) -> Result<Tensor> {
    let data = npy
        .into_vec::<T>()
        .with_context(|| format!("{}: reading data", path.display()))?;
    let arr = tract_ndarray::ArrayD::from_shape_vec(shape, data)
        .with_context(|| format!("{}: data does not fill shape {shape:?}", path.display()))?;
    Ok(arr.into_tensor())
}

/// Read `path` as a tract tensor with the file's dtype and shape.
pub fn read_tensor(path: &Path) -> Result<Tensor> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let npy = npyz::NpyFile::new(&bytes[..])
        .with_context(|| format!("{}: not a .npy file", path.display()))?;
    if npy.order() == npyz::Order::Fortran {
        bail!(
            "{}: Fortran-ordered arrays are not supported",
            path.display()
        );
    }
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let type_str = match npy.dtype() {
        npyz::DType::Plain(ts) => ts.to_string(),
        other => bail!(
            "{}: unsupported npy dtype {}",
            path.display(),
            other.descr()
        ),
    };
    // npyz converts either byte order; only the kind and size matter here.
    match type_str.trim_start_matches(['<', '>', '|', '=']) {
        "f4" => array::<f32>(npy, &shape, path),
        "f8" => array::<f64>(npy, &shape, path),
        "i8" => array::<i64>(npy, &shape, path),
        "i4" => array::<i32>(npy, &shape, path),
        "i1" => array::<i8>(npy, &shape, path),
        "u1" => array::<u8>(npy, &shape, path),
        "b1" => array::<bool>(npy, &shape, path),
        _ => bail!("{}: unsupported npy dtype {type_str}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal version-1.0 .npy file: header padded so data starts at a multiple of 64.
    fn npy_bytes(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn values<T: Datum + Copy>(t: &Tensor) -> Vec<T> {
        t.to_plain_array_view::<T>()
            .unwrap()
            .iter()
            .copied()
            .collect()
    }

    fn write(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!(
            "infc-tract-bench-{}-{name}.npy",
            std::process::id()
        ));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn reads_f32_and_i64_with_shape() {
        let f: Vec<u8> = [1.5f32, -2.0, 3.25, 4.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let path = write("f32", &npy_bytes("<f4", "(2, 2)", &f));
        let t = read_tensor(&path).unwrap();
        assert_eq!(t.shape(), &[2, 2]);
        assert_eq!(values::<f32>(&t), [1.5, -2.0, 3.25, 4.0]);

        let i: Vec<u8> = [7i64, 50256, 0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let path = write("i64", &npy_bytes("<i8", "(1, 3)", &i));
        let t = read_tensor(&path).unwrap();
        assert_eq!(t.shape(), &[1, 3]);
        assert_eq!(values::<i64>(&t), [7, 50256, 0]);
    }

    #[test]
    fn reads_big_endian_and_bool() {
        let f: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let t = read_tensor(&write("be", &npy_bytes(">f4", "(2,)", &f))).unwrap();
        assert_eq!(values::<f32>(&t), [1.5, -2.0]);
        let t = read_tensor(&write("bool", &npy_bytes("|b1", "(3,)", &[1, 0, 1]))).unwrap();
        assert_eq!(values::<bool>(&t), [true, false, true]);
    }

    #[test]
    fn rejects_garbage_and_unsupported_dtypes() {
        let path = write("garbage", b"not a numpy file at all");
        assert!(read_tensor(&path).is_err());
        let path = write("c8", &npy_bytes("<c8", "(1,)", &[0u8; 8]));
        let err = read_tensor(&path).unwrap_err().to_string();
        assert!(err.contains("unsupported npy dtype"), "{err}");
        let missing = std::env::temp_dir().join("infc-tract-bench-does-not-exist.npy");
        assert!(read_tensor(&missing).is_err());
    }
}
