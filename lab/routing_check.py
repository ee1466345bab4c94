"""Does the routing decide? Per routed layer: the median top-1 weight, expert-kind NMI, and the split
of two-region composites (issue #30's routing targets; the model card's routing table).

    python -m lab.routing_check --weights assets/weights --out docs/routing_check.md

Images: ``--images`` validation photos (CBSD432 val split, never a test set), centre-cropped to
``--side`` px, each degraded with every kind at a mid strength (plus the clean photo), and composites
whose left half carries one kind and right half another (noise | haze, rain | low light, noise | rain,
haze | blur), made by degrading the whole photo twice and joining the halves.

Per layer:
    top1      median over cells (all single-kind images) of the largest routing weight: 0.5 under
              top-2 is a tie, 1.0 a single expert.
    nmi       NMI between each cell's top expert and the image's kind (``analysis.routing.nmi``).
    split     composites whose two halves (a quarter of the width next to the seam left out) have
              different majority top experts, out of all composites.
    oracle    the same split, but each half's experts read from the routing of the photo degraded
              whole with that half's kind: what the layer's experts allow when every cell routes as in
              a single-kind image (a pair whose kinds share an expert cannot split). ``split`` far
              below ``oracle`` means the composite's routing follows the image, not the region.
Targets (issue #30): top1 >= 0.75 in at least 6 of the 9 layers; mean NMI >= 0.5; at least 4 layers
split at least 3 of 4 composites (``split >= 0.75``).
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from lab.common import emit, load_restorer

KIND_STRENGTH = 0.5
COMPOSITES = (("noise", "haze"), ("rain", "lowlight"), ("noise", "rain"), ("haze", "blur"))
PROBE_IMAGES, PROBE_SIDE = 8, 192  # the probe's validation photos and their centre-crop side (px)


def centre_crop(img: np.ndarray, side: int) -> np.ndarray:
    """The centre ``side`` x ``side`` crop (smaller sides kept), dtype unchanged."""
    h, w = img.shape[:2]
    s = min(side, h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return img[y:y + s, x:x + s]


def probe_photos(data_root: str | None = None, images: int = PROBE_IMAGES, side: int = PROBE_SIDE) -> list[np.ndarray]:
    """The first ``images`` validation photos (never a test set), centre-cropped to ``side`` px: what
    :func:`probe_images` degrades. Raises FileNotFoundError without the datasets."""
    from slerir.data import load_clean_images

    return [centre_crop(p, side) for p in load_clean_images(data_root, "val")[:images]]


def probe_images(photos: list[np.ndarray], seed: int = 0) -> tuple[list[tuple[np.ndarray, str]], list[tuple[np.ndarray, str, str]]]:
    """Single-kind images [(float image, kind)] and composites [(image, left kind, right kind)]."""
    from slerir.degradations import KINDS, DegradationSpec, degrade

    singles, comps = [], []
    for i, ph in enumerate(photos):
        singles.append((ph.astype(np.float32) / 255.0, "clean"))
        full = {}
        for j, kind in enumerate(KINDS):
            full[kind] = degrade(ph, [DegradationSpec(kind, strength=KIND_STRENGTH)], seed=[seed, i, j]).image
            singles.append((full[kind], kind))
        w = ph.shape[1]
        for a, b in COMPOSITES:
            comps.append((np.concatenate([full[a][:, : w // 2], full[b][:, w // 2:]], axis=1), a, b))
    return singles, comps


def _halves(em: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left and right half of an expert map, a quarter of the width around the seam left out."""
    w = em.shape[1]
    q = max(1, w // 8)
    return em[:, : w // 2 - q].ravel(), em[:, w // 2 + q:].ravel()


def _majority(cells: np.ndarray, e: int) -> int:
    return int(np.bincount(cells, minlength=e).argmax())


def layer_stats(restorer, singles, comps, fusion: str | None = None) -> list[dict]:
    """Per routed layer: name, level, top1, nmi, split, oracle (see the module docstring). ``fusion``:
    route with GLGF (None, the default), or with the global or the local cue alone (a diagnosis: which
    cue splits the composites?). The oracle needs ``singles`` and ``comps`` as ``probe_images`` makes
    them (each photo's clean and single-kind images in turn, then its composites)."""
    from analysis.routing import nmi

    classes = restorer.classes
    per_layer: dict[str, dict] = {}
    maps: dict[tuple[int, str], dict[str, np.ndarray]] = {}  # (photo, kind) -> layer -> expert map
    per_photo = len(singles) // max(1, len(comps) // len(COMPOSITES)) if comps else 0
    for i, (img, kind) in enumerate(singles):
        res = restorer.restore(img, capture=True, fusion=fusion)
        for lm in res.routing:
            d = per_layer.setdefault(lm.name, {"name": lm.name, "level": lm.level, "top1": [], "chosen": [], "kind": [],
                                               "splits": [], "oracle": []})
            d["top1"].append(lm.weights.max(0).ravel())
            d["chosen"].append(lm.expert_map.ravel())
            d["kind"].append(np.full(lm.expert_map.size, classes.index(kind)))
            if per_photo:
                maps.setdefault((i // per_photo, kind), {})[lm.name] = lm.expert_map
    for j, (img, a, b) in enumerate(comps):
        res = restorer.restore(img, capture=True, fusion=fusion)
        photo = j // len(COMPOSITES)
        for lm in res.routing:
            e = lm.weights.shape[0]
            left, right = _halves(lm.expert_map)
            d = per_layer[lm.name]
            d["splits"].append(int(_majority(left, e) != _majority(right, e)))
            if (photo, a) in maps and (photo, b) in maps:
                d["oracle"].append(int(_majority(_halves(maps[(photo, a)][lm.name])[0], e)
                                       != _majority(_halves(maps[(photo, b)][lm.name])[1], e)))
    rows = []
    for d in per_layer.values():
        rows.append({"name": d["name"], "level": int(d["level"]),
                     "top1": float(np.median(np.concatenate(d["top1"]))),
                     "nmi": float(nmi(np.concatenate(d["chosen"]), np.concatenate(d["kind"]))),
                     "split": float(np.mean(d["splits"])) if d["splits"] else float("nan"),
                     "oracle": float(np.mean(d["oracle"])) if d["oracle"] else float("nan")})
    return rows


def targets(rows: list[dict]) -> dict:
    decisive = sum(r["top1"] >= 0.75 for r in rows)
    split = sum(r["split"] >= 0.75 for r in rows)
    mean_nmi = float(np.mean([r["nmi"] for r in rows]))
    return {"decisive_layers": int(decisive), "mean_nmi": mean_nmi, "split_layers": int(split),
            "met": bool(decisive >= 6 and mean_nmi >= 0.5 and split >= 4)}


def to_markdown(results: dict) -> str:
    lines = [f"# Routing check: `{results['command']}`", ""]
    for w, r in results["weights"].items():
        t = r["targets"]
        lines += [f"## {w}", "",
                  f"{r['images']} photos x {len(r['kinds'])} kinds (strength {KIND_STRENGTH}) and {r['composites']} composites, "
                  f"{r['side']} px. Decisive layers (top1 >= 0.75): {t['decisive_layers']} of {len(r['layers'])}; "
                  f"mean NMI {t['mean_nmi']:.3f}; layers splitting >= 3 of 4 composites: {t['split_layers']}; "
                  f"targets {'met' if t['met'] else 'NOT met'}.", "",
                  "| layer | level | median top-1 weight | NMI expert-kind | composite split | oracle split |", "|---|---|---|---|---|---|"]
        for row in r["layers"]:
            lines.append(f"| {row['name']} | {row['level']} | {row['top1']:.3f} | {row['nmi']:.3f} | {row['split']:.2f} | {row['oracle']:.2f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lab.routing_check", description=__doc__.split("\n")[0])
    ap.add_argument("--weights", nargs="+", default=["assets/weights"], help="weights folders")
    ap.add_argument("--images", type=int, default=PROBE_IMAGES, help="validation photos (CBSD432 val split)")
    ap.add_argument("--side", type=int, default=PROBE_SIDE, help="centre crop side in px")
    ap.add_argument("--data-root", default=None, help="datasets folder (default: $SLERIR_DATA or ../shared/datasets)")
    ap.add_argument("--scale-min", type=float, default=None,
                    help="diagnosis: put this floor under every router's scale (ModelConfig.router_scale_min) before "
                         "measuring, e.g. 10 on the first recipe's weights, whose scales collapsed to 0.05-0.45")
    ap.add_argument("--fusion", choices=["glgf", "global", "local"], default=None,
                    help="diagnosis: route with the global or the local cue alone instead of GLGF (the default)")
    ap.add_argument("--out", default=None, help="write a markdown table here and JSON beside it")
    args = ap.parse_args(argv)
    if args.images < 1 or args.side < 32 or (args.scale_min is not None and args.scale_min < 0):
        print("error: --images must be >= 1, --side >= 32 and --scale-min >= 0", file=sys.stderr)
        return 2
    try:
        photos = probe_photos(args.data_root, args.images, args.side)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    singles, comps = probe_images(photos)
    results = {"command": "python -m lab.routing_check " + " ".join(argv if argv is not None else sys.argv[1:]), "weights": {}}
    for w in args.weights:
        restorer = load_restorer(w)
        if restorer is None:
            return 2
        if args.scale_min is not None:
            for i in range(len(restorer.model.routed_blocks())):
                restorer.model.router(i).scale_min = float(args.scale_min)
        rows = layer_stats(restorer, singles, comps, args.fusion)
        results["weights"][w] = {"layers": rows, "targets": targets(rows), "images": len(photos), "side": args.side,
                                 "kinds": sorted({k for _, k in singles}), "composites": len(comps)}
    emit(to_markdown(results), results, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
