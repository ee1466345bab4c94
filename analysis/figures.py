"""Plotly figure builders shared by the demo and the offline report.

Every builder returns a ``plotly.graph_objects.Figure`` whose traces have stable names (tests and
the demo look them up by name). Colours come from ``analysis.maps`` so a class or an expert has
the same colour in every view.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from slerir.inference import RestorationResult

from .embedding import EmbeddingBank, sphere_coords
from .maps import BLUE_WHITE_RED, VIRIDIS, class_color, expert_color
from .routing import routing_entropy

FONT = dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif", size=12)
PROTO_TRACE = "prototypes"
USER_GLOBAL_TRACE = "your image (global)"
USER_LOCAL_TRACE = "your image (local cells)"
_VIRIDIS_SCALE = [[i / (len(VIRIDIS) - 1), c] for i, c in enumerate(VIRIDIS)]
_BWR_SCALE = [[i / (len(BLUE_WHITE_RED) - 1), c] for i, c in enumerate(BLUE_WHITE_RED)]


def _layout(fig: go.Figure, title: str | None, height: int = 420, **kw) -> go.Figure:
    fig.update_layout(title=dict(text=title or "", x=0.02), font=FONT, height=height, template="plotly_white",
                      margin=dict(l=50, r=20, t=60 if title else 30, b=40), **kw)
    return fig


# A legend in one row under the plot: beside it, in a half-width column, it squeezed the plot and its
# entries were clipped ("fuse / fuse").
LEGEND_BELOW = dict(orientation="h", yanchor="top", y=-0.3, x=0.0, xanchor="left")


def _layout_label(bank: EmbeddingBank) -> str:
    return "UMAP" if bank.meta.get("layout", "umap") == "umap" else "PCA"


# --------------------------------------------------------------------------------------------
# embedding views


def _sphere_mesh(n_lat: int = 24, n_lon: int = 48) -> go.Surface:
    th = np.linspace(0, math.pi, n_lat)
    ph = np.linspace(0, 2 * math.pi, n_lon)
    x = np.outer(np.sin(th), np.cos(ph))
    y = np.outer(np.sin(th), np.sin(ph))
    z = np.outer(np.cos(th), np.ones_like(ph))
    return go.Surface(x=x, y=y, z=z, opacity=0.12, showscale=False, hoverinfo="skip", name="unit sphere",
                      colorscale=[[0, "#9aa7b8"], [1, "#9aa7b8"]], showlegend=False,
                      contours=dict(x=dict(highlight=False), y=dict(highlight=False), z=dict(highlight=False)))


def _bank_groups(bank: EmbeddingBank, max_local: int):
    """Yield (kind, class name, boolean mask) for each non-empty group of bank points; local points
    are subsampled (fixed seed) to at most ``max_local``, the same ones in every figure."""
    rng = np.random.default_rng(0)
    for kind in ("global", "local"):
        sel = bank.kinds == kind
        if kind == "local" and sel.sum() > max_local:
            keep = rng.choice(np.flatnonzero(sel), max_local, replace=False)
            sel = np.zeros_like(sel)
            sel[keep] = True
        for c, name in enumerate(bank.classes):
            s = sel & (bank.labels == c)
            if s.any():
                yield kind, name, s


def sphere_figure(bank: EmbeddingBank, user_global: np.ndarray | None = None, user_local: np.ndarray | None = None,
                  title: str | None = None, max_local: int = 1500) -> go.Figure:
    """3-D view of the embedding sphere.

    Args:
        bank: the reference bank (points coloured by class; global = filled circles, local = small
            open circles), with its prototypes as class-coloured squares labelled just outside the sphere.
        user_global: (d,) the user's global embedding (a big black diamond).
        user_local: (M,d) sampled local embeddings of the user's image (small black x's).
        title: default says whether the view is exact (d = 3) or a PCA projection.
        max_local: at most this many bank local points are drawn (fixed subsample).
    Returns:
        a Figure with traces "unit sphere", "<class> (global)", "<class> (local)", "prototypes",
        and, when given, "your image (global)", "your image (local cells)".
    """
    d = bank.dim
    basis = bank.pca_basis
    xyz, exact = sphere_coords(bank.z, basis) if len(bank) else (np.zeros((0, 3)), d == 3)
    if title is None:
        title = ("Degradation embedding on the unit sphere (exact, d = 3)" if exact
                 else f"Degradation embedding: PCA projection of d = {d} onto the sphere")
    elif not exact and "projection" not in title.lower():
        title += f" (PCA projection of d = {d})"
    fig = go.Figure([_sphere_mesh()])
    style = {"global": ("circle", 4, 0.85), "local": ("circle-open", 3, 0.55)}
    for kind, name, s in _bank_groups(bank, max_local):
        symbol, size, opacity = style[kind]
        fig.add_trace(go.Scatter3d(
            x=xyz[s, 0], y=xyz[s, 1], z=xyz[s, 2], mode="markers", name=f"{name} ({kind})",
            legendgroup=name, marker=dict(size=size, color=class_color(name), symbol=symbol, opacity=opacity),
            text=bank.names[s], hovertemplate=f"{name} ({kind})<br>%{{text}}<extra></extra>"))
    pxyz, _ = sphere_coords(bank.prototypes, basis)
    fig.add_trace(go.Scatter3d(
        x=pxyz[:, 0], y=pxyz[:, 1], z=pxyz[:, 2], mode="markers", name=PROTO_TRACE, text=list(bank.classes),
        marker=dict(size=9, symbol="square", color=[class_color(c) for c in bank.classes],
                    line=dict(color="#111", width=2)),
        hovertemplate="prototype: %{text}<extra></extra>"))
    # labels just outside the sphere, beside their prototype instead of over it
    lxyz = pxyz * 1.22
    fig.add_trace(go.Scatter3d(x=lxyz[:, 0], y=lxyz[:, 1], z=lxyz[:, 2], mode="text", text=list(bank.classes),
                               textfont=dict(size=13, color="#111"), hoverinfo="skip", showlegend=False,
                               name="prototype labels"))
    if user_local is not None and len(np.atleast_2d(user_local)):
        u, _ = sphere_coords(np.atleast_2d(user_local), basis)
        fig.add_trace(go.Scatter3d(x=u[:, 0], y=u[:, 1], z=u[:, 2], mode="markers", name=USER_LOCAL_TRACE,
                                   marker=dict(size=3, symbol="x", color="#222", opacity=0.8),
                                   hovertemplate="your image, local cell<extra></extra>"))
    if user_global is not None:
        u, _ = sphere_coords(np.atleast_2d(user_global), basis)
        fig.add_trace(go.Scatter3d(x=u[:, 0], y=u[:, 1], z=u[:, 2], mode="markers", name=USER_GLOBAL_TRACE,
                                   marker=dict(size=12, symbol="diamond", color="#000", line=dict(color="#fff", width=2)),
                                   hovertemplate="your image (global)<extra></extra>"))
    ax = dict(range=[-1.3, 1.3], showbackground=False, zeroline=False, showspikes=False, title="",
              showgrid=False, showticklabels=False, visible=False)
    _layout(fig, title, height=680)
    fig.update_layout(margin=dict(l=0, r=0, b=0))
    fig.update_layout(scene=dict(xaxis=ax, yaxis=ax, zaxis=ax, aspectmode="cube",
                                 camera=dict(eye=dict(x=1.05, y=1.05, z=0.7))),
                      legend=dict(itemsizing="constant"), uirevision="sphere")
    return fig


def place_in_cluster(bank: EmbeddingBank, z: np.ndarray, k: int = 8, kind: str | None = None) -> np.ndarray:
    """Positions for new embeddings in the bank's 2-D layout: for each, the layout position of the medoid of
    its ``k`` nearest bank points (cosine), i.e. the neighbour whose position is closest to the others'.

    An average of the neighbours' positions (``EmbeddingBank.place``) lands in empty space between two
    clusters when the neighbours sit in both; the medoid always lies on a bank point, in the densest group.

    Args:
        z: (M,d) embeddings. kind: only bank points of this kind ("global", "local"); None: all.
    Returns:
        (M,2) float32.
    """
    q = np.atleast_2d(np.asarray(z, dtype=np.float64))
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    sel = np.ones(len(bank), bool) if kind is None else (bank.kinds == kind)
    if not sel.any():
        sel = np.ones(len(bank), bool)
    zb = np.asarray(bank.z, dtype=np.float64)[sel]
    zb = zb / np.maximum(np.linalg.norm(zb, axis=1, keepdims=True), 1e-12)
    xy = np.asarray(bank.umap_xy, dtype=np.float64)[sel]
    k = int(min(k, len(zb)))
    idx = np.argsort(-(q @ zb.T), axis=1, kind="stable")[:, :k]  # (M,k)
    pts = xy[idx]  # (M,k,2)
    cost = np.linalg.norm(pts[:, :, None, :] - pts[:, None, :, :], axis=-1).sum(-1)  # (M,k)
    return pts[np.arange(len(q)), cost.argmin(1)].astype(np.float32)


def umap_figure(bank: EmbeddingBank, user_global: np.ndarray | None = None, user_local: np.ndarray | None = None,
                title: str | None = None, max_local: int = 2000) -> go.Figure:
    """2-D map of the bank (UMAP fitted offline), with the user's points placed by ``bank.place``.

    Traces: "<class> (global)", "<class> (local)", "prototypes" (squares, each at the medoid of its nearest
    bank global points), and, when given, "your image (global)" (a black diamond) and "your image (local
    cells)" (black x's), placed by ``place_in_cluster``."""
    label = _layout_label(bank)
    if title is None:
        title = (f"Embedding bank, UMAP layout (new points placed on their nearest neighbours)" if label == "UMAP"
                 else "Embedding bank, PCA layout (no UMAP fitted for this bank)")
    fig = go.Figure()
    style = {"global": ("circle", 6, 0.85), "local": ("circle-open", 5, 0.5)}
    for kind, name, s in _bank_groups(bank, max_local):
        symbol, size, opacity = style[kind]
        fig.add_trace(go.Scatter(x=bank.umap_xy[s, 0], y=bank.umap_xy[s, 1], mode="markers", name=f"{name} ({kind})",
                                 legendgroup=name, text=bank.names[s],
                                 marker=dict(size=size, color=class_color(name), symbol=symbol, opacity=opacity),
                                 hovertemplate=f"{name} ({kind})<br>%{{text}}<extra></extra>"))
    pxy = place_in_cluster(bank, bank.prototypes, kind="global") if len(bank) else bank.proto_umap_xy
    fig.add_trace(go.Scatter(x=pxy[:, 0], y=pxy[:, 1], mode="markers+text", name=PROTO_TRACE,
                             text=list(bank.classes), textposition="top right",
                             marker=dict(size=13, symbol="square", color=[class_color(c) for c in bank.classes],
                                         line=dict(color="#111", width=2)),
                             hovertemplate="prototype: %{text}<extra></extra>"))
    if user_local is not None and len(np.atleast_2d(user_local)):
        xy = place_in_cluster(bank, np.atleast_2d(user_local))
        fig.add_trace(go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="markers", name=USER_LOCAL_TRACE,
                                 marker=dict(size=6, symbol="x-thin", color="#222", line=dict(width=1.5, color="#222")),
                                 hovertemplate="your image, local cell<extra></extra>"))
    if user_global is not None:
        xy = place_in_cluster(bank, np.atleast_2d(user_global))
        fig.add_trace(go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="markers", name=USER_GLOBAL_TRACE,
                                 marker=dict(size=18, symbol="diamond", color="#000", line=dict(color="#fff", width=2)),
                                 hovertemplate="your image (global)<extra></extra>"))
    _layout(fig, title, height=520, legend=dict(itemsizing="constant"))
    fig.update_xaxes(showticklabels=False, title=f"{label} 1", zeroline=False)
    fig.update_yaxes(showticklabels=False, title=f"{label} 2", zeroline=False, scaleanchor="x", scaleratio=1)
    return fig


