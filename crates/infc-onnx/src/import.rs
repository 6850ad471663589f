//! Graph construction: initializers → constants, graph inputs → typed inputs, nodes (in topological
//! order) → IR nodes through the per-family translators in [`crate::ops`], with types inferred by
//! `infc_ir::infer` as each node is added. [`NodeCx`] is what a translator sees.

use crate::attrs::{AttrResult, Attrs};
use crate::error::UnsupportedOp;
use crate::external::ExternalData;
use crate::tensor::{dtype_from_onnx, tensor_from_proto};
use crate::wire::{decode_model, DecodedModel};
use crate::{ops, OnnxError};
use infc_ir::infer::{infer_node_facts, SymInt, ValueFacts};
use infc_ir::{Bytes, DType, Dim, Graph, Op, Tensor, TensorType, ValueId};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use tract_onnx::pb::tensor_shape_proto::dimension;
use tract_onnx::pb::type_proto;
use tract_onnx::pb::{NodeProto, ValueInfoProto};

/// Decode `data` and build the graph. `base_dir` resolves external data (None: not allowed).
pub(crate) fn import_buffer(data: Bytes, base_dir: Option<&Path>) -> Result<Graph, OnnxError> {
    let DecodedModel {
        model,
        initializers,
    } = decode_model(data.as_slice()).map_err(OnnxError::Decode)?;
    let graph = model
        .graph
        .ok_or_else(|| OnnxError::Model("the model has no graph".into()))?;
    let mut opsets: HashMap<String, i64> = HashMap::new();
    for o in &model.opset_import {
        let domain = if o.domain == "ai.onnx" {
            String::new()
        } else {
            o.domain.clone()
        };
        opsets.insert(domain, o.version);
    }
    // ir_version < 3 models have no opset_import and mean opset 1; nothing torch writes.
    let opset = *opsets
        .get("")
        .ok_or_else(|| OnnxError::Model("the model imports no default-domain opset".into()))?;

    let node_names = node_names(&graph.node);
    check_supported(&graph.node, &node_names, &opsets)?;

    let mut imp = Importer {
        g: Graph::new(if graph.name.is_empty() {
            "main"
        } else {
            &graph.name
        }),
        names: HashMap::new(),
        facts: ValueFacts::new(),
        ext: ExternalData::new(base_dir.map(Path::to_path_buf)),
    };
    for mut init in initializers {
        let raw = match init.raw {
            Some(r) => Some(
                data.slice(r.start, r.len())
                    .map_err(|e| OnnxError::tensor(&init.proto.name, e.to_string()))?,
            ),
            None => None,
        };
        let t = tensor_from_proto(&mut init.proto, raw, &mut imp.ext)?;
        let name = std::mem::take(&mut init.proto.name);
        if name.is_empty() {
            return Err(OnnxError::Model("an initializer has no name".into()));
        }
        let v = imp.g.add_const(name.clone(), t);
        if imp.names.insert(name.clone(), v).is_some() {
            return Err(OnnxError::tensor(&name, "initializer defined twice"));
        }
    }
    for input in &graph.input {
        if imp.names.contains_key(&input.name) {
            continue; // IR < 4 lists initializers among the inputs too
        }
        let ty = input_type(input)?;
        let v = imp.g.add_input(input.name.clone(), ty);
        imp.names.insert(input.name.clone(), v);
    }

    for i in topo_order(&graph.node, &node_names, &imp.names)? {
        let proto = &graph.node[i];
        let translate = ops::translator(&proto.op_type).expect("checked by check_supported");
        let mut cx = NodeCx {
            imp: &mut imp,
            proto,
            name: &node_names[i],
            opset,
            attrs: Attrs::new(&proto.attribute),
            emitted: 0,
        };
        translate(&mut cx)?;
    }

    for out in &graph.output {
        let v = *imp.names.get(&out.name).ok_or_else(|| {
            OnnxError::Model(format!(
                "graph output '{}' is not produced by any node, input or initializer",
                out.name
            ))
        })?;
        imp.g.outputs.push(v);
    }
    Ok(imp.g)
}

/// Node names, generated as `<op_type>_<index>` where the model leaves them empty.
fn node_names(nodes: &[NodeProto]) -> Vec<String> {
    nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            if n.name.is_empty() {
                format!("{}_{i}", n.op_type)
            } else {
                n.name.clone()
            }
        })
        .collect()
}

