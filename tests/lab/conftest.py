"""Shared fixtures for the lab tests: a tiny, randomly initialised model saved to disk (the tests need
no trained weights)."""
from __future__ import annotations

import pytest
import torch

from slerir.checkpoint import save_weights
from slerir.config import get_config
from slerir.inference import Restorer
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
