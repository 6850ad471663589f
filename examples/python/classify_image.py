"""Image classification with a ResNet export from Python: decode a PNG or JPEG with Pillow,
resize and center-crop it like torchvision's standard transform (to the model's input size),
normalise with the ImageNet mean and std, run, print the five most likely classes.

    python examples/python/classify_image.py [IMAGE] [--model MODEL.onnx] [--shape batch=1]

The same steps as examples/src/bin/classify_image.rs; Pillow's resize is torchvision's, so the
tensor is the one torchvision would make.
"""

import argparse
import pathlib
import tempfile

import numpy as np
from PIL import Image

import infc

ROOT = pathlib.Path(__file__).resolve().parents[2]
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def preprocess(path, height, width):
    """torchvision's Resize(short) + CenterCrop((height, width)) + ToTensor + Normalize, where
    short = round(min(height, width) * 256 / 224) (256 for a 224 crop)."""
    img = Image.open(path).convert("RGB")
    w, h = img.size
    short = round(min(height, width) * 256 / 224)
    size = (short, int(short * h / w)) if w <= h else (int(short * w / h), short)
    if size[0] < width or size[1] < height:
        raise SystemExit(
            f"{path}: the image resized to {size[0]}x{size[1]} is smaller than the"
            f" {width}x{height} crop"
        )
    resized = img.resize(size, Image.BILINEAR)
    top, left = round((size[1] - height) / 2), round((size[0] - width) / 2)
    x = np.asarray(resized, dtype=np.float32)[top : top + height, left : left + width] / 255.0
    x = (x - MEAN) / STD
    return x.transpose(2, 0, 1)[None].astype(np.float32), (w, h), size


def main():
    p = argparse.ArgumentParser()
    p.add_argument("image", nargs="?", default=str(ROOT / "examples/data/pattern.png"))
    p.add_argument("--model", default=str(ROOT / "models/fixtures/resnet_ts17/model.onnx"))
    p.add_argument("--shape", default="batch=1", help="infc shape bindings, comma-separated")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        plan = infc.compile(a.model, f"{d}/m.plan", shapes=a.shape.split(","))
        s = infc.Session(plan, load="copy")
    inp = s.get_inputs()[0]
    if len(inp.shape) != 4 or inp.shape[:2] != [1, 3]:
        raise SystemExit(f"{a.model}: input '{inp.name}' is {inp.shape}, not [1, 3, height, width]")
    x, (w, h), (rw, rh) = preprocess(a.image, inp.shape[2], inp.shape[3])
    (logits,) = s.run(None, {inp.name: x})
    z = logits.reshape(-1).astype(np.float64)
    prob = np.exp(z - z.max())
    prob /= prob.sum()
    crop = f"{inp.shape[3]}x{inp.shape[2]}"
    print(f"{a.image}: {w}x{h}, resized to {rw}x{rh}, center {crop} crop; {z.size} classes")
    for c in np.argsort(-prob, kind="stable")[:5]:
        print(f"class {c}: p = {prob[c]:.6f}")


if __name__ == "__main__":
    main()
