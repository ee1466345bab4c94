"""Restore images from the command line.

    python -m slerir.restore IN.png OUT.png [--weights assets/weights]
    python -m slerir.restore IN_FOLDER OUT_FOLDER     # every image, same names, written as PNG
    python -m slerir.restore IN.png OUT.png --device cuda   # on a GPU (default auto: CUDA when available)

IN and OUT are both files or both folders. Large images are tiled (bounded memory). Output is
always lossless PNG; in folder mode an existing output is kept unless --overwrite. By default each
image is restored with the mirror self-ensemble (``--ensemble none``: a single pass, half the time).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .checkpoint import CheckpointError
from .imaging import IMAGE_EXTENSIONS, ImageError, save_png
from .inference import OptionError, Restorer, parse_strength
from .paths import cli_weights


SHOWN_CLASS_SHARE = 0.1  # besides the recognised class, the line names every class at least this probable


def class_summary(classes, probs) -> str:
    """The recognised class, then any other at ``SHOWN_CLASS_SHARE`` or more, as "blur 52%, haze 42%"
    (a close second tells which other degradation's experts took part)."""
    order = sorted(range(len(classes)), key=lambda i: -float(probs[i]))
    shown = [i for i in order if i == order[0] or probs[i] >= SHOWN_CLASS_SHARE]
    return ", ".join(f"{classes[i]} {100 * float(probs[i]):.0f}%" for i in shown)


def _strength(text: str) -> float | str:
    """--strength: 'auto' or a number in [0, 1] (argparse reports anything else as a usage error)."""
    try:
        return parse_strength(text)
    except OptionError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _restore_one(restorer: Restorer, src: Path, dst: Path, args) -> str:
    res = restorer.restore(src, capture=False, top_k=args.top_k, treat_as=args.treat_as, strength=args.strength)
    save_png(res.image, dst)
    return f"{src.name} -> {dst} [{class_summary(res.classes, res.class_probs)}, {res.seconds:.2f}s, {res.tiles} tile(s)]"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Restore an image or a folder of images with SLER-IR.")
    ap.add_argument("input", type=Path)
    ap.add_argument("output", type=Path)
    ap.add_argument("--weights", default=None,
                    help="weights folder or .safetensors (default: $SLERIR_WEIGHTS, else ./assets/weights)")
    ap.add_argument("--top-k", type=int, default=None)
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--treat-as", default=None, help="restore as this degradation (noise, rain, haze, blur, lowlight) "
                    "instead of the recognised one")
    ap.add_argument("--strength", default=1.0, type=_strength, help="share of the change to keep, 0..1, or 'auto' (1 - P(clean): a "
                    "photo the model takes for clean comes back as it was)")
    ap.add_argument("--ensemble", choices=["mirror", "x8", "none"], default="mirror",
                    help="self-ensemble: mirror (default: the image and its mirror averaged, 2x the time), "
                         "x8 (all rotations/mirrors) or none (one pass)")
    ap.add_argument("--device", default="auto",
                    help="auto (default: CUDA when available, else CPU), cpu, cuda or cuda:N")
    ap.add_argument("--overwrite", action="store_true")
    a = ap.parse_args(argv)
    if not a.input.exists():
        print(f"error: {a.input} does not exist", file=sys.stderr)
        return 2
    try:
        restorer = Restorer.from_pretrained(cli_weights(a.weights), tile=a.tile, device=a.device,
                                            ensemble=None if a.ensemble == "none" else a.ensemble)
    except (CheckpointError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if a.input.is_dir():
        if a.output.exists() and not a.output.is_dir():
            print(f"error: input is a folder, so output must be a folder too ({a.output} is a file)", file=sys.stderr)
            return 2
        a.output.mkdir(parents=True, exist_ok=True)
        files = sorted(f for f in a.input.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            print(f"error: no images in {a.input}", file=sys.stderr)
            return 2
        failed = 0
        for i, f in enumerate(files, 1):
            dst = a.output / (f.stem + ".png")
            if dst.exists() and not a.overwrite:
                print(f"[{i}/{len(files)}] {dst} exists, skipped (use --overwrite)")
                continue
            try:
                print(f"[{i}/{len(files)}] " + _restore_one(restorer, f, dst, a), flush=True)
            except (ImageError, ValueError) as e:
                failed += 1
                print(f"[{i}/{len(files)}] {f.name}: skipped: {e}", file=sys.stderr)
        return 1 if failed else 0
    if a.output.is_dir():
        print(f"error: input is a file, so output must be a file path, not the folder {a.output}", file=sys.stderr)
        return 2
    if a.output.suffix.lower() != ".png":
        print(f"error: output is written as lossless PNG: name it *.png (got {a.output.name})", file=sys.stderr)
        return 2
    a.output.parent.mkdir(parents=True, exist_ok=True)
    try:
        print(_restore_one(restorer, a.input, a.output, a))
    except (ImageError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
