"""Offline analysis report: one self-contained HTML page of routing and embedding statistics.

    python -m analysis.report --images DIR --out report/ [--weights PATH] [--limit N]
    python -m analysis.report --suite five --out report/ [--mixed 12] [--data-root DIR]

Inputs:
    ``--images DIR``: every image in a folder. Their degradations are unknown, so the *predicted*
        class stands in for the label (the report says so, and recognition accuracy is not
        reported for them).
    ``--suite NAME``: a suite of ``slerir.benchmarks.SUITES`` ("three", "five", "all") or one
        benchmark name; labels are the benchmark's task; PSNR/SSIM against the references too.
    ``--mixed N``: add N spatially mixed composites (two degradations in complementary regions,
        or one over part of a clean photo) made from the *validation* split of the training
        photos, with per-pixel labels: they feed the GLGF statistics (uniform vs mixed images).

Each image is restored three times (GLGF fused, global-only, local-only) to measure how often the
fused routing agrees with each ablation. Output folder:
    index.html      self-contained (plotly.js inlined once, images as base64 PNG; opens offline),
                    sections usage, specialisation, embedding, glgf, gallery, metrics;
    figures/        every figure as a standalone HTML file (sharing figures/plotly.min.js), as PNG
                    and SVG for slides (``--static``, through kaleido and a locally installed
                    Chromium; where either is missing the report says so and keeps the HTML), and
                    the gallery maps as PNG files;
    summary.json    all numbers.
"""
from __future__ import annotations

import argparse
import base64
import html
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from slerir.checkpoint import weights_fingerprint
from slerir.config import CLASSES

from . import figures as F
from . import maps as M
from .embedding import (EmbeddingBank, alignment, bank_from_embeddings, nearest_prototype_accuracy, normalize,
                        uniformity)
from .routing import RoutingCollector, glgf_agreement
from .util import jsonable

SECTIONS = ("usage", "specialisation", "embedding", "glgf", "gallery", "metrics")
DEFAULT_BANK = Path("assets") / "bank"  # relative to the working directory
LOCAL_CELLS_PER_IMAGE = 20
THUMB = 160


@dataclass
class Item:
    """One image to analyse. ``label`` None = unknown (the predicted class is used)."""

    name: str
    image: np.ndarray  # (H,W,3) float32 [0,1]
    label: int | None
    source: str
    mask: np.ndarray | None = None
    gt: np.ndarray | None = None
    kind: str = "uniform"


# --------------------------------------------------------------------------------------------
# inputs


def items_from_folder(folder: str | Path, limit: int | None = None) -> list[Item]:
    from slerir.imaging import IMAGE_EXTENSIONS, ImageError, load_image

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    if limit is not None:
        files = files[:limit]
    out = []
    for p in files:
        try:
            out.append(Item(p.name, load_image(p), None, "folder"))
        except ImageError as e:
            print(f"skipping {p.name}: {e}", file=sys.stderr)
    if not out:
        raise FileNotFoundError(f"no readable images in {folder}")
    return out


def items_from_suite(name: str, root: str | Path | None, limit: int | None) -> list[Item]:
    from slerir.benchmarks import BENCHMARKS, SUITES, iter_benchmark

    if name in SUITES:
        names = SUITES[name]
    elif name in BENCHMARKS:
        names = [name]
    else:
        raise KeyError(f"unknown suite or benchmark {name!r}; suites {sorted(SUITES)}, benchmarks {sorted(BENCHMARKS)}")
    out = []
    for b in names:
        for pair in iter_benchmark(b, root, limit):
            out.append(Item(f"{b}/{pair.name}", pair.lq, CLASSES.index(pair.task), b, gt=pair.gt))
    return out


def items_mixed(n: int, root: str | Path | None, classes: Sequence[str], seed: int = 0, side: int = 192) -> list[Item]:
    """``n`` spatially mixed composites from the validation photos, with per-pixel class masks."""
    from slerir.data import load_clean_images, make_sample

    from .bank import _describe, _mixed_specs

    images = load_clean_images(root, "val")
    kinds = [c for c in classes if c != "clean"]
    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, 99, i])
        img = images[int(rng.integers(len(images)))]
        s = make_sample(img, _mixed_specs(rng, kinds), side, rng)
        lab = int(np.bincount(s["mask"].ravel(), minlength=len(classes)).argmax())
        out.append(Item(f"mixed/{i:02d} ({_describe(s['params'])})", s["lq"], lab, "val-mixed",
                        mask=s["mask"], gt=s["gt"], kind="mixed"))
    return out


