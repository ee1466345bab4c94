"""Training states written before each routed block owned its router still resume, bit for bit.

Such a ``state.pt`` names the routers ``routers.{i}.*`` and keys its optimizer state by the old parameter
order (every router after every other module). ``legacy_state`` writes that form from a current state; the
old order it assumes was checked once against the old model code (same names in the same order, same
fresh initialisation for the spherical, shared and linear routers)."""
from __future__ import annotations

import torch

from slerir.checkpoint import legacy_router_names
from slerir.model import SLERIR
from slerir.train import Trainer, TrainConfig, _no_decay, _param_groups, upgrade_train_state
from tests.conftest import TEST_CFG, TEST_MODEL_OVERRIDES


def legacy_state(st: dict, model: SLERIR) -> dict:
    """A current training state in the old form."""
    names = legacy_router_names(model)
    old_name = {new: old for old, new in names.items()}
    routers = set(names.values())
    params = list(model.named_parameters())
    old_order = [np_ for np_ in params if np_[0] not in routers] + [np_ for np_ in params if np_[0] in routers]
    opt = dict(st["opt"], param_groups=[dict(g) for g in st["opt"]["param_groups"]])
    for g, no_decay in zip(opt["param_groups"], (False, True)):
        ids = dict(zip([n for n, p in params if _no_decay(n, p) == no_decay], g["params"]))
        g["params"] = [ids[n] for n, p in old_order if _no_decay(n, p) == no_decay]
    rename = lambda sd: {old_name.get(k, k): v for k, v in sd.items()}
    return dict(st, model=rename(st["model"]), ema=rename(st["ema"]), opt=opt)


def test_optimizer_state_follows_each_parameter_by_name():
    torch.manual_seed(0)
    model = SLERIR(TEST_CFG)
    opt = torch.optim.AdamW(_param_groups(model, 0.01), lr=1e-2)
    model(torch.rand(2, 3, 32, 32)).image.mean().backward()
    opt.step()
    st = {"model": model.state_dict(), "ema": model.state_dict(), "opt": opt.state_dict()}
    old = legacy_state(st, model)
    assert any(k.startswith("routers.") for k in old["model"])
    assert old["opt"]["param_groups"][1]["params"] != st["opt"]["param_groups"][1]["params"]  # reordered

    fresh = SLERIR(TEST_CFG)
    up = upgrade_train_state(old, fresh)
    fresh.load_state_dict(up["model"], strict=True)
    opt2 = torch.optim.AdamW(_param_groups(fresh, 0.01), lr=1e-2)
    opt2.load_state_dict(up["opt"])
    by_name = dict(model.named_parameters())
    moved = 0
    for n, p in fresh.named_parameters():
        a, b = opt2.state.get(p, {}), opt.state.get(by_name[n], {})
        assert a.keys() == b.keys(), n
        for key in a:
            assert torch.equal(a[key], b[key]), (n, key)
        moved += ".router." in n and "exp_avg" in a
    assert moved == 2 * len(model.layer_names)  # every router's keys and scale carried their state
    assert upgrade_train_state(st, fresh) is st  # current states pass through


def test_a_legacy_state_resumes_bit_for_bit(tmp_path, data_root):
    def tc(out):
        return TrainConfig(model_overrides=TEST_MODEL_OVERRIDES, patch=32, batch=4, steps=5, warmup=2, val_every=0,
                           ckpt_every=100, log_every=1, threads=1, out=str(out), data_root=str(data_root))

    a = Trainer(tc(tmp_path / "a"))
    a.fit(progress=False)
    b = Trainer(tc(tmp_path / "b"))
    b.fit(progress=False, stop_at=2)
    path = tmp_path / "b" / "state.pt"
    torch.save(legacy_state(torch.load(path, weights_only=False), b.model), path)
    del b
    c = Trainer(tc(tmp_path / "b"), resume=True)
    assert c.step == 2
    c.fit(progress=False)
    for (k, x), (_, y) in zip(a.model.state_dict().items(), c.model.state_dict().items()):
        assert torch.equal(x, y), k


def test_gradient_checkpointing_wraps_the_routed_blocks():
    """``grad_checkpoint`` recomputes each routed block in the backward pass: same loss, same gradients."""
    import types

    torch.manual_seed(0)
    plain = SLERIR(TEST_CFG)
    for n, p in plain.named_parameters():
        if n.endswith((".beta", ".gamma")):
            p.data.normal_(0, 0.3)
    ckpt = SLERIR(TEST_CFG)
    ckpt.load_state_dict(plain.state_dict())
    Trainer._enable_checkpointing(types.SimpleNamespace(model=ckpt))
    x = torch.rand(2, 3, 32, 32)
    for m in (plain, ckpt):
        out = m(x)
        (out.image.mean() + out.aux["balance"]).backward()
    grads = dict(plain.named_parameters())
    for n, p in ckpt.named_parameters():
        assert (p.grad is None) == (grads[n].grad is None), n
        if p.grad is not None:
            assert torch.allclose(p.grad, grads[n].grad, atol=1e-6), n
    assert ckpt.router(0).keys.grad is not None
