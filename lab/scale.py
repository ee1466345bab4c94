"""Does pooling the global statistics at another scale help large images?

The model pools its global statistics (the global embedding and the per-channel conditioning) over the
whole image it restores. Our training photos are 481x321; a video frame or a phone photo is several times
larger and softer per pixel, and one diagnosis (docs/LOG.md) restored GoPro's ``Istanbul_1``
better with the statistics pooled over a half-size copy. ``python -m lab.scale --weights
assets/weights --n 24 --sides 768,512 --out scale.md`` asks the same of validation images
(``slerir.data.val_set_large``: whole photos enlarged 2-3x, soft per pixel; 2x2 mosaics of four photos,
crisp per pixel) under each policy:

- ``native``: the statistics of the image itself (what the restorer does);
- ``side:S``: pooled over a copy area-downscaled to a longer side of S px (images no larger: native);
- ``mix:S``: the mean of the native and the ``side:S`` pooled features.

It prints, per image set and degradation, the input's PSNR and each policy's (single pass), and writes
Markdown and JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

MODES = ("enlarged", "mosaic")


def parse_policy(text: str) -> tuple[str, int | None]:
    """``"native"``, ``"side:S"`` or ``"mix:S"`` (S >= 16 px) -> (kind, S)."""
    if text == "native":
        return "native", None
    kind, _, side = text.partition(":")
    if kind not in ("side", "mix") or not side.isdigit() or int(side) < 16:
        raise ValueError(f"policy must be 'native', 'side:S' or 'mix:S' with S >= 16 px, got {text!r}")
    return kind, int(side)


def pooled_stats(restorer, image: np.ndarray, policy: str) -> tuple:
    """The (feature sum, count) global statistics of ``image`` (H, W, 3) under ``policy``."""
    from lab.local import scaled_stats
    from lab.passthrough import stats_of

    kind, side = parse_policy(policy)
    longer = max(image.shape[:2])
    if kind == "native" or longer <= side:
        return stats_of(restorer, image)
    small = scaled_stats(restorer, image, side / longer)  # area-downscaled to a longer side of about S px
    if kind == "side":
        return small
    (a, na), (b, nb) = stats_of(restorer, image), small
    return (a / na + b / nb) / 2, 1


def restore_with_policy(restorer, image: np.ndarray, policy: str) -> tuple[np.ndarray, str]:
    """Restore ``image`` (H, W, 3) in one pass with its global statistics pooled under ``policy``.
    Returns (image, predicted class)."""
    from lab.passthrough import restore_with_global_stats

    return restore_with_global_stats(restorer, image, pooled_stats(restorer, image, policy))


def scale_results(restorer, samples: Sequence[dict], policies: Sequence[str], progress=None) -> dict:
    """{degradation: {"n", "input", policy: {"psnr", "recognised"}}} over ``samples`` (val_set_large dicts),
    plus "degraded": the same means over every degraded (not clean) sample. PSNR means in dB; a clean
    image's input PSNR is infinite and is left out ("input": None)."""
    from slerir.config import CLASSES
    from slerir.metrics import psnr

    rows: dict[str, dict] = {}
    for j, s in enumerate(samples):
        lq, gt = s["lq"].transpose(1, 2, 0), s["gt"].transpose(1, 2, 0)
        label = CLASSES[s["label"]]
        row = rows.setdefault(label, {"input": [], **{p: ([], []) for p in policies}})
        if label != "clean":
            row["input"].append(float(psnr(lq, gt)))
        for p in policies:
            out, cls = restore_with_policy(restorer, lq, p)
            row[p][0].append(float(psnr(out, gt)))
            row[p][1].append(cls == label)
        if progress:
            progress(j + 1, len(samples))

    def summary(group: list[dict]) -> dict:  # means over the images of these rows
        pooled = lambda key, i=None: [v for r in group for v in (r[key] if i is None else r[key][i])]
        return {"n": len(pooled(policies[0], 0)), "input": float(np.mean(pooled("input"))) if pooled("input") else None,
                **{p: {"psnr": float(np.mean(pooled(p, 0))), "recognised": float(np.mean(pooled(p, 1)))} for p in policies}}

    res = {label: summary([row]) for label, row in rows.items()}
    degraded = [r for label, r in rows.items() if label != "clean"]
    if degraded:
        res["degraded"] = summary(degraded)
    return res


def markdown(results: dict, policies: Sequence[str]) -> str:
    """One table per weights folder and image set: rows degradations, columns input and policies
    (PSNR dB, and the share recognised)."""
    lines = []
    for weights, by_mode in results.items():
        for mode, res in by_mode.items():
            lines += [f"### {weights}: {mode}", "",
                      "| degradation | n | input | " + " | ".join(policies) + " |",
                      "|---|---|---|" + "---|" * len(policies)]
            for label, r in res.items():
                name = f"**{label}**" if label == "degraded" else label
                inp = "-" if r["input"] is None else f"{r['input']:.2f}"
                cells = [f"{r[p]['psnr']:.2f} ({100 * r[p]['recognised']:.0f}%)" for p in policies]
                lines.append(f"| {name} | {r['n']} | {inp} | " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lab.scale", description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", nargs="+", default=["assets/weights"], help="weights folders (default assets/weights)")
    ap.add_argument("--n", type=int, default=24, help="images per set (cycling clean and each kind; default 24)")
    ap.add_argument("--sides", default="768,512", help="longer sides S of the side:S and mix:S policies (default 768,512)")
    ap.add_argument("--modes", default=",".join(MODES), help=f"image sets, of {MODES} (default both)")
    ap.add_argument("--data-root", default=None, help="datasets folder (default ../shared/datasets)")
    ap.add_argument("--out", help="write OUT (Markdown) and OUT with .json")
    args = ap.parse_args(argv)
    from slerir.data import val_set_large
    from slerir.imaging import ImageError
    from slerir.inference import Restorer

    try:
        sides = [int(v) for v in args.sides.split(",") if v.strip()]
        policies = ["native"] + [f"{k}:{s}" for s in sides for k in ("side", "mix")]
        for p in policies:
            parse_policy(p)
        modes = [m.strip() for m in args.modes.split(",") if m.strip()]
        if not modes or any(m not in MODES for m in modes):
            raise ValueError(f"--modes must name some of {MODES}, got {args.modes!r}")
        if args.n < 1:
            raise ValueError(f"--n must be at least 1, got {args.n}")
        sets = {m: val_set_large(args.data_root, n=args.n, mode=m) for m in modes}
        results = {}
        t0 = time.perf_counter()
        for w in args.weights:
            restorer = Restorer.from_pretrained(w)
            results[w] = {}
            for m, samples in sets.items():
                def progress(done, total, w=w, m=m):
                    print(f"\r{w} {m}: {done}/{total} images, {time.perf_counter() - t0:.0f} s", end="", file=sys.stderr, flush=True)
                results[w][m] = scale_results(restorer, samples, policies, progress)
                print(file=sys.stderr)
    except (ValueError, OSError, ImageError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    text = markdown(results, policies)
    print(text)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        command = "python -m lab.scale " + " ".join(argv if argv is not None else sys.argv[1:])
        out.write_text(f"`{command}`\n\nPSNR (dB) single pass, and in brackets the share of images whose global class is "
                       f"their degradation. Policies: native = the image's own statistics; side:S = pooled over a copy "
                       f"downscaled to a longer side of S px; mix:S = the mean of the two.\n\n{text}")
        out.with_suffix(".json").write_text(json.dumps({"command": command, "policies": policies, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
