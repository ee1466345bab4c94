"""The ablation CLI end to end on a shrunken architecture: trains two variants a few steps and
writes the Markdown/JSON table with a row per variant and every column filled."""
import json

import pytest

from lab import ablate
from tests.conftest import TEST_MODEL_OVERRIDES


@pytest.mark.slow
def test_ablate_all_writes_a_full_table(tmp_path, monkeypatch, data_root):
    monkeypatch.setitem(ablate.BASES, "test", dict(TEST_MODEL_OVERRIDES))
    rc = ablate.main(["all", "--base", "test", "--variants", "sler,linear", "--steps", "2", "--batch", "2",
                      "--limit", "1", "--mixed", "2", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out"),
                      "--data-root", str(data_root)])
    assert rc == 0
    md = (tmp_path / "out" / "ablation.md").read_text()
    rows = json.loads((tmp_path / "out" / "ablation.json").read_text())
    assert set(rows) == {"sler", "linear"}
    for name, row in rows.items():
        assert row["step"] == 2
        for b in ablate.BENCH:
            assert row[b] > 0
        assert 0 <= row["recognition"] <= 1 and 0 <= row["nmi_mean"] <= 1
        line = next(l for l in md.splitlines() if l.startswith(f"| {name} |"))
        assert "nan" not in line and line.count("|") == len(ablate.BENCH) + 6
    # the linear variant really is linear: its router has no keys
    from slerir.checkpoint import read_config

    assert read_config(tmp_path / "runs" / "linear" / "weights")[0].router == "linear"


def test_seed_reaches_training_and_gets_its_own_folders(monkeypatch):
    calls = []
    monkeypatch.setattr(ablate, "train_variant", lambda *a: calls.append(a))
    assert ablate.main(["train", "--variants", "sler,global", "--seed", "3", "--steps", "5"]) == 0
    assert [c[0] for c in calls] == ["sler", "global"]
    name, steps, batch, root, threads, data_root, base, seed = calls[0]
    assert (steps, root, base, seed) == (5, "runs/ablate/current_seed3", "current", 3)
    calls.clear()
    ablate.main(["train", "--variants", "sler"])
    assert calls[0][3] == "runs/ablate/current" and calls[0][7] == 0  # seed 0 keeps the original folders
    row = {b: 20.0 for b in ablate.BENCH} | {"mixed": 20.0, "recognition": 0.5, "local_recognition": 0.5,
                                             "nmi_mean": 0.1, "step": 5}
    assert "seed 3;" in ablate.to_markdown({"sler": row}, 8, 16, seed=3)