# --------------------------------------------------------------------------------------------
# routing views


def usage_figure(result: RestorationResult, title: str | None = "Expert usage per routed layer") -> go.Figure:
    """Stacked bars: mean routing weight of each expert per layer, routing entropy annotated.

    Traces: "expert 0" ... "expert E-1"."""
    if not result.routing:
        raise ValueError("result has no routing maps; restore with capture=True")
    layers = [r.name for r in result.routing]
    U = np.stack([r.usage for r in result.routing])  # (L,E)
    E = U.shape[1]
    fig = go.Figure()
    for e in range(E):
        fig.add_trace(go.Bar(x=layers, y=U[:, e], name=f"expert {e}", marker_color=expert_color(e),
                             hovertemplate=f"expert {e}<br>%{{x}}: %{{y:.2f}}<extra></extra>"))
    for r in result.routing:
        fig.add_annotation(x=r.name, y=1.0, yshift=10, showarrow=False, font=dict(size=10, color="#444"),
                           text=f"H={routing_entropy(r):.2f}")
    _layout(fig, title, barmode="stack", legend=LEGEND_BELOW)
    fig.update_layout(margin=dict(b=110))
    fig.update_yaxes(range=[0, 1.12], title="mean routing weight")
    fig.update_xaxes(title=f"layer (H = routing entropy in bits, max log2 {E} = {math.log2(E):.2f})")
    return fig


