"""The clean training photos: CBSD432 (400 for training, 32 for validation), read into memory once per
process (432 JPEGs of 481x321, about 200 MB as uint8)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

DEFAULT_ROOT = Path(__file__).resolve().parents[3] / "shared" / "datasets"
CLEAN_SUBDIR = Path("train") / "CBSD432"
SPLITS: dict[str, tuple[str, ...]] = {"train": ("train", "test"), "val": ("val_minus_CBSD68",)}

_IMAGE_CACHE: dict[tuple[str, str], list[np.ndarray]] = {}


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
