"""Real photos: does a model recognise them and leave them no worse? (issue #30's real-photo targets)

    python -m lab.real_check --weights assets/weights runs/tiny_v2/val_weights/step_004000 --out docs/real_check.md

Reads ``$SLERIR_DATA/real`` (default ``../shared/datasets/real``; see its README): validation only,
never training. Per weights folder:

paired sets (input/ <-> target/): SIDD_samples (real smartphone noise) and Raindrop_pairs (drops on
    glass): mean PSNR of the input and of the output against the target, the mean gain, the worst
    image's gain, and how many images come back below their input.
no-reference sets (input/ only): the share of photos whose predicted class (global embedding) is the
    folder's kind: noise (RNI15, DND patches), rain (SIRR real rain, Raindrop real), haze (RIDCP),
    blur (SRN, Lai), low light (DICM, LIME); the predicted classes seen; the mean probability the model
    gives the folder's kind, and how many of the missed photos have it as their second choice (a near
    miss, against a kind the model does not consider at all). The JSON lists every photo's probabilities.

Targets (issue #30): SIDD gain >= 6 dB with no image below its input; every other paired set >= its
input; recognition >= 70% for rain, haze, low light and noise.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from lab.common import emit, load_restorer

PAIRED = {"SIDD_samples": "noise", "Raindrop_pairs": "rain"}
NOREF = {"RNI15_noisy": "noise", "DND_patches_noisy": "noise", "SIRR_real_rain": "rain", "Raindrop_real": "rain",
         "RIDCP_real_hazy": "haze", "SRN_real_blur": "blur", "Lai_real_blur": "blur", "DICM_lowlight": "lowlight",
         "LIME_lowlight": "lowlight"}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def real_root(data_root: str | None) -> Path:
    from slerir.data import resolve_root

    root = resolve_root(data_root) / "real"
    if not root.is_dir():
        raise FileNotFoundError(f"no real/ folder under {root.parent} (see ../shared/datasets/README.md)")
    return root


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def check(restorer, root: Path, limit: int | None = None, progress=None) -> dict:
    """Per-set results for one restorer (see the module docstring)."""
    from slerir.imaging import load_image
    from slerir.metrics import psnr

    out: dict = {"paired": {}, "noref": {}}
    for name, kind in PAIRED.items():
        folder = root / name
        if not folder.is_dir():
            continue
        rows = []
        for p in _images(folder / "input")[:limit]:
            tgt = next((t for t in _images(folder / "target") if t.stem == p.stem), None)
            if tgt is None:
                continue
            x, y = load_image(p), load_image(tgt)
            res = restorer.restore(x, capture=False)
            xf = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x
            yf = y.astype(np.float32) / 255.0 if y.dtype == np.uint8 else y
            rows.append({"image": p.name, "input": psnr(xf, yf), "output": psnr(res.image, yf),
                         "predicted": res.predicted_class})
            if progress:
                progress(f"{name}/{p.name}")
        if rows:
            gains = [r["output"] - r["input"] for r in rows]
            out["paired"][name] = {
                "kind": kind, "n": len(rows), "input": float(np.mean([r["input"] for r in rows])),
                "output": float(np.mean([r["output"] for r in rows])), "gain": float(np.mean(gains)),
                "worst_gain": float(min(gains)), "below_input": int(sum(g < 0 for g in gains)),
                "recognised": float(np.mean([r["predicted"] == kind for r in rows])), "images": rows}
    for name, kind in NOREF.items():
        folder = root / name / "input"
        if not folder.is_dir():
            continue
        preds, rows = [], []
        k = restorer.classes.index(kind)
        for p in _images(folder)[:limit]:
            probs = np.asarray(restorer.classify(load_image(p)), dtype=float)  # the encoder alone: as restore() reports
            order = np.argsort(-probs)
            preds.append(restorer.classes[int(order[0])])
            rows.append({"image": p.name, "predicted": preds[-1], "kind_rank": int(np.where(order == k)[0][0]) + 1,
                         "probs": {c: round(float(v), 4) for c, v in zip(restorer.classes, probs)}})
            if progress:
                progress(f"{name}/{p.name}")
        counts = Counter(preds)
        out["noref"][name] = {"kind": kind, "n": len(preds), "recognised": counts[kind] / max(1, len(preds)),
                              "predicted": dict(counts),
                              "kind_prob": float(np.mean([r["probs"][kind] for r in rows])) if rows else 0.0,
                              "second_choice": sum(r["kind_rank"] == 2 for r in rows), "images": rows}
    by_kind: dict[str, list[int]] = {}  # kind -> [recognised, photos] over its sets
    for r in out["noref"].values():
        acc = by_kind.setdefault(r["kind"], [0, 0])
        acc[0] += r["predicted"].get(r["kind"], 0)
        acc[1] += r["n"]
    out["recognition_by_kind"] = {k: hit / max(1, n) for k, (hit, n) in by_kind.items()}
    sidd = out["paired"].get("SIDD_samples")
    rec = out["recognition_by_kind"]
    out["targets"] = {
        "sidd_gain_6db": bool(sidd and sidd["gain"] >= 6 and sidd["below_input"] == 0),
        "paired_not_below_input": all(r["gain"] >= 0 for n, r in out["paired"].items() if n != "SIDD_samples"),
        "recognition_70": {k: bool(rec.get(k, 0) >= 0.7) for k in ("noise", "rain", "haze", "lowlight")},
    }
    return out


def to_markdown(results: dict) -> str:
    lines = [f"# Real photos: `{results['command']}`", "",
             "Paired sets: mean PSNR (dB, RGB, whole image) of input and output against the target. "
             "No-reference sets: share recognised as the folder's kind.", ""]
    for w, r in results["weights"].items():
        lines += [f"## {w}", "", "| paired set | n | input | output | gain | worst gain | below input | recognised |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, p in r["paired"].items():
            lines.append(f"| {name} ({p['kind']}) | {p['n']} | {p['input']:.2f} | {p['output']:.2f} | {p['gain']:+.2f} | "
                         f"{p['worst_gain']:+.2f} | {p['below_input']} | {p['recognised']:.0%} |")
        lines += ["", "| no-reference set | kind | n | recognised | predicted | p(kind), mean | missed, kind 2nd |",
                  "|---|---|---|---|---|---|---|"]
        for name, q in r["noref"].items():
            pred = ", ".join(f"{k} {v}" for k, v in sorted(q["predicted"].items(), key=lambda kv: -kv[1]))
            missed = q["n"] - q["predicted"].get(q["kind"], 0)
            lines.append(f"| {name} | {q['kind']} | {q['n']} | {q['recognised']:.0%} | {pred} | "
                         f"{q.get('kind_prob', float('nan')):.2f} | {q.get('second_choice', 0)} of {missed} |")
        rec = ", ".join(f"{k} {v:.0%}" for k, v in r["recognition_by_kind"].items())
        lines += ["", f"Recognition by kind: {rec}. Seconds: {r['seconds']:.0f}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lab.real_check", description=__doc__.split("\n")[0])
    ap.add_argument("--weights", nargs="+", default=["assets/weights"])
    ap.add_argument("--data-root", default=None, help="datasets folder (default: $SLERIR_DATA or ../shared/datasets)")
    ap.add_argument("--limit", type=int, default=None, help="at most this many images per set (quick looks)")
    ap.add_argument("--out", default=None, help="markdown here, JSON beside it")
    args = ap.parse_args(argv)

    try:
        root = real_root(args.data_root)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    results = {"command": "python -m lab.real_check " + " ".join(argv if argv is not None else sys.argv[1:]), "weights": {}}
    for w in args.weights:
        restorer = load_restorer(w)
        if restorer is None:
            return 2
        t0 = time.perf_counter()
        r = check(restorer, root, args.limit, progress=lambda s: print(f"  {w}: {s}", file=sys.stderr, flush=True))
        r["seconds"] = time.perf_counter() - t0
        results["weights"][w] = r
    emit(to_markdown(results), results, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
