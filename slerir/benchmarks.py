"""Loaders for the evaluation benchmarks in ``<data-root>/test``.

The data folder is described in ``../shared/datasets/README.md``: read-only copies of CBSD68, Rain100L,
SOTS outdoor (7 pairs), HSTS, LOL eval15 and two GoPro examples. It is never part of the repository and the
app must work without it; only evaluation code and tests need it.

Every benchmark yields :class:`Pair` objects (RGB float32 in [0, 1], degraded ``lq`` and reference ``gt`` of
identical size, the degradation class from :data:`slerir.config.CLASSES`). Pairs come in a fixed order
(lexicographic order of the degraded file names), so results are reproducible and ``limit=N`` always means
the same first N pairs.

CBSD68 noise protocol: the clean 8-bit image is read as integers, Gaussian noise of standard deviation
``sigma`` (in 8-bit units) is added, the result is clipped to [0, 255] and divided by 255 (no rounding, so the
noisy input is not re-quantised). The generator is seeded per image and noise level with
``np.random.default_rng([sigma, index])``, ``index`` being the image's position in the sorted CBSD68 list,
so every run, and every ``limit``, sees exactly the same noise.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from slerir.imaging import load_image as _load_rgb_float, to_uint8

from slerir.config import CLASSES
from slerir.paths import resolve_data_root


# --------------------------------------------------------------------------------------------- data root


def resolve_root(root: str | Path | None = None) -> Path:
    """Return the dataset root folder (the one holding ``test/``): ``root`` as given, else ``$SLERIR_DATA``,
    else ``../shared/datasets`` relative to the working directory (``slerir.paths.resolve_data_root``).
    Raises :class:`FileNotFoundError` naming the folder(s) tried when none exists.
    """
    return resolve_data_root(root, holds="test/ (the benchmarks)")


# ------------------------------------------------------------------------------------------ image input


def load_image(path: str | Path) -> np.ndarray:
    """Load any image as ``uint8`` RGB of shape (H, W, 3), by content (HSTS stores PNG data under
    ``.jpg`` names), EXIF orientation applied, alpha composited on white, 16-bit scaled: the shared
    decoder ``slerir.imaging.load_image``, quantised back to 8 bits (exact for 8-bit files)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    return to_uint8(_load_rgb_float(path))


def to_float(img: np.ndarray) -> np.ndarray:
    """uint8 image -> float32 in [0, 1]."""
    return (img.astype(np.float32) / np.float32(255.0)).astype(np.float32)


def add_gaussian_noise(clean: np.ndarray, sigma: float, index: int) -> np.ndarray:
    """The CBSD68 protocol: ``clip(clean_uint8 + N(0, sigma^2), 0, 255) / 255`` as float32, seeded by
    ``np.random.default_rng([sigma, index])`` (``sigma`` in 8-bit units, must be an integer level)."""
    if clean.dtype != np.uint8:
        raise TypeError(f"expected the clean uint8 image, got {clean.dtype}")
    s = int(sigma)
    if s != sigma or s < 0:
        raise ValueError(f"sigma must be a non-negative integer noise level, got {sigma!r}")
    rng = np.random.default_rng([s, int(index)])
    noisy = clean.astype(np.float64) + rng.normal(0.0, float(s), size=clean.shape)
    return (np.clip(noisy, 0.0, 255.0) / 255.0).astype(np.float32)


# ------------------------------------------------------------------------------------------- benchmarks


@dataclass
class Pair:
    """One benchmark sample: degraded input, reference, degradation class name (from ``CLASSES``)."""

    name: str
    lq: np.ndarray  # H x W x 3 float32 in [0, 1]
    gt: np.ndarray  # same shape
    task: str


def _cbsd68(sigma: int) -> dict[str, Any]:
    return {
        "folder": "CBSD68",
        "kind": "synthetic_noise",
        "task": "noise",
        "sigma": sigma,
        "gt_pattern": r"(.+)\.png",
        "expected": 68,
        "title": f"CBSD68 sigma={sigma}",
        "description": f"colour BSD68 + Gaussian noise sigma={sigma} (uint8, seeded per image, clipped)",
    }


def _paired(folder: str, task: str, lq_dir: str, gt_dir: str, lq_pattern: str, gt_pattern: str,
            expected: int, title: str, description: str) -> dict[str, Any]:
    return {
        "folder": folder,
        "kind": "paired",
        "task": task,
        "lq_dir": lq_dir,
        "gt_dir": gt_dir,
        # Regular expressions on the file name; group 1 is the key the two sides are paired by.
        "lq_pattern": lq_pattern,
        "gt_pattern": gt_pattern,
        "expected": expected,
        "title": title,
        "description": description,
    }


#: Registry of the test benchmarks. ``expected`` is the pair count of the copies in ../shared/datasets
#: (SOTS outdoor holds only 7 of its 500 pairs, GoPro only 2 examples); it is informative, not enforced.
BENCHMARKS: dict[str, dict[str, Any]] = {
    "cbsd68_15": _cbsd68(15),
    "cbsd68_25": _cbsd68(25),
    "cbsd68_50": _cbsd68(50),
    "rain100l": _paired("Rain100L", "rain", "rainy", "norain", r"rain-(\d+)\.png", r"norain-(\d+)\.png",
                        100, "Rain100L", "Rain100L test set (rainy/rain-XXX.png <-> norain/norain-XXX.png)"),
    "sots": _paired("SOTS_outdoor", "haze", "hazy", "clear", r"([^_.]+)_.*\.jpe?g", r"(.+)\.png", 7,
                    "SOTS outdoor (7 pairs)",
                    "SOTS outdoor: hazy/NNNN_A_B.jpg <-> clear/NNNN.png; only 7 of the 500 pairs available"),
    "hsts": _paired("HSTS", "haze", "hazy", "clear", r"(.+)\.jpe?g", r"(.+)\.jpe?g", 10, "HSTS",
                    "HSTS synthetic haze test set (hazy/N.jpg <-> clear/N.jpg)"),
    "lol": _paired("LOL_eval15", "lowlight", "low", "high", r"(.+)\.png", r"(.+)\.png", 15, "LOL eval15",
                   "LOL v1 low-light test set (low/N.png <-> high/N.png)"),
    "gopro": _paired("GoPro_examples", "blur", "blur", "sharp", r"(.+)\.png", r"(.+)\.png", 2,
                     "GoPro (2 examples)", "two GoPro blur/sharp pairs, not the full test split"),
}

