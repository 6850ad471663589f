"""Generate the hand-made error models of issue 19 rows 4 and 13 (run from this folder with a Python that
has the `onnx` package: `python make_errors.py`). Compiling each must fail with an error naming
the model's fault (exit 1), never "internal error".

- duplicate_outputs.onnx: Relu whose output 'y' is listed twice among the graph outputs.
- huge_rank.onnx: Reshape of x[1] to a shape of 100 002 ones built by ConstantOfShape, so the
  graph output 'y' has rank 100 002 (a plan's inputs and outputs have at most 32 dims).
- huge_pads.onnx: Conv 'conv' with pads 2^40 on the height: its output 'y' is
  f32[1,1,2^41+4,4] (32 TiB), more than a plan's 16 TiB arena.
- external_link.onnx: an initializer 'w' whose external data is at 'w.data' (not committed); the
  tests make 'w.data' a symlink out of the model's folder, which must be refused.
"""
import onnx
from onnx import TensorProto as T
from onnx import helper as h


def save(name, nodes, inputs, outputs, inits=()):
    graph = h.make_graph(nodes, name, inputs, outputs, list(inits))
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)], producer_name="make_errors.py")
    model.ir_version = 8
    onnx.save(model, f"{name}.onnx")


def f32(name, dims):
    return h.make_tensor_value_info(name, T.FLOAT, dims)


save("duplicate_outputs", [h.make_node("Relu", ["x"], ["y"], name="relu")], [f32("x", [2, 3])],
     [f32("y", [2, 3]), f32("y", [2, 3])])

ones = h.make_tensor("one", T.INT64, [1], [1])
save("huge_rank",
     [h.make_node("ConstantOfShape", ["rank"], ["shape"], name="ones", value=ones),
      h.make_node("Reshape", ["x", "shape"], ["y"], name="reshape")],
     [f32("x", [1])], [f32("y", None)], [h.make_tensor("rank", T.INT64, [1], [100_002])])

pad = 2**40
save("huge_pads",
     [h.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[1, 1], pads=[pad, 0, pad, 0])],
     [f32("x", [1, 1, 4, 4])], [f32("y", None)], [h.make_tensor("w", T.FLOAT, [1, 1, 1, 1], [1.0])])

# Issue 19 row 4: Add of x and an external-data initializer 'w' (f32[2]) at location 'w.data'.
# The file is not committed: tests put a symlink of that name next to a copy of the model.
w = h.make_tensor("w", T.FLOAT, [2], [0.0, 0.0])
w.ClearField("float_data")
w.data_location = T.EXTERNAL
for key, value in [("location", "w.data"), ("offset", "0"), ("length", "8")]:
    w.external_data.add(key=key, value=value)
save("external_link", [h.make_node("Add", ["x", "w"], ["y"], name="add")], [f32("x", [2])],
     [f32("y", [2])], [w])

# Issue 19 row 9: x f32[1,64] expanded to 'big' f32[2^34,64] (4 TiB, more than any test machine
# has), then MatMul 'proj' by a 64x8 constant: `compile --int8 --report` must refuse to measure
# the layer's error (which runs the f32 graph with 'big' exposed) naming 'big' and its bytes.
w = h.make_tensor("w", T.FLOAT, [64, 8], [0.01 * (i % 7) for i in range(64 * 8)])
shape = h.make_tensor("shape", T.INT64, [2], [2**34, 64])
save("huge_activation",
     [h.make_node("Expand", ["x", "shape"], ["big"], name="expand"),
      h.make_node("MatMul", ["big", "w"], ["y"], name="proj")],
     [f32("x", [1, 64])], [f32("y", [2**34, 8])], [w, shape])
