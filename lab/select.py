"""Choose the weights to ship: the best validation score among weights that pass the clean-photo check.

    python -m lab.select --weights runs/NAME/val_weights/* --profile scene --n 96 \\
        --floor-vs assets/weights --out selection.md

For every weights folder it runs the validation (``slerir.validate.compare``: the validation split of
the training images, never a test set) and the clean-photo passthrough (``lab.passthrough``: the
shipped ``clean_*.png`` examples, restored and compared with themselves). A folder is eligible when

- its passthrough is at least ``--min-passthrough`` dB on every photo and ``--min-passthrough-mean``
  on average (the floors tests/test_shipped_assets.py holds the shipped weights to), and
- with ``--floor-vs REF``: no degradation category of the validation is more than ``--floor-db``
  below REF's (one mean can rise while one task quietly falls: trading haze for low light).

The eligible folder with the highest selection score is chosen. Markdown on stdout and ``--out``
(with a JSON copy); exit status 1 when no folder is eligible.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

MIN_PASSTHROUGH = 35.0  # dB, worst clean photo (tests/test_shipped_assets.py holds the shipped weights to it)
MIN_PASSTHROUGH_MEAN = 40.0  # dB, mean over the clean photos (same test)
FLOOR_DB = 0.3  # dB a validation category may fall below the reference
UNFLOORED = ("clean", "dark")  # covered by the passthrough check (and capped in the score)


def category_names(row: dict) -> list[str]:
    """Validation categories of a row (``slerir.validate.category_names``, without this module's additions)."""
    from slerir.validate import category_names as names

    return [k for k in names(row) if k not in ("passthrough", "not_eligible")]


def passthrough_failures(psnrs: Sequence[float], min_worst: float = MIN_PASSTHROUGH,
                         min_mean: float = MIN_PASSTHROUGH_MEAN) -> list[str]:
    """Why clean photos restored at ``psnrs`` (dB against themselves) miss the clean-photo floor ([] when not)."""
    worst, mean = min(psnrs), sum(psnrs) / len(psnrs)
    why = []
    if worst < min_worst:
        why.append(f"passthrough worst {worst:.2f} < {min_worst:g}")
    if mean < min_mean:
        why.append(f"passthrough mean {mean:.2f} < {min_mean:g}")
    return why


def choose(rows: Sequence[dict], passthrough: dict[str, dict[str, tuple[float, str]]],
           min_worst: float = MIN_PASSTHROUGH, min_mean: float = MIN_PASSTHROUGH_MEAN,
           reference: dict | None = None, floor_db: float = FLOOR_DB) -> tuple[int | None, list[list[str]]]:
    """Index of the chosen row (None: none eligible) and, per row, why it is not eligible.

    ``rows``: ``slerir.validate.compare(...)["rows"]`` (dicts with "weights", "score" and PSNR per
    category); ``passthrough``: ``{weights: {image: (psnr, class)}}`` from ``passthrough_table``;
    ``reference``: one such row, the floor per category (categories in ``UNFLOORED`` excepted).
    """
    reasons: list[list[str]] = []
    for r in rows:
        why = passthrough_failures([v[0] for v in passthrough[r["weights"]].values()], min_worst, min_mean)
        if reference is not None:
            for cat in category_names(r):
                if cat not in UNFLOORED and cat in reference and r[cat] < reference[cat] - floor_db:
                    why.append(f"{cat} {r[cat]:.2f} < {reference[cat]:.2f} - {floor_db:g}")
        reasons.append(why)
    eligible = [i for i, why in enumerate(reasons) if not why]
    best = max(eligible, key=lambda i: rows[i]["score"]) if eligible else None
    return best, reasons


def to_markdown(result: dict) -> str:
    rows, cats = result["rows"], category_names(result["rows"][0])
    head = ["weights", *cats, "score", "recognition", "passthrough worst / mean", "eligible"]
    ref = f"; floors: `{result['reference']['weights']}` - {result['floor_db']:g} dB" if result.get("reference") else ""
    lines = [f"Validation profile `{result['profile']}`, {result['n']} samples; clean-photo passthrough floors "
             f"{result['min_worst']:g} dB worst, {result['min_mean']:g} dB mean{ref}.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i, r in enumerate(rows):
        pt = r["passthrough"]
        mark = "**chosen**" if i == result["chosen"] else ("yes" if not r["not_eligible"] else
                                                           "no: " + "; ".join(r["not_eligible"]))
        lines.append("| " + " | ".join([f"`{r['weights']}`", *(f"{r[c]:.2f}" for c in cats), f"{r['score']:.2f}",
                                        f"{100 * r['recognition']:.1f}%",
                                        f"{min(pt.values()):.2f} / {sum(pt.values()) / len(pt):.2f}", mark]) + " |")
    lines.append("")
    lines.append("Chosen: " + (f"`{rows[result['chosen']]['weights']}`" if result["chosen"] is not None
                               else "none (no weights passed)") + ". `python -m lab.select`.")
    return "\n".join(lines) + "\n"


def select(weights: Sequence[str], profile: str = "scene", n: int = 96, reference: str | None = None,
           floor_db: float = FLOOR_DB, min_worst: float = MIN_PASSTHROUGH, min_mean: float = MIN_PASSTHROUGH_MEAN,
           images: str | Path | None = None, root: str | None = None) -> dict:
    """Validation, passthrough and the choice for ``weights`` (``reference`` is validated too)."""
    from lab.passthrough import DEFAULT_FOLDER, passthrough_table
    from slerir.validate import compare

    names = list(dict.fromkeys(str(w) for w in weights))
    everything = names + ([str(reference)] if reference and str(reference) not in names else [])
    val = compare(everything, profile, n, root=root)
    by_name = {r["weights"]: r for r in val["rows"]}
    _, pt = passthrough_table(names, images or DEFAULT_FOLDER)
    rows = [by_name[w] for w in names]
    chosen, reasons = choose(rows, pt, min_worst, min_mean, by_name.get(str(reference)) if reference else None,
                             floor_db)
    out_rows = [{**r, "passthrough": {k: v[0] for k, v in pt[r["weights"]].items()}, "not_eligible": why}
                for r, why in zip(rows, reasons)]
    return {"profile": profile, "n": n, "min_worst": min_worst, "min_mean": min_mean, "floor_db": floor_db,
            "reference": by_name.get(str(reference)) if reference else None, "rows": out_rows, "chosen": chosen}


def main(argv: Sequence[str] | None = None) -> int:
    from slerir.data import VAL_PROFILES

    ap = argparse.ArgumentParser(prog="python -m lab.select", description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", nargs="+", required=True, help="candidate weights folders")
    ap.add_argument("--profile", choices=VAL_PROFILES, default="scene")
    ap.add_argument("--n", type=int, default=96, help="validation samples (categories cycle)")
    ap.add_argument("--floor-vs", default=None, help="reference weights: per-category floors")
    ap.add_argument("--floor-db", type=float, default=FLOOR_DB)
    ap.add_argument("--min-passthrough", type=float, default=MIN_PASSTHROUGH)
    ap.add_argument("--min-passthrough-mean", type=float, default=MIN_PASSTHROUGH_MEAN)
    ap.add_argument("--images", default=None, help="folder of clean_*.png (default: the shipped examples)")
    ap.add_argument("--data-root", default=None, help="datasets folder (default ../shared/datasets)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None, help="also write the table here (.md) and a .json beside it")
    a = ap.parse_args(argv)
    if a.n < 1:
        ap.error("--n must be at least 1")
    import torch

    from slerir.checkpoint import CheckpointError
    from slerir.validate import write_table

    torch.set_num_threads(a.threads)
    try:
        result = select(a.weights, a.profile, a.n, a.floor_vs, a.floor_db, a.min_passthrough,
                        a.min_passthrough_mean, a.images, a.data_root)
    except (CheckpointError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    write_table(to_markdown(result), result, a.out)
    return 0 if result["chosen"] is not None else 1


if __name__ == "__main__":
    raise SystemExit(main())
