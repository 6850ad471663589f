#!/usr/bin/env python3
"""Export randomly initialised (seeded) ResNet / GPT-2 / DistilBERT models to ONNX for infc's tests.

Nothing is downloaded: every model is built from a config and initialised with torch.manual_seed.

Modes
  --tiny          committed fixtures in models/fixtures/<name>/ (each directory <= 2 MB)
  --full          full-size ResNet50, GPT-2 124M (LM head), DistilBERT-base in models/full/<name>/
                  (TorchScript exporter, opset 17 unless --exporter dynamo / --opset say otherwise)
  --variants DIR  extra real exports for generality checks (other sizes, batch sizes, sequence lengths,
                  padding masks, opsets 13..18, sdpa vs eager attention); not committed

Every output directory has the same layout: model.onnx (+ model.onnx.data when the exporter writes
external data), input_<name>.npy, output_<name>.npy (onnxruntime CPU, optimisations off) and meta.json.
See models/PROVENANCE.md for the meta.json schema and the exact commands.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_ort import check_dir, run_ort, sanitize  # noqa: E402
from padded_cases import CASES, write_cases  # noqa: E402

MODELS_DIR = Path(__file__).resolve().parent
FIXTURE_LIMIT_BYTES = 2 * 1024 * 1024


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------


def perturb_norms_and_biases(model: nn.Module, gen: torch.Generator) -> None:
    """Move norm parameters, BN running stats and biases away from their trivial 1/0 init.

    A freshly initialised BatchNorm is the identity (mean 0, var 1, weight 1, bias 0) and most biases
    start at zero, which would let a compiler bug that drops or swaps them go unnoticed.
    """
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.BatchNorm2d, nn.LayerNorm)):
                if module.weight is not None:
                    module.weight.copy_(1.0 + 0.1 * torch.randn(module.weight.shape, generator=gen))
                if module.bias is not None:
                    module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=gen))
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.copy_(0.1 * torch.randn(module.running_mean.shape, generator=gen))
                module.running_var.copy_(0.5 + torch.rand(module.running_var.shape, generator=gen))
        for name, param in model.named_parameters():
            if name.endswith("bias") and param.dim() == 1:
                param.add_(0.02 * torch.randn(param.shape, generator=gen))


class TinyBottleneckResNet(nn.Module):
    """Stem (conv7x7/s2, BN, ReLU, maxpool), two torchvision Bottleneck stages, GAP, FC.

    Stage 1 keeps the channel count (no downsample branch), stage 2 halves the resolution and doubles
    the width, so its block carries the 1x1-conv + BN downsample branch.
    """

    def __init__(self, stem: int = 16, width2: int = 8, classes: int = 10, blocks: tuple[int, int] = (1, 1)):
        super().__init__()
        from torchvision.models.resnet import Bottleneck

        expansion = Bottleneck.expansion
        self.conv1 = nn.Conv2d(3, stem, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        layer1 = [Bottleneck(stem, stem // expansion) for _ in range(blocks[0])]
        self.layer1 = nn.Sequential(*layer1)
        out = width2 * expansion
        downsample = nn.Sequential(nn.Conv2d(stem, out, kernel_size=1, stride=2, bias=False), nn.BatchNorm2d(out))
        layer2 = [Bottleneck(stem, width2, stride=2, downsample=downsample)]
        layer2 += [Bottleneck(out, width2) for _ in range(blocks[1] - 1)]
        self.layer2 = nn.Sequential(*layer2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(out, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


class LogitsOf(nn.Module):
    """Wraps a transformers model so forward(input_ids, attention_mask) returns one tensor."""

    def __init__(self, model: nn.Module, field_name: str):
        super().__init__()
        self.model = model
        self.field_name = field_name

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.model(input_ids=input_ids, attention_mask=attention_mask)
        return getattr(out, self.field_name)


def build_resnet(seed: int, full: bool = False, stem: int = 16, width2: int = 8,
                 blocks: tuple[int, int] = (1, 1)) -> nn.Module:
    torch.manual_seed(seed)
    if full:
        import torchvision

        model = torchvision.models.resnet50(weights=None)
    else:
        model = TinyBottleneckResNet(stem=stem, width2=width2, blocks=blocks)
    gen = torch.Generator().manual_seed(seed + 1)
    perturb_norms_and_biases(model, gen)
    return model.eval()


def build_gpt2(seed: int, attn: str, full: bool = False, n_layer: int = 2, n_embd: int = 64, n_head: int = 4,
               vocab: int = 512, n_positions: int = 64) -> nn.Module:
    from transformers import GPT2Config, GPT2LMHeadModel

    if full:
        config = GPT2Config(use_cache=False)  # 124M: 12 layers, 768 wide, 12 heads, vocab 50257, 1024 positions
    else:
        config = GPT2Config(n_layer=n_layer, n_embd=n_embd, n_head=n_head, vocab_size=vocab,
                            n_positions=n_positions, use_cache=False, initializer_range=0.2,
                            bos_token_id=vocab - 1, eos_token_id=vocab - 1)
    torch.manual_seed(seed)
    model = GPT2LMHeadModel._from_config(config, attn_implementation=attn)
    gen = torch.Generator().manual_seed(seed + 1)
    perturb_norms_and_biases(model, gen)
    return LogitsOf(model.eval(), "logits").eval()


def build_distilbert(seed: int, attn: str, full: bool = False, n_layers: int = 2, dim: int = 64, n_heads: int = 4,
                     hidden_dim: int = 128, vocab: int = 512, max_positions: int = 64) -> nn.Module:
    from transformers import DistilBertConfig, DistilBertModel

    if full:
        config = DistilBertConfig()  # base: 6 layers, dim 768, 12 heads, hidden 3072, vocab 30522
    else:
        config = DistilBertConfig(n_layers=n_layers, dim=dim, n_heads=n_heads, hidden_dim=hidden_dim,
                                  vocab_size=vocab, max_position_embeddings=max_positions, initializer_range=0.2)
    torch.manual_seed(seed)
    model = DistilBertModel._from_config(config, attn_implementation=attn)
    gen = torch.Generator().manual_seed(seed + 1)
    perturb_norms_and_biases(model, gen)
    return LogitsOf(model.eval(), "last_hidden_state").eval()


# --------------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------------


def image_inputs(seed: int, batch: int, size: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"pixel_values": rng.standard_normal((batch, 3, size, size), dtype=np.float32)}


def token_inputs(seed: int, batch: int, seq: int, vocab: int, pad: list[int] | None = None,
                 left_pad: bool = False) -> dict[str, np.ndarray]:
    """input_ids plus an int64 attention mask; `pad[b]` trailing (or leading) positions of row b are padding."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocab, size=(batch, seq), dtype=np.int64)
    mask = np.ones((batch, seq), dtype=np.int64)
    for b, n in enumerate(pad or []):
        if n:
            if left_pad:
                mask[b, :n] = 0
            else:
                mask[b, seq - n:] = 0
    return {"input_ids": ids, "attention_mask": mask}


