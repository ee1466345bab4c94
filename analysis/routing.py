"""Routing statistics: entropy, expert usage, agreement between runs, specialisation (NMI), and a
collector that accumulates them over a set of images.

Definitions (w_e(p): routing weight of expert e at cell p, sum_e w_e(p) = 1):
    entropy        H(p) = -sum_e w_e(p) log2 w_e(p) (0 log 0 = 0), averaged over cells, in bits.
                   One-hot routing gives 0; uniform routing over E experts gives log2(E).
    usage          u_e = mean_p w_e(p).
    top-1 share    fraction of cells where e = argmax_e w_e(p).
    agreement      fraction of cells where two runs pick the same argmax expert.
    NMI            between the chosen (argmax) expert X and the degradation class Y of a cell:
                   NMI = I(X;Y) / ((H(X) + H(Y)) / 2)  (arithmetic-mean normalisation, as
                   sklearn's ``normalized_mutual_info_score`` default), 1 for perfectly
                   specialised routing (a bijection between classes and experts), 0 when the
                   chosen expert is independent of the class, and 0 by convention when either
                   side takes a single value (nothing to explain or nothing explained).

Pure numpy; no sklearn (the demo's requirements do not include it).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from slerir.config import CLASSES
from slerir.inference import LayerMap, RestorationResult

from .maps import downsample_labels
from .util import jsonable

KINDS_OF_IMAGES = ("uniform", "mixed")
ALPHA_BINS = 10


def _weights(x: LayerMap | np.ndarray) -> np.ndarray:
    return np.asarray(x.weights if isinstance(x, LayerMap) else x, dtype=np.float64)


def cell_entropy(weights: LayerMap | np.ndarray) -> np.ndarray:
    """Per-cell entropy in bits of (E,...) routing weights (renormalised along axis 0) -> (...)."""
    w = _weights(weights)
    w = w / np.maximum(w.sum(0, keepdims=True), 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(w > 0, w * np.log2(np.where(w > 0, w, 1.0)), 0.0)
    return -t.sum(0)


def routing_entropy(weights: LayerMap | np.ndarray) -> float:
    """Mean per-cell entropy (bits) of routing weights shaped (E,...) (or a ``LayerMap``)."""
    return float(cell_entropy(weights).mean())


def usage(layer: LayerMap | np.ndarray) -> np.ndarray:
    """(E,) mean routing weight of each expert over all cells."""
    w = _weights(layer)
    return w.reshape(w.shape[0], -1).mean(1)


def top1_share(layer: LayerMap | np.ndarray) -> np.ndarray:
    """(E,) share of cells where each expert has the highest weight (ties -> lower index)."""
    w = _weights(layer)
    E = w.shape[0]
    am = w.reshape(E, -1).argmax(0)
    return np.bincount(am, minlength=E) / max(am.size, 1)


def agreement(a: RestorationResult, b: RestorationResult) -> dict[str, float]:
    """Per routed layer (present in both), the fraction of cells whose argmax expert is the same."""
    out: dict[str, float] = {}
    bmap = {r.name: r for r in b.routing}
    for la in a.routing:
        lb = bmap.get(la.name)
        if lb is None:
            continue
        ea, eb = la.expert_map, lb.expert_map
        if ea.shape != eb.shape:
            raise ValueError(f"layer {la.name}: map shapes differ {ea.shape} vs {eb.shape}")
        out[la.name] = float((ea == eb).mean())
    return out


def glgf_agreement(restorer, image, **kw) -> dict[str, Any]:
    """Run the fused (GLGF), global-only and local-only routings of one image and compare them.

    Args:
        restorer: a ``slerir.inference.Restorer``.
        image: anything ``Restorer.restore`` accepts.
        **kw: passed to ``restore`` (top_k, tile, ...); ``capture`` is forced on, ``fusion`` set.
    Returns:
        {"fused", "global", "local": RestorationResult, "agree_global", "agree_local":
        {layer: fraction of cells where fused routing picks the same expert as that ablation},
        "mean_agree_global", "mean_agree_local": float (mean over layers)}.
    """
    kw = {k: v for k, v in kw.items() if k not in ("capture", "fusion")}
    fused = restorer.restore(image, capture=True, fusion="glgf", **kw)
    glob = restorer.restore(image, capture=True, fusion="global", **kw)
    loc = restorer.restore(image, capture=True, fusion="local", **kw)
    ag, al = agreement(fused, glob), agreement(fused, loc)
    return {
        "fused": fused, "global": glob, "local": loc,
        "agree_global": ag, "agree_local": al,
        "mean_agree_global": float(np.mean(list(ag.values()))) if ag else float("nan"),
        "mean_agree_local": float(np.mean(list(al.values()))) if al else float("nan"),
    }


# --------------------------------------------------------------------------------------------
# mutual information


def _entropy_nats(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def nmi_from_contingency(table: np.ndarray) -> float:
    """NMI (arithmetic normalisation) from a (classes x experts) table of counts.

    Rows/columns that are all zero are ignored; if fewer than two classes or two experts occur,
    returns 0.0."""
    c = np.asarray(table, dtype=np.float64)
    c = c[c.sum(1) > 0][:, c.sum(0) > 0]
    n = c.sum()
    if n <= 0 or c.shape[0] < 2 or c.shape[1] < 2:
        return 0.0
    pxy = c / n
    px, py = pxy.sum(1), pxy.sum(0)
    hx, hy = _entropy_nats(px), _entropy_nats(py)
    nz = pxy > 0
    mi = float((pxy[nz] * np.log(pxy[nz] / (px[:, None] * py[None, :])[nz])).sum())
    denom = 0.5 * (hx + hy)
    if denom <= 0:
        return 0.0
    return float(np.clip(mi / denom, 0.0, 1.0))


def contingency(a: np.ndarray, b: np.ndarray, na: int | None = None, nb: int | None = None) -> np.ndarray:
    """(na x nb) counts of the pairs (a_i, b_i) of two non-negative int arrays of equal size."""
    a = np.asarray(a, dtype=np.int64).ravel()
    b = np.asarray(b, dtype=np.int64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"arrays differ in size: {a.size} vs {b.size}")
    if a.size and (a.min() < 0 or b.min() < 0):
        raise ValueError("labels must be non-negative integers")
    na = int(na or (a.max() + 1 if a.size else 1))
    nb = int(nb or (b.max() + 1 if b.size else 1))
    return np.bincount(a * nb + b, minlength=na * nb).reshape(na, nb)


def nmi(chosen: np.ndarray, labels: np.ndarray) -> float:
    """Normalised mutual information between chosen expert and degradation class per cell.

    NMI = I(X;Y) / ((H(X) + H(Y)) / 2); 1 for perfectly specialised routing, about 0 for routing
    independent of the class, 0 when only one class or one expert occurs.
    """
    return nmi_from_contingency(contingency(labels, chosen))


# --------------------------------------------------------------------------------------------
# collector


def boundary_cells(labels: np.ndarray) -> np.ndarray:
    """(h,w) bool: cells with a 4-neighbour of another class (region boundaries)."""
    lab = np.asarray(labels)
    b = np.zeros(lab.shape, bool)
    dy = lab[1:] != lab[:-1]
    dx = lab[:, 1:] != lab[:, :-1]
    b[1:] |= dy
    b[:-1] |= dy
    b[:, 1:] |= dx
    b[:, :-1] |= dx
    return b


class RoutingCollector:
    """Accumulates routing statistics over many images.

    Per image, ``add`` takes the ``RestorationResult`` (captured) and either a per-pixel class mask
    (H,W) or an image label (one class for every pixel). Per routed layer, cell labels are the
    mask downsampled to that layer's grid by mode (majority class of each cell's pixels).

    Accumulated (C classes, L layers, E experts):
        usage sums (C,L,E) and cell counts (C,L) -> mean routing weight per (class, layer, expert);
        top-1 counts (C,L,E), which are also the (class x chosen expert) contingency tables -> NMI
        per layer; entropy sums per layer (and per class and layer); GLGF alpha statistics split
        by "uniform" vs "mixed" images (a mask with more than one class is "mixed"), with the
        mixed images' boundary vs interior cells; global recognition (confusion of the image label
        vs the predicted class, images with known labels only); local recognition (cells whose nearest prototype is their class);
        optionally per-layer agreement of fused routing with global-only / local-only routing.
    """

    def __init__(self, classes: Sequence[str] = CLASSES):
        self.classes = tuple(classes)
        self.C = len(self.classes)
        self.layers: list[str] = []
        self.levels: list[int] = []
        self.E = 0
        self.n_images = 0
        self.n_by_kind = {k: 0 for k in KINDS_OF_IMAGES}
        self.alpha_hist = {k: np.zeros(ALPHA_BINS, np.int64) for k in KINDS_OF_IMAGES}
        self.alpha_sum = {k: 0.0 for k in KINDS_OF_IMAGES}
        self.alpha_sq = {k: 0.0 for k in KINDS_OF_IMAGES}
        self.alpha_n = {k: 0 for k in KINDS_OF_IMAGES}
        self.alpha_image_means: dict[str, list[float]] = {k: [] for k in KINDS_OF_IMAGES}
        self.alpha_region = {"boundary": [0.0, 0], "interior": [0.0, 0]}  # mixed images: sum, count
        self.confusion = np.zeros((self.C, self.C), np.int64)  # image label x predicted class
        self.local_correct = 0
        self.local_total = 0
        self.agree: dict[str, dict[str, list[float]]] = {}  # kind -> "global"/"local" -> per layer lists
        self.records: list[dict[str, Any]] = []

    # -- setup --------------------------------------------------------------------------------
    def _init_layers(self, result: RestorationResult) -> None:
        if not result.routing:
            raise ValueError("result has no routing maps; restore with capture=True")
        self.layers = [r.name for r in result.routing]
        self.levels = [r.level for r in result.routing]
        self.E = int(result.routing[0].weights.shape[0])
        L, C, E = len(self.layers), self.C, self.E
        self.usage_sum = np.zeros((C, L, E), np.float64)
        self.top1 = np.zeros((C, L, E), np.int64)
        self.cells = np.zeros((C, L), np.int64)
        self.entropy_sum = np.zeros((C, L), np.float64)
        self.agree = {k: {"global": [[] for _ in range(L)], "local": [[] for _ in range(L)]} for k in KINDS_OF_IMAGES}

    # -- accumulation -------------------------------------------------------------------------
    def add(self, result: RestorationResult, mask: np.ndarray | None = None, label: int | str | None = None,
            kind: str | None = None, name: str | None = None, label_known: bool = True) -> dict[str, Any]:
        """Add one image.

        Args:
            result: a captured ``RestorationResult``.
            mask: (H,W) int class id per pixel (image-sized), or None.
            label: class id or name of the whole image (used when ``mask`` is None).
            kind: "uniform" or "mixed"; default: "mixed" if the mask holds more than one class.
            name: an identifier kept in the per-image record.
            label_known: False when the label is the model's own prediction (images of unknown
                degradation): routing statistics still use it, recognition accuracy does not.
        Returns:
            the per-image record (also kept in ``self.records``).
        """
        if not self.layers:
            self._init_layers(result)
        H, W = result.input.shape[:2]
        if mask is None:
            if label is None:
                raise ValueError("give a class mask or an image label")
            lab = self.classes.index(label) if isinstance(label, str) else int(label)
            if not 0 <= lab < self.C:
                raise ValueError(f"label {label} out of range")
            mask = np.full((H, W), lab, np.int64)
        mask = np.asarray(mask, dtype=np.int64)
        if mask.shape != (H, W):
            raise ValueError(f"mask shape {mask.shape} differs from the image's {(H, W)}")
        present = np.flatnonzero(np.bincount(mask.ravel(), minlength=self.C))
        kind = kind or ("mixed" if len(present) > 1 else "uniform")
        if kind not in KINDS_OF_IMAGES:
            raise ValueError(f"kind must be one of {KINDS_OF_IMAGES}")
        image_label = int(np.bincount(mask.ravel(), minlength=self.C).argmax())

        names = {r.name: r for r in result.routing}
        rec_entropy: dict[str, float] = {}
        for li, lname in enumerate(self.layers):
            lm = names.get(lname)
            if lm is None:
                continue
            w = np.asarray(lm.weights, np.float64)  # (E,h,w)
            h, wd = w.shape[1:]
            cl = downsample_labels(mask, (h, wd), "mode", self.C).ravel()  # (h*w,)
            wf = w.reshape(self.E, -1)
            ent = cell_entropy(wf)  # (h*w,)
            am = wf.argmax(0)
            for c in np.unique(cl):
                sel = cl == c
                self.usage_sum[c, li] += wf[:, sel].sum(1)
                self.top1[c, li] += np.bincount(am[sel], minlength=self.E)
                self.cells[c, li] += int(sel.sum())
                self.entropy_sum[c, li] += float(ent[sel].sum())
            rec_entropy[lname] = float(ent.mean())

        rec: dict[str, Any] = {"name": name, "kind": kind, "label": self.classes[image_label],
                               "predicted": result.predicted_class, "entropy": rec_entropy}
        # global recognition (only against real labels)
        if label_known:
            self.confusion[image_label, int(np.argmax(result.class_probs))] += 1
        # alpha and local recognition
        if result.alpha is not None:
            a = np.asarray(result.alpha, np.float64)
            cl = downsample_labels(mask, a.shape, "mode", self.C)
            self.alpha_hist[kind] += np.histogram(np.clip(a, 0, 1), bins=ALPHA_BINS, range=(0, 1))[0]
            self.alpha_sum[kind] += float(a.sum())
            self.alpha_sq[kind] += float((a * a).sum())
            self.alpha_n[kind] += a.size
            self.alpha_image_means[kind].append(float(a.mean()))
            rec["alpha_mean"] = float(a.mean())
            if kind == "mixed":
                bnd = boundary_cells(cl)
                for key, sel in (("boundary", bnd), ("interior", ~bnd)):
                    self.alpha_region[key][0] += float(a[sel].sum())
                    self.alpha_region[key][1] += int(sel.sum())
            if result.local_class_sims is not None and label_known:
                pred = np.asarray(result.local_class_sims).argmax(0)
                self.local_correct += int((pred == cl).sum())
                self.local_total += cl.size
                rec["local_accuracy"] = float((pred == cl).mean())
        self.n_images += 1
        self.n_by_kind[kind] += 1
        self.records.append(rec)
        return rec

    def add_agreement(self, agree_global: dict[str, float], agree_local: dict[str, float], kind: str = "uniform") -> None:
        """Record per-layer agreement of fused routing with global-only and local-only routing."""
        if not self.layers:
            raise ValueError("add at least one result before agreements")
        for li, lname in enumerate(self.layers):
            if lname in agree_global:
                self.agree[kind]["global"][li].append(float(agree_global[lname]))
            if lname in agree_local:
                self.agree[kind]["local"][li].append(float(agree_local[lname]))

    # -- results ------------------------------------------------------------------------------
    def usage_tensor(self) -> np.ndarray:
        """(C,L,E) mean routing weight per (class, layer, expert); NaN for classes never seen."""
        if not self.layers:
            return np.zeros((self.C, 0, 0))
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.usage_sum / self.cells[..., None]

    def top1_tensor(self) -> np.ndarray:
        """(C,L,E) share of each class's cells where the expert is the argmax; NaN if unseen."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.top1 / self.cells[..., None]

    def nmi_per_layer(self) -> dict[str, float]:
        """NMI between chosen expert and cell class, per layer."""
        return {l: nmi_from_contingency(self.top1[:, i, :]) for i, l in enumerate(self.layers)}

    def entropy_per_layer(self) -> dict[str, float]:
        n = self.cells.sum(0)
        return {l: float(self.entropy_sum[:, i].sum() / n[i]) if n[i] else float("nan") for i, l in enumerate(self.layers)}

    def alpha_stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in KINDS_OF_IMAGES:
            n = self.alpha_n[k]
            mean = self.alpha_sum[k] / n if n else float("nan")
            var = self.alpha_sq[k] / n - mean * mean if n else float("nan")
            out[k] = {"images": self.n_by_kind[k], "cells": n, "mean": mean, "std": math.sqrt(max(var, 0.0)) if n else float("nan"),
                      "hist": self.alpha_hist[k].tolist(), "image_means": list(self.alpha_image_means[k])}
        out["bins"] = np.linspace(0, 1, ALPHA_BINS + 1).tolist()
        b, i = self.alpha_region["boundary"], self.alpha_region["interior"]
        out["mixed_boundary_mean"] = b[0] / b[1] if b[1] else float("nan")
        out["mixed_interior_mean"] = i[0] / i[1] if i[1] else float("nan")
        return out

    def agreement_per_layer(self, kind: str | None = None) -> dict[str, dict[str, float]]:
        """{"global": {layer: mean agreement}, "local": {...}} over images of ``kind`` (None: all)."""
        kinds = KINDS_OF_IMAGES if kind is None else (kind,)
        out: dict[str, dict[str, float]] = {"global": {}, "local": {}}
        for li, lname in enumerate(self.layers):
            for side in ("global", "local"):
                vals = [v for k in kinds for v in self.agree.get(k, {}).get(side, [[]] * len(self.layers))[li]]
                if vals:
                    out[side][lname] = float(np.mean(vals))
        return out

    def recognition(self) -> dict[str, Any]:
        n = self.confusion.sum()
        per_class = {}
        for c, name in enumerate(self.classes):
            row = self.confusion[c].sum()
            if row:
                per_class[name] = float(self.confusion[c, c] / row)
        return {
            "global_accuracy": float(np.trace(self.confusion) / n) if n else float("nan"),
            "global_per_class": per_class,
            "confusion": self.confusion.tolist(),
            "local_accuracy": self.local_correct / self.local_total if self.local_total else float("nan"),
        }

    def summary(self) -> dict[str, Any]:
        """Everything as a JSON-serialisable dict (NaN -> None)."""
        return jsonable({
            "classes": list(self.classes),
            "layers": list(self.layers),
            "levels": list(self.levels),
            "num_experts": self.E,
            "images": self.n_images,
            "images_by_kind": dict(self.n_by_kind),
            "cells_per_class": self.cells.sum(1).tolist() if self.layers else [],
            "usage": self.usage_tensor(),
            "top1": self.top1_tensor() if self.layers else [],
            "entropy_per_layer": self.entropy_per_layer() if self.layers else {},
            "max_entropy_bits": math.log2(self.E) if self.E else None,
            "nmi_per_layer": self.nmi_per_layer() if self.layers else {},
            "alpha": self.alpha_stats(),
            "agreement": self.agreement_per_layer() if self.layers else {},
            "agreement_by_kind": {k: self.agreement_per_layer(k) for k in KINDS_OF_IMAGES} if self.layers else {},
            "recognition": self.recognition(),
        })
