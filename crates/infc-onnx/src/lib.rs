//! ONNX ModelProto import into infc IR (prost + tract_onnx::pb types), one file per op family
