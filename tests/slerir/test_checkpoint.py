import json

import pytest
import torch
from safetensors.torch import save_file

from slerir.checkpoint import CheckpointError, load_model, read_config, save_weights, weights_fingerprint, weights_sha256
from slerir.inference import Restorer
from tests.conftest import TEST_CFG, make_model


def test_roundtrip_strict(tmp_path, weights_dir):
    model, meta = load_model(weights_dir)
    ref = make_model()
    assert model.cfg == TEST_CFG and meta["note"] == "random test model"
    for (k, a), (_, b) in zip(model.state_dict().items(), ref.state_dict().items()):
        assert torch.equal(a, b), k
    # single-file form: config in the safetensors metadata
    cfg, _ = read_config(weights_dir / "model.safetensors")
    assert cfg == TEST_CFG


def test_missing_and_corrupt(tmp_path, weights_dir):
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "nope")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "model.safetensors").write_bytes(b"garbage" * 10)
    (bad / "config.json").write_text((weights_dir / "config.json").read_text())
    with pytest.raises(CheckpointError, match="safetensors"):
        load_model(bad)
    (bad / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config"):
        load_model(bad)
    (tmp_path / "x.pt").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="pickle"):
        load_model(tmp_path / "x.pt")


def _folder(path, state, weights_dir, blob=None):
    """A weights folder holding ``state`` and the test model's config.json (or ``blob``)."""
    path.mkdir()
    save_file(state, str(path / "model.safetensors"))
    (path / "config.json").write_text(json.dumps(blob) if blob is not None else (weights_dir / "config.json").read_text())
    return path


def test_mismatch_is_clear(tmp_path, weights_dir):
    other = tmp_path / "other"
    save_weights(make_model(TEST_CFG.replace(num_experts=3, expert_ratios=(1.0, 1.0, 1.0))), other)
    # config says 4 experts, tensors hold 3
    (other / "config.json").write_text((weights_dir / "config.json").read_text())
    with pytest.raises(CheckpointError, match="do not match"):
        load_model(other)
    # a missing router key
    state = {k: v for k, v in make_model().state_dict().items() if "enc.0.0.router." not in k}
    part = _folder(tmp_path / "part", state, weights_dir)
    with pytest.raises(CheckpointError, match=r"enc\.0\.0\.router"):
        load_model(part)
    # unknown config field
    blob = json.loads((weights_dir / "config.json").read_text())
    blob["model"]["future_field"] = 1
    (part / "config.json").write_text(json.dumps(blob))
    with pytest.raises(CheckpointError, match="future_field"):
        load_model(part)


def test_restorer_from_pretrained(weights_dir):
    r = Restorer.from_pretrained(weights_dir)
    assert r.cfg == TEST_CFG


def test_nonfinite_weights_rejected_and_half_precision_accepted(tmp_path, weights_dir):
    state = make_model().state_dict()
    nan = dict(state)
    nan["head.0.weight"] = state["head.0.weight"].clone()
    nan["head.0.weight"][0, 0, 0, 0] = float("nan")
    with pytest.raises(CheckpointError, match="NaN or infinite"):
        load_model(_folder(tmp_path / "nan", nan, weights_dir))
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    model, meta = load_model(_folder(tmp_path / "half", half, weights_dir))
    assert meta["converted_from"] == ["float16"]
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert torch.allclose(model.state_dict()["head.0.weight"], state["head.0.weight"], atol=1e-2)


def test_legacy_config_without_new_fields_loads_first_version_architecture(tmp_path):
    legacy = TEST_CFG.replace(enc_stem="unshuffle4", global_cond=False)
    out = tmp_path / "legacy"
    save_weights(make_model(legacy), out)
    blob = json.loads((out / "config.json").read_text())
    del blob["model"]["enc_stem"], blob["model"]["global_cond"]  # as written before these fields existed
    (out / "config.json").write_text(json.dumps(blob))
    model, _ = load_model(out)
    assert model.cfg.enc_stem == "unshuffle4" and not model.cfg.global_cond


def test_saved_weights_are_readable_and_leave_no_temporary_files(tmp_path):
    import os
    import stat

    from slerir.checkpoint import load_model, save_weights
    from slerir.config import get_config
    from slerir.model import SLERIR

    model = SLERIR(get_config("tiny"))
    old = os.umask(0o022)
    try:
        out = save_weights(model, tmp_path / "w", {"step": 1})
        save_weights(model, out, {"step": 2})  # overwrite in place
    finally:
        os.umask(old)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    for p in out.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, p
    _, meta = load_model(out)
    assert meta["step"] == 2


