"""lab.blend: tensors on the straight line between two weights folders of one architecture."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from lab import blend
from slerir.checkpoint import load_model
from tests.analysis.conftest import SEED, TINY, _one_thread, tiny_weights  # noqa: F401 (fixtures)


def _shifted(tiny_weights, dst, shift=0.1):
    """A copy of the tiny weights with every tensor moved by ``shift`` (same architecture, other values)."""
    shutil.copytree(tiny_weights, dst)
    t = load_file(str(dst / "model.safetensors"))
    save_file({k: np.array(v + np.float32(shift), dtype=v.dtype, order="C") for k, v in t.items()}, str(dst / "model.safetensors"))
    return dst


def test_blend_mixes_each_tensor_and_loads(tiny_weights, tmp_path):
    other = _shifted(tiny_weights, tmp_path / "other")
    a, b = load_file(str(tiny_weights / "model.safetensors")), load_file(str(other / "model.safetensors"))
    out = tmp_path / "mix"
    assert blend.main(["--weights", str(tiny_weights), str(other), "--alpha", "0.25", "--out", str(out)]) == 0
    m = load_file(str(out / "model.safetensors"))
    assert set(m) == set(a)
    for k in a:
        assert m[k].dtype == a[k].dtype and m[k].shape == a[k].shape
        np.testing.assert_allclose(m[k], 0.75 * a[k] + 0.25 * b[k], atol=1e-6)
    _, meta = load_model(out)
    assert meta["blend"]["alpha"] == 0.25 and meta["blend"]["b"] == str(other)
    # the ends of the line are the two folders themselves
    for alpha, ref in ((0.0, a), (1.0, b)):
        end = blend.write_blend(tiny_weights, other, alpha, tmp_path / f"end{alpha}")
        t = load_file(str(end / "model.safetensors"))
        assert all(np.array_equal(t[k], ref[k]) for k in ref)


def test_blend_keeps_the_first_folders_settings(tiny_weights, tmp_path):
    other = _shifted(tiny_weights, tmp_path / "other")
    cfg = json.loads((other / "config.json").read_text())
    cfg["model"]["glgf_max_global"] = 0.5
    (other / "config.json").write_text(json.dumps(cfg))
    model, meta = load_model(blend.write_blend(tiny_weights, other, 0.5, tmp_path / "mix"))
    assert model.cfg.glgf_max_global == 1.0 and meta["blend"]["settings_differing"] == ["glgf_max_global"]


def test_blend_refuses_other_tensors_and_bad_alpha(tiny_weights, tmp_path, capsys):
    other = _shifted(tiny_weights, tmp_path / "other")
    t = load_file(str(other / "model.safetensors"))
    dropped = sorted(t)[0]
    save_file({k: v for k, v in t.items() if k != dropped}, str(other / "model.safetensors"))
    out = tmp_path / "mix"
    assert blend.main(["--weights", str(tiny_weights), str(other), "--alpha", "0.5", "--out", str(out)]) == 2
    assert "different tensors" in capsys.readouterr().err and not out.exists()
    assert blend.main(["--weights", str(tiny_weights), str(tiny_weights), "--alpha", "1.5", "--out", str(out)]) == 2
    assert "alpha" in capsys.readouterr().err and not out.exists()
    assert blend.main(["--weights", str(tiny_weights), str(tmp_path / "none"), "--alpha", "0.5", "--out", str(out)]) == 2
    assert "weights folder" in capsys.readouterr().err


def test_blend_tensors_refuses_shape_mismatch():
    with pytest.raises(ValueError, match="tensor w"):
        blend.blend_tensors({"w": np.zeros((2, 2), np.float32)}, {"w": np.zeros((2, 3), np.float32)}, 0.5)


def test_blend_only_some_tensors(tiny_weights, tmp_path):
    other = _shifted(tiny_weights, tmp_path / "other")
    a, b = load_file(str(tiny_weights / "model.safetensors")), load_file(str(other / "model.safetensors"))
    prefix = sorted(a)[0].split(".")[0]
    out = tmp_path / "part"
    assert blend.main(["--weights", str(tiny_weights), str(other), "--alpha", "1", "--only", prefix,
                       "--out", str(out)]) == 0
    m = load_file(str(out / "model.safetensors"))
    moved = [k for k in a if k.startswith(prefix)]
    assert moved and len(moved) < len(a)
    for k in a:
        assert np.array_equal(m[k], b[k] if k.startswith(prefix) else a[k]), k
    with pytest.raises(ValueError, match="no tensor name starts with nothing_here"):
        blend.blend_tensors(a, b, 0.5, only=["nothing_here"])
