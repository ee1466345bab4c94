"""Shared fixtures for the analysis tests: a tiny, randomly initialised model saved to disk (so the
tests need neither trained weights nor the datasets folder), and hand-made routing results."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from slerir.checkpoint import save_weights
from slerir.config import CLASSES, get_config
from slerir.inference import LayerMap, RestorationResult, Restorer
from slerir.model import SLERIR

SEED = 0
TINY = get_config("tiny", widths=(8, 16, 32), enc_blocks=(1, 1), mid_blocks=1, dec_blocks=(1, 1), enc_width=8)


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory):
    torch.manual_seed(SEED)
    model = SLERIR(TINY)
    g = torch.Generator().manual_seed(SEED)
    for n, p in model.named_parameters():  # residual scales start at 0; make every block matter
        if n.endswith(".beta") or n.endswith(".gamma"):
            p.data = torch.randn(p.shape, generator=g) * 0.1
    path = tmp_path_factory.mktemp("weights") / "tiny"
    save_weights(model, path, meta={"step": 0, "note": "random init for tests"})
    return path


@pytest.fixture(scope="session")
def restorer(tiny_weights):
    return Restorer.from_pretrained(tiny_weights)


def _layer_from_experts(name: str, experts: np.ndarray, E: int, stride: float = 2.0, level: int = 0) -> LayerMap:
    """A LayerMap whose routing is one-hot on the given (h,w) expert map."""
    w = np.eye(E, dtype=np.float32)[experts].transpose(2, 0, 1)  # (E,h,w)
    return LayerMap(name, level, w, experts[None].astype(np.int16), np.log(w + 1e-6), stride)


def _make_result(layers: list[LayerMap], size: tuple[int, int], probs: np.ndarray | None = None,
                alpha: float = 0.5) -> RestorationResult:
    H, W = size
    K = len(CLASSES)
    p = np.full(K, 1.0 / K, np.float32) if probs is None else np.asarray(probs, np.float32)
    eh, ew = -(-H // 8), -(-W // 8)
    return RestorationResult(
        image=np.zeros((H, W, 3), np.float32), input=np.zeros((H, W, 3), np.float32), class_probs=p,
        class_sims=p.copy(), global_embedding=np.array([1.0, 0.0, 0.0], np.float32), classes=CLASSES,
        local_embedding=np.zeros((3, eh, ew), np.float32), fused_embedding=np.zeros((3, eh, ew), np.float32),
        alpha=np.full((eh, ew), alpha, np.float32), local_class_sims=np.zeros((K, eh, ew), np.float32),
        routing=layers)


@pytest.fixture
def make_layer():
    """Factory: (name, (h,w) expert map, E, stride=2.0, level=0) -> one-hot LayerMap."""
    return _layer_from_experts


@pytest.fixture
def make_result():
    """Factory: (layers, (H,W), probs=None, alpha=0.5) -> RestorationResult."""
    return _make_result
