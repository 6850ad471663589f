"""Next-token scoring with a GPT-2 export from Python: compile for one sequence, run on token
ids, print the five most likely next tokens (ids and log-probabilities).

    python examples/python/gpt2_score.py [MODEL.onnx] [--ids 464,2068,7586]
"""

import argparse
import pathlib
import tempfile

import numpy as np

import infc

ROOT = pathlib.Path(__file__).resolve().parents[2]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model", nargs="?", default=str(ROOT / "models/fixtures/gpt2_ts17/model.onnx"))
    p.add_argument("--ids", default="464,2068,7586,21831")
    p.add_argument("--int8", action="store_true")
    a = p.parse_args()
    ids = np.array([[int(t) for t in a.ids.split(",")]], dtype=np.int64)
    with tempfile.TemporaryDirectory() as d:
        plan = infc.compile(
            a.model, f"{d}/gpt2.plan", shapes={"batch": 1, "sequence": ids.shape[1]}, int8=a.int8
        )
        s = infc.Session(plan)
    feed = {"input_ids": ids}
    if any(i.name == "attention_mask" for i in s.get_inputs()):
        feed["attention_mask"] = np.ones_like(ids)
    (logits,) = s.run(None, feed)
    last = logits[0, -1].astype(np.float64)
    logp = last - last.max() - np.log(np.exp(last - last.max()).sum())
    print(f"next token after {ids[0].tolist()} (vocabulary {last.shape[0]}):")
    for t in np.argsort(-last, kind="stable")[:5]:
        print(f"  token {t:>6}  log p = {logp[t]:.4f}")


if __name__ == "__main__":
    main()
