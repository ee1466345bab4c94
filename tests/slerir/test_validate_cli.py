"""python -m slerir.validate: the validation table behind checkpoint choices."""
import json
from types import SimpleNamespace

import pytest
import torch

from slerir.checkpoint import load_model
from slerir.data import val_set_full
from slerir.train import validate
from slerir.validate import main as validate_main


def _rows(md: str) -> list[list[str]]:
    lines = [l for l in md.splitlines() if l.startswith("|") and not l.startswith("|---")]
    return [[c.strip() for c in l.strip("|").split("|")] for l in lines]


def test_validate_table_matches_trainer_validation(tmp_path, weights_dir, data_root, capsys):
    out = tmp_path / "val.md"
    rc = validate_main(["--weights", str(weights_dir), str(weights_dir), "--n", "8", "--data-root", str(data_root),
                        "--out", str(out)])
    assert rc == 0
    md = out.read_text()
    assert md == capsys.readouterr().out
    header, *body = _rows(md)
    assert header[:9] == ["weights", "clean", "dark", "noise", "rain", "haze", "blur", "lowlight", "mixed"]
    assert len(body) == 2 and body[0][1:] == body[1][1:]  # same weights, same numbers
    assert all(c for c in body[0])
    data = json.loads(out.with_suffix(".json").read_text())
    ref = validate(load_model(weights_dir)[0], val_set_full(root=data_root, n=8), torch.device("cpu"), "full")
    assert data["rows"][0]["score"] == pytest.approx(ref["score"])
    assert f"{ref['haze']:.2f}" == body[0][header.index("haze")]


class _Identity(torch.nn.Module):
    """Returns its input and always recognises "clean": a model that changes nothing."""

    def __init__(self, pad_multiple: int = 8):
        super().__init__()
        self.cfg = SimpleNamespace(pad_multiple=pad_multiple)
        self.shapes: list[tuple[int, int]] = []

    def forward(self, x):
        self.shapes.append(tuple(x.shape[-2:]))
        return SimpleNamespace(image=x, proto_sim_global=torch.tensor([[1.0, 0, 0, 0, 0, 0]]))


def test_validate_hands_whole_photos_to_the_model_and_caps_clean(data_root):
    """The model pads for itself (SLERIR.forward), so validation hands it each photo at its own size (481 x 321,
    odd sides included) and scores the output at that size."""
    model = _Identity(pad_multiple=8)
    samples = val_set_full(root=data_root, n=2)
    res = validate(model, samples, torch.device("cpu"), "full")
    assert model.shapes == [tuple(s["gt"].shape[-2:]) for s in samples]  # (3, H, W) arrays
    assert any(h % 8 or w % 8 for h, w in model.shapes)  # unpadded: the model's job
    assert res["clean"] == float("inf") and res["dark"] == float("inf")  # an identity changes nothing
    assert res["score"] == pytest.approx(40.0) and res["recognition"] == 1.0  # clean capped at CLEAN_CAP_DB


def test_validate_missing_weights_is_a_clear_error(tmp_path, capsys):
    rc = validate_main(["--weights", str(tmp_path / "nope"), "--n", "1"])
    assert rc == 2 and "error:" in capsys.readouterr().err
