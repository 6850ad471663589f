"""Short sequences, infc against onnxruntime: static plans of DistilBERT / GPT-2 FP32 at batch 1 and
a few sequence lengths, in alternating rounds (infc `run --bench` p50, then onnxruntime's median
over the same number of runs in this process, 2 intra-op threads); medians of the rounds.

Usage: python bench/short_seq_vs_ort.py PLAN_DIR INFC [ROUNDS] [INFC_B]
PLAN_DIR holds <model>.1x<seq>.plan for model in distilbert_ts17, gpt2_ts17 (compile with
`infc compile models/full/<model>/model.onnx -O3 --shape batch=1 --shape sequence=<seq>`);
INFC_B, if given, is a second infc binary timed in the same rounds (before/after a change)."""
import os, re, statistics, subprocess, sys, time
import numpy as np
import onnxruntime as ort

DIR, INFC = sys.argv[1], sys.argv[2]
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 5
INFC_B = sys.argv[4] if len(sys.argv) > 4 else None
SEQS = [1, 8, 32]


def infc_p50(binary, plan, ids, mask, iters):
    r = subprocess.run([binary, "run", plan, "--input", f"input_ids={ids}", "--input",
                        f"attention_mask={mask}", "--bench", "--warmup", "10", "--iters", str(iters)],
                       capture_output=True, text=True)
    m = re.search(r"p50 ([0-9.]+) ms", r.stdout + r.stderr)
    if not m:
        raise SystemExit(f"{plan}: {r.stdout}{r.stderr}")
    return float(m.group(1))


print(f"{'model':18s} {'seq':>4s} {'infc ms':>9s} {'ort ms':>9s} {'infc/ort':>9s}" + (f" {'B ms':>9s} {'B/ort':>7s}" if INFC_B else ""))
for model in ["distilbert_ts17", "gpt2_ts17"]:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(f"models/full/{model}/model.onnx", opts, providers=["CPUExecutionProvider"])
    for seq in SEQS:
        plan = f"{DIR}/{model}.1x{seq}.plan"
        ids_a = np.random.default_rng(seq).integers(0, 30000, size=(1, seq), dtype=np.int64)
        mask_a = np.ones((1, seq), dtype=np.int64)
        ids, mask = f"{DIR}/ids_{seq}.npy", f"{DIR}/mask_{seq}.npy"
        np.save(ids, ids_a)
        np.save(mask, mask_a)
        feed = {"input_ids": ids_a, "attention_mask": mask_a}
        iters = 100
        rows = {"infc": [], "ort": [], "b": []}
        for _ in range(ROUNDS):
            rows["infc"].append(infc_p50(INFC, plan, ids, mask, iters))
            for _ in range(10):
                sess.run(None, feed)
            ts = []
            for _ in range(iters):
                t = time.perf_counter()
                sess.run(None, feed)
                ts.append((time.perf_counter() - t) * 1e3)
            rows["ort"].append(statistics.median(ts))
            if INFC_B:
                rows["b"].append(infc_p50(INFC_B, plan, ids, mask, iters))
        i, o = statistics.median(rows["infc"]), statistics.median(rows["ort"])
        line = f"{model:18s} {seq:4d} {i:9.3f} {o:9.3f} {i / o:9.3f}"
        if INFC_B:
            b = statistics.median(rows["b"])
            line += f" {b:9.3f} {b / o:7.3f}"
        print(line, flush=True)
