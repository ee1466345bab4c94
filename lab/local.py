"""Where the local embedding puts an image: per-class shares of its local cue, beside the global one.

``python -m lab.local photo.png --target sharp.png --weights assets/weights runs/x/weights`` prints,
for each weights folder, the global class probabilities, the share of local cells whose nearest
prototype is each class (over the whole image and, with ``--region``, inside a window of it), the
mean GLGF global share alpha, and with ``--target`` the PSNR of the input and of the single-pass
restoration, also after a per-channel tone fit to the target (``tone_fitted``: what a restoration loses there
is not a global brightness or contrast change) and split by spatial frequency (``band_psnr``: a tone changed
in regions shows in the low band, lost or invented detail in the high band). ``--stats-scale F`` also
restores with the global statistics pooled over a copy of the image resized by F (``restore_scaled_stats``):
does the whole-image decision depend on the scale the photo was taken at? It answers "is this region
being treated as haze?" without opening the app.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from slerir.config import CLASSES


def parse_region(text: str) -> tuple[float, float, float, float]:
    """``"y0:y1,x0:x1"`` in fractions of the image (e.g. ``"0.667:1,0:1"``, the bottom third) -> a tuple."""
    try:
        rows, cols = text.split(",")
        y0, y1 = (float(v) for v in rows.split(":"))
        x0, x1 = (float(v) for v in cols.split(":"))
    except ValueError:
        raise ValueError(f"region must look like 'y0:y1,x0:x1' in fractions of the image, got {text!r}") from None
    if not (0.0 <= y0 < y1 <= 1.0 and 0.0 <= x0 < x1 <= 1.0):
        raise ValueError(f"region {text!r}: need 0 <= y0 < y1 <= 1 and 0 <= x0 < x1 <= 1")
    return y0, y1, x0, x1


def local_shares(local_class_sims: np.ndarray, region: tuple[float, float, float, float] | None = None) -> dict[str, float]:
    """Share of local cells (K, h, w) whose most similar prototype is each class, optionally in ``region``."""
    lab = np.asarray(local_class_sims).argmax(0)
    if region is not None:
        h, w = lab.shape
        y0, y1, x0, x1 = region
        lab = lab[int(round(y0 * h)): max(int(round(y1 * h)), int(round(y0 * h)) + 1),
                  int(round(x0 * w)): max(int(round(x1 * w)), int(round(x0 * w)) + 1)]
    counts = np.bincount(lab.ravel(), minlength=len(CLASSES))
    return {c: float(counts[i] / lab.size) for i, c in enumerate(CLASSES)}


def tone_fitted(image: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``image`` (H, W, 3) with each channel mapped by the least-squares affine fit ``a * x + b`` to ``target``,
    clipped to [0, 1]: its PSNR against the target no longer counts a global brightness or contrast error."""
    out = np.empty_like(image, dtype=np.float32)
    for c in range(image.shape[-1]):
        x, y = image[..., c].astype(np.float64).ravel(), target[..., c].astype(np.float64).ravel()
        a, b = np.polyfit(x, y, 1) if x.std() > 1e-8 else (0.0, y.mean())
        out[..., c] = a * image[..., c] + b
    return np.clip(out, 0.0, 1.0)


BAND_SIGMA = 3.0  # px: band_psnr's split, Gaussian sigma of the low band


def band_psnr(image: np.ndarray, target: np.ndarray, sigma: float = BAND_SIGMA) -> tuple[float, float]:
    """PSNR (dB) of ``image`` against ``target`` (H, W, 3 in [0, 1]) in two bands: the low band (each
    Gaussian-smoothed with ``sigma`` px: tone, shading, a region made darker) and the high band (the rest:
    edges, texture, noise). A tone fit over the whole image cannot see a tone changed in one region;
    the low band does."""
    from scipy.ndimage import gaussian_filter

    def psnr_of(err: np.ndarray) -> float:
        return float(10 * np.log10(1.0 / max(float(np.mean(err ** 2)), 1e-12)))

    d = image.astype(np.float64) - target.astype(np.float64)
    low = gaussian_filter(d, (sigma, sigma, 0), mode="reflect")
    return psnr_of(low), psnr_of(d - low)


def check_stats_scale(scale: float) -> None:
    """ValueError unless ``scale`` is in (0, 4], the factors :func:`restore_scaled_stats` takes."""
    if not 0 < scale <= 4:
        raise ValueError(f"--stats-scale must be in (0, 4], got {scale}")


def scaled_stats(restorer, image: np.ndarray, scale: float) -> tuple:
    """The global statistics ((feature sum, count), as ``SLERIR.global_stats`` returns them) of a copy of
    ``image`` (H, W, 3) resized by ``scale`` (area average below 1, bicubic above; at least 8 px a side) and
    padded as the restorer pads an image of that size."""
    import torch.nn.functional as F

    from lab.passthrough import as_batch, stats_of

    check_stats_scale(scale)
    h, w = image.shape[:2]
    size = (max(8, round(h * scale)), max(8, round(w * scale)))
    t = as_batch(image)
    copy = F.interpolate(t, size=size, mode="area") if scale < 1 else F.interpolate(t, size=size, mode="bicubic")
    return stats_of(restorer, copy.clamp(0, 1)[0].permute(1, 2, 0).numpy())


