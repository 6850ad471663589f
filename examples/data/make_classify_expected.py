#!/usr/bin/env python3
"""Make the classify_image fixtures in examples/data/ (run once; the outputs are committed).

- pattern.png: a synthetic 96x64 RGB picture (gradients, a sine texture, a disc, stripes) drawn
  with numpy from a seed;
- pattern.jpg: the same picture as a quality-95 JPEG;
- classify_input.npy, classify_input_jpg.npy: pattern.png and pattern.jpg (decoded by Pillow)
  through torchvision's standard transform for the ResNet fixture's 32x32 input (Resize(37)
  bilinear, CenterCrop(32), ToTensor, Normalize(ImageNet mean/std)); 37 = round(32 * 256 / 224),
  the 256/224 ratio of Resize(256) + CenterCrop(224);
- classify_expected_probs.npy: onnxruntime's softmax(logits) of the fixture on that tensor.

Needs torch, torchvision, onnxruntime and Pillow (not the test environment's):

    python examples/data/make_classify_expected.py
"""

import pathlib

import numpy as np
import onnxruntime as ort
from PIL import Image
from torchvision import transforms

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "data"
MODEL = ROOT / "models" / "fixtures" / "resnet_ts17" / "model.onnx"
CROP = 32
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def pattern(seed=38, w=96, h=64):
    """Gradients, a sine texture, a disc and stripes, their parameters drawn from `seed` (38: the
    seed among 0..59 whose top-6 probabilities are furthest apart, so that the top-5 order does not
    hang on the last bit of the resize)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    c = rng.uniform(0, 1, (3, 4))
    r = 255 * (c[0, 0] * x / (w - 1) + c[0, 1] * (1 - y / (h - 1))) / (c[0, 0] + c[0, 1])
    g = 255 * (c[1, 0] * y / (h - 1) + c[1, 1] * (1 - x / (w - 1))) / (c[1, 0] + c[1, 1])
    b = 127.5 + 127.5 * np.sin(x / (3 + 10 * c[2, 0])) * np.cos(y / (3 + 10 * c[2, 1]))
    cx, cy, rad = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h, rng.uniform(0.15, 0.35) * h
    disc = (x - cx) ** 2 + (y - cy) ** 2 < rad**2
    r[disc], g[disc], b[disc] = rng.integers(0, 256, 3)
    stripes = (x < rng.uniform(0.2, 0.4) * w) & ((y // int(rng.integers(2, 6))) % 2 == 0)
    r[stripes], g[stripes], b[stripes] = rng.integers(0, 256, 3)
    return Image.fromarray(np.stack([r, g, b], -1).round().astype(np.uint8), "RGB")


def main():
    img = pattern()
    img.save(DATA / "pattern.png", optimize=True)
    img.save(DATA / "pattern.jpg", quality=95)
    tf = transforms.Compose([
        transforms.Resize(round(CROP * 256 / 224), interpolation=transforms.InterpolationMode.BILINEAR),
        transforms.CenterCrop(CROP),
        transforms.ToTensor(),
        transforms.Normalize(MEAN, STD),
    ])
    for name, out in [("pattern.jpg", "classify_input_jpg.npy"), ("pattern.png", "classify_input.npy")]:
        x = tf(Image.open(DATA / name).convert("RGB")).unsqueeze(0).numpy().astype(np.float32)
        np.save(DATA / out, x)
    sess = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    (logits,) = sess.run(None, {sess.get_inputs()[0].name: x})
    z = logits[0].astype(np.float64)
    p = np.exp(z - z.max())
    p /= p.sum()
    np.save(DATA / "classify_expected_probs.npy", p.astype(np.float32))
    top = np.argsort(-p, kind="stable")[:5]
    print("top-5:", [(int(i), round(float(p[i]), 6)) for i in top])


if __name__ == "__main__":
    main()
