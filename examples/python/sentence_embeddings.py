"""Sentence embeddings with a BERT-family encoder from Python: tokenize with the `tokenizers`
package, pad to the longest sentence, compile the encoder for that batch and length, run,
mean-pool over the attention mask, L2-normalise, print the cosine similarity matrix.

    python examples/python/sentence_embeddings.py [SENTENCE ...] [--model M.onnx]
        [--tokenizer tokenizer.json] [--sentences FILE] [--save-embeddings OUT.npy]

The same steps as examples/src/bin/sentence_embeddings.rs (the model's dims must be named
`batch` and `sequence`; examples/data/make_minilm.py exports all-MiniLM-L6-v2 so).
"""

import argparse
import pathlib
import tempfile

import numpy as np
from tokenizers import Tokenizer

import infc

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "data"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("sentence", nargs="*")
    p.add_argument("--model", default=str(DATA / "minilm_tiny/model.onnx"))
    p.add_argument("--tokenizer", default=str(DATA / "minilm_tiny/tokenizer.json"))
    p.add_argument("--sentences", default=str(DATA / "sentences.txt"))
    p.add_argument("--save-embeddings")
    a = p.parse_args()
    sentences = a.sentence or [
        l for l in pathlib.Path(a.sentences).read_text(encoding="utf-8").splitlines() if l.strip()
    ]
    tok = Tokenizer.from_file(a.tokenizer)
    # Pad to the longest sentence of this batch (a tokenizer.json may pad to a fixed length).
    pad = dict(tok.padding or {"pad_id": tok.token_to_id("[PAD]") or 0})
    pad.pop("length", None)
    tok.enable_padding(**pad)
    enc = tok.encode_batch(sentences)
    feed = {
        "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
    }
    n, length = feed["input_ids"].shape
    with tempfile.TemporaryDirectory() as d:
        plan = infc.compile(a.model, f"{d}/m.plan", shapes={"batch": n, "sequence": length})
        s = infc.Session(plan, load="copy")
    names = [i.name for i in s.get_inputs()]
    unknown = [x for x in names if x not in feed]
    if unknown:
        raise SystemExit(f"{a.model}: unexpected inputs {unknown} (an encoder takes {list(feed)})")
    hidden = s.run(None, {k: feed[k] for k in names})[0].astype(np.float64)
    mask = feed["attention_mask"][..., None].astype(np.float64)
    emb = (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
    emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    if a.save_embeddings:
        np.save(a.save_embeddings, emb.astype(np.float32))
    print(f"{n} sentences ({length} tokens with padding), {emb.shape[1]}-dim embeddings:")
    for i, t in enumerate(sentences):
        print(f"  [{i}] {t}")
    print("cosine similarity:")
    for i, row in enumerate(emb @ emb.T):
        print(f"sim {i}: " + " ".join(f"{v:9.6f}" for v in row))


if __name__ == "__main__":
    main()
