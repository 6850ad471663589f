#!/usr/bin/env python3
"""Run one Python engine (onnxruntime FP32, onnxruntime INT8, PyTorch eager) on one model and batch.

compare.py starts this in a fresh subprocess per (model, batch, engine) so that peak RSS belongs to that
engine alone. It prints one JSON object with the same fields as `infc run --bench --json`
(p50_ms, p99_ms, mean_ms, throughput_per_s, peak_rss_bytes, load_ms, iters, warmup, threads) plus
"engine" and "batch".

    worker.py ort    MODEL.onnx --input NAME=FILE.npy... --threads T --warmup W --iters N [--budget S]
    worker.py torch  MODEL_DIR  --input NAME=FILE.npy... --threads T --warmup W --iters N [--budget S]
    worker.py quantize SRC.onnx DST.onnx     (onnxruntime quantize_dynamic, QInt8 weights)

For `ort`, MODEL.onnx may be the FP32 export or the cached quantize_dynamic INT8 file. For `torch`,
MODEL_DIR is a models/full/<name>/ directory: the model is rebuilt from models/export.py's builders with
the same seed (identical weights to the ONNX export), in eval mode.

With --budget S, the warmup and timed counts are cut to what fits in S seconds (bench/budget.py), estimated
from the first warmup iteration; "warmup" and "iters" in the JSON are the counts actually run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import budget  # noqa: E402  (bench/budget.py)


def nearest_rank(sorted_ms: list[float], p: float) -> float:
    """Smallest sample with at least p % of samples <= it (same definition as infc and infc-tract-bench)."""
    rank = math.ceil(p / 100.0 * len(sorted_ms))
    return sorted_ms[min(max(rank, 1), len(sorted_ms)) - 1]


def summarise(latencies_ms: list[float], batch: int) -> dict:
    ms = sorted(latencies_ms)
    mean = sum(ms) / len(ms)
    return {"p50_ms": nearest_rank(ms, 50), "p99_ms": nearest_rank(ms, 99), "mean_ms": mean,
            "throughput_per_s": batch * 1e3 / mean if mean > 0 else float("inf")}


def peak_rss_bytes() -> int | None:
    """VmHWM of this process (falls back to getrusage on systems without /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    except (ImportError, OSError):
        return None


class Loop:
    """Requested iteration counts and budget; after `time(run)`, the counts actually run and the estimate."""

    def __init__(self, warmup: int, iters: int, budget_s: float | None):
        self.warmup, self.iters, self.budget_s = warmup, iters, budget_s
        self.first_ms: float | None = None

    def time(self, run) -> list[float]:
        latencies, self.warmup, first_s = budget.budget_loop(run, self.warmup, self.iters, self.budget_s,
                                                             time.perf_counter)
        self.iters = len(latencies)
        self.first_ms = None if first_s is None else first_s * 1e3
        return latencies


def bench_ort(model: Path, inputs: dict, threads: int, loop: Loop) -> tuple[float, list[float]]:
    import onnxruntime as ort

    t0 = time.perf_counter()
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    load_ms = (time.perf_counter() - t0) * 1e3
    names = {i.name for i in sess.get_inputs()}
    if names != set(inputs):
        raise SystemExit(f"{model}: model inputs {sorted(names)} but given {sorted(inputs)}")
    return load_ms, loop.time(lambda: sess.run(None, inputs))


def bench_torch(model_dir: Path, inputs: dict, threads: int, loop: Loop) -> tuple[float, list[float]]:
    import torch

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    sys.path.insert(0, str(REPO / "models"))
    import export  # models/export.py: the builders that produced the ONNX files

    meta = json.loads((model_dir / "meta.json").read_text())
    exporter = meta["exporter"]
    specs = {s.name: s for s in export.full_specs(exporter, meta["opset"])}
    if model_dir.name not in specs:
        raise SystemExit(f"{model_dir.name}: not one of models/export.py's --full exports {sorted(specs)}")
    t0 = time.perf_counter()
    model = specs[model_dir.name].build().eval()
    load_ms = (time.perf_counter() - t0) * 1e3
    order = [i["name"] for i in meta["inputs"]]
    if set(order) != set(inputs):
        raise SystemExit(f"{model_dir}: model inputs {order} but given {sorted(inputs)}")
    args = tuple(torch.from_numpy(inputs[n]) for n in order)

    def run():
        with torch.inference_mode():
            model(*args)

    return load_ms, loop.time(run)


def quantize(src: Path, dst: Path) -> int:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().setLevel(logging.ERROR)  # silences the "consider pre-processing" advice
    external = any(src.parent.glob("*.onnx.data"))
    tmp = dst.with_suffix(".partial.onnx")
    quantize_dynamic(str(src), str(tmp), weight_type=QuantType.QInt8, use_external_data_format=external)
    tmp.replace(dst)
    if external:
        print("note: external data written next to", dst)
    return 0


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "quantize":
        return quantize(Path(sys.argv[2]), Path(sys.argv[3]))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("engine", choices=["ort", "torch"])
    parser.add_argument("model", type=Path)
    parser.add_argument("--input", action="append", default=[], metavar="NAME=FILE.npy")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--iters", type=int, default=100)
    parser.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                        help="run only the warmup and timed iterations that fit (see bench/budget.py)")
    args = parser.parse_args()
    if args.iters < 1 or args.warmup < 0:
        parser.error("--iters must be at least 1 and --warmup at least 0")
    if args.budget is not None and not args.budget > 0:
        parser.error(f"--budget {args.budget}: expected a positive number of seconds")

    import numpy as np

    inputs = {}
    for spec in args.input:
        name, sep, file = spec.partition("=")
        if not sep or not name or not file:
            parser.error(f"--input {spec!r}: expected NAME=FILE.npy")
        inputs[name] = np.load(file)
    batch = int(next(iter(inputs.values())).shape[0]) if inputs else 1

    bench = bench_ort if args.engine == "ort" else bench_torch
    loop = Loop(args.warmup, args.iters, args.budget)
    load_ms, latencies = bench(args.model, inputs, args.threads, loop)
    result = {"engine": args.engine, **summarise(latencies, batch), "peak_rss_bytes": peak_rss_bytes(),
              "load_ms": load_ms, "iters": loop.iters, "warmup": loop.warmup, "threads": args.threads,
              "batch": batch, "budget_s": args.budget, "first_iter_ms": loop.first_ms}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