# --------------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------------


@dataclass
class Spec:
    """One export: which model, which exporter/opset, which inputs are saved beside it."""

    name: str
    family: str  # resnet | gpt2 | distilbert
    exporter: str  # torchscript | dynamo
    opset: int
    build: Callable[[], nn.Module]
    inputs: dict[str, np.ndarray]
    symbolic: dict[str, dict[int, str]]  # input name -> {axis: dim name}
    output_name: str
    output_symbolic: dict[int, str]
    keep_bn: bool = False  # TorchScript only: no constant folding, TrainingMode.EVAL
    external_data: bool = True  # dynamo only
    notes: list[str] = field(default_factory=list)


def trace_inputs(spec: Spec) -> tuple[torch.Tensor, ...]:
    """Example inputs for tracing. torch.export specialises dims of size 0/1, so a dynamic dim whose
    saved value is 1 is traced with size 2 (the exported graph is the same symbolic graph)."""
    out = []
    for name, arr in spec.inputs.items():
        t = torch.from_numpy(arr.copy())
        if spec.exporter == "dynamo":
            for axis in spec.symbolic.get(name, {}):
                if t.shape[axis] == 1:
                    t = torch.cat([t, t], dim=axis)
        out.append(t)
    return tuple(out)


def export_torchscript(spec: Spec, model: nn.Module, path: Path) -> None:
    dynamic_axes = {name: dict(axes) for name, axes in spec.symbolic.items()}
    dynamic_axes[spec.output_name] = dict(spec.output_symbolic)
    kwargs = {}
    if spec.keep_bn:
        kwargs = {"do_constant_folding": False, "training": torch.onnx.TrainingMode.EVAL}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, trace_inputs(spec), str(path), dynamo=False, opset_version=spec.opset,
                          input_names=list(spec.inputs), output_names=[spec.output_name],
                          dynamic_axes=dynamic_axes, **kwargs)


def export_dynamo(spec: Spec, model: nn.Module, path: Path) -> None:
    from torch.export import Dim

    dims: dict[str, Dim] = {}
    dynamic_shapes = []  # positional, in input order: dict keys would have to be forward()'s arg names
    for name in spec.inputs:
        axes = {}
        for axis, dim_name in spec.symbolic.get(name, {}).items():
            dims.setdefault(dim_name, Dim(dim_name))
            axes[axis] = dims[dim_name]
        dynamic_shapes.append(axes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(model, trace_inputs(spec), dynamo=True, opset_version=spec.opset,
                                    input_names=list(spec.inputs), output_names=[spec.output_name],
                                    dynamic_shapes=tuple(dynamic_shapes), verbose=False)
    program.save(str(path), external_data=spec.external_data)


def compare_with_torch(model: nn.Module, path: Path, inputs: dict[str, np.ndarray],
                       ort_outputs: dict[str, np.ndarray] | None = None) -> float:
    """Run the PyTorch model and onnxruntime on the same inputs; raise when they disagree.

    This checks the exporter itself (a traced graph that baked in a shape or dropped the mask would
    disagree with eager PyTorch), not the compiler under test.
    """
    ort_out = ort_outputs if ort_outputs is not None else run_ort(path, inputs)
    with torch.no_grad():
        want = model(*(torch.from_numpy(a.copy()) for a in inputs.values())).numpy()
    have = next(iter(ort_out.values()))
    if have.shape != want.shape:
        raise RuntimeError(f"{path}: ORT output shape {have.shape} != torch {want.shape}")
    err = float(np.max(np.abs(have.astype(np.float64) - want.astype(np.float64))))
    tol = 1e-4 + 1e-3 * float(np.max(np.abs(want)))
    if not err <= tol:
        raise RuntimeError(f"{path}: ORT vs torch max abs err {err:.3g} > {tol:.3g} for shapes "
                           f"{ {n: a.shape for n, a in inputs.items()} }")
    return err


def alternative_inputs(spec: Spec) -> dict[str, np.ndarray]:
    """Inputs with other values for every symbolic dim (batch 3; sequence 5 with padding), to check that
    the exported graph really is symbolic and not specialised to the traced shapes."""
    first = next(iter(spec.inputs.values()))
    if spec.family == "resnet":
        return image_inputs(999, 3, first.shape[2])
    vocab = int(spec.inputs["input_ids"].max()) + 1
    seq = 5 if first.shape[1] != 5 else 11
    return token_inputs(999, 3, seq, vocab, pad=[0, 2, seq - 1])


def dims_of(value_info: onnx.ValueInfoProto) -> list[int | str | None]:
    out: list[int | str | None] = []
    for d in value_info.type.tensor_type.shape.dim:
        if d.HasField("dim_param"):
            out.append(d.dim_param)
        elif d.HasField("dim_value"):
            out.append(d.dim_value)
        else:
            out.append(None)
    return out


def op_histogram(model: onnx.ModelProto) -> Counter:
    """Op types of every node, including nodes in subgraphs and local functions."""
    counts: Counter = Counter()

    def walk(graph: onnx.GraphProto) -> None:
        for node in graph.node:
            key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}"
            counts[key] += 1
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g)
                for g in attr.graphs:
                    walk(g)

    walk(model.graph)
    for fn in model.functions:
        for node in fn.node:
            counts[f"{fn.name}/{node.op_type}"] += 1
    return counts


