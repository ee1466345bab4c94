"""demo.callbacks without a server: step status, superseded work, big photos, tile choice."""
from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from slerir.inference import Restorer
from tests.conftest import make_model

from demo.callbacks import Callbacks, Cancelled, user_errors


@pytest.fixture(scope="module")
def restorer() -> Restorer:
    import torch

    torch.set_num_threads(1)
    return Restorer(make_model(), tile=64)


def _png(path, h, w, seed=0):
    Image.fromarray((np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)).save(path)
    return str(path)


def test_restore_steps_report_tiles_then_the_result(restorer, tmp_path):
    cb = Callbacks(restorer, tile=64, whole_max_pixels=0)
    seen = []
    outs = list(cb.restore_steps(_png(tmp_path / "a.png", 150, 200), progress=lambda d, t: seen.append((d, t))))
    statuses = [o[4] for o in outs]
    assert statuses[0].startswith("**Working:** restoring 200x150 px")
    assert seen and seen[-1][0] == seen[-1][1] == 12  # 3 x 4 tiles of 64 px
    last = outs[-1]
    assert last[1].endswith(".png") and "restored 200x150 px" in last[4]
    assert all(o[0] is not None for o in outs[-1:])


def test_job_status_text_counts_tiles():
    from demo.callbacks import Job

    j = Job()
    assert j.text() == "queued"
    j.state = "restoring"
    j.progress(2, 6)
    assert j.text() == "restoring: tile 3 of 6"
    j.cancel.set()
    with pytest.raises(Cancelled):
        j.progress(3, 6)


def test_new_image_blanks_views_and_supersedes_running_work(restorer, tmp_path):
    cb = Callbacks(restorer, tile=64, whole_max_pixels=0)
    req = SimpleNamespace(session_hash="s1")
    a, b = _png(tmp_path / "a.png", 150, 200, 1), _png(tmp_path / "b.png", 150, 200, 2)
    out = cb.new_image({"path": a}, req)
    assert out[:15] == (None,) * 15 and "new image" in out[15]
    steps = cb.restore_new(a, request=req)
    next(steps)  # started
    stale = cb.superseded(req, a)
    assert not stale()
    cb.new_image({"path": b}, req)  # the user uploads another image
    assert stale()
    with pytest.raises(Cancelled):
        for _ in steps:
            pass
    # the wrapper the UI uses says nothing (no error toast) for superseded work, and analysis of a
    # superseded image draws nothing
    assert list(user_errors(cb.restore_steps)(a, request=SimpleNamespace(session_hash="s1")))[-1][4].startswith("**Working")
    cb.new_image({"path": b}, req)
    outs = list(user_errors(cb.analyze_steps)(a, 0.5, request=req))
    assert len(outs) == 1 and all(type(o).__name__ == "_Skip" or o is None or isinstance(o, dict) for o in outs[0])


def test_a_cleared_input_restores_and_analyses_nothing(restorer):
    """The page restores after every change of the input; clearing it is a change with nothing to do (no error)."""
    import gradio as gr
    cb = Callbacks(restorer, tile=64, whole_max_pixels=0)
    req = SimpleNamespace(session_hash="s1")
    out = cb.new_image(None, req)
    assert out[:15] == (None,) * 15 and "Upload an image" in out[15]
    assert list(cb.restore_new(None, request=req)) == [(gr.skip(),) * 5]
    assert list(cb.analyze_new(None, 0.5, request=req)) == [(gr.skip(),) * 12]


def test_restore_steps_of_another_session_are_not_superseded(restorer, tmp_path):
    cb = Callbacks(restorer, tile=64, whole_max_pixels=0)
    a, b = _png(tmp_path / "a.png", 96, 128, 1), _png(tmp_path / "b.png", 96, 128, 2)
    cb.new_image({"path": a}, SimpleNamespace(session_hash="u1"))
    cb.new_image({"path": b}, SimpleNamespace(session_hash="u2"))
    assert not cb.superseded(SimpleNamespace(session_hash="u1"), a)()