# --------------------------------------------------------------------------------------------
# HTML helpers


_CSS = """
body{font-family:Inter,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#1d2330;background:#fafbfc}
header{background:#1d2330;color:#fff;padding:18px 32px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#c9d1dc;font-size:13px}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid #e3e6ea;padding:8px 32px;z-index:5}
nav a{margin-right:18px;color:#0b62a4;text-decoration:none;font-weight:600;font-size:14px}
main{padding:8px 32px 48px;max-width:1400px}section{margin-top:28px}
h2{border-bottom:2px solid #e3e6ea;padding-bottom:4px}
.note{background:#fff7e0;border-left:4px solid #E69F00;padding:8px 12px;margin:8px 0;font-size:14px}
.explain{color:#4a5363;font-size:14px;max-width:900px}
table.m{border-collapse:collapse;font-size:14px}table.m td,table.m th{border:1px solid #e3e6ea;padding:4px 10px;text-align:left}
table.m th{background:#f0f2f5}
.gal{overflow-x:auto}.gal table{border-collapse:collapse}.gal td{padding:3px;vertical-align:top;text-align:center;font-size:11px}
.gal img{display:block;image-rendering:pixelated;border:1px solid #ddd}
.legend span{display:inline-block;margin-right:12px;font-size:13px}.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}
.fig{background:#fff;border:1px solid #e3e6ea;margin:10px 0;padding:4px}
"""