def compare_usage_figure(a: RestorationResult, b: RestorationResult, names: tuple[str, str] = ("A", "B"),
                         title: str | None = "Expert usage per layer, two images side by side") -> go.Figure:
    """Stacked usage bars of two restorations, the two images' bars next to each other for every layer
    (x = "<layer> · A", "<layer> · B"), routing entropy annotated. Traces: "expert 0" ... "expert E-1"."""
    if not a.routing or not b.routing:
        raise ValueError("both results need routing maps; restore with capture=True")
    la, lb = [r.name for r in a.routing], [r.name for r in b.routing]
    if la != lb:
        raise ValueError("the two results come from different models (layers differ)")
    x = [f"{l} · {n}" for l in la for n in names]
    runs = [r for pair in zip(a.routing, b.routing) for r in pair]
    U = np.stack([r.usage for r in runs])  # (2L,E)
    fig = go.Figure()
    for e in range(U.shape[1]):
        fig.add_trace(go.Bar(x=x, y=U[:, e], name=f"expert {e}", marker_color=expert_color(e),
                             hovertemplate=f"expert {e}<br>%{{x}}: %{{y:.2f}}<extra></extra>"))
    for xi, r in zip(x, runs):
        fig.add_annotation(x=xi, y=1.0, yshift=10, showarrow=False, font=dict(size=9, color="#444"),
                           text=f"H={routing_entropy(r):.2f}")
    _layout(fig, title, barmode="stack", legend=LEGEND_BELOW)
    fig.update_layout(margin=dict(b=140))
    fig.update_yaxes(range=[0, 1.12], title="mean routing weight")
    fig.update_xaxes(tickangle=-45)
    return fig


