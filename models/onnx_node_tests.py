"""Writes the ONNX project's own node tests for the ops infc added for neighbouring model families
into models/node_tests/<test>/ (model.onnx, input_<i>.npy, output_<i>.npy, meta.json), for
crates/infc-conformance/tests/onnx_node_tests.rs.

The onnx wheel does not ship the test data directory, so the cases are generated from the onnx
package's own case definitions (onnx.backend.test.case.node). Scalar integer inputs (CumSum's axis)
become initializers: infc needs them constant to lower the op (the reference interpreter would take
them at run time too). infc has no f64: double cases (CumSum's) are written as f32, whose values
(small integers) are exact in both.

Usage: python models/onnx_node_tests.py   (needs: onnx, numpy)
"""
import json
import pathlib
import shutil

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.backend.test.case import node

PATTERNS = ("test_cumsum_", "test_gather_elements_", "test_instancenorm_")
EXACT = {"test_sin", "test_sin_example", "test_cos", "test_cos_example"}
OUT = pathlib.Path(__file__).resolve().parent / "node_tests"


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    cases = [c for c in node.collect_testcases(None) if c.name.startswith(PATTERNS) or c.name in EXACT]
    for c in sorted(cases, key=lambda c: c.name):
        model = onnx.ModelProto()
        model.CopyFrom(c.model)
        inputs, outputs = c.data_sets[0]
        g = model.graph
        kept_inputs, frozen = [], []
        for vi, arr in zip(list(g.input), inputs):
            arr = np.asarray(arr)
            if arr.ndim == 0 and arr.dtype.kind == "i":
                g.initializer.append(numpy_helper.from_array(arr, vi.name))
                frozen.append(vi.name)
            else:
                kept_inputs.append((vi, arr))
        del g.input[:]
        g.input.extend([vi for vi, _ in kept_inputs])
        for vi in list(g.input) + list(g.output):
            if vi.type.tensor_type.elem_type == onnx.TensorProto.DOUBLE:
                vi.type.tensor_type.elem_type = onnx.TensorProto.FLOAT
        # C order: some cases compute Fortran-ordered outputs, which npy readers may not expect.
        as32 = lambda a: np.ascontiguousarray(a.astype(np.float32) if a.dtype == np.float64 else a)
        kept_inputs = [(vi, as32(a)) for vi, a in kept_inputs]
        outputs = [as32(np.asarray(a)) for a in outputs]
        onnx.checker.check_model(model)
        d = OUT / c.name
        d.mkdir(parents=True)
        onnx.save(model, d / "model.onnx")
        meta = {"inputs": [], "outputs": [], "frozen_inputs": frozen}
        for i, (vi, arr) in enumerate(kept_inputs):
            np.save(d / f"input_{i}.npy", arr)
            meta["inputs"].append({"name": vi.name, "file": f"input_{i}.npy"})
        for i, (vi, arr) in enumerate(zip(g.output, outputs)):
            np.save(d / f"output_{i}.npy", np.asarray(arr))
            meta["outputs"].append({"name": vi.name, "file": f"output_{i}.npy"})
        (d / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
        print(c.name, [a.shape for _, a in kept_inputs], "frozen", frozen)


if __name__ == "__main__":
    main()
