"""lab.gate_check: the GLGF gate's share and the embeddings' accuracy by region of trainer samples."""
from __future__ import annotations

from types import SimpleNamespace

import torch
import torch.nn.functional as F

from lab import gate_check


class _StubModel:
    """Local embedding: each cell's true class prototype; fused: the sample's major class everywhere."""

    def __init__(self, truth: torch.Tensor, major: list[int], alpha: float = 0.7):
        self.prototypes = torch.eye(3).repeat(2, 1)[:6] * torch.tensor([1.0] * 3 + [-1.0] * 3)[:, None]
        self.truth, self.major, self.alpha = truth, major, alpha

    def __call__(self, lq, context=None):
        p = self.prototypes
        local = p[self.truth].permute(0, 3, 1, 2)  # (B,3,h,w)
        fused = torch.stack([p[m][:, None, None].expand(3, *self.truth.shape[1:]) for m in self.major])
        alpha = torch.full((lq.shape[0], 1, *self.truth.shape[1:]), self.alpha)
        return SimpleNamespace(embeddings=SimpleNamespace(local=local, fused=fused, alpha=alpha))


def test_gate_stats_separates_single_kind_samples_and_the_two_regions_of_composites():
    mask = torch.zeros(2, 32, 32, dtype=torch.long)
    mask[0] = 2  # one kind over the whole sample
    mask[1, :, :8] = 3  # a quarter of the second sample is haze, the rest noise (class 1)
    mask[1, :, 8:] = 1
    truth = F.adaptive_avg_pool2d(F.one_hot(mask, 6).permute(0, 3, 1, 2).float(), (4, 4)).argmax(1)
    model = _StubModel(truth, major=[2, 1])
    rows = gate_check.gate_stats(model, [{"lq": torch.zeros(2, 3, 32, 32), "mask": mask}])
    assert rows["single"] == {"cells": 16, "alpha": rows["single"]["alpha"], "local_acc": 1.0, "fused_acc": 1.0}
    assert (rows["major"]["cells"], rows["minor"]["cells"]) == (12, 4)
    # the fused embedding names the major class everywhere: right on the major region, wrong on the minor one
    assert rows["major"]["fused_acc"] == 1.0 and rows["minor"]["fused_acc"] == 0.0
    assert rows["minor"]["local_acc"] == 1.0
    assert all(abs(r["alpha"] - 0.7) < 1e-6 for r in rows.values())
    assert "minor region" in gate_check.to_markdown({"command": "c", "weights": {"w": rows}})
    # inside the regions only: the 4x4 grid's column next to the seam (and the minor region, one column wide,
    # whose every cell touches the seam) is left out
    inner = gate_check.gate_stats(model, [{"lq": torch.zeros(2, 3, 32, 32), "mask": mask}], interior=True)
    assert inner["single"]["cells"] == 16 and inner["major"]["cells"] == 8 and "minor" not in inner


def test_gate_check_cli_errors_cleanly(tmp_path, capsys):
    assert gate_check.main(["--batches", "0"]) == 2
    assert gate_check.main(["--config", str(tmp_path / "missing.json")]) == 2
    assert "error:" in capsys.readouterr().err