def dtype_name(arr: np.ndarray) -> str:
    return str(arr.dtype)


def write_fixture(spec: Spec, out_dir: Path, limit: int | None) -> dict:
    """Export `spec` into out_dir/spec.name and write inputs, ORT outputs and meta.json."""
    d = out_dir / spec.name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    model = spec.build()
    path = d / "model.onnx"
    t0 = time.time()
    if spec.exporter == "torchscript":
        export_torchscript(spec, model, path)
    else:
        export_dynamo(spec, model, path)
    export_s = time.time() - t0

    proto = onnx.load(str(path), load_external_data=True)
    onnx.checker.check_model(str(path))  # path form: works for external data and >2 GB
    opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    hist = op_histogram(proto)
    if spec.keep_bn and hist.get("BatchNormalization", 0) == 0:
        raise RuntimeError(f"{spec.name}: BatchNormalization nodes were folded away")

    for name, arr in spec.inputs.items():
        np.save(d / f"input_{sanitize(name)}.npy", arr)
    t0 = time.time()
    outputs = run_ort(path, spec.inputs)
    ort_s = time.time() - t0
    for name, arr in outputs.items():
        np.save(d / f"output_{sanitize(name)}.npy", arr)
    torch_err = compare_with_torch(model, path, spec.inputs, outputs)
    other_inputs = alternative_inputs(spec)
    other_err = compare_with_torch(model, path, other_inputs)
    del model

    graph_inputs = {vi.name: dims_of(vi) for vi in proto.graph.input}
    graph_outputs = {vi.name: dims_of(vi) for vi in proto.graph.output}
    initializer_names = {t.name for t in proto.graph.initializer}
    bind: dict[str, int] = {}
    for name, arr in spec.inputs.items():
        dims = graph_inputs.get(name)
        if dims is None:
            raise RuntimeError(f"{spec.name}: input {name} missing from the exported graph")
        if len(dims) != arr.ndim:
            raise RuntimeError(f"{spec.name}: input {name} rank {len(dims)} != saved rank {arr.ndim}")
        for axis, dim in enumerate(dims):
            if isinstance(dim, str):
                if bind.setdefault(dim, int(arr.shape[axis])) != arr.shape[axis]:
                    raise RuntimeError(f"{spec.name}: dim {dim} bound to two values")
            elif isinstance(dim, int) and dim != arr.shape[axis]:
                raise RuntimeError(f"{spec.name}: input {name} axis {axis} is {dim}, saved {arr.shape[axis]}")

    external = sorted(p.name for p in d.iterdir() if p.name.startswith("model.onnx") and p.name != "model.onnx")
    meta = {
        "family": spec.family,
        "exporter": spec.exporter,
        "opset": opset,
        "inputs": [{"name": n, "file": f"input_{sanitize(n)}.npy", "dtype": dtype_name(a), "shape": list(a.shape)}
                   for n, a in spec.inputs.items()],
        "outputs": [{"name": n, "file": f"output_{sanitize(n)}.npy", "dtype": dtype_name(a), "shape": list(a.shape)}
                    for n, a in outputs.items()],
        "bind": bind,
        "symbolic_dims": {n: dims for n, dims in {**graph_inputs, **graph_outputs}.items()
                          if n not in initializer_names},
        "external_data": external,
        "keep_batchnorm": spec.keep_bn,
        "op_histogram": dict(sorted(hist.items())),
        "producer": f"{proto.producer_name} {proto.producer_version}".strip(),
    }
    meta["torch_vs_ort_max_abs_err"] = torch_err
    meta["generality_check"] = {"inputs": {n: list(a.shape) for n, a in other_inputs.items()},
                                "torch_vs_ort_max_abs_err": other_err}
    if spec.notes:
        meta["notes"] = spec.notes
    (d / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")

    problems = check_dir(d)
    if problems:
        raise RuntimeError(f"{spec.name}: ORT re-check failed: {problems}")
    size = sum(p.stat().st_size for p in d.iterdir())
    if limit is not None and size > limit:
        raise RuntimeError(f"{spec.name}: {size} bytes exceeds the {limit}-byte fixture limit")
    print(f"  {spec.name}: opset {opset}, {size / 1024:.0f} KiB, export {export_s:.1f}s, ort {ort_s:.1f}s, "
          f"bind {bind}, external {external}", flush=True)
    return {"name": spec.name, "size": size, "meta": meta}


# --------------------------------------------------------------------------------------------------
# Fixture sets
# --------------------------------------------------------------------------------------------------

IMAGE_SYMBOLIC = {"pixel_values": {0: "batch"}}
TOKEN_SYMBOLIC = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}}


