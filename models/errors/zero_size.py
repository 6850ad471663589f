#!/usr/bin/env python3
"""Writes zero_size.onnx: valid ONNX nodes on zero-size tensors (issue 19, row 12), one small
sub-graph per case, each case's tensors prefixed with its name (`matmul_k0_x` -> `matmul_k0_y`).
MatMul / Gemm with k = 0 (zeros, or the bias), Conv with c_in = 0 (the bias) or batch 0, reductions
over an empty axis (their identities: Sum 0, Prod 1, Max -inf, Min +inf; Mean NaN), empty
elementwise, softmax, norm, pooling and movement ops. Run with the `onnx` package:
    python3 models/errors/zero_size.py models/errors/zero_size.onnx
The expected values are the reference interpreter's (crates/infc-conformance/tests/zero_size.rs);
onnxruntime 1.31 agrees except where it refuses (Conv c_in = 0 hangs or fails, pooling with zero
channels or an empty spatial dim, LayerNorm over an empty axis) and for ReduceMean of nothing (0).
"""
import sys
import numpy as np
import onnx
from onnx import helper as h, TensorProto as T, numpy_helper as nh

F = T.FLOAT


def const(name, arr):
    return nh.from_array(np.asarray(arr), name)


cases = {}
def case(f): cases[f.__name__]=f; return f
r = np.random.RandomState(0)
@case
def matmul_k0(): return [h.make_node("MatMul",["x","w"],["y"])],[("x",F,[2,0])],[const("w",np.zeros((0,3),np.float32))],[("y",F,[2,3])]
@case
def matmul_k0_input(): return [h.make_node("MatMul",["x","b"],["y"])],[("x",F,[2,0]),("b",F,[0,3])],[],[("y",F,[2,3])]
@case
def gemm_k0_bias(): return [h.make_node("Gemm",["x","w","c"],["y"])],[("x",F,[2,0])],[const("w",np.zeros((0,3),np.float32)),const("c",np.array([1,2,3],np.float32))],[("y",F,[2,3])]
@case
def matmul_m0(): return [h.make_node("MatMul",["x","w"],["y"])],[("x",F,[0,4])],[const("w",r.randn(4,3).astype(np.float32))],[("y",F,[0,3])]
@case
def matmul_n0(): return [h.make_node("MatMul",["x","w"],["y"])],[("x",F,[2,4])],[const("w",np.zeros((4,0),np.float32))],[("y",F,[2,0])]
@case
def matmul_batch0(): return [h.make_node("MatMul",["x","b"],["y"])],[("x",F,[0,2,4]),("b",F,[0,4,3])],[],[("y",F,[0,2,3])]
@case
def conv_cin0(): return [h.make_node("Conv",["x","w","b"],["y"],kernel_shape=[3,3],pads=[1,1,1,1])],[("x",F,[1,0,5,5])],[const("w",np.zeros((4,0,3,3),np.float32)),const("b",np.array([1,2,3,4],np.float32))],[("y",F,[1,4,5,5])]
@case
def conv_batch0(): return [h.make_node("Conv",["x","w"],["y"],kernel_shape=[3,3])],[("x",F,[0,2,5,5])],[const("w",r.randn(4,2,3,3).astype(np.float32))],[("y",F,[0,4,3,3])]
@case
def conv_cout0(): return [h.make_node("Conv",["x","w"],["y"],kernel_shape=[1,1])],[("x",F,[1,2,5,5])],[const("w",np.zeros((0,2,1,1),np.float32))],[("y",F,[1,0,5,5])]
@case
def relu_empty(): return [h.make_node("Relu",["x"],["y"])],[("x",F,[0,3])],[],[("y",F,[0,3])]
@case
def add_bcast_empty(): return [h.make_node("Add",["x","b"],["y"])],[("x",F,[0,3]),("b",F,[1,3])],[],[("y",F,[0,3])]
@case
def sigmoid_empty(): return [h.make_node("Sigmoid",["x"],["y"])],[("x",F,[4,0])],[],[("y",F,[4,0])]
for op in ["ReduceSum","ReduceMax","ReduceMin","ReduceProd","ReduceMean"]:
    def mk(op=op):
        ax=const("axes",np.array([1],np.int64))
        return [h.make_node(op,["x","axes"],["y"],keepdims=0)],[("x",F,[3,0])],[ax],[("y",F,[3])]
    mk.__name__=op.lower()+"_empty_axis"; cases[mk.__name__]=mk
    def mk2(op=op):
        ax=const("axes",np.array([1],np.int64))
        return [h.make_node(op,["x","axes"],["y"],keepdims=1)],[("x",F,[0,4])],[ax],[("y",F,[0,1])]
    mk2.__name__=op.lower()+"_empty_rows"; cases[mk2.__name__]=mk2
