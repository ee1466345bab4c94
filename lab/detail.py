"""Does a model remove the noise, or the photo's detail with it? White Gaussian noise at given sigmas over
validation photos, restored by each weights folder: the PSNR, the share of the photo's fine detail the output
keeps and the share of the noise it leaves behind.

    python -m lab.detail --weights assets/weights train_state/weights/23db6c7f3836
    python -m lab.detail --weights W --sigmas 15 25 50 --images 8 --out docs/v2/detail.md

Fine detail is what a Gaussian blur (sigma ``DETAIL_SIGMA`` px) takes away: ``d = x - blur(x)``. *Detail
kept* projects the output's detail onto the clean photo's, <d_out, d_clean> / <d_clean, d_clean>: 1 keeps
all of it, 0.5 half (an over-smoothing denoiser scores low). *Noise left* projects the output's error onto the
added noise, <out - clean, noisy - clean> / |noisy - clean|^2: 0 removes it all, 1 returns it. A CBSD68-like
score gap between two models comes with a gap in one or the other; this tells which. Only the validation split
of the training photos is used (``load_clean_images(split="val")``); the test sets only report.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

DETAIL_SIGMA = 1.5  # px: the Gaussian blur whose residual counts as fine detail


def fine_detail(img: np.ndarray, sigma: float = DETAIL_SIGMA) -> np.ndarray:
    """``img`` minus its Gaussian blur (per channel): the fine detail."""
    from scipy import ndimage

    img = np.asarray(img, dtype=np.float64)
    return img - ndimage.gaussian_filter(img, (sigma, sigma, 0))


def detail_kept(out: np.ndarray, clean: np.ndarray) -> float:
    """<d_out, d_clean> / <d_clean, d_clean> of the two images' fine detail (nan for a flat clean image)."""
    dc, do = fine_detail(clean), fine_detail(out)
    den = float((dc * dc).sum())
    return float((do * dc).sum() / den) if den > 0 else float("nan")


def noise_left(out: np.ndarray, clean: np.ndarray, noisy: np.ndarray) -> float:
    """<out - clean, noisy - clean> / |noisy - clean|^2: the share of the added noise the output keeps."""
    n = np.asarray(noisy, np.float64) - clean
    den = float((n * n).sum())
    return float(((np.asarray(out, np.float64) - clean) * n).sum() / den) if den > 0 else float("nan")


def measure(restorer, images: list[np.ndarray], sigmas: list[float]) -> dict[str, dict[str, float]]:
    """Per sigma: mean PSNR of input and output, detail kept and noise left over ``images`` (float [0, 1])."""
    from slerir.degradations import add_noise
    from slerir.metrics import psnr

    res = {}
    for sigma in sigmas:
        rows = []
        for i, clean in enumerate(images):
            noisy = add_noise(clean, rng=1000 + i, sigma=sigma)  # the library's white noise, seeded per photo
            out = restorer.restore(noisy, capture=False).image
            rows.append((psnr(noisy, clean), psnr(out, clean), detail_kept(out, clean), noise_left(out, clean, noisy)))
        a = np.nanmean(np.array(rows, dtype=np.float64), axis=0)
        res[f"{sigma:g}"] = {"input_psnr": float(a[0]), "psnr": float(a[1]), "detail_kept": float(a[2]),
                             "noise_left": float(a[3]), "n": len(images)}
    return res


def table(results: dict[str, dict[str, dict[str, float]]]) -> str:
    lines = ["| weights | sigma | input PSNR | PSNR | detail kept | noise left |", "|---|---|---|---|---|---|"]
    for w, per in results.items():
        for sigma, r in per.items():
            lines.append(f"| {w} | {sigma} | {r['input_psnr']:.2f} | {r['psnr']:.2f} | {r['detail_kept']:.3f} | "
                         f"{r['noise_left']:.3f} |")
    n = next((r["n"] for per in results.values() for r in per.values()), 0)
    lines.append("")
    lines.append(f"White Gaussian noise over {n} validation photos (`python -m lab.detail`); detail kept: the share of "
                 f"the clean photo's fine detail (minus a {DETAIL_SIGMA:g}-px blur) in the output; noise left: the share "
                 "of the added noise in the output's error.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", nargs="+", default=["assets/weights"])
    ap.add_argument("--sigmas", nargs="+", type=float, default=[15.0, 25.0])
    ap.add_argument("--images", type=int, default=8, help="validation photos (of 32)")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default=None, help="also write the table here (.md) and its JSON beside it")
    args = ap.parse_args(argv)
    if args.images < 1 or any(s <= 0 for s in args.sigmas):
        print("error: --images must be >= 1 and every sigma > 0", file=sys.stderr)
        return 2
    import torch

    from lab.common import emit, load_restorer
    from slerir.data.images import load_clean_images

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        photos = load_clean_images(args.data_root, split="val")[: args.images]
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    images = [p.astype(np.float32) / 255.0 for p in photos]
    results = {}
    for w in args.weights:
        r = load_restorer(w)
        if r is None:
            return 2
        results[w] = measure(r, images, args.sigmas)
    emit(table(results), results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
