"""Range plans vs static plans: a plan compiled once for batch 1..8 x sequence 1..512 (ResNet50:
batch 1..8) against a plan compiled for exactly the shape it runs at, with an A/A control (the
static plan run twice per round), in alternating rounds; medians of the rounds' p50s.

Usage (plans from bench/range_plans.sh in DIR, numpy in the venv):
    python bench/range_vs_static.py DIR target/release/infc [ROUNDS] [CASE-REGEX]
Prints one row per (model, precision, shape): range / static, shared-arena range / static (when
DIR holds the .shared plans) and static-B / static-A ratios."""
import os, re, statistics, subprocess, sys
import numpy as np

DIR, INFC = sys.argv[1], sys.argv[2]
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 5
PICK = re.compile(sys.argv[4] if len(sys.argv) > 4 else ".")
rng = np.random.default_rng(0)


def inputs(model, shape):
    """--input flags for `shape` ((batch, seq) or (batch,)), written as .npy under DIR/in."""
    os.makedirs(f"{DIR}/in", exist_ok=True)
    tag = "x".join(map(str, shape))
    if model.startswith("resnet"):
        p = f"{DIR}/in/pix_{tag}.npy"
        if not os.path.exists(p):
            np.save(p, rng.standard_normal((shape[0], 3, 224, 224), dtype=np.float32))
        return ["--input", f"pixel_values={p}"]
    ids, mask = f"{DIR}/in/ids_{tag}.npy", f"{DIR}/in/mask_{tag}.npy"
    if not os.path.exists(ids):
        np.save(ids, rng.integers(0, 30000, size=shape, dtype=np.int64))
        np.save(mask, np.ones(shape, dtype=np.int64))
    return ["--input", f"input_ids={ids}", "--input", f"attention_mask={mask}"]


def p50(plan, flags, iters):
    r = subprocess.run([INFC, "run", plan, *flags, "--bench", "--warmup", "5", "--iters", str(iters)],
                       capture_output=True, text=True)
    m = re.search(r"p50 ([0-9.]+) ms", r.stdout + r.stderr)
    if not m:
        raise SystemExit(f"{plan}: no median in: {r.stdout}{r.stderr}")
    return float(m.group(1))


CASES = []
for m in ["distilbert_ts17", "gpt2_ts17"]:
    for q in ["", "_int8"]:
        for shape in [(1, 128), (1, 16), (8, 128)]:
            CASES.append((m + q, shape, f"{DIR}/{m}{q}.{shape[0]}x{shape[1]}.plan"))
for q in ["", "_int8"]:
    for b in [1, 8]:
        CASES.append(("resnet50" + q, (b,), f"{DIR}/resnet50{q}.{b}.plan"))

print(f"{'plan':22s} {'shape':8s} {'static ms':>10s} {'range ms':>10s} {'range/static':>13s} {'shared/static':>14s} {'A/A':>6s}")
for tag, shape, static in CASES:
    if not PICK.search(f"{tag} {'x'.join(map(str, shape))}"):
        continue
    plans = {"static": static, "range": f"{DIR}/{tag}.range.plan", "shared": f"{DIR}/{tag}.shared.plan",
             "static-b": static}
    if not os.path.exists(plans["shared"]):
        del plans["shared"]
    flags = inputs(tag, shape)
    first = p50(static, flags, 3)
    iters = max(5, min(100, int(1500 / max(first, 0.1))))
    rows = {k: [] for k in plans}
    for _ in range(ROUNDS):
        for k, plan in plans.items():
            rows[k].append(p50(plan, flags, iters))
    med = {k: statistics.median(v) for k, v in rows.items()}
    s, r, b = med["static"], med["range"], med["static-b"]
    sh = f"{med['shared'] / s:14.3f}" if "shared" in med else f"{'-':>14s}"
    print(f"{tag:22s} {'x'.join(map(str, shape)):8s} {s:10.3f} {r:10.3f} {r / s:13.3f} {sh} {b / s:6.3f}", flush=True)
