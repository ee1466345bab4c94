"""Geometry of the degradation embedding: alignment, uniformity, recognition, sphere coordinates and
the reference bank shipped with the demo.

Alignment and uniformity follow Wang & Isola, "Understanding Contrastive Representation Learning
through Alignment and Uniformity on the Hypersphere" (ICML 2020):
    L_align   = E_{(x,y) same class} ||f(x) - f(y)||^2          (pairwise form), or, with class
                prototypes p_c, mean (1 - cos(z_i, p_{y_i}))    (our prototype form);
    L_uniform = log E_{i != j} exp(-t ||z_i - z_j||^2), t = 2   (lower = more uniform).

``EmbeddingBank`` is the reference set shown in the demo's Embedding tab: embeddings of labelled
degraded images, their 2-D UMAP coordinates (fitted offline by ``analysis.bank``) and the class
prototypes. A new image is placed in the UMAP plane without umap (see ``EmbeddingBank.place``), so
the web app never imports umap-learn.

Files: ``bank.npz`` (numeric and fixed-width string arrays, read with ``allow_pickle=False``) and
``bank.json`` (classes and metadata).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .maps import downsample_labels
from .util import jsonable

NPZ_NAME = "bank.npz"
JSON_NAME = "bank.json"
BANK_FORMAT = 1


def normalize(z: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows scaled to unit norm (float64 internally, float32 out)."""
    z = np.asarray(z, dtype=np.float64)
    return (z / np.maximum(np.linalg.norm(z, axis=-1, keepdims=True), eps)).astype(np.float32)


def alignment(z: np.ndarray, labels: np.ndarray, prototypes: np.ndarray | None = None,
              max_pairs_per_class: int = 200_000, seed: int = 0) -> float:
    """How tightly each class clusters.

    Args:
        z: (N,d) embeddings (normalised here).
        labels: (N,) class ids.
        prototypes: (K,d). Given: mean cosine distance 1 - cos(z_i, p_{y_i}) (0 = on the
            prototype, 2 = opposite). None: Wang & Isola's pairwise form, the mean squared
            distance between normalised same-class points (0..4; pairs subsampled beyond
            ``max_pairs_per_class``).
    """
    zn = normalize(z).astype(np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if len(zn) == 0:
        return float("nan")
    if prototypes is not None:
        p = normalize(prototypes).astype(np.float64)
        return float(np.mean(1.0 - (zn * p[labels]).sum(1)))
    rng = np.random.default_rng(seed)
    total, count = 0.0, 0
    for c in np.unique(labels):
        zc = zn[labels == c]
        n = len(zc)
        if n < 2:
            continue
        if n * (n - 1) // 2 <= max_pairs_per_class:
            d2 = ((zc[:, None] - zc[None]) ** 2).sum(-1)
            iu = np.triu_indices(n, 1)
            vals = d2[iu]
        else:
            i = rng.integers(n, size=max_pairs_per_class)
            j = rng.integers(n, size=max_pairs_per_class)
            keep = i != j
            vals = ((zc[i[keep]] - zc[j[keep]]) ** 2).sum(-1)
        total += float(vals.sum())
        count += len(vals)
    return total / count if count else float("nan")


def uniformity(z: np.ndarray, t: float = 2.0, max_points: int = 4000, seed: int = 0) -> float:
    """log mean_{i<j} exp(-t ||z_i - z_j||^2) over normalised rows (Wang & Isola; lower = more
    uniform). Above ``max_points`` rows a fixed random subset is used."""
    zn = normalize(z).astype(np.float64)
    if len(zn) > max_points:
        zn = zn[np.random.default_rng(seed).choice(len(zn), max_points, replace=False)]
    n = len(zn)
    if n < 2:
        return float("nan")
    sq = (zn * zn).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None] - 2 * zn @ zn.T, 0.0)
    vals = -t * d2[np.triu_indices(n, 1)]
    m = vals.max()
    return float(m + np.log(np.mean(np.exp(vals - m))))  # log-mean-exp, stable


def nearest_prototype(z: np.ndarray, prototypes: np.ndarray) -> np.ndarray:
    """(N,) index of the prototype with the highest cosine similarity."""
    return (normalize(z) @ normalize(prototypes).T).argmax(1)


