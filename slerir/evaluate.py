"""Paper-style evaluation tables.

    python -m slerir.evaluate --weights assets/weights --suite all --out assets/eval
    python -m slerir.evaluate --suite three --protocol literature      # crop to a multiple of 16
    python -m slerir.evaluate --suite all --baselines --out assets/eval/baselines   # slow (CBM3D)

For every benchmark of the suite (``slerir.benchmarks``): PSNR/SSIM of the restored image, of the
degraded input itself, optionally of a classical baseline (``slerir.baselines``), and the
degradation-recognition accuracy of the embedding (nearest prototype of the global embedding
equals the benchmark's task). PSNR on RGB in [0,1]; the SSIM variant is named in the table.

Protocols: ``full`` (default) restores the whole image (padded inside the restorer and cropped
back) and scores it whole; ``literature`` centre-crops input and reference to a multiple of 16
first, as PromptIR / MoCE-IR / AdaIR do, then restores and scores the crop.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .benchmarks import BENCHMARKS, SUITES, iter_benchmark, benchmark_files
from .checkpoint import CheckpointError
from .inference import Restorer
from .paths import cli_weights
from .metrics import SSIM_VARIANTS, crop_to_multiple, psnr, ssim

PRETTY = {
    "cbsd68_15": "CBSD68 σ15", "cbsd68_25": "CBSD68 σ25", "cbsd68_50": "CBSD68 σ50", "rain100l": "Rain100L",
    "sots": "SOTS-out (7)", "hsts": "HSTS", "lol": "LOL eval15", "gopro": "GoPro (2)",
}


def evaluate(restorer: Restorer | None, suite: str | list[str] = "all", root=None, limit: int | None = None,
             ssim_variant: str = "skimage", protocol: str = "full", baselines: bool = False,
             progress: bool = True, jobs: int = 1) -> dict:
    """Evaluate on a suite; returns {"rows": [...], "meta": {...}} (JSON-serialisable).

    ``jobs`` > 1 runs the classical baselines in that many worker processes (CBM3D is single-threaded
    and the slow part); the model itself runs in this process.

    A restorer built with ``ensemble=`` (``Restorer``) restores through that self-ensemble; the meta
    records which."""
    from tqdm import tqdm

    names = SUITES[suite] if isinstance(suite, str) else list(suite)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; choose from {sorted(BENCHMARKS)} or a suite {sorted(SUITES)}")
    if restorer is None and not baselines:
        raise ValueError("nothing to evaluate: give a restorer or baselines=True")
    base_fns = {}
    if baselines:
        from .baselines import baseline_for

        base_fns = {n: baseline_for(n) for n in names}
    total = sum(min(len(benchmark_files(n, root)), limit or 10**9) for n in names)
    bar = tqdm(total=total, desc="evaluate", disable=not progress, dynamic_ncols=True, mininterval=1.0)
    rows = []
    t_start = time.time()
    pool = None
    if baselines and jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(jobs)
    try:
        for name in names:
            acc = {"psnr": [], "ssim": [], "in_psnr": [], "in_ssim": [], "correct": [], "base_psnr": [], "base_ssim": [], "seconds": [],
                   "predicted": {}}
            task = BENCHMARKS[name]["task"]
            pairs = ((p.name, p.lq, p.gt) for p in iter_benchmark(name, root, limit))
            if protocol == "literature":
                pairs = ((n, crop_to_multiple(lq, 16), crop_to_multiple(gt, 16)) for n, lq, gt in pairs)
            pending = None
            if pool is not None and base_fns[name][1] is not None:  # the whole set to the workers at once
                pairs = list(pairs)
                pending = [pool.submit(base_fns[name][1], lq) for _, lq, _ in pairs]
            images = []  # per image: name, input PSNR and, with a model, its PSNR and predicted class
            for i, (image_name, lq, gt) in enumerate(pairs):
                acc["in_psnr"].append(psnr(lq, gt))
                acc["in_ssim"].append(ssim(lq, gt, ssim_variant))
                images.append({"name": image_name, "input_psnr": round(acc["in_psnr"][-1], 4)})
                if restorer is not None:
                    res = restorer.restore(lq, capture=False)
                    acc["seconds"].append(res.seconds)
                    acc["psnr"].append(psnr(res.image, gt))
                    acc["ssim"].append(ssim(res.image, gt, ssim_variant))
                    acc["correct"].append(res.predicted_class == task)
                    acc["predicted"][res.predicted_class] = acc["predicted"].get(res.predicted_class, 0) + 1
                    images[-1].update(psnr=round(acc["psnr"][-1], 4), predicted=res.predicted_class)
                if baselines and base_fns[name][1] is not None:
                    out = pending[i].result() if pending is not None else base_fns[name][1](lq)
                    acc["base_psnr"].append(psnr(out, gt))
                    acc["base_ssim"].append(ssim(out, gt, ssim_variant))
                bar.update(1)
            mean = lambda v: float(np.mean(v)) if v else None
            rows.append({
                "benchmark": name, "task": task, "n": len(acc["in_psnr"]),
                "psnr": mean(acc["psnr"]), "ssim": mean(acc["ssim"]),
                "input_psnr": mean(acc["in_psnr"]), "input_ssim": mean(acc["in_ssim"]),
                "recognition": mean([float(c) for c in acc["correct"]]),
                # how many images the embedding assigned to each class (the confusion row of this set)
                "predicted": dict(sorted(acc["predicted"].items(), key=lambda kv: -kv[1])) if restorer is not None else None,
                "baseline": base_fns[name][0] if baselines else None,
                "baseline_psnr": mean(acc["base_psnr"]), "baseline_ssim": mean(acc["base_ssim"]),
                "seconds_per_image": mean(acc["seconds"]),
                "images": images,
            })
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    meta = {"suite": suite, "protocol": protocol, "ssim_variant": ssim_variant, "ssim_description": SSIM_VARIANTS.get(ssim_variant),
            "limit": limit, "baseline_jobs": jobs if baselines else None, "ensemble": getattr(restorer, "ensemble", None), "wall_time_s": round(time.time() - t_start, 1), "torch_threads": torch.get_num_threads()}
    if restorer is not None:
        meta["model"] = restorer.cfg.name
        meta["weights_step"] = restorer.meta.get("step")
    return {"rows": rows, "meta": meta}


def _fmt(v, nd=2) -> str:
    return "n/a" if v is None else f"{v:.{nd}f}"


def _input_psnr_by_recognition(row: dict) -> str:
    """The mean input PSNR of a row's misrecognised and recognised images, as ``" (input 30.33 dB;
    recognised 24.08 dB)"``, from its per-image records ("" without them or without a miss)."""
    imgs = [im for im in row.get("images") or [] if "predicted" in im]
    wrong = [im["input_psnr"] for im in imgs if im["predicted"] != row["task"]]
    right = [im["input_psnr"] for im in imgs if im["predicted"] == row["task"]]
    if not wrong:
        return ""
    return f" (input {np.mean(wrong):.2f} dB" + (f"; recognised {np.mean(right):.2f} dB)" if right else ")")