def restore_scaled_stats(restorer, image: np.ndarray, scale: float) -> tuple[np.ndarray, str]:
    """Restore ``image`` (H, W, 3) in one pass with the global statistics pooled over a copy resized by
    ``scale`` (:func:`scaled_stats`) instead of the image itself. Returns (image, predicted class)."""
    from lab.passthrough import restore_with_global_stats

    return restore_with_global_stats(restorer, image, scaled_stats(restorer, image, scale))


def _fmt(shares: dict[str, float]) -> str:
    return ", ".join(f"{c} {100 * v:.0f}%" for c, v in sorted(shares.items(), key=lambda kv: -kv[1]) if v >= 0.005)


def describe(restorer, image: np.ndarray, target: np.ndarray | None = None,
             region: tuple[float, float, float, float] | None = None, stats_scale: float | None = None) -> dict:
    """The local/global picture of one image under one ``slerir.inference.Restorer`` (single pass);
    with ``stats_scale`` also the class (and with a target the PSNRs) under :func:`restore_scaled_stats`."""
    from slerir.metrics import psnr

    res = restorer.restore(image, capture=True)
    out = {"global": {c: float(p) for c, p in zip(res.classes, res.class_probs)},
           "local": local_shares(res.local_class_sims), "alpha": float(np.mean(res.alpha))}
    if region is not None:
        out["local_region"] = local_shares(res.local_class_sims, region)
    if target is not None:
        out["psnr_input"], out["psnr_output"] = float(psnr(image, target)), float(psnr(res.image, target))
        out["psnr_input_toned"] = float(psnr(tone_fitted(image, target), target))
        out["psnr_output_toned"] = float(psnr(tone_fitted(res.image, target), target))
        out["bands_input"], out["bands_output"] = band_psnr(image, target), band_psnr(res.image, target)
    if stats_scale is not None:
        scaled, out["scaled_class"] = restore_scaled_stats(restorer, image, stats_scale)
        if target is not None:
            out["psnr_scaled"], out["bands_scaled"] = float(psnr(scaled, target)), band_psnr(scaled, target)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lab.local", description=__doc__.split("\n\n")[0])
    ap.add_argument("image", help="degraded image (PNG, JPEG, ...)")
    ap.add_argument("--target", help="its clean reference, for PSNR (same size)")
    ap.add_argument("--weights", nargs="+", default=["assets/weights"], help="weights folders (default assets/weights)")
    ap.add_argument("--region", help="window 'y0:y1,x0:x1' in fractions of the image, e.g. 0.667:1,0:1")
    ap.add_argument("--stats-scale", type=float, help="also restore with the global statistics of a copy resized by "
                    "this factor (e.g. 0.5)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    args = ap.parse_args(argv)

    from slerir.imaging import ImageError, load_image
    from slerir.inference import Restorer

    try:
        region = parse_region(args.region) if args.region else None
        if args.stats_scale is not None:
            check_stats_scale(args.stats_scale)
        image = load_image(args.image)
        target = load_image(args.target) if args.target else None
        if target is not None and target.shape != image.shape:
            raise ValueError(f"target {target.shape[1]}x{target.shape[0]} differs from the image's "
                             f"{image.shape[1]}x{image.shape[0]}")
        for w in args.weights:
            if not Path(w).exists():
                raise FileNotFoundError(f"no weights at {w}")
    except (ImageError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    for w in args.weights:
        d = describe(Restorer.from_pretrained(w), image, target, region, args.stats_scale)
        print(f"{w}:")
        print(f"  global: {_fmt(d['global'])}")
        print(f"  local (whole image): {_fmt(d['local'])}; mean alpha (global share) {d['alpha']:.2f}")
        if region is not None:
            print(f"  local ({args.region}): {_fmt(d['local_region'])}")
        if target is not None:
            print(f"  PSNR: input {d['psnr_input']:.2f} dB, output {d['psnr_output']:.2f} dB (single pass)")
            print(f"  PSNR after a per-channel tone fit to the target: input {d['psnr_input_toned']:.2f} dB, "
                  f"output {d['psnr_output_toned']:.2f} dB")
            (li, hi), (lo, ho) = d["bands_input"], d["bands_output"]
            print(f"  PSNR by band (Gaussian sigma {BAND_SIGMA:g} px): low input {li:.2f} dB, output {lo:.2f} dB; "
                  f"high input {hi:.2f} dB, output {ho:.2f} dB")
        if args.stats_scale is not None:
            line = f"  with the global statistics of a copy scaled x{args.stats_scale:g}: global class {d['scaled_class']}"
            if target is not None:
                ls, hs = d["bands_scaled"]
                line += f", output {d['psnr_scaled']:.2f} dB (low band {ls:.2f}, high band {hs:.2f})"
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
