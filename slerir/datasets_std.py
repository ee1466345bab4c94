"""Standard all-in-one training sets (the PromptIR / AirNet / AdaIR / MoCE-IR layouts) for the ``paper`` preset.

``slerir.data.TrainSampler`` degrades CBSD432 photos synthetically; this module serves the real training
pairs the all-in-one literature trains on, with the same batch interface, so ``slerir.train`` can train the
``paper`` preset on them (``TrainConfig.data_layout = "standard"``, see :func:`make_sampler`).

Layout under ``root`` (default ``data/allinone``; ``docs/PAPER_SCALE.md`` shows the full tree):

======== ===================================================== ===============================================
class    folders                                               pairing
======== ===================================================== ===============================================
noise    ``Train/Denoise/`` (BSD400 + WED, subfolders allowed) clean only; Gaussian noise sigma 15/25/50 on the fly
rain     ``Train/Derain/rainy/`` + ``Train/Derain/gt/``        ``rain-N`` <-> ``norain-N`` (also ``rainy_N`` /
                                                               ``norain_N``, or the same name; ``input``/``target``)
haze     ``Train/Dehaze/synthetic/**`` + ``Train/Dehaze/original/`` ``NNNN_A_B.jpg`` <-> ``NNNN.jpg|png`` (id before
                                                               the first underscore; RESIDE OTS, "OTS_BETA")
blur     ``GOPRO/train/<seq>/blur/`` + ``<seq>/sharp/``         same file name; also flat ``GOPRO/train/input`` +
                                                               ``target`` and ``Train/Deblur/blur`` + ``sharp``
lowlight ``LOL/our485/low/`` + ``LOL/our485/high/``             same file name (``gt``/``target`` also accepted)
======== ===================================================== ===============================================

List files as PromptIR ships them (``data_dir/noisy/denoise.txt``, ``data_dir/rainy/rainTrain.txt``,
``data_dir/hazy/hazy_outside.txt``) are used when present in ``root`` or ``root/data_dir`` (or passed
explicitly): they select the images, paths relative to ``Train/Denoise`` (names), ``Train/Derain`` and
``Train/Dehaze``. A derain line may also hold two paths, ``rainy/x.png gt/y.png``, for an explicit pair.

Task sampling. The literature concatenates per-task file lists, repeating the small sets, and draws
uniformly from the concatenation. We checked the public code: PromptIR (``utils/dataset_utils.py``,
``PromptTrainDataset``) lists every clean denoising image 3 times per noise level (15/25/50, so 9 times in
all), the Rain100L list 120 times and the OTS list once; AdaIR (``AdaIRTrainDataset``) and MoCE-IR
(``AIOTrainDataset``) add GoPro 5 times and LOL 20 times for five tasks. :data:`LITERATURE_REPEATS` holds
these factors and the default ``task_weights="literature"`` draws a task with probability proportional to
``images x repeat`` (the composition of one such epoch, in expectation), then an image uniformly within it.
``task_weights="uniform"`` gives every task the same share instead.

Mixing in our own degradations. A share ``synthetic_share`` of the samples is made as in
``slerir.data``: a clean image of the denoising set degraded by ``slerir.degradations``. ``mixed_share``
(two degradations in complementary regions) and ``clean_share`` (undegraded, label 0) are shares of *all*
samples, as in ``TrainSampler``, and come out of the synthetic part, so ``clean_share + mixed_share <=
synthetic_share``; by default ``synthetic_share = clean_share + mixed_share`` (real pairs cover the single
degradations). Real pairs carry their class on every pixel.

Determinism: the batch at ``step`` uses ``np.random.default_rng([seed, rank, step])`` exactly like
``TrainSampler``, so resumed runs and DDP ranks behave the same way. Images are read lazily and kept in a
small LRU cache (OTS alone is 72,135 JPEGs); ``prefetch > 0`` computes the next batches in background
threads (PIL decoding releases the GIL), which does not change any batch.
"""
from __future__ import annotations

import math
import os
import re
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator, Mapping, NamedTuple, Sequence

import numpy as np
import torch
from PIL import Image

from slerir.config import CLASSES
from slerir.data import BLUR_MARGIN, NUM_CLASSES, collate, make_sample
from slerir.degradations import BENCHMARK_SIGMAS, DegradationSpec, degrade, random_specs, resolve_tasks

DEFAULT_STD_ROOT = Path("data") / "allinone"
IMAGE_EXTS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")

# How often each image appears in one literature epoch (see the module docstring for the sources).
LITERATURE_REPEATS: dict[str, int] = {"noise": 9, "rain": 120, "haze": 1, "blur": 5, "lowlight": 20}
# Image counts of the standard training sets: BSD400 + WED (400 + 4,744; PromptIR's denoise.txt),
# Rain100L train (200; rainTrain.txt), RESIDE OTS hazy (72,135 = 2,061 scenes x 35 A/beta; hazy_outside.txt),
# GoPro train (2,103 pairs), LOL our485 (485 pairs).
STANDARD_SIZES: dict[str, int] = {"noise": 5144, "rain": 200, "haze": 72135, "blur": 2103, "lowlight": 485}

