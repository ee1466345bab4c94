"""How strong is each synthetic degradation? PSNR of the degraded image against the clean one per
kind and strength, beside the input PSNR of the benchmarks, so a training mixture can be checked
against the levels the model will meet.

    python -m lab.levels                       # 8 validation images, strengths 0..1 in quarters
    python -m lab.levels --images 32 --out docs/levels.md
    python -m lab.levels --images 12 --weights assets/weights --out assets/eval/levels_restored.md

With ``--weights``, each weights folder also restores every degraded image (``slerir.inference.Restorer``,
single pass): the restored PSNR per kind and strength beside the degraded one, and motion blur by
trajectory length (``BLUR_LENGTHS``), so one sees which degradations, and how strong, a model undoes.
The JSON records each folder's ``slerir.checkpoint.weights_fingerprint``; the app reads
``assets/eval/levels_restored.json`` (``analysis.gains.kind_gains``) to tell a user what the loaded weights
gain on the kind it predicts.

Noise strength maps linearly onto sigma 5..55 (uint8 units); the benchmark column for noise is
CBSD68 at sigma 25. Only the validation split of the training images is degraded; the benchmark
column reads the benchmarks' own inputs.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)
BLUR_LENGTHS = (5.0, 9.0, 15.0, 25.0, 40.0)  # px, motion trajectories of the --weights blur table
# the benchmark whose inputs show each kind (CBSD68 at sigma 25 for noise)
BENCH_OF = {"noise": "cbsd68_25", "rain": "rain100l", "haze": "sots", "blur": "gopro", "lowlight": "lol"}


def degraded(images: list[np.ndarray], spec, seed: int = 0):
    """``(img, degrade(img, [spec], seed=[seed, i]).image)`` for each ``img`` of ``images`` (i: its index)."""
    from slerir.degradations import degrade

    for i, img in enumerate(images):
        yield img, degrade(img, [spec], seed=[seed, i]).image


def mean_psnr(images: list[np.ndarray], spec, seed: int = 0) -> float:
    """Mean PSNR (dB) of each :func:`degraded` image against its clean one over ``images``."""
    from slerir.metrics import psnr

    return float(np.mean([psnr(lq, img) for img, lq in degraded(images, spec, seed)]))


def level_table(images: list[np.ndarray], strengths=STRENGTHS, seed: int = 0) -> dict[str, list[float]]:
    """Mean PSNR (dB) of ``degrade(img, [kind at strength])`` against ``img`` over ``images``, per kind
    (``slerir.degradations.KINDS``) and strength; the same seed per image for every strength."""
    from slerir.degradations import KINDS, DegradationSpec

    return {kind: [mean_psnr(images, DegradationSpec(kind, strength=s), seed) for s in strengths] for kind in KINDS}


def restored_psnr(images: list[np.ndarray], spec, restores: dict, seed: int = 0) -> dict[str, list[float]]:
    """``{name: [degraded, restored]}``: mean PSNR (dB) against ``img`` over ``images`` of the degraded image
    (as :func:`mean_psnr`) and of ``restore(degraded)`` (an (H, W, 3) float image in [0, 1]) for each
    ``name: restore`` of ``restores``; each image is degraded once for all of them."""
    from slerir.metrics import psnr

    deg, res = [], {name: [] for name in restores}
    for img, lq in degraded(images, spec, seed):
        deg.append(psnr(lq, img))
        for name, restore in restores.items():
            res[name].append(psnr(restore(lq), img))
    return {name: [float(np.mean(deg)), float(np.mean(v))] for name, v in res.items()}


def restored_table(images: list[np.ndarray], restores: dict, strengths=STRENGTHS, lengths=BLUR_LENGTHS,
                   seed: int = 0) -> dict[str, dict[str, dict[str, list[list[float]]]]]:
    """Per ``name: restore`` of ``restores``: ``{"strength": {kind: [[degraded, restored], ...]},
    "blur_length": {"motion": [...]}}``, mean PSNR (dB) of :func:`restored_psnr` per kind and strength (the
    seeds of :func:`level_table`), and of motion blur per trajectory length in ``lengths`` (px)."""
    from slerir.degradations import KINDS, DegradationSpec

    by_strength = {kind: [restored_psnr(images, DegradationSpec(kind, strength=s), restores, seed) for s in strengths]
                   for kind in KINDS}
    by_length = [restored_psnr(images, DegradationSpec("blur", length=L), restores, seed) for L in lengths]
    return {name: {"strength": {kind: [cell[name] for cell in cells] for kind, cells in by_strength.items()},
                   "blur_length": {"motion": [cell[name] for cell in by_length]}} for name in restores}


def restored_markdown(weights: str, table: dict, strengths=STRENGTHS, lengths=BLUR_LENGTHS) -> str:
    """One weights folder's :func:`restored_table` as Markdown: restored PSNR (gain over the degraded)."""
    cell = lambda dr: f"{dr[1]:.2f} ({dr[1] - dr[0]:+.2f})"
    head = ["kind", *[f"strength {s:g}" for s in strengths]]
    lines = [f"Restored by `{weights}` (single pass): PSNR dB, in brackets the gain over the degraded image.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for kind, vals in table["strength"].items():
        lines.append("| " + " | ".join([kind, *map(cell, vals)]) + " |")
    lines += ["", "Motion blur by trajectory length: " + ", ".join(
        f"{L:g} px {dr[0]:.2f} -> {cell(dr)}" for L, dr in zip(lengths, table["blur_length"]["motion"])) + "."]
    return "\n".join(lines) + "\n"


def faint_levels(images: list[np.ndarray], seed: int = 0) -> dict[str, dict[str, float]]:
    """Mean PSNR (dB) of the degradations fainter than strength 0 that ``TrainSampler`` draws: drizzle
    (``faint_rain_share``: rain density from ``slerir.data.FAINT_RAIN_DENSITY``) and thin haze
    (``faint_haze_share``: beta from ``FAINT_HAZE_BETA``), at each range's ends and middle."""
    from slerir.data import FAINT_HAZE_BETA, FAINT_RAIN_DENSITY
    from slerir.degradations import DegradationSpec

    def points(lo, hi):
        return (lo, (lo + hi) / 2, hi)

    return {"rain": {f"{d:g}": mean_psnr(images, DegradationSpec("rain", strength=0.0, density=d), seed)
                     for d in points(*FAINT_RAIN_DENSITY)},
            "haze": {f"{b:g}": mean_psnr(images, DegradationSpec("haze", strength=0.0, beta=b), seed)
                     for b in points(*FAINT_HAZE_BETA)}}


def wide_rain_levels(images: list[np.ndarray], strengths=STRENGTHS, seed: int = 0) -> list[float]:
    """Mean PSNR (dB) of the broad, long, slanted rain ``TrainSampler(wide_rain_share=...)`` draws
    (``DegradationSpec(wide=True)``) per strength, as :func:`level_table` does for the default streaks."""
    from slerir.degradations import DegradationSpec

    return [mean_psnr(images, DegradationSpec("rain", strength=s, wide=True), seed) for s in strengths]


def benchmark_inputs(root=None, limit: int | None = None) -> dict[str, float | None]:
    """Mean input PSNR per kind on its benchmark (None where the benchmark is missing)."""
    from slerir.benchmarks import iter_benchmark
    from slerir.metrics import psnr

    out = {}
    for kind, name in BENCH_OF.items():
        try:
            out[kind] = float(np.mean([psnr(p.lq, p.gt) for p in iter_benchmark(name, root, limit)]))
        except (FileNotFoundError, SystemExit, ValueError):
            out[kind] = None
    return out


def to_markdown(table: dict[str, list[float]], bench: dict[str, float | None], n: int, strengths=STRENGTHS,
                faint: dict[str, dict[str, float]] | None = None, wide: list[float] | None = None) -> str:
    head = ["kind", *[f"strength {s:g}" for s in strengths], "benchmark input"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for kind, vals in table.items():
        b = bench.get(kind)
        cell = "-" if b is None else f"{b:.2f} ({BENCH_OF[kind]})"
        lines.append("| " + " | ".join([kind, *[f"{v:.2f}" for v in vals], cell]) + " |")
    lines += ["", f"PSNR (dB) of each synthetic degradation against the clean image, mean over {n} validation "
              "images (`slerir.degradations`, one seed per image); benchmark input = mean PSNR of the benchmark's "
              "degraded inputs."]
    if faint:
        lines += ["", "Drizzle (`TrainSampler(faint_rain_share=...)`: rain at strength 0 with fewer streaks), by "
                  "streaks per px: " + ", ".join(f"{d} -> {v:.2f} dB" for d, v in faint["rain"].items()) + ".",
                  "", "Thin haze (`TrainSampler(faint_haze_share=...)`: haze below strength 0's beta of 0.6), by beta: "
                  + ", ".join(f"{b} -> {v:.2f} dB" for b, v in faint["haze"].items()) + "."]
    if wide:
        lines += ["", "Wide rain (`TrainSampler(wide_rain_share=...)`: broad, long, slanted, fainter streaks), by strength: "
                  + ", ".join(f"{s:g} -> {v:.2f} dB" for s, v in zip(strengths, wide)) + "."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="PSNR of every synthetic degradation by strength, beside the benchmarks' inputs.")
    ap.add_argument("--images", type=int, default=8, help="validation images to degrade")
    ap.add_argument("--bench-limit", type=int, default=None, help="images per benchmark (default all)")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--weights", nargs="+", default=[], help="also restore every degraded image with these weights")
    ap.add_argument("--out", default=None, help="also write the table here (.md) and beside it as .json")
    a = ap.parse_args(argv)
    if a.images < 1:
        ap.error("--images must be >= 1")
    from slerir.data import load_clean_images

    try:
        images = load_clean_images(a.data_root, "val")[: a.images]
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from slerir.checkpoint import CheckpointError
    from slerir.inference import Restorer

    try:  # before the tables: a bad folder fails at once
        restorers = {w: Restorer.from_pretrained(w) for w in a.weights}
    except (CheckpointError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    table = level_table(images)
    faint = faint_levels(images)
    wide = wide_rain_levels(images)
    bench = benchmark_inputs(a.data_root, a.bench_limit)
    md = to_markdown(table, bench, len(images), faint=faint, wide=wide)
    from slerir.checkpoint import weights_fingerprint

    fingerprints = {w: weights_fingerprint(w) for w in restorers}  # the app matches its weights by these
    if restorers:
        print(f"restoring with {', '.join(restorers)} ...", file=sys.stderr, flush=True)
    restored = restored_table(images, {w: (lambda lq, r=r: r.restore(lq, capture=False).image)
                                       for w, r in restorers.items()}) if restorers else {}
    md += "".join("\n" + restored_markdown(w, t) for w, t in restored.items())
    print(md)
    if a.out:
        out = Path(a.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(md)
        out.with_suffix(".json").write_text(json.dumps({"strengths": list(STRENGTHS), "psnr": table,
                                                        "benchmark_input": bench, "faint": faint, "wide_rain": wide,
                                                        "images": len(images), "restored": restored,
                                                        "fingerprints": fingerprints,
                                                        "blur_lengths": list(BLUR_LENGTHS)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
