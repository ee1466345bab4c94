"""How far a tiled restoration is from the whole-image one, per tile overlap (seams on flat regions).

    python benchmarks/tile_seams.py                         # shipped weights, overlaps 32,64,96,128
    python benchmarks/tile_seams.py --overlaps 32,96 --size 720x1280
    python benchmarks/tile_seams.py --image ../shared/datasets/test/GoPro_examples/blur/Istanbul_1.png

The input is scikit-image's ``coffee`` photo resized to ``--size`` and blurred with our own
degradation code (``slerir.degradations.add_blur``, fixed seed): a large image with flat regions, where
a seam shows. The whole image is restored in one pass (tile larger than the image), then with 512-px
tiles and each overlap. Prints the PSNR of the tiled result against the whole one and the worst
column/row mean absolute difference (a seam is a column or row that differs from its neighbours).
``--image`` measures any photo instead (a report, never a choice of checkpoints).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slerir.degradations import add_blur  # noqa: E402
from slerir.imaging import load_image  # noqa: E402
from slerir.inference import Restorer  # noqa: E402
from slerir.metrics import psnr  # noqa: E402


def blurred_coffee(h: int, w: int) -> np.ndarray:
    from skimage import data

    img = Image.fromarray(data.coffee()).resize((w, h), Image.BICUBIC)
    blurred = add_blur(np.asarray(img, np.float32) / 255.0, 0.5, np.random.default_rng(0))
    return (np.clip(blurred, 0, 1) * 255 + 0.5).astype(np.uint8)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="assets/weights")
    ap.add_argument("--overlaps", default="32,64,96,128")
    ap.add_argument("--size", default="720x1280", help="HxW of the generated test image")
    ap.add_argument("--image", help="measure this image instead of the generated one")
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.image:
        x = load_image(a.image)
        h, w = x.shape[:2]
        name = Path(a.image).name
    else:
        h, w = (int(v) for v in a.size.lower().split("x"))
        x = blurred_coffee(h, w)
        name = "blurred coffee"
    r = Restorer.from_pretrained(a.weights)
    whole = r.restore(x, capture=False, tile=max(h, w) + 64).image
    print(f"{h}x{w} {name}, tile {a.tile}, weights {a.weights}")
    print("| overlap | tiles | tiled vs whole PSNR | worst column mean abs diff | worst row mean abs diff |")
    print("|---|---|---|---|---|")
    for ov in (int(v) for v in a.overlaps.split(",")):
        r.overlap = ov
        res = r.restore(x, capture=False, tile=a.tile)
        d = np.abs(res.image - whole).mean(2)
        print(f"| {ov} | {res.tiles} | {psnr(res.image, whole):.2f} dB | {d.mean(0).max() * 255:.2f} / 255 | {d.mean(1).max() * 255:.2f} / 255 |")


if __name__ == "__main__":
    main()