# PromptIR's list files, looked up in <root>/ and <root>/data_dir/
LIST_FILES: dict[str, tuple[str, ...]] = {
    "noise": ("noisy/denoise.txt", "denoise.txt"),
    "rain": ("rainy/rainTrain.txt", "rainTrain.txt"),
    "haze": ("hazy/hazy_outside.txt", "hazy_outside.txt"),
}
MAX_ALIGN_DIFF = 16  # px: a degraded/clean pair whose sizes differ by more is an error, not a crop


class Pair(NamedTuple):
    """One training item: degraded path (None: degraded on the fly), clean path, class name."""

    lq: Path | None
    gt: Path
    kind: str


# ------------------------------------------------------------------------------------------- helpers


def resolve_std_root(root: str | Path | None = None) -> Path:
    """The folder holding the standard training sets (``data/allinone`` relative to the working directory
    when ``root`` is None). Raises FileNotFoundError naming the folder."""
    path = Path(root).expanduser() if root is not None else DEFAULT_STD_ROOT
    if not path.is_dir():
        raise FileNotFoundError(
            f"standard training data folder {str(path)!r} not found (resolved: {path.resolve()}). Arrange "
            "Train/Denoise, Train/Derain, Train/Dehaze, GOPRO/train and LOL/our485 under it as described in "
            "docs/PAPER_SCALE.md and pass it as std_root (TrainConfig) or root=...")
    return path.resolve()


def _is_image(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in IMAGE_EXTS and not p.name.startswith(".")


def _images(folder: Path, recursive: bool = False) -> list[Path]:
    it = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in it if _is_image(p))


def _first_dir(base: Path, names: Sequence[str]) -> Path | None:
    for n in names:
        if (base / n).is_dir():
            return base / n
    return None


def _find_list_file(root: Path, kind: str) -> Path | None:
    for rel in LIST_FILES.get(kind, ()):
        for cand in (root / rel, root / "data_dir" / rel):
            if cand.is_file():
                return cand
    return None


def _read_list(path: Path) -> list[str]:
    lines = [ln.strip() for ln in Path(path).read_text().splitlines()]
    out = [ln for ln in lines if ln and not ln.startswith("#")]
    if not out:
        raise ValueError(f"list file {path} holds no entries")
    return out


def _examples(items: Sequence[Any], k: int = 5) -> str:
    shown = ", ".join(str(x) for x in list(items)[:k])
    return shown + (f", ... ({len(items)} in all)" if len(items) > k else "")


def _missing_folder(kind: str, tried: Sequence[Path], expected: str) -> FileNotFoundError:
    where = ", ".join(str(t) for t in tried)
    return FileNotFoundError(f"{kind}: folder not found (tried: {where}); expected {expected}")


def _pair_same_name(lq_dir: Path, gt_dir: Path, kind: str) -> list[Pair]:
    """Pairs of files with the same name in two folders; an unmatched degraded file is an error."""
    lqs = _images(lq_dir)
    if not lqs:
        raise ValueError(f"{kind}: no images in {lq_dir}")
    gts = {p.name: p for p in _images(gt_dir)}
    missing = [p.name for p in lqs if p.name not in gts]
    if missing:
        raise ValueError(f"{kind}: {len(missing)} of {len(lqs)} images in {lq_dir} have no file of the same name "
                         f"in {gt_dir}: {_examples(missing)}")
    return [Pair(p, gts[p.name], kind) for p in lqs]


# ------------------------------------------------------------------------------------------- readers


def read_denoise(root: str | Path, list_file: str | Path | None = None) -> list[Pair]:
    """Clean denoising images: ``<root>/Train/Denoise/`` (BSD400 + WED, any depth), noise added on the fly.

    With a list file (``list_file`` or PromptIR's ``noisy/denoise.txt`` in ``root`` or ``root/data_dir``)
    only the listed file names are used, and every listed name must exist.
    """
    root = Path(root)
    folder = root / "Train" / "Denoise"
    if not folder.is_dir():
        raise _missing_folder("denoise", [folder], "<root>/Train/Denoise/ holding the BSD400 and WED (Waterloo "
                              "Exploration) images (*.jpg, *.png, *.bmp; subfolders allowed)")
    files = _images(folder, recursive=True)
    lf = Path(list_file) if list_file is not None else _find_list_file(root, "noise")
    if lf is not None:
        wanted = [Path(x).name for x in _read_list(lf)]
        by_name: dict[str, Path] = {}
        for f in files:
            by_name.setdefault(f.name, f)
        missing = [n for n in wanted if n not in by_name]
        if missing:
            raise ValueError(f"denoise: {len(missing)} of {len(wanted)} images named in {lf} are not under {folder}: "
                             f"{_examples(missing)}")
        files = [by_name[n] for n in dict.fromkeys(wanted)]
    if not files:
        raise ValueError(f"denoise: no images (*{', *'.join(IMAGE_EXTS)}) under {folder}")
    return [Pair(None, f, "noise") for f in files]


