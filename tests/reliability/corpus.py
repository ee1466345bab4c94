"""The bad-input corpus: every kind of file a public demo meets, generated here (Pillow, numpy,
zlib/struct) so that nothing is downloaded and anyone can rebuild it.

``build(folder)`` writes the files and returns ``{name: Case}``. Each ``Case`` states what the
library (``load_image`` / ``Restorer.restore``) and the app (``/restore``) must do with it: either
a result of a known shape, or an error whose message matches ``lib_error`` / ``app_error``.

The size guard used for "huge" is the demo's own (``demo.callbacks.MAX_PIXELS``).
"""
from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

# Kept in sync with demo.callbacks.MAX_PIXELS by test_corpus_uses_the_demo_guard.
DEMO_MAX_PIXELS = 4096 * 4096
HUGE_SIDE = 4100  # 4100 x 4100 = 16,810,000 pixels > 4096 x 4096; a ~20 kB PNG


@dataclass(frozen=True)
class Case:
    """One corpus file and what must happen to it.

    shape: what ``load_image`` returns, (H, W, 3); None when it must refuse with ``lib_error``.
    restore_error: what ``Restorer.restore`` with the demo's size guard must say (default: lib_error).
    app_error: what ``/restore`` must say; None when the app must restore it.
    reference: the float RGB ``load_image`` must give, compared by mean absolute difference <= ref_tol.
    """

    name: str
    what: str
    shape: tuple[int, int, int] | None
    lib_error: str | None = None
    restore_error: str | None = None
    app_error: str | None = None
    reference: np.ndarray | None = field(default=None, repr=False, compare=False)
    ref_tol: float = 1e-6

    @property
    def restore_expect(self) -> str | None:
        return self.restore_error or self.lib_error


# ---------------------------------------------------------------------------------------------
# hand-made PNG chunks


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def png_bytes(width: int, height: int, bit_depth: int, color_type: int, raw_rows: bytes) -> bytes:
    """A PNG from already filtered scanlines (each row starts with its filter byte)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(raw_rows, 9))
            + _chunk(b"IEND", b""))


def bomb_png(side: int = 100_000) -> bytes:
    """A ~70-byte PNG whose header declares side x side RGB pixels (30 GB decoded); valid CRCs."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + _chunk(b"IEND", b""))


def rgb16_png(h: int, w: int, rng: np.random.Generator) -> tuple[bytes, np.ndarray]:
    """16-bit RGB PNG (Pillow cannot write one); returns (file, the 16-bit array)."""
    arr = rng.integers(0, 65536, size=(h, w, 3), dtype=np.uint16)
    rows = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))
    return png_bytes(w, h, 16, 2, rows), arr


def _save(img: Image.Image, path: Path, **kw) -> Path:
    img.save(path, **kw)
    return path


# ---------------------------------------------------------------------------------------------


