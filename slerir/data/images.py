"""The clean training photos: CBSD432 (400 for training, 32 for validation), read into memory once per
process (432 JPEGs of 481x321, about 200 MB as uint8)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from slerir.paths import resolve_data_root

CLEAN_SUBDIR = Path("train") / "CBSD432"
SPLITS: dict[str, tuple[str, ...]] = {"train": ("train", "test"), "val": ("val_minus_CBSD68",)}

_IMAGE_CACHE: dict[tuple[str, str], list[np.ndarray]] = {}


def resolve_root(root: str | Path | None = None) -> Path:
    """The datasets folder: ``root``, else ``$SLERIR_DATA``, else ``../shared/datasets`` relative to the
    working directory (``slerir.paths.resolve_data_root``).

    Raises:
        FileNotFoundError: the folder does not exist (the message says where we looked and how to point at it).
    """
    return resolve_data_root(root, holds="train/CBSD432/ (see ../shared/datasets/README.md)")


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
