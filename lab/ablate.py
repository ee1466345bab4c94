"""Test the paper's three claims at our scale, with equal budgets.

    python -m lab.ablate train --steps 2500          # trains every variant (resumable)
    python -m lab.ablate table                       # evaluates them, table in docs/ablation/current
    python -m lab.ablate all                         # both
    python -m lab.ablate all --base v1               # on the first-version architecture
    python -m lab.ablate all --variants sler --seed 1  # a second seed: how large is chance?

Variants (``tiny`` preset, same data, steps, seed and loss weights; only the named switch differs):

    sler      spherical embedding + cosine router, GLGF fusion, layer-wise routers, d = 3 (ours)
    linear    unnormalised embedding + linear router        (claim 2: spherical vs linear)
    global    global-only routing embedding                 (claim 3: GLGF vs global-only)
    local     local-only routing embedding                  (claim 3: GLGF vs local-only)
    shared    one router shared by all layers               (claim 1: layer-wise vs shared)
    d8        as sler but d = 8                             (DESIGN: d = 3 vs larger d)

Each variant trains in ``runs/ablate/<base>/<variant>`` with ``slerir.train.Trainer`` (resumable: run
the command again after an interruption). The table reports, per variant: PSNR on each benchmark
(first ``--limit`` images of each), PSNR on spatially mixed composites (two degradations in
different regions, from the validation split of the training images), global recognition
accuracy (benchmarks), per-pixel local recognition on the composites, and specialisation (mean
over layers of NMI between the chosen expert and the pixel's degradation class).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

VARIANTS: dict[str, dict] = {
    "sler": {},
    "linear": {"router": "linear"},
    "global": {"fusion": "global"},
    "local": {"fusion": "local"},
    "shared": {"shared_router": True},
    "d8": {"embed_dim": 8},
}
# Base architectures the variants are built on: "current" is the ``tiny`` preset as it is now;
# "v1" is the first version (pixel-unshuffle encoder stem, no pooled-feature conditioning), on
# which the first ablation table was trained.
BASES: dict[str, dict] = {
    "current": {},
    "v1": {"enc_width": 32, "enc_blocks_deg": 2, "enc_stem": "unshuffle4", "global_cond": False},
}
BENCH = ["cbsd68_25", "rain100l", "sots", "hsts", "lol", "gopro"]


def train_variant(name: str, steps: int, batch: int, root: str, threads: int, data_root: str | None,
                  base: str = "current", seed: int = 0) -> Path:
    from slerir.train import Trainer, TrainConfig

    out = Path(root) / name
    tc = TrainConfig(preset="tiny", model_overrides={**BASES[base], **VARIANTS[name]}, tasks="five", patch=64, batch=batch, steps=steps,
                     warmup=min(500, steps // 10), val_every=0, ckpt_every=250, threads=threads, out=str(out),
                     data_root=data_root, seed=seed)
    tr = Trainer(tc, resume=True)
    if tr.step >= steps:
        print(f"[{name}] already trained ({tr.step} steps)")
    else:
        print(f"[{name}] training {tr.step} -> {steps} steps", flush=True)
        tr.fit(progress=sys.stderr.isatty())
    return out / "weights"


def mixed_composites(n: int, data_root: str | None, size: int = 192, seed: int = 7) -> list[dict]:
    """Spatially mixed test images from the validation split (never the test sets)."""
    from slerir.data import load_clean_images
    from slerir.degradations import degrade, random_specs

    imgs = load_clean_images(data_root, "val")
    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        img = imgs[i % len(imgs)]
        y = int(rng.integers(0, img.shape[0] - size + 1))
        x = int(rng.integers(0, img.shape[1] - size + 1))
        clean = img[y:y + size, x:x + size].astype(np.float32) / 255.0
        specs = random_specs(rng, ("noise", "rain", "haze", "blur", "lowlight"), mixed=True)
        r = degrade(clean, specs, rng)
        out.append({"lq": r.image, "gt": clean, "mask": r.mask})
    return out


def evaluate_variant(weights: Path, limit: int, n_mixed: int, data_root: str | None) -> dict:
    from analysis.embedding import local_pixel_accuracy
    from analysis.routing import RoutingCollector
    from slerir.benchmarks import BENCHMARKS, iter_benchmark
    from slerir.inference import Restorer
    from slerir.metrics import psnr

    r = Restorer.from_pretrained(weights)
    row: dict = {}
    correct, total = 0, 0
    for b in BENCH:
        ps = []
        for pair in iter_benchmark(b, data_root, limit):
            res = r.restore(pair.lq, capture=False)
            ps.append(psnr(res.image, pair.gt))
            correct += res.predicted_class == BENCHMARKS[b]["task"]
            total += 1
        row[b] = float(np.mean(ps))
    row["recognition"] = correct / max(1, total)
    coll = RoutingCollector(r.classes)
    ps, loc = [], []
    for s in mixed_composites(n_mixed, data_root):
        res = r.restore(s["lq"], capture=True)
        ps.append(psnr(res.image, s["gt"]))
        loc.append(local_pixel_accuracy(res.local_class_sims, s["mask"]))
        coll.add(res, mask=s["mask"])
    row["mixed"] = float(np.mean(ps))
    row["local_recognition"] = float(np.mean(loc))
    nmi = coll.nmi_per_layer()
    row["nmi_mean"] = float(np.mean(list(nmi.values())))
    row["nmi_per_layer"] = nmi
    row["step"] = r.meta.get("step")
    return row


def to_markdown(rows: dict[str, dict], limit: int, n_mixed: int, seed: int = 0) -> str:
    head = ["variant", *BENCH, "mixed", "recognition", "local recog.", "NMI (mean)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, r in rows.items():
        cells = [name] + [f"{r[b]:.2f}" for b in BENCH] + [f"{r['mixed']:.2f}", f"{100 * r['recognition']:.1f}%",
                                                          f"{100 * r['local_recognition']:.1f}%", f"{r['nmi_mean']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    steps = {r.get("step") for r in rows.values()}
    lines += ["", f"PSNR (dB, RGB) on the first {limit} images of each benchmark and on {n_mixed} spatially mixed "
              f"composites (validation split); equal budgets: {sorted(s for s in steps if s is not None)} steps, "
              f"batch 8, 64x64 patches, seed {seed}; recognition = nearest prototype of the global embedding."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Train and compare the SLER-IR ablation variants with equal budgets.")
    ap.add_argument("what", choices=["train", "table", "all"])
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--steps", type=int, default=2500)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--runs", default=None, help="folder of the variants' runs (default runs/ablate/BASE)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--limit", type=int, default=10, help="images per benchmark in the table")
    ap.add_argument("--mixed", type=int, default=24, help="mixed composites in the table")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", default=None, help="where the table goes (default docs/ablation/BASE)")
    ap.add_argument("--seed", type=int, default=0,
                    help="training seed shared by the variants (data order and initialisation); a second seed "
                         "measures how much of a difference is chance (default runs/ablate/BASE_seedN)")
    ap.add_argument("--base", default="current", choices=list(BASES),
                    help="architecture the variants share: the current tiny preset or the first version (v1)")
    a = ap.parse_args(argv)
    tag = a.base if a.seed == 0 else f"{a.base}_seed{a.seed}"
    a.runs = a.runs or f"runs/ablate/{tag}"
    a.out = a.out or f"docs/ablation/{tag}"
    torch.set_num_threads(a.threads)
    names = [v for v in a.variants.split(",") if v]
    bad = [v for v in names if v not in VARIANTS]
    if bad:
        ap.error(f"unknown variants {bad}; choose from {list(VARIANTS)}")
    if a.what in ("train", "all"):
        for v in names:
            train_variant(v, a.steps, a.batch, a.runs, a.threads, a.data_root, a.base, a.seed)
    if a.what in ("table", "all"):
        rows = {}
        for v in names:
            w = Path(a.runs) / v / "weights"
            if not w.exists():
                print(f"[{v}] not trained yet ({w} missing): skipped")
                continue
            print(f"[{v}] evaluating", flush=True)
            rows[v] = evaluate_variant(w, a.limit, a.mixed, a.data_root)
        if not rows:
            print("no trained variants")
            return 1
        md = to_markdown(rows, a.limit, a.mixed, a.seed)
        print(md)
        out = Path(a.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "ablation.md").write_text(md)
        (out / "ablation.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
