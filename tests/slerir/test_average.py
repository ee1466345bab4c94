"""python -m slerir.average: weighted means of weights of one architecture."""
import pytest
import torch

from slerir.average import average, main
from slerir.checkpoint import CheckpointError, load_model, save_weights
from slerir.config import get_config
from slerir.model import SLERIR
from tests.conftest import make_model


def test_average_is_the_weighted_mean(tmp_path):
    a, b = save_weights(make_model(seed=1), tmp_path / "a"), save_weights(make_model(seed=2), tmp_path / "b")
    assert main(["--weights", str(a), str(b), "--ratio", "1", "3", "--out", str(tmp_path / "s")]) == 0
    soup, meta = load_model(tmp_path / "s")
    sa, sb, ss = (m.state_dict() for m in (load_model(a)[0], load_model(b)[0], soup))
    floats = [k for k, v in ss.items() if v.is_floating_point()]
    assert floats and meta["ratios"] == [0.25, 0.75] and meta["averaged_from"] == [str(a), str(b)]
    for k in floats:
        torch.testing.assert_close(ss[k], 0.25 * sa[k] + 0.75 * sb[k], atol=1e-6, rtol=1e-5)
    assert any(not torch.equal(sa[k], sb[k]) for k in floats)  # the parts really differ


def test_average_refuses_bad_inputs(tmp_path, capsys):
    a = save_weights(make_model(seed=1), tmp_path / "a")
    other = save_weights(SLERIR(get_config("tiny", widths=(8, 16, 24), enc_blocks=(1, 1), mid_blocks=1,
                                           dec_blocks=(1, 1), enc_width=8)), tmp_path / "o")
    with pytest.raises(CheckpointError, match="another model config"):
        average([a, other])
    with pytest.raises(ValueError, match="at least two"):
        average([a])
    with pytest.raises(ValueError, match="ratios"):
        average([a, a], [1.0, -1.0])
    assert main(["--weights", str(a), str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) == 2
    assert "error:" in capsys.readouterr().err
