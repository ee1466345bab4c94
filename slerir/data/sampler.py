"""Training batches: clean photos degraded on the fly by ``slerir.degradations``, changed by a recipe
of augmentations (``slerir.data.augment``).

The sampler is a pure function of ``(seed, rank, step)``: each batch builds its own generator
``np.random.default_rng([seed, rank, step])``, so a resumed run reproduces the same batches bit for
bit and DDP ranks see different data without any sampler state to checkpoint.
"""
from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import torch

from slerir.config import CLASSES
from slerir.data.augment import LONG_BLUR_LENGTH, STAGES, RecipeEntry, parse_recipe, sample_kinds
from slerir.data.images import load_clean_images, resolve_root
from slerir.degradations import DegradationSpec, degrade, motion_radius, random_specs, resolve_tasks, task_probabilities

HAZE_CONTEXT = 3  # a patch with scene haze over it is cut from a haze field this many patches wide
BLUR_MARGIN = 16  # px of real context cropped around a patch that gets blurred (kernel radius <= 14)
NUM_CLASSES = len(CLASSES)

ContentOp = Callable[[np.ndarray, np.random.Generator], np.ndarray]
InputOp = Callable[[np.ndarray, np.random.Generator], np.ndarray]
CleanOp = Callable[[np.ndarray, np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]]


def blur_margin(specs: Sequence[DegradationSpec]) -> int:
    """Context in px to crop around a patch before blurring it: BLUR_MARGIN, or the kernel's radius
    (plus 1) for specs with a longer explicit motion ``length``; 0 without blur."""
    if not any(s.kind == "blur" for s in specs):
        return 0
    return max([BLUR_MARGIN] + [motion_radius(s.length) + 1 for s in specs if s.kind == "blur" and s.length])


