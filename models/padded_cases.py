#!/usr/bin/env python3
"""Write the padded-mask input sets of the transformer fixtures, with onnxruntime's outputs.

Every GPT-2 / DistilBERT fixture in models/fixtures/ (every fixture with an `attention_mask` input) gets
`cases/<case>/` beside its main inputs: the fixture's own `input_ids` (same batch 2 x sequence 8) with
another attention mask, and onnxruntime's outputs for them (CPUExecutionProvider, ORT_DISABLE_ALL, as
for the main outputs). File names are those the fixture's meta.json lists (`input_<name>.npy`,
`output_<name>.npy`); `case.json` says what the case is. The masks start all ones and then:

  left       attention_mask[1, :3] = 0     (row 1 left-padded)
  empty_row  attention_mask[1, :] = 0      (row 1 entirely padding)
  middle     attention_mask[1, 2:4] = 0    (a hole in the middle of row 1)

Row 0 stays all ones. A fully padded row is legitimate: sdpa exports zero its attention output
(`Where(IsNaN(p), 0, p)`), eager exports give a uniform softmax over the f32-min fills; onnxruntime's
values are the reference either way. The script refuses to write non-finite outputs.

Usage: python3 models/padded_cases.py [FIXTURE_DIR...]   (default: every transformer fixture)
       python3 models/check_ort.py models/fixtures/*      re-checks the cases with the main outputs
export.py --tiny calls `write_cases` after re-exporting a transformer fixture (the export deletes the
fixture directory first).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_ort import run_ort  # noqa: E402

MODELS_DIR = Path(__file__).resolve().parent


def _left(m: np.ndarray) -> None:
    m[1, :3] = 0


def _empty_row(m: np.ndarray) -> None:
    m[1, :] = 0


def _middle(m: np.ndarray) -> None:
    m[1, 2:4] = 0


# name -> (description, mask edit applied to an all-ones [batch, sequence] mask)
CASES: dict[str, tuple[str, Callable[[np.ndarray], None]]] = {
    "left": ("row 0 all ones, row 1 left-padded: attention_mask[1, :3] = 0", _left),
    "empty_row": ("row 0 all ones, row 1 entirely padding: attention_mask[1, :] = 0", _empty_row),
    "middle": ("row 0 all ones, padding in the middle of row 1: attention_mask[1, 2:4] = 0", _middle),
}


def has_mask(fixture: Path) -> bool:
    meta = json.loads((fixture / "meta.json").read_text())
    return any(spec["name"] == "attention_mask" for spec in meta["inputs"])


def case_inputs(fixture: Path, edit: Callable[[np.ndarray], None]) -> dict[str, np.ndarray]:
    """The fixture's saved inputs with `attention_mask` replaced by `edit` applied to all ones."""
    meta = json.loads((fixture / "meta.json").read_text())
    inputs = {spec["name"]: np.load(fixture / spec["file"]) for spec in meta["inputs"]}
    mask = np.ones_like(inputs["attention_mask"])
    if mask.ndim != 2 or mask.shape[0] < 2 or mask.shape[1] < 4:
        raise RuntimeError(f"{fixture}: attention_mask {list(mask.shape)} is too small for the cases")
    edit(mask)
    inputs["attention_mask"] = mask
    return inputs


def write_cases(fixture: Path) -> list[str]:
    """(Re)write fixture/cases/; returns one summary line per case. Raises on non-finite ORT outputs."""
    meta = json.loads((fixture / "meta.json").read_text())
    root = fixture / "cases"
    if root.exists():
        shutil.rmtree(root)
    lines = []
    for name, (description, edit) in CASES.items():
        inputs = case_inputs(fixture, edit)
        outputs = run_ort(fixture / "model.onnx", inputs)
        bad = {n: int(np.size(a) - np.count_nonzero(np.isfinite(a))) for n, a in outputs.items()
               if np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a))}
        if bad:
            raise RuntimeError(f"{fixture.name}/{name}: onnxruntime gives non-finite values {bad}")
        d = root / name
        d.mkdir(parents=True)
        for spec in meta["inputs"]:
            np.save(d / spec["file"], inputs[spec["name"]])
        for spec in meta["outputs"]:
            np.save(d / spec["file"], outputs[spec["name"]])
        info = {
            "description": description,
            "attention_mask": inputs["attention_mask"].tolist(),
            "input_ids": "the fixture's own input_input_ids.npy",
            "outputs": "onnxruntime CPUExecutionProvider, ORT_DISABLE_ALL; all finite",
        }
        (d / "case.json").write_text("{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in info.items())
                                     + "\n}\n")
        peak = max(float(np.max(np.abs(a))) for a in outputs.values())
        lines.append(f"  {fixture.name}/cases/{name}: max|out| {peak:.3g}, finite")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dirs", nargs="*", type=Path,
                        help="fixture directories (default: every fixture with an attention_mask input)")
    args = parser.parse_args()
    dirs = args.dirs or sorted(p.parent for p in (MODELS_DIR / "fixtures").glob("*/meta.json"))
    dirs = [d for d in dirs if (d / "meta.json").is_file() and has_mask(d)]
    if not dirs:
        print("no fixture with an attention_mask input")
        return 1
    for d in dirs:
        for line in write_cases(d):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
