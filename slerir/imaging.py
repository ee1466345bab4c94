"""Image input/output shared by the CLI, evaluation, analysis and the demo.

``to_rgb_float`` accepts what users actually have: PIL images in any mode (RGBA/LA composited on
white, palette, grayscale, 16-bit, CMYK), numpy arrays (uint8, uint16, float, gray or with alpha),
and applies the EXIF orientation of PIL images. Errors are ``ImageError`` with a message that
names the problem, never a bare stack trace.
"""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# A decompression bomb guard: refuse images with more pixels than this before decoding.
MAX_DECODE_PIXELS = 64_000_000
Image.MAX_IMAGE_PIXELS = MAX_DECODE_PIXELS

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm"}


class ImageError(ValueError):
    """The input is not an image this tool can use; the message says why."""


class ImageTooLarge(ImageError):
    """The image has more pixels than a limit allows (``width``, ``height``, ``limit`` say by how much).
    Raised from the file's header where possible, before the pixels are decoded."""

    def __init__(self, width: int, height: int, limit: int, message: str | None = None):
        self.width, self.height, self.limit = int(width), int(height), int(limit)
        side = int(math.sqrt(self.limit))
        super().__init__(message or f"image is {self.width}x{self.height} = {self.width * self.height:,} pixels; "
                                    f"the limit here is {self.limit:,} (about {side}x{side})")


class ImageTooSmall(ImageError):
    """A side of the image is shorter than a minimum (``width``, ``height``, ``min_side``)."""

    def __init__(self, width: int, height: int, min_side: int):
        self.width, self.height, self.min_side = int(width), int(height), int(min_side)
        super().__init__(f"image is {self.width}x{self.height} pixels; it needs to be at least {min_side}x{min_side}")


def _composite_on_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha[..., None]
    return rgb * a + (1.0 - a)


def pil_to_rgb_float(img: Image.Image) -> np.ndarray:
    """PIL image (any mode) -> (H,W,3) float32 in [0,1], EXIF orientation applied."""
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block must not make the image unusable
        pass
    if getattr(img, "n_frames", 1) > 1:
        img.seek(0)  # animated GIF/PNG: first frame
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img).astype(np.float32)
        peak = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        g = np.clip(arr / peak, 0, 1)
        return np.repeat(g[..., None], 3, axis=2).astype(np.float32)
    if mode == "F":
        g = np.clip(np.asarray(img, dtype=np.float32), 0, 1)
        return np.repeat(g[..., None], 3, axis=2)
    if mode == "P":
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
        return _composite_on_white(rgba[..., :3], rgba[..., 3]).astype(np.float32)
    if mode != "RGB":
        img = img.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV
    return np.asarray(img, dtype=np.float32) / 255.0


def array_to_rgb_float(arr: np.ndarray) -> np.ndarray:
    """numpy image (H,W), (H,W,1|2|3|4); uint8, uint16, bool or float -> (H,W,3) float32 in [0,1]."""
    arr = np.asarray(arr)
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise ImageError(f"expected an image array of shape (H,W) or (H,W,C), got shape {arr.shape}")
    if arr.dtype == np.uint8:
        x = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        x = arr.astype(np.float32) / 65535.0
    elif arr.dtype == bool:
        x = arr.astype(np.float32)
    elif np.issubdtype(arr.dtype, np.floating):
        x = arr.astype(np.float32)
        if not np.isfinite(x).all():
            raise ImageError("image contains NaN or infinite values")
        if x.max(initial=0) > 1.0 + 1e-3:
            x = x / 255.0  # float data on a 0-255 scale
        x = np.clip(x, 0, 1)
    elif np.issubdtype(arr.dtype, np.integer):
        x = np.clip(arr.astype(np.float32) / (65535.0 if arr.max(initial=0) > 255 else 255.0), 0, 1)
    else:
        raise ImageError(f"unsupported array dtype {arr.dtype}")
    if x.ndim == 2:
        x = x[..., None]
    c = x.shape[2]
    if c == 1:
        x = np.repeat(x, 3, axis=2)
    elif c == 2:
        x = _composite_on_white(np.repeat(x[..., :1], 3, axis=2), x[..., 1])
    elif c == 4:
        x = _composite_on_white(x[..., :3], x[..., 3])
    elif c != 3:
        raise ImageError(f"expected 1-4 channels, got {c}")
    return np.ascontiguousarray(x, dtype=np.float32)


