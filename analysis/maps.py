"""Image-space visualisations of routing and embeddings, as (H,W,3) uint8 RGB numpy arrays.

Everything here is numpy + Pillow (no matplotlib): the demo and the offline report share it.

Colours:
    ``EXPERT_COLORS``: categorical, colour-blind friendly (Okabe & Ito, 2008, "Color Universal
    Design", then Paul Tol's muted scheme for experts beyond the seventh).
    ``CLASS_COLORS``: one colour per degradation class, from Paul Tol's "bright" scheme (designed
    to stay distinct under the common forms of colour blindness).
    Sequential maps use viridis (perceptually uniform, colour-blind safe); the GLGF alpha map uses
    a blue-white-red diverging map so that local (0, blue) and global (1, red) read at a glance.

Grids: a routing map of a layer with stride s has ceil(H/s) x ceil(W/s) cells; cell (i, j) covers
image pixels [i*s, (i+1)*s) x [j*s, (j+1)*s). Upsampling to the image size keeps that alignment;
to any other size the map is scaled proportionally.
"""
from __future__ import annotations

import base64
import io
import math
from typing import Sequence

import numpy as np
from PIL import Image

from slerir.config import CLASSES
from slerir.inference import LayerMap

# Okabe-Ito without black (blue, orange, bluish green, reddish purple, sky blue, vermillion,
# yellow), then Tol muted wine / teal / olive / indigo / grey.
EXPERT_COLORS: list[str] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
    "#882255", "#44AA99", "#999933", "#332288", "#888888",
]

# Tol "bright": green, purple, blue, cyan, yellow, red.
CLASS_COLORS: dict[str, str] = {
    "clean": "#228833",
    "noise": "#AA3377",
    "rain": "#4477AA",
    "haze": "#66CCEE",
    "blur": "#CCBB44",
    "lowlight": "#EE6677",
}
assert set(CLASS_COLORS) == set(CLASSES)

# viridis sampled at 9 evenly spaced points (linear interpolation in between is visually exact
# enough for maps).
VIRIDIS: tuple[str, ...] = ("#440154", "#472c7a", "#3b518b", "#2c718e", "#21908d", "#27ad81",
                            "#5cc863", "#aadc32", "#fde725")
# diverging blue - white - red (ColorBrewer RdBu reversed, 9 classes).
BLUE_WHITE_RED: tuple[str, ...] = ("#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7",
                                   "#fddbc7", "#f4a582", "#d6604d", "#b2182b")


# --------------------------------------------------------------------------------------------
# colour helpers


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    """"#RRGGBB" -> (r, g, b) ints in 0..255."""
    c = color.lstrip("#")
    if len(c) != 6:
        raise ValueError(f"expected #RRGGBB, got {color!r}")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def expert_color(e: int) -> str:
    """Colour of expert ``e`` (the palette cycles past its length)."""
    return EXPERT_COLORS[int(e) % len(EXPERT_COLORS)]


def class_color(name_or_id: str | int) -> str:
    name = CLASSES[name_or_id] if isinstance(name_or_id, (int, np.integer)) else name_or_id
    return CLASS_COLORS.get(name, "#777777")


def palette_array(colors: Sequence[str]) -> np.ndarray:
    """(N,3) uint8 array of the colours."""
    return np.array([hex_to_rgb(c) for c in colors], dtype=np.uint8)


def colormap(values: np.ndarray, stops: Sequence[str] = VIRIDIS, vmin: float = 0.0, vmax: float = 1.0) -> np.ndarray:
    """Map a float array (...,) onto RGB uint8 (...,3) by piecewise-linear interpolation of ``stops``.

    Values are clipped to [vmin, vmax]; NaN maps to mid grey."""
    v = np.asarray(values, dtype=np.float32)
    nan = ~np.isfinite(v)
    t = np.clip((np.nan_to_num(v, nan=vmin) - vmin) / max(vmax - vmin, 1e-12), 0.0, 1.0)
    pal = palette_array(stops).astype(np.float32)  # (S,3)
    pos = t * (len(stops) - 1)
    i0 = np.clip(np.floor(pos).astype(np.int64), 0, len(stops) - 2)
    f = (pos - i0)[..., None]
    out = pal[i0] * (1 - f) + pal[i0 + 1] * f
    out[nan] = 128
    return (out + 0.5).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# resampling


