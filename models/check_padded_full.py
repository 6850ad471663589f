"""Full-size exports on padded batches (left padding, fully padded rows) against onnxruntime:
infc plans at -O0..-O3 on every ISA path (max |diff| within 1e-4 + 1e-3*max|ref|, no NaN) and
--int8 -O3 (cosine >= 0.99 per batch row). Needs the full-size exports in models/full/
(models/export.py --full, plus the sdpa ones: see models/PROVENANCE.md) and a release build.

    python3 models/check_padded_full.py [path/to/infc]     # ONLY=gpt2_ts17,... to pick models
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INFC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/release/infc")
W = tempfile.mkdtemp(prefix="infc_padded_")
rng = np.random.default_rng(0)
cases = {
  "gpt2_ts17":        [("left4_b2s16", 2, 16, lambda m: m.__setitem__((1, slice(0, 4)), 0))],
  "gpt2_sdpa_ts17":   [("left4_b2s16", 2, 16, lambda m: m.__setitem__((1, slice(0, 4)), 0)),
                       ("empty_b2s17", 2, 17, lambda m: m.__setitem__((1, slice(None)), 0))],
  "distilbert_ts17":  [("empty_b2s16", 2, 16, lambda m: m.__setitem__((1, slice(None)), 0))],
  "distilbert_sdpa_ts17": [("empty_b2s16", 2, 16, lambda m: m.__setitem__((1, slice(None)), 0)),
                       ("left5_b2s33", 2, 33, lambda m: m.__setitem__((1, slice(0, 5)), 0))],
}
only = os.environ.get("ONLY")
bad = 0
for model, cs in cases.items():
    if only and model not in only.split(","): continue
    path = os.path.join(ROOT, "models/full", model, "model.onnx")
    if not os.path.exists(path):
        print(f"{model}: not exported, skipped")
        continue
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    vocab = 50000 if "gpt2" in model else 30000
    for name, b, s, pad in cs:
        ids = rng.integers(0, vocab, (b, s)).astype(np.int64)
        m = np.ones((b, s), dtype=np.int64); pad(m)
        np.save(f"{W}/ids.npy", ids); np.save(f"{W}/mask.npy", m)
        ref = sess.run(None, {"input_ids": ids, "attention_mask": m})[0]
        assert not np.isnan(ref).any()
        tol = 1e-4 + 1e-3 * np.abs(ref).max()
        for flags in (["-O0"], ["-O1"], ["-O2"], ["-O3"], ["-O3", "--int8"]):
            plan = f"{W}/p.plan"
            subprocess.run([INFC, "compile", path, "--shape", f"input_ids={b}x{s}", "--shape", f"attention_mask={b}x{s}", *flags, "-o", plan], check=True, capture_output=True)
            isas = ["portable", "avx2", "avx512"] if "--int8" not in flags else ["avx512"]
            for isa in isas:
                env = dict(os.environ, INFC_ISA=isa)
                subprocess.run([INFC, "run", plan, "--input", f"input_ids={W}/ids.npy", "--input", f"attention_mask={W}/mask.npy", "--output-dir", f"{W}/out"], check=True, capture_output=True, env=env)
                out = np.load(f"{W}/out/" + ("logits.npy" if "gpt2" in model else "last_hidden_state.npy"))
                nan = int(np.isnan(out).sum())
                if "--int8" in flags:
                    a, r = out.ravel().astype(np.float64), ref.ravel().astype(np.float64)
                    cos = float(a @ r / (np.linalg.norm(a) * np.linalg.norm(r)))
                    rows = [float((out[i].ravel() @ ref[i].ravel()) / (np.linalg.norm(out[i]) * np.linalg.norm(ref[i]))) for i in range(b)]
                    ok = nan == 0 and min(rows) >= 0.99
                    print(f"{model} {name} {' '.join(flags)} {isa}: NaN {nan}, cosine {cos:.5f}, per row {[round(x, 5) for x in rows]} {'ok' if ok else 'FAIL'}")
                else:
                    err = float(np.abs(out - ref).max())
                    ok = nan == 0 and err <= tol
                    print(f"{model} {name} {' '.join(flags)} {isa}: NaN {nan}, max|diff| {err:.3g} (tol {tol:.3g}) {'ok' if ok else 'FAIL'}")
                bad += not ok
print("failures:", bad)
sys.exit(1 if bad else 0)