class _Figs:
    """Renders figures into the page (plotly.js inlined with the first one) and as standalone files."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.first = True
        self.files: list[str] = []
        self.jobs: list[tuple[Any, Path]] = []  # (figure, stem) for the static PNG/SVG copies

    def __call__(self, fig, name: str) -> str:
        self.jobs.append((fig, self.folder / name))
        fig.write_html(self.folder / f"{name}.html", include_plotlyjs="directory", full_html=True,
                       config={"displaylogo": False})
        self.files.append(f"figures/{name}.html")
        div = fig.to_html(full_html=False, include_plotlyjs=self.first, config={"displaylogo": False, "responsive": True},
                          div_id=f"fig-{name}")
        self.first = False
        return f'<div class="fig">{div}</div>'


def _table(rows: Sequence[tuple[str, Any]]) -> str:
    def fmt(v: Any) -> str:
        if v is None:
            return "n/a"
        if isinstance(v, float):
            return "n/a" if not np.isfinite(v) else f"{v:.4g}"
        return html.escape(str(v))
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{fmt(v)}</td></tr>" for k, v in rows)
    return f'<table class="m">{body}</table>'


def _legend(colors: dict[str, str]) -> str:
    return '<div class="legend">' + "".join(f'<span><i style="background:{c}"></i>{html.escape(k)}</span>'
                                            for k, c in colors.items()) + "</div>"


def _img(arr: np.ndarray, path: Path, rel: str, title: str) -> str:
    """Write ``arr`` as a PNG file and return an <img> embedding the same bytes (self-contained page)."""
    data = M.png_bytes(arr)
    path.write_bytes(data)
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return f'<img src="{uri}" title="{html.escape(title)}" alt="{html.escape(rel)}">'


# --------------------------------------------------------------------------------------------
# the report


def run_report(restorer, items: list[Item], out: str | Path, bank_path: str | Path | None = DEFAULT_BANK,
               weights: str | Path | None = None, gallery_max: int = 12, top_k: int | None = None,
               notes: Sequence[str] = (), progress: bool = True, seed: int = 0,
               static: Sequence[str] = ()) -> dict[str, Any]:
    """Analyse ``items`` with ``restorer`` and write the report into ``out``. Returns the summary.

    ``static``: formats of ``analysis.export.FORMATS`` ("png", "svg") to write beside every
    figure's standalone HTML file; () writes HTML only."""
    from tqdm import tqdm

    from slerir.metrics import psnr, ssim

    if not items:
        raise ValueError("no images to analyse")
    out = Path(out)
    figdir = out / "figures"
    galdir = figdir / "gallery"
    galdir.mkdir(parents=True, exist_ok=True)
    classes = tuple(restorer.classes)
    notes = list(notes)
    collector = RoutingCollector(classes)
    rng = np.random.default_rng(seed)
    zg, zg_lab, zg_true = [], [], []
    zl, zl_lab = [], []
    names_g, names_l = [], []
    per_image: list[dict[str, Any]] = []
    gallery_rows: list[str] = []
    labels_predicted = 0
    t0 = time.perf_counter()

    for idx, it in enumerate(tqdm(items, desc="report", disable=not progress, unit="img")):
        g = glgf_agreement(restorer, it.image, top_k=top_k)
        res = g["fused"]
        pred = int(np.argmax(res.class_probs))
        label_known = it.label is not None
        lab = it.label if label_known else pred
        labels_predicted += not label_known
        rec = collector.add(res, mask=it.mask, label=lab, kind=it.kind, name=it.name, label_known=label_known)
        collector.add_agreement(g["agree_global"], g["agree_local"], it.kind)
        rec.update(source=it.source, label_known=label_known, size=list(it.image.shape[:2]),
                   mean_agree_global=g["mean_agree_global"], mean_agree_local=g["mean_agree_local"],
                   class_probs={c: float(p) for c, p in zip(classes, res.class_probs)}, tiles=res.tiles,
                   seconds=res.seconds)
        if it.gt is not None:
            rec["psnr"] = psnr(res.image, it.gt)
            rec["ssim"] = ssim(res.image, it.gt)
            rec["psnr_input"] = psnr(it.image, it.gt)
        per_image.append(rec)
        # embeddings
        zg.append(res.global_embedding)
        zg_lab.append(lab)
        zg_true.append(label_known)
        names_g.append(it.name)
        le = res.local_embedding  # (d,h,w)
        mask = it.mask if it.mask is not None else np.full(it.image.shape[:2], lab, np.int64)
        cl = M.downsample_labels(mask, le.shape[1:], "mode", len(classes)).ravel()
        pick = rng.choice(cl.size, min(LOCAL_CELLS_PER_IMAGE, cl.size), replace=False)
        zl.extend(le.reshape(le.shape[0], -1)[:, pick].T)
        zl_lab.extend(cl[pick].tolist())
        names_l.extend(f"{it.name} cell {p}" for p in pick)
        # gallery
        if idx < gallery_max:
            gallery_rows.append(_gallery_row(idx, it, g, galdir, classes, lab, label_known))

    seconds = time.perf_counter() - t0
    summ = collector.summary()
    layers = summ["layers"]
    figs = _Figs(figdir)
    body: dict[str, str] = {}

    # ---- usage
    U = collector.usage_tensor()
    seen = [c for c in range(len(classes)) if collector.cells[c].sum() > 0]
    body["usage"] = (
        '<p class="explain">Mean routing weight of each expert, per degradation class (rows; per-cell labels: the '
        "class mask downsampled to each layer's grid by majority, or the image label) and routed layer (columns). "
        "A layer whose experts specialise shows different experts lit for different rows.</p>"
        + figs(F.usage_heatmap_figure(U[seen], [classes[c] for c in seen], layers), "usage_heatmap"))

    # ---- specialisation
    ent = summ["entropy_per_layer"]
    body["specialisation"] = (
        '<p class="explain">Normalised mutual information between the chosen (top-1) expert and the degradation '
        "class of each cell, per layer: 1 = each degradation has its own expert, 0 = the choice ignores the "
        "degradation. Computed over the cells of all images; it can only be high when several classes are present."
        "</p>" + figs(F.nmi_figure(summ["nmi_per_layer"]), "nmi")
        + _table([(f"routing entropy {l} (bits)", ent.get(l)) for l in layers]
                 + [("maximum entropy log2 E (bits)", summ["max_entropy_bits"])]))

    # ---- embedding
    fp = weights_fingerprint(weights) if weights else None
    bank, bank_note = None, ""
    if bank_path is not None and (Path(bank_path) / "bank.npz").is_file():
        try:
            cand = EmbeddingBank.load(bank_path)
            ok, why = cand.compatible_with(restorer, fp)
            if ok:
                bank = cand
                bank_note = f"Reference bank: {bank_path} ({len(bank)} points, layout {bank.meta.get('layout', 'umap')})."
                if why != "ok":
                    bank_note += f" Note: {why}."
            else:
                bank_note = f"The bank at {bank_path} was not used: {why}."
        except (OSError, ValueError, KeyError) as e:
            bank_note = f"The bank at {bank_path} could not be read ({e})."
    else:
        bank_note = f"No reference bank found at {bank_path}."
    protos = restorer.model.prototypes.detach().cpu().numpy()
    zg_a = normalize(np.stack(zg))
    zl_a = normalize(np.stack(zl)) if zl else np.zeros((0, protos.shape[1]), np.float32)
    if bank is None:
        bank = bank_from_embeddings(
            np.concatenate([zg_a, zl_a]), np.concatenate([zg_lab, zl_lab]).astype(np.int64),
            ["global"] * len(zg_a) + ["local"] * len(zl_a), names_g + names_l, protos, classes)
        bank_note += (" The embedding views below are computed on the fly from this report's own images, with a PCA "
                      "layout instead of UMAP (UMAP is only fitted offline by python -m analysis.bank).")
        notes.append("Embedding views: no compatible shipped bank; computed on the fly without UMAP (PCA layout).")
        on_the_fly = True
    else:
        on_the_fly = False
    sph = F.sphere_figure(bank, title=None)
    um = F.umap_figure(bank)
    if not on_the_fly:  # on the fly, this report's images are the bank points already
        _add_report_points(sph, um, bank, zg_a, zg_lab, classes)
    known = np.asarray(zg_true, bool)
    zg_lab_a = np.asarray(zg_lab, np.int64)
    emb_metrics = {
        "images": len(zg_a),
        "global_nearest_prototype_accuracy": nearest_prototype_accuracy(zg_a[known], zg_lab_a[known], protos) if known.any() else None,
        "global_alignment_to_prototype": alignment(zg_a[known], zg_lab_a[known], protos) if known.any() else None,
        "global_uniformity": uniformity(zg_a),
        "local_cell_accuracy": summ["recognition"]["local_accuracy"],
        "prototype_uniformity": uniformity(protos),
        "bank": bank_note.strip(),
    }
    if not on_the_fly:
        emb_metrics["bank_metrics"] = bank.meta.get("embedding_metrics") or bank.metrics()
    exact = bank.dim == 3
    body["embedding"] = (
        f'<p class="explain">{html.escape(bank_note)} '
        + ("The sphere is the model's true embedding space (d = 3)." if exact
           else f"The model's embeddings have d = {bank.dim}; the sphere shows a PCA projection.")
        + ("" if on_the_fly else " Open diamonds: this report's images (global embeddings).") + "</p>"
        + figs(sph, "embedding_sphere") + figs(um, "embedding_umap")
        + _table([(k.replace("_", " "), v) for k, v in emb_metrics.items() if k not in ("bank", "bank_metrics")]))

    # ---- glgf
    al = summ["alpha"]
    agree_all = summ["agreement"]
    glgf_html = ('<p class="explain">GLGF fuses the global (image-level) and local (region) embeddings with a '
                 "per-cell global share alpha (0 = local only, 1 = global only). On spatially mixed images the local "
                 "embedding should matter more (lower alpha), most of all near region boundaries. The bars show how "
                 "often the fused routing picks the same top expert as the global-only and the local-only ablations."
                 "</p>")
    glgf_html += figs(F.alpha_hist_figure(al), "alpha_hist")
    glgf_html += figs(F.agreement_figure(agree_all.get("global", {}), agree_all.get("local", {}),
                                         title="Agreement of fused routing with each ablation (all images)"), "agreement_all")
    for kind in ("uniform", "mixed"):
        ak = summ["agreement_by_kind"].get(kind, {})
        if collector.n_by_kind[kind] and summ["images_by_kind"].get("mixed") and ak.get("global"):
            glgf_html += figs(F.agreement_figure(ak.get("global", {}), ak.get("local", {}),
                                                 title=f"Agreement with each ablation ({kind} images)"), f"agreement_{kind}")
    glgf_rows = [
        ("alpha mean, uniform images", al["uniform"]["mean"]), ("alpha std, uniform images", al["uniform"]["std"]),
        ("alpha mean, mixed images", al["mixed"]["mean"]), ("alpha std, mixed images", al["mixed"]["std"]),
        ("alpha mean at region boundaries (mixed)", al["mixed_boundary_mean"]),
        ("alpha mean inside regions (mixed)", al["mixed_interior_mean"]),
        ("mean agreement fused = global-only", _mean(agree_all.get("global"))),
        ("mean agreement fused = local-only", _mean(agree_all.get("local"))),
    ]
    if not summ["images_by_kind"].get("mixed"):
        glgf_html += '<p class="note">No spatially mixed images in this run (add --mixed N with the datasets folder present).</p>'
    body["glgf"] = glgf_html + _table(glgf_rows)

    # ---- gallery
    legend = _legend({f"expert {e}": M.expert_color(e) for e in range(collector.E)})
    cl_legend = _legend({c: M.class_color(c) for c in classes})
    shown = min(gallery_max, len(items))
    body["gallery"] = (
        f'<p class="explain">Per-layer maps of the top expert per cell for the first {shown} of {len(items)} images '
        "(input, restored, GLGF alpha: blue = local, red = global; nearest prototype of each local embedding; then "
        "one map per routed layer). PNG files in figures/gallery/.</p>" + legend + cl_legend
        + '<div class="gal"><table>' + "".join(gallery_rows) + "</table></div>")

    # ---- metrics
    rec = summ["recognition"]
    global_acc = rec["global_accuracy"]  # images with known labels only
    psnrs = [r["psnr"] for r in per_image if "psnr" in r]
    by_source: dict[str, list[float]] = {}
    for r in per_image:
        if "psnr" in r:
            by_source.setdefault(r["source"], []).append(r["psnr"])
    metrics_rows = [
        ("images", len(items)), ("uniform / mixed", f"{summ['images_by_kind']['uniform']} / {summ['images_by_kind']['mixed']}"),
        ("labels", "predicted class (degradations unknown)" if labels_predicted == len(items)
         else f"{len(items) - labels_predicted} known, {labels_predicted} predicted"),
        ("global recognition accuracy (known labels)", global_acc),
        ("local cell recognition accuracy", emb_metrics["local_cell_accuracy"]),
        ("mean NMI over layers", _mean(summ["nmi_per_layer"])),
        ("max NMI (layer)", _argmax_str(summ["nmi_per_layer"])),
        ("mean routing entropy (bits)", _mean(ent)),
        ("mean alpha uniform / mixed", f"{_f(al['uniform']['mean'])} / {_f(al['mixed']['mean'])}"),
        ("mean agreement with global-only / local-only",
         f"{_f(_mean(agree_all.get('global')))} / {_f(_mean(agree_all.get('local')))}"),
        ("global embedding uniformity (t=2)", emb_metrics["global_uniformity"]),
        ("mean PSNR (dB)", float(np.mean(psnrs)) if psnrs else None),
    ] + [(f"mean PSNR {s} (dB)", float(np.mean(v))) for s, v in by_source.items()] + [
        ("model", f"{restorer.cfg.name}, d={restorer.cfg.embed_dim}, E={restorer.cfg.num_experts}, top-k={top_k or restorer.cfg.top_k}"),
        ("weights", str(weights) if weights else "in memory"),
        ("seconds (3 restorations per image)", round(seconds, 1)),
    ]
    body["metrics"] = _table(metrics_rows)
    if np.asarray(rec["confusion"]).sum():
        body["metrics"] += figs(F.confusion_figure(np.asarray(rec["confusion"]), classes,
                                                   title="Global recognition on images with known labels"), "confusion")

    if static:
        from .export import export_static

        if progress:
            print(f"writing {len(figs.jobs)} figures as {'/'.join(static)} ...", file=sys.stderr, flush=True)
        written, why = export_static(figs.jobs, static)
        figs.files += [f"figures/{p.name}" for p in written]
        if why:
            notes.append(why)
            print(f"warning: {why}", file=sys.stderr)
    if labels_predicted:
        notes.insert(0, f"{labels_predicted} image(s) have unknown degradations: their predicted class is used as the "
                        "label, so usage per class and NMI describe the model's own classification, and recognition "
                        "accuracy is not reported for them.")
    summary = jsonable({
        "sections": list(SECTIONS), "notes": notes, "routing": summ, "embedding": emb_metrics,
        "recognition": rec, "images": per_image,
        "figures": figs.files, "seconds": seconds,
        "model": {"name": restorer.cfg.name, "embed_dim": restorer.cfg.embed_dim, "num_experts": restorer.cfg.num_experts,
                  "top_k": top_k or restorer.cfg.top_k, "weights": str(weights) if weights else None, "weights_sha256": fp},
    })
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    (out / "index.html").write_text(_page(body, notes, len(items), restorer, weights))
    return summary


