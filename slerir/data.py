"""Training data: clean CBSD432 photos, degraded on the fly by ``slerir.degradations``.

The sampler is a pure function of ``(seed, rank, step)``: each batch builds its own generator
``np.random.default_rng([seed, rank, step])``, so a resumed run reproduces the same batches bit for
bit and DDP ranks see different data without any sampler state to checkpoint. All images are read
into memory once (432 JPEGs of 481x321, about 200 MB as uint8).

Benchmark loaders live in ``slerir.benchmarks``; this module only serves training and validation
patches.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

from slerir.config import CLASSES
from slerir.degradations import (KINDS, DegradationSpec, degrade, motion_radius, random_specs, resolve_tasks, smooth_field,
                                 task_probabilities)

LIGHT_RAIN_MAX = 0.25  # upper strength of "light" rain for TrainSampler(light_rain_share=...)
FAINT_RAIN_DENSITY = (0.0002, 0.0008)  # streaks per px of TrainSampler(faint_rain_share=...): drizzle
FAINT_HAZE_BETA = (0.2, 0.6)  # scattering coefficient of TrainSampler(faint_haze_share=...): thin haze
LIGHT_HAZE_MAX = 0.25  # upper strength of "light" haze for TrainSampler(light_haze_share=...)
HAZE_CONTEXT = 3  # a patch with scene haze over it is cut from a haze field this many patches wide
LONG_BLUR_LENGTH = (25.0, 50.0)  # px: motion trajectories of TrainSampler(long_blur_share=...)
DARK_GAMMA = (1.2, 2.2)  # tone curve x ** gamma of TrainSampler(dark_share=...): deep shadows, bright highlights
DEFOCUS_SIGMA = (1.5, 5.0)  # px: Gaussian defocus of TrainSampler(defocus_share=...) (shallow depth of field)
DEFOCUS_AREA = (0.2, 0.8)  # share of the crop that is out of focus
SHADOW_GAIN = (0.25, 0.7)  # brightness factor of TrainSampler(shadow_share=...)'s region
SHADOW_AREA = (0.2, 0.7)  # share of the crop in shadow
FLAT_CONTRAST = (0.55, 0.85)  # contrast kept by TrainSampler(flat_blur_share=..., flat_rain_share=...)'s tone (overcast, washed-out views)
FLAT_LEVEL = (0.4, 0.7)  # the grey level that tone pulls towards
PALE_CONTRAST = (0.25, 0.6)  # contrast kept in TrainSampler(pale_share=...)'s washed-out region (pavement, a wall, overcast sky)
PALE_LEVEL = (0.55, 0.85)  # the light grey that region is pulled towards
PALE_AREA = (0.25, 0.6)  # share of the crop it covers
ZOOM_FACTOR = (1.5, 3.0)  # TrainSampler(zoom_share=...): a region 1/f of the photo enlarged to its size (soft per pixel)

DEFAULT_ROOT = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"
CLEAN_SUBDIR = Path("train") / "CBSD432"
SPLITS: dict[str, tuple[str, ...]] = {"train": ("train", "test"), "val": ("val_minus_CBSD68",)}
BLUR_MARGIN = 16  # px of real context cropped around a patch that gets blurred (kernel radius <= 14)
NUM_CLASSES = len(CLASSES)

_IMAGE_CACHE: dict[tuple[str, str], list[np.ndarray]] = {}


def blur_margin(specs: Sequence[DegradationSpec]) -> int:
    """Context in px to crop around a patch before blurring it: BLUR_MARGIN, or the kernel's radius
    (plus 1) for specs with a longer explicit motion ``length``; 0 without blur."""
    if not any(s.kind == "blur" for s in specs):
        return 0
    return max([BLUR_MARGIN] + [motion_radius(s.length) + 1 for s in specs if s.kind == "blur" and s.length])


def resolve_root(root: str | Path | None = None) -> Path:
    """The datasets folder: ``root`` if given, else ``./../shared/datasets`` (relative to the working
    directory, the usual layout with the repo at /work/main), else ``DEFAULT_ROOT``.

    Raises:
        FileNotFoundError: the folder does not exist (the message says where we looked and how to
            point at it).
    """
    if root is not None:
        candidates = [Path(root).expanduser()]
    else:
        candidates = [Path.cwd() / ".." / "shared" / "datasets", DEFAULT_ROOT]
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    looked = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"datasets folder not found (looked in: {looked}). It should hold train/CBSD432/ (see "
        "../shared/datasets/README.md); pass its location with --data-root /path/to/datasets "
        "(or root=... in Python).")


def load_clean_images(root: str | Path | None = None, split: str = "train") -> list[np.ndarray]:
    """All clean training images of ``split`` as (H, W, 3) uint8 RGB arrays, cached per process.

    ``split="train"``: CBSD432 train/ + test/ (400 images); ``split="val"``: val_minus_CBSD68/ (32).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    base = resolve_root(root) / CLEAN_SUBDIR
    key = (str(base), split)
    if key not in _IMAGE_CACHE:
        files: list[Path] = []
        for sub in SPLITS[split]:
            folder = base / sub
            if not folder.is_dir():
                raise FileNotFoundError(f"missing training folder {folder} (expected CBSD432 layout: "
                                        f"{', '.join(s for v in SPLITS.values() for s in v)})")
            files += sorted(folder.glob("*.jpg"))
        if not files:
            raise FileNotFoundError(f"no .jpg images under {base} for split {split!r}")
        imgs = []
        for f in files:
            with Image.open(f) as im:
                imgs.append(np.asarray(im.convert("RGB"), dtype=np.uint8))
        _IMAGE_CACHE[key] = imgs
    return _IMAGE_CACHE[key]


