"""One restoration path for the CLI, evaluation, analysis and the demo (STYLE.md #7).

``Restorer.restore(image)`` validates and converts any image (``slerir.imaging.read_image``: the one
place images and their size are checked) and the options (``SLERIR.check_options``), restores it whole
(the model pads to its multiple itself) or in overlapping tiles (bounded memory), and returns a
``RestorationResult`` with the restored image and, on request, the routing and embeddings cropped to the
image and given in image-aligned grids. Errors are typed, so a UI can word them: ``ImageError`` (with
``ImageTooLarge`` / ``ImageTooSmall``) for the image, ``OptionError`` for top_k / fusion / force_expert /
ensemble, ``DeviceError`` for a device that is not there; all are ``ValueError``.

Devices: ``Restorer(..., device="auto")`` runs on CUDA when it is available, else on the CPU ("cpu",
"cuda", "cuda:1" choose). Results come back as numpy arrays on the CPU either way; a GPU and the CPU
compute in float32 in a different order, so their outputs differ in the last bits (at least 40 dB PSNR
apart, ``tests/slerir/test_inference.py``), not bit for bit.

Tiling: the global embedding is computed once per image from the encoder's pooled statistics
accumulated over the whole image (``SLERIR.global_stats``), and handed to every tile; the
backbone has no global pooling, so a tiled run computes the same function as an untiled one up
to the tile seams, which are blended with linear ramps.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .paths import resolve_weights
from .checkpoint import load_model
from .imaging import ImageError, ImageTooLarge, ImageTooSmall, read_image
from .model import SLERIR, OptionError, pad_to_multiple

__all__ = ["Restorer", "RestorationResult", "LayerMap", "ImageError", "ImageTooLarge", "ImageTooSmall",
           "OptionError", "DeviceError", "resolve_device", "ENSEMBLES", "pad_to_multiple"]

# Softmax temperature turning prototype cosines into class probabilities (the training tau).
PROB_TAU = 0.1
DIHEDRAL = tuple((k, f) for f in (False, True) for k in range(4))  # the 8 symmetries of the square
# Self-ensembles: (quarter turns, mirror) pairs, identity first. "mirror" keeps what our degradations
# hold fixed (rain falls within 25 degrees of vertical, haze is mostly farther towards the top), which
# quarter turns and upside-down flips break: on the full validation profile x8 cost an earlier
# checkpoint 6.7 dB on rain (docs/LOG.md).
ENSEMBLES = {"mirror": ((0, False), (0, True)), "x8": DIHEDRAL}


def dihedral(a, k: int, flip: bool, inverse: bool = False):
    """Rotate by ``k`` quarter turns then (``flip``) mirror left-right, or undo that (``inverse``).

    Works on numpy (H, W, C) arrays and on torch (..., H, W) tensors."""
    if isinstance(a, torch.Tensor):
        rot = lambda t, n: torch.rot90(t, n, dims=(-2, -1))
        mirror = lambda t: torch.flip(t, dims=(-1,))
    else:
        rot = lambda t, n: np.rot90(t, n, axes=(0, 1))
        mirror = lambda t: t[:, ::-1]
    if not inverse:
        a = rot(a, k)
        return mirror(a) if flip else a
    if flip:
        a = mirror(a)
    return rot(a, -k)


class DeviceError(ValueError):
    """The requested device is not available here (e.g. "cuda" on a machine without CUDA)."""


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """"auto" (or None): CUDA when ``torch.cuda.is_available()``, else the CPU; "cpu", "cuda", "cuda:N" or a
    ``torch.device`` as given, checked. Raises ``DeviceError``."""
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device.strip().lower() if isinstance(device, str) else device)
    except (RuntimeError, TypeError, ValueError) as e:
        raise DeviceError(f"unknown device {device!r}: use auto, cpu or cuda ({e})") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device {device!r} asked for, but CUDA is not available here: use auto or cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(f"device {device!r} asked for, but this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type != "cpu":
        raise DeviceError(f"device {device!r} is not supported: use auto, cpu or cuda")
    return dev


@dataclass
class LayerMap:
    """Routing of one layer, cropped to the image; arrays are numpy.

    weights (E,h,w) float32, topk (k,h,w) int16, logits (E,h,w) float32; stride = image pixels per
    map cell along each axis (2, 4, 8, ...; larger when maps were downsampled for capture)."""

    name: str
    level: int
    weights: np.ndarray
    topk: np.ndarray
    logits: np.ndarray
    stride: float

    @property
    def expert_map(self) -> np.ndarray:
        """(h,w) index of the highest-weighted expert per cell."""
        return self.weights.argmax(0)

    @property
    def usage(self) -> np.ndarray:
        """(E,) mean routing weight of each expert over the image."""
        return self.weights.reshape(self.weights.shape[0], -1).mean(1)


@dataclass
class RestorationResult:
    """Output of ``Restorer.restore``.

    Attributes:
        image: (H,W,3) float32 in [0,1], the restored image.
        input: (H,W,3) float32, the converted input.
        class_probs: (K,) softmax over prototype similarities of the global embedding.
        class_sims: (K,) cosine similarities of z_g to the prototypes.
        global_embedding: (d,) z_g.
        local_embedding, fused_embedding: (d,h,w) at H/8 (None unless capture).
        alpha: (h,w) GLGF global share (None unless capture).
        local_class_sims: (K,h,w) (None unless capture).
        routing: per-layer ``LayerMap`` (empty unless capture).
        tiles: number of tiles used (1 = whole image).
        seconds: wall time.
        strength: the share of the change kept (``restore(strength=...)``; 1: the network's output).
    """

    image: np.ndarray
    input: np.ndarray
    class_probs: np.ndarray
    class_sims: np.ndarray
    global_embedding: np.ndarray
    classes: tuple[str, ...]
    local_embedding: np.ndarray | None = None
    fused_embedding: np.ndarray | None = None
    alpha: np.ndarray | None = None
    local_class_sims: np.ndarray | None = None
    routing: list[LayerMap] = field(default_factory=list)
    tiles: int = 1
    seconds: float = 0.0
    strength: float = 1.0

    @property
    def predicted_class(self) -> str:
        return self.classes[int(self.class_probs.argmax())]

    def layer(self, name: str) -> LayerMap:
        for r in self.routing:
            if r.name == name:
                return r
        raise KeyError(f"no routed layer named {name!r}")


def _stride(level: int) -> int:
    """Image pixels per routing-map cell at a U-Net level (level 0 is H/2, after the stem)."""
    return 2 ** (level + 1)


def check_strength(strength) -> float | str:
    """``strength`` itself if it is "auto" or a number in [0, 1]; else ``OptionError``."""
    if strength == "auto" or (isinstance(strength, (int, float)) and not isinstance(strength, bool)
                              and 0.0 <= float(strength) <= 1.0):
        return strength
    raise OptionError(f"strength must be a number in [0, 1] or 'auto', got {strength!r}")


def parse_strength(text: str) -> float | str:
    """A command line's strength: "auto" or a number in [0, 1] (``OptionError`` otherwise)."""
    if text == "auto":
        return text
    try:
        return check_strength(float(text))
    except ValueError as e:
        if isinstance(e, OptionError):
            raise
        raise OptionError(f"strength must be a number in [0, 1] or 'auto', got {text!r}") from None


def _tile_grid(n: int, tile: int, overlap: int, multiple: int) -> tuple[list[int], int]:
    """Starts and side of the fewest tiles of at most ``tile`` px that cover ``n`` px (a multiple of
    ``multiple``) with at least ``overlap`` px between neighbours: the tiles shrink to share the length
    evenly, so no tile overlaps its neighbour by more than it must (a 2000-px side at 768 px: three
    tiles of 736, not 768-px tiles of which the last overlaps by 208 px)."""
    if n <= tile:
        return [0], n
    k = math.ceil((n - overlap) / (tile - overlap))
    side = min(tile, multiple * math.ceil((n + (k - 1) * overlap) / k / multiple))
    while True:
        starts = [multiple * int(i * (n - side) / (k - 1) / multiple) for i in range(k)]
        starts[-1] = n - side
        if side >= tile or all(side - (b - a) >= overlap for a, b in zip(starts, starts[1:])):
            return starts, side
        side += multiple


def _ramp(n: int, overlap: int, at_start: bool, at_end: bool) -> np.ndarray:
    w = np.ones(n, np.float32)
    if overlap > 0:
        r = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
        if not at_start:
            w[:overlap] = r
        if not at_end:
            w[-overlap:] = r[::-1]
    return w


class Restorer:
    """Loads a SLER-IR checkpoint and restores images: the one restoration path of the app, the CLI,
    evaluation, training's validation of whole photos and the lab tools.

    Args:
        model: a SLERIR model (or use ``from_pretrained``).
        meta: the checkpoint's metadata (``from_pretrained`` fills it).
        tile: tile side in pixels for large images (multiple of the model's pad multiple).
        overlap: overlap between tiles in pixels, blended with a linear ramp (at most a quarter of the
            tile). 96 by default: on GoPro's Istanbul_1 with 512-px tiles the shipped weights' worst seam
            column differs from the untiled result by 0.23/255 on average at 96, 0.47/255 at 32, with the
            same number of tiles (``python benchmarks/tile_seams.py --image ...``).
        max_pixels: images above this are refused with ``ImageTooLarge`` (the demo's size guard);
            None for no limit (the CLI tiles anything).
        capture_max_side: routing/embedding maps larger than this are average-pooled for capture.
        threads: torch threads (0: leave as is).
        ensemble: geometric self-ensemble of every ``restore`` (the "+" rows of the restoration
            literature): restore transformed copies, undo the transforms and average. "mirror": the
            image and its left-right mirror (2x the time); "x8": all rotations/mirrors (8x); None: off.
            See ``ENSEMBLES``. Embedding, class and routing maps come from the untransformed pass.
        device: "auto" (CUDA when available, else CPU), "cpu", "cuda" / "cuda:N" or a ``torch.device``
            (``resolve_device``). The model is moved there; results are numpy arrays either way.

    Raises:
        OptionError: a bad ``tile`` or ``ensemble``; DeviceError: a device that is not available.
    """

    def __init__(self, model: SLERIR, meta: dict | None = None, tile: int = 512, overlap: int = 96,
                 max_pixels: int | None = None, capture_max_side: int = 1024, threads: int = 0,
                 ensemble: str | None = None, device: str | torch.device | None = "auto"):
        self.cfg = model.cfg
        self.meta = meta or {}
        m = self.cfg.pad_multiple
        if tile % m or tile <= 0:
            raise OptionError(f"tile must be a positive multiple of {m}, got {tile}")
        self.tile, self.overlap = tile, overlap
        if ensemble is not None and ensemble not in ENSEMBLES:
            raise OptionError(f"ensemble must be one of {sorted(ENSEMBLES)} or None, got {ensemble!r}")
        self.ensemble = ensemble
        self.max_pixels = max_pixels
        self.capture_max_side = capture_max_side
        self.device = resolve_device(device)
        if threads:
            torch.set_num_threads(threads)
        self.model = model.eval().to(self.device, memory_format=torch.channels_last)

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, device: str | torch.device | None = "auto",
                        **kw) -> "Restorer":
        """Load a weights folder or ``.safetensors`` file (default: ``$SLERIR_WEIGHTS``; the library has no built-in
        weights, the app and command lines default to assets/weights) strictly,
        onto the CPU first, then move it to ``device``. Other keywords go to ``Restorer``."""
        dev = resolve_device(device)  # before loading: a missing GPU is reported at once
        model, meta = load_model(resolve_weights(path))
        return cls(model, meta, device=dev, **kw)

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.cfg.classes)

    # ------------------------------------------------------------------------------------------
    def load(self, image) -> np.ndarray:
        """Any supported image -> (H,W,3) float32 in [0,1], refused with ``ImageTooLarge`` above
        ``max_pixels`` (from the header, before decoding, where the input has one) and ``ImageError`` when it
        is no usable image. ``restore`` calls this; a caller may too, to check an upload early."""
        return read_image(image, max_pixels=self.max_pixels)

    def _tensor(self, rgb: np.ndarray) -> torch.Tensor:
        """(H,W,3) float32 -> (1,3,H,W) channels-last on the model's device."""
        x = torch.from_numpy(rgb).permute(2, 0, 1)[None]
        return x.to(self.device).contiguous(memory_format=torch.channels_last)

    def _to_device(self, stats: tuple) -> tuple:
        s1, n = stats
        return s1.to(self.device), n

    @torch.inference_mode()
    def _global_stats(self, x: torch.Tensor, chunk: int = 1024) -> tuple:
        """Encoder pooled statistics over the whole padded image, in chunks (bounded memory)."""
        H, W = x.shape[-2:]
        s1 = None
        n = 0
        for y0 in range(0, H, chunk):
            for x0 in range(0, W, chunk):
                a, c = self.model.global_stats(x[..., y0:y0 + chunk, x0:x0 + chunk])
                s1 = a if s1 is None else s1 + a
                n += c
        return s1, n

    @torch.inference_mode()
    def global_stats(self, image, tile: float | None = None) -> tuple[torch.Tensor, int]:
        """The pooled encoder statistics (feature sum (1,c), count) of ``image`` padded as ``restore`` pads it:
        what ``restore(image, tile=tile)`` derives its global embedding and conditioning from (one pass over
        an image that fits the tile, 1024-px chunks over a larger one). Hand them to ``restore(other,
        global_stats=...)`` to restore another image with this one's (lab tools)."""
        x = self._tensor(self.load(image))
        xp = pad_to_multiple(x, self.cfg.pad_multiple)[0]
        if max(xp.shape[-2:]) <= (tile or self.tile):
            return self.model.global_stats(xp)
        return self._global_stats(xp)

    @torch.inference_mode()
    def classify(self, image, tile: float | None = None) -> np.ndarray:
        """(K,) class probabilities of ``image`` (order ``self.classes``) as ``restore`` reports them, from the
        degradation encoder alone: no restoration, a fraction of its cost (recognition over many photos)."""
        s1, n = self.global_stats(image, tile)
        zg = F.normalize(self.model.encoder.global_from_stats(s1, n), dim=1)
        sims = (zg @ self.model.prototypes.T)[0].float().cpu()
        return (sims / PROB_TAU).softmax(0).numpy()

    def check_size(self, h: int, w: int) -> None:
        """Raise ``ImageTooLarge`` if an h x w image exceeds ``max_pixels``."""
        if self.max_pixels is not None and h * w > self.max_pixels:
            raise ImageTooLarge(w, h, self.max_pixels)

    @torch.inference_mode()
    def restore(
        self,
        image,
        capture: bool = True,
        top_k: int | None = None,
        fusion: str | None = None,
        force_expert: dict[str, int] | None = None,
        tile: int | None = None,
        progress: Callable[[int, int], None] | None = None,
        global_stats: tuple | None = None,
        treat_as: str | None = None,
        strength: float | str = 1.0,
    ) -> RestorationResult:
        """Restore one image.

        Args:
            image: PIL image, numpy array (any dtype/channels), path or bytes.
            capture: also return routing maps and embedding fields.
            top_k: experts per pixel (default: the model's).
            fusion: "glgf" (default), "global" or "local" (GLGF ablations at inference).
            force_expert: {layer name: expert} to route every pixel of a layer to one expert.
            tile: tile side (default ``self.tile``); images no larger than it run whole (``math.inf``:
                always whole, in one pass).
            progress: callback(done_tiles, total_tiles).
            global_stats: (feature sum, count) pooled encoder statistics to take the global embedding
                and conditioning from instead of the image's own (``Restorer.global_stats`` of another
                image, or ``SLERIR.global_stats``); None: the image's own.
            treat_as: a class name (e.g. "rain") to restore the image as that degradation: the class
                prototype replaces z_g and the fused embedding at every position (alpha = 1), so every router
                sees it; the result's embeddings and class probabilities stay the image's own. None: the
                image decides.
            strength: how much of the change to keep, ``input + s * (restored - input)``: a number in [0, 1]
                (1: the network's output as it is), or "auto": ``s = 1 - P(clean)``, the model's own belief
                that the photo is degraded (a photo it takes for clean comes back as it was; with
                ``treat_as`` the user has said it is degraded, so s = 1). The strength used is in the result.

        Raises:
            ImageError (``ImageTooLarge``): the image; OptionError: top_k, fusion, force_expert, treat_as, strength.

        With ``self.ensemble`` set, the result averages the ensemble's passes (``progress`` then counts
        the tiles of all passes).
        """
        if treat_as is not None and treat_as not in self.classes:
            raise OptionError(f"treat_as must be one of {', '.join(self.classes)} or None, got {treat_as!r}")
        treat = None if treat_as is None else self.classes.index(treat_as)
        check_strength(strength)  # before the work, not after it
        if self.ensemble:
            res = self._restore_ensemble(image, ENSEMBLES[self.ensemble], capture=capture, top_k=top_k,
                                         fusion=fusion, force_expert=force_expert, tile=tile, progress=progress,
                                         global_stats=global_stats, treat_as=treat)
        else:
            res = self._restore_once(image, capture, top_k, fusion, force_expert, tile, progress, global_stats, treat)
        return self.apply_strength(res, strength, treat is not None)

    def apply_strength(self, res: RestorationResult, strength: float | str, treated: bool = False) -> RestorationResult:
        """``res`` with ``strength`` applied (see ``restore``; ``treated``: restored with ``treat_as``): a new
        result (``res`` itself is left as it is) whose image keeps that share of the change."""
        if check_strength(strength) == "auto":
            s = 1.0 if treated or "clean" not in self.classes else 1.0 - float(res.class_probs[self.classes.index("clean")])
        else:
            s = float(strength)
        out = dataclasses.replace(res, strength=s)
        if s != 1.0:
            out.image = np.clip(res.input + np.float32(s) * (res.image - res.input), 0.0, 1.0).astype(np.float32)
        return out

    def _restore_once(self, image, capture, top_k, fusion, force_expert, tile, progress,
                      global_stats=None, treat_as: int | None = None) -> RestorationResult:
        t0 = time.perf_counter()
        self.model.check_options(top_k, fusion, force_expert)
        rgb = self.load(image)
        x = self._tensor(rgb)
        H, W = rgb.shape[:2]
        tile = tile or self.tile
        kw = dict(top_k=top_k, fusion=fusion, force_expert=force_expert, treat_as=treat_as)
        m = self.cfg.pad_multiple
        if -(-H // m) * m <= tile and -(-W // m) * m <= tile:
            # whole image: the model pads and crops back itself, and pools its own encoder features
            out = self.model(x, global_stats=None if global_stats is None else self._to_device(global_stats), **kw)
            res_img = out.image[0].clamp(0, 1).permute(1, 2, 0).cpu().numpy()
            result = self._result(rgb, res_img, out, capture, H, W)
            result.tiles = 1
            if progress:
                progress(1, 1)
        else:
            xp = pad_to_multiple(x, m)[0]  # tiles start at multiples of m on the padded image
            kw["global_stats"] = (self._global_stats(xp) if global_stats is None  # once per image, for every tile
                                  else self._to_device(global_stats))
            result = self._restore_tiled(rgb, xp, H, W, tile, kw, capture, progress)
        result.seconds = time.perf_counter() - t0
        return result

    def _restore_ensemble(self, image, transforms, progress=None, **kw) -> RestorationResult:
        t0 = time.perf_counter()
        n = len(transforms)

        def part(i):  # tile progress of pass i as a share of all passes' tiles
            return None if progress is None else (lambda done, total: progress(i * total + done, n * total))

        first = self._restore_once(image, progress=part(0), **kw)  # identity pass: checks the input, keeps its maps
        acc = first.image.astype(np.float64)
        kw.pop("capture")
        for i, (k, f) in enumerate(transforms[1:], start=1):
            x = np.ascontiguousarray(dihedral(first.input, k, f))
            out = self._restore_once(x, capture=False, progress=part(i), **kw)
            acc += dihedral(out.image, k, f, inverse=True)
        first.image = np.ascontiguousarray(acc / n, dtype=np.float32)
        first.seconds = time.perf_counter() - t0
        return first

    def _result(self, rgb, res_img, out, capture, H, W) -> RestorationResult:
        sims = out.proto_sim_global[0]
        probs = (sims / PROB_TAU).softmax(0)
        r = RestorationResult(
            image=np.ascontiguousarray(res_img, dtype=np.float32), input=rgb,
            class_probs=probs.cpu().numpy(), class_sims=sims.cpu().numpy(),
            global_embedding=out.embeddings.global_[0].cpu().numpy(), classes=self.classes,
        )
        if capture:
            # the model's maps cover the padded image: keep the cells that hold image pixels
            eh, ew = math.ceil(H / 8), math.ceil(W / 8)
            r.local_embedding = out.embeddings.local[0, :, :eh, :ew].cpu().numpy()
            r.fused_embedding = out.embeddings.fused[0, :, :eh, :ew].cpu().numpy()
            r.alpha = out.embeddings.alpha[0, 0, :eh, :ew].cpu().numpy()
            r.local_class_sims = out.proto_sim_local[0, :, :eh, :ew].cpu().numpy()
            for lr in out.routing:
                s = _stride(lr.level)
                h, w = math.ceil(H / s), math.ceil(W / s)
                r.routing.append(self._layer_map(lr.name, lr.level, lr.weights[0, :, :h, :w], lr.topk[0, :, :h, :w],
                                                 lr.logits[0, :, :h, :w], s))
        return r

    def _layer_map(self, name, level, w, idx, logits, stride) -> LayerMap:
        h, wd = w.shape[-2:]
        f = max(1, math.ceil(max(h, wd) / self.capture_max_side))
        if f > 1:
            w = F.avg_pool2d(w[None], f, ceil_mode=True)[0]
            logits = F.avg_pool2d(logits[None], f, ceil_mode=True)[0]
            idx = idx[:, ::f, ::f]
        return LayerMap(name, level, w.float().cpu().numpy(), idx.to(torch.int16).cpu().numpy(),
                        logits.float().cpu().numpy(), float(stride * f))

    def _restore_tiled(self, rgb, xp, H, W, tile, kw, capture, progress) -> RestorationResult:
        m = self.cfg.pad_multiple
        ov = min(self.overlap, tile // 4)
        ov -= ov % m
        Hp, Wp = xp.shape[-2:]
        (ys, ty), (xs, tx) = _tile_grid(Hp, tile, ov, m), _tile_grid(Wp, tile, ov, m)
        total = len(ys) * len(xs)
        acc = np.zeros((H, W, 3), np.float32)
        wsum = np.zeros((H, W, 1), np.float32)
        maps: dict[str, dict] = {}
        emb: dict[str, np.ndarray] = {}
        first_out = None
        done = 0
        for yi, y0 in enumerate(ys):
            for xi, x0 in enumerate(xs):
                xt = xp[..., y0:y0 + ty, x0:x0 + tx]
                th, tw = xt.shape[-2:]
                out = self.model(xt.contiguous(memory_format=torch.channels_last), **kw)
                img = out.image[0].clamp(0, 1).permute(1, 2, 0).cpu().numpy()
                wy = _ramp(th, ov, y0 == 0, y0 + th >= Hp)
                wx = _ramp(tw, ov, x0 == 0, x0 + tw >= Wp)
                wt = (wy[:, None] * wx[None, :])[..., None]
                vh, vw = min(th, H - y0), min(tw, W - x0)
                if vh > 0 and vw > 0:
                    acc[y0:y0 + vh, x0:x0 + vw] += img[:vh, :vw] * wt[:vh, :vw]
                    wsum[y0:y0 + vh, x0:x0 + vw] += wt[:vh, :vw]
                if first_out is None:
                    first_out = out
                if capture:
                    # owner stitching: each tile writes the region up to the middle of its overlaps
                    oy0 = 0 if yi == 0 else y0 + ov // 2
                    ox0 = 0 if xi == 0 else x0 + ov // 2
                    oy1 = H if yi == len(ys) - 1 else ys[yi + 1] + ov // 2
                    ox1 = W if xi == len(xs) - 1 else xs[xi + 1] + ov // 2
                    self._stitch(maps, emb, out, (y0, x0), (oy0, ox0, min(oy1, H), min(ox1, W)), H, W, tile)
                done += 1
                if progress:
                    progress(done, total)
        res_img = np.divide(acc, np.maximum(wsum, 1e-8, out=wsum), out=acc)  # in place: no extra full-size copy
        sims = first_out.proto_sim_global[0].cpu()
        r = RestorationResult(image=res_img, input=rgb, class_probs=(sims / PROB_TAU).softmax(0).numpy(),
                              class_sims=sims.numpy(), global_embedding=first_out.embeddings.global_[0].cpu().numpy(),
                              classes=self.classes, tiles=total)
        if capture:
            r.local_embedding, r.fused_embedding = emb["local"], emb["fused"]
            r.alpha, r.local_class_sims = emb["alpha"][0], emb["sims"]
            for name, d in maps.items():
                r.routing.append(self._layer_map(name, d["level"], torch.from_numpy(d["w"]), torch.from_numpy(d["idx"]),
                                                 torch.from_numpy(d["logits"]).float(), d["stride"]))
                del maps[name]["w"], maps[name]["logits"]
        return r

    def _stitch(self, maps, emb, out, origin, own, H, W, tile):
        y0, x0 = origin
        oy0, ox0, oy1, ox1 = own

        def put(dst: np.ndarray, src: torch.Tensor, s: int) -> None:
            a0, b0 = oy0 // s, ox0 // s
            a1, b1 = math.ceil(oy1 / s), math.ceil(ox1 / s)
            ty0, tx0 = y0 // s, x0 // s
            dst[:, a0:a1, b0:b1] = src[:, a0 - ty0:a1 - ty0, b0 - tx0:b1 - tx0].float().cpu().numpy()

        for lr in out.routing:
            s = _stride(lr.level)
            if lr.name not in maps:
                h, w = math.ceil(H / s), math.ceil(W / s)
                E, k = lr.weights.shape[1], lr.topk.shape[1]
                # compact stitch buffers (bounded memory on huge images); widened after pooling
                maps[lr.name] = {"level": lr.level, "stride": s, "w": np.zeros((E, h, w), np.float32),
                                 "idx": np.zeros((k, h, w), np.int8), "logits": np.zeros((E, h, w), np.float16)}
            d = maps[lr.name]
            put(d["w"], lr.weights[0], s)
            put(d["idx"], lr.topk[0], s)
            put(d["logits"], lr.logits[0], s)
        eh, ew = math.ceil(H / 8), math.ceil(W / 8)
        e = out.embeddings
        for key, t in (("local", e.local[0]), ("fused", e.fused[0]), ("alpha", e.alpha[0]), ("sims", out.proto_sim_local[0])):
            if key not in emb:
                emb[key] = np.zeros((t.shape[0], eh, ew), np.float32)
            put(emb[key], t, 8)
