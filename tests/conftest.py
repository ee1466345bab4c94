"""Shared fixtures: a tiny randomly initialised checkpoint built in a temp folder (no /tmp or
assets dependency), so every test runs on a clean checkout."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from slerir.checkpoint import save_weights
from slerir.config import get_config
from slerir.model import SLERIR

SEED = 0
REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "datasets"

# Small enough for fast tests, same code paths as "tiny".
TEST_CFG = get_config("tiny", widths=(8, 16, 32), enc_blocks=(1, 1), mid_blocks=1, dec_blocks=(1, 1), enc_width=8)
TEST_MODEL_OVERRIDES = {"widths": [8, 16, 32], "enc_blocks": [1, 1], "mid_blocks": 1, "dec_blocks": [1, 1], "enc_width": 8}


def make_model(cfg=TEST_CFG, seed: int = SEED) -> SLERIR:
    torch.manual_seed(seed)
    m = SLERIR(cfg)
    g = torch.Generator().manual_seed(seed)
    for n, p in m.named_parameters():  # non-zero residual scales: every path matters
        if n.endswith(".beta") or n.endswith(".gamma"):
            p.data = torch.randn(p.shape, generator=g) * 0.3
    return m.eval()


@pytest.fixture(scope="session")
def weights_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("weights")
    save_weights(make_model(), path, {"note": "random test model"})
    return path


@pytest.fixture(scope="session")
def data_root() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"datasets folder {DATA} not present")
    return DATA