def resnet_spec(name: str, exporter: str, opset: int, seed: int, batch: int = 1, size: int = 32,
                keep_bn: bool = False, full: bool = False, **kw) -> Spec:
    return Spec(name=name, family="resnet", exporter=exporter, opset=opset,
                build=lambda: build_resnet(seed, full=full, **kw),
                inputs=image_inputs(seed + 100, batch, size), symbolic=IMAGE_SYMBOLIC,
                output_name="logits", output_symbolic={0: "batch"}, keep_bn=keep_bn)


def gpt2_spec(name: str, exporter: str, opset: int, seed: int, batch: int = 2, seq: int = 8,
              pad: list[int] | None = None, left_pad: bool = False, attn: str = "eager", full: bool = False,
              **kw) -> Spec:
    vocab = 50257 if full else kw.get("vocab", 512)
    return Spec(name=name, family="gpt2", exporter=exporter, opset=opset,
                build=lambda: build_gpt2(seed, attn, full=full, **kw),
                inputs=token_inputs(seed + 100, batch, seq, vocab, pad, left_pad), symbolic=TOKEN_SYMBOLIC,
                output_name="logits", output_symbolic={0: "batch", 1: "sequence"},
                notes=[f"attn_implementation={attn}"])


def distilbert_spec(name: str, exporter: str, opset: int, seed: int, batch: int = 2, seq: int = 8,
                    pad: list[int] | None = None, left_pad: bool = False, attn: str = "eager", full: bool = False,
                    **kw) -> Spec:
    vocab = 30522 if full else kw.get("vocab", 512)
    return Spec(name=name, family="distilbert", exporter=exporter, opset=opset,
                build=lambda: build_distilbert(seed, attn, full=full, **kw),
                inputs=token_inputs(seed + 100, batch, seq, vocab, pad, left_pad), symbolic=TOKEN_SYMBOLIC,
                output_name="last_hidden_state", output_symbolic={0: "batch", 1: "sequence"},
                notes=[f"attn_implementation={attn}"])


def tiny_specs() -> list[Spec]:
    pad = [0, 3]  # batch 2, seq 8: the second row ends with 3 padding positions
    return [
        resnet_spec("resnet_ts14", "torchscript", 14, seed=1),
        resnet_spec("resnet_ts14_bn", "torchscript", 14, seed=1, keep_bn=True),
        resnet_spec("resnet_ts17", "torchscript", 17, seed=1),
        resnet_spec("resnet_dynamo18", "dynamo", 18, seed=1),
        gpt2_spec("gpt2_ts14", "torchscript", 14, seed=2, pad=pad),
        gpt2_spec("gpt2_ts17", "torchscript", 17, seed=2, pad=pad),
        gpt2_spec("gpt2_dynamo18", "dynamo", 18, seed=2, pad=pad),
        distilbert_spec("distilbert_ts14", "torchscript", 14, seed=3, pad=pad),
        distilbert_spec("distilbert_ts17", "torchscript", 17, seed=3, pad=pad),
        distilbert_spec("distilbert_dynamo18", "dynamo", 18, seed=3, pad=pad),
        # sdpa attention as HF exports it by default: covers IsNaN and the sdpa decomposition.
        gpt2_spec("gpt2_sdpa_ts17", "torchscript", 17, seed=4, pad=pad, attn="sdpa"),
        distilbert_spec("distilbert_sdpa_dynamo18", "dynamo", 18, seed=5, pad=pad, attn="sdpa"),
    ]


def full_specs(exporter: str, opset: int | None) -> list[Spec]:
    opset = opset or (17 if exporter == "torchscript" else 18)
    tag = f"{'ts' if exporter == 'torchscript' else 'dynamo'}{opset}"
    return [
        resnet_spec(f"resnet50_{tag}", exporter, opset, seed=11, batch=1, size=224, full=True),
        gpt2_spec(f"gpt2_{tag}", exporter, opset, seed=12, batch=1, seq=128, full=True),
        distilbert_spec(f"distilbert_{tag}", exporter, opset, seed=13, batch=1, seq=128, full=True),
        # transformers' default attention (sdpa): -inf mask fills and a NaN guard after the softmax.
        gpt2_spec(f"gpt2_sdpa_{tag}", exporter, opset, seed=12, batch=1, seq=128, full=True, attn="sdpa"),
        distilbert_spec(f"distilbert_sdpa_{tag}", exporter, opset, seed=13, batch=1, seq=128, full=True,
                        attn="sdpa"),
    ]