_RAIN_RE = re.compile(r"^(rainy|rain)([-_]?)(.*)$", re.IGNORECASE)


def _rain_gt_candidates(stem: str) -> list[str]:
    """Ground-truth stems to try for a rainy stem: rain-N -> norain-N, rainy_N -> norain_N, ..., same name."""
    cands = []
    m = _RAIN_RE.match(stem)
    if m and m.group(3):
        sep, ident = m.group(2), m.group(3)
        cands += [f"norain{sep}{ident}", f"norain-{ident}", f"norain_{ident}", f"clean{sep}{ident}", ident]
    cands.append(stem)
    return list(dict.fromkeys(c.lower() for c in cands))


def read_derain(root: str | Path, list_file: str | Path | None = None) -> list[Pair]:
    """Rain100L training pairs as PromptIR lays them out: ``<root>/Train/Derain/rainy/rain-N.png`` with
    ``<root>/Train/Derain/gt/norain-N.png``.

    Also accepted: ``rainy_N``/``norain_N`` names, identical names, and ``input``/``target`` folders. With a
    list file (``list_file`` or PromptIR's ``rainy/rainTrain.txt``) the rainy images are those listed,
    relative to ``Train/Derain`` (a line ``rainy/a.png gt/b.png`` gives an explicit pair).
    """
    root = Path(root)
    base = root / "Train" / "Derain"
    if not base.is_dir():
        raise _missing_folder("derain", [base],
                              "<root>/Train/Derain/{rainy,gt}/ (Rain100L train: rain-N.png, norain-N.png)")
    lq_dir = _first_dir(base, ("rainy", "input", "rain"))
    gt_dir = _first_dir(base, ("gt", "target", "norain"))
    if gt_dir is None:
        raise _missing_folder("derain", [base / "gt", base / "target", base / "norain"],
                              "the clean Rain100L images in <root>/Train/Derain/gt/")
    gt_index = {p.stem.lower(): p for p in _images(gt_dir)}
    lf = Path(list_file) if list_file is not None else _find_list_file(root, "rain")
    explicit: list[tuple[Path, Path | None]] = []
    if lf is not None:
        for line in _read_list(lf):
            parts = line.split()
            if len(parts) > 2:
                raise ValueError(f"{lf}: expected 'rainy_path' or 'rainy_path gt_path' per line, got {line!r}")
            explicit.append((base / parts[0], base / parts[1] if len(parts) == 2 else None))
        absent = [str(p) for pr in explicit for p in pr if p is not None and not p.is_file()]
        if absent:
            raise ValueError(f"derain: {len(absent)} files named in {lf} do not exist: {_examples(absent)}")
    else:
        if lq_dir is None:
            raise _missing_folder("derain", [base / "rainy", base / "input", base / "rain"],
                                  "the rainy Rain100L images in <root>/Train/Derain/rainy/")
        explicit = [(p, None) for p in _images(lq_dir)]
        if not explicit:
            raise ValueError(f"derain: no images in {lq_dir}")
    pairs, unmatched = [], []
    for lq, gt in explicit:
        if gt is None:
            gt = next((gt_index[c] for c in _rain_gt_candidates(lq.stem) if c in gt_index), None)
        if gt is None:
            unmatched.append(lq.name)
        else:
            pairs.append(Pair(lq, gt, "rain"))
    if unmatched:
        raise ValueError(f"derain: no ground truth in {gt_dir} for {len(unmatched)} of {len(explicit)} rainy images "
                         f"(looked for norain-<id>, norain_<id> and the same name): {_examples(unmatched)}")
    return pairs