def test_fingerprint_names_the_tensors_file(tmp_path, weights_dir):
    import hashlib

    full = hashlib.sha256((weights_dir / "model.safetensors").read_bytes()).hexdigest()
    assert weights_sha256(weights_dir) == weights_sha256(weights_dir / "model.safetensors") == full
    fp = weights_fingerprint(weights_dir)
    assert len(fp) == 16 and fp != full[:16]  # the tensors and the model settings together
    # the same tensors under another parameter-free setting are another model
    import json
    import shutil

    alt = tmp_path / "bounded"
    shutil.copytree(weights_dir, alt)
    cfg = json.loads((alt / "config.json").read_text())
    cfg["model"]["glgf_max_global"] = 0.5
    (alt / "config.json").write_text(json.dumps(cfg))
    bounded = weights_fingerprint(alt)
    assert weights_sha256(alt) == full and bounded != fp
    cfg["meta"] = {"note": "metadata does not count"}
    (alt / "config.json").write_text(json.dumps(cfg, indent=4))
    assert weights_fingerprint(alt) == bounded
    # a bare tensors file: its own hash
    bare = tmp_path / "bare.safetensors"
    shutil.copyfile(weights_dir / "model.safetensors", bare)
    assert weights_fingerprint(bare) == full[:16]
    other = save_weights(make_model(seed=1), tmp_path / "other")
    assert weights_fingerprint(other) != weights_fingerprint(weights_dir)
    assert weights_fingerprint(tmp_path / "none") is None and weights_sha256(tmp_path) is None


def _legacy(state: dict, model) -> dict:
    """``state`` under the names checkpoints had before blocks owned their routers: ``routers.{i}.*``."""
    from slerir.checkpoint import legacy_router_names

    new_to_old = {new: old for old, new in legacy_router_names(model).items()}
    return {new_to_old.get(k, k): v for k, v in state.items()}


@pytest.mark.parametrize("overrides", [{}, {"shared_router": True}, {"router": "linear"}])
def test_checkpoints_with_the_old_router_names_load_strictly(tmp_path, weights_dir, overrides):
    """The shipped weights and every earlier run name the routers ``routers.{i}.keys|log_scale|proj.*``; they
    load strictly into blocks that own their routers, and restore as the saved model does."""
    cfg = TEST_CFG.replace(**overrides)
    model = make_model(cfg)
    old = _legacy(model.state_dict(), model)
    assert any(k.startswith("routers.") for k in old) and not any(".router." in k for k in old)
    n_old = sum(k.startswith("routers.") for k in old)
    assert n_old == 2 * (1 if cfg.shared_router else len(model.layer_names))  # keys+log_scale or proj.weight+bias
    folder = tmp_path / "old"
    save_weights(model, folder)
    save_file(old, str(folder / "model.safetensors"), metadata={"slerir_config": json.dumps(cfg.to_dict())})
    loaded, _ = load_model(folder)
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k
    x = torch.rand(1, 3, 24, 40)
    with torch.no_grad():
        assert torch.equal(loaded(x).image, model(x).image)
    # a legacy file that lacks a router still fails strictly, naming the tensor
    del old[next(k for k in old if k.startswith("routers.0."))]
    save_file(old, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match="Missing key"):
        load_model(folder)


def test_v1_weights_use_the_old_router_names_and_load():
    # v1, the model shipped until 2026-12-07, was saved before each routed block owned its router; it stays in
    # train_state/weights/ under its hash (scripts/ship.sh keeps every model it replaces)
    from safetensors import safe_open

    from pathlib import Path
    DEFAULT_WEIGHTS = Path(__file__).resolve().parents[2] / "train_state" / "weights" / "23db6c7f3836"

    with safe_open(str(DEFAULT_WEIGHTS / "model.safetensors"), framework="pt") as f:
        names = list(f.keys())
    assert "routers.0.keys" in names
    model, _ = load_model(DEFAULT_WEIGHTS)
    with safe_open(str(DEFAULT_WEIGHTS / "model.safetensors"), framework="pt") as f:
        assert torch.equal(model.routed_blocks()[0].router.keys, f.get_tensor("routers.0.keys"))
        assert torch.equal(model.routed_blocks()[-1].router.log_scale,
                           f.get_tensor(f"routers.{len(model.layer_names) - 1}.log_scale"))