def zoom(img: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """A random region ``1 / factor`` of ``img``'s height and width, enlarged (bicubic) back to
    ``img``'s size: the same photo as a larger camera, a video frame or an upscaled picture records it,
    softer per pixel. Our clean photos are all downscaled (BSDS at 481x321) and crisp to the pixel;
    degradations are drawn afterwards, at the new pixel scale, as a sensor makes them. (H, W, 3) uint8."""
    if factor < 1:
        raise ValueError(f"zoom factor must be at least 1, got {factor}")
    h, w = img.shape[:2]
    rh, rw = max(1, int(round(h / factor))), max(1, int(round(w / factor)))
    y, x = int(rng.integers(h - rh + 1)), int(rng.integers(w - rw + 1))
    region = Image.fromarray(np.ascontiguousarray(img[y:y + rh, x:x + rw]))
    return np.asarray(region.resize((w, h), Image.BICUBIC), dtype=np.uint8)


def _augment(patch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random rot90 (0-3 quarter turns) and horizontal flip: the 8 symmetries of the square."""
    patch = np.rot90(patch, int(rng.integers(4)))
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    return patch


def soft_region(shape: tuple[int, int], area: float, rng: np.random.Generator, feather: float = 0.1) -> np.ndarray:
    """(H, W, 1) float32 weights in [0, 1]: 1 on a smooth random region of about ``area`` of the image.

    The region is where a smooth random field (``slerir.degradations.smooth_field``) is above its
    ``1 - area`` quantile, feathered over ``feather`` of the field's range.
    """
    field = smooth_field(shape, rng)
    t = float(np.quantile(field, 1.0 - area))
    return np.clip((field - t) / feather + 0.5, 0.0, 1.0)[..., None]


def defocus(img: np.ndarray, sigma: float, area: float, rng: np.random.Generator) -> np.ndarray:
    """``img`` (H, W, 3) float32 with a :func:`soft_region` of about ``area`` of it Gaussian-blurred by
    ``sigma`` px: a shallow depth of field, as portraits and close-ups have."""
    w = soft_region(img.shape[:2], area, rng)
    soft = ndimage.gaussian_filter(img, (sigma, sigma, 0), mode="reflect")
    return (img + w * (soft - img)).astype(np.float32)


def shadow(img: np.ndarray, gain: float, area: float, rng: np.random.Generator) -> np.ndarray:
    """``img`` (H, W, 3) float32 with a softly edged :func:`soft_region` of about ``area`` of it
    multiplied by ``gain`` < 1: a shadow or a dark object, without the noise of low light."""
    w = soft_region(img.shape[:2], area, rng, feather=0.25)
    return (img * (1.0 - w * (1.0 - gain))).astype(np.float32)


def pale(img: np.ndarray, contrast: float, level: float, area: float, rng: np.random.Generator) -> np.ndarray:
    """``img`` (H, W, 3) float32 with a softly edged :func:`soft_region` of about ``area`` of it toned
    :func:`flatten` (``contrast``, ``level``): a light, low-contrast surface (pavement, a wall, overcast
    sky) inside an ordinary photo. Locally it looks like haze (bright, grey, flat) but it is content."""
    w = soft_region(img.shape[:2], area, rng, feather=0.25)
    return (img + w * (flatten(img, contrast, level) - img)).astype(np.float32)


def make_sample(img: np.ndarray, specs: Sequence[DegradationSpec], patch: int,
                rng: np.random.Generator, gamma: float | None = None,
                defocus_at: tuple[float, float] | None = None,
                shadow_at: tuple[float, float] | None = None, context_side: int | None = None,
                flat: tuple[float, float] | None = None,
                pale_at: tuple[float, float, float] | None = None) -> dict[str, Any]:
    """One training sample from a clean uint8 image: random crop, flips/rot90, degradation.

    Patches that get blurred are cropped ``blur_margin(specs)`` px larger on each side, degraded, then
    centre-cropped, so the blur near the patch border sees real image content, not padding.
    Patches under full-mask scene haze (``DegradationSpec(scene=True)``) are cut at random from a
    crop ``HAZE_CONTEXT`` times as wide (at most the image), hazed as a whole: the depth then spans a
    third of a photo, not its whole range inside one patch, and its sky and edges come from a real view.
    ``gamma``: the clean crop is first toned ``x ** gamma`` (it is then the target too).
    ``flat``: (contrast c, level g): the clean crop is then toned flat, ``g + c * (x - g)`` (:func:`flatten`),
    and is so in the target too.
    ``defocus_at``: (sigma, area) of :func:`defocus`, ``shadow_at``: (gain, area) of :func:`shadow`,
    applied in that order to the clean crop after ``gamma``: the soft or dark region is content and
    stays in the target. ``pale_at``: (contrast, level, area) of :func:`pale`, applied after them, content too.
    ``context_side``: every patch is cut at random from a crop of this side (at least the patch plus
    its blur margins), degraded as a whole and returned as "ctx": the wider view whose pooled
    statistics condition the model in training (``SLERIR.forward(context=...)``), as a whole photo
    does at inference.

    Returns:
        dict of numpy arrays: "lq", "gt" (P, P, 3) float32; "mask" (P, P) int64; "frac" (K,) float32;
        "label" int (class with most pixels); "params" (list of dicts); with ``context_side`` also
        "ctx" (C, C, 3) float32 and "ctx_offset" (row, col) of the patch in it.
    """
    m = blur_margin(specs)
    size = patch + 2 * m
    h, w = img.shape[:2]
    if size > min(h, w):
        raise ValueError(f"patch {patch} (+{m} margin) does not fit a {h}x{w} image")
    if context_side is not None:
        return _sample_in_context(img, specs, patch, rng, gamma, defocus_at, shadow_at, max(size, context_side), m,
                                  flat, pale_at)
    if not m and any(sp.kind == "haze" and sp.scene and sp.mask == "full" for sp in specs):
        side = min(h, w, HAZE_CONTEXT * patch)  # the haze field's context (not handed to the model)
        if side > patch:
            s = _sample_in_context(img, specs, patch, rng, gamma, defocus_at, shadow_at, side, 0, flat, pale_at)
            return {k: v for k, v in s.items() if k not in ("ctx", "ctx_offset")}
    gt = _clean_crop(img, size, rng, gamma, defocus_at, shadow_at, flat, pale_at)  # (S, S, 3) float32
    res = degrade(gt, specs, rng)
    lq, mask = res.image, res.mask
    if m:
        gt, lq, mask = gt[m:-m, m:-m], lq[m:-m, m:-m], mask[m:-m, m:-m]
    return _pack(lq, gt, mask, res.params)


def _pack(lq, gt, mask, params, **extra) -> dict[str, Any]:
    """A sample dict: the arrays, the share of pixels per class and the class with most pixels."""
    counts = np.bincount(mask.ravel(), minlength=NUM_CLASSES)
    return {"lq": lq, "gt": gt, "mask": mask, "frac": (counts / mask.size).astype(np.float32),
            "label": int(np.argmax(counts)), "params": params, **extra}


def flatten(img: np.ndarray, contrast: float, level: float) -> np.ndarray:
    """``img`` toned flat: ``level + contrast * (img - level)``, a washed-out look (overcast light, a
    low-contrast camera profile) that is content, not haze: it has no depth and, under blur, the smear
    is what is to be undone."""
    return (np.float32(level) + np.float32(contrast) * (img - np.float32(level))).astype(np.float32)


def _clean_crop(img, size, rng, gamma, defocus_at, shadow_at, flat, pale_at=None) -> np.ndarray:
    """A random (size, size) crop of ``img``, flipped/turned, toned and given its soft/dark regions."""
    h, w = img.shape[:2]
    y = int(rng.integers(h - size + 1))
    x = int(rng.integers(w - size + 1))
    gt = _augment(img[y : y + size, x : x + size], rng).astype(np.float32) / np.float32(255.0)
    if gamma is not None:
        gt = np.power(gt, np.float32(gamma), dtype=np.float32)
    if flat is not None:
        gt = flatten(gt, *flat)
    if defocus_at is not None:
        gt = defocus(gt, *defocus_at, rng)
    if shadow_at is not None:
        gt = shadow(gt, *shadow_at, rng)
    if pale_at is not None:
        gt = pale(gt, *pale_at, rng)
    return gt


def _sample_in_context(img, specs, patch, rng, gamma, defocus_at, shadow_at, side, margin, flat,
                       pale_at=None) -> dict[str, Any]:
    if side > min(img.shape[:2]):
        raise ValueError(f"a {side} px context does not fit a {img.shape[0]}x{img.shape[1]} image")
    gt = _clean_crop(img, side, rng, gamma, defocus_at, shadow_at, flat, pale_at)
    res = degrade(gt, specs, rng)
    oy, ox = (int(v) for v in rng.integers(margin, side - margin - patch + 1, size=2))
    cut = (slice(oy, oy + patch), slice(ox, ox + patch))
    return _pack(res.image[cut], gt[cut], res.mask[cut], res.params, ctx=res.image, ctx_offset=(oy, ox))


def _redraw(specs: list[DegradationSpec], rng: np.random.Generator, share: float, kind: str,
            change: Callable[[DegradationSpec], DegradationSpec],
            only: Callable[[DegradationSpec], bool] = lambda sp: True) -> list[DegradationSpec]:
    """Each spec of ``kind`` (for which ``only`` holds) becomes ``change(sp)`` with probability ``share``.

    Per such spec one coin is drawn, then whatever ``change`` draws; at share 0 nothing is drawn, so
    runs from before an option existed draw exactly as they did."""
    if share <= 0:
        return specs
    return [change(sp) if sp.kind == kind and only(sp) and rng.random() < share else sp for sp in specs]


class TrainSampler:
    """Batches of synthetic degraded/clean patch pairs, a deterministic function of the step.

    Each sample is clean with probability ``clean_share``, a mixture of two degradations in
    complementary regions with probability ``mixed_share``, otherwise one degradation over the
    whole patch. Noise sigma: half at the benchmark levels 15/25/50, half uniform in 5..55.

    Args:
        root: datasets folder (see ``resolve_root``).
        tasks: "three", "five" or a tuple of degradation kinds.
        patch: patch side P in px.
        batch: batch size B.
        mixed_share: share of two-degradation mixtures.
        clean_share: share of undegraded samples (label 0).
        split: "train" (400 images) or "val" (32 images).
        task_weights: relative draw weight per kind (e.g. {"noise": 2}); kinds left out weigh 1;
            None draws every kind equally often.
        light_rain_share: share of rain samples whose strength is drawn from the light quarter
            [0, 0.25] instead of all of [0, 1] (uniform strength gives a median of about 18 dB PSNR,
            so light rain of 25-27 dB is otherwise rare). 0 draws exactly as earlier versions.
        faint_rain_share: share of rain samples that are drizzle: the thinnest streaks (strength 0)
            at a density uniform in ``FAINT_RAIN_DENSITY``, below the strength range's lowest
            (about 27-33 dB PSNR where strength 0 leaves about 27 dB), so the faintest rain is still
            rain and not clean. Applied after ``light_rain_share``. 0 draws exactly as earlier versions.
        faint_haze_share: share of haze samples that are thin haze: ``beta`` uniform in
            ``FAINT_HAZE_BETA``, below the strength range's lowest (strength 0 leaves about 17.8 dB;
            light outdoor haze is lighter), so thin haze is still haze and not clean. Applied after
            ``light_haze_share``. 0 draws exactly as earlier versions.
        light_haze_share: share of haze samples whose strength is drawn from [0, LIGHT_HAZE_MAX]
            (haze thin enough to leave 14-18 dB, as outdoor photos usually are; uniform strength
            gives a median near 11.6 dB). 0 draws exactly as earlier versions.
        dark_share: share of samples without low light whose clean crop is first toned
            ``x ** gamma``, gamma uniform in ``DARK_GAMMA``, and kept so as the target: clean photos
            with deep shadows or black areas (studio backdrops, night scenes) are content to keep,
            not low light to brighten. 0 draws exactly as earlier versions.
        long_blur_share: share of blur samples that get a long motion trajectory (``LONG_BLUR_LENGTH``,
            25..50 px, beyond the strength range's 5..25 px: real camera shake as in GoPro), so the
            model learns what to do with blur it cannot fully undo. 0 draws exactly as earlier versions.
        varying_blur_share: share of those long-blur samples whose blur varies over the patch
            (``DegradationSpec(varying=True)``: camera rotation). 0 draws exactly as earlier versions.
        linear_blur_share: share of blur samples (any trajectory or disk) blurred in linear light
            (``DegradationSpec(linear=True)``: through a gamma-2.2 camera response, as GoPro's blurred
            frames were made), where a bright light smears into and lifts its dark surroundings.
            Applied after ``varying_blur_share``. 0 draws exactly as earlier versions.
        scene_haze_share: share of haze samples with scene depth (``DegradationSpec(scene=True)``,
            see :func:`make_sample` for the wider haze context). 0 draws exactly as earlier versions.
        defocus_share: share of all samples whose clean crop has an out-of-focus region
            (:func:`defocus`, sigma in ``DEFOCUS_SIGMA``, area in ``DEFOCUS_AREA``), kept so in the
            target: smooth backgrounds are content, not haze, blur or low light to undo. 0 draws
            exactly as earlier versions.
        context: with k > 1 every patch is cut from a degraded crop k patches wide (at most the
            smallest image side: ``context_side``), returned in the batch as "ctx"; the trainer pools
            the model's global statistics over it (``TrainConfig.stats_context``). 1: as before.
        partial_share: share of the two-kind mixtures that keep only their first kind, on its
            partial mask: the rest of the patch stays clean, so the local embedding also learns
            "clean" as a per-pixel answer (without it every pixel of a mixture is degraded, and a
            region of a clean photo gets some degradation's treatment). 0 draws exactly as earlier versions.
        shadow_share: share of all samples whose clean crop has a darker region (:func:`shadow`,
            gain in ``SHADOW_GAIN``, area in ``SHADOW_AREA``), kept so in the target: a dark part of
            a well-exposed photo is not local low light (which comes with sensor noise). 0 draws
            exactly as earlier versions.
        flat_blur_share: share of samples with blur and without haze or low light whose clean crop
            is first toned flat (:func:`flatten`, contrast in ``FLAT_CONTRAST`` towards a grey in
            ``FLAT_LEVEL``) and kept so in the target: a blurred overcast street is blur to undo, not
            haze to remove (without it the model lends such photos haze's darkening and contrast).
            0 draws exactly as earlier versions.
        flat_rain_share: the same for samples with rain and without haze or low light (drawn when the
            blur tone above was not): rain over a low-contrast scene (sand, fog-free overcast) is rain to
            remove, not haze (without it the model stretches the scene's contrast and loses ~10 dB where
            a rainy photo was nearly clean). 0 draws exactly as earlier versions.
        pale_share: share of samples without haze or low light (clean ones included) whose clean crop
            has a light, low-contrast region (:func:`pale`, contrast in ``PALE_CONTRAST`` towards a grey in
            ``PALE_LEVEL``, area in ``PALE_AREA``), kept so in the target: blurred pavement is blur to undo,
            not local haze (without it the local embedding takes such a region for haze and the model
            paints dark blotches into it: GoPro's Istanbul_1). 0 draws exactly as earlier versions.
        pale_blur_share: the same region for samples with blur (and without haze or low light) only, drawn
            when ``pale_share`` did not: far fewer light regions than ``pale_share`` puts into every kind
            (clean crops included), which outnumber the haze samples and teach the local cue to leave haze
            in place. 0 draws exactly as earlier versions.
        wide_rain_share: share of rain samples with broad, long, steeply slanted streaks
            (``DegradationSpec(wide=True)``): rendered rain layers such as Rain100L's draw wider and longer
            streaks than the default, which a model trained on thin ones leaves in place and calls the
            photo clean. 0 draws exactly as earlier versions.
        zoom_share: share of all samples cut from a zoomed photo (:func:`zoom`, factor in ``ZOOM_FACTOR``):
            content soft per pixel, as in large photos and video frames (GoPro's are 1280x720), whose
            whole-image statistics a model trained only on crisp downscaled photos misreads. 0 draws
            exactly as earlier versions.
        zoom_only: ``None`` zooms any sample (the coin is drawn before the degradations). A list of kinds
            draws the coin after them and only for samples whose kinds all lie in it (clean ones included):
            without "haze", since zoomed haze is soft and low in contrast as a flat-toned blurred photo is;
            e.g. ``("noise", "blur")`` to keep rain and low light on crisp photos.
        seed, rank, world_size: the batch at ``step`` uses ``np.random.default_rng([seed, rank, step])``.
    """

    def __init__(self, root: str | Path | None = None, tasks: str | Sequence[str] = "five", patch: int = 64,
                 batch: int = 8, mixed_share: float = 0.3, clean_share: float = 0.05, split: str = "train",
                 seed: int = 0, rank: int = 0, world_size: int = 1,
                 task_weights: dict[str, float] | None = None, light_rain_share: float = 0.0,
                 long_blur_share: float = 0.0, light_haze_share: float = 0.0, dark_share: float = 0.0,
                 varying_blur_share: float = 0.0, scene_haze_share: float = 0.0,
                 defocus_share: float = 0.0, shadow_share: float = 0.0, partial_share: float = 0.0,
                 context: int = 1, faint_rain_share: float = 0.0,
                 faint_haze_share: float = 0.0, flat_blur_share: float = 0.0,
                 flat_rain_share: float = 0.0, linear_blur_share: float = 0.0, pale_share: float = 0.0,
                 pale_blur_share: float = 0.0, wide_rain_share: float = 0.0, zoom_share: float = 0.0,
                 zoom_only: Sequence[str] | None = None) -> None:
        if not (clean_share >= 0 and mixed_share >= 0 and clean_share + mixed_share <= 1):
            raise ValueError("need clean_share, mixed_share >= 0 and clean_share + mixed_share <= 1")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} out of range for world_size {world_size}")
        self.root = resolve_root(root)
        self.tasks = resolve_tasks(tasks)
        self.task_weights = dict(task_weights) if task_weights else None
        task_probabilities(self.tasks, self.task_weights)  # fail here, not at the first batch
        shares = {"light_rain_share": light_rain_share, "light_haze_share": light_haze_share,
                  "dark_share": dark_share, "long_blur_share": long_blur_share,
                  "varying_blur_share": varying_blur_share, "scene_haze_share": scene_haze_share,
                  "defocus_share": defocus_share, "shadow_share": shadow_share, "partial_share": partial_share,
                  "faint_rain_share": faint_rain_share, "faint_haze_share": faint_haze_share,
                  "flat_blur_share": flat_blur_share, "flat_rain_share": flat_rain_share,
                  "linear_blur_share": linear_blur_share, "pale_share": pale_share,
                  "pale_blur_share": pale_blur_share, "wide_rain_share": wide_rain_share, "zoom_share": zoom_share}
        for name, v in shares.items():
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {v}")
            setattr(self, name, float(v))
        if zoom_only is not None and (isinstance(zoom_only, str) or set(zoom_only) - set(KINDS)):
            raise ValueError(f"zoom_only must be a list of kinds from {KINDS}, got {zoom_only!r}")
        self.zoom_only = None if zoom_only is None else frozenset(zoom_only)
        self.patch, self.batch_size = int(patch), int(batch)
        self.mixed_share, self.clean_share = float(mixed_share), float(clean_share)
        self.split, self.seed, self.rank, self.world_size = split, int(seed), int(rank), int(world_size)
        self.images = load_clean_images(self.root, split)
        if int(context) < 1:
            raise ValueError(f"context must be at least 1, got {context}")
        self.context = int(context)
        # one side for every sample (they are stacked): at most the smallest image side
        self.context_side = (min(self.context * self.patch, *(min(im.shape[:2]) for im in self.images))
                             if self.context > 1 else None)
        longest = self.patch + 2 * blur_margin([DegradationSpec("blur", length=LONG_BLUR_LENGTH[1])])
        if self.context_side is not None and self.context_side < longest:
            raise ValueError(f"context {self.context} gives {self.context_side} px crops; patches of {self.patch} px "
                             f"with their blur margins need {longest}")

    def draw_specs(self, rng: np.random.Generator) -> list[DegradationSpec]:
        u = rng.random()
        if u < self.clean_share:
            return []
        specs = random_specs(rng, self.tasks, mixed=u < self.clean_share + self.mixed_share, weights=self.task_weights)
        def uniform(lo: float, hi: float) -> float:
            return float(rng.uniform(lo, hi))

        # each option redraws a share of one kind's specs, in this order (no draws at share 0)
        specs = _redraw(specs, rng, self.light_rain_share, "rain",
                        lambda sp: replace(sp, strength=uniform(0.0, LIGHT_RAIN_MAX)))
        specs = _redraw(specs, rng, self.faint_rain_share, "rain",
                        lambda sp: replace(sp, strength=0.0, density=uniform(*FAINT_RAIN_DENSITY)))
        specs = _redraw(specs, rng, self.wide_rain_share, "rain", lambda sp: replace(sp, wide=True))
        specs = _redraw(specs, rng, self.light_haze_share, "haze",
                        lambda sp: replace(sp, strength=uniform(0.0, LIGHT_HAZE_MAX)))
        specs = _redraw(specs, rng, self.faint_haze_share, "haze",
                        lambda sp: replace(sp, strength=0.0, beta=uniform(*FAINT_HAZE_BETA)))
        specs = _redraw(specs, rng, self.long_blur_share, "blur", lambda sp: replace(sp, length=uniform(*LONG_BLUR_LENGTH)))
        specs = _redraw(specs, rng, self.varying_blur_share, "blur", lambda sp: replace(sp, varying=True),
                        only=lambda sp: sp.length is not None)
        specs = _redraw(specs, rng, self.linear_blur_share, "blur", lambda sp: replace(sp, linear=True))
        specs = _redraw(specs, rng, self.scene_haze_share, "haze", lambda sp: replace(sp, scene=True))
        if self.partial_share > 0 and len(specs) == 2 and rng.random() < self.partial_share:
            specs = specs[:1]  # its partial mask stays: degraded there, clean elsewhere
        return specs

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        img = self.images[int(rng.integers(len(self.images)))]
        zoomed = lambda im: zoom(im, float(rng.uniform(*ZOOM_FACTOR)), rng) if rng.random() < self.zoom_share else im
        if self.zoom_share > 0 and self.zoom_only is None:
            img = zoomed(img)
        specs = self.draw_specs(rng)
        if self.zoom_share > 0 and self.zoom_only is not None and {sp.kind for sp in specs} <= self.zoom_only:
            img = zoomed(img)
        gamma = None
        if self.dark_share > 0 and not any(sp.kind == "lowlight" for sp in specs) and rng.random() < self.dark_share:
            gamma = float(rng.uniform(*DARK_GAMMA))
        soft = dark = None
        if self.defocus_share > 0 and rng.random() < self.defocus_share:
            soft = (float(rng.uniform(*DEFOCUS_SIGMA)), float(rng.uniform(*DEFOCUS_AREA)))
        if self.shadow_share > 0 and rng.random() < self.shadow_share:
            dark = (float(rng.uniform(*SHADOW_GAIN)), float(rng.uniform(*SHADOW_AREA)))
        flat = None
        kinds = {sp.kind for sp in specs}
        if not kinds & {"haze", "lowlight"} and (
                (self.flat_blur_share > 0 and "blur" in kinds and rng.random() < self.flat_blur_share)
                or (self.flat_rain_share > 0 and "rain" in kinds and rng.random() < self.flat_rain_share)):
            flat = (float(rng.uniform(*FLAT_CONTRAST)), float(rng.uniform(*FLAT_LEVEL)))
        light = None
        if not kinds & {"haze", "lowlight"} and (
                (self.pale_share > 0 and rng.random() < self.pale_share)
                or (self.pale_blur_share > 0 and "blur" in kinds and rng.random() < self.pale_blur_share)):
            light = (float(rng.uniform(*PALE_CONTRAST)), float(rng.uniform(*PALE_LEVEL)), float(rng.uniform(*PALE_AREA)))
        return make_sample(img, specs, self.patch, rng, gamma=gamma, defocus_at=soft, shadow_at=dark,
                           context_side=self.context_side, flat=flat, pale_at=light)

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        """The batch at ``step``.

        Returns:
            "lq", "gt": (B, 3, P, P) float32 in [0, 1]; "mask": (B, P, P) int64 class per pixel;
            "label": (B,) int64 dominant class (most pixels; ties -> lower id); "frac": (B, K)
            float32 share of pixels per class, K = len(CLASSES); with ``context`` > 1 also "ctx"
            (B, 3, C, C) float32, the degraded crop each patch was cut from (``context_side`` C).
        """
        rng = np.random.default_rng([self.seed, self.rank, int(step)])
        samples = [self.sample(rng) for _ in range(self.batch_size)]
        lq = np.stack([s["lq"] for s in samples]).transpose(0, 3, 1, 2)
        gt = np.stack([s["gt"] for s in samples]).transpose(0, 3, 1, 2)
        return {
            "lq": torch.from_numpy(np.ascontiguousarray(lq)),
            "gt": torch.from_numpy(np.ascontiguousarray(gt)),
            "mask": torch.from_numpy(np.stack([s["mask"] for s in samples])),
            "label": torch.tensor([s["label"] for s in samples], dtype=torch.int64),
            "frac": torch.from_numpy(np.stack([s["frac"] for s in samples])),
            **({"ctx": torch.from_numpy(np.ascontiguousarray(np.stack([s["ctx"] for s in samples]).transpose(0, 3, 1, 2)))}
               if self.context_side else {}),
        }

    def iterate(self, start: int = 0) -> Iterator[dict[str, torch.Tensor]]:
        """Batches from ``start`` on (resume with the step stored in the checkpoint)."""
        for step in itertools.count(start):
            yield self.batch(step)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        return self.iterate(0)


def val_set(root: str | Path | None = None, n: int = 64, patch: int = 128, tasks: str | Sequence[str] = "five",
            seed: int = 123) -> list[dict[str, Any]]:
    """Fixed validation samples from split="val" (same every call), for checkpoint selection.

    Categories cycle clean, each task kind alone (full mask), then a two-kind mixture, so every
    class is represented. Each dict holds numpy arrays laid out like ``TrainSampler.batch`` items
    without the batch axis: "lq", "gt" (3, P, P) float32; "mask" (P, P) int64; "frac" (K,) float32;
    plus "label" (int), "kind" (str: "clean", a kind, or "mixed") and "params".
    """
    kinds = resolve_tasks(tasks)
    images = load_clean_images(root, "val")
    cats = ["clean", *kinds, "mixed"]
    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        cat = cats[i % len(cats)]
        if cat == "clean":
            specs: list[DegradationSpec] = []
        elif cat == "mixed":
            specs = random_specs(rng, kinds, mixed=True)
        else:
            specs = random_specs(rng, (cat,), mixed=False)
        s = make_sample(images[int(rng.integers(len(images)))], specs, patch, rng)
        s["lq"] = np.ascontiguousarray(s["lq"].transpose(2, 0, 1))
        s["gt"] = np.ascontiguousarray(s["gt"].transpose(2, 0, 1))
        s["kind"] = cat
        out.append(s)
    return out


VAL_PROFILES = ("patch", "full", "scene", "flat", "toned", "camera", "street", "storm", "zoom")  # "scene": "full" with scene haze and varying
# long blur; "flat": "scene" plus blurred flat-toned photos (val_set_flat_blur); "toned": "flat" plus rainy flat-toned
# photos (val_set_flat_rain); "camera": "toned" plus photos blurred in linear light (val_set_linear_blur); "street":
# "camera" plus blurred photos with a light, low-contrast region (val_set_pale_blur); "storm": "street" plus photos
# with broad, long, slanted rain streaks (val_set_wide_rain); "zoom": "storm" plus zoomed photos, degraded (val_set_zoom)
_PROFILE_CHAIN = ("scene", "flat", "toned", "camera", "street", "storm", "zoom")  # each profile adds one set to the one before
CLEAN_CAP_DB = 40.0  # "full" profile score: a clean photo returned at >= 40 dB counts as unchanged


def val_set_full(root: str | Path | None = None, n: int = 48, tasks: str | Sequence[str] = "five",
                 seed: int = 321, scene: bool = False) -> list[dict[str, Any]]:
    """Fixed validation images for checkpoint choice that look like the benchmarks' inputs: whole
    photos of split="val" (481x321 or 321x481, no crop, no flips), degraded at benchmark-like levels.

    Categories cycle clean, "dark" (a clean photo toned ``x ** gamma``, gamma in ``DARK_GAMMA``: deep
    shadows that must stay dark), each kind, then a two-kind mixture. Noise sigma
    cycles 15/25/50; rain and haze are light (strength in [0, LIGHT_RAIN_MAX] / [0, LIGHT_HAZE_MAX]:
    Rain100L and SOTS/HSTS inputs sit at the light end of our ranges, docs/levels.md); every second blur
    is a long motion trajectory (``LONG_BLUR_LENGTH``, camera shake); low light and mixtures draw the full
    range. Whole images also exercise the global head on full-image statistics and show when a model
    alters clean photos (e.g. brightens them), which 128-px crops miss.

    ``scene`` (the "scene" profile): haze with scene depth and every second long blur varying over
    the photo (``DegradationSpec(scene=True)`` / ``varying=True``); the other images are unchanged.

    Returns dicts like :func:`val_set` ("lq", "gt" (3, H, W) float32, "mask", "frac", "label", "kind",
    "params"), of varying H, W; :func:`slerir.train.validate` pads them to the model's multiple.
    """
    kinds = resolve_tasks(tasks)
    images = load_clean_images(root, "val")
    cats = ["clean", "dark", *kinds, "mixed"]
    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        cat, turn = cats[i % len(cats)], i // len(cats)
        img = images[int(rng.integers(len(images)))]
        gt = img.astype(np.float32) / np.float32(255.0)
        if cat in ("clean", "dark"):
            if cat == "dark":
                gt = np.power(gt, np.float32(rng.uniform(*DARK_GAMMA)), dtype=np.float32)
            specs: list[DegradationSpec] = []
        elif cat == "mixed":
            specs = random_specs(rng, kinds, mixed=True)
        elif cat == "noise":
            specs = [DegradationSpec("noise", sigma=(15.0, 25.0, 50.0)[turn % 3])]
        elif cat == "rain":
            specs = [DegradationSpec("rain", strength=float(rng.uniform(0.0, LIGHT_RAIN_MAX)))]
        elif cat == "haze":
            specs = [DegradationSpec("haze", strength=float(rng.uniform(0.0, LIGHT_HAZE_MAX)), scene=scene)]
        elif cat == "blur" and turn % 2:
            specs = [DegradationSpec("blur", length=float(rng.uniform(*LONG_BLUR_LENGTH)),
                                     varying=scene and turn % 4 == 3)]
        else:
            specs = [DegradationSpec(cat)]
        out.append(_whole_photo_sample(gt, degrade(gt, specs, rng), cat))
    return out


def _whole_photo_sample(gt: np.ndarray, res, kind: str) -> dict[str, Any]:
    """A validation dict (channels first) from a whole (H, W, 3) target and its ``DegradationResult``."""
    counts = np.bincount(res.mask.ravel(), minlength=NUM_CLASSES)
    return {"lq": np.ascontiguousarray(res.image.transpose(2, 0, 1)),
            "gt": np.ascontiguousarray(gt.transpose(2, 0, 1)), "mask": res.mask,
            "frac": (counts / res.mask.size).astype(np.float32), "label": int(np.argmax(counts)),
            "kind": kind, "params": res.params}


def _val_photos(root, n: int, seed: int, kind: str, spec_at, tone=None) -> list[dict[str, Any]]:
    """``n`` whole validation photos (photo ``i`` drawn by ``np.random.default_rng([seed, i])``), each toned by
    ``tone(photo, rng)`` when given (the target is the toned photo) and degraded by ``spec_at(i, rng)``;
    category ``kind``."""
    images = load_clean_images(root, "val")
    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        gt = images[int(rng.integers(len(images)))].astype(np.float32) / np.float32(255.0)
        if tone is not None:
            gt = tone(gt, rng)
        out.append(_whole_photo_sample(gt, degrade(gt, [spec_at(i, rng)], rng), kind))
    return out


def _flat_photos(root, n: int, seed: int, kind: str, spec_at) -> list[dict[str, Any]]:
    """``n`` whole validation photos toned flat (:func:`flatten`, contrast in ``FLAT_CONTRAST``, level in
    ``FLAT_LEVEL``; the target is the toned photo), each degraded by ``spec_at(i, rng)``; category ``kind``."""
    return _val_photos(root, n, seed, kind, spec_at, lambda gt, rng: flatten(
        gt, float(rng.uniform(*FLAT_CONTRAST)), float(rng.uniform(*FLAT_LEVEL))))


def val_set_flat_blur(root: str | Path | None = None, n: int = 8, seed: int = 654) -> list[dict[str, Any]]:
    """``n`` whole validation photos toned flat (:func:`_flat_photos`) and blurred, every second one by a
    long motion trajectory: the washed-out blurred views (an overcast street, GoPro's Istanbul_1) that a
    model which equates low contrast with haze darkens. Category "flat_blur", label blur; dicts as
    :func:`val_set_full`."""
    return _flat_photos(root, n, seed, "flat_blur", lambda i, rng: (
        DegradationSpec("blur", length=float(rng.uniform(*LONG_BLUR_LENGTH))) if i % 2 else DegradationSpec("blur")))


def val_set_flat_rain(root: str | Path | None = None, n: int = 8, seed: int = 655) -> list[dict[str, Any]]:
    """``n`` whole validation photos toned flat (:func:`_flat_photos`) with rain over them, every second one
    drizzle (``FAINT_RAIN_DENSITY``): rain over a low-contrast scene, which a model that equates low
    contrast with haze stretches. Category "flat_rain", label rain; dicts as :func:`val_set_full`."""
    return _flat_photos(root, n, seed, "flat_rain", lambda i, rng: (
        DegradationSpec("rain", strength=0.0, density=float(rng.uniform(*FAINT_RAIN_DENSITY))) if i % 2
        else DegradationSpec("rain")))


def val_set_linear_blur(root: str | Path | None = None, n: int = 8, seed: int = 656) -> list[dict[str, Any]]:
    """``n`` whole validation photos blurred in linear light (``DegradationSpec(linear=True)``, GoPro's
    synthesis), every second one by a long motion trajectory (``LONG_BLUR_LENGTH``) and every fourth
    of those varying over the photo. Category "linear_blur", label blur; dicts as :func:`val_set_full`."""
    return _val_photos(root, n, seed, "linear_blur", lambda i, rng: (
        DegradationSpec("blur", length=float(rng.uniform(*LONG_BLUR_LENGTH)), varying=i % 4 == 3, linear=True)
        if i % 2 else DegradationSpec("blur", linear=True)))


def val_set_pale_blur(root: str | Path | None = None, n: int = 8, seed: int = 657) -> list[dict[str, Any]]:
    """``n`` whole validation photos with a light, low-contrast region (:func:`pale`, kept in the target),
    blurred, every second one by a long motion trajectory (``LONG_BLUR_LENGTH``): a blurred street with
    its pavement, which a local embedding that takes bright flat grey for haze darkens in blotches.
    Category "pale_blur", label blur; dicts as :func:`val_set_full`."""
    return _val_photos(root, n, seed, "pale_blur", lambda i, rng: (
        DegradationSpec("blur", length=float(rng.uniform(*LONG_BLUR_LENGTH))) if i % 2 else DegradationSpec("blur")),
        lambda gt, rng: pale(gt, float(rng.uniform(*PALE_CONTRAST)), float(rng.uniform(*PALE_LEVEL)),
                             float(rng.uniform(*PALE_AREA)), rng))


def val_set_wide_rain(root: str | Path | None = None, n: int = 8, seed: int = 658) -> list[dict[str, Any]]:
    """``n`` whole validation photos with broad, long, slanted rain streaks (``DegradationSpec(wide=True)``)
    at light strengths (``LIGHT_RAIN_MAX``), every second one at drizzle density (``FAINT_RAIN_DENSITY``):
    the rendered rain of Rain100L-like sets. Category "wide_rain", label rain; dicts as :func:`val_set_full`."""
    return _val_photos(root, n, seed, "wide_rain", lambda i, rng: (
        DegradationSpec("rain", strength=0.0, density=float(rng.uniform(*FAINT_RAIN_DENSITY)), wide=True) if i % 2
        else DegradationSpec("rain", strength=float(rng.uniform(0.0, LIGHT_RAIN_MAX)), wide=True)))


ZOOM_VAL_KINDS = ("noise", "rain", "haze", "blur", "lowlight")  # val_set_zoom cycles these


def _benchmark_like_spec(kind: str, turn: int, rng: np.random.Generator) -> DegradationSpec:
    """The ``turn``-th degradation of ``kind`` at :func:`val_set_full`'s benchmark-like levels: noise sigma
    15/25/50 in turn, light rain, light scene haze, every second blur a long trajectory, any low light."""
    if kind == "noise":
        return DegradationSpec("noise", sigma=(15.0, 25.0, 50.0)[turn % 3])
    if kind == "rain":
        return DegradationSpec("rain", strength=float(rng.uniform(0.0, LIGHT_RAIN_MAX)))
    if kind == "haze":
        return DegradationSpec("haze", strength=float(rng.uniform(0.0, LIGHT_HAZE_MAX)), scene=True)
    if kind == "blur" and turn % 2:
        return DegradationSpec("blur", length=float(rng.uniform(*LONG_BLUR_LENGTH)))
    return DegradationSpec(kind)


def val_set_zoom(root: str | Path | None = None, n: int = 8, seed: int = 659,
                 tasks: str | Sequence[str] = "five") -> list[dict[str, Any]]:
    """``n`` whole validation photos zoomed (:func:`zoom`, factor in ``ZOOM_FACTOR``; same size, soft per
    pixel, as a large photo or a video frame) and degraded at :func:`val_set_full`'s levels, cycling
    through the trained kinds of ``ZOOM_VAL_KINDS`` (:func:`_benchmark_like_spec`). No clean ones: a clean
    photo's PSNR is unbounded and would outweigh the rest (the clean-photo floors of ``analysis.select``
    watch those). Category "zoom"; dicts as :func:`val_set_full`."""
    kinds = [k for k in ZOOM_VAL_KINDS if k in resolve_tasks(tasks)]
    return _val_photos(root, n, seed, "zoom", lambda i, rng: _benchmark_like_spec(kinds[i % len(kinds)], i // len(kinds), rng),
                       lambda gt, rng: zoom((gt * 255).round().astype(np.uint8), float(rng.uniform(*ZOOM_FACTOR)),
                                            rng).astype(np.float32) / np.float32(255.0))


LARGE_FACTOR = (2.0, 3.0)  # val_set_large("enlarged"): whole photos enlarged by this factor (longer side 962-1443 px)
LARGE_MODES = ("enlarged", "mosaic")


def val_set_large(root: str | Path | None = None, n: int = 12, seed: int = 660, mode: str = "enlarged",
                  tasks: str | Sequence[str] = "five") -> list[dict[str, Any]]:
    """``n`` large validation images, degraded at their own pixel scale at :func:`val_set_full`'s levels
    (:func:`_benchmark_like_spec`), cycling clean, then each trained kind. Our photos are 481x321; users'
    and GoPro's are larger. ``mode``:

    - "enlarged": a whole photo enlarged (bicubic) by a factor in ``LARGE_FACTOR``: large and soft per
      pixel, as a video frame or a phone photo;
    - "mosaic": four landscape photos cropped to 480x320 and tiled 2x2 (960x640): large and crisp per pixel.

    Not part of a selection profile (each image costs four to nine of the others); ``analysis.scale``
    uses them to ask how the global decision depends on the scale of the picture. Dicts as
    :func:`val_set_full`, category "large_<mode>"."""
    if mode not in LARGE_MODES:
        raise ValueError(f"mode must be one of {LARGE_MODES}, got {mode!r}")
    kinds = ["clean", *resolve_tasks(tasks)]
    images = load_clean_images(root, "val")
    landscape = [im for im in images if im.shape[0] >= 320 and im.shape[1] >= 480 and im.shape[1] > im.shape[0]]
    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        if mode == "enlarged":
            img = images[int(rng.integers(len(images)))]
            f = float(rng.uniform(*LARGE_FACTOR))
            big = np.asarray(Image.fromarray(img).resize((round(img.shape[1] * f), round(img.shape[0] * f)),
                                                         Image.BICUBIC), dtype=np.uint8)
        else:
            if not landscape:
                raise ValueError("mosaic needs landscape validation photos of at least 480x320")
            tiles = [landscape[int(j)][:320, :480] for j in rng.integers(len(landscape), size=4)]
            big = np.concatenate([np.concatenate(tiles[:2], 1), np.concatenate(tiles[2:], 1)], 0)
        gt = big.astype(np.float32) / np.float32(255.0)
        kind, turn = kinds[i % len(kinds)], i // len(kinds)
        specs = [] if kind == "clean" else [_benchmark_like_spec(kind, turn, rng)]
        out.append(_whole_photo_sample(gt, degrade(gt, specs, rng), f"large_{mode}"))
    return out


def profile_val_set(profile: str, root: str | Path | None = None, n: int = 48,
                    tasks: str | Sequence[str] = "five") -> list[dict[str, Any]]:
    """The validation samples of a profile: "patch" (:func:`val_set`), "full" (:func:`val_set_full`),
    "scene" (:func:`val_set_full` with ``scene=True``), "flat" (the "scene" samples, then ``n // 8``
    of :func:`val_set_flat_blur` when blur is trained) or "toned" (the "flat" samples, then ``n // 8`` of
    :func:`val_set_flat_rain` when rain is trained) or "camera" (the "toned" samples, then ``n // 8`` of
    :func:`val_set_linear_blur` when blur is trained) or "street" (the "camera" samples, then ``n // 8`` of
    :func:`val_set_pale_blur` when blur is trained) or "storm" (the "street" samples, then ``n // 8`` of
    :func:`val_set_wide_rain` when rain is trained) or "zoom" (the "storm" samples, then ``n // 8`` of
    :func:`val_set_zoom`)."""
    if profile not in VAL_PROFILES:
        raise ValueError(f"val_profile must be one of {VAL_PROFILES}, got {profile!r}")
    if profile == "patch":
        return val_set(root=root, n=n, tasks=tasks)
    level = _PROFILE_CHAIN.index(profile) if profile in _PROFILE_CHAIN else -1  # each includes the ones before it
    kinds = resolve_tasks(tasks)
    out = val_set_full(root=root, n=n, tasks=tasks, scene=level >= 0)
    zoomed = lambda root, n: val_set_zoom(root=root, n=n, tasks=kinds)
    for extra, needs, make in ((1, "blur", val_set_flat_blur), (2, "rain", val_set_flat_rain),
                               (3, "blur", val_set_linear_blur), (4, "blur", val_set_pale_blur),
                               (5, "rain", val_set_wide_rain), (6, None, zoomed)):  # needs None: any kind
        if level >= extra and (needs is None or needs in kinds):
            out += make(root=root, n=max(1, n // 8))
    return out


def selection_score(res: dict[str, float], profile: str = "patch") -> float:
    """The number checkpoints are chosen by: the mean PSNR over categories; for the whole-photo
    profiles ("full", "scene") the clean categories ("clean", "dark") count at most ``CLEAN_CAP_DB`` (beyond that a returned photo is unchanged to
    the eye, and a near-identity model should not outscore one that restores better)."""
    if profile not in VAL_PROFILES:
        raise ValueError(f"val profile must be one of {VAL_PROFILES}, got {profile!r}")
    cats = {k: v for k, v in res.items() if k not in ("mean_psnr", "recognition", "score", "step")}
    if profile != "patch":  # whole photos: clean ones capped
        for k in ("clean", "dark"):
            if k in cats:
                cats[k] = min(cats[k], CLEAN_CAP_DB)
    return float(np.mean(list(cats.values())))


def time_batches(sampler: TrainSampler, steps: int = 20) -> float:
    """Mean seconds per ``sampler.batch`` call over ``steps`` calls (after one warm-up call)."""
    sampler.batch(0)
    t0 = time.perf_counter()
    for k in range(1, steps + 1):
        sampler.batch(k)
    return (time.perf_counter() - t0) / steps


if __name__ == "__main__":  # python -m slerir.data: measure batch() speed
    torch.set_num_threads(1)
    s = TrainSampler(batch=16, patch=64)
    print(f"{len(s.images)} images; batch(16 x 64 px): {1000 * time_batches(s, 50):.1f} ms")