def variant_specs() -> list[Spec]:
    """Real exports beyond the fixtures: other sizes, batches, sequence lengths, masks, opsets, attention."""
    ts, dy = "torchscript", "dynamo"
    return [
        # ResNet: other widths/depths/resolutions/batches, BN kept at other opsets.
        resnet_spec("resnet_w24_b3_s40_ts13", ts, 13, seed=21, batch=3, size=40, stem=24, width2=12),
        resnet_spec("resnet_blocks2_b1_ts15_bn", ts, 15, seed=22, keep_bn=True, blocks=(2, 2)),
        resnet_spec("resnet_b3_ts16", ts, 16, seed=23, batch=3, size=48),
        resnet_spec("resnet_b3_ts18_bn", ts, 18, seed=24, batch=3, keep_bn=True, stem=32, width2=16),
        resnet_spec("resnet_b3_s64_dynamo18", dy, 18, seed=25, batch=3, size=64, blocks=(2, 1)),
        # GPT-2: other hidden/heads/layers, batch 1/3, seq 5/17/32, padding, opsets, sdpa.
        gpt2_spec("gpt2_h96_l3_b1_s17_ts13", ts, 13, seed=31, batch=1, seq=17, n_embd=96, n_head=6, n_layer=3),
        gpt2_spec("gpt2_b3_s5_pad_ts15", ts, 15, seed=32, batch=3, seq=5, pad=[0, 2, 4]),
        gpt2_spec("gpt2_h32_b3_s32_pad_ts16", ts, 16, seed=33, batch=3, seq=32, pad=[5, 0, 31], n_embd=32, n_head=2),
        gpt2_spec("gpt2_b3_s17_leftpad_ts18", ts, 18, seed=34, batch=3, seq=17, pad=[0, 4, 9], left_pad=True),
        gpt2_spec("gpt2_sdpa_b3_s17_pad_ts17", ts, 17, seed=35, batch=3, seq=17, pad=[0, 6, 1], attn="sdpa"),
        gpt2_spec("gpt2_sdpa_b1_s32_dynamo18", dy, 18, seed=36, batch=1, seq=32, attn="sdpa"),
        gpt2_spec("gpt2_l3_b3_s5_pad_dynamo18", dy, 18, seed=37, batch=3, seq=5, pad=[1, 0, 3], n_layer=3),
        # DistilBERT: same axes of variation, plus left padding (bidirectional attention).
        distilbert_spec("distilbert_d96_l3_b1_s17_ts13", ts, 13, seed=41, batch=1, seq=17, dim=96, n_heads=6,
                        n_layers=3, hidden_dim=192),
        distilbert_spec("distilbert_b3_s5_pad_ts15", ts, 15, seed=42, batch=3, seq=5, pad=[0, 2, 4]),
        distilbert_spec("distilbert_d32_b3_s32_leftpad_ts16", ts, 16, seed=43, batch=3, seq=32, pad=[7, 0, 20],
                        left_pad=True, dim=32, n_heads=2, hidden_dim=64),
        distilbert_spec("distilbert_b1_s17_ts18", ts, 18, seed=44, batch=1, seq=17),
        distilbert_spec("distilbert_sdpa_b3_s17_pad_ts17", ts, 17, seed=45, batch=3, seq=17, pad=[0, 6, 1],
                        attn="sdpa"),
        distilbert_spec("distilbert_sdpa_b3_s32_pad_dynamo18", dy, 18, seed=46, batch=3, seq=32, pad=[0, 12, 3],
                        attn="sdpa"),
        distilbert_spec("distilbert_l3_b1_s5_dynamo18", dy, 18, seed=47, batch=1, seq=5, n_layers=3),
    ]


# --------------------------------------------------------------------------------------------------
# PROVENANCE.md
# --------------------------------------------------------------------------------------------------

PROVENANCE_NOTES = """\
## Exporter quirks and workarounds (torch 2.15 / transformers 5.23 / onnxscript 0.7)

- **dynamo `dynamic_shapes`**: a dict must be keyed by `forward()`'s argument names, not by `input_names`
  (`When dynamic_shapes is specified as a dict, its top-level keys must be the arg names ['x']`). export.py
  passes a positional tuple instead.
- **dynamo specialises size-1 dims**: torch.export turns a dim whose example size is 1 into a constant, so
  inputs whose saved batch is 1 (the ResNet fixtures, the full models at bs1) are traced with the symbolic
  dims doubled; the exported graph is symbolic and the saved inputs/outputs are at the real size.
- **dynamo keeps the `torch.export.Dim` names** as `dim_param` (`batch`, `sequence`); no `s0`-style names in
  these exports. TorchScript writes the `dynamic_axes` names. Both also name the output dims the same way.
- **dynamo external data**: `ONNXProgram.save(path, external_data=True)` writes `model.onnx.data` next to the
  model, and keeps small initializers (scalars, shape vectors) inline in `model.onnx`: every dynamo fixture
  mixes inline and external tensors. TorchScript exports here are all single-file.
- **dynamo runs the onnxscript optimizer** (`optimize=True`, the default): BatchNormalization is folded
  into Conv, `AdaptiveAvgPool2d` becomes `ReduceMean` (axes as an input, opset 18) instead of
  `GlobalAveragePool`, `flatten` becomes `Reshape`, no `Constant` nodes remain (all initializers), GPT-2's
  Conv1D is `Reshape -> Gemm -> Reshape`, DistilBERT's Linear is `MatMul + Add` (no Gemm). The padding
  mask logic uses `GatherND`, `Max`, `Squeeze`, `And`, `Where` (vmap-style mask functions in transformers 5).
- **TorchScript opset 14** decomposes LayerNorm (`ReduceMean, Sub, Pow, Sqrt, Div, Mul, Add`); opset >= 17
  emits `LayerNormalization`. `do_constant_folding=False` + `training=TrainingMode.EVAL` keeps
  `BatchNormalization` (resnet_ts14_bn; checked by export.py).
- **GELU**: GPT-2 `gelu_new` is written out as `Mul/Pow/Add/Tanh` (tanh form), DistilBERT `gelu` as
  `Div/Erf/Add/Mul` (erf form); opsets <= 18 have no Gelu op.
- **Tied LM head** (GPT-2): TorchScript writes the head as a `MatMul` against a pre-transposed *copy* of
  `wte` (second initializer `onnx::MatMul_*` [n_embd, vocab]; the full gpt2_ts17 is 652 MB for that reason);
  dynamo keeps one initializer `model.lm_head.weight` [vocab, n_embd] used by both the embedding `Gather`
  and a `Transpose -> MatMul` head (full gpt2_dynamo18: 498 MB of external data).
- **Names**: TorchScript names values `/model/transformer/h.0/...` and initializers `onnx::MatMul_591`;
  dynamo uses `val_N`, `linear_N`, `layer_norm_N` and parameter names (`model.transformer.ln_f.weight`).
- **transformers 5 config check**: GPT2Config's default bos/eos id 50256 is outside a 512 vocabulary
  (warning only); the tiny configs set them to vocab-1.
- **sdpa attention** (only in `--variants`): both exporters decompose `scaled_dot_product_attention` into
  `MatMul/Mul/Add/Softmax` plus `IsNaN -> Where` (zeroing the NaN rows of fully masked queries), so `IsNaN`
  appears in the sdpa exports and in no committed fixture (those use eager attention, as asked).
- No export failed; no attention-implementation, patching or opset workaround was needed with these
  versions (dynamo at opset 18 for all three families, TorchScript at opsets 13..18).
"""