def test_big_photo_restores_whole_and_analyses_a_downscaled_copy(restorer, tmp_path):
    cb = Callbacks(restorer, tile=64, whole_max_pixels=300 * 300, analysis_max_side=96)
    m = restorer.cfg.pad_multiple
    assert cb.tile_for(150, 200) == -(-200 // m) * m  # one pass (padded to the model's multiple)
    assert cb.tile_for(400, 400) == 64  # above whole_max_pixels: tiles
    path = _png(tmp_path / "big.png", 150, 200)
    _, png, _, summary = cb.restore(path)
    assert "whole image, no tiling" in summary and Image.open(png).size == (200, 150)
    outs = list(cb.analyze_steps(path, 0.5))
    statuses = [o[-1] for o in outs]
    assert "96x72 copy of the 200x150 photo" in statuses[0]
    assert any("GLGF" in s for s in statuses) and any("embedding" in s for s in statuses)
    assert statuses[-1].startswith("**Ready:**")
    assert outs[-1][10]["analysis_size"] == [96, 72]


def test_large_restorations_take_turns(restorer, tmp_path):
    """Two large photos: the second waits (and says so) until the first is done."""
    cb = Callbacks(restorer, tile=64, whole_max_pixels=0, big_pixels=100 * 100)
    img = np.random.default_rng(0).random((150, 200, 3), dtype=np.float32)
    cb._big.acquire()  # a large restoration is running
    steps = cb.run_with_status(img.copy())
    first = next(steps)
    assert first.startswith("waiting for another large photo")
    threading.Timer(0.5, cb._big.release).start()
    t = time.perf_counter()
    try:
        while True:
            next(steps)
    except StopIteration as e:
        assert e.value.image.shape == img.shape
    assert time.perf_counter() - t >= 0.3


def test_about_primer_loads_the_file_and_falls_back(tmp_path):
    from demo.ui import ABOUT_FALLBACK, ABOUT_PATH, load_about

    if ABOUT_PATH.is_file():
        assert load_about() == ABOUT_PATH.read_text(encoding="utf-8").strip()
    assert load_about(tmp_path / "missing.md") == ABOUT_FALLBACK
    (tmp_path / "a.md").write_text("## Primer\n\nhello\n", encoding="utf-8")
    assert load_about(tmp_path / "a.md") == "## Primer\n\nhello"


def test_about_tab_shows_the_primer_with_the_model_card_closed(restorer):
    import gradio as gr

    from demo.ui import build_demo

    demo = build_demo(restorer, model_card="# CARD TEXT", about="## PRIMER TEXT")
    blocks = list(demo.blocks.values())
    acc = [b for b in blocks if isinstance(b, gr.Accordion) and b.elem_id == "model-card"]
    assert len(acc) == 1 and acc[0].open is False
    md = {b.elem_id: b for b in blocks if isinstance(b, gr.Markdown)}
    assert md["about-primer"].value == "## PRIMER TEXT"
    assert any(isinstance(b, gr.Markdown) and b.value == "# CARD TEXT" for b in blocks)


def test_gpu_decorator_with_and_without_spaces(monkeypatch, restorer):
    """ZeroGPU: spaces.GPU wraps the model runs when ``spaces`` imports; a no-op when it does not."""
    import importlib
    import sys

    import demo.callbacks as C

    monkeypatch.setitem(sys.modules, "spaces", None)  # not installed: import raises ImportError
    plain = C.gpu_decorator()

    def f(x):
        return x + 1

    assert plain(f) is f
    calls = []

    class FakeSpaces:
        @staticmethod
        def GPU(fn):
            def wrapped(*a, **kw):
                calls.append(fn.__name__)
                return fn(*a, **kw)
            return wrapped

    monkeypatch.setitem(sys.modules, "spaces", FakeSpaces)
    assert C.gpu_decorator()(f)(1) == 2 and calls == ["f"]
    # the app's network runs go through the decorated function: reload with the fake installed
    try:
        mod = importlib.reload(C)
        calls.clear()
        cb = mod.Callbacks(restorer, tile=64)
        cb.run(np.random.default_rng(0).random((32, 40, 3), dtype=np.float32))
        assert calls == ["run_model"]
    finally:
        monkeypatch.setitem(sys.modules, "spaces", None)
        importlib.reload(C)


def test_examples_the_weights_barely_restore_say_so():
    from pathlib import Path

    from demo.ui import _flag_weak_examples

    items = [(Path("blur_coffee.png"), "Blur"), (Path("noise_chelsea.png"), "Noise"),
             (Path("mixed_noise_haze_rocket.png"), "Noise + haze")]
    out = dict(_flag_weak_examples(items, {"blur": (0.2, 0.3), "noise": (3.0, 12.0)}))
    assert out[Path("blur_coffee.png")] == "Blur: little visible change (+0.2 to +0.3 dB measured)"
    assert out[Path("noise_chelsea.png")] == "Noise" and out[Path("mixed_noise_haze_rocket.png")] == "Noise + haze"
    assert dict(_flag_weak_examples(items, {}))[Path("blur_coffee.png")] == "Blur"


def test_cache_keeps_no_huge_results(restorer):
    from demo.callbacks import ResultCache

    img = np.random.default_rng(0).random((40, 48, 3), dtype=np.float32)
    res = restorer.restore(img)
    cache = ResultCache(max_bytes=4 * ResultCache.nbytes(res) - 1)  # this result is over a quarter of it
    cache.put(("k",), res)
    assert cache.get(("k",)) is None
    cache = ResultCache(max_bytes=8 * ResultCache.nbytes(res))
    cache.put(("k",), res)
    assert cache.get(("k",)) is res


def test_zoom_crops_at_the_chosen_place_without_scaling(restorer, tmp_path):
    cb = Callbacks(restorer, tile=64)
    path = _png(tmp_path / "z.png", 100, 160, 5)
    src = np.asarray(Image.open(path).convert("RGB"))
    (before, after), text = cb.zoom(path, "auto", 1.0, 0.0, side=64)
    assert np.array_equal(np.asarray(Image.open(before)), src[:64, 96:])  # top right corner, 64x64
    full = cb.run(cb.load(path), capture=False).image
    assert np.array_equal(np.asarray(Image.open(after)), (np.clip(full[:64, 96:], 0, 1) * 255 + 0.5).astype(np.uint8))
    assert "Pixels 96-160 x 0-64 of 160x100" in text


def test_glgf_text_names_the_models_cap_on_alpha_and_the_map_stays_under_it():
    from tests.conftest import TEST_CFG

    rng = np.random.default_rng(0)
    img = rng.random((48, 64, 3)).astype(np.float32)
    texts = {}
    for cap in (1.0, 0.5):
        cb = Callbacks(Restorer(make_model(TEST_CFG.replace(glgf_max_global=cap)), tile=64), tile=64)
        res = cb.restorer.restore(img, capture=True)
        (_, text, _, _), _ = cb.glgf_views(img, res)
        texts[cap] = text
        assert float(res.alpha.max()) <= cap + 1e-6
    assert "caps alpha at 0.50" in texts[0.5] and "caps alpha" not in texts[1.0]
