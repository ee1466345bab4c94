"""Weights on disk: safetensors tensors plus a JSON config, loaded strictly onto the CPU first.

Layout of a weights folder (what the demo ships in ``assets/weights``)::

    model.safetensors   tensors only (never pickle)
    config.json         {"model": ModelConfig fields, "meta": {...training facts...}}

A single ``.safetensors`` file also works: the config then lives in its string metadata under
``slerir_config``. No pickle is ever loaded from a weights path.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file, safe_open

from .config import ModelConfig
from .model import SLERIR


class CheckpointError(RuntimeError):
    """A weights file is missing, corrupt, or does not match this code."""


def save_weights(model: SLERIR, path: str | Path, meta: dict[str, Any] | None = None) -> Path:
    """Save to a folder (model.safetensors + config.json).

    Each file is written under a temporary name and moved into place, so an interruption (a
    training run killed while it saves its best weights) never leaves a torn file; files get the
    usual permissions (0666 less the umask; safetensors alone writes 0600, unreadable to a server
    running as another user)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    cfg = {"model": model.cfg.to_dict(), "meta": meta or {}}
    umask = os.umask(0)
    os.umask(umask)
    tmp_st, tmp_cj = path / ".model.safetensors.tmp", path / ".config.json.tmp"
    save_file(state, str(tmp_st), metadata={"slerir_config": json.dumps(cfg["model"])})
    tmp_cj.write_text(json.dumps(cfg, indent=2))
    for tmp, final in ((tmp_st, "model.safetensors"), (tmp_cj, "config.json")):
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path / final)
    return path


def _resolve(path: Path) -> tuple[Path, Path | None]:
    if path.is_dir():
        st = path / "model.safetensors"
        cj = path / "config.json"
        if not st.exists():
            raise CheckpointError(f"{path} holds no model.safetensors")
        return st, cj if cj.exists() else None
    if path.suffix == ".safetensors":
        cj = path.with_suffix(".json")
        return path, cj if cj.exists() else None
    raise CheckpointError(f"{path}: expected a weights folder or a .safetensors file (pickle checkpoints are not loaded)")


def read_config(path: str | Path) -> tuple[ModelConfig, dict[str, Any]]:
    """Config and metadata of a weights folder or file, without loading tensors."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"weights not found: {path}")
    st, cj = _resolve(path)
    try:
        if cj is not None:
            blob = json.loads(cj.read_text())
            model_d, meta = blob["model"], blob.get("meta", {})
        else:
            with safe_open(str(st), framework="pt") as f:
                md = f.metadata() or {}
            if "slerir_config" not in md:
                raise CheckpointError(f"{st} carries no config (no config.json beside it, no slerir_config metadata)")
            model_d, meta = json.loads(md["slerir_config"]), {}
        return ModelConfig.from_dict(model_d), meta
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, SafetensorError) as e:
        raise CheckpointError(f"cannot read the config of {path}: {e}") from e


LEGACY_ROUTER_PREFIX = "routers."  # checkpoints written before each routed block owned its router


def legacy_router_names(model: SLERIR) -> dict[str, str]:
    """{old tensor name: new tensor name} for the routers of ``model``'s architecture.

    Checkpoints written before each routed block owned its router (the shipped ``assets/weights`` among
    them, and every ``state.pt`` of those runs) keep the routers in a list apart from the blocks:
    ``routers.{i}.keys``, ``routers.{i}.log_scale`` (cosine router) or ``routers.{i}.proj.weight|bias``
    (linear ablation), i in forward order (``model.layer_names``). Now router i lives in its block,
    ``<block>.router.*`` (e.g. ``enc.1.0.router.keys`` for layer "enc1.b0"); the shared-router ablation's one
    router (old ``routers.0.*``) is ``shared_router.*``."""
    new_names = [n for n, _ in model.named_parameters()]
    if model.cfg.shared_router:
        prefixes = {"routers.0.": "shared_router."}
    else:
        paths = {id(m): n for n, m in model.named_modules()}
        prefixes = {f"routers.{i}.": paths[id(b)] + ".router." for i, b in enumerate(model.routed_blocks())}
    out = {}
    for old_p, new_p in prefixes.items():
        for n in new_names:
            if n.startswith(new_p):
                out[old_p + n[len(new_p):]] = n
    return out


def upgrade_state_dict(state: dict[str, torch.Tensor], model: SLERIR) -> dict[str, torch.Tensor]:
    """A state dict with old router names (``legacy_router_names``) renamed for ``model``; any other state
    dict is returned as it is. Names that match nothing are kept, so strict loading still reports them."""
    if not any(k.startswith(LEGACY_ROUTER_PREFIX) for k in state):
        return state
    names = legacy_router_names(model)
    return {names.get(k, k): v for k, v in state.items()}


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[SLERIR, dict[str, Any]]:
    """Build the model from the stored config and load its weights strictly (STYLE.md #12); checkpoints with
    the old router names load too (``upgrade_state_dict``)."""
    path = Path(path)
    cfg, meta = read_config(path)
    st, _ = _resolve(path)
    try:
        state = load_file(str(st), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{st} is not a readable safetensors file ({e})") from e
    bad = sorted(k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all())
    if bad:
        raise CheckpointError(f"{st} holds NaN or infinite values in {len(bad)} tensor(s), e.g. {bad[0]}: "
                              "the weights are corrupt (a diverged or damaged training run)")
    odd = sorted({str(v.dtype).replace("torch.", "") for v in state.values() if v.is_floating_point() and v.dtype != torch.float32})
    if odd:
        # half-precision exports are accepted: the model computes in float32
        state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
        meta = {**meta, "converted_from": odd}
    try:
        model = SLERIR(cfg)
    except (TypeError, ValueError, RuntimeError, OverflowError) as e:
        raise CheckpointError(f"the config of {path} does not describe a buildable model ({type(e).__name__}: {e})") from e
    try:
        model.load_state_dict(upgrade_state_dict(state, model), strict=True)
    except RuntimeError as e:
        msg = str(e).split("\n")
        raise CheckpointError(
            f"weights in {st} do not match the '{cfg.name}' architecture this code builds from its config: "
            + " ".join(m.strip() for m in msg[:4])
        ) from e
    return model.to(device).eval(), meta


def weights_sha256(path: str | Path) -> str | None:
    """SHA-256 (64 hex digits) of a weights folder's ``model.safetensors`` (or of a ``.safetensors``
    file); None when there is no such file."""
    import hashlib

    p = Path(path)
    f = p / "model.safetensors" if p.is_dir() else p
    if not f.is_file():
        return None
    h = hashlib.sha256()
    with open(f, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def weights_fingerprint(path: str | Path) -> str | None:
    """16 hex digits naming a model as it runs: the tensors and the architecture settings (``config.json`` ->
    ``model``) together, so that the same tensors under another parameter-free setting (``glgf_max_global``,
    ``top_k``; ``python -m lab.override``) get another name. The embedding bank, the gain table and the report
    record the model they were made with by it. Without a config, the first 16 hex digits of
    :func:`weights_sha256`; None when there is no tensors file."""
    import hashlib

    full = weights_sha256(path)
    if not full:
        return None
    p = Path(path)
    cj = p / "config.json" if p.is_dir() else p.with_suffix(".json")
    try:
        model = json.loads(cj.read_text()).get("model")
    except (OSError, ValueError, AttributeError):
        model = None
    if not model:
        return full[:16]
    return hashlib.sha256((full + json.dumps(model, sort_keys=True)).encode()).hexdigest()[:16]