def fmt_hist(hist: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(hist.items()))


def collect_metas(root: Path) -> list[tuple[str, dict, int, dict[str, int]]]:
    out = []
    if not root.is_dir():
        return out
    for meta_path in sorted(root.glob("*/meta.json")):
        d = meta_path.parent
        files = {p.name: p.stat().st_size for p in sorted(d.iterdir()) if p.is_file()}
        out.append((d.name, json.loads(meta_path.read_text()), sum(files.values()), files))
    return out


def op_details(dirs: list[Path]) -> dict[str, dict[str, set]]:
    """Per op type: input arities and attribute values seen (small attributes only)."""
    details: dict[str, dict[str, set]] = {}
    for d in dirs:
        model = onnx.load(str(d / "model.onnx"), load_external_data=False)
        for node in model.graph.node:
            entry = details.setdefault(node.op_type, {"arity": set(), "attrs": set()})
            entry["arity"].add(f"{len(node.input)}->{len(node.output)}")
            for a in node.attribute:
                if a.type == onnx.AttributeProto.INT:
                    entry["attrs"].add(f"{a.name}={a.i}")
                elif a.type == onnx.AttributeProto.FLOAT:
                    entry["attrs"].add(f"{a.name}={a.f:g}")
                elif a.type == onnx.AttributeProto.STRING:
                    entry["attrs"].add(f"{a.name}={a.s.decode()}")
                elif a.type == onnx.AttributeProto.INTS:
                    entry["attrs"].add(f"{a.name}={list(a.ints)}")
                elif a.type == onnx.AttributeProto.TENSOR:
                    t = a.t
                    kind = "scalar" if len(t.dims) == 0 else f"{list(t.dims)}"
                    entry["attrs"].add(f"{a.name}:{onnx.TensorProto.DataType.Name(t.data_type).lower()}{kind}")
                else:
                    entry["attrs"].add(f"{a.name}:{onnx.AttributeProto.AttributeType.Name(a.type)}")
    return details