def _f(v: Any) -> str:
    return "n/a" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.3f}"


def _mean(d: dict | None) -> float | None:
    vals = [v for v in (d or {}).values() if v is not None and np.isfinite(v)]
    return float(np.mean(vals)) if vals else None


def _argmax_str(d: dict) -> str:
    vals = {k: v for k, v in d.items() if v is not None}
    if not vals:
        return "n/a"
    k = max(vals, key=vals.get)
    return f"{vals[k]:.3f} ({k})"


def _add_report_points(sph, um, bank: EmbeddingBank, zg: np.ndarray, labels: Sequence[int], classes) -> None:
    """Overlay this report's global embeddings (open diamonds) on the sphere and the 2-D map."""
    import plotly.graph_objects as go

    from .embedding import sphere_coords

    xyz, _ = sphere_coords(zg, bank.pca_basis)
    xy = bank.place(zg)
    lab = np.asarray(labels)
    for c in np.unique(lab):
        s = lab == c
        name = f"report: {classes[c]}"
        col = M.class_color(classes[c])
        sph.add_trace(go.Scatter3d(x=xyz[s, 0], y=xyz[s, 1], z=xyz[s, 2], mode="markers", name=name,
                                   marker=dict(size=7, symbol="diamond-open", color=col, line=dict(width=2, color=col))))
        um.add_trace(go.Scatter(x=xy[s, 0], y=xy[s, 1], mode="markers", name=name,
                                marker=dict(size=11, symbol="diamond-open", color=col, line=dict(width=2, color=col))))


