//! Zero-copy ModelProto decoding.
//!
//! prost's generated `TensorProto.raw_data` is a `Vec<u8>`, so `ModelProto::decode` would copy every
//! weight. Instead this module walks the protobuf wire format of `ModelProto.graph` (field 7) →
//! `GraphProto.initializer` (field 5) → `TensorProto.raw_data` (field 9) itself: each initializer is
//! decoded by prost *without* its raw_data field, and the raw_data byte range inside the source buffer
//! is recorded so the importer can slice the mmap. Everything else (nodes, inputs, attributes,
//! typed-field tensors) is copied into small buffers and decoded by prost as usual.

use prost::Message;
use std::ops::Range;
use tract_onnx::pb::{GraphProto, ModelProto, TensorProto};

/// An initializer decoded without its raw bytes, plus where those bytes are in the source buffer.
pub struct Initializer {
    pub proto: TensorProto,
    /// Byte range of `raw_data` inside the buffer given to [`decode_model`], if the field was present.
    pub raw: Option<Range<usize>>,
}

/// The decoded model: `model.graph.initializer` is empty; initializers are in `initializers`.
pub struct DecodedModel {
    pub model: ModelProto,
    pub initializers: Vec<Initializer>,
}

const MODEL_GRAPH: u32 = 7;
const GRAPH_INITIALIZER: u32 = 5;
const TENSOR_RAW_DATA: u32 = 9;

/// One wire field: number, the full encoded span (key included), and for length-delimited fields
/// the payload span.
struct Field {
    number: u32,
    whole: Range<usize>,
    payload: Option<Range<usize>>,
}

fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos).ok_or("truncated varint")?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("varint longer than 10 bytes".into())
}

/// Iterate the fields of the message occupying `buf[range]`.
fn fields(buf: &[u8], range: Range<usize>) -> impl Iterator<Item = Result<Field, String>> + '_ {
    let end = range.end;
    let mut pos = range.start;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || pos >= end {
            return None;
        }
        let start = pos;
        let r = (|| {
            let key = read_varint(&buf[..end], &mut pos)?;
            let number = u32::try_from(key >> 3).map_err(|_| "field number too large")?;
            if number == 0 {
                return Err("field number 0".to_string());
            }
            let payload = match key & 7 {
                0 => {
                    read_varint(&buf[..end], &mut pos)?;
                    None
                }
                1 => {
                    pos = pos
                        .checked_add(8)
                        .filter(|&p| p <= end)
                        .ok_or("truncated fixed64")?;
                    None
                }
                5 => {
                    pos = pos
                        .checked_add(4)
                        .filter(|&p| p <= end)
                        .ok_or("truncated fixed32")?;
                    None
                }
                2 => {
                    let len = read_varint(&buf[..end], &mut pos)?;
                    let len = usize::try_from(len).map_err(|_| "length too large")?;
                    let p = pos;
                    pos = pos.checked_add(len).filter(|&e| e <= end).ok_or_else(|| {
                        format!("length-delimited field {number} of {len} bytes runs past the end of its message")
                    })?;
                    Some(p..pos)
                }
                w => return Err(format!("unsupported wire type {w} for field {number}")),
            };
            Ok(Field {
                number,
                whole: start..pos,
                payload,
            })
        })();
        if r.is_err() {
            failed = true;
        }
        Some(r)
    })
}

fn decode_err(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

/// Decode a ModelProto from `buf`, leaving initializer raw data in place (see module docs).
pub fn decode_model(buf: &[u8]) -> Result<DecodedModel, String> {
    let mut model_rest = Vec::new();
    let mut graph_rest = Vec::new();
    let mut saw_graph = false;
    let mut initializers = Vec::new();
    for f in fields(buf, 0..buf.len()) {
        let f = f.map_err(|e| decode_err("ModelProto", e))?;
        match (f.number, f.payload) {
            (MODEL_GRAPH, Some(graph)) => {
                saw_graph = true;
                for gf in fields(buf, graph) {
                    let gf = gf.map_err(|e| decode_err("GraphProto", e))?;
                    match (gf.number, gf.payload) {
                        (GRAPH_INITIALIZER, Some(t)) => {
                            initializers.push(decode_initializer(buf, t)?)
                        }
                        _ => graph_rest.extend_from_slice(&buf[gf.whole]),
                    }
                }
            }
            _ => model_rest.extend_from_slice(&buf[f.whole]),
        }
    }
    let mut model =
        ModelProto::decode(model_rest.as_slice()).map_err(|e| decode_err("ModelProto", e))?;
    if saw_graph {
        model.graph = Some(
            GraphProto::decode(graph_rest.as_slice()).map_err(|e| decode_err("GraphProto", e))?,
        );
    }
    Ok(DecodedModel {
        model,
        initializers,
    })
}

fn decode_initializer(buf: &[u8], range: Range<usize>) -> Result<Initializer, String> {
    let mut rest = Vec::new();
    let mut raw = None;
    for f in fields(buf, range) {
        let f = f.map_err(|e| decode_err("TensorProto", e))?;
        match (f.number, f.payload) {
            // Last occurrence wins, as protobuf specifies for scalar fields.
            (TENSOR_RAW_DATA, Some(p)) => raw = Some(p),
            _ => rest.extend_from_slice(&buf[f.whole]),
        }
    }
    let proto = TensorProto::decode(rest.as_slice()).map_err(|e| decode_err("TensorProto", e))?;
    Ok(Initializer { proto, raw })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::pb::{GraphProto, NodeProto};

    #[test]
    fn raw_data_is_located_not_copied() {
        let t = TensorProto {
            name: "w".into(),
            dims: vec![2],
            data_type: 1,
            raw_data: vec![1, 2, 3, 4, 5, 6, 7, 8],
            ..Default::default()
        };
        let node = NodeProto {
            op_type: "Relu".into(),
            input: vec!["w".into()],
            output: vec!["y".into()],
            ..Default::default()
        };
        let g = GraphProto {
            name: "g".into(),
            node: vec![node],
            initializer: vec![t],
            ..Default::default()
        };
        let m = ModelProto {
            ir_version: 8,
            graph: Some(g),
            ..Default::default()
        };
        let buf = m.encode_to_vec();
        let d = decode_model(&buf).unwrap();
        assert_eq!(d.initializers.len(), 1);
        let init = &d.initializers[0];
        assert_eq!(init.proto.name, "w");
        assert!(init.proto.raw_data.is_empty());
        assert_eq!(&buf[init.raw.clone().unwrap()], &[1, 2, 3, 4, 5, 6, 7, 8]);
        let g = d.model.graph.unwrap();
        assert_eq!(g.node.len(), 1);
        assert!(g.initializer.is_empty());
        assert_eq!(d.model.ir_version, 8);
    }

    #[test]
    fn truncation_is_an_error() {
        let g = GraphProto {
            name: "g".into(),
            ..Default::default()
        };
        let buf = ModelProto {
            graph: Some(g),
            ..Default::default()
        }
        .encode_to_vec();
        let err = decode_model(&buf[..buf.len() - 1]).err().unwrap();
        assert_eq!(
            err,
            "ModelProto: length-delimited field 7 of 3 bytes runs past the end of its message"
        );
        assert!(decode_model(&[0x80]).is_err());
        assert!(decode_model(&[0x0b]).is_err()); // wire type 3 (group)
    }
}