for _name, _spec in BENCHMARKS.items():  # guard against typos in the registry
    assert _spec["task"] in CLASSES, (_name, _spec["task"])

SUITES: dict[str, list[str]] = {
    "three": ["cbsd68_15", "cbsd68_25", "cbsd68_50", "rain100l", "sots"],
    "five": ["cbsd68_25", "rain100l", "sots", "gopro", "lol"],
    "all": list(BENCHMARKS),
}


def _spec(name: str) -> dict[str, Any]:
    if name not in BENCHMARKS:
        raise KeyError(f"unknown benchmark {name!r}; choose from {sorted(BENCHMARKS)}")
    return BENCHMARKS[name]


def _folder(name: str, root: str | Path | None) -> Path:
    spec = _spec(name)
    base = resolve_root(root)
    folder = base / "test" / spec["folder"]
    if not folder.is_dir():
        raise FileNotFoundError(
            f"benchmark {name!r} needs the folder {folder} which does not exist; "
            "pass the dataset folder holding test/ with --data-root (or root=...)"
        )
    return folder


def _match(directory: Path, pattern: str) -> dict[str, Path]:
    """Map pairing key -> file for the files of ``directory`` whose name matches ``pattern``."""
    if not directory.is_dir():
        raise FileNotFoundError(f"benchmark folder {directory} does not exist")
    rx = re.compile(pattern, re.IGNORECASE)
    out: dict[str, Path] = {}
    for p in sorted(directory.iterdir()):
        m = rx.fullmatch(p.name)
        if m and p.is_file():
            out.setdefault(m.group(1), p)
    return out


def benchmark_files(name: str, root: str | Path | None = None) -> list[tuple[str, Path, Path | None]]:
    """The sorted ``(pair name, degraded file, reference file)`` list of a benchmark, without loading.

    For the synthetic CBSD68 benchmarks the degraded file is ``None`` (noise is added at load time) and
    the clean image is the reference. Raises ``FileNotFoundError`` if a degraded image has no reference.
    """
    spec = _spec(name)
    folder = _folder(name, root)
    if spec["kind"] == "synthetic_noise":
        clean = _match(folder, spec["gt_pattern"])
        return [(p.stem, None, p) for p in sorted(clean.values(), key=lambda p: p.name)]
    lq = _match(folder / spec["lq_dir"], spec["lq_pattern"])
    gt = _match(folder / spec["gt_dir"], spec["gt_pattern"])
    missing = sorted(lq[k].name for k in lq if k not in gt)
    if missing:
        raise FileNotFoundError(
            f"benchmark {name!r}: no reference in {folder / spec['gt_dir']} for {len(missing)} degraded "
            f"file(s), e.g. {missing[:3]}"
        )
    files = [(lq[k].stem, lq[k], gt[k]) for k in lq]
    files.sort(key=lambda t: t[1].name)
    return files


def iter_benchmark(name: str, root: str | Path | None = None, limit: int | None = None) -> Iterator[Pair]:
    """Yield the pairs of ``name`` one at a time (same order and content as :func:`load_benchmark`)."""
    spec = _spec(name)
    files = benchmark_files(name, root)
    if not files:
        raise FileNotFoundError(f"benchmark {name!r}: no images found in {_folder(name, root)}")
    if limit is not None:
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        files = files[:limit]
    task = spec["task"]
    for index, (pair_name, lq_path, gt_path) in enumerate(files):
        gt_u8 = load_image(gt_path)
        if spec["kind"] == "synthetic_noise":
            lq = add_gaussian_noise(gt_u8, spec["sigma"], index)
        else:
            lq = to_float(load_image(lq_path))
        gt = to_float(gt_u8)
        if lq.shape != gt.shape:
            raise ValueError(
                f"benchmark {name!r}: size mismatch for pair {pair_name!r}: degraded {lq_path} is "
                f"{lq.shape[1]}x{lq.shape[0]}, reference {gt_path} is {gt.shape[1]}x{gt.shape[0]} (WxH)"
            )
        yield Pair(name=pair_name, lq=lq, gt=gt, task=task)


def load_benchmark(name: str, root: str | Path | None = None, limit: int | None = None) -> list[Pair]:
    """Load the pairs of benchmark ``name`` (a key of :data:`BENCHMARKS`), sorted by file name.

    ``limit`` keeps only the first ``limit`` pairs (for quick runs). Raises ``KeyError`` for an unknown
    name, ``FileNotFoundError`` for a missing folder or reference image and ``ValueError`` when the two
    images of a pair differ in size.
    """
    return list(iter_benchmark(name, root, limit))


def load_suite(suite: str, root: str | Path | None = None, limit: int | None = None) -> dict[str, list[Pair]]:
    """Load every benchmark of a suite in :data:`SUITES` (``"three"``, ``"five"`` or ``"all"``)."""
    if suite not in SUITES:
        raise KeyError(f"unknown suite {suite!r}; choose from {sorted(SUITES)}")
    return {name: load_benchmark(name, root, limit) for name in SUITES[suite]}