def _gallery_row(idx: int, it: Item, g: dict, galdir: Path, classes, lab: int, label_known: bool) -> str:
    res = g["fused"]
    H, W = it.image.shape[:2]
    s = min(1.0, THUMB / max(H, W))
    size = (max(1, round(H * s)), max(1, round(W * s)))
    stem = f"{idx:03d}"
    cells = []

    def add(arr: np.ndarray, tag: str, caption: str) -> None:
        cells.append(f"<td>{_img(arr, galdir / f'{stem}_{tag}.png', tag, caption)}{html.escape(caption)}</td>")

    add(M.thumbnail(it.image, THUMB), "input", "input")
    add(M.thumbnail(res.image, THUMB), "restored", "restored")
    add(M.alpha_rgb(res.alpha, size), "alpha", f"alpha (mean {float(res.alpha.mean()):.2f})")
    add(M.class_map_rgb(res.local_class_sims, size, classes), "local_class", "local class")
    if it.mask is not None:
        add(M.label_map_rgb(it.mask, size, classes), "mask", "true classes")
    elif label_known:
        add(M.label_map_rgb(np.full(size, lab), None, classes), "mask", f"true class: {classes[lab]}")
    else:
        cells.append('<td style="vertical-align:middle;color:#888">true classes<br>unknown</td>')
    for lm in res.routing:
        add(M.expert_map_rgb(lm, size), f"layer_{lm.name}", lm.name)
    label = classes[lab] + ("" if label_known else " (predicted)")
    head = (f'<td style="text-align:left;min-width:140px"><b>{html.escape(it.name)}</b><br>{W}x{H}<br>'
            f"label: {html.escape(label)}<br>predicted: {html.escape(res.predicted_class)} "
            f"({float(res.class_probs.max()):.0%})<br>agree global/local: {g['mean_agree_global']:.2f}/"
            f"{g['mean_agree_local']:.2f}</td>")
    return "<tr>" + head + "".join(cells) + "</tr>"