/// One error listing every node whose op the importer cannot translate.
fn check_supported(
    nodes: &[NodeProto],
    names: &[String],
    opsets: &HashMap<String, i64>,
) -> Result<(), OnnxError> {
    let bad: Vec<UnsupportedOp> = nodes
        .iter()
        .zip(names)
        .filter(|(n, _)| {
            !(matches!(n.domain.as_str(), "" | "ai.onnx") && ops::translator(&n.op_type).is_some())
        })
        .map(|(n, name)| {
            let domain = if n.domain == "ai.onnx" {
                String::new()
            } else {
                n.domain.clone()
            };
            UnsupportedOp {
                op_type: n.op_type.clone(),
                node: name.clone(),
                opset: opsets.get(&domain).copied(),
                domain,
            }
        })
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(OnnxError::Unsupported(bad))
    }
}

/// Execution order of the nodes: file order where valid (linear for the usual, sorted files).
fn topo_order(
    nodes: &[NodeProto],
    names: &[String],
    defined: &HashMap<String, ValueId>,
) -> Result<Vec<usize>, OnnxError> {
    let mut have: HashSet<&str> = defined.keys().map(String::as_str).collect();
    let produced: HashSet<&str> = nodes
        .iter()
        .flat_map(|n| n.output.iter().map(String::as_str))
        .collect();
    for (n, name) in nodes.iter().zip(names) {
        if let Some(missing) = n
            .input
            .iter()
            .find(|i| !i.is_empty() && !have.contains(i.as_str()) && !produced.contains(i.as_str()))
        {
            return Err(OnnxError::Node {
                node: name.clone(),
                op_type: n.op_type.clone(),
                msg: format!(
                    "reads '{missing}', which no node, graph input or initializer defines"
                ),
            });
        }
    }
    // The order of repeated forward sweeps over the nodes (each placing every node whose inputs
    // are defined), in O(n log n) instead of a sweep per node of a chain listed backwards: a
    // node's sweep is the largest over the producers `p` of its inputs of `sweep(p)` (`p` listed
    // before it) or `sweep(p) + 1` (after it), and the order is by (sweep, position).
    let mut readers: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut waiting = vec![0usize; nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        for v in n
            .input
            .iter()
            .filter(|v| !v.is_empty() && !have.contains(v.as_str()))
        {
            readers.entry(v.as_str()).or_default().push(i);
            waiting[i] += 1;
        }
    }
    let mut sweep = vec![0usize; nodes.len()];
    let mut ready: Vec<usize> = (0..nodes.len()).filter(|&i| waiting[i] == 0).collect();
    let mut placed = 0;
    while let Some(p) = ready.pop() {
        placed += 1;
        for o in nodes[p].output.iter().filter(|o| !o.is_empty()) {
            if !have.insert(o.as_str()) {
                continue;
            }
            for &u in readers
                .get(o.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                sweep[u] = sweep[u].max(sweep[p] + usize::from(p > u));
                waiting[u] -= 1;
                if waiting[u] == 0 {
                    ready.push(u);
                }
            }
        }
    }
    if placed < nodes.len() {
        let stuck = (0..nodes.len())
            .find(|&i| waiting[i] > 0)
            .expect("some node is not placed");
        return Err(OnnxError::Model(format!(
            "the graph has a cycle through node '{}'",
            names[stuck]
        )));
    }
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    order.sort_by_key(|&i| (sweep[i], i));
    Ok(order)
}

/// Type of a graph input: dtype, and dims from `dim_value` / `dim_param` (fresh symbol when absent).
fn input_type(vi: &ValueInfoProto) -> Result<TensorType, OnnxError> {
    let err = |msg: &str| OnnxError::Input {
        input: vi.name.clone(),
        msg: msg.to_string(),
    };
    let Some(type_proto::Value::TensorType(t)) = vi.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Err(err("is not a tensor (or has no type)"));
    };
    let dtype =
        dtype_from_onnx(t.elem_type).map_err(|e| err(&format!("unsupported data type {e}")))?;
    let shape = t
        .shape
        .as_ref()
        .ok_or_else(|| err("has no shape (its rank must be known)"))?;
    let dims = shape
        .dim
        .iter()
        .enumerate()
        .map(|(i, d)| match &d.value {
            Some(dimension::Value::DimValue(n)) if *n >= 0 => Dim::Known(*n as usize),
            Some(dimension::Value::DimParam(p)) if !p.is_empty() => Dim::sym(p),
            _ => Dim::sym(&format!("{}:d{i}", vi.name)),
        })
        .collect::<Vec<_>>();
    Ok(TensorType::new(dtype, dims))
}

