"""Compare weights on the validation split (never the test sets): the numbers checkpoints are chosen by.

    python -m slerir.validate --weights assets/weights runs/NAME/best --profile full
    python -m slerir.validate --weights assets/weights --profile patch --n 60 --out docs/val.md

Profiles (``slerir.data``): ``patch`` is the trainer's default validation (128-px crops, every
strength); ``full`` uses whole validation photos at benchmark-like levels (``val_set_full``); ``scene`` the same photos with
scene-depth haze and some spatially varying long blur. The
table holds PSNR per category, their mean, the selection score (``selection_score``) and the
nearest-prototype recognition accuracy. Markdown on stdout, and also to ``--out`` (with a JSON copy).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from .checkpoint import CheckpointError, load_model
from .data import VAL_PROFILES, profile_val_set
from .inference import ENSEMBLES
from .train import validate


def compare(weights: list[str], profile: str = "full", n: int = 48, tasks: str = "five",
            root: str | None = None, progress: bool = True, ensemble: str | None = None) -> dict:
    """Validation results per weights folder: {"profile", "n", "rows": [{"weights", ...validate()}]}."""
    val = profile_val_set(profile, root=root, n=n, tasks=tasks)  # checks the profile name
    rows = []
    for w in weights:
        t0 = time.perf_counter()
        model, _ = load_model(w)
        res = validate(model, val, torch.device("cpu"), profile, ensemble=ensemble)
        rows.append({"weights": str(w), **res, "seconds": round(time.perf_counter() - t0, 1)})
        if progress:
            print(f"{w}: score {res['score']:.2f} in {rows[-1]['seconds']} s", file=sys.stderr, flush=True)
    return {"profile": profile, "n": n, "tasks": tasks, "ensemble": ensemble, "rows": rows}


ROW_META = ("mean_psnr", "recognition", "score", "weights", "seconds")  # the other keys of a row: categories


def category_names(row: dict) -> list[str]:
    """The validation categories (PSNR per category) of one ``compare`` row, in table order."""
    return [k for k in row if k not in ROW_META]


def to_markdown(result: dict) -> str:
    cats = category_names(result["rows"][0]) if result["rows"] else []
    head = ["weights", *cats, "mean", "score", "recognition"]
    ens = f", self-ensemble `{result['ensemble']}`" if result.get("ensemble") else ""
    lines = [f"Validation profile `{result['profile']}`, {result['n']} samples{ens} "
             f"(PSNR dB per category; score = the checkpoint-selection number)", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in result["rows"]:
        vals = [f"{r[c]:.2f}" for c in cats] + [f"{r['mean_psnr']:.2f}", f"{r['score']:.2f}",
                                                 f"{100 * r['recognition']:.1f}%"]
        lines.append("| " + " | ".join([f"`{r['weights']}`", *vals]) + " |")
    return "\n".join(lines) + "\n"


def write_table(md: str, result: dict, out: str | Path | None) -> None:
    """Print the Markdown ``md``; with ``out``, also write it there and ``result`` as JSON beside it."""
    print(md, end="")
    if out:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(md)
        out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weights", nargs="+", required=True, help="one or more weights folders")
    p.add_argument("--profile", choices=VAL_PROFILES, default="full")
    p.add_argument("--n", type=int, default=48, help="validation samples (categories cycle)")
    p.add_argument("--tasks", choices=("three", "five"), default="five")
    p.add_argument("--data-root", help="datasets folder (default ../shared/datasets)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    p.add_argument("--ensemble", choices=sorted(ENSEMBLES), default=None,
                   help="geometric self-ensemble: mirror (2x the time) or x8 (8x)")
    p.add_argument("--out", help="also write the table here (.md) and a .json beside it")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.n < 1:
        p.error("--n must be at least 1")
    try:
        result = compare(a.weights, a.profile, a.n, a.tasks, a.data_root, ensemble=a.ensemble)
    except (CheckpointError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    write_table(to_markdown(result), result, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