def nearest_prototype_accuracy(z: np.ndarray, labels: np.ndarray, prototypes: np.ndarray) -> float:
    """Share of rows whose nearest prototype (cosine) is their own class."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        return float("nan")
    return float((nearest_prototype(z, prototypes) == labels).mean())


def local_pixel_accuracy(local_class_sims: np.ndarray, class_mask: np.ndarray) -> float:
    """Share of local-embedding cells whose nearest prototype is the cell's class.

    Args:
        local_class_sims: (K,h,w) cosine similarities of the local embeddings to the prototypes.
        class_mask: (H,W) class id per pixel, downsampled to (h,w) by nearest (the pixel at each
            cell's centre).
    """
    s = np.asarray(local_class_sims)
    lab = downsample_labels(np.asarray(class_mask), s.shape[1:], "nearest")
    return float((s.argmax(0) == lab).mean())


# --------------------------------------------------------------------------------------------
# projections


def fit_pca_basis(z: np.ndarray, dims: int = 3) -> np.ndarray:
    """(d,dims) orthonormal basis of the top principal axes of the *uncentred* unit embeddings.

    Uncentred (second-moment) PCA keeps the origin fixed, so projecting unit vectors and
    renormalising maps the sphere S^{d-1} onto S^{dims-1} without shifting it."""
    zn = normalize(z).astype(np.float64)
    d = zn.shape[1]
    if d <= dims:
        basis = np.eye(d, dims)
        return basis.astype(np.float32)
    _, _, vt = np.linalg.svd(zn, full_matrices=False)
    basis = vt[:dims].T  # (d,dims)
    # fix the sign of each axis (largest-magnitude entry positive) so refits are reproducible
    signs = np.sign(basis[np.abs(basis).argmax(0), np.arange(dims)])
    return (basis * np.where(signs == 0, 1, signs)).astype(np.float32)


def sphere_coords(z: np.ndarray, basis: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
    """Points on the ordinary sphere S^2 for a 3-D plot.

    Args:
        z: (N,d) embeddings.
        basis: (d,3) projection (from ``fit_pca_basis``, stored in the bank); fitted on ``z`` when
            None and d != 3.
    Returns:
        ((N,3) unit vectors, exact): exact is True when d == 3 (the points are the embeddings
        themselves, normalised); otherwise they are a PCA projection, renormalised.
    """
    z = np.atleast_2d(np.asarray(z, dtype=np.float32))
    d = z.shape[1]
    if d == 3:
        return normalize(z), True
    if basis is None:
        basis = fit_pca_basis(z, 3)
    if basis.shape != (d, 3):
        raise ValueError(f"basis has shape {basis.shape}, expected ({d}, 3)")
    return normalize(normalize(z) @ basis), False


def pca_2d(z: np.ndarray, extra: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """A 2-D layout without umap (centred PCA of normalised rows); ``extra`` rows projected alike."""
    zn = normalize(z).astype(np.float64)
    mu = zn.mean(0)
    _, _, vt = np.linalg.svd(zn - mu, full_matrices=False)
    v = vt[:2].T if vt.shape[0] >= 2 else np.eye(zn.shape[1], 2)
    xy = ((zn - mu) @ v).astype(np.float32)
    ex = ((normalize(extra).astype(np.float64) - mu) @ v).astype(np.float32) if extra is not None else None
    return xy, ex


# --------------------------------------------------------------------------------------------
# the bank


def _str_array(x) -> np.ndarray:
    a = np.asarray([str(v) for v in x])
    return a.astype("U") if a.size else np.zeros(0, "U1")


@dataclass
class EmbeddingBank:
    """Reference embeddings of labelled degraded images (the demo's Embedding tab).

    Attributes:
        z: (N,d) float32 unit embeddings.
        labels: (N,) int class ids (index into ``classes``).
        kinds: (N,) str, "global" (one per image) or "local" (one cell of a mixed image).
        names: (N,) str, the source (image index, crop, cell) of each point.
        umap_xy: (N,2) float32 2-D coordinates (UMAP fitted offline; see ``meta["layout"]``).
        prototypes: (K,d) float32 class prototypes.
        proto_umap_xy: (K,2) float32 prototypes in the same plane.
        classes: class names.
        pca_basis: (d,3) projection for the sphere view when d != 3, else None.
        meta: facts about how it was built (weights, counts, accuracies, layout method).
    """

    z: np.ndarray
    labels: np.ndarray
    kinds: np.ndarray
    names: np.ndarray
    umap_xy: np.ndarray
    prototypes: np.ndarray
    proto_umap_xy: np.ndarray
    classes: tuple[str, ...]
    pca_basis: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.z = np.asarray(self.z, dtype=np.float32)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.kinds = _str_array(self.kinds)
        self.names = _str_array(self.names)
        self.umap_xy = np.asarray(self.umap_xy, dtype=np.float32).reshape(-1, 2)
        self.prototypes = np.asarray(self.prototypes, dtype=np.float32)
        self.proto_umap_xy = np.asarray(self.proto_umap_xy, dtype=np.float32).reshape(-1, 2)
        self.classes = tuple(str(c) for c in self.classes)
        if self.pca_basis is not None:
            self.pca_basis = np.asarray(self.pca_basis, dtype=np.float32)
        n = len(self.z)
        for nm in ("labels", "kinds", "names", "umap_xy"):
            if len(getattr(self, nm)) != n:
                raise ValueError(f"bank field {nm} has {len(getattr(self, nm))} rows, z has {n}")
        if len(self.prototypes) != len(self.classes) or len(self.proto_umap_xy) != len(self.classes):
            raise ValueError("need one prototype (and one prototype position) per class")
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.classes)):
            raise ValueError("labels out of range of classes")

    # -- properties ---------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return int(self.z.shape[1]) if self.z.ndim == 2 else int(self.prototypes.shape[1])

    @property
    def exact_sphere(self) -> bool:
        return self.dim == 3

    def __len__(self) -> int:
        return len(self.z)

    def subset(self, kind: str) -> np.ndarray:
        """Boolean row mask of the points of ``kind`` ("global" or "local")."""
        return self.kinds == kind

    # -- placement ----------------------------------------------------------------------------
    def place(self, z_new: np.ndarray, k: int = 8, eps: float = 1e-6) -> np.ndarray:
        """Position new embeddings in the bank's UMAP plane without running umap.

        For each new point, take the k = 8 bank points with the highest cosine similarity and
        return the weighted average of their UMAP coordinates, with inverse-distance (Shepard)
        weights w_i = 1 / (||z - z_i|| + eps) on unit vectors (||z - z_i||^2 = 2 - 2 cos). Nearer
        neighbours count more, a point equal to a bank point lands (to within eps) on it, and
        when the k neighbours share one position the result is exactly that position. This is an
        approximation of ``umap.transform`` that costs one matrix product (fine on the request
        path); points far from every bank point land between their nearest neighbours.

        Args:
            z_new: (M,d) or (d,) embeddings.
        Returns:
            (M,2) float32 (one row for a (d,) input).
        """
        q = normalize(np.atleast_2d(np.asarray(z_new, dtype=np.float32)))
        if q.shape[1] != self.dim:
            raise ValueError(f"embeddings have d={q.shape[1]}, the bank has d={self.dim}")
        if len(self.z) == 0:
            raise ValueError("the bank is empty")
        zb = normalize(self.z)
        k = int(min(k, len(zb)))
        sims = q.astype(np.float64) @ zb.T.astype(np.float64)  # (M,N)
        idx = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < len(zb) else np.tile(np.arange(len(zb)), (len(q), 1))
        s = np.take_along_axis(sims, idx, 1)
        dist = np.sqrt(np.maximum(2.0 - 2.0 * s, 0.0))
        w = 1.0 / (dist + eps)
        w /= w.sum(1, keepdims=True)
        xy = (w[..., None] * self.umap_xy[idx].astype(np.float64)).sum(1)
        return xy.astype(np.float32)

    def sphere(self) -> tuple[np.ndarray, bool]:
        """Bank points on S^2 (exact when d == 3) -> ((N,3), exact)."""
        return sphere_coords(self.z, self.pca_basis)

    # -- metrics ------------------------------------------------------------------------------
    def metrics(self) -> dict[str, Any]:
        """Alignment, uniformity and nearest-prototype accuracy, for global and local points."""
        out: dict[str, Any] = {}
        for kind in ("global", "local"):
            sel = self.subset(kind)
            if not sel.any():
                continue
            z, y = self.z[sel], self.labels[sel]
            out[kind] = {
                "n": int(sel.sum()),
                "nearest_prototype_accuracy": nearest_prototype_accuracy(z, y, self.prototypes),
                "alignment_to_prototype": alignment(z, y, self.prototypes),
                "alignment_pairs": alignment(z, y),
                "uniformity": uniformity(z),
            }
        out["prototype_uniformity"] = uniformity(self.prototypes)
        return out

    # -- compatibility -------------------------------------------------------------------------
    def compatible_with(self, restorer, fingerprint: str | None = None) -> tuple[bool, str]:
        """Whether this bank's embeddings live in the same space as ``restorer``'s.

        Checks the embedding size, the classes, the prototypes and, when both are known, the
        weights fingerprint (``slerir.checkpoint.weights_fingerprint``) stored at build time in
        ``meta["weights_sha256"]``. Returns (ok, reason)."""
        cfg = restorer.cfg
        if self.dim != cfg.embed_dim:
            return False, f"bank has d={self.dim}, the model d={cfg.embed_dim}"
        if tuple(self.classes) != tuple(restorer.classes):
            return False, f"bank classes {self.classes} differ from the model's {tuple(restorer.classes)}"
        protos = restorer.model.prototypes.detach().cpu().numpy()
        if protos.shape != self.prototypes.shape or not np.allclose(protos, self.prototypes, atol=1e-4):
            return False, "bank prototypes differ from the model's"
        built = self.meta.get("weights_sha256")
        if fingerprint and built and fingerprint != built:
            return False, f"bank was built with other weights (sha256 {built} vs {fingerprint})"
        if fingerprint and not built:
            return True, "bank does not record which weights built it"
        return True, "ok"

    # -- files --------------------------------------------------------------------------------
    @staticmethod
    def _paths(path: str | Path) -> tuple[Path, Path]:
        path = Path(path)
        if path.suffix == ".npz":
            return path, path.with_suffix(".json")
        return path / NPZ_NAME, path / JSON_NAME

    def save(self, path: str | Path) -> Path:
        """Write ``bank.npz`` + ``bank.json`` into the folder ``path`` (or ``path`` = x.npz and x.json)."""
        npz, js = self._paths(path)
        npz.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"z": self.z, "labels": self.labels, "kinds": self.kinds, "names": self.names,
                  "umap_xy": self.umap_xy, "prototypes": self.prototypes, "proto_umap_xy": self.proto_umap_xy}
        if self.pca_basis is not None:
            arrays["pca_basis"] = self.pca_basis
        with open(npz, "wb") as f:
            np.savez_compressed(f, **arrays)
        sidecar = {"format": BANK_FORMAT, "classes": list(self.classes), "meta": self.meta}
        js.write_text(json.dumps(jsonable(sidecar), indent=2))
        return npz.parent if Path(path).suffix != ".npz" else npz

    @classmethod
    def load(cls, path: str | Path) -> "EmbeddingBank":
        """Read a bank written by ``save`` (never unpickles: ``allow_pickle=False``)."""
        npz, js = cls._paths(path)
        if not npz.is_file():
            raise FileNotFoundError(f"no embedding bank at {npz}")
        side = json.loads(js.read_text()) if js.is_file() else {}
        with np.load(npz, allow_pickle=False) as d:
            arr = {k: d[k] for k in d.files}
        classes = tuple(side.get("classes") or [])
        if not classes:
            from slerir.config import CLASSES
            classes = CLASSES
        return cls(z=arr["z"], labels=arr["labels"], kinds=arr["kinds"], names=arr["names"], umap_xy=arr["umap_xy"],
                   prototypes=arr["prototypes"], proto_umap_xy=arr["proto_umap_xy"], classes=classes,
                   pca_basis=arr.get("pca_basis"), meta=side.get("meta", {}))


def bank_from_embeddings(z: np.ndarray, labels: np.ndarray, kinds, names, prototypes: np.ndarray,
                         classes, meta: dict[str, Any] | None = None) -> EmbeddingBank:
    """A bank laid out by PCA instead of UMAP (``meta["layout"] = "pca"``): used where no shipped
    bank is available and umap must not run (the report's fallback)."""
    z = normalize(z)
    xy, pxy = pca_2d(z, prototypes)
    basis = None if z.shape[1] == 3 else fit_pca_basis(z, 3)
    m = {"layout": "pca", **(meta or {})}
    return EmbeddingBank(z=z, labels=labels, kinds=kinds, names=names, umap_xy=xy, prototypes=normalize(prototypes),
                         proto_umap_xy=pxy, classes=tuple(classes), pca_basis=basis, meta=m)