def read_dehaze(root: str | Path, list_file: str | Path | None = None) -> list[Pair]:
    """RESIDE OTS ("OTS_BETA") as PromptIR lays it out: hazy ``<root>/Train/Dehaze/synthetic/<any>/NNNN_A_B.jpg``
    paired with ``<root>/Train/Dehaze/original/NNNN.jpg|png`` by the id before the first underscore.

    ``hazy``/``clear`` folder names are accepted too. With a list file (``list_file`` or PromptIR's
    ``hazy/hazy_outside.txt``) the hazy images are those listed, relative to ``Train/Dehaze``.
    """
    root = Path(root)
    base = root / "Train" / "Dehaze"
    if not base.is_dir():
        raise _missing_folder("dehaze", [base], "<root>/Train/Dehaze/{synthetic,original}/ (RESIDE OTS)")
    clear_dir = _first_dir(base, ("original", "clear"))
    if clear_dir is None:
        raise _missing_folder("dehaze", [base / "original", base / "clear"],
                              "the clear OTS images NNNN.jpg in <root>/Train/Dehaze/original/")
    clear: dict[str, Path] = {}
    for p in _images(clear_dir):
        clear.setdefault(p.stem.split("_")[0], p)
    lf = Path(list_file) if list_file is not None else _find_list_file(root, "haze")
    if lf is not None:
        hazy = [base / x for x in _read_list(lf)]
        absent = [str(p) for p in hazy if not p.is_file()]
        if absent:
            raise ValueError(f"dehaze: {len(absent)} of {len(hazy)} files named in {lf} do not exist: "
                             f"{_examples(absent)}")
    else:
        hazy_dir = _first_dir(base, ("synthetic", "hazy"))
        if hazy_dir is None:
            raise _missing_folder("dehaze", [base / "synthetic", base / "hazy"],
                                  "the hazy OTS images in <root>/Train/Dehaze/synthetic/partN/NNNN_A_B.jpg")
        hazy = _images(hazy_dir, recursive=True)
        if not hazy:
            raise ValueError(f"dehaze: no images under {hazy_dir}")
    pairs, unmatched = [], []
    for p in hazy:
        gt = clear.get(p.stem.split("_")[0])
        if gt is None:
            unmatched.append(p.name)
        else:
            pairs.append(Pair(p, gt, "haze"))
    if unmatched:
        raise ValueError(f"dehaze: no clear image <id>.jpg|png in {clear_dir} for {len(unmatched)} of {len(hazy)} hazy "
                         f"images (id = name before the first underscore): {_examples(unmatched)}")
    return pairs


def read_deblur(root: str | Path) -> list[Pair]:
    """GoPro training pairs: ``<root>/GOPRO/train/<seq>/blur/*.png`` <-> ``<seq>/sharp/`` (same name).

    Also accepted: the flattened ``GOPRO/train/input`` + ``target`` (Restormer/NAFNet) and
    ``Train/Deblur/blur`` + ``sharp`` (AdaIR); ``GoPro``/``GOPRO_Large`` spellings of the top folder.
    """
    root = Path(root)
    tried = [root / "GOPRO" / "train", root / "GoPro" / "train", root / "GOPRO_Large" / "train",
             root / "Train" / "Deblur"]
    base = next((t for t in tried if t.is_dir()), None)
    if base is None:
        raise _missing_folder("deblur", tried, "<root>/GOPRO/train/<sequence>/{blur,sharp}/ (GoPro train, 2,103 pairs)")
    for lq_name, gt_name in (("input", "target"), ("blur", "sharp")):
        if (base / lq_name).is_dir() and (base / gt_name).is_dir():
            return _pair_same_name(base / lq_name, base / gt_name, "blur")
    seqs = [d for d in sorted(base.iterdir()) if d.is_dir() and (d / "blur").is_dir()]
    if not seqs:
        raise ValueError(f"deblur: {base} holds neither <sequence>/blur+sharp folders nor input+target folders")
    pairs: list[Pair] = []
    for seq in seqs:
        if not (seq / "sharp").is_dir():
            raise ValueError(f"deblur: {seq} has blur/ but no sharp/")
        pairs += _pair_same_name(seq / "blur", seq / "sharp", "blur")
    return pairs


def read_lowlight(root: str | Path) -> list[Pair]:
    """LOL training pairs: ``<root>/LOL/our485/low/N.png`` <-> ``<root>/LOL/our485/high/N.png``.

    ``gt``/``target`` instead of ``high``, ``input`` instead of ``low``, and ``LOLdataset/our485``,
    ``Train/Lowlight`` or ``Train/Enhance`` (AdaIR) as the folder are accepted too.
    """
    root = Path(root)
    tried = [root / "LOL" / "our485", root / "LOLdataset" / "our485", root / "Train" / "Lowlight",
             root / "Train" / "Enhance"]
    base = next((t for t in tried if t.is_dir()), None)
    if base is None:
        raise _missing_folder("lowlight", tried, "<root>/LOL/our485/{low,high}/ (LOL train, 485 pairs)")
    lq_dir = _first_dir(base, ("low", "input"))
    gt_dir = _first_dir(base, ("high", "gt", "target"))
    if lq_dir is None or gt_dir is None:
        raise _missing_folder("lowlight", [base / "low", base / "high"],
                              f"{base}/low/ and {base}/high/ (same file names)")
    return _pair_same_name(lq_dir, gt_dir, "lowlight")


READERS = {"noise": read_denoise, "rain": read_derain, "haze": read_dehaze, "blur": read_deblur,
           "lowlight": read_lowlight}


