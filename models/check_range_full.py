"""Range plans of the full-size exports against onnxruntime, each plan compiled once and run at two
or more shapes: DistilBERT and GPT-2 (batch 1..8 x sequence 1..512, padded rows: one left-padded,
one fully padded) at (1, 37) and (3, 100); ResNet50 (batch 1..8) at batch 2 and 5; and the plans
compiled with no --shape at all, whose batch is a run-time dim, beyond their stored batch of 8
(ResNet50 at 11, DistilBERT at 12 x 100: batch a run-time dim, sequence 1..=512 by default). Max |diff| within 1e-4 + 1e-3 * max|ref|.

    python3 models/check_range_full.py PLAN_DIR [path/to/infc]
PLAN_DIR: where the range plans are (bench/range_plans.sh writes <model>.range.plan) and the
default plans are written."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIR = sys.argv[1]
INFC = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "target/release/infc")
W = tempfile.mkdtemp(prefix="infc_range_")
rng = np.random.default_rng(0)
bad = 0


def run_infc(plan, feeds):
    args = [INFC, "run", plan, "--output-dir", W]
    for k, v in feeds.items():
        p = os.path.join(W, f"in_{k}.npy")
        np.save(p, v)
        args += ["--input", f"{k}={p}"]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{plan}: {r.stderr}")
    return r


def check(what, plan, model, feeds):
    global bad
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    want = sess.run(None, feeds)
    run_infc(plan, feeds)
    for o, w in zip(sess.get_outputs(), want):
        got = np.load(os.path.join(W, "".join(c if c.isalnum() else "_" for c in o.name) + ".npy"))
        err = float(np.abs(got - w).max()) if got.shape == w.shape else float("inf")
        tol = 1e-4 + 1e-3 * float(np.abs(w).max())
        ok = err <= tol and not np.isnan(got).any()
        bad += not ok
        print(f"{what}: {o.name} {list(got.shape)} max|diff| {err:.3g} (tol {tol:.3g}) {'ok' if ok else 'MISMATCH'}")


def text_feeds(b, s, vocab):
    ids = rng.integers(0, vocab, (b, s)).astype(np.int64)
    m = np.ones((b, s), dtype=np.int64)
    if b > 1:
        m[1, : s // 3] = 0  # left padding
    if b > 2:
        m[2, :] = 0  # a fully padded row
    return {"input_ids": ids, "attention_mask": m}


for name, vocab in [("distilbert_ts17", 30000), ("gpt2_ts17", 50000)]:
    model = os.path.join(ROOT, "models/full", name, "model.onnx")
    for b, s in [(1, 37), (3, 100)]:
        check(f"{name} range at ({b},{s})", os.path.join(DIR, f"{name}.range.plan"), model, text_feeds(b, s, vocab))
resnet = os.path.join(ROOT, "models/full/resnet50_ts17/model.onnx")
for b in [2, 5]:
    x = rng.standard_normal((b, 3, 224, 224)).astype(np.float32)
    check(f"resnet50 range at batch {b}", os.path.join(DIR, "resnet50.range.plan"), resnet, {"pixel_values": x})

# No --shape: batch is a run-time dim.
for name, model, feeds in [
    ("resnet50", resnet, {"pixel_values": rng.standard_normal((11, 3, 224, 224)).astype(np.float32)}),
    ("distilbert_ts17", os.path.join(ROOT, "models/full/distilbert_ts17/model.onnx"), text_feeds(12, 100, 30000)),
]:
    plan = os.path.join(DIR, f"{name}.default.plan")
    r = subprocess.run([INFC, "compile", model, "-O3", "-o", plan], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(r.stderr)
    print("".join(l + "\n" for l in r.stderr.splitlines() if l.startswith("range: batch")), end="")
    shape = "x".join(map(str, next(iter(feeds.values())).shape))
    check(f"{name} default plan at {shape}", plan, model, feeds)
print("all match" if bad == 0 else f"{bad} MISMATCH(ES)")
sys.exit(1 if bad else 0)