pub(crate) struct Importer {
    pub g: Graph,
    /// ONNX tensor name → value.
    names: HashMap<String, ValueId>,
    /// Elements of small integer tensors derived so far (shape arithmetic), see `infc_ir::infer`.
    facts: ValueFacts,
    ext: ExternalData,
}

/// What a per-op translator sees: the node, its attributes, the graph being built.
pub(crate) struct NodeCx<'a> {
    imp: &'a mut Importer,
    pub proto: &'a NodeProto,
    pub name: &'a str,
    /// Default-domain opset the model imports.
    pub opset: i64,
    pub attrs: Attrs<'a>,
    emitted: usize,
}

impl NodeCx<'_> {
    pub fn err(&self, msg: impl Into<String>) -> OnnxError {
        OnnxError::Node {
            node: self.name.to_string(),
            op_type: self.proto.op_type.clone(),
            msg: msg.into(),
        }
    }

    /// Unwrap an attribute lookup, naming the node on error.
    pub fn attr<T>(&self, r: AttrResult<T>) -> Result<T, OnnxError> {
        r.map_err(|m| self.err(m))
    }

    pub fn graph(&self) -> &Graph {
        &self.imp.g
    }

    pub fn ty(&self, v: ValueId) -> &TensorType {
        self.imp.g.ty(v)
    }

    /// Number of input slots written in the node (including empty optional ones).
    pub fn num_inputs(&self) -> usize {
        self.proto.input.len()
    }

    /// Input `i`, or None when absent (beyond the list, or an empty name).
    pub fn input(&self, i: usize) -> Option<ValueId> {
        let name = self.proto.input.get(i).filter(|n| !n.is_empty())?;
        Some(
            *self
                .imp
                .names
                .get(name)
                .expect("topological order guarantees inputs are defined"),
        )
    }

    /// Required input `i`.
    pub fn req(&self, i: usize) -> Result<ValueId, OnnxError> {
        self.input(i)
            .ok_or_else(|| self.err(format!("required input {i} is missing")))
    }

    /// All present inputs, at least `min` of them.
    pub fn all_inputs(&self, min: usize) -> Result<Vec<ValueId>, OnnxError> {
        let v: Vec<ValueId> = (0..self.num_inputs())
            .filter_map(|i| self.input(i))
            .collect();
        if v.len() < min || v.len() != self.num_inputs() {
            return Err(self.err(format!(
                "expects at least {min} inputs, all present; got {:?}",
                self.proto.input
            )));
        }
        Ok(v)
    }

    /// Whether output slot `i` is requested (present with a non-empty name).
    pub fn wants_output(&self, i: usize) -> bool {
        self.proto.output.get(i).is_some_and(|n| !n.is_empty())
    }

    /// Integer data of optional input `i`, which must be a constant ("attribute input" such as axes)
    /// or a value whose elements shape inference derived exactly.
    pub fn const_ints_input(&self, i: usize, what: &str) -> Result<Option<Vec<i64>>, OnnxError> {
        let Some(v) = self.input(i) else {
            return Ok(None);
        };
        if let Some(known) = self
            .imp
            .facts
            .get(v)
            .and_then(|f| f.iter().map(SymInt::int).collect::<Option<Vec<i64>>>())
        {
            return Ok(Some(known));
        }
        let t = self.imp.g.const_of(v).ok_or_else(|| {
            self.err(format!(
                "input {i} ({what}, '{}') must be a constant: it is computed at run time, which infc does not support",
                self.proto.input[i]
            ))
        })?;
        t.to_i64_vec()
            .map(Some)
            .map_err(|e| self.err(format!("input {i} ({what}): {e}")))
    }

    /// New constant named `<node>/<suffix>`.
    pub fn konst(&mut self, suffix: &str, t: Tensor) -> ValueId {
        self.imp.g.add_const(format!("{}/{suffix}", self.name), t)
    }

    /// Convert a TensorProto held in an attribute (Constant's `value`, ConstantOfShape's `value`).
    pub fn attr_tensor(
        &mut self,
        mut proto: tract_onnx::pb::TensorProto,
    ) -> Result<Tensor, OnnxError> {
        if proto.name.is_empty() {
            proto.name = format!("{}.value", self.name);
        }
        tensor_from_proto(&mut proto, None, &mut self.imp.ext)
    }

    /// Append an IR node; its output types are inferred now. Returns the new output values.
    pub fn emit(&mut self, op: Op, inputs: Vec<ValueId>) -> Result<Vec<ValueId>, OnnxError> {
        let node_name = if self.emitted == 0 {
            self.name.to_string()
        } else {
            format!("{}#{}", self.name, self.emitted)
        };
        self.emitted += 1;
        let (types, elems) =
            infer_node_facts(&self.imp.g, &self.imp.facts, &node_name, &op, &inputs)?;
        let outputs: Vec<ValueId> = types
            .into_iter()
            .enumerate()
            .map(|(k, t)| self.imp.g.add_value(format!("{node_name}:{k}"), t))
            .collect();
        if let Some(e) = elems {
            self.imp.facts.insert(outputs[0], e);
        }
        self.imp.g.push_node(node_name, op, inputs, outputs.clone());
        Ok(outputs)
    }

    /// [`NodeCx::emit`] for single-output ops.
    pub fn emit1(&mut self, op: Op, inputs: Vec<ValueId>) -> Result<ValueId, OnnxError> {
        Ok(self.emit(op, inputs)?[0])
    }

    /// Bind the node's ONNX outputs, in order, to `values` (renaming node outputs to the ONNX names).
    /// Requested outputs beyond `values` are an error.
    pub fn finish(&mut self, values: &[ValueId]) -> Result<(), OnnxError> {
        for (i, name) in self.proto.output.iter().enumerate() {
            if name.is_empty() {
                continue;
            }
            let &v = values
                .get(i)
                .ok_or_else(|| self.err(format!("output {i} ('{name}') is not supported")))?;
            if self.imp.names.contains_key(name) {
                return Err(self.err(format!("output '{name}' is defined twice")));
            }
            let is_input_or_const = self.imp.g.is_const(v) || self.imp.g.inputs.contains(&v);
            if !is_input_or_const {
                self.imp.g.values[v].name = name.clone();
            }
            self.imp.names.insert(name.clone(), v);
        }
        Ok(())
    }

    /// Scalar constant of `dtype` holding `v` (converted; saturating for integers).
    pub fn scalar(&mut self, suffix: &str, dtype: DType, v: f64) -> Result<ValueId, OnnxError> {
        let t = scalar_tensor(dtype, v).map_err(|e| self.err(e))?;
        Ok(self.konst(suffix, t))
    }

    /// 1-D i64 constant.
    pub fn ints(&mut self, suffix: &str, v: &[i64]) -> ValueId {
        let t = Tensor::from_vec(vec![v.len()], v.to_vec()).expect("length matches");
        self.konst(suffix, t)
    }

    /// Add a constant under an ONNX output name (Constant nodes).
    pub fn named_const(&mut self, name: &str, t: Tensor) -> ValueId {
        self.imp.g.add_const(name.to_string(), t)
    }
}

/// Scalar tensor of `dtype` from an f64 (`as` conversion: saturating for integers, ±inf kept for floats).
pub(crate) fn scalar_tensor(dtype: DType, v: f64) -> Result<Tensor, String> {
    Ok(match dtype {
        DType::F32 => Tensor::scalar(v as f32),
        DType::F16 => Tensor::scalar(half::f16::from_f64(v)),
        DType::I64 => Tensor::scalar(v as i64),
        DType::I32 => Tensor::scalar(v as i32),
        DType::I8 => Tensor::scalar(v as i8),
        DType::U8 => Tensor::scalar(v as u8),
        DType::Bool => Tensor::from_bools(vec![], &[v != 0.0]).map_err(|e| e.to_string())?,
    })
}