def read_layout(root: str | Path | None, tasks: str | Sequence[str] = "five") -> dict[str, list[Pair]]:
    """Every pair of ``tasks`` ("three", "five" or kinds) under ``root``, by class name."""
    base = resolve_std_root(root)
    return {k: READERS[k](base) for k in resolve_tasks(tasks)}


# ------------------------------------------------------------------------------------------- ratios and epochs


def task_probabilities(counts: Mapping[str, int],
                       weights: str | Mapping[str, float] = "literature") -> dict[str, float]:
    """Probability of drawing each task: ``"literature"`` proportional to images x :data:`LITERATURE_REPEATS`,
    ``"uniform"`` equal, or a mapping of relative weights per task."""
    kinds = list(counts)
    if weights == "literature":
        raw = {k: counts[k] * LITERATURE_REPEATS[k] for k in kinds}
    elif weights == "uniform":
        raw = {k: 1.0 for k in kinds}
    elif isinstance(weights, Mapping):
        missing = [k for k in kinds if k not in weights]
        if missing:
            raise ValueError(f"task_weights lacks {missing}")
        raw = {k: float(weights[k]) for k in kinds}
    else:
        raise ValueError(f"task_weights must be 'literature', 'uniform' or a dict, got {weights!r}")
    if any(v < 0 for v in raw.values()) or sum(raw.values()) <= 0:
        raise ValueError(f"task weights must be >= 0 with a positive sum, got {raw}")
    total = float(sum(raw.values()))
    return {k: raw[k] / total for k in kinds}


def epoch_size(tasks: str | Sequence[str], sizes: Mapping[str, int] = STANDARD_SIZES) -> int:
    """Samples in one literature epoch: sum over tasks of images x repeat (142,431 for three, 162,646 for five)."""
    return sum(sizes[k] * LITERATURE_REPEATS[k] for k in resolve_tasks(tasks))


def steps_per_epoch(tasks: str | Sequence[str], per_gpu: int = 8, gpus: int = 4,
                    sizes: Mapping[str, int] = STANDARD_SIZES) -> int:
    """Optimizer steps per epoch as PyTorch Lightning DDP counts them (PromptIR, AdaIR, MoCE-IR): the
    DistributedSampler pads the epoch to ``ceil(N / gpus)`` samples per GPU, the loader drops the last
    incomplete batch of ``per_gpu``."""
    return math.ceil(epoch_size(tasks, sizes) / gpus) // per_gpu


# ------------------------------------------------------------------------------------------- image cache


class ImageCache:
    """Thread-safe LRU cache of decoded images: path -> (H, W, 3) uint8 RGB (read-only array)."""

    def __init__(self, size: int = 64) -> None:
        self.size = max(0, int(size))
        self._data: OrderedDict[Path, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, path: Path) -> np.ndarray:
        with self._lock:
            img = self._data.get(path)
            if img is not None:
                self._data.move_to_end(path)
                self.hits += 1
                return img
            self.misses += 1
        try:
            with Image.open(path) as im:
                img = np.asarray(im.convert("RGB"), dtype=np.uint8)
        except (OSError, ValueError) as e:
            raise OSError(f"cannot read training image {path}: {e}") from e
        img.flags.writeable = False
        if self.size:
            with self._lock:
                self._data[path] = img
                self._data.move_to_end(path)
                while len(self._data) > self.size:
                    self._data.popitem(last=False)
        return img

    def __len__(self) -> int:
        return len(self._data)


def _pad_to(img: np.ndarray, size: int) -> np.ndarray:
    """Mirror-pad an (H, W, C) image at the bottom/right until both sides are >= size (rarely needed)."""
    while img.shape[0] < size or img.shape[1] < size:
        ph, pw = max(0, size - img.shape[0]), max(0, size - img.shape[1])
        img = np.pad(img, ((0, min(ph, img.shape[0])), (0, min(pw, img.shape[1])), (0, 0)), mode="symmetric")
    return img


def _centre_crop(img: np.ndarray, h: int, w: int) -> np.ndarray:
    t, l = (img.shape[0] - h) // 2, (img.shape[1] - w) // 2
    return img[t : t + h, l : l + w]