def agreement_figure(agree_global: dict[str, float], agree_local: dict[str, float],
                     title: str | None = "GLGF: agreement of fused routing with each ablation") -> go.Figure:
    """Grouped bars per layer: share of cells where fused routing picks the same expert as
    global-only (trace "fused = global-only") and local-only (trace "fused = local-only")."""
    layers = list(dict.fromkeys([*agree_global, *agree_local]))
    fig = go.Figure([
        go.Bar(x=layers, y=[agree_global.get(l, np.nan) for l in layers], name="fused = global-only",
               marker_color="#D55E00", hovertemplate="%{x}: %{y:.1%}<extra>global-only</extra>"),
        go.Bar(x=layers, y=[agree_local.get(l, np.nan) for l in layers], name="fused = local-only",
               marker_color="#0072B2", hovertemplate="%{x}: %{y:.1%}<extra>local-only</extra>"),
    ])
    _layout(fig, title, barmode="group", legend=LEGEND_BELOW)
    fig.update_layout(margin=dict(b=110))
    fig.update_yaxes(range=[0, 1.05], title="share of cells, same top expert", tickformat=".0%")
    return fig


def class_prob_figure(result: RestorationResult, title: str | None = "Predicted degradation") -> go.Figure:
    """Horizontal bars of the global class probabilities (trace "class probability")."""
    classes = list(result.classes)
    p = np.asarray(result.class_probs, dtype=float)
    fig = go.Figure(go.Bar(x=p, y=classes, orientation="h", name="class probability",
                           marker_color=[class_color(c) for c in classes],
                           text=[f"{v:.0%}" for v in p], textposition="outside",
                           hovertemplate="%{y}: %{x:.1%}<extra></extra>"))
    _layout(fig, title, height=300)
    fig.update_xaxes(range=[0, 1.15], tickformat=".0%", title="probability")
    fig.update_yaxes(autorange="reversed")
    return fig


