"""Build the reference embedding bank shipped with the demo (offline job).

    python -m analysis.bank --weights PATH --out assets/bank --per-class 60 [--data-root DIR]

Source images: the *validation* split of the training photos (``load_clean_images(root, "val")``,
CBSD432 val_minus_CBSD68, 32 photos), never a test set, degraded with ``slerir.degradations``:

* per class (clean + the five kinds) ``--per-class`` random crops of 128-192 px at random strengths
  (noise: half at sigma 15/25/50), whose *global* embeddings ``Restorer.restore(capture=True)
  .global_embedding`` become "global" points; a few local cells of each also become "local" points;
* ``--mixed`` spatially mixed images (two kinds in complementary regions, or one kind over part of a
  clean image) from which ``--cells`` local cells each (interior cells only, balanced over the
  classes present) become "local" points labelled with the cell's class.

UMAP (umap-learn, imported here lazily and nowhere else) is fitted once on all bank embeddings with
a fixed ``random_state`` and ``n_neighbors=15``; the prototypes are mapped with ``transform``.
``NUMBA_CACHE_DIR`` points at a cache folder so numba's on-disk cache (the ``cache=True`` kernels
of pynndescent/umap) is reused across runs. The request path never runs umap: new points are
placed with ``EmbeddingBank.place``.

Recognition accuracy (global and local nearest-prototype), alignment/uniformity and routing
specialisation over the bank images are recorded in ``meta``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from slerir.checkpoint import weights_fingerprint
from slerir.degradations import PARTIAL_MASKS, DegradationSpec, random_specs
from slerir.data import load_clean_images, make_sample, resolve_root

from .embedding import EmbeddingBank, fit_pca_basis, local_pixel_accuracy, normalize, pca_2d
from .routing import RoutingCollector, boundary_cells
from .maps import downsample_labels
from .util import jsonable

CROP_RANGE = (128, 192)  # crop side in px, inclusive
LOCAL_STRIDE = 8  # local embeddings live at H/8


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "slerir" / "numba"


def fit_umap(z: np.ndarray, extra: np.ndarray | None = None, n_neighbors: int = 15, min_dist: float = 0.1,
             seed: int = 0, cache_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    """UMAP of the rows of ``z`` (cosine metric) and ``transform`` of ``extra``.

    umap-learn is imported here, lazily, after pointing ``NUMBA_CACHE_DIR`` at ``cache_dir`` (numba
    reads it at import), so the web app never imports it.

    Returns:
        (N,2) coordinates, (M,2) for ``extra`` (or None), and the parameters used.
    """
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    try:
        cache.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("NUMBA_CACHE_DIR", str(cache))
    except OSError:  # read-only home: numba falls back to no on-disk cache
        pass
    try:
        import umap  # noqa: PLC0415  (lazy on purpose: offline job only)
    except ImportError as e:  # STYLE.md #11: say how to get it
        raise ImportError("the bank's UMAP layout needs umap-learn: pip install umap-learn "
                          "(or pass --no-umap for a PCA layout)") from e
    params = dict(n_neighbors=min(n_neighbors, len(z) - 1), min_dist=min_dist, metric="cosine", random_state=seed,
                  n_components=2, transform_seed=seed, n_jobs=1)
    reducer = umap.UMAP(**params)
    with warnings.catch_warnings():  # "n_jobs overridden by random_state": single-threaded on purpose
        warnings.filterwarnings("ignore", message=".*n_jobs.*", category=UserWarning)
        xy = reducer.fit_transform(np.asarray(z, dtype=np.float32))
        ex = reducer.transform(np.asarray(extra, dtype=np.float32)) if extra is not None else None
    params.update(umap_version=getattr(umap, "__version__", "?"), numba_cache_dir=os.environ.get("NUMBA_CACHE_DIR"))
    return np.asarray(xy, np.float32), (None if ex is None else np.asarray(ex, np.float32)), params


def _with_strength(spec: DegradationSpec, rng: np.random.Generator, mask: str | None = None) -> DegradationSpec:
    """The spec with an explicit random strength (recorded in the point's name); noise keeps its sigma."""
    strength = None if spec.sigma is not None else float(rng.random())
    return DegradationSpec(spec.kind, strength=strength, mask=mask or spec.mask, sigma=spec.sigma)


def _specs_for(cls: str, rng: np.random.Generator) -> list[DegradationSpec]:
    if cls == "clean":
        return []
    return [_with_strength(sp, rng) for sp in random_specs(rng, (cls,), mixed=False)]


def _describe(params: Sequence[dict[str, Any]]) -> str:
    parts = []
    for p in params:
        s = p["kind"]
        if p.get("sigma") is not None:
            s += f" sigma={p['sigma']:.0f}"
        elif p.get("strength") is not None:
            s += f" s={p['strength']:.2f}"
        if p.get("mask", "full") != "full":
            s += f" [{p['mask']}]"
        parts.append(s)
    return ", ".join(parts)


def _mixed_specs(rng: np.random.Generator, kinds: Sequence[str]) -> list[DegradationSpec]:
    """Half the time two kinds in complementary regions, else one kind over part of a clean image."""
    if rng.random() < 0.5:
        return [_with_strength(sp, rng) for sp in random_specs(rng, kinds, mixed=True)]
    kind = kinds[int(rng.integers(len(kinds)))]
    mask = PARTIAL_MASKS[int(rng.integers(len(PARTIAL_MASKS)))]
    return [_with_strength(random_specs(rng, (kind,), mixed=False)[0], rng, mask)]


def _pick_cells(cell_labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Flat indices of up to ``n`` interior cells (no 4-neighbour of another class), balanced over
    the classes present."""
    flat = cell_labels.ravel()
    interior = ~boundary_cells(cell_labels).ravel()
    present = [c for c in np.unique(flat) if (interior & (flat == c)).any()]
    if not present:
        return np.zeros(0, np.int64)
    per = max(1, n // len(present))
    out = []
    for c in present:
        cand = np.flatnonzero(interior & (flat == c))
        out.append(rng.choice(cand, min(per, len(cand)), replace=False))
    return np.concatenate(out)


def build_bank(restorer, images: Sequence[np.ndarray], per_class: int = 60, mixed: int | None = None,
               cells_per_mixed: int = 20, cells_per_uniform: int = 3, seed: int = 0, use_umap: bool = True,
               progress: bool = True, cache_dir: str | Path | None = None) -> EmbeddingBank:
    """Embed degraded crops of ``images`` and lay them out in 2-D.

    Args:
        restorer: a ``slerir.inference.Restorer``.
        images: clean uint8 RGB photos (the validation split).
        per_class: uniform images per class (clean + each kind the model knows).
        mixed: spatially mixed images (default: ``per_class``).
        cells_per_mixed: local cells sampled per mixed image.
        cells_per_uniform: local cells sampled per uniform image.
        seed: everything (crops, degradations, cell choice, UMAP) is a function of it.
        use_umap: False lays the bank out with PCA instead (``meta["layout"] = "pca"``).
    """
    from tqdm import tqdm

    classes = tuple(restorer.classes)
    kinds = [c for c in classes if c != "clean"]
    mixed = per_class if mixed is None else mixed
    protos = restorer.model.prototypes.detach().cpu().numpy().astype(np.float32)
    z_all, labels, kinds_col, names = [], [], [], []
    glob_pred, glob_true = [], []
    local_acc_sum, local_acc_n = 0.0, 0
    collector = RoutingCollector(classes)
    jobs = [(c, i) for i in range(per_class) for c in range(len(classes))] + [(-1, i) for i in range(mixed)]
    t0 = time.perf_counter()
    for c, i in tqdm(jobs, desc="bank", disable=not progress, unit="img"):
        rng = np.random.default_rng([seed, c + 1, i])
        img = images[int(rng.integers(len(images)))]
        side = int(rng.integers(CROP_RANGE[0], CROP_RANGE[1] + 1))
        side = min(side, min(img.shape[:2]) - 32)
        specs = _specs_for(classes[c], rng) if c >= 0 else _mixed_specs(rng, kinds)
        s = make_sample(img, specs, side, rng)
        res = restorer.restore(s["lq"], capture=True)
        mask = s["mask"]
        cell_lab = downsample_labels(mask, res.local_embedding.shape[1:], "mode", len(classes))
        strength = _describe(s["params"])
        if c >= 0:
            tag = f"{classes[c]}/{i:03d} {side}px" + (f" ({strength})" if strength else "")
            z_all.append(res.global_embedding)
            labels.append(c)
            kinds_col.append("global")
            names.append(tag)
            glob_true.append(c)
            glob_pred.append(int(np.argmax(res.class_sims)))
            n_cells = cells_per_uniform
            collector.add(res, mask=mask, kind="uniform", name=tag)
        else:
            tag = f"mixed/{i:03d} {side}px ({strength})"
            n_cells = cells_per_mixed
            acc = local_pixel_accuracy(res.local_class_sims, mask)
            local_acc_sum += acc
            local_acc_n += 1
            collector.add(res, mask=mask, kind="mixed", name=tag)
        if n_cells:
            pick = _pick_cells(cell_lab, n_cells, rng)
            zl = res.local_embedding.reshape(res.local_embedding.shape[0], -1)  # (d,h*w)
            w = cell_lab.shape[1]
            for p in pick:
                z_all.append(zl[:, p])
                labels.append(int(cell_lab.ravel()[p]))
                kinds_col.append("local")
                names.append(f"{tag} cell ({p // w},{p % w})")
    embed_seconds = time.perf_counter() - t0

    z = normalize(np.stack(z_all))
    labels_a = np.asarray(labels, np.int64)
    t1 = time.perf_counter()
    if use_umap:
        xy, pxy, params = fit_umap(z, protos, seed=seed, cache_dir=cache_dir)
        layout = "umap"
    else:
        xy, pxy = pca_2d(z, protos)
        params, layout = {}, "pca"
    layout_seconds = time.perf_counter() - t1

    glob_true_a, glob_pred_a = np.asarray(glob_true), np.asarray(glob_pred)
    conf = np.zeros((len(classes), len(classes)), np.int64)
    np.add.at(conf, (glob_true_a, glob_pred_a), 1)
    rsum = collector.summary()
    meta: dict[str, Any] = {
        "layout": layout,
        "layout_params": params,
        "source": "validation split of the training photos (CBSD432 val_minus_CBSD68), degraded with slerir.degradations",
        "seed": seed,
        "per_class": per_class,
        "mixed_images": mixed,
        "cells_per_mixed": cells_per_mixed,
        "cells_per_uniform": cells_per_uniform,
        "crop_px": list(CROP_RANGE),
        "counts": {"global": int(sum(k == "global" for k in kinds_col)), "local": int(sum(k == "local" for k in kinds_col))},
        "embed_dim": int(z.shape[1]),
        "recognition": {
            "global_accuracy": float((glob_true_a == glob_pred_a).mean()) if len(glob_true_a) else None,
            "global_per_class": {classes[k]: float((glob_pred_a[glob_true_a == k] == k).mean())
                                 for k in range(len(classes)) if (glob_true_a == k).any()},
            "global_confusion": conf.tolist(),
            "local_accuracy_mixed_images": local_acc_sum / local_acc_n if local_acc_n else None,
        },
        "routing": {"nmi_per_layer": rsum["nmi_per_layer"], "entropy_per_layer": rsum["entropy_per_layer"],
                    "alpha": {k: {"mean": rsum["alpha"][k]["mean"], "std": rsum["alpha"][k]["std"]} for k in ("uniform", "mixed")}},
        "seconds": {"embedding": round(embed_seconds, 1), "layout": round(layout_seconds, 1)},
        "weights_meta": {k: v for k, v in (restorer.meta or {}).items() if isinstance(v, (str, int, float, bool))},
        "model": {"name": restorer.cfg.name, "embed_dim": restorer.cfg.embed_dim, "num_experts": restorer.cfg.num_experts},
    }
    bank = EmbeddingBank(z=z, labels=labels_a, kinds=np.asarray(kinds_col), names=np.asarray(names), umap_xy=xy,
                         prototypes=normalize(protos), proto_umap_xy=pxy, classes=classes,
                         pca_basis=None if z.shape[1] == 3 else fit_pca_basis(z, 3), meta=meta)
    bank.meta["embedding_metrics"] = jsonable(bank.metrics())
    bank.meta = jsonable(bank.meta)
    return bank


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.bank", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True, help="weights folder or .safetensors file")
    ap.add_argument("--out", default="assets/bank", help="output folder (bank.npz + bank.json)")
    ap.add_argument("--per-class", type=int, default=60, help="uniform images per class (clean + each kind)")
    ap.add_argument("--mixed", type=int, default=None, help="spatially mixed images (default: --per-class)")
    ap.add_argument("--cells", type=int, default=20, help="local cells sampled per mixed image")
    ap.add_argument("--cells-uniform", type=int, default=3, help="local cells sampled per uniform image")
    ap.add_argument("--data-root", default=None, help="datasets folder holding train/CBSD432 (default ../shared/datasets)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--no-umap", action="store_true", help="PCA layout instead of UMAP (no umap-learn needed)")
    ap.add_argument("--cache-dir", default=None, help="numba cache folder (default ~/.cache/slerir/numba)")
    args = ap.parse_args(argv)

    import torch

    from slerir.inference import Restorer

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        root = resolve_root(args.data_root)
        images = load_clean_images(root, "val")
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    restorer = Restorer.from_pretrained(args.weights)
    t0 = time.perf_counter()
    bank = build_bank(restorer, images, per_class=args.per_class, mixed=args.mixed, cells_per_mixed=args.cells,
                      cells_per_uniform=args.cells_uniform, seed=args.seed, use_umap=not args.no_umap,
                      cache_dir=args.cache_dir)
    bank.meta["weights"] = str(args.weights)
    bank.meta["weights_sha256"] = weights_fingerprint(args.weights)
    bank.meta["data_root"] = str(root)
    out = bank.save(args.out)
    rec = bank.meta["recognition"]
    em = bank.meta.get("embedding_metrics", {})
    print(f"bank: {len(bank)} points ({bank.meta['counts']}) d={bank.dim} layout={bank.meta['layout']} "
          f"in {time.perf_counter() - t0:.0f} s -> {out}")
    print(f"global recognition {rec['global_accuracy']:.3f}; local (mixed images) {rec['local_accuracy_mixed_images']}; "
          f"uniformity global {em.get('global', {}).get('uniformity')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
