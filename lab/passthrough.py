"""How much a model changes photos that need no restoration.

    python -m lab.passthrough --weights assets/weights runs/tiny_v2/best [--out FILE.md]

Restores every ``clean_*.png`` of a folder (default: the shipped examples, generated from
scikit-image's data, no benchmark image) and prints, per weights and image, the PSNR of the output
against the input itself (high = left alone) and the class the embedding chose. A model that
brightens or sharpens a clean photo shows here, whatever its benchmark table says. ``--jpeg Q``
first compresses every photo as JPEG at quality Q (as a camera or a website delivers it) and scores
the output against that compressed photo; ``--half-chroma`` halves the colour resolution instead (as
JPEG's 4:2:0 does, without its blocks); ``--full-chroma A`` sharpens the colour (``full_chroma`` of
``slerir.data.augment``, amount A).
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

DEFAULT_FOLDER = Path(__file__).resolve().parent.parent / "assets" / "examples"


def as_batch(x: np.ndarray):
    """(H, W, 3) float image -> (1, 3, H, W) float32 tensor."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).permute(2, 0, 1)[None]


def restore_with_global_stats(restorer, x: np.ndarray, stats: tuple) -> tuple[np.ndarray, str]:
    """Restore ``x`` (H, W, 3) in one pass with the given global statistics ((feature sum, count), as
    ``Restorer.global_stats`` returns them) instead of its own. Returns (image, predicted class)."""
    res = restorer.restore(x, capture=False, global_stats=stats, tile=math.inf)
    return res.image, res.predicted_class


def stats_of(restorer, image: np.ndarray) -> tuple:
    """The global statistics of ``image`` (H, W, 3) as a whole photo: padded as the restorer pads it, one pass."""
    return restorer.global_stats(image, tile=math.inf)


def restore_with_stats_from(restorer, x: np.ndarray, box: Sequence[int]) -> tuple[np.ndarray, str]:
    """Restore ``x`` (H, W, 3) in one pass with the model's global statistics taken from
    ``x[y0:y1, x0:x1]`` alone, ``box`` = (y0, y1, x0, x1), instead of the whole photo: which part of a
    photo drives a global decision. Returns (image, predicted class)."""
    y0, y1, x0, x1 = (int(v) for v in box)
    part = x[max(0, y0):y1, max(0, x0):x1]
    if min(part.shape[:2]) < 8:
        raise ValueError(f"statistics box {tuple(box)} leaves {tuple(part.shape[:2])} px of a {x.shape[0]}x{x.shape[1]} "
                         "image; it needs at least 8x8")
    return restore_with_global_stats(restorer, x, stats_of(restorer, part))


def change_chroma(x: np.ndarray, how: str, amount: float = 2.0) -> np.ndarray:
    """(H, W, 3) float image with its colour at half resolution ("half": Cb, Cr averaged over 2x2 blocks and
    interpolated back, as JPEG's 4:2:0 without its blocks) or sharpened ("full": ``full_chroma`` at ``amount``)."""
    from slerir.data.augment import from_ycc, full_chroma, to_ycc

    if how == "full":
        return full_chroma((np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8), amount).astype(np.float32) / 255
    if how != "half":
        raise ValueError(f"chroma must be 'half' or 'full', got {how!r}")
    import torch
    import torch.nn.functional as F

    y, cb, cr = to_ycc(np.asarray(x, np.float32))
    h, w = y.shape
    t = torch.from_numpy(np.stack([cb, cr]))[None]
    half = F.avg_pool2d(t, 2, ceil_mode=True)
    back = F.interpolate(half, scale_factor=2, mode="bilinear", align_corners=False)[0, :, :h, :w].numpy()
    return from_ycc(y, back[0], back[1])


def clean_photos(folder: str | Path = DEFAULT_FOLDER, jpeg_quality: int | None = None, chroma: str | None = None,
                 chroma_amount: float = 2.0) -> dict[str, np.ndarray]:
    """{name: image} of the clean_*.png photos of ``folder``, changed as :func:`passthrough_table` describes."""
    from slerir.imaging import load_image

    files = sorted(Path(folder).glob("clean_*.png"))
    if not files:
        raise FileNotFoundError(f"no clean_*.png images in {folder}")
    images = {f.stem: load_image(f) for f in files}
    if chroma is not None:
        images = {k: change_chroma(x, chroma, chroma_amount) for k, x in images.items()}
    if jpeg_quality is not None:
        from slerir.camera import jpeg

        if not 1 <= int(jpeg_quality) <= 100:
            raise ValueError(f"--jpeg must be a quality in 1..100, got {jpeg_quality}")
        images = {k: jpeg(x, int(jpeg_quality)) for k, x in images.items()}
    return images


