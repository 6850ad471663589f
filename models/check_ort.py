#!/usr/bin/env python3
"""Re-run onnxruntime on fixture directories and compare with the saved outputs.

A fixture directory holds `model.onnx` (optionally `model.onnx.data`), `input_<name>.npy`,
`output_<name>.npy` and `meta.json` (see models/PROVENANCE.md), and optionally extra input sets
`cases/<case>/` with the same input/output file names (written by padded_cases.py), checked too. This
module is also imported by export.py, which uses `run_ort` to produce the saved outputs in the first place.

Usage: python3 models/check_ort.py models/fixtures/*        (exit status 1 on any mismatch)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort


def sanitize(name: str) -> str:
    """File-name-safe form of an ONNX tensor name: every non-alphanumeric character becomes `_`."""
    return re.sub(r"[^A-Za-z0-9]", "_", name)


def ort_session(model_path: Path) -> ort.InferenceSession:
    """A CPU session with all graph optimisations disabled, so ORT computes the graph as written."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(model_path), sess_options=opts, providers=["CPUExecutionProvider"])


def run_ort(model_path: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run the model on `inputs` and return every graph output by name."""
    sess = ort_session(model_path)
    names = [o.name for o in sess.get_outputs()]
    values = sess.run(names, inputs)
    return dict(zip(names, values))


def tolerance(reference: np.ndarray) -> float:
    """The project-wide tolerance: max abs err <= 1e-4 + 1e-3 * max|ref|."""
    if reference.size == 0 or not np.issubdtype(reference.dtype, np.floating):
        return 0.0
    return 1e-4 + 1e-3 * float(np.max(np.abs(reference)))


def check_arrays(model: Path, meta: dict, arrays: Path, label: str = "") -> list[str]:
    """Run `model` on the inputs saved in `arrays` (file names from `meta`) and compare the saved outputs."""
    problems: list[str] = []
    inputs = {}
    for spec in meta["inputs"]:
        arr = np.load(arrays / spec["file"])
        if list(arr.shape) != spec["shape"] or str(arr.dtype) != spec["dtype"]:
            problems.append(f"{label}input {spec['name']}: file has {arr.dtype}{list(arr.shape)}, meta says "
                            f"{spec['dtype']}{spec['shape']}")
        inputs[spec["name"]] = arr
    got = run_ort(model, inputs)
    for spec in meta["outputs"]:
        want = np.load(arrays / spec["file"])
        if spec["name"] not in got:
            problems.append(f"{label}output {spec['name']} missing from the model")
            continue
        have = got[spec["name"]]
        if have.shape != want.shape or have.dtype != want.dtype:
            problems.append(f"{label}output {spec['name']}: ORT gives {have.dtype}{list(have.shape)}, saved "
                            f"{want.dtype}{list(want.shape)}")
            continue
        if np.issubdtype(want.dtype, np.floating):
            if not np.all(np.isfinite(have)):
                problems.append(f"{label}output {spec['name']}: non-finite values")
            err = float(np.max(np.abs(have.astype(np.float64) - want.astype(np.float64)))) if want.size else 0.0
            if err > tolerance(want):
                problems.append(f"{label}output {spec['name']}: max abs err {err:.3g} > {tolerance(want):.3g}")
        elif not np.array_equal(have, want):
            problems.append(f"{label}output {spec['name']}: integer values differ")
    return problems


def check_dir(fixture: Path) -> list[str]:
    """Check one fixture directory and its extra input sets `cases/<case>/` (written by padded_cases.py);
    returns a list of problems (empty when everything matches)."""
    meta = json.loads((fixture / "meta.json").read_text())
    problems = check_arrays(fixture / "model.onnx", meta, fixture)
    for case in sorted(p for p in (fixture / "cases").glob("*") if p.is_dir()):
        problems += check_arrays(fixture / "model.onnx", meta, case, f"cases/{case.name}: ")
    for dim, value in meta.get("bind", {}).items():
        if not isinstance(value, int) or value <= 0:
            problems.append(f"bind {dim}={value!r} is not a positive integer")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dirs", nargs="+", type=Path, help="fixture directories (each with meta.json)")
    args = parser.parse_args()
    failed = 0
    for d in args.dirs:
        if not (d / "meta.json").is_file():
            continue
        problems = check_dir(d)
        status = "ok" if not problems else "FAIL"
        print(f"{status:4} {d}")
        for p in problems:
            print(f"     {p}")
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
