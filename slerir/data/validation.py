"""Fixed validation sets for checkpoint selection, drawn from the validation split of the training
photos (never a test set), and the score checkpoints are chosen by.

Every set is the same on every call (sample ``i`` uses ``np.random.default_rng([seed, i])``).
``profile_val_set(profile)`` gives the trainer's ``val_profile``: "patch" (128-px crops), "full" (whole
photos at benchmark-like levels), "scene" (with scene-depth haze), and each later profile of
``VAL_PROFILES`` adds one set of harder whole photos to the one before it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from slerir.data.augment import (DARK_GAMMA, FAINT_RAIN_DENSITY, FLAT_CONTRAST, FLAT_LEVEL, LIGHT_HAZE_MAX,
                                 LIGHT_RAIN_MAX, LONG_BLUR_LENGTH, PALE_AREA, PALE_CONTRAST, PALE_LEVEL, ZOOM_FACTOR,
                                 flatten, pale, zoom)
from slerir.data.images import load_clean_images
from slerir.data.sampler import NUM_CLASSES, make_sample
from slerir.degradations import DegradationSpec, degrade, random_specs, resolve_tasks


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

