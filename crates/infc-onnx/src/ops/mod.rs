//! ONNX op → IR translation, one file per op family. [`translator`] is the single list of supported
//! op types: the importer checks every node against it first (so one error lists all unsupported
//! ops), then calls the translator of each node in order.

mod constant;
mod conv;
mod elementwise;
mod gather;
mod logic;
mod matmul;
mod norm;
mod pool;
mod reduce;
mod scan;
mod shape_ops;

use crate::import::NodeCx;
use crate::OnnxError;

/// Translates one ONNX node: emits IR nodes/constants and binds the node's outputs.
pub(crate) type Translator = fn(&mut NodeCx) -> Result<(), OnnxError>;

/// The translator for a default-domain op type, or None if the op is unsupported.
pub(crate) fn translator(op_type: &str) -> Option<Translator> {
    Some(match op_type {
        "Relu" | "Sqrt" | "Erf" | "Tanh" | "Sigmoid" | "Exp" | "Log" | "Neg" | "Abs"
        | "Reciprocal" | "Floor" | "Ceil" | "Sin" | "Cos" => elementwise::unary,
        "Add" | "Sub" | "Mul" | "Div" | "Pow" => elementwise::binary,
        "Max" | "Min" | "Sum" | "Mean" => elementwise::variadic,
        "Mod" => elementwise::modulo,
        "Cast" | "CastLike" => elementwise::cast,
        "Clip" => elementwise::clip,
        "Identity" => elementwise::identity,
        "Dropout" => elementwise::dropout,
        "Gelu" => elementwise::gelu,
        "Equal" | "Less" | "LessOrEqual" | "Greater" | "GreaterOrEqual" | "And" | "Or" | "Xor" => {
            logic::compare
        }
        "Not" | "IsNaN" => logic::unary,
        "Where" => logic::where_,
        "Trilu" => logic::trilu,
        "CumSum" => scan::cumsum,
        "Conv" => conv::conv,
        "MaxPool" | "AveragePool" => pool::pool,
        "GlobalAveragePool" | "GlobalMaxPool" => pool::global,
        "MatMul" => matmul::matmul,
        "Gemm" => matmul::gemm,
        "BatchNormalization" => norm::batch_norm,
        "LayerNormalization" => norm::layer_norm,
        "InstanceNormalization" => norm::instance_norm,
        "Softmax" => norm::softmax,
        "ReduceMean" | "ReduceSum" | "ReduceMax" | "ReduceMin" | "ReduceProd" => reduce::reduce,
        "Reshape" => shape_ops::reshape,
        "Flatten" => shape_ops::flatten,
        "Transpose" => shape_ops::transpose,
        "Squeeze" => shape_ops::squeeze,
        "Unsqueeze" => shape_ops::unsqueeze,
        "Concat" => shape_ops::concat,
        "Split" => shape_ops::split,
        "Slice" => shape_ops::slice,
        "Expand" => shape_ops::expand,
        "Gather" => gather::gather,
        "GatherND" => gather::gather_nd,
        "GatherElements" => gather::gather_elements,
        "Constant" => constant::constant,
        "ConstantOfShape" => constant::constant_of_shape,
        "Shape" => constant::shape,
        "Size" => constant::size,
        "Range" => constant::range,
        _ => return None,
    })
}

/// Every supported op type (for documentation and `infc explain`).
pub const SUPPORTED_OPS: &[&str] = &[
    "Abs",
    "Add",
    "And",
    "AveragePool",
    "BatchNormalization",
    "Cast",
    "CastLike",
    "Ceil",
    "Clip",
    "Concat",
    "Constant",
    "ConstantOfShape",
    "Conv",
    "Cos",
    "CumSum",
    "Div",
    "Dropout",
    "Equal",
    "Erf",
    "Exp",
    "Expand",
    "Flatten",
    "Floor",
    "Gather",
    "GatherElements",
    "GatherND",
    "Gelu",
    "Gemm",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "Greater",
    "GreaterOrEqual",
    "Identity",
    "InstanceNormalization",
    "IsNaN",
    "LayerNormalization",
    "Less",
    "LessOrEqual",
    "Log",
    "MatMul",
    "Max",
    "MaxPool",
    "Mean",
    "Min",
    "Mod",
    "Mul",
    "Neg",
    "Not",
    "Or",
    "Pow",
    "Range",
    "Reciprocal",
    "ReduceMax",
    "ReduceMean",
    "ReduceMin",
    "ReduceProd",
    "ReduceSum",
    "Relu",
    "Reshape",
    "Shape",
    "Sigmoid",
    "Sin",
    "Size",
    "Slice",
    "Softmax",
    "Split",
    "Sqrt",
    "Squeeze",
    "Sub",
    "Sum",
    "Tanh",
    "Transpose",
    "Trilu",
    "Unsqueeze",
    "Where",
    "Xor",
];

#[cfg(test)]
mod tests {
    #[test]
    fn supported_list_matches_translator() {
        for op in super::SUPPORTED_OPS {
            assert!(
                super::translator(op).is_some(),
                "{op} listed but not translated"
            );
        }
        assert!(super::translator("Hardmax").is_none());
    }
}
