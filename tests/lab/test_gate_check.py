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


def test_distance_stats_bins_composite_cells_by_their_distance_to_the_other_region():
    mask = torch.zeros(1, 64, 64, dtype=torch.long)
    mask[0, :, :16] = 3  # haze on the left quarter, noise (class 1) on the rest
    mask[0, :, 16:] = 1
    truth = F.adaptive_avg_pool2d(F.one_hot(mask, 6).permute(0, 3, 1, 2).float(), (8, 8)).argmax(1)
    wrong_near = truth.clone()
    wrong_near[0, :, 1:3] = 5  # the local cue fails on the two columns of cells next to the seam
    model = _StubModel(wrong_near, major=[1])
    rows = gate_check.distance_stats(model, [{"lq": torch.zeros(1, 3, 64, 64), "mask": mask}])
    by_px = {r["px"]: r for r in rows}
    # the 8 columns' centres lie 12, 4 (haze), 5, 13, 21, 29, 37 and 45 px (noise) from the other region
    assert {k: r["cells"] for k, r in by_px.items()} == {"0-8": 16, "8-16": 16, "16-24": 8, "24-32": 8, "32-48": 16}
    assert by_px["0-8"]["local_acc"] == 0.0 and by_px["8-16"]["local_acc"] == 1.0
    # the fused embedding names noise everywhere: wrong on the haze cells (half of those next to the seam)
    assert by_px["0-8"]["fused_acc"] == 0.5 and by_px["32-48"]["fused_acc"] == 1.0 and by_px["32-48"]["major"] == 1.0
    md = gate_check.to_markdown({"command": "c", "weights": {"w": {}}, "distance": {"w": rows}})
    assert "| 0-8 | 16 |" in md
    assert gate_check.boundary_distance(torch.zeros(4, 4, dtype=torch.long).numpy()).min() == float("inf")


def test_gate_check_cli_errors_cleanly(tmp_path, capsys):
    assert gate_check.main(["--batches", "0"]) == 2
    assert gate_check.main(["--config", str(tmp_path / "missing.json")]) == 2
    assert "error:" in capsys.readouterr().err


def test_refit_gate_fits_a_copy_and_the_swap_is_undone(tiny_weights):
    import pytest

    from slerir.checkpoint import load_model

    model, _ = load_model(tiny_weights)
    model.eval()
    g = torch.Generator().manual_seed(0)
    mask = torch.ones(2, 32, 32, dtype=torch.long)
    mask[1, :, 16:] = 3  # the second sample: noise on the left, haze on the right
    batches = [{"lq": torch.rand(2, 3, 32, 32, generator=g), "mask": mask} for _ in range(2)]
    before = {k: v.clone() for k, v in model.glgf.state_dict().items()}
    for objective in gate_check.REFIT_OBJECTIVES:
        gate = gate_check.refit_gate(model, batches, objective, iters=20)
        assert gate is not model.glgf and not gate.training
        moved = any(not torch.equal(gate.state_dict()[k], v) for k, v in before.items())
        assert moved or objective == "which"  # "which" may find no cell where only one cue is right
    assert all(torch.equal(model.glgf.state_dict()[k], v) for k, v in before.items())  # the model's own gate untouched
    own = model.glgf
    with gate_check._GateSwapped(model, gate) as m:
        assert m.glgf is gate
        rows = gate_check.gate_stats(m, batches)
    assert model.glgf is own and set(rows) == {"single", "major", "minor"}
    assert gate_check._two_kind(rows)["cells"] == rows["major"]["cells"] + rows["minor"]["cells"]
    with pytest.raises(ValueError, match="objective"):
        gate_check.refit_gate(model, batches, "nonsense")


def test_refit_table_lists_each_gate():
    rows = {"single": {"cells": 4, "alpha": 0.7, "local_acc": 0.5, "fused_acc": 0.75},
            "major": {"cells": 3, "alpha": 0.6, "local_acc": 0.5, "fused_acc": 1.0},
            "minor": {"cells": 1, "alpha": 0.2, "local_acc": 1.0, "fused_acc": 0.0}}
    md = gate_check.to_markdown({"command": "c", "weights": {"w": rows}, "refit_batches": 5,
                                 "refit": {"w": [{"gate": "as trained", "rows": rows, "split_layers": 2, "mean_nmi": 0.7},
                                                 {"gate": "fused", "rows": rows}]}})
    assert "| as trained | 0.70 / 0.50 | 75% / 75% | 2 | 0.70 |" in md and "| fused | 0.70 / 0.50 | 75% / 75% | - | - |" in md


def test_gate_check_refuses_bad_refit_counts(capsys):
    assert gate_check.main(["--refit", "fused", "--refit-batches", "0"]) == 2
    assert gate_check.main(["--probe-images", "-1"]) == 2
    assert "error:" in capsys.readouterr().err
