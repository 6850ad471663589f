"""Sequence-length sweep: one range plan (batch 1..8 x sequence 1..512) at each length, against
onnxruntime on the same export at that length and against the static plan for sequence 512 that a
service would otherwise pad every request to. Alternating rounds in one run; medians of the
rounds' p50s (infc from `infc run --bench`, onnxruntime from its Python run).

Usage: python bench/seq_sweep.py DIR MODEL.onnx target/release/infc TAG [ROUNDS]
(DIR holds TAG.range.plan and TAG.1x512.plan from bench/range_plans.sh)."""
import re, statistics, subprocess, sys, time
import numpy as np
import onnxruntime as ort

DIR, MODEL, INFC, TAG = sys.argv[1:5]
ROUNDS = int(sys.argv[5]) if len(sys.argv) > 5 else 3
LENGTHS = [1, 8, 32, 64, 128, 256, 512]
rng = np.random.default_rng(0)
so = ort.SessionOptions()
so.intra_op_num_threads = 2
sess = ort.InferenceSession(MODEL, so, providers=["CPUExecutionProvider"])


def infc_p50(plan, s, iters):
    ids, mask = f"{DIR}/in/ids_1x{s}.npy", f"{DIR}/in/mask_1x{s}.npy"
    r = subprocess.run([INFC, "run", plan, "--input", f"input_ids={ids}", "--input", f"attention_mask={mask}",
                        "--bench", "--warmup", "3", "--iters", str(iters)], capture_output=True, text=True)
    m = re.search(r"p50 ([0-9.]+) ms", r.stdout + r.stderr)
    if not m:
        raise SystemExit(f"{plan}: {r.stdout}{r.stderr}")
    return float(m.group(1))


def ort_p50(s, iters):
    feed = {"input_ids": np.load(f"{DIR}/in/ids_1x{s}.npy"), "attention_mask": np.load(f"{DIR}/in/mask_1x{s}.npy")}
    for _ in range(3):
        sess.run(None, feed)
    ts = []
    for _ in range(iters):
        t = time.perf_counter()
        sess.run(None, feed)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1e3


import os
os.makedirs(f"{DIR}/in", exist_ok=True)
for s in LENGTHS:
    np.save(f"{DIR}/in/ids_1x{s}.npy", rng.integers(0, 30000, size=(1, s), dtype=np.int64))
    np.save(f"{DIR}/in/mask_1x{s}.npy", np.ones((1, s), dtype=np.int64))

pad = []
for _ in range(ROUNDS):
    pad.append(infc_p50(f"{DIR}/{TAG}.1x512.plan", 512, 10))
pad512 = statistics.median(pad)
print(f"{TAG}: static plan padded to 512: {pad512:.3f} ms")
print(f"{'seq':>5s} {'range ms':>10s} {'ort ms':>10s} {'range/ort':>10s} {'range/pad512':>13s}")
for s in LENGTHS:
    iters = 20 if s <= 128 else 8
    r, o = [], []
    for _ in range(ROUNDS):
        r.append(infc_p50(f"{DIR}/{TAG}.range.plan", s, iters))
        o.append(ort_p50(s, iters))
    r, o = statistics.median(r), statistics.median(o)
    print(f"{s:5d} {r:10.3f} {o:10.3f} {r / o:10.3f} {r / pad512:13.3f}", flush=True)