def usage_heatmap_figure(usage: np.ndarray, classes: Sequence[str], layers: Sequence[str],
                         title: str | None = "Expert usage per degradation and layer") -> go.Figure:
    """One heatmap per expert (facets): rows = degradation classes, columns = layers, colour = mean
    routing weight (0..1, shared scale). Traces: "expert 0" ... "expert E-1"."""
    U = np.asarray(usage, dtype=float)
    if U.ndim != 3 or U.shape[:2] != (len(classes), len(layers)):
        raise ValueError(f"usage must be (C,L,E) = ({len(classes)},{len(layers)},E), got {U.shape}")
    E = U.shape[2]
    cols = min(E, 3)
    rows = math.ceil(E / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"expert {e}" for e in range(E)],
                        horizontal_spacing=0.06, vertical_spacing=0.12 if rows > 1 else 0.1, shared_yaxes=True)
    for e in range(E):
        z = np.where(np.isfinite(U[:, :, e]), U[:, :, e], np.nan)
        fig.add_trace(go.Heatmap(z=z, x=list(layers), y=list(classes), name=f"expert {e}", coloraxis="coloraxis",
                                 hovertemplate=f"expert {e}<br>%{{y}} @ %{{x}}: %{{z:.2f}}<extra></extra>"),
                      row=e // cols + 1, col=e % cols + 1)
    _layout(fig, title, height=260 * rows + 80)
    fig.update_layout(coloraxis=dict(colorscale=_VIRIDIS_SCALE, cmin=0, cmax=1, colorbar=dict(title="weight")))
    fig.update_xaxes(tickangle=-45, tickfont=dict(size=9))
    fig.update_yaxes(autorange="reversed")
    return fig


def nmi_figure(nmi_per_layer: dict[str, float], title: str | None = "Specialisation: NMI(chosen expert; degradation) per layer") -> go.Figure:
    """Bars of the normalised mutual information per layer (trace "NMI"), 0 = no specialisation,
    1 = each degradation has its own expert."""
    layers = list(nmi_per_layer)
    vals = [nmi_per_layer[l] if nmi_per_layer[l] is not None else np.nan for l in layers]
    fig = go.Figure(go.Bar(x=layers, y=vals, name="NMI", marker_color="#009E73",
                           text=[f"{v:.2f}" if np.isfinite(v) else "" for v in vals], textposition="outside",
                           hovertemplate="%{x}: %{y:.3f}<extra></extra>"))
    _layout(fig, title)
    fig.update_yaxes(range=[0, 1.05], title="NMI")
    return fig


def alpha_hist_figure(alpha_stats: dict, title: str | None = "GLGF global share alpha (0 = local, 1 = global)") -> go.Figure:
    """Normalised histograms of alpha for uniform and mixed images (traces "uniform", "mixed"),
    from ``RoutingCollector.summary()["alpha"]``."""
    bins = np.asarray(alpha_stats.get("bins") or np.linspace(0, 1, 11), dtype=float)
    centres = (bins[:-1] + bins[1:]) / 2
    fig = go.Figure()
    for kind, color in (("uniform", "#E69F00"), ("mixed", "#56B4E9")):
        st = alpha_stats.get(kind) or {}
        h = np.asarray(st.get("hist") or [], dtype=float)
        if h.sum() <= 0:
            continue
        mean = st.get("mean")
        label = f"{kind} ({st.get('images', 0)} images, mean {mean:.2f})" if mean is not None else kind
        fig.add_trace(go.Bar(x=centres, y=h / h.sum(), name=kind, marker_color=color, width=(bins[1] - bins[0]) * 0.45,
                             hovertemplate=f"{label}<br>alpha %{{x:.2f}}: %{{y:.1%}}<extra></extra>"))
    _layout(fig, title, barmode="group")
    fig.update_xaxes(range=[0, 1], title="alpha (global share)")
    fig.update_yaxes(title="share of cells", tickformat=".0%")
    return fig


def confusion_figure(confusion: np.ndarray, classes: Sequence[str], title: str | None = "Global recognition: label vs prediction") -> go.Figure:
    """Row-normalised confusion matrix heatmap (trace "confusion")."""
    C = np.asarray(confusion, dtype=float)
    rows = C.sum(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        R = np.where(rows > 0, C / rows, np.nan)
    fig = go.Figure(go.Heatmap(z=R, x=list(classes), y=list(classes), name="confusion", colorscale=_VIRIDIS_SCALE,
                               zmin=0, zmax=1, text=C.astype(int), texttemplate="%{text}",
                               hovertemplate="label %{y} -> predicted %{x}: %{z:.0%}<extra></extra>"))
    _layout(fig, title, height=380)
    fig.update_xaxes(title="predicted")
    fig.update_yaxes(title="label", autorange="reversed")
    return fig