@case
def reducesum_all_empty(): return [h.make_node("ReduceSum",["x"],["y"],keepdims=0)],[("x",F,[2,0,3])],[],[("y",F,[])]
@case
def softmax_rows0(): return [h.make_node("Softmax",["x"],["y"],axis=-1)],[("x",F,[0,5])],[],[("y",F,[0,5])]
@case
def softmax_axis0(): return [h.make_node("Softmax",["x"],["y"],axis=-1)],[("x",F,[3,0])],[],[("y",F,[3,0])]
@case
def layernorm_rows0(): return [h.make_node("LayerNormalization",["x","s","b"],["y"],axis=-1)],[("x",F,[0,4])],[const("s",np.ones(4,np.float32)),const("b",np.zeros(4,np.float32))],[("y",F,[0,4])]
@case
def layernorm_cols0(): return [h.make_node("LayerNormalization",["x","s","b"],["y"],axis=-1)],[("x",F,[3,0])],[const("s",np.ones(0,np.float32)),const("b",np.zeros(0,np.float32))],[("y",F,[3,0])]
@case
def maxpool_batch0(): return [h.make_node("MaxPool",["x"],["y"],kernel_shape=[2,2])],[("x",F,[0,3,4,4])],[],[("y",F,[0,3,3,3])]
@case
def maxpool_c0(): return [h.make_node("MaxPool",["x"],["y"],kernel_shape=[2,2])],[("x",F,[1,0,4,4])],[],[("y",F,[1,0,3,3])]
@case
def gap_c0(): return [h.make_node("GlobalAveragePool",["x"],["y"])],[("x",F,[1,0,4,4])],[],[("y",F,[1,0,1,1])]
@case
def gap_hw0(): return [h.make_node("GlobalAveragePool",["x"],["y"])],[("x",F,[1,3,0,4])],[],[("y",F,[1,3,1,1])]
@case
def batchnorm_batch0(): return [h.make_node("BatchNormalization",["x","s","b","m","v"],["y"])],[("x",F,[0,2,3,3])],[const("s",np.ones(2,np.float32)),const("b",np.zeros(2,np.float32)),const("m",np.zeros(2,np.float32)),const("v",np.ones(2,np.float32))],[("y",F,[0,2,3,3])]
@case
def transpose_empty(): return [h.make_node("Transpose",["x"],["y"],perm=[1,0])],[("x",F,[0,3])],[],[("y",F,[3,0])]
@case
def concat_empty(): return [h.make_node("Concat",["x","z"],["y"],axis=0)],[("x",F,[0,3]),("z",F,[2,3])],[],[("y",F,[2,3])]
@case
def gather_0idx(): return [h.make_node("Gather",["x","i"],["y"],axis=0)],[("x",F,[4,3])],[const("i",np.zeros(0,np.int64))],[("y",F,[0,3])]
@case
def gather_data0(): return [h.make_node("Gather",["x","i"],["y"],axis=1)],[("x",F,[0,3])],[const("i",np.array([2,0],np.int64))],[("y",F,[0,2])]
@case
def slice_empty(): return [h.make_node("Slice",["x","s","e"],["y"])],[("x",F,[4,3])],[const("s",np.array([2],np.int64)),const("e",np.array([2],np.int64))],[("y",F,[0,3])]
@case
def where_empty(): return [h.make_node("Where",["c","a","b"],["y"])],[("c",T.BOOL,[0,3]),("a",F,[0,3]),("b",F,[1,3])],[],[("y",F,[0,3])]
@case
def cast_empty(): return [h.make_node("Cast",["x"],["y"],to=T.INT64)],[("x",F,[0,3])],[],[("y",T.INT64,[0,3])]
@case
def clip_empty(): return [h.make_node("Clip",["x","lo","hi"],["y"])],[("x",F,[0,3])],[const("lo",np.array(0,np.float32)),const("hi",np.array(1,np.float32))],[("y",F,[0,3])]
@case
def trilu_empty(): return [h.make_node("Trilu",["x"],["y"])],[("x",F,[0,3,3])],[],[("y",F,[0,3,3])]
@case
def trilu_cols0(): return [h.make_node("Trilu",["x"],["y"])],[("x",F,[2,3,0])],[],[("y",F,[2,3,0])]
@case
def expand_empty(): return [h.make_node("Expand",["x","s"],["y"])],[("x",F,[1,3])],[const("s",np.array([0,3],np.int64))],[("y",F,[0,3])]
@case
def gathernd_empty(): return [h.make_node("GatherND",["x","i"],["y"])],[("x",F,[4,3]),("i",T.INT64,[0,1])],[],[("y",F,[0,3])]
@case
def split_zero_part(): return [h.make_node("Split",["x","s"],["y","z"],axis=1)],[("x",F,[2,3])],[const("s",np.array([0,3],np.int64))],[("y",F,[2,0]),("z",F,[2,3])]
@case
def range_empty(): return [h.make_node("Range",["a","b","d"],["y"])],[],[const("a",np.array(2.0,np.float32)),const("b",np.array(2.0,np.float32)),const("d",np.array(1.0,np.float32))],[("y",F,[0])]
@case
def pow_empty(): return [h.make_node("Pow",["x","p"],["y"])],[("x",F,[0,3])],[const("p",np.array(3.0,np.float32))],[("y",F,[0,3])]
@case
def erf_empty(): return [h.make_node("Erf",["x"],["y"])],[("x",F,[0])],[],[("y",F,[0])]
@case
def reshape_empty(): return [h.make_node("Reshape",["x","s"],["y"])],[("x",F,[0,6])],[const("s",np.array([0,2,3],np.int64))],[("y",F,[0,2,3])]



def combined():
    nodes, inputs, inits, outputs = [], [], [], []
    for name, f in cases.items():
        ns, ins, cs, outs = f()
        p = lambda t: f"{name}_{t}" if t else t
        for n in ns:
            nodes.append(h.make_node(n.op_type, [p(i) for i in n.input], [p(o) for o in n.output],
                                     name=name, **{a.name: h.get_attribute_value(a) for a in n.attribute}))
        inputs += [h.make_tensor_value_info(p(n), t, s) for n, t, s in ins]
        for c in cs:
            c.name = p(c.name)
            inits.append(c)
        outputs += [h.make_tensor_value_info(p(n), t, s) for n, t, s in outs]
    g = h.make_graph(nodes, "zero_size", inputs, outputs, initializer=inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 18)], ir_version=8)
    m.producer_name = "models/errors/zero_size.py"
    onnx.checker.check_model(m, full_check=True)
    return m


if __name__ == "__main__":
    onnx.save(combined(), sys.argv[1])
