//! Builds small ONNX models from prost structs for the importer's unit tests.

use crate::{import_bytes, ImportOptions, OnnxError};
use infc_ir::{Bytes, Graph};
use prost::Message;
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::{dimension, Dimension};
use tract_onnx::pb::type_proto;
use tract_onnx::pb::*;

pub struct M {
    pub graph: GraphProto,
    pub opset: i64,
}

/// `"batch"` → dim_param, `"3"` → dim_value, `"?"` → no value.
fn dim(d: &str) -> Dimension {
    let value = if d == "?" {
        None
    } else if let Ok(n) = d.parse::<i64>() {
        Some(dimension::Value::DimValue(n))
    } else {
        Some(dimension::Value::DimParam(d.to_string()))
    };
    Dimension {
        value,
        ..Default::default()
    }
}

pub fn value_info(name: &str, elem: DataType, dims: &[&str]) -> ValueInfoProto {
    let shape = TensorShapeProto {
        dim: dims.iter().map(|d| dim(d)).collect(),
    };
    let t = type_proto::Tensor {
        elem_type: elem as i32,
        shape: Some(shape),
    };
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(t)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn tensor_f32(name: &str, dims: &[i64], v: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Float as i32,
        raw_data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ..Default::default()
    }
}

pub fn tensor_i64(name: &str, dims: &[i64], v: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Int64 as i32,
        raw_data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ..Default::default()
    }
}

pub fn ai(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i,
        ..Default::default()
    }
}
pub fn af(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Float as i32,
        f,
        ..Default::default()
    }
}
pub fn ais(name: &str, ints: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: ints.to_vec(),
        ..Default::default()
    }
}
pub fn astr(name: &str, s: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::String as i32,
        s: s.as_bytes().to_vec(),
        ..Default::default()
    }
}
pub fn at(name: &str, t: TensorProto) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Tensor as i32,
        t: Some(t),
        ..Default::default()
    }
}

impl M {
    pub fn new(opset: i64) -> M {
        M {
            graph: GraphProto {
                name: "test".into(),
                ..Default::default()
            },
            opset,
        }
    }
    pub fn input(mut self, name: &str, elem: DataType, dims: &[&str]) -> M {
        self.graph.input.push(value_info(name, elem, dims));
        self
    }
    pub fn f32_in(self, name: &str, dims: &[&str]) -> M {
        self.input(name, DataType::Float, dims)
    }
    pub fn init(mut self, t: TensorProto) -> M {
        self.graph.initializer.push(t);
        self
    }
    pub fn ints(self, name: &str, v: &[i64]) -> M {
        self.init(tensor_i64(name, &[v.len() as i64], v))
    }
    pub fn node(mut self, op: &str, ins: &[&str], outs: &[&str], attrs: Vec<AttributeProto>) -> M {
        let name = format!("{op}_{}", self.graph.node.len());
        self.graph.node.push(NodeProto {
            name,
            op_type: op.into(),
            input: ins.iter().map(|s| s.to_string()).collect(),
            output: outs.iter().map(|s| s.to_string()).collect(),
            attribute: attrs,
            ..Default::default()
        });
        self
    }
    pub fn output(mut self, name: &str) -> M {
        self.graph.output.push(ValueInfoProto {
            name: name.into(),
            ..Default::default()
        });
        self
    }
    pub fn bytes(&self) -> Vec<u8> {
        let m = ModelProto {
            ir_version: 8,
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: self.opset,
            }],
            graph: Some(self.graph.clone()),
            ..Default::default()
        };
        m.encode_to_vec()
    }
    pub fn import(&self) -> Result<Graph, OnnxError> {
        import_bytes(Bytes::from_vec(self.bytes()), &ImportOptions::default())
    }
    /// One line per IR node: `name: Op{attrs} -> types`, or the error message.
    pub fn summary(&self) -> String {
        match self.import() {
            Ok(g) => summarize(&g),
            Err(e) => format!("error: {e}"),
        }
    }
}

pub fn summarize(g: &Graph) -> String {
    let mut s = String::new();
    for n in &g.nodes {
        let outs: Vec<String> = n
            .outputs
            .iter()
            .map(|&o| format!("{}: {}", g.value(o).name, g.ty(o)))
            .collect();
        s.push_str(&format!("{:?} -> {}\n", n.op, outs.join(", ")));
    }
    s
}