def passthrough_scores(restorer, images: dict[str, np.ndarray],
                       stats_box: Sequence[int] | None = None) -> dict[str, tuple[float, str]]:
    """{name: (PSNR of the restored photo against itself, predicted class)} for one loaded ``Restorer``."""
    from slerir.metrics import psnr

    res = {}
    for name, x in images.items():
        if stats_box is None:
            out = restorer.restore(x, capture=False)
            res[name] = (psnr(out.image, x), out.predicted_class)
        else:
            y, cls = restore_with_stats_from(restorer, x, stats_box)
            res[name] = (psnr(y, x), cls)
    return res


def passthrough_table(weights: Sequence[str | Path], folder: str | Path = DEFAULT_FOLDER,
                      stats_box: Sequence[int] | None = None, jpeg_quality: int | None = None,
                      chroma: str | None = None, chroma_amount: float = 2.0) -> tuple[str, dict]:
    """Markdown table and {weights: {image: (psnr, predicted class)}} for the clean photos of ``folder``.

    ``stats_box``: restore with the global statistics of that box of each photo only
    (:func:`restore_with_stats_from`). ``jpeg_quality``: JPEG-compress each photo at that quality first
    (the output is then scored against the compressed photo). ``chroma``: "half" (colour at half resolution)
    or "full" (colour sharpened by ``chroma_amount``) before that."""
    from slerir.inference import Restorer

    images = clean_photos(folder, jpeg_quality, chroma, chroma_amount)
    res = {str(w): passthrough_scores(Restorer.from_pretrained(w), images, stats_box) for w in weights}
    head = "| image | " + " | ".join(f"`{w}`" for w in res) + " |"
    rows = [head, "|---|" + "---|" * len(res)]
    for name in images:
        rows.append(f"| {name} | " + " | ".join(f"{res[w][name][0]:.2f} dB ({res[w][name][1]})" for w in res) + " |")
    rows.append("| **mean** | " + " | ".join(f"{np.mean([v[0] for v in res[w].values()]):.2f} dB" for w in res) + " |")
    note = ("\nPSNR of the restored photo against the input itself (a model that leaves a clean photo alone scores "
            "high); in brackets the class the embedding chose. `python -m lab.passthrough`.\n")
    if stats_box is not None:
        y0, y1, x0, x1 = stats_box
        note += (f"Global statistics pooled over rows {y0}:{y1}, columns {x0}:{x1} of each photo only "
                 f"(`--stats-box {y0} {y1} {x0} {x1}`), one pass.\n")
    if chroma is not None:
        note += ("Each photo's colour at half resolution first (`--half-chroma`).\n" if chroma == "half" else
                 f"Each photo's colour sharpened first (`--full-chroma {chroma_amount:g}`).\n")
    if jpeg_quality is not None:
        note += f"Each photo JPEG-compressed at quality {int(jpeg_quality)} first (`--jpeg {int(jpeg_quality)}`).\n"
    return "\n".join(rows) + "\n" + note, res


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lab.passthrough", description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", nargs="+", default=["assets/weights"], help="one or more weights folders")
    ap.add_argument("--images", default=str(DEFAULT_FOLDER), help="folder holding clean_*.png")
    ap.add_argument("--out", default=None, help="also write the table to this Markdown file")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--stats-box", type=int, nargs=4, metavar=("Y0", "Y1", "X0", "X1"), default=None,
                    help="pool the global statistics over this box of each photo only (which part drives them)")
    ap.add_argument("--jpeg", type=int, default=None, metavar="Q",
                    help="JPEG-compress each photo at quality Q first, as cameras and websites deliver photos")
    ch = ap.add_mutually_exclusive_group()
    ch.add_argument("--half-chroma", action="store_true", help="halve each photo's colour resolution first (as 4:2:0)")
    ch.add_argument("--full-chroma", type=float, default=None, metavar="A",
                    help="sharpen each photo's colour first (slerir.data.augment.full_chroma, amount A)")
    args = ap.parse_args(argv)
    import torch

    from slerir.checkpoint import CheckpointError

    torch.set_num_threads(args.threads)
    try:
        chroma = "half" if args.half_chroma else "full" if args.full_chroma is not None else None
        table, _ = passthrough_table(args.weights, args.images, args.stats_box, args.jpeg, chroma,
                                     args.full_chroma if args.full_chroma is not None else 2.0)
    except (CheckpointError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(table)
    if args.out:
        Path(args.out).write_text(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
