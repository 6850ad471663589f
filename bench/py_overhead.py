"""Python overhead: infc's Python Session.run vs `infc run --bench` on the same plan, and
onnxruntime's Python run on its own dynamic-INT8 model, in alternating rounds; medians.

Usage (a venv with the infc package, onnxruntime and numpy; a DistilBERT plan of batch 1,
sequence 128 and an onnxruntime quantize_dynamic model of the same export):
    python bench/py_overhead.py PLAN ORT_MODEL.onnx target/release/infc
Writes its inputs to /tmp/bench/{ids,mask}.npy."""
import os
os.makedirs("/tmp/bench", exist_ok=True)
import json, re, subprocess, statistics, sys, time
import numpy as np
import onnxruntime as ort
import infc

PLAN, ORT_MODEL, INFC = sys.argv[1], sys.argv[2], sys.argv[3]
ROUNDS, ITERS = 9, 100
rng = np.random.default_rng(0)
ids = rng.integers(0, 30000, size=(1, 128), dtype=np.int64)
mask = np.ones((1, 128), dtype=np.int64)
np.save('/tmp/bench/ids.npy', ids); np.save('/tmp/bench/mask.npy', mask)
feed = {"input_ids": ids, "attention_mask": mask}
s = infc.Session(PLAN)
so = ort.SessionOptions(); so.intra_op_num_threads = 2
o = ort.InferenceSession(ORT_MODEL, so, providers=["CPUExecutionProvider"])

def py_median(run):
    for _ in range(20): run()
    ts = []
    for _ in range(ITERS):
        t = time.perf_counter(); run(); ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1e3

def cli_median():
    r = subprocess.run([INFC, "run", PLAN, "--input", "input_ids=/tmp/bench/ids.npy", "--input",
                        "attention_mask=/tmp/bench/mask.npy", "--bench", "--warmup", "20", "--iters", str(ITERS)],
                       capture_output=True, text=True, check=True)
    m = re.search(r"p50 ([0-9.]+) ms", r.stdout + r.stderr)
    if not m:
        raise SystemExit("no median in: " + r.stdout + r.stderr)
    return float(m.group(1))

rows = {"infc run --bench": [], "infc Python s.run": [], "onnxruntime Python run (INT8)": []}
for _ in range(ROUNDS):
    rows["infc run --bench"].append(cli_median())
    rows["infc Python s.run"].append(py_median(lambda: s.run(None, feed)))
    rows["onnxruntime Python run (INT8)"].append(py_median(lambda: o.run(None, feed)))
for k, v in rows.items():
    print(f"{k:32s} median of round medians {statistics.median(v):.3f} ms  rounds {[round(x, 3) for x in v]}")
cli = statistics.median(rows["infc run --bench"]); py = statistics.median(rows["infc Python s.run"])
print(f"Python overhead: {py - cli:+.3f} ms ({(py / cli - 1) * 100:+.1f} %)")
