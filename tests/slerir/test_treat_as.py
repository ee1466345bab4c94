"""Restorer.restore(treat_as=...): route an image as a chosen degradation class."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from slerir.inference import OptionError, Restorer
from tests.conftest import make_model


@pytest.fixture(scope="module")
def restorer() -> Restorer:
    import torch

    torch.set_num_threads(1)
    return Restorer(make_model(), tile=64)


@pytest.fixture(scope="module")
def img() -> np.ndarray:
    return np.random.default_rng(3).random((48, 64, 3), dtype=np.float32)


def test_treat_as_routes_every_position_by_the_class_prototype(restorer, img):
    auto = restorer.restore(img)
    protos = restorer.model.prototypes.detach().numpy()
    outs = {}
    for c in ("rain", "haze"):
        r = restorer.restore(img, treat_as=c)
        p = protos[restorer.classes.index(c)]
        assert np.allclose(r.fused_embedding, p[:, None, None], atol=1e-6)  # the prototype everywhere
        assert np.all(r.alpha == 1.0)
        # what the encoder saw is still reported as is
        assert np.allclose(r.class_probs, auto.class_probs) and np.allclose(r.global_embedding, auto.global_embedding)
        assert np.abs(r.image - auto.image).max() > 1e-4, f"treat_as={c} changed nothing"
        outs[c] = r.image
    assert np.abs(outs["rain"] - outs["haze"]).max() > 1e-4
    # nothing leaks into the next call
    assert np.array_equal(restorer.restore(img).image, auto.image)


def test_treat_as_tiled_and_checked(restorer, img):
    big = np.random.default_rng(4).random((100, 140, 3), dtype=np.float32)
    whole = restorer.restore(big, treat_as="noise", tile=256)
    tiled = restorer.restore(big, treat_as="noise", tile=64)
    assert tiled.tiles > 1 and np.abs(whole.image - tiled.image).max() < 0.05
    with pytest.raises(OptionError, match="treat_as must be one of"):
        restorer.restore(img, treat_as="snow")


def test_treat_as_is_per_thread(restorer, img):
    """Another thread's plain restoration is not affected while one thread restores with treat_as."""
    auto = restorer.restore(img).image
    got = {}
    barrier = threading.Barrier(2)

    def plain():
        barrier.wait()
        got["plain"] = [restorer.restore(img).image for _ in range(3)]

    def treated():
        barrier.wait()
        got["rain"] = [restorer.restore(img, treat_as="rain").image for _ in range(3)]

    ts = [threading.Thread(target=plain), threading.Thread(target=treated)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert all(np.array_equal(a, auto) for a in got["plain"])
    assert all(np.abs(a - auto).max() > 1e-4 for a in got["rain"])