def write_provenance(path: Path) -> None:
    import onnxruntime
    import torchvision
    import transformers

    fixtures = collect_metas(MODELS_DIR / "fixtures")
    variants = collect_metas(MODELS_DIR / "variants")
    full = collect_metas(MODELS_DIR / "full")
    by_exporter: dict[str, set[str]] = {}
    for _, meta, _, _ in fixtures:
        by_exporter.setdefault(meta["exporter"], set()).update(meta["op_histogram"])
    union = sorted(set().union(*by_exporter.values())) if by_exporter else []
    lines = ["# models/: provenance of the ONNX fixtures", ""]
    lines += ["## ONNX ops the importer must support", ""]
    lines += [f"Union over every committed fixture ({len(union)} ops, all in the default domain):", "",
              "    " + ", ".join(union), ""]
    for exporter, ops in sorted(by_exporter.items()):
        lines += [f"- {exporter}: " + ", ".join(sorted(ops))]
    extra: dict[str, set[str]] = {}
    for name, meta, _, _ in variants + full:
        for op in meta["op_histogram"]:
            if op not in union:
                extra.setdefault(op, set()).add(name)
    lines += [""]
    if variants or full:
        if extra:
            lines += ["Ops that appear only in the non-committed `--variants` / `--full` exports:", ""]
            lines += [f"- {op}: {', '.join(sorted(names))}" for op, names in sorted(extra.items())]
        else:
            lines += [f"The {len(variants)} `--variants` and {len(full)} `--full` exports present when this file "
                      "was written use no op outside this union."]
        lines += [""]

    details = op_details([MODELS_DIR / "fixtures" / n for n, _, _, _ in fixtures])
    lines += ["Node signatures seen in the fixtures (inputs->outputs; attribute values):", "",
              "| op | arity | attributes |", "|---|---|---|"]
    for op in sorted(details):
        lines += [f"| {op} | {' '.join(sorted(details[op]['arity']))} | "
                  f"{' '.join(sorted(details[op]['attrs'])) or '-'} |"]
    lines += [""]

    lines += ["## Versions", "",
              f"- Python {sys.version.split()[0]}, torch {torch.__version__}, torchvision {torchvision.__version__}, "
              f"transformers {transformers.__version__}",
              f"- onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}, numpy {np.__version__}"
              + (f", onnxscript {__import__('onnxscript').__version__}" if _has_module("onnxscript") else ""),
              "- full pinned list: `models/requirements.txt` (`pip install -r models/requirements.txt`)", ""]
    lines += ["## Commands", "", "```sh",
              "python3 models/export.py --tiny                    # models/fixtures/ (committed) + this file",
              "python3 models/check_ort.py models/fixtures/*      # re-run onnxruntime, compare saved outputs",
              "python3 models/padded_cases.py                     # rewrite only the cases/ input sets",
              "python3 models/export.py --full                    # models/full/*_ts17 (gitignored)",
              "python3 models/export.py --full --exporter dynamo  # models/full/*_dynamo18",
              "python3 models/export.py --variants models/variants  # generality-check exports (gitignored)",
              "python3 models/export.py --provenance              # rewrite this file from the meta.json files",
              "```", "",
              "`--only NAME...` restricts any mode to some exports, `--keep-going` continues after a failure.", ""]
    lines += ["## What is exported", "",
              "All weights are random (torch.manual_seed per model), nothing is downloaded. After the library's own",
              "init, every LayerNorm/BatchNorm weight is set to 1+0.1·N(0,1), its bias to 0.1·N(0,1), BN running",
              "mean to 0.1·N(0,1) and running var to U(0.5,1.5), and every bias gets +0.02·N(0,1), so a dropped or",
              "swapped norm/bias parameter changes the outputs. Tiny transformers use initializer_range 0.2 (instead",
              "of 0.02) so attention is peaked and masking/scaling errors are visible.", "",
              "- **resnet** (tiny): conv7x7/s2 (3->16) + BN + ReLU + maxpool3x3/s2, stage 1 = one torchvision",
              "  Bottleneck 16->4->16 (no downsample), stage 2 = one Bottleneck 16->8->32 stride 2 with 1x1-conv+BN",
              "  downsample, AdaptiveAvgPool, flatten, Linear 32->10. Input `pixel_values` f32 [batch,3,32,32], saved",
              "  at batch 1; output `logits` [batch,10]. Full: torchvision resnet50, input 1x3x224x224.",
              "- **gpt2** (tiny): GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=512,",
              "  n_positions=64, use_cache=False)), attn_implementation=\"eager\", output `logits`",
              "  [batch,sequence,512]. Full: GPT2Config() defaults (124M, vocab 50257), inputs 1x128, mask all ones.",
              "- **distilbert** (tiny): DistilBertModel(DistilBertConfig(n_layers=2, dim=64, n_heads=4,",
              "  hidden_dim=128, vocab_size=512, max_position_embeddings=64)), eager attention, output",
              "  `last_hidden_state` [batch,sequence,64]. Full: DistilBertConfig() defaults (base), inputs 1x128.",
              "- transformer inputs: `input_ids` i64 [batch,sequence] uniform in [0,vocab), `attention_mask` i64",
              "  [batch,sequence]; fixtures use batch 2, sequence 8, row 0 all ones, row 1 ends with 3 zeros.", "",
              "Each export is checked three ways by export.py: onnx.checker, onnxruntime vs eager PyTorch on the",
              "saved inputs, and onnxruntime vs eager PyTorch on other dim values (batch 3, sequence 5 with padded",
              "rows; `generality_check` in meta.json), so no export has a shape baked in.", ""]
    lines += ["## Layout of a fixture directory", "",
              "- `model.onnx` (+ `model.onnx.data` for dynamo exports: external initializer data)",
              "- `input_<name>.npy`, `output_<name>.npy` (name with non-alphanumerics replaced by `_`); outputs are",
              "  onnxruntime CPUExecutionProvider with `ORT_DISABLE_ALL`",
              "- `meta.json`: `family`, `exporter`, `opset`, `inputs`/`outputs` (`name`, `file`, `dtype`, `shape`),",
              "  `bind` (dim_param -> value in the saved inputs), `symbolic_dims` (per graph input/output: one entry",
              "  per axis, the dim_param string or the fixed size), `external_data` (file names), `keep_batchnorm`,",
              "  `op_histogram`, `producer`, `torch_vs_ort_max_abs_err`, `generality_check`, `notes`.",
              "- `cases/<case>/` (transformer fixtures only, written by padded_cases.py): an extra input set with the",
              "  same file names as the main one (`input_<name>.npy`, `output_<name>.npy`, onnxruntime outputs with",
              "  the same settings) and a `case.json` (`description`, `attention_mask`). The conformance tests run",
              "  every case like the main inputs (reference interpreter, plans at -O0..-O3 on every ISA path).", ""]
    lines += ["## Padded-mask cases (cases/ of every gpt2 / distilbert fixture)", "",
              "The fixture's own `input_ids` (batch 2, sequence 8) with a mask that starts all ones, then:", ""]
    lines += [f"- `{name}`: {description}" for name, (description, _) in CASES.items()]
    lines += ["",
              "A fully padded row is legitimate and every saved case output is finite. Eager exports fill masked",
              "scores with the f32 minimum (uniform softmax over the row); gpt2_sdpa_ts17 masks with -inf and guards",
              "the softmax with `Where(IsNaN(p), 0, p)` (zero attention output, as eager PyTorch sdpa);",
              "distilbert_sdpa_dynamo18 turns the boolean mask into an additive f32-minimum mask before that guard,",
              "so its fully padded row gets a uniform softmax and never NaN. That is the one case where onnxruntime",
              "and eager PyTorch disagree (`empty_row`, row 1: max abs 3.7; row 0 agrees to 3e-6): the cases test the",
              "ONNX graph's semantics, so onnxruntime's values are kept. Every other case agrees with eager PyTorch",
              "to < 5e-6 (checked when the cases were written).", ""]
    lines += ["## dim_param names written", ""]
    for name, meta, _, _ in fixtures:
        dims = sorted({d for v in meta["symbolic_dims"].values() for d in v if isinstance(d, str)})
        lines += [f"- {name}: {', '.join(dims)}; bind {json.dumps(meta['bind'])}"]
    lines += ["", PROVENANCE_NOTES]
    lines += ["## Fixtures (models/fixtures/)", ""]
    for name, meta, size, files in fixtures:
        lines += [f"### {name}", "",
                  f"{meta['exporter']} exporter, opset {meta['opset']}, {size / 1024:.0f} KiB total "
                  f"({', '.join(f'{k} {v}' for k, v in files.items())})" + (
                      f"; {', '.join(meta['notes'])}" if meta.get("notes") else "") + ".", "",
                  "- inputs: " + ", ".join(f"`{i['name']}` {i['dtype']}{i['shape']}" for i in meta["inputs"]),
                  "- outputs: " + ", ".join(f"`{o['name']}` {o['dtype']}{o['shape']}" for o in meta["outputs"]),
                  "- symbolic: " + ", ".join(f"`{k}` {v}" for k, v in meta["symbolic_dims"].items()),
                  f"- ops ({sum(meta['op_histogram'].values())} nodes): {fmt_hist(meta['op_histogram'])}"]
        case_dirs = sorted(p.name for p in (MODELS_DIR / "fixtures" / name / "cases").glob("*") if p.is_dir())
        if case_dirs:
            lines += ["- cases: " + ", ".join(f"`{c}`" for c in case_dirs)]
        lines += [""]
    for title, group in (("--variants exports (models/variants/, not committed)", variants),
                         ("--full exports (models/full/, not committed)", full)):
        if not group:
            continue
        lines += [f"## {title}", "", "As present when this file was written.", ""]
        for name, meta, size, _ in group:
            shapes = ", ".join(f"{i['name']}{i['shape']}" for i in meta["inputs"])
            lines += [f"- **{name}**: {meta['exporter']} opset {meta['opset']}, {size / 1e6:.1f} MB, {shapes}"
                      + (f", {', '.join(meta['notes'])}" if meta.get("notes") else "")
                      + f", dims {json.dumps(meta['bind'])}; ops: {fmt_hist(meta['op_histogram'])}"]
        lines += [""]
    path.write_text("\n".join(lines).rstrip() + "\n")
    print(f"wrote {path}")


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def run_specs(specs: list[Spec], out_dir: Path, limit: int | None, keep_going: bool,
              cases: bool = False) -> int:
    """Export every spec; with `cases`, also write the padded-mask input sets of each transformer fixture."""
    out_dir.mkdir(parents=True, exist_ok=True)
    failures = 0
    for spec in specs:
        try:
            write_fixture(spec, out_dir, limit)
            if cases and "attention_mask" in spec.inputs:
                for line in write_cases(out_dir / spec.name):
                    print(line, flush=True)
        except Exception as exc:  # report and continue with the next export when asked to
            failures += 1
            print(f"  {spec.name}: FAILED: {type(exc).__name__}: {exc}", flush=True)
            if not keep_going:
                raise
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--tiny", action="store_true", help="write the committed fixtures into models/fixtures/")
    mode.add_argument("--full", action="store_true", help="write full-size models into models/full/")
    mode.add_argument("--variants", type=Path, metavar="DIR", help="write generality-check exports into DIR")
    mode.add_argument("--provenance", action="store_true",
                      help="only rewrite models/PROVENANCE.md from the meta.json files present")
    parser.add_argument("--exporter", choices=["torchscript", "dynamo"], default="torchscript",
                        help="exporter for --full (default torchscript)")
    parser.add_argument("--opset", type=int, default=None, help="opset for --full (default 17, dynamo 18)")
    parser.add_argument("--only", nargs="*", default=None, help="export only these names")
    parser.add_argument("--out", type=Path, default=None, help="override the output directory")
    parser.add_argument("--keep-going", action="store_true", help="continue after a failed export")
    args = parser.parse_args()

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    if args.provenance:
        write_provenance(MODELS_DIR / "PROVENANCE.md")
        return 0
    if args.tiny:
        specs, out, limit = tiny_specs(), args.out or MODELS_DIR / "fixtures", FIXTURE_LIMIT_BYTES
    elif args.full:
        specs, out, limit = full_specs(args.exporter, args.opset), args.out or MODELS_DIR / "full", None
    else:
        specs, out, limit = variant_specs(), args.out or args.variants, None
    if args.only:
        unknown = set(args.only) - {s.name for s in specs}
        if unknown:
            parser.error(f"unknown names: {sorted(unknown)}; known: {[s.name for s in specs]}")
        specs = [s for s in specs if s.name in args.only]
    print(f"torch {torch.__version__}, onnx {onnx.__version__}; writing {len(specs)} export(s) to {out}", flush=True)
    failures = run_specs(specs, out, limit, args.keep_going, cases=args.tiny)
    if args.tiny and not args.only and args.out is None:
        write_provenance(MODELS_DIR / "PROVENANCE.md")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
