"""Issue item 4: the same input gives the same output and the same routing, bit for bit, on the same
machine: through the library (two runs, two loaded instances, other work in between, whole image
and tiled) and through the app (network re-run each time: the result cache is bypassed)."""
from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from slerir.inference import Restorer
from tests.reliability import corpus as C

ARRAYS = ("image", "input", "class_probs", "class_sims", "global_embedding", "local_embedding", "fused_embedding",
          "alpha", "local_class_sims")


def assert_identical(a, b) -> None:
    for k in ARRAYS:
        x, y = getattr(a, k), getattr(b, k)
        assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), f"{k} differs"
    assert a.tiles == b.tiles and len(a.routing) == len(b.routing) > 0
    for la, lb in zip(a.routing, b.routing):
        assert la.name == lb.name and la.stride == lb.stride
        for k in ("weights", "topk", "logits"):
            assert getattr(la, k).tobytes() == getattr(lb, k).tobytes(), f"{la.name}.{k} differs"


@pytest.fixture(scope="module")
def tiled_input(tmp_path_factory):
    rng = np.random.default_rng(3)
    p = tmp_path_factory.mktemp("det") / "tiled.png"
    Image.fromarray((rng.random((150, 200, 3)) * 255).astype(np.uint8)).save(p)
    return p


@pytest.mark.parametrize("tile", [None, 64], ids=["whole", "tiled"])
def test_library_is_bit_identical(tile, weights_dir, corpus, corpus_dir, tiled_input):
    path = corpus_dir / "valid.png" if tile is None else tiled_input
    r1 = Restorer.from_pretrained(weights_dir, tile=tile or 512)
    r2 = Restorer.from_pretrained(weights_dir, tile=tile or 512)
    a = r1.restore(str(path), capture=True)
    r1.restore(str(corpus_dir / "rgba.png"), capture=True)  # other work in between
    b = r1.restore(str(path), capture=True)
    c = r2.restore(str(path), capture=True)
    assert (a.tiles > 1) == (tile is not None)
    assert_identical(a, b)
    assert_identical(a, c)
    # options are part of the input: the same options give the same result too
    k1 = r1.restore(str(path), top_k=1, fusion="local", capture=True)
    k2 = r2.restore(str(path), top_k=1, fusion="local", capture=True)
    assert_identical(k1, k2)
    assert k1.image.tobytes() != a.image.tobytes()  # and they do change it


def _without_times(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if not k.endswith("_seconds")}


def test_app_is_bit_identical(served, corpus, corpus_dir, no_result_cache):
    from gradio_client import handle_file

    client, url, cb = served.client, served.url, served.demo.slerir_callbacks
    path = corpus_dir / "valid.png"
    runs = []
    for _ in range(2):
        got = C.app_restore(client, path, url)
        assert got.ok
        png, (pair, _, label, text) = got.value
        analysis = client.submit(handle_file(str(path)), 0.55, api_name="/analyze").result(timeout=180)
        routing_pngs = [C.read_returned_file(item["image"], url) for item in analysis[0]]
        runs.append(dict(png=png, before=C.read_returned_file(pair[0], url), label=label,
                         text=re.sub(r"\*\*[0-9.]+ s\*\*", "", text),
                         summary=_without_times(analysis[-1]), routing=routing_pngs))
    a, b = runs
    assert a["png"] == b["png"] and a["before"] == b["before"]
    assert a["label"] == b["label"] and a["text"] == b["text"]
    assert a["summary"] == b["summary"]  # class probabilities, embedding, per-layer routing usage/entropy
    assert a["routing"] == b["routing"] and len(a["routing"]) == len(cb.layers)  # expert maps, as PNG bytes

    # the routing behind them, at full precision, server side
    img = cb.load(str(path))
    assert_identical(cb.run(img), cb.run(img))  # the cache is bypassed: two network runs
