"""lab.override: the same tensors under another parameter-free model setting."""
from __future__ import annotations

import json

import pytest
import torch

from lab import override
from slerir.checkpoint import load_model


def test_override_changes_the_setting_and_keeps_the_tensors(tiny_weights, tmp_path):
    out = tmp_path / "bounded"
    assert override.main(["--weights", str(tiny_weights), "--set", "glgf_max_global=0.5", "--out", str(out)]) == 0
    model, meta = load_model(out)
    base, _ = load_model(tiny_weights)
    assert model.cfg.glgf_max_global == 0.5 and base.cfg.glgf_max_global == 1.0
    assert meta["override"] == {"of": str(tiny_weights), "set": {"glgf_max_global": 0.5}}
    for (n, a), (_, b) in zip(model.state_dict().items(), base.state_dict().items()):
        assert torch.equal(a, b), n
    # the bound shows in the model's behaviour: the same input, half the global share
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        a_bounded, a_free = model.eval()(x).embeddings.alpha, base.eval()(x).embeddings.alpha
    assert torch.allclose(a_bounded, 0.5 * a_free, atol=1e-6)


@pytest.mark.parametrize("setting, message", [("no_such_field=1", "not a model setting"),
                                              ("glgf_max_global=2", "glgf_max_global"),
                                              ("widths=[8, 16]", ""), ("glgf_max_global", "name=value")])
def test_override_refuses_bad_settings_and_leaves_no_folder(tiny_weights, tmp_path, capsys, setting, message):
    out = tmp_path / "bad"
    assert override.main(["--weights", str(tiny_weights), "--set", setting, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err
    assert not out.exists()


def test_override_needs_a_weights_folder(tmp_path, capsys):
    assert override.main(["--weights", str(tmp_path), "--set", "top_k=1", "--out", str(tmp_path / "o")]) == 2
    assert "no config.json" in capsys.readouterr().err


def test_parse_setting_reads_json_values():
    assert override.parse_setting("top_k=1") == ("top_k", 1)
    assert override.parse_setting("fusion=local") == ("fusion", "local")
    assert override.parse_setting("learn_prototypes=true") == ("learn_prototypes", True)
    assert json.dumps(override.parse_setting("glgf_max_global=0.5")[1]) == "0.5"