def _flip_turn(patch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random rot90 (0-3 quarter turns) and horizontal flip: the 8 symmetries of the square."""
    patch = np.rot90(patch, int(rng.integers(4)))
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    return patch


def make_sample(img: np.ndarray, specs: Sequence[DegradationSpec], patch: int, rng: np.random.Generator,
                content: Sequence[ContentOp] = (), context_side: int | None = None,
                clean: Sequence[CleanOp] = (), inputs: Sequence[InputOp] = ()) -> dict[str, Any]:
    """One training sample from a clean uint8 image: random crop, flips/rot90, degradation.

    Patches that get blurred are cropped ``blur_margin(specs)`` px larger on each side, degraded, then
    centre-cropped, so the blur near the patch border sees real image content, not padding.
    Patches under full-mask scene haze (``DegradationSpec(scene=True)``) are cut at random from a
    crop ``HAZE_CONTEXT`` times as wide (at most the image), hazed as a whole: the depth then spans a
    third of a photo, not its whole range inside one patch, and its sky and edges come from a real view.

    Args:
        content: operations ``op(crop, rng) -> crop`` on the clean float32 crop, in this order, before
            the degradations: the change is content and stays in the target ("tone"/"region" content
            hooks of ``slerir.data.augment``).
        context_side: every patch is cut at random from a crop of this side (at least the patch plus
            its blur margins), degraded as a whole and returned as "ctx": the wider view whose pooled
            statistics condition the model in training (``SLERIR.forward(context=...)``), as a whole
            photo does at inference.
        clean: operations ``op(lq, gt, rng) -> (lq, gt)`` after the degradations, on input and target.
        inputs: operations ``op(lq, rng) -> lq`` after those, on the degraded input only.

    Returns:
        dict of numpy arrays: "lq", "gt" (P, P, 3) float32; "mask" (P, P) int64; "frac" (K,) float32;
        "label" int (class with most pixels); "params" (list of dicts); with ``context_side`` also
        "ctx" (C, C, 3) float32 and "ctx_offset" (row, col) of the patch in it. "frac" and "label" (the
        global embedding's targets) describe what the global statistics see: the context when there is
        one, else the patch; "mask" (the local targets) is always the patch's.
    """
    m = blur_margin(specs)
    size = patch + 2 * m
    h, w = img.shape[:2]
    if size > min(h, w):
        raise ValueError(f"patch {patch} (+{m} margin) does not fit a {h}x{w} image")
    ops = (content, clean, inputs)
    if context_side is not None:
        return _sample_in_context(img, specs, patch, rng, max(size, context_side), m, *ops)
    if not m and any(sp.kind == "haze" and sp.scene and sp.mask == "full" for sp in specs):
        side = min(h, w, HAZE_CONTEXT * patch)  # the haze field's context (not handed to the model)
        if side > patch:
            s = _sample_in_context(img, specs, patch, rng, side, 0, *ops, global_from_context=False)
            return {k: v for k, v in s.items() if k not in ("ctx", "ctx_offset")}
    lq, gt, mask, params = _degraded_crop(img, size, specs, rng, *ops)  # (S, S, 3) float32 each
    if m:
        gt, lq, mask = gt[m:-m, m:-m], lq[m:-m, m:-m], mask[m:-m, m:-m]
    return _pack(lq, gt, mask, params)


def _degraded_crop(img, size, specs, rng, content, clean, inputs):
    """A random (size, size) crop of ``img``, flipped/turned, given its content, degraded; then the clean
    and input operations. Returns lq, gt (float32), the class mask and the degradation parameters."""
    h, w = img.shape[:2]
    y = int(rng.integers(h - size + 1))
    x = int(rng.integers(w - size + 1))
    gt = _flip_turn(img[y : y + size, x : x + size], rng).astype(np.float32) / np.float32(255.0)
    for op in content:
        gt = op(gt, rng)
    res = degrade(gt, specs, rng)
    lq = res.image
    for op in clean:
        lq, gt = op(lq, gt, rng)
    for op in inputs:
        lq = op(lq, rng)
    return lq, gt, res.mask, res.params


def _sample_in_context(img, specs, patch, rng, side, margin, content, clean, inputs,
                       global_from_context: bool = True) -> dict[str, Any]:
    """A patch cut from a degraded (side, side) crop, with the crop as "ctx". ``global_from_context``: the
    global targets ("frac", "label") count the whole crop's mask, since the model pools its global statistics
    over "ctx" (a patch inside one region of a two-kind crop still has a two-kind global view); False when the
    crop is not handed to the model."""
    if side > min(img.shape[:2]):
        raise ValueError(f"a {side} px context does not fit a {img.shape[0]}x{img.shape[1]} image")
    lq, gt, mask, params = _degraded_crop(img, side, specs, rng, content, clean, inputs)
    oy, ox = (int(v) for v in rng.integers(margin, side - margin - patch + 1, size=2))
    cut = (slice(oy, oy + patch), slice(ox, ox + patch))
    return _pack(lq[cut], gt[cut], mask[cut], params, global_mask=mask if global_from_context else None,
                 ctx=lq, ctx_offset=(oy, ox))


def _pack(lq, gt, mask, params, global_mask=None, **extra) -> dict[str, Any]:
    """A sample dict: the arrays, the share of pixels per class and the class with most pixels, counted over
    ``global_mask`` (what the global statistics see) when given, else over ``mask``."""
    seen = mask if global_mask is None else global_mask
    counts = np.bincount(seen.ravel(), minlength=NUM_CLASSES)
    return {"lq": lq, "gt": gt, "mask": mask, "frac": (counts / seen.size).astype(np.float32),
            "label": int(np.argmax(counts)), "params": params, **extra}


def collate(samples: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
    """A batch from sample dicts (``make_sample``'s, or ``slerir.datasets_std``'s paired crops).

    Returns:
        "lq", "gt": (B, 3, P, P) float32 in [0, 1]; "mask": (B, P, P) int64 class per pixel; "label":
        (B,) int64 dominant class (most pixels; ties -> lower id); "frac": (B, K) float32 share of pixels
        per class, K = len(CLASSES); when the samples have "ctx", also "ctx" (B, 3, C, C) float32.
    """
    def images(key: str) -> torch.Tensor:  # (B, H, W, 3) -> (B, 3, H, W)
        return torch.from_numpy(np.ascontiguousarray(np.stack([s[key] for s in samples]).transpose(0, 3, 1, 2),
                                                     dtype=np.float32))

    out = {"lq": images("lq"), "gt": images("gt"),
           "mask": torch.from_numpy(np.stack([s["mask"] for s in samples]).astype(np.int64, copy=False)),
           "label": torch.tensor([s["label"] for s in samples], dtype=torch.int64),
           "frac": torch.from_numpy(np.stack([s["frac"] for s in samples]).astype(np.float32, copy=False))}
    if "ctx" in samples[0]:
        out["ctx"] = images("ctx")
    return out


class TrainSampler:
    """Batches of synthetic degraded/clean patch pairs, a deterministic function of the step.

    Each sample is clean with probability ``clean_share``, a mixture of two degradations in
    complementary regions with probability ``mixed_share``, otherwise one degradation over the
    whole patch (``slerir.degradations.random_specs``); then the ``recipe``'s augmentations are drawn
    (``slerir.data.augment``: order and hook points in its docstring).

    Args:
        root: datasets folder (see ``resolve_root``).
        tasks: "three", "five" or a tuple of degradation kinds.
        patch: patch side P in px.
        batch: batch size B.
        mixed_share: share of two-degradation mixtures.
        clean_share: share of undegraded samples (label 0).
        split: "train" (400 images) or "val" (32 images).
        seed, rank, world_size: the batch at ``step`` uses ``np.random.default_rng([seed, rank, step])``.
        task_weights: relative draw weight per kind (e.g. {"noise": 2}); kinds left out weigh 1;
            None draws every kind equally often.
        recipe: list of entries ``{"aug": name, "share": x, "only": [...], "needs": [...], **params}``
            (``slerir.data.augment.parse_recipe``); empty: the base degradations only.
        context: with k > 1 every patch is cut from a degraded crop k patches wide (at most the
            smallest image side: ``context_side``), returned in the batch as "ctx"; the trainer pools
            the model's global statistics over it (``TrainConfig.stats_context``).
    """

    def __init__(self, root: str | Path | None = None, tasks: str | Sequence[str] = "five", patch: int = 64,
                 batch: int = 8, mixed_share: float = 0.3, clean_share: float = 0.05, split: str = "train",
                 seed: int = 0, rank: int = 0, world_size: int = 1, task_weights: dict[str, float] | None = None,
                 recipe: Sequence[Mapping[str, Any]] | None = None, context: int = 1) -> None:
        if not (clean_share >= 0 and mixed_share >= 0 and clean_share + mixed_share <= 1):
            raise ValueError("need clean_share, mixed_share >= 0 and clean_share + mixed_share <= 1")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} out of range for world_size {world_size}")
        self.root = resolve_root(root)
        self.tasks = resolve_tasks(tasks)
        self.task_weights = dict(task_weights) if task_weights else None
        task_probabilities(self.tasks, self.task_weights)  # fail here, not at the first batch
        self.recipe: list[RecipeEntry] = parse_recipe(recipe)
        self._spec_entries = [e for e in self.recipe if e.augmentation.hook == "spec"]
        self._sample_entries = [e for e in self.recipe if e.augmentation.hook != "spec"]
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
        longest = max([LONG_BLUR_LENGTH[1]] + [e.params["length"][1] for e in self.recipe if e.aug == "long_blur"])
        need = self.patch + 2 * blur_margin([DegradationSpec("blur", length=longest)])
        if self.context_side is not None and self.context_side < need:
            raise ValueError(f"context {self.context} gives {self.context_side} px crops; patches of {self.patch} px "
                             f"with their blur margins need {need}")

    def draw_specs(self, rng: np.random.Generator) -> list[DegradationSpec]:
        """The base degradations of one sample, then the recipe's ``spec`` entries in order."""
        u = rng.random()
        if u < self.clean_share:
            specs: list[DegradationSpec] = []
        else:
            specs = random_specs(rng, self.tasks, mixed=u < self.clean_share + self.mixed_share,
                                 weights=self.task_weights)
        for e in self._spec_entries:
            if e.applies(sample_kinds(specs), specs):
                specs = e.augmentation.fn(specs, rng, lambda e=e: bool(rng.random() < e.share), **e.params)
        return specs

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """One sample dict (``make_sample``'s)."""
        img = self.images[int(rng.integers(len(self.images)))]
        specs = self.draw_specs(rng)
        kinds = sample_kinds(specs)
        content: list[tuple[int, ContentOp]] = []
        clean: list[CleanOp] = []
        inputs: list[InputOp] = []
        hit: set[str] = set()
        for e in self._sample_entries:
            if e.aug in hit or not e.applies(kinds, specs) or not rng.random() < e.share:
                continue
            hit.add(e.aug)
            aug = e.augmentation
            op = aug.fn(rng, **e.params)
            if aug.hook == "clean":
                clean.append(op)
            elif aug.hook == "input":
                inputs.append(op)
            elif aug.stage == "photo":  # the whole photo, at once
                img = op(img, rng)
            else:
                content.append((STAGES.index(aug.stage), op))
        content.sort(key=lambda t: t[0])  # stable: tones, then regions, each in recipe order
        return make_sample(img, specs, self.patch, rng, content=[op for _, op in content],
                           context_side=self.context_side, clean=clean, inputs=inputs)

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        """The batch at ``step`` (:func:`collate`; with ``context`` > 1 also "ctx" (B, 3, C, C), the
        degraded crop each patch was cut from, C = ``context_side``)."""
        rng = np.random.default_rng([self.seed, self.rank, int(step)])
        return collate([self.sample(rng) for _ in range(self.batch_size)])

    def iterate(self, start: int = 0) -> Iterator[dict[str, torch.Tensor]]:
        """Batches from ``start`` on (resume with the step stored in the checkpoint)."""
        for step in itertools.count(start):
            yield self.batch(step)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        return self.iterate(0)


def time_batches(sampler: TrainSampler, steps: int = 20) -> float:
    """Mean seconds per ``sampler.batch`` call over ``steps`` calls (after one warm-up call)."""
    sampler.batch(0)
    t0 = time.perf_counter()
    for k in range(1, steps + 1):
        sampler.batch(k)
    return (time.perf_counter() - t0) / steps
