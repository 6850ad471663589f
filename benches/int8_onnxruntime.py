#!/usr/bin/env python3
"""onnxruntime side of the INT8 comparison (issue 5): FP32 and `quantize_dynamic` INT8 latency of
a model (bs1, the fixture's saved inputs), plus cosine similarity of the INT8 output vs FP32.

    python3 benches/int8_onnxruntime.py models/full/gpt2_ts17 [--iters 30] [--threads 2]

The quantized model is cached next to the input as /tmp/<dir>_qdynamic.onnx. Prints one JSON line.
"""
import argparse, json, os, time
import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import quantize_dynamic, QuantType


def bench(path, feeds, iters, threads):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    for _ in range(3):
        out = s.run(None, feeds)
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        s.run(None, feeds)
        times.append((time.perf_counter() - t) * 1e3)
    return float(np.median(times)), out[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    meta = json.load(open(os.path.join(a.dir, "meta.json")))
    feeds = {i["name"]: np.load(os.path.join(a.dir, i["file"])) for i in meta["inputs"]}
    model = os.path.join(a.dir, "model.onnx")
    qpath = "/tmp/%s_qdynamic.onnx" % os.path.basename(os.path.normpath(a.dir))
    if not os.path.exists(qpath):
        quantize_dynamic(model, qpath, weight_type=QuantType.QInt8)
    fp32_ms, y = bench(model, feeds, a.iters, a.threads)
    int8_ms, yq = bench(qpath, feeds, a.iters, a.threads)
    cos = float(np.dot(y.ravel(), yq.ravel()) / (np.linalg.norm(y) * np.linalg.norm(yq)))
    print(json.dumps({"model": a.dir, "ort_fp32_ms": round(fp32_ms, 2),
                      "ort_int8_ms": round(int8_ms, 2), "ort_int8_cosine_vs_fp32": round(cos, 5)}))


if __name__ == "__main__":
    main()
