"""Does a model keep a dim photo dim? Validation photos darkened in linear light (a dim indoor scene, normally
exposed: the target stays dim), under camera noise, restored by each weights folder: PSNR against the dim photo,
the output's brightness against the target's, and the share of local cells the embedding calls low light.

    python -m lab.exposure --weights assets/weights runs/override/tiny_v5_step_001000
    python -m lab.exposure --weights W --gains 0.3 0.15 0.08 --strength 0.9 --images 12 --out docs/v2/exposure.md
    python -m lab.exposure --treat-as noise      # as the app's "Treat as" restores: every router sees the class

A low-light restoration brightens; a denoiser must not. Where the two meet (a dim photo whose darkest regions look
like a dark capture), the local cue may call regions low light and route them to brightening. ``--gains`` are
linear-light factors (0.08 gives an sRGB mean of about 0.12, as the dim SIDD photo 08 has). Centre crops of the
validation split (``load_clean_images(split="val")``); the test sets only report.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

SIDE = 256  # px: the centre crop restored


def centre_crop(photo: np.ndarray, side: int = SIDE) -> np.ndarray:
    """The centre crop (``lab.routing_check.centre_crop``) as float32 in [0, 1]."""
    from lab.routing_check import centre_crop as crop

    return crop(photo, side).astype(np.float32) / 255.0


def dim_noisy(clean: np.ndarray, gain: float, strength: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(target, input): ``clean`` at ``gain`` x its linear light, and that under camera noise of ``strength``."""
    from slerir.camera import camera_noise, to_linear, to_srgb

    target = to_srgb(to_linear(clean) * np.float32(gain)).astype(np.float32)
    noisy, _ = camera_noise(target, strength, np.random.default_rng(seed))
    return target, noisy


def measure(restorer, images: list[np.ndarray], gains: list[float], strength: float,
            treat_as: str | None = None) -> dict[str, dict]:
    """{gain: {input_psnr, psnr, worst_gain, brightness, brightness_max, lowlight_cells, classes}}; brightness is
    the output's mean over the target's (1 keeps the exposure), lowlight_cells the share of local cells whose
    nearest prototype is low light (the image's own, also with ``treat_as``)."""
    from slerir.metrics import psnr

    lowlight = restorer.classes.index("lowlight")
    out = {}
    for g in gains:
        rows = []
        for i, img in enumerate(images):
            target, noisy = dim_noisy(img, g, strength, seed=i)
            res = restorer.restore(noisy, capture=True, treat_as=treat_as)
            cells = np.asarray(res.local_class_sims).argmax(0)
            rows.append((psnr(noisy, target), psnr(res.image, target), float(res.image.mean() / max(target.mean(), 1e-6)),
                         float((cells == lowlight).mean()), res.predicted_class))
        classes: dict[str, int] = {}
        for r in rows:
            classes[r[4]] = classes.get(r[4], 0) + 1
        out[f"{g:g}"] = {"input_psnr": float(np.mean([r[0] for r in rows])), "psnr": float(np.mean([r[1] for r in rows])),
                         "worst_gain": float(min(r[1] - r[0] for r in rows)),
                         "brightness": float(np.mean([r[2] for r in rows])), "brightness_max": float(max(r[2] for r in rows)),
                         "lowlight_cells": float(np.mean([r[3] for r in rows])), "classes": classes}
    return out


def table(results: dict[str, dict[str, dict]], strength: float, n: int, treat_as: str | None = None) -> str:
    how = f", restored as {treat_as} (`--treat-as {treat_as}`)" if treat_as else ""
    lines = [f"Dim photos (linear gain) under camera noise at strength {strength:g}, {n} validation crops of {SIDE} px{how}",
             "", "| weights | gain | PSNR in -> out (dB) | worst gain | brightness out / target (max) | low-light cells | called |",
             "|---|---|---|---|---|---|---|"]
    for w, per in results.items():
        for g, r in per.items():
            called = ", ".join(f"{k} {v}" for k, v in sorted(r["classes"].items(), key=lambda kv: -kv[1]))
            lines.append(f"| `{w}` | {g} | {r['input_psnr']:.2f} -> {r['psnr']:.2f} | {r['worst_gain']:+.2f} | "
                         f"{r['brightness']:.3f} ({r['brightness_max']:.3f}) | {100 * r['lowlight_cells']:.0f}% | {called} |")
    return "\n".join(lines) + "\n\n`python -m lab.exposure`\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", nargs="+", default=["assets/weights"])
    ap.add_argument("--gains", nargs="+", type=float, default=[0.3, 0.15, 0.08], help="linear-light factors in (0, 1]")
    ap.add_argument("--strength", type=float, default=0.9, help="camera-noise strength in [0, 1]")
    ap.add_argument("--images", type=int, default=12, help="validation photos (of 32)")
    ap.add_argument("--treat-as", default=None, help="restore every photo as this class (Restorer.restore(treat_as=...))")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", default=None, help="also write the table here (.md) and its JSON beside it")
    args = ap.parse_args(argv)
    if args.images < 1 or not all(0 < g <= 1 for g in args.gains) or not 0 <= args.strength <= 1:
        print("error: --images must be >= 1, every gain in (0, 1] and --strength in [0, 1]", file=sys.stderr)
        return 2
    from lab.common import emit, load_restorer
    from slerir.data.images import load_clean_images

    try:
        photos = load_clean_images(args.data_root, split="val")[: args.images]
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    images = [centre_crop(p) for p in photos]
    results = {}
    for w in args.weights:
        r = load_restorer(w)
        if r is None:
            return 2
        if args.treat_as is not None and args.treat_as not in r.classes:
            print(f"error: --treat-as must be one of {', '.join(r.classes)}", file=sys.stderr)
            return 2
        results[w] = measure(r, images, args.gains, args.strength, args.treat_as)
    emit(table(results, args.strength, len(images), args.treat_as), results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
