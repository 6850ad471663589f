//! TensorProto → [`infc_ir::Tensor`]: dtype mapping, raw data (shared slices of the model mmap),
//! typed data fields (copied: they are small, prost has already decoded them), and external data
//! (slices of the files [`crate::external`] maps).

use crate::external::ExternalData;
use crate::OnnxError;
use infc_ir::{Bytes, DType, Tensor};
use tract_onnx::pb::tensor_proto::{DataLocation, DataType};
use tract_onnx::pb::TensorProto;

/// ONNX data type code → IR dtype; `Err` carries the ONNX type's name for messages.
pub(crate) fn dtype_from_onnx(code: i32) -> Result<DType, String> {
    match DataType::try_from(code) {
        Ok(DataType::Float) => Ok(DType::F32),
        Ok(DataType::Float16) => Ok(DType::F16),
        Ok(DataType::Int64) => Ok(DType::I64),
        Ok(DataType::Int32) => Ok(DType::I32),
        Ok(DataType::Int8) => Ok(DType::I8),
        Ok(DataType::Uint8) => Ok(DType::U8),
        Ok(DataType::Bool) => Ok(DType::Bool),
        Ok(other) => Err(other.as_str_name().to_string()),
        Err(_) => Err(format!("unknown data type code {code}")),
    }
}

/// Convert a TensorProto. `raw` is its raw_data when that lives outside the proto (a slice of the model
/// buffer); otherwise `proto.raw_data` is used (moved out, not cloned).
pub(crate) fn tensor_from_proto(
    proto: &mut TensorProto,
    raw: Option<Bytes>,
    ext: &mut ExternalData,
) -> Result<Tensor, OnnxError> {
    let name = proto.name.clone();
    let terr = |msg: String| OnnxError::tensor(&name, msg);
    let dtype =
        dtype_from_onnx(proto.data_type).map_err(|t| terr(format!("unsupported data type {t}")))?;
    if proto.segment.is_some() {
        return Err(terr("segmented tensors are not supported".into()));
    }
    let shape = proto
        .dims
        .iter()
        .map(|&d| {
            usize::try_from(d).map_err(|_| terr(format!("negative dimension in {:?}", proto.dims)))
        })
        .collect::<Result<Vec<usize>, _>>()?;
    let numel = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| terr(format!("shape {shape:?} overflows")))?;
    let want = numel
        .checked_mul(dtype.size())
        .ok_or_else(|| terr(format!("shape {shape:?} overflows")))?;
    let check_len = |got: usize, what: &str| -> Result<(), OnnxError> {
        if got != want {
            return Err(terr(format!(
                "{what} has {got} bytes, {dtype}{shape:?} needs {want}"
            )));
        }
        Ok(())
    };

    let bytes = if proto.data_location == Some(DataLocation::External as i32) {
        ext.load(&name, &proto.external_data, want)?
    } else if let Some(raw) = raw {
        check_len(raw.len(), "raw_data")?;
        raw
    } else if !proto.raw_data.is_empty() {
        check_len(proto.raw_data.len(), "raw_data")?;
        Bytes::from_vec(std::mem::take(&mut proto.raw_data))
    } else {
        let typed = typed_field_bytes(proto, dtype).map_err(terr)?;
        if typed.len() == want {
            Bytes::from_vec(typed)
        } else {
            return Err(terr(format!(
                "has {} elements of data, {dtype}{shape:?} needs {numel}",
                typed.len() / dtype.size()
            )));
        }
    };
    Tensor::from_bytes(dtype, shape, bytes).map_err(|e| terr(e.to_string()))
}

/// Little-endian bytes from the typed `*_data` field that ONNX uses for `dtype`.
fn typed_field_bytes(p: &TensorProto, dtype: DType) -> Result<Vec<u8>, String> {
    let from_i32 = |f: &dyn Fn(i32) -> Result<Vec<u8>, String>| -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(p.int32_data.len() * dtype.size());
        for &v in &p.int32_data {
            out.extend(f(v)?);
        }
        Ok(out)
    };
    let range = |v: i32, lo: i32, hi: i32| {
        if (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(format!("int32_data value {v} out of range for {dtype}"))
        }
    };
    match dtype {
        DType::F32 => Ok(p.float_data.iter().flat_map(|v| v.to_le_bytes()).collect()),
        DType::I64 => Ok(p.int64_data.iter().flat_map(|v| v.to_le_bytes()).collect()),
        DType::I32 => Ok(p.int32_data.iter().flat_map(|v| v.to_le_bytes()).collect()),
        DType::F16 => from_i32(&|v| Ok((range(v, 0, 0xffff)? as u16).to_le_bytes().to_vec())),
        DType::I8 => from_i32(&|v| Ok(vec![range(v, -128, 127)? as i8 as u8])),
        DType::U8 => from_i32(&|v| Ok(vec![range(v, 0, 255)? as u8])),
        DType::Bool => from_i32(&|v| Ok(vec![range(v, 0, 1)? as u8])),
    }
}
