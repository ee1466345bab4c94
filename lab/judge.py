"""Judge candidate weights against the shipped model by the selection rule (docs/v2/selection.md), in one command.

    python -m lab.override --weights runs/tiny_v4/val_weights/step_001000 --set glgf_max_global=0.5 \\
        --out runs/override/v4_1000
    python -m lab.judge --shipped assets/weights --candidates runs/override/v4_* --out docs/v2/v4_judge.md

Every folder, the shipped one included, is measured in the same process on the same machine with the commands
the rule names: ``slerir.validate`` (profile zoom, 48 samples: the validation score), ``lab.routing_check``
(decisive layers, mean NMI, composite split), ``lab.passthrough`` (the clean examples), ``lab.real_check`` (SIDD,
the Raindrop pairs, recognition of the no-reference photos) and ``lab.detail`` (white noise on validation photos).
Only validation data: the test sets only report.

A candidate is **eligible** when it meets every routing target (>= 6 of 9 decisive layers, mean NMI >= 0.5, >= 4
layers splitting composites) and every floor (clean examples >= 40 dB on mean and >= 35 dB worst; SIDD >= +6 dB
with no photo below its input; every other paired set >= its input on mean) and keeps the validation score within
``--tolerance`` dB of the shipped model's. Among the eligible and the shipped model the pick has the most of the four
recognition floors met (>= 70% for noise, rain, haze and low light), then the best ``--by`` number: ``combined``
(the mean of the validation score and the white-noise PSNR averaged over the sigmas; the v4 rule) or ``score``
(the validation score alone; the rule of v3 and the blends). Exit status 0 when a candidate wins, 1 when the
shipped model stays, 2 on bad input.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from lab import routing_check

CLEAN_MEAN, CLEAN_WORST = 40.0, 35.0  # dB: the clean examples' floors
SIDD_GAIN = 6.0  # dB on mean, no photo below its input
RECOGNITION = 0.7  # share of each kind's no-reference photos
RECOGNITION_KINDS = ("noise", "rain", "haze", "lowlight")
TOLERANCE = 0.15  # dB of validation score a candidate may lose against the shipped model
SIGMAS = (15.0, 25.0, 50.0)


def measure(weights: str, *, val_n: int = 48, detail_images: int = 16, sigmas=SIGMAS, data_root: str | None = None,
            real_limit: int | None = None, routing_images: int = routing_check.PROBE_IMAGES, log=print) -> dict:
    """Every number the rule reads, for one weights folder (a flat dict; see :func:`judge`); loaded once."""
    from lab import detail, passthrough, real_check
    from slerir.data import load_clean_images, profile_val_set
    from slerir.inference import Restorer
    from slerir.train import validate

    t0 = time.perf_counter()
    restorer = Restorer.from_pretrained(weights, device="cpu")
    row: dict = {"weights": str(weights)}
    v = validate(restorer.model, profile_val_set("zoom", root=data_root, n=val_n), restorer.device, "zoom")
    row.update(score=float(v["score"]), validation={k: float(x) for k, x in v.items() if isinstance(x, (int, float))})
    log(f"{weights}: validation score {row['score']:.3f}")
    singles, comps = routing_check.probe_images(routing_check.probe_photos(data_root, routing_images))
    t = routing_check.targets(routing_check.layer_stats(restorer, singles, comps))
    row.update(decisive=t["decisive_layers"], nmi=float(t["mean_nmi"]), split=t["split_layers"])
    clean = [p for p, _ in passthrough.passthrough_scores(restorer, passthrough.clean_photos()).values()]
    row.update(clean_mean=float(np.mean(clean)), clean_worst=float(min(clean)))
    real = real_check.check(restorer, real_check.real_root(data_root), limit=real_limit)
    sidd = real["paired"].get("SIDD_samples")
    row.update(sidd_gain=float(sidd["gain"]) if sidd else float("nan"),
               sidd_below=int(sidd["below_input"]) if sidd else -1,
               paired={n: {"gain": float(r["gain"]), "below": int(r["below_input"])}
                       for n, r in real["paired"].items() if n != "SIDD_samples"},
               recognition={k: float(real["recognition_by_kind"].get(k, 0.0)) for k in RECOGNITION_KINDS})
    images = [p.astype(np.float32) / 255.0 for p in load_clean_images(data_root, "val")[:detail_images]]
    wn = detail.measure(restorer, images, list(sigmas))
    row["white_noise"] = {s: float(r["psnr"]) for s, r in wn.items()}
    row["seconds"] = round(time.perf_counter() - t0, 1)
    log(f"{weights}: measured in {row['seconds']} s")
    return row


def failures(row: dict, shipped_score: float, tolerance: float = TOLERANCE) -> list[str]:
    """Why ``row`` is not eligible ([] when it is)."""
    why = []
    if row["decisive"] < 6 or row["nmi"] < 0.5 or row["split"] < 4:
        why.append("routing")
    if row["clean_mean"] < CLEAN_MEAN or row["clean_worst"] < CLEAN_WORST:
        why.append("clean")
    if not (row["sidd_gain"] >= SIDD_GAIN and row["sidd_below"] == 0):
        why.append("SIDD")
    if any(p["gain"] < 0 for p in row["paired"].values()):
        why.append("paired")
    if row["score"] < shipped_score - tolerance - 1e-9:
        why.append("score")
    return why


def floors_met(row: dict) -> int:
    """How many of the four recognition floors ``row`` meets."""
    return sum(row["recognition"].get(k, 0.0) >= RECOGNITION for k in RECOGNITION_KINDS)


def combined(row: dict) -> float:
    """The mean of the validation score and the white-noise PSNR averaged over its sigmas."""
    return 0.5 * (row["score"] + float(np.mean(list(row["white_noise"].values()))))


def judge(shipped: dict, candidates: list[dict], by: str = "combined", tolerance: float = TOLERANCE) -> dict:
    """The rule applied to measured rows: each candidate's failures, then the pick among the eligible and the
    shipped model (most recognition floors, then the best ``by``: "combined" or "score"; the shipped model
    wins ties)."""
    if by not in ("combined", "score"):
        raise ValueError(f"by must be 'combined' or 'score', got {by!r}")
    key = combined if by == "combined" else (lambda r: r["score"])
    verdicts = []
    for r in candidates:
        why = failures(r, shipped["score"], tolerance)
        verdicts.append({"weights": r["weights"], "eligible": not why, "failures": why,
                         "floors": floors_met(r), "combined": combined(r)})
    pool = [(floors_met(shipped), key(shipped), 1, shipped["weights"])]
    pool += [(floors_met(r), key(r), 0, r["weights"]) for r, v in zip(candidates, verdicts) if v["eligible"]]
    pick = max(pool)[3]
    return {"by": by, "tolerance": tolerance, "pick": pick, "shipped": shipped["weights"],
            "shipped_combined": combined(shipped), "shipped_floors": floors_met(shipped), "verdicts": verdicts}


def to_markdown(shipped: dict, candidates: list[dict], verdict: dict) -> str:
    sig = " / ".join(f"{float(s):g}" for s in shipped["white_noise"])
    head = ["weights", "clean: mean / worst", "SIDD: gain (below)", "other pairs: gain (below)", "decisive / NMI / split",
            "validation score", f"white noise {sig}", "combined", "recognition " + " / ".join(RECOGNITION_KINDS),
            "floors met", "eligible"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    by_w = {v["weights"]: v for v in verdict["verdicts"]}
    for r in [shipped, *candidates]:
        v = by_w.get(r["weights"])
        mark = "shipped" if v is None else ("yes" if v["eligible"] else "no: " + ", ".join(v["failures"]))
        name = f"`{r['weights']}`"
        if r["weights"] == verdict["pick"]:
            name, mark = f"**{name}**", f"**{mark}; picked**"
        pairs = ", ".join(f"{p['gain']:+.2f} ({p['below']})" for p in r["paired"].values()) or "-"
        lines.append("| " + " | ".join([
            name, f"{r['clean_mean']:.2f} / {r['clean_worst']:.2f}", f"{r['sidd_gain']:+.2f} ({r['sidd_below']})", pairs,
            f"{r['decisive']} / {r['nmi']:.2f} / {r['split']}", f"{r['score']:.3f}",
            " / ".join(f"{x:.2f}" for x in r["white_noise"].values()), f"{combined(r):.3f}",
            " / ".join(f"{100 * r['recognition'][k]:.0f}" for k in RECOGNITION_KINDS), str(floors_met(r)), mark]) + " |")
    stays = verdict["pick"] == verdict["shipped"]
    lines += ["", f"Rule: eligible = routing targets, clean / SIDD / paired floors, validation score within "
              f"{verdict['tolerance']:g} dB of the shipped model's; then the most recognition floors, then the best "
              f"{'combined score (mean of the validation score and the mean white-noise PSNR)' if verdict['by'] == 'combined' else 'validation score'}. "
              + ("**The shipped model stays.**" if stays else f"**Picked: `{verdict['pick']}`.**"),
              "`python -m lab.judge` (docs/v2/selection.md)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lab.judge", description=__doc__.split("\n")[0])
    ap.add_argument("--shipped", default="assets/weights", help="the shipped weights folder")
    ap.add_argument("--candidates", nargs="+", required=True, help="weights folders to judge")
    ap.add_argument("--by", choices=["combined", "score"], default="combined", help="the last criterion")
    ap.add_argument("--tolerance", type=float, default=TOLERANCE, help="validation score a candidate may lose (dB)")
    ap.add_argument("--detail-images", type=int, default=16, help="validation photos for white noise")
    ap.add_argument("--data-root", default=None, help="datasets folder (default: $SLERIR_DATA or ../shared/datasets)")
    ap.add_argument("--real-limit", type=int, default=None, help="at most this many real photos per set (quick looks only)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default=None, help="markdown here, JSON beside it")
    args = ap.parse_args(argv)
    from lab.common import emit
    from slerir.checkpoint import CheckpointError

    folders = [args.shipped, *args.candidates]
    bad = [w for w in folders if not (Path(w) / "config.json").is_file()]
    if bad or args.detail_images < 1 or args.tolerance < 0:
        print(f"error: {'not weights folders: ' + ', '.join(bad) if bad else '--detail-images must be >= 1 and --tolerance >= 0'}",
              file=sys.stderr)
        return 2
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    try:
        rows = [measure(w, detail_images=args.detail_images, data_root=args.data_root, real_limit=args.real_limit, log=log)
                for w in folders]
    except (FileNotFoundError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    verdict = judge(rows[0], rows[1:], by=args.by, tolerance=args.tolerance)
    emit(to_markdown(rows[0], rows[1:], verdict), {"rows": rows, "verdict": verdict}, args.out)
    return 1 if verdict["pick"] == verdict["shipped"] else 0


if __name__ == "__main__":
    sys.exit(main())