def align_pair(lq: np.ndarray, gt: np.ndarray, pair: Pair | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Centre-crop a degraded/clean pair to their common size when they differ by at most
    :data:`MAX_ALIGN_DIFF` px per side (as PromptIR's crop to a multiple of 16 does); larger
    differences raise ValueError naming the files."""
    if lq.shape == gt.shape:
        return lq, gt
    dh, dw = abs(lq.shape[0] - gt.shape[0]), abs(lq.shape[1] - gt.shape[1])
    if dh > MAX_ALIGN_DIFF or dw > MAX_ALIGN_DIFF:
        names = f" ({pair.lq} vs {pair.gt})" if pair is not None else ""
        raise ValueError(f"degraded and clean images differ in size: {lq.shape[:2]} vs {gt.shape[:2]}{names}")
    h, w = min(lq.shape[0], gt.shape[0]), min(lq.shape[1], gt.shape[1])
    return _centre_crop(lq, h, w), _centre_crop(gt, h, w)


def _augment_pair(arrs: Sequence[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """The same random rot90 and horizontal flip for every array (one of the 8 square symmetries)."""
    k = int(rng.integers(4))
    flip = rng.random() < 0.5
    out = []
    for a in arrs:
        a = np.rot90(a, k)
        out.append(a[:, ::-1] if flip else a)
    return out


# ------------------------------------------------------------------------------------------- sampler


class StandardSampler:
    """Batches of real all-in-one training pairs (plus an optional share of our synthetic degradations),
    a deterministic function of ``(seed, rank, step)``, with ``slerir.data.TrainSampler``'s interface.

    Args:
        root: folder of the standard sets (see :func:`resolve_std_root`).
        tasks: "three" (noise, rain, haze), "five" (+ blur, lowlight) or a tuple of kinds.
        patch: patch side P in px (the literature: 128).
        batch: batch size B per process (the literature: 8 per GPU).
        mixed_share: share of all samples that are synthetic two-degradation mixtures.
        clean_share: share of all samples that are clean crops (label 0).
        synthetic_share: share of all samples made synthetically from the clean denoising images
            (``clean_share + mixed_share`` when None); must be >= clean_share + mixed_share.
        split: only "train" (the standard sets have no validation split; see :func:`val_set_std`).
        seed, rank, world_size: the batch at ``step`` uses ``np.random.default_rng([seed, rank, step])``.
        task_weights: "literature" (default), "uniform" or {kind: weight} for the real part.
        cache_size: decoded images kept in memory (LRU).
        prefetch: batches computed ahead in background threads (0: none; results are identical).
        workers: threads for prefetching (default: ``prefetch``).
        pairs: the pairs to use instead of reading ``root`` (tests, custom lists).
    """

    def __init__(self, root: str | Path | None = None, tasks: str | Sequence[str] = "five", patch: int = 128,
                 batch: int = 8, mixed_share: float = 0.1, clean_share: float = 0.02,
                 synthetic_share: float | None = None, split: str = "train", seed: int = 0, rank: int = 0,
                 world_size: int = 1, task_weights: str | Mapping[str, float] = "literature",
                 cache_size: int = 64, prefetch: int = 0, workers: int | None = None,
                 pairs: Mapping[str, Sequence[Pair]] | None = None) -> None:
        if split != "train":
            raise ValueError(f"the standard sets only have a training split, got split={split!r} (use val_set_std)")
        if synthetic_share is None:
            synthetic_share = clean_share + mixed_share
        if not (clean_share >= 0 and mixed_share >= 0 and clean_share + mixed_share <= synthetic_share + 1e-12
                and synthetic_share <= 1):
            raise ValueError("need clean_share, mixed_share >= 0 and clean_share + mixed_share <= synthetic_share <= 1 "
                             f"(got clean {clean_share}, mixed {mixed_share}, synthetic {synthetic_share})")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} out of range for world_size {world_size}")
        if patch < 1 or batch < 1:
            raise ValueError("patch and batch must be >= 1")
        self.tasks = resolve_tasks(tasks)
        self.root = None if pairs is not None else resolve_std_root(root)
        self.pairs: dict[str, list[Pair]] = ({k: list(pairs[k]) for k in self.tasks} if pairs is not None
                                             else read_layout(self.root, self.tasks))
        for k, v in self.pairs.items():
            if not v:
                raise ValueError(f"no training pairs for task {k!r}")
        self.patch, self.batch_size = int(patch), int(batch)
        self.mixed_share, self.clean_share = float(mixed_share), float(clean_share)
        self.synthetic_share = float(synthetic_share)
        self.split, self.seed, self.rank, self.world_size = split, int(seed), int(rank), int(world_size)
        self.task_probs = task_probabilities({k: len(v) for k, v in self.pairs.items()}, task_weights)
        self._kinds = list(self.task_probs)
        self._cum = np.cumsum([self.task_probs[k] for k in self._kinds])
        # clean images for the synthetic part: the denoising set, else the clean side of every pair
        pool = self.pairs.get("noise") or [p for v in self.pairs.values() for p in v]
        self.clean_pool = [p.gt for p in pool]
        self.cache = ImageCache(cache_size)
        self.prefetch = max(0, int(prefetch))
        self._workers = int(workers) if workers else max(1, self.prefetch)
        self._pool: ThreadPoolExecutor | None = None
        self._futures: dict[int, Future] = {}
        self._plock = threading.Lock()

    # -- samples ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return sum(len(v) for v in self.pairs.values())

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.pairs.items()}

    def load(self, path: Path) -> np.ndarray:
        return self.cache.get(path)

    def draw_kind(self, rng: np.random.Generator) -> str:
        i = int(np.searchsorted(self._cum, rng.random() * self._cum[-1], side="right"))
        return self._kinds[min(i, len(self._kinds) - 1)]

    def real_sample(self, rng: np.random.Generator, kind: str) -> dict[str, Any]:
        """A random crop of a random pair of ``kind`` (noise: a clean crop with sigma 15/25/50 added)."""
        entries = self.pairs[kind]
        pair = entries[int(rng.integers(len(entries)))]
        P = self.patch
        gt = self.load(pair.gt)
        lq = None if pair.lq is None else self.load(pair.lq)
        if lq is not None:
            lq, gt = align_pair(lq, gt, pair)
            lq = _pad_to(lq, P)
        gt = _pad_to(gt, P)
        h, w = gt.shape[:2]
        y, x = int(rng.integers(h - P + 1)), int(rng.integers(w - P + 1))
        crops = [gt[y : y + P, x : x + P]] + ([] if lq is None else [lq[y : y + P, x : x + P]])
        crops = _augment_pair(crops, rng)
        gt_f = crops[0].astype(np.float32) / np.float32(255.0)
        params: list[dict[str, Any]] = []
        if lq is None:  # the denoising task: Gaussian noise at a benchmark level (no re-quantisation)
            sigma = float(BENCHMARK_SIGMAS[int(rng.integers(len(BENCHMARK_SIGMAS)))])
            res = degrade(gt_f, [DegradationSpec(kind, sigma=sigma)], rng)
            lq_f, params = res.image, res.params
        else:
            lq_f = crops[1].astype(np.float32) / np.float32(255.0)
        cid = CLASSES.index(kind)
        frac = np.zeros(NUM_CLASSES, np.float32)
        frac[cid] = 1.0
        return {"lq": lq_f, "gt": gt_f, "mask": np.full((P, P), cid, np.int64), "frac": frac, "label": cid,
                "params": params, "kind": kind, "source": str(pair.lq or pair.gt)}

    def synthetic_sample(self, rng: np.random.Generator, specs: Sequence[DegradationSpec]) -> dict[str, Any]:
        """A clean image of the pool degraded by ``specs`` (``slerir.data.make_sample``)."""
        path = self.clean_pool[int(rng.integers(len(self.clean_pool)))]
        img = _pad_to(self.load(path), self.patch + 2 * BLUR_MARGIN)
        s = make_sample(img, specs, self.patch, rng)
        s["kind"] = "clean" if not specs else ("mixed" if len(specs) > 1 else specs[0].kind)
        s["source"] = str(path)
        return s

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        u = rng.random()
        if u < self.synthetic_share:
            if u < self.clean_share:
                specs: list[DegradationSpec] = []
            else:
                specs = random_specs(rng, self.tasks, mixed=u < self.clean_share + self.mixed_share)
            return self.synthetic_sample(rng, specs)
        return self.real_sample(rng, self.draw_kind(rng))

    # -- batches ------------------------------------------------------------------------------
    def _make_batch(self, step: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.rank, int(step)])
        return collate([self.sample(rng) for _ in range(self.batch_size)])

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        """The batch at ``step``, laid out like ``TrainSampler.batch``:

        "lq", "gt": (B, 3, P, P) float32 in [0, 1]; "mask": (B, P, P) int64 class per pixel; "label": (B,)
        int64 dominant class; "frac": (B, K) float32 share of pixels per class, K = len(CLASSES).
        With ``prefetch`` the following steps are started in background threads.
        """
        step = int(step)
        if self.prefetch <= 0:
            return self._make_batch(step)
        with self._plock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="slerir-std")
            fut = self._futures.pop(step, None)
            for s in [s for s in self._futures if s < step or s > step + self.prefetch]:
                self._futures.pop(s).cancel()
            if fut is None:
                fut = self._pool.submit(self._make_batch, step)
            for s in range(step + 1, step + 1 + self.prefetch):
                if s not in self._futures:
                    self._futures[s] = self._pool.submit(self._make_batch, s)
        return fut.result()

    def iterate(self, start: int = 0) -> Iterator[dict[str, torch.Tensor]]:
        """Batches from ``start`` on (resume with the step stored in the checkpoint)."""
        step = int(start)
        while True:
            yield self.batch(step)
            step += 1

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        return self.iterate(0)

    def close(self) -> None:
        """Stop the prefetch threads (pending batches are dropped)."""
        with self._plock:
            for f in self._futures.values():
                f.cancel()
            self._futures.clear()
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None

    def __enter__(self) -> "StandardSampler":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def val_set_std(root: str | Path | None = None, n: int = 60, patch: int = 128, tasks: str | Sequence[str] = "five",
                seed: int = 123, pairs: Mapping[str, Sequence[Pair]] | None = None) -> list[dict[str, Any]]:
    """Fixed monitoring samples from the standard training sets, laid out like ``slerir.data.val_set``.

    Categories cycle clean, each task (a crop of a real pair; noise at 15/25/50), then a synthetic
    two-kind mixture. These are crops of *training* images (the standard sets have no validation split),
    so they track fitting, not generalisation; report results on the test suites only.
    """
    s = StandardSampler(root=root, tasks=tasks, patch=patch, batch=1, pairs=pairs, cache_size=8)
    cats = ["clean", *s.tasks, "mixed"]
    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        cat = cats[i % len(cats)]
        if cat == "clean":
            smp = s.synthetic_sample(rng, [])
        elif cat == "mixed":
            smp = s.synthetic_sample(rng, random_specs(rng, s.tasks, mixed=True))
        else:
            smp = s.real_sample(rng, cat)
        smp["lq"] = np.ascontiguousarray(smp["lq"].transpose(2, 0, 1))
        smp["gt"] = np.ascontiguousarray(smp["gt"].transpose(2, 0, 1))
        smp["kind"] = cat
        out.append(smp)
    return out


# ------------------------------------------------------------------------------------------- slerir.train hooks

DEFAULT_PREFETCH = 8  # batches ahead per process on GPU runs (one thread each)


def _rank_world(rank: int | None, world_size: int | None) -> tuple[int, int]:
    r = int(os.environ.get("RANK", 0)) if rank is None else int(rank)
    w = int(os.environ.get("WORLD_SIZE", 1)) if world_size is None else int(world_size)
    return r, w


SYNTHETIC_ONLY_OPTIONS = ("task_weights", "recipe")  # TrainConfig fields, each a TrainSampler argument of that name


def make_sampler(tc: Any, rank: int | None = None, world_size: int | None = None):
    """The training sampler for a ``TrainConfig``: :class:`StandardSampler` when ``tc.data_layout ==
    "standard"`` (root ``tc.std_root``), else ``slerir.data.TrainSampler`` as ``Trainer`` builds it.

    ``rank``/``world_size`` default to the torchrun environment. ``tc.synthetic_share`` is used when the
    config has it, else ``clean_share + mixed_share``. On CUDA machines the standard sampler prefetches
    :data:`DEFAULT_PREFETCH` batches in threads (CPU runs do not, to leave the cores to the model), unless
    ``tc.workers`` processes draw the batches (``slerir.train``): each would run threads drawing steps that
    other workers get.
    """
    rank, world_size = _rank_world(rank, world_size)
    layout = getattr(tc, "data_layout", "synthetic") or "synthetic"
    if layout == "standard":
        synthetic_only = [k for k in SYNTHETIC_ONLY_OPTIONS if getattr(tc, k, None)]
        if getattr(tc, "stats_context", 1) > 1:
            synthetic_only.append("stats_context")
        if synthetic_only:
            raise ValueError(f"{', '.join(synthetic_only)} apply to the synthetic layout; the standard layout samples "
                             "the training sets in the literature's ratios")
        return StandardSampler(root=getattr(tc, "std_root", None), tasks=tc.tasks, patch=tc.patch, batch=tc.batch,
                               mixed_share=tc.mixed_share, clean_share=tc.clean_share,
                               synthetic_share=getattr(tc, "synthetic_share", None), seed=tc.seed, rank=rank,
                               world_size=world_size,
                               prefetch=DEFAULT_PREFETCH if torch.cuda.is_available() and not getattr(tc, "workers", 0) else 0)
    if layout != "synthetic":
        raise ValueError(f"data_layout must be 'synthetic' or 'standard', got {layout!r}")
    from slerir.data import TrainSampler

    return TrainSampler(root=tc.data_root, tasks=tc.tasks, patch=tc.patch, batch=tc.batch, mixed_share=tc.mixed_share,
                        clean_share=tc.clean_share, split="train", seed=tc.seed, rank=rank, world_size=world_size,
                        context=getattr(tc, "stats_context", 1), task_weights=getattr(tc, "task_weights", None),
                        recipe=getattr(tc, "recipe", None))


def make_val_set(tc: Any) -> list[dict[str, Any]]:
    """Validation samples for a ``TrainConfig``: :func:`val_set_std` for the standard layout (crops of
    the training pairs), else ``slerir.data.val_set`` (the CBSD432 validation split)."""
    if (getattr(tc, "data_layout", "synthetic") or "synthetic") == "standard":
        return val_set_std(root=getattr(tc, "std_root", None), n=tc.val_n, tasks=tc.tasks)
    from slerir.data import profile_val_set

    return profile_val_set(getattr(tc, "val_profile", "patch") or "patch", root=tc.data_root, n=tc.val_n,
                           tasks=tc.tasks)