def _cell_index(n_out: int, n_cells: int, stride: float | None) -> np.ndarray:
    """For each of ``n_out`` output pixels, the map cell it falls in (nearest upsampling).

    When the output is the image the map belongs to (ceil(n_out / stride) == n_cells), pixel p lies
    in cell floor(p / stride); otherwise the map is stretched proportionally over the output."""
    p = np.arange(n_out, dtype=np.float64)
    if stride and math.ceil(n_out / stride - 1e-9) == n_cells:
        idx = np.floor(p / stride)
    else:
        idx = np.floor((p + 0.5) * n_cells / n_out)
    return np.clip(idx.astype(np.int64), 0, n_cells - 1)


def upsample_nearest(grid: np.ndarray, size: tuple[int, int], stride: float | None = None) -> np.ndarray:
    """(h,w[,...]) array -> (H,W[,...]) by nearest neighbour (categorical maps)."""
    H, W = int(size[0]), int(size[1])
    iy = _cell_index(H, grid.shape[0], stride)
    ix = _cell_index(W, grid.shape[1], stride)
    return grid[iy[:, None], ix[None, :]]


def upsample_bilinear(grid: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h,w) float array -> (H,W) float32 by bilinear interpolation (pixel centres aligned)."""
    H, W = int(size[0]), int(size[1])
    g = np.asarray(grid, dtype=np.float32)
    if g.shape == (H, W):
        return g.copy()
    im = Image.fromarray(np.ascontiguousarray(g))  # mode "F"
    return np.asarray(im.resize((W, H), resample=Image.BILINEAR), dtype=np.float32)


def downsample_labels(mask: np.ndarray, size: tuple[int, int], mode: str = "mode",
                      num_classes: int | None = None) -> np.ndarray:
    """Per-pixel class mask (H,W) -> per-cell labels (h,w).

    Args:
        mode: "mode" (most frequent class in each cell's block of pixels; ties -> lower id) or
            "nearest" (the pixel at the cell centre). Cell i covers rows
            [floor(i*H/h), floor((i+1)*H/h)), so it works for any grid, ceil-sized maps included.
    """
    mask = np.asarray(mask)
    H, W = mask.shape
    h, w = int(size[0]), int(size[1])
    if (H, W) == (h, w):
        return mask.astype(np.int64, copy=True)
    if mode == "nearest":
        iy = np.clip(np.floor((np.arange(h) + 0.5) * H / h).astype(np.int64), 0, H - 1)
        ix = np.clip(np.floor((np.arange(w) + 0.5) * W / w).astype(np.int64), 0, W - 1)
        return mask[iy[:, None], ix[None, :]].astype(np.int64)
    if mode != "mode":
        raise ValueError(f"mode must be 'mode' or 'nearest', got {mode!r}")
    k = int(num_classes or (int(mask.max()) + 1 if mask.size else 1))
    ey = np.unique(np.clip(np.floor(np.arange(h) * H / h).astype(np.int64), 0, H - 1))
    ex = np.unique(np.clip(np.floor(np.arange(w) * W / w).astype(np.int64), 0, W - 1))
    best = np.full((len(ey), len(ex)), -1, np.int64)
    out = np.zeros((len(ey), len(ex)), np.int64)
    for c in range(k):  # one class at a time: memory stays at one (H,W) int32 array
        cnt = np.add.reduceat(np.add.reduceat((mask == c).astype(np.int32), ey, axis=0), ex, axis=1)
        better = cnt > best  # strict: ties keep the lower class id
        out[better], best[better] = c, cnt[better]
    if out.shape != (h, w):  # more cells than pixels along an axis: fall back to nearest
        return downsample_labels(mask, size, "nearest")
    return out.astype(np.int64)


# --------------------------------------------------------------------------------------------
# maps


def categorical_rgb(index_map: np.ndarray, colors: Sequence[str], size: tuple[int, int] | None = None,
                    stride: float | None = None) -> np.ndarray:
    """(h,w) int map -> (H,W,3) uint8 in the given categorical colours (nearest upsampling)."""
    pal = palette_array(colors)
    idx = np.asarray(index_map, dtype=np.int64) % len(pal)
    if size is not None:
        idx = upsample_nearest(idx, size, stride)
    return pal[idx]


TIE_COLOR = "#BBBBBB"  # cells whose top-1 expert wins by less than the tie margin


def top1_margin(layer: LayerMap) -> np.ndarray:
    """(h,w) routing weight of the top expert minus that of the runner-up (0 = a tie, 1 = one expert)."""
    w = np.asarray(layer.weights, dtype=np.float32)
    if w.shape[0] < 2:
        return np.ones(w.shape[1:], np.float32)
    top2 = -np.partition(-w, 1, axis=0)[:2]  # (2,h,w): largest, second largest
    return top2[0] - top2[1]


def expert_map_rgb(layer: LayerMap, size: tuple[int, int], tie_margin: float | None = None) -> np.ndarray:
    """Highest-weighted expert per cell of ``layer`` in ``EXPERT_COLORS``, nearest-upsampled.

    Args:
        layer: a ``LayerMap`` (weights (E,h,w) at 1/stride of the image).
        size: output (H, W), usually the image size.
        tie_margin: cells whose top-1 weight exceeds the runner-up's by less than this are drawn in
            ``TIE_COLOR`` (a near-tie is not a decision); None: every cell in its top expert's colour.
    Returns:
        (H,W,3) uint8.
    """
    idx = layer.weights.argmax(0)
    if tie_margin is None:
        return categorical_rgb(idx, EXPERT_COLORS, size, layer.stride)
    idx = np.where(top1_margin(layer) < tie_margin, len(EXPERT_COLORS), idx)  # one index past the experts
    return categorical_rgb(idx, [*EXPERT_COLORS, TIE_COLOR], size, layer.stride)


def expert_pair_rgb(layer: LayerMap, size: tuple[int, int]) -> np.ndarray:
    """The top-2 experts of every cell: its upper-left triangle in the top expert's colour, its lower-right
    triangle in the runner-up's (cells of a few pixels blend into a mixed texture where pairs alternate).

    Returns:
        (H,W,3) uint8.
    """
    w = np.asarray(layer.weights)
    order = np.argsort(-w, axis=0, kind="stable")
    first, second = order[0], order[min(1, len(order) - 1)]
    H, W = int(size[0]), int(size[1])
    iy = _cell_index(H, w.shape[1], layer.stride)
    ix = _cell_index(W, w.shape[2], layer.stride)
    # position inside the cell, 0..1, from the cell's extent in output pixels
    def frac(idx: np.ndarray) -> np.ndarray:
        start = np.searchsorted(idx, idx, side="left")
        end = np.searchsorted(idx, idx, side="right")
        return (np.arange(len(idx)) - start + 0.5) / np.maximum(end - start, 1)
    fy, fx = frac(iy), frac(ix)
    upper = (fy[:, None] + fx[None, :]) < 1.0
    e = np.where(upper, first[iy[:, None], ix[None, :]], second[iy[:, None], ix[None, :]])
    return palette_array(EXPERT_COLORS)[e % len(EXPERT_COLORS)]


def weight_heatmap(layer: LayerMap, expert: int, size: tuple[int, int]) -> np.ndarray:
    """Routing weight (0..1) of one expert of ``layer`` in viridis, bilinear-upsampled to (H,W)."""
    E = layer.weights.shape[0]
    if not 0 <= int(expert) < E:
        raise ValueError(f"expert must be in [0, {E - 1}], got {expert}")
    return colormap(upsample_bilinear(layer.weights[int(expert)], size), VIRIDIS, 0.0, 1.0)


def alpha_rgb(alpha: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """GLGF global share alpha (h,w) in [0,1] -> (H,W,3) uint8: blue = local, white = even, red = global."""
    return colormap(upsample_bilinear(np.asarray(alpha, np.float32), size), BLUE_WHITE_RED, 0.0, 1.0)


def class_map_rgb(local_class_sims: np.ndarray, size: tuple[int, int],
                  classes: Sequence[str] = CLASSES) -> np.ndarray:
    """Nearest prototype (argmax of the (K,h,w) cosine similarities) per cell in ``CLASS_COLORS``."""
    colors = [class_color(c) for c in classes]
    return categorical_rgb(np.asarray(local_class_sims).argmax(0), colors, size)


def label_map_rgb(labels: np.ndarray, size: tuple[int, int] | None = None,
                  classes: Sequence[str] = CLASSES) -> np.ndarray:
    """A class-id map (e.g. a degradation mask) in ``CLASS_COLORS``."""
    return categorical_rgb(labels, [class_color(c) for c in classes], size)


def _as_float_rgb(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    return np.clip(x.astype(np.float32), 0.0, 1.0)


def overlay(image: np.ndarray, rgb: np.ndarray, opacity: float) -> np.ndarray:
    """Blend a colour map over an image: (1 - opacity) * image + opacity * rgb.

    Args:
        image: (H,W,3) float in [0,1] (uint8 accepted).
        rgb: (H,W,3) uint8 map of the same size.
        opacity: 0 (image only) .. 1 (map only).
    """
    a = float(np.clip(opacity, 0.0, 1.0))
    img = _as_float_rgb(image)
    col = _as_float_rgb(rgb)
    if img.shape != col.shape:
        raise ValueError(f"image {img.shape} and map {col.shape} differ in shape")
    return (np.clip((1 - a) * img + a * col, 0, 1) * 255 + 0.5).astype(np.uint8)


def auto_gain(a: np.ndarray, b: np.ndarray, q: float = 99.5, max_gain: float = 1000.0) -> float:
    """The gain that maps the ``q``-th percentile of |a - b| to white in ``difference_rgb`` (1 when the
    images are identical; at most ``max_gain``), so small differences are visible and their scale known."""
    d = np.abs(_as_float_rgb(a) - _as_float_rgb(b))
    top = float(np.percentile(d, q)) if d.size else 0.0
    if top <= 0.0:
        top = float(d.max()) if d.size else 0.0
    return 1.0 if top <= 0.0 else float(min(max_gain, 1.0 / top))


def difference_rgb(a: np.ndarray, b: np.ndarray, gain: float = 4.0) -> np.ndarray:
    """|a - b| per channel times ``gain``, clipped: black = identical (float [0,1] or uint8 inputs)."""
    fa, fb = _as_float_rgb(a), _as_float_rgb(b)
    if fa.shape != fb.shape:
        raise ValueError(f"shapes differ: {fa.shape} vs {fb.shape}")
    return (np.clip(np.abs(fa - fb) * float(gain), 0, 1) * 255 + 0.5).astype(np.uint8)


def colorbar_rgb(stops: Sequence[str] = VIRIDIS, width: int = 256, height: int = 12) -> np.ndarray:
    """A horizontal colour bar (height, width, 3) uint8 for legends."""
    return np.repeat(colormap(np.linspace(0, 1, width), stops)[None], height, axis=0)


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without sized default fonts
        return ImageFont.load_default()


def _strip(width: int, height: int) -> Image.Image:
    return Image.new("RGB", (width, height), (255, 255, 255))


def with_colorbar(img: np.ndarray, stops: Sequence[str], vmin: float, vmax: float, label: str,
                  ticks: int = 5, fmt: str = "{:.2g}") -> np.ndarray:
    """``img`` with a labelled colour bar below it: the bar spans [vmin, vmax] across the image's width,
    ``ticks`` values written under it and ``label`` beside them. Returns (H + strip, W, 3) uint8."""
    from PIL import ImageDraw

    im = to_uint8(img)
    H, W = im.shape[:2]
    fs = max(10, min(16, W // 40))
    bar_h, pad = max(8, fs), 4
    strip = _strip(W, bar_h + fs + 3 * pad)
    margin = max(fs, W // 40)
    bar = colorbar_rgb(stops, max(2, W - 2 * margin), bar_h)
    strip.paste(Image.fromarray(bar), (margin, pad))
    draw = ImageDraw.Draw(strip)
    font = _font(fs)
    y = pad + bar_h + pad
    for i in range(ticks):
        t = i / (ticks - 1)
        x = margin + t * (W - 2 * margin)
        draw.line([(x, pad + bar_h - 3), (x, pad + bar_h + 1)], fill=(0, 0, 0))
        text = fmt.format(vmin + t * (vmax - vmin))
        tw = draw.textlength(text, font=font)
        draw.text((min(max(0, x - tw / 2), W - tw), y), text, fill=(0, 0, 0), font=font)
    lw = draw.textlength(label, font=font)
    draw.text((max(0, (W - lw) / 2), y), label, fill=(60, 60, 60), font=font) if W > 4 * lw else None
    return np.concatenate([im, np.asarray(strip)], axis=0)


def with_legend(img: np.ndarray, items: Sequence[tuple[str, str]]) -> np.ndarray:
    """``img`` with a legend strip below it: a colour swatch and a name per item, wrapped to the image's
    width. Returns (H + strip, W, 3) uint8."""
    from PIL import ImageDraw

    im = to_uint8(img)
    W = im.shape[1]
    fs = max(10, min(16, W // 40))
    font = _font(fs)
    probe = ImageDraw.Draw(_strip(1, 1))
    rows, row, x = [], [], 4
    for name, color in items:
        w = fs + 4 + probe.textlength(name, font=font) + fs
        if row and x + w > W:
            rows.append(row)
            row, x = [], 4
        row.append((name, color, x))
        x += w
    rows.append(row)
    line = fs + 8
    strip = _strip(W, line * len(rows) + 4)
    draw = ImageDraw.Draw(strip)
    for r, items_ in enumerate(rows):
        y = 4 + r * line
        for name, color, x0 in items_:
            draw.rectangle([x0, y, x0 + fs, y + fs], fill=hex_to_rgb(color), outline=(80, 80, 80))
            draw.text((x0 + fs + 4, y), name, fill=(0, 0, 0), font=font)
    return np.concatenate([im, np.asarray(strip)], axis=0)


# --------------------------------------------------------------------------------------------
# PNG encoding (report gallery, demo downloads)


def to_uint8(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return x if x.dtype == np.uint8 else (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)


def thumbnail(x: np.ndarray, max_side: int = 192, categorical: bool = False) -> np.ndarray:
    """Downscale an image (float or uint8) so its longer side is at most ``max_side`` (uint8 out).
    Categorical maps use nearest resampling so no mixed colours appear."""
    img = Image.fromarray(to_uint8(x))
    w, h = img.size
    s = max_side / max(w, h)
    if s < 1:
        img = img.resize((max(1, round(w * s)), max(1, round(h * s))),
                         Image.NEAREST if categorical else Image.LANCZOS)
    return np.asarray(img)


def png_bytes(x: np.ndarray) -> bytes:
    """Lossless PNG encoding of an (H,W,3) image (float [0,1] or uint8)."""
    buf = io.BytesIO()
    Image.fromarray(to_uint8(x)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def png_data_uri(x: np.ndarray) -> str:
    """``data:image/png;base64,...`` for embedding an image in self-contained HTML."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(x)).decode("ascii")