def valid_rgb(seed: int = 0, h: int = 72, w: int = 96) -> np.ndarray:
    """A smooth image with some texture (JPEG-friendly), uint8 (h, w, 3)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([xx / w, yy / h, 0.5 + 0.5 * np.sin((xx + yy) / 9.0)], -1)
    img = np.clip(base + 0.08 * rng.standard_normal((h, w, 3)), 0, 1)
    return (img * 255 + 0.5).astype(np.uint8)


def build(d: Path) -> dict[str, Case]:
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    rgb = valid_rgb()
    cases: list[Case] = []

    def add(case: Case, data: bytes | None = None):
        if data is not None:
            (d / case.name).write_bytes(data)
        cases.append(case)

    # -- not images ------------------------------------------------------------------------------
    add(Case("empty.png", "zero-byte file named .png", None, lib_error=r"empty \(0 bytes\)",
             app_error=r"empty\.png.*(empty|not a recognised image format)"), b"")
    add(Case("text.png", "a text file named .png", None, lib_error=r"not an image file",
             app_error=r"text\.png.*not a recognised image format"), b"Hello! I am not a picture.\n" * 20)
    add(Case("drawing.svg", "an SVG (vector, not decoded)", None, lib_error=r"not an image file",
             app_error=r"drawing\.svg.*not an image file"),
        b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64"/>'
        b'<script>alert(1)</script></svg>')

    # -- damaged ---------------------------------------------------------------------------------
    full_png = io.BytesIO()
    Image.fromarray(rgb).save(full_png, format="PNG")
    add(Case("truncated.png", "PNG cut to its first 40%", None, lib_error=r"damaged or truncated",
             app_error=r"truncated\.png.*damaged or truncated"), full_png.getvalue()[: len(full_png.getvalue()) * 2 // 5])
    full_jpg = io.BytesIO()
    Image.fromarray(rgb).save(full_jpg, format="JPEG", quality=90)
    add(Case("truncated.jpg", "JPEG cut to its first 40%", None, lib_error=r"damaged or truncated",
             app_error=r"truncated\.jpg.*damaged or truncated"), full_jpg.getvalue()[: len(full_jpg.getvalue()) * 2 // 5])

    # -- sizes -----------------------------------------------------------------------------------
    _save(Image.fromarray(np.full((1, 1, 3), 200, np.uint8)), d / "1x1.png")
    add(Case("1x1.png", "1x1 pixel", (1, 1, 3), app_error=r"1x1 pixels; it needs to be at least 8x8"))
    tall = (rng.random((2000, 3, 3)) * 255).astype(np.uint8)
    _save(Image.fromarray(tall), d / "3x2000.png")
    add(Case("3x2000.png", "3 px wide, 2000 px tall", (2000, 3, 3),
             app_error=r"3x2000 pixels; it needs to be at least 8x8"))
    add(Case("bomb.png", "PNG of under 100 bytes declaring 100000x100000 (decompression bomb)", None,
             lib_error=r"too large to decode",
             app_error=r"bomb\.png.*(too large to decode|decompression bomb)"), bomb_png())
    # above the demo's guard (4096^2) and below the decoder's (64 Mpx): a cheap, highly compressible PNG
    _save(Image.new("L", (HUGE_SIDE, HUGE_SIDE), 128), d / "huge.png", optimize=False, compress_level=9)
    add(Case("huge.png", f"valid {HUGE_SIDE}x{HUGE_SIDE} PNG (about 25 kB) above the demo's size guard",
             (HUGE_SIDE, HUGE_SIDE, 3),
             restore_error=rf"{HUGE_SIDE}x{HUGE_SIDE} = 16,810,000 pixels; the limit here is 16,777,216",
             app_error=rf"{HUGE_SIDE}x{HUGE_SIDE} = 16,810,000 pixels; this demo accepts up to 16,777,216"))

    # -- modes -----------------------------------------------------------------------------------
    g16 = (np.linspace(0, 65535, 40 * 48).reshape(40, 48)).astype(np.uint16)
    _save(Image.fromarray(g16), d / "gray16.png")
    add(Case("gray16.png", "16-bit grayscale PNG (mode I;16)", (40, 48, 3),
             reference=np.repeat((g16 / 65535.0).astype(np.float32)[..., None], 3, 2)))
    data, a16 = rgb16_png(24, 32, rng)
    add(Case("rgb16.png", "16-bit RGB PNG (48 bits per pixel)", (24, 32, 3),
             reference=((a16 >> 8).astype(np.float32) / 255.0)), data)
    rgba = np.zeros((40, 48, 4), np.uint8)
    rgba[..., :3] = rgb[:40, :48]
    rgba[:, 24:, 3] = 255  # left half transparent: composited on white
    _save(Image.fromarray(rgba, "RGBA"), d / "rgba.png")
    ref = rgb[:40, :48].astype(np.float32) / 255.0
    ref[:, :24] = 1.0
    add(Case("rgba.png", "RGBA, left half fully transparent", (40, 48, 3), reference=ref))
    la = np.zeros((40, 48, 2), np.uint8)
    la[..., 0] = 60
    la[..., 1] = 255
    la[:20, :, 1] = 0  # top half transparent
    _save(Image.fromarray(la, "LA"), d / "la.png")
    ref = np.full((40, 48, 3), 60 / 255.0, np.float32)
    ref[:20] = 1.0
    add(Case("la.png", "gray + alpha (LA), top half transparent", (40, 48, 3), reference=ref))
    pal = Image.fromarray(rgb).quantize(colors=16)
    _save(pal, d / "palette.png", transparency=0)  # palette entry 0 is transparent (tRNS chunk)
    idx = np.asarray(pal)
    ref = np.asarray(pal.getpalette()[: 3 * 16], np.float32).reshape(16, 3)[idx] / 255.0
    ref[idx == 0] = 1.0  # transparent: composited on white
    add(Case("palette.png", "palette PNG, 16 colours, entry 0 transparent (tRNS)", (72, 96, 3), reference=ref))
    _save(Image.fromarray(rgb).convert("CMYK"), d / "cmyk.jpg", format="JPEG", quality=95)
    add(Case("cmyk.jpg", "CMYK JPEG", (72, 96, 3), reference=rgb.astype(np.float32) / 255.0, ref_tol=0.02))
    im = Image.fromarray(rgb)  # stored 96 wide x 72 tall; EXIF orientation 6 = rotate 90 on display
    exif = im.getexif()
    exif[0x0112] = 6
    _save(im, d / "exif_rot.jpg", format="JPEG", quality=95, exif=exif)
    add(Case("exif_rot.jpg", "JPEG with EXIF orientation 6 (stored 96x72, shown 72x96)", (96, 72, 3),
             reference=np.rot90(rgb, -1).astype(np.float32) / 255.0, ref_tol=0.08))  # the other way: 0.5
    frames = [Image.fromarray(np.full((40, 48, 3), v, np.uint8)) for v in (30, 220, 120)]
    _save(frames[0], d / "anim.gif", save_all=True, append_images=frames[1:], duration=80, loop=0)
    add(Case("anim.gif", "animated GIF, 3 frames (first frame used)", (40, 48, 3),
             reference=np.full((40, 48, 3), 30 / 255.0, np.float32)))

    # -- the plain valid control -----------------------------------------------------------------
    _save(Image.fromarray(rgb), d / "valid.png")
    add(Case("valid.png", "ordinary 96x72 RGB PNG (control)", (72, 96, 3),
             reference=rgb.astype(np.float32) / 255.0))
    return {c.name: c for c in cases}


# ---------------------------------------------------------------------------------------------
# observing what the library and the app do with a file (used by the tests and by corpus_table)


@dataclass
class Outcome:
    ok: bool
    text: str  # "72x96 RGB" or the error message as the user sees it
    value: object = field(default=None, repr=False)  # library: the array; app: (restored PNG bytes, outputs)


def _shape_text(a: np.ndarray) -> str:
    return f"{a.shape[1]}x{a.shape[0]} RGB"


def library_load(path: Path) -> Outcome:
    from slerir.imaging import ImageError, load_image

    try:
        x = load_image(path)
    except ImageError as e:
        return Outcome(False, str(e))
    return Outcome(True, _shape_text(x), x)


def library_restore(path: Path, restorer) -> Outcome:
    from slerir.imaging import ImageError

    try:
        res = restorer.restore(str(path), capture=False)
    except ImageError as e:
        return Outcome(False, str(e))
    return Outcome(True, _shape_text(res.image), res)


def read_returned_file(v, base_url: str) -> bytes:
    """Bytes of a file an endpoint returned (a local server path when client and server share the
    machine, else its URL)."""
    import os
    import urllib.request

    if isinstance(v, dict):
        v = v["path"] if v.get("path") and os.path.exists(v["path"]) else v.get("url")
    if os.path.exists(v):
        return Path(v).read_bytes()
    with urllib.request.urlopen(v if v.startswith("http") else base_url + v, timeout=30) as r:
        return r.read()


def app_restore(client, path: Path, base_url: str, timeout: float = 120) -> Outcome:
    """``/restore`` through gradio_client; ok -> the restored PNG bytes; error -> its message."""
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    job = client.submit(handle_file(str(path)), api_name="/restore")
    try:
        out = job.result(timeout=timeout)
    except AppError as e:
        return Outcome(False, str(e))
    png = read_returned_file(out[1], base_url)
    im = Image.open(io.BytesIO(png))
    return Outcome(True, f"{im.size[0]}x{im.size[1]} {im.format} ({im.mode})", (png, out))
