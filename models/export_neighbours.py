#!/usr/bin/env python3
"""Tiny exports of the families users try next (issue 24), for crates/infc-conformance/tests/
neighbour_families.rs: each model at its default export (no token_type_ids or position_ids
inputs), random init seeded, TorchScript exporter, opset 17, symbolic batch and sequence, with
seeded inputs (the second row padded) and onnxruntime's output for them.

    python models/export_neighbours.py      # writes models/neighbours/<name>/
Versions: models/requirements.txt."""
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
import torchvision
from transformers import (BertConfig, BertModel, LlamaConfig, LlamaModel, RobertaConfig, RobertaModel,
                          Wav2Vec2Config, Wav2Vec2Model)

OUT = Path(__file__).resolve().parent / "neighbours"


class LastHidden(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask):
        return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


class NoCache(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask):
        return self.m(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state


def export(name, model, vocab, pad_id=None):
    """Export `model` as models/neighbours/<name>/ with seeded ids (the second row padded from
    position 5: mask 0 and, when `pad_id` is given, the padding token id) and onnxruntime's output."""
    ids = torch.randint(2, vocab, (2, 8))
    mask = torch.ones(2, 8, dtype=torch.long)
    mask[1, 5:] = 0
    if pad_id is not None:
        ids[1, 5:] = pad_id
    d = OUT / name
    d.mkdir(parents=True, exist_ok=True)
    axes = {0: "batch", 1: "sequence"}
    torch.onnx.export(model, (ids, mask), str(d / "model.onnx"), input_names=["input_ids", "attention_mask"],
                      output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                      dynamic_axes={"input_ids": axes, "attention_mask": axes})
    np.save(d / "input_input_ids.npy", ids.numpy())
    np.save(d / "input_attention_mask.npy", mask.numpy())
    s = ort.InferenceSession(str(d / "model.onnx"), providers=["CPUExecutionProvider"])
    out = s.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
    np.save(d / "output_last_hidden_state.npy", out)


def export_bert():
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=512, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=128, max_position_embeddings=64)
    export("bert_ts17", LastHidden(BertModel(cfg).eval()).eval(), 512)


def export_roberta():
    """RoBERTa's position ids are a CumSum over `input_ids != padding_idx`: a run-time op."""
    torch.manual_seed(0)
    cfg = RobertaConfig(vocab_size=512, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=128, max_position_embeddings=72, pad_token_id=1)
    export("roberta_ts17", LastHidden(RobertaModel(cfg, add_pooling_layer=False).eval()).eval(), 512,
           pad_id=1)


class AudioLastHidden(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_values):
        return self.m(input_values=input_values).last_hidden_state


def export_wav2vec2():
    """Wav2Vec2's feature extractor starts with a GroupNorm, which the TorchScript exporter writes
    as an InstanceNormalization on a reshaped tensor."""
    torch.manual_seed(0)
    cfg = Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                         conv_dim=(16, 16), conv_stride=(5, 2), conv_kernel=(10, 3),
                         num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                         feat_extract_norm="group", do_stable_layer_norm=False)
    model = AudioLastHidden(Wav2Vec2Model(cfg).eval()).eval()
    x = torch.randn(2, 400)
    d = OUT / "wav2vec2_ts17"
    d.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, (x,), str(d / "model.onnx"), input_names=["input_values"],
                      output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                      dynamic_axes={"input_values": {0: "batch", 1: "samples"}})
    np.save(d / "input_input_values.npy", x.numpy())
    s = ort.InferenceSession(str(d / "model.onnx"), providers=["CPUExecutionProvider"])
    np.save(d / "output_last_hidden_state.npy", s.run(None, {"input_values": x.numpy()})[0])


def export_llama():
    """A Llama-architecture decoder (RMSNorm, rotary embeddings, SiLU-gated MLP, grouped-query
    attention, causal mask), transformers' default (sdpa) attention."""
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
    export("llama_ts17", NoCache(LlamaModel(cfg).eval()).eval(), 256)


def export_vit():
    """torchvision's VisionTransformer (its class-token concat uses a Mod of the batch size); the
    head is zero-initialised by torchvision, so it gets seeded random weights here."""
    torch.manual_seed(0)
    m = torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2,
                                             hidden_dim=32, mlp_dim=64, num_classes=10).eval()
    with torch.no_grad():
        for p in m.heads.parameters():
            p.normal_(0, 0.2)
    x = torch.randn(2, 3, 32, 32)
    d = OUT / "vit_ts17"
    d.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(m, (x,), str(d / "model.onnx"), input_names=["pixel_values"], output_names=["logits"],
                      opset_version=17, dynamo=False, dynamic_axes={"pixel_values": {0: "batch"}})
    np.save(d / "input_pixel_values.npy", x.numpy())
    s = ort.InferenceSession(str(d / "model.onnx"), providers=["CPUExecutionProvider"])
    np.save(d / "output_logits.npy", s.run(None, {"pixel_values": x.numpy()})[0])


if __name__ == "__main__":
    export_bert()
    export_roberta()
    export_wav2vec2()
    export_llama()
    export_vit()
