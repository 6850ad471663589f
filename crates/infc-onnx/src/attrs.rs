//! Typed access to a node's attributes. A wrong attribute type is an error naming the attribute;
//! files that leave `AttributeProto.type` unset (very old exporters) are read by which field is set.

use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::{AttributeProto, TensorProto};

pub(crate) struct Attrs<'a> {
    list: &'a [AttributeProto],
}

/// Error text for attribute problems; the caller adds the node.
pub(crate) type AttrResult<T> = Result<T, String>;

impl<'a> Attrs<'a> {
    pub fn new(list: &'a [AttributeProto]) -> Attrs<'a> {
        Attrs { list }
    }

    fn find(&self, name: &str, want: AttributeType) -> AttrResult<Option<&'a AttributeProto>> {
        let Some(a) = self.list.iter().rev().find(|a| a.name == name) else {
            return Ok(None);
        };
        if !a.ref_attr_name.is_empty() {
            return Err(format!(
                "attribute '{name}' refers to function attribute '{}' (not supported)",
                a.ref_attr_name
            ));
        }
        let ty = AttributeType::try_from(a.r#type).unwrap_or(AttributeType::Undefined);
        if ty != want && ty != AttributeType::Undefined {
            return Err(format!(
                "attribute '{name}' must be {}, got {}",
                want.as_str_name(),
                ty.as_str_name()
            ));
        }
        Ok(Some(a))
    }

    pub fn int(&self, name: &str) -> AttrResult<Option<i64>> {
        Ok(self.find(name, AttributeType::Int)?.map(|a| a.i))
    }

    pub fn int_or(&self, name: &str, default: i64) -> AttrResult<i64> {
        Ok(self.int(name)?.unwrap_or(default))
    }

    /// A 0/1 integer attribute.
    pub fn flag(&self, name: &str, default: bool) -> AttrResult<bool> {
        match self.int(name)? {
            None => Ok(default),
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            Some(v) => Err(format!("attribute '{name}' must be 0 or 1, got {v}")),
        }
    }

    pub fn float(&self, name: &str) -> AttrResult<Option<f32>> {
        Ok(self.find(name, AttributeType::Float)?.map(|a| a.f))
    }

    pub fn float_or(&self, name: &str, default: f32) -> AttrResult<f32> {
        Ok(self.float(name)?.unwrap_or(default))
    }

    pub fn ints(&self, name: &str) -> AttrResult<Option<Vec<i64>>> {
        Ok(self
            .find(name, AttributeType::Ints)?
            .map(|a| a.ints.clone()))
    }

    /// Non-negative integers (kernel shapes, strides, pads…).
    pub fn usizes(&self, name: &str) -> AttrResult<Option<Vec<usize>>> {
        self.ints(name)?
            .map(|v| {
                v.iter()
                    .map(|&x| {
                        usize::try_from(x)
                            .map_err(|_| format!("attribute '{name}' has negative entry {x}"))
                    })
                    .collect()
            })
            .transpose()
    }

    pub fn floats(&self, name: &str) -> AttrResult<Option<Vec<f32>>> {
        Ok(self
            .find(name, AttributeType::Floats)?
            .map(|a| a.floats.clone()))
    }

    pub fn string(&self, name: &str) -> AttrResult<Option<String>> {
        self.find(name, AttributeType::String)?
            .map(|a| {
                String::from_utf8(a.s.clone())
                    .map_err(|_| format!("attribute '{name}' is not UTF-8"))
            })
            .transpose()
    }

    pub fn tensor(&self, name: &str) -> AttrResult<Option<TensorProto>> {
        Ok(self
            .find(name, AttributeType::Tensor)?
            .and_then(|a| a.t.clone()))
    }

    /// Names of all attributes present.
    pub fn names(&self) -> impl Iterator<Item = &'a str> {
        self.list.iter().map(|a| a.name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_type_is_reported() {
        let list = vec![AttributeProto {
            name: "axis".into(),
            r#type: AttributeType::Float as i32,
            f: 1.0,
            ..Default::default()
        }];
        let a = Attrs::new(&list);
        assert_eq!(
            a.int("axis").unwrap_err(),
            "attribute 'axis' must be INT, got FLOAT"
        );
        assert_eq!(a.float("axis").unwrap(), Some(1.0));
        assert_eq!(a.int("missing").unwrap(), None);
    }

    #[test]
    fn flags_and_untyped_attributes() {
        let list = vec![
            AttributeProto {
                name: "keepdims".into(),
                i: 2,
                ..Default::default()
            },
            AttributeProto {
                name: "pads".into(),
                ints: vec![1, -1],
                ..Default::default()
            },
        ];
        let a = Attrs::new(&list);
        assert_eq!(
            a.flag("keepdims", true).unwrap_err(),
            "attribute 'keepdims' must be 0 or 1, got 2"
        );
        assert_eq!(
            a.usizes("pads").unwrap_err(),
            "attribute 'pads' has negative entry -1"
        );
    }
}
