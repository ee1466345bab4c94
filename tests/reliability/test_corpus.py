"""Issue item 1: every file of the generated bad-input corpus, through the library and through the
app's ``/restore``: a correct result, or a clear error that names the problem (no stack trace, no
server path), and the server answers the next request normally."""
from __future__ import annotations

import io
import re
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.reliability import corpus as C
from tests.reliability.conftest import ROOT

NAMES = [
    "empty.png", "text.png", "drawing.svg", "truncated.png", "truncated.jpg", "1x1.png", "3x2000.png", "bomb.png",
    "huge.png", "gray16.png", "rgb16.png", "rgba.png", "la.png", "palette.png", "cmyk.jpg", "exif_rot.jpg",
    "anim.gif", "valid.png",
]


def assert_clean_message(msg: str, *server_paths: Path) -> None:
    """A message a person can read: no traceback, no source lines, no server folders."""
    assert msg and msg.strip() != "None", "an error without a message"
    assert "Traceback" not in msg and 'File "' not in msg and ".py\", line" not in msg, msg
    for p in (ROOT, *server_paths):
        assert str(p) not in msg, f"message leaks a server path ({p}): {msg}"
    assert not re.search(r"/tmp/|/root/|site-packages", msg), msg


def test_corpus_is_complete_and_uses_the_demo_guard(corpus, corpus_dir):
    from demo.callbacks import MAX_PIXELS
    from slerir.imaging import MAX_DECODE_PIXELS

    assert sorted(corpus) == sorted(NAMES)
    assert all((corpus_dir / n).is_file() for n in NAMES)
    assert C.DEMO_MAX_PIXELS == MAX_PIXELS
    assert MAX_PIXELS < C.HUGE_SIDE ** 2 < MAX_DECODE_PIXELS  # refused by the demo, decodable by the library
    bomb = (corpus_dir / "bomb.png").read_bytes()
    assert len(bomb) < 100 and bomb[12:16] == b"IHDR"
    assert struct.unpack(">II", bomb[16:24]) == (100_000, 100_000)
    assert struct.unpack(">I", bomb[29:33])[0] == zlib.crc32(bomb[12:29])  # a well-formed header
    assert (corpus_dir / "empty.png").stat().st_size == 0
    assert (corpus_dir / "huge.png").stat().st_size < 100_000
    with Image.open(corpus_dir / "anim.gif") as g:
        assert g.n_frames == 3
    rgb16 = (corpus_dir / "rgb16.png").read_bytes()
    assert rgb16[24:26] == bytes([16, 2])  # bit depth 16, colour type RGB


# ---------------------------------------------------------------------------------------------
# (a) the library


@pytest.mark.parametrize("name", NAMES)
def test_library(name, corpus, corpus_dir, demo_restorer):
    case = corpus[name]
    path = corpus_dir / name
    got = C.library_load(path)
    if case.shape is None:
        assert not got.ok, f"{name}: expected an error, got {got.text}"
        assert re.search(case.lib_error, got.text), got.text
        assert_clean_message(got.text, corpus_dir)
    else:
        assert got.ok, f"{name}: {got.text}"
        x = got.value
        assert x.shape == case.shape and x.dtype == np.float32
        assert np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1
        if case.reference is not None:
            err = float(np.abs(x - case.reference).mean())
            assert err <= case.ref_tol, f"{name}: mean |difference| to the expected pixels {err:.4f}"

    res = C.library_restore(path, demo_restorer)
    if case.restore_expect is not None:
        assert not res.ok and re.search(case.restore_expect, res.text), res.text
        assert_clean_message(res.text, corpus_dir)
    else:
        assert res.ok, res.text
        out = res.value.image
        assert out.shape == case.shape and np.isfinite(out).all()


def test_size_guard_refuses_before_decoding(corpus_dir, demo_restorer, served):
    """A huge image above the guard is refused from its header: no full-size buffers (the decoded
    4100x4100 float image alone would be 200 MB). Defect found here: the guard used to run after
    decoding, so every refused upload cost ~270 MB and a second of CPU."""
    huge = corpus_dir / "huge.png"
    cb = served.demo.slerir_callbacks
    for fn in (lambda: demo_restorer.restore(str(huge)), lambda: cb.load(str(huge))):
        tracemalloc.start()
        try:
            with pytest.raises(ValueError, match="16,810,000 pixels"):
                fn()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 16 * 2**20, f"refusing the huge image allocated {peak / 2**20:.0f} MiB"


# ---------------------------------------------------------------------------------------------
# (b) the app


@pytest.mark.parametrize("name", NAMES)
def test_app_restore(name, corpus, corpus_dir, demo_restorer, served):
    case = corpus[name]
    got = C.app_restore(served.client, corpus_dir / name, served.url)
    if case.app_error is not None:
        assert not got.ok, f"{name}: expected an error, got {got.text}"
        assert re.search(case.app_error, got.text), got.text
        assert_clean_message(got.text, corpus_dir, served.temp_dir)
    else:
        assert got.ok, f"{name}: {got.text}"
        png, _ = got.value
        im = Image.open(io.BytesIO(png))
        assert im.format == "PNG" and im.mode == "RGB" and im.size == (case.shape[1], case.shape[0])
        # the app's result is the library's result, to the bit (same weights, guard and tile)
        lib = demo_restorer.restore(str(corpus_dir / name), capture=False).image
        assert np.array_equal(np.asarray(im), (np.clip(lib, 0, 1) * 255 + 0.5).astype(np.uint8))
    # and the server answers the next request normally
    ok = C.app_restore(served.client, corpus_dir / "valid.png", served.url)
    assert ok.ok and ok.text.startswith("96x72 PNG"), ok.text


@pytest.mark.parametrize("name", ["text.png", "truncated.jpg", "bomb.png", "huge.png", "1x1.png"])
def test_other_endpoints_refuse_bad_files_cleanly(name, corpus, corpus_dir, served):
    """/analyze and /degrade load images the same way: same clear refusals."""
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    f = handle_file(str(corpus_dir / name))
    calls = [((f, 0.5), "/analyze"),
             ((f, 0.4, "full", 0.0, "full", 0.0, "full", 0.0, "full", 0.0, "full", 0), "/degrade")]
    for args, api in calls:
        with pytest.raises(AppError) as ei:
            served.client.submit(*args, api_name=api).result(timeout=120)
        msg = str(ei.value)
        assert re.search(corpus[name].app_error, msg), f"{api}: {msg}"
        assert_clean_message(msg, corpus_dir, served.temp_dir)


def test_doc_table_is_current(corpus, corpus_dir, demo_restorer, served):
    """docs/RELIABILITY.md shows what the code does: every row ``python -m
    tests.reliability.corpus_table`` prints now is in the document."""
    from tests.reliability.corpus_table import HEADER, rows

    doc = (ROOT / "docs" / "RELIABILITY.md").read_text(encoding="utf-8")
    assert HEADER in doc
    stale = [r for r in rows(corpus, corpus_dir, demo_restorer, served.client, served.url) if r not in doc]
    assert not stale, "docs/RELIABILITY.md is out of date; regenerate with python -m " \
                      "tests.reliability.corpus_table:\n" + "\n".join(stale)