def to_rgb_float(image) -> np.ndarray:
    """Any supported image (PIL, numpy, path, bytes) -> (H,W,3) float32 in [0,1]."""
    if image is None:
        raise ImageError("no image given")
    if isinstance(image, (str, Path, bytes, bytearray)):
        return load_image(image)
    if isinstance(image, Image.Image):
        return pil_to_rgb_float(image)
    if isinstance(image, np.ndarray):
        return array_to_rgb_float(image)
    if hasattr(image, "__array__"):
        return array_to_rgb_float(np.asarray(image))
    raise ImageError(f"unsupported image type {type(image).__name__}")


def peek_size(src) -> tuple[int, int] | None:
    """(width, height) of a path, bytes or PIL image from its header, without decoding the pixels;
    None if the header cannot be read (``load_image`` then says why). Lets a size guard refuse a
    huge image before it costs gigabytes of memory."""
    if isinstance(src, Image.Image):
        return src.size
    try:
        with Image.open(io.BytesIO(bytes(src)) if isinstance(src, (bytes, bytearray)) else src) as img:
            return img.size
    except Exception:  # noqa: BLE001 - unreadable here means load_image reports it
        return None


def open_image(src) -> Image.Image:
    """Open a path or bytes as a PIL image by content (not extension), fully decoded, with clear errors.

    Messages name the file by its name only: in the demo the full path is a server temp folder."""
    name = "<bytes>" if isinstance(src, (bytes, bytearray)) else Path(src).name
    if isinstance(src, (str, Path)):
        p = Path(src)
        if not p.exists():
            raise ImageError(f"file not found: {p}")
        if p.is_dir():
            raise ImageError(f"{p} is a folder, not an image")
        if p.stat().st_size == 0:
            raise ImageError(f"{p.name} is empty (0 bytes)")
        fp = p.open("rb")
    else:
        if len(src) == 0:
            raise ImageError("empty file (0 bytes)")
        fp = io.BytesIO(bytes(src))
    try:
        img = Image.open(fp)
        w, h = img.size
        if w * h > MAX_DECODE_PIXELS:
            raise ImageTooLarge(w, h, MAX_DECODE_PIXELS,
                                f"{name}: {w}x{h} pixels is too large to decode (limit {MAX_DECODE_PIXELS:,} pixels)")
        img.load()
        return img
    except Image.DecompressionBombError as e:
        raise ImageError(f"{name}: image too large to decode safely ({e})") from e
    except UnidentifiedImageError as e:
        raise ImageError(f"{name} is not an image file this tool can read (unrecognised format)") from e
    except (OSError, SyntaxError, ValueError) as e:
        if isinstance(e, ImageError):
            raise
        raise ImageError(f"{name} is damaged or truncated ({e})") from e


def read_image(image, max_pixels: int | None = None, min_side: int = 1) -> np.ndarray:
    """The library's door for images: any supported input (PIL, numpy, path, bytes) -> (H,W,3) float32
    in [0,1], checked once.

    Args:
        image: what ``to_rgb_float`` accepts.
        max_pixels: refuse images with more pixels (``ImageTooLarge``); a path, bytes or PIL image is measured
            from its header, before decoding (a huge upload must not cost gigabytes first). None: no limit.
        min_side: refuse images with a shorter side (``ImageTooSmall``).
    Raises:
        ImageError (a ``ValueError``) or its subclasses, with a message that says what is wrong.
    """
    if max_pixels is not None and isinstance(image, (str, Path, bytes, bytearray, Image.Image)):
        size = peek_size(image)
        if size is not None and size[0] * size[1] > max_pixels:
            raise ImageTooLarge(size[0], size[1], max_pixels)
    rgb = to_rgb_float(image)
    h, w = rgb.shape[:2]
    if max_pixels is not None and h * w > max_pixels:
        raise ImageTooLarge(w, h, max_pixels)
    if min(h, w) < min_side:
        raise ImageTooSmall(w, h, min_side)
    return rgb


def load_image(src) -> np.ndarray:
    """Path or bytes -> (H,W,3) float32 in [0,1], by content, EXIF orientation applied."""
    return pil_to_rgb_float(open_image(src))


def to_uint8(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0, 1) * 255.0 + 0.5).astype(np.uint8)


def save_png(x: np.ndarray, path: str | Path) -> Path:
    """Save a float [0,1] or uint8 RGB image as a lossless PNG."""
    path = Path(path)
    arr = x if x.dtype == np.uint8 else to_uint8(x)
    Image.fromarray(arr).save(path, format="PNG")
    return path