def _page(body: dict[str, str], notes: Sequence[str], n: int, restorer, weights) -> str:
    titles = {"usage": "Expert usage", "specialisation": "Specialisation", "embedding": "Embedding space",
              "glgf": "Global-local fusion (GLGF)", "gallery": "Gallery", "metrics": "Metrics"}
    nav = "".join(f'<a href="#{s}">{titles[s]}</a>' for s in SECTIONS)
    note_html = "".join(f'<div class="note">{html.escape(t)}</div>' for t in notes)
    secs = "".join(f'<section><h2 id="{s}">{titles[s]}</h2>{body[s]}</section>' for s in SECTIONS)
    stamp = time.strftime("%Y-%m-%d %H:%M")
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>SLER-IR analysis report</title>"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{_CSS}</style></head><body>"
            f"<header><h1>SLER-IR analysis report</h1><p>{n} images; model {html.escape(restorer.cfg.name)}; weights "
            f"{html.escape(str(weights) if weights else 'in memory')}; {stamp}</p></header><nav>{nav}</nav>"
            f"<main>{note_html}{secs}</main></body></html>")


# --------------------------------------------------------------------------------------------
# CLI


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.report", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--images", help="folder of images (degradations unknown: predicted class used as label)")
    src.add_argument("--suite", help="benchmark suite (three, five, all) or one benchmark name")
    ap.add_argument("--out", default="report", help="output folder (index.html, figures/, summary.json)")
    ap.add_argument("--weights", default=None,
                    help="weights folder or .safetensors (default: $SLERIR_WEIGHTS, else ./assets/weights)")
    ap.add_argument("--limit", type=int, default=None, help="at most N images (per benchmark for suites)")
    ap.add_argument("--data-root", default=None, help="datasets folder (default ../shared/datasets)")
    ap.add_argument("--mixed", type=int, default=0, help="add N spatially mixed composites from the validation photos")
    ap.add_argument("--bank", default=str(DEFAULT_BANK), help="reference embedding bank folder (default assets/bank)")
    ap.add_argument("--gallery", type=int, default=12, help="images shown in the gallery")
    ap.add_argument("--top-k", type=int, default=None, help="experts per pixel (default: the model's)")
    ap.add_argument("--tile", type=int, default=512, help="tile side for large images")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0 = torch default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--static", default="png,svg",
                    help="static copies of every figure for slides: png, svg, png,svg (default) or none "
                         "(needs kaleido and a Chromium-based browser; the report says when they are missing)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    from .export import parse_formats

    try:
        static = parse_formats(args.static)
    except ValueError as e:
        ap.error(str(e))

    import torch

    from slerir.checkpoint import CheckpointError
    from slerir.inference import Restorer
    from slerir.paths import cli_weights

    if args.threads:
        torch.set_num_threads(args.threads)
    weights = cli_weights(args.weights)
    try:
        restorer = Restorer.from_pretrained(weights, tile=args.tile)
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    notes: list[str] = []
    try:
        if args.images:
            items = items_from_folder(args.images, args.limit)
        else:
            from slerir.benchmarks import resolve_root

            items = items_from_suite(args.suite, resolve_root(args.data_root), args.limit)
    except (FileNotFoundError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.mixed:
        try:
            from slerir.data import resolve_root as data_root

            items += items_mixed(args.mixed, data_root(args.data_root), restorer.classes, seed=args.seed)
        except FileNotFoundError as e:
            notes.append(f"--mixed {args.mixed} skipped: {e}")
            print(f"warning: --mixed skipped: {e}", file=sys.stderr)
    summary = run_report(restorer, items, args.out, bank_path=args.bank, weights=weights, gallery_max=args.gallery,
                         top_k=args.top_k, notes=notes, progress=not args.no_progress, seed=args.seed,
                         static=static)
    print(f"report: {len(items)} images -> {Path(args.out) / 'index.html'} ({summary['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