def to_markdown(result: dict) -> str:
    rows, meta = result["rows"], result["meta"]
    has_model = any(r["psnr"] is not None for r in rows)
    has_base = any(r["baseline"] is not None for r in rows)
    head = ["benchmark", "n", "input PSNR", "input SSIM"]
    if has_model:
        head += ["SLER-IR PSNR", "SLER-IR SSIM", "recognition"]
    if has_base:
        head += ["baseline", "baseline PSNR", "baseline SSIM"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [PRETTY.get(r["benchmark"], r["benchmark"]), str(r["n"]), _fmt(r["input_psnr"]), _fmt(r["input_ssim"], 4)]
        if has_model:
            cells += [_fmt(r["psnr"]), _fmt(r["ssim"], 4), "n/a" if r["recognition"] is None else f"{100 * r['recognition']:.1f}%"]
        if has_base:
            cells += [r["baseline"] or "n/a", _fmt(r["baseline_psnr"]), _fmt(r["baseline_ssim"], 4)]
        lines.append("| " + " | ".join(cells) + " |")
    # average over benchmarks (the papers' "Average" column)
    avg = lambda k: float(np.mean([r[k] for r in rows if r[k] is not None])) if any(r[k] is not None for r in rows) else None
    cells = ["**average**", str(sum(r["n"] for r in rows)), _fmt(avg("input_psnr")), _fmt(avg("input_ssim"), 4)]
    if has_model:
        n_tot = sum(r["n"] for r in rows if r["recognition"] is not None)
        rec = sum(r["recognition"] * r["n"] for r in rows if r["recognition"] is not None) / max(1, n_tot)
        cells += [_fmt(avg("psnr")), _fmt(avg("ssim"), 4), f"{100 * rec:.1f}%"]
    if has_base:
        cells += ["", _fmt(avg("baseline_psnr")), _fmt(avg("baseline_ssim"), 4)]
    lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Protocol: {meta['protocol']}"
                 + (f"; SLER-IR restores with the `{meta['ensemble']}` self-ensemble (transformed copies, undone "
                    "and averaged)" if meta.get("ensemble") else "")
                 + f"; PSNR on RGB in [0,1]; {meta['ssim_description']}. "
                 f"Recognition: nearest prototype of the global embedding equals the benchmark's degradation "
                 f"(averaged over all images). Wall time {meta['wall_time_s']} s"
                 + (f", model '{meta.get('model')}' step {meta.get('weights_step')}." if has_model else "."))
    wrong = [(r, {c: k for c, k in (r.get("predicted") or {}).items() if c != r["task"]}) for r in rows]
    wrong = [(r, w) for r, w in wrong if w]
    if wrong:
        lines.append("")
        lines.append("Misrecognised images, by the class the embedding chose (and their mean input PSNR beside the "
                     "recognised ones'): " + "; ".join(
                         f"{PRETTY.get(r['benchmark'], r['benchmark'])}: " + ", ".join(f"{c} {k}" for c, k in w.items())
                         + _input_psnr_by_recognition(r) for r, w in wrong) + ".")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Evaluate SLER-IR on the benchmark suites (paper-style tables).")
    p.add_argument("--weights", default=None,
                   help="weights folder or .safetensors (default: $SLERIR_WEIGHTS, else ./assets/weights)")
    p.add_argument("--suite", default="all", help=f"one of {sorted(SUITES)} or a comma-separated list of {sorted(BENCHMARKS)}")
    p.add_argument("--data-root", default=None, help="folder holding test/ (default ../shared/datasets)")
    p.add_argument("--limit", type=int, default=None, help="first N pairs of each benchmark")
    p.add_argument("--ssim", default="skimage", choices=sorted(SSIM_VARIANTS))
    p.add_argument("--protocol", default="full", choices=["full", "literature"])
    p.add_argument("--baselines", action="store_true", help="also run the classical baselines (slow: CBM3D ~12 s/image)")
    p.add_argument("--no-model", action="store_true", help="baselines and input scores only")
    p.add_argument("--ensemble", choices=["mirror", "x8"], default=None,
                   help="geometric self-ensemble (the literature's '+' rows): mirror (2x the time) or x8 (8x)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes for the baselines (CBM3D is single-threaded)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", default=None, help="folder for results.md and results.json")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    suite = a.suite if a.suite in SUITES else [s.strip() for s in a.suite.split(",") if s.strip()]
    try:
        restorer = None if a.no_model else Restorer.from_pretrained(cli_weights(a.weights), ensemble=a.ensemble)
        result = evaluate(restorer, suite, a.data_root, a.limit, a.ssim, a.protocol, a.baselines,
                          progress=sys.stderr.isatty() or bool(a.out), jobs=max(1, a.jobs))
    except (FileNotFoundError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    md = to_markdown(result)
    print(md)
    if a.out:
        out = Path(a.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.md").write_text(md)
        (out / "results.json").write_text(json.dumps(result, indent=2))
        print(f"wrote {out / 'results.md'} and {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
