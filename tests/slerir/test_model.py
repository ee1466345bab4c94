"""Model properties on tiny configs, CPU, seeded (STYLE.md #10)."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from slerir.config import CLASSES, PRESETS, ModelConfig, get_config
from slerir.losses import total_loss
from slerir.model import SLERIR, ExpertFFN, slerp, topk_weights, uniform_prototypes

SMALL = get_config("tiny", widths=(8, 16, 32), enc_blocks=(1, 1), mid_blocks=1, dec_blocks=(1, 1), enc_width=8)


def _activate(model: SLERIR) -> SLERIR:
    """Residual scales start at 0 (identity blocks); give them values so every path matters."""
    g = torch.Generator().manual_seed(0)
    for n, p in model.named_parameters():
        if n.endswith(".beta") or n.endswith(".gamma") or "bias_out" in n:
            p.data = torch.randn(p.shape, generator=g) * 0.5
    return model


def mixed_batch(b=4, p=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    gt = torch.rand(b, 3, p, p, generator=g)
    lq = (gt + 0.1 * torch.randn(b, 3, p, p, generator=g)).clamp(0, 1)
    mask = torch.zeros(b, p, p, dtype=torch.long)
    for i in range(b):
        mask[i, :, : p // 2] = i % len(CLASSES)
        mask[i, :, p // 2:] = (i + 1) % len(CLASSES)
    frac = F.one_hot(mask, len(CLASSES)).float().mean((1, 2))
    return {"lq": lq, "gt": gt, "mask": mask, "label": frac.argmax(1), "frac": frac}


@pytest.mark.parametrize("overrides", [{}, {"router": "linear"}, {"shared_router": True}, {"learn_prototypes": True}])
def test_every_parameter_gets_gradient_on_mixed_batch(overrides):
    torch.manual_seed(0)
    model = _activate(SLERIR(SMALL.replace(top_k=SMALL.num_experts, **overrides)))
    batch = mixed_batch()
    out = model(batch["lq"])
    loss, _ = total_loss(out, batch, {"l1": 1, "contrastive": 0.1, "uniformity": 0.1, "balance": 0.1})
    loss.backward()
    for n, p in model.named_parameters():
        assert p.grad is not None, f"no gradient for {n}"
        assert p.grad.abs().sum() > 0, f"zero gradient for {n}"


def test_each_expert_and_router_gets_gradient_with_topk():
    torch.manual_seed(1)
    model = _activate(SLERIR(SMALL))  # top_k=2 of 4: each expert must still be chosen somewhere
    batch = mixed_batch(b=6, p=48, seed=3)
    out = model(batch["lq"])
    out.image.abs().mean().backward()
    for i, name in enumerate(model.layer_names):
        r = model.router(i)
        assert r.keys.grad is not None and r.keys.grad.abs().sum() > 0, f"router {name} got no gradient"


def test_embeddings_unit_norm_and_routing_is_topk():
    torch.manual_seed(0)
    model = _activate(SLERIR(SMALL)).eval()
    x = torch.rand(2, 3, 64, 48)
    out = model(x, top_k=2)
    e = out.embeddings
    assert torch.allclose(e.global_.norm(dim=1), torch.ones(2), atol=1e-5)
    assert torch.allclose(e.local.norm(dim=1), torch.ones_like(e.local[:, 0]), atol=1e-5)
    assert torch.allclose(e.fused.norm(dim=1), torch.ones_like(e.fused[:, 0]), atol=1e-5)
    assert len(out.routing) == len(model.layer_names)
    for r in out.routing:
        assert r.weights.shape[1] == SMALL.num_experts
        assert torch.allclose(r.weights.sum(1), torch.ones_like(r.weights[:, 0]), atol=1e-5)
        assert ((r.weights > 0).sum(1) == 2).all(), r.name
        chosen = torch.zeros_like(r.weights, dtype=torch.bool).scatter(1, r.topk, True)
        assert ((r.weights > 0) == chosen).all()
    for k in (1, 3, 4):
        out_k = model(x, top_k=k)
        assert all(((r.weights > 0).sum(1) == k).all() for r in out_k.routing)


def test_routing_levels_and_resolution():
    model = SLERIR(SMALL).eval()
    out = model(torch.rand(1, 3, 64, 64))
    for r in out.routing:
        assert r.weights.shape[-1] == 64 // (2 * 2 ** r.level), r.name
    assert out.layer("mid.b0").level == len(SMALL.widths) - 1
    with pytest.raises(KeyError):
        out.layer("nope")


def test_fusion_ablations_alpha_constant():
    model = SLERIR(SMALL).eval()
    x = torch.rand(1, 3, 32, 32)
    g = model(x, fusion="global")
    assert (g.embeddings.alpha == 1).all()
    assert torch.allclose(g.embeddings.fused, g.embeddings.global_[:, :, None, None].expand_as(g.embeddings.fused))
    lo = model(x, fusion="local")
    assert (lo.embeddings.alpha == 0).all()
    assert torch.allclose(lo.embeddings.fused, lo.embeddings.local)


def test_linear_ablation_embedding_not_normalised():
    torch.manual_seed(0)
    model = SLERIR(SMALL.replace(router="linear")).eval()
    out = model(torch.rand(2, 3, 32, 32))
    assert not torch.allclose(out.embeddings.global_.norm(dim=1), torch.ones(2), atol=1e-3)


def test_blocks_own_their_routers_and_the_shared_ablation_passes_one():
    m = SLERIR(SMALL)
    blocks = m.routed_blocks()
    assert [b.name for b in blocks] == m.layer_names
    assert len({id(b.router) for b in blocks}) == len(blocks)
    names = set(m.state_dict())
    for path, mod in m.named_modules():
        if mod in blocks:
            assert f"{path}.router.keys" in names and f"{path}.router.log_scale" in names
    shared = SLERIR(SMALL.replace(shared_router=True))
    assert all(b.router is shared.shared_router for b in shared.routed_blocks())
    assert m.router(0) is blocks[0].router and shared.router(0) is shared.router(len(shared.layer_names) - 1)
    keys = [k for k in shared.state_dict() if "router" in k]
    assert keys == ["shared_router.keys", "shared_router.log_scale"]  # saved once, not once per block
    assert sum(p.numel() for p in shared.parameters()) < sum(p.numel() for p in m.parameters())


def test_routed_block_returns_its_routing():
    torch.manual_seed(0)
    m = _activate(SLERIR(SMALL)).eval()
    blk = m.routed_blocks()[0]
    x = torch.randn(2, SMALL.widths[0], 8, 6)
    z = F.normalize(torch.randn(2, SMALL.embed_dim, 8, 6), dim=1)
    y, r = blk(x, z, None, top_k=2)
    assert y.shape == x.shape and r.name == blk.name and r.level == 0
    assert r.weights.shape == (2, SMALL.num_experts, 8, 6) and ((r.weights > 0).sum(1) == 2).all()
    assert torch.equal(r.logits, blk.router(z))
    y1, r1 = blk(x, z, None, top_k=2, force=3)
    assert (r1.weights[:, 3] == 1).all() and not torch.allclose(y1, y)


def test_expert_ffn_mixture_is_exact():
    torch.manual_seed(0)
    ffn = ExpertFFN(8, [4, 4, 8])
    with torch.no_grad():
        ffn.bias_out.normal_()
    x = torch.randn(2, 8, 5, 5)
    w = torch.rand(2, 3, 5, 5)
    w = w / w.sum(1, keepdim=True)
    each = ffn.expert_outputs(x)  # (B,E,c,H,W)
    mix = (each * w[:, :, None]).sum(1)
    assert torch.allclose(ffn(x, w), mix, atol=1e-5)


def test_topk_force_expert():
    logits = torch.randn(2, 4, 3, 3)
    w, idx, _ = topk_weights(logits, 2, force=3)
    assert (w[:, 3] == 1).all() and (w.sum(1) == 1).all()
    model = SLERIR(SMALL).eval()
    out = model(torch.rand(1, 3, 32, 32), force_expert={"mid.b0": 1})
    assert (out.layer("mid.b0").weights[:, 1] == 1).all()


def test_prototypes_uniform():
    p = uniform_prototypes(6, 3)
    assert torch.allclose(p.norm(dim=1), torch.ones(6))
    g = p @ p.T
    off = g[~torch.eye(6, dtype=torch.bool)]
    # octahedron: every pair is orthogonal or antipodal
    assert torch.all((off.abs() < 1e-6) | ((off + 1).abs() < 1e-6))
    q = uniform_prototypes(6, 8, iters=300)
    assert torch.allclose(q.norm(dim=1), torch.ones(6), atol=1e-5)
    assert (q @ q.T)[~torch.eye(6, dtype=torch.bool)].max() < 0.1  # well spread in 8-D


def test_slerp_endpoints_and_norm():
    a = F.normalize(torch.randn(2, 3, 4, 4), dim=1)
    b = F.normalize(torch.randn(2, 3, 4, 4), dim=1)
    assert torch.allclose(slerp(a, b, torch.zeros(2, 1, 4, 4)), a, atol=1e-3)
    assert torch.allclose(slerp(a, b, torch.ones(2, 1, 4, 4)), b, atol=1e-3)
    mid = slerp(a, b, torch.full((2, 1, 4, 4), 0.5))
    assert torch.allclose(mid.norm(dim=1), torch.ones(2, 4, 4), atol=1e-5)
    # equal angle to both ends
    assert torch.allclose((mid * a).sum(1), (mid * b).sum(1), atol=1e-3)
    # identical inputs: no NaN in values or gradients
    t = torch.full((2, 1, 4, 4), 0.3, requires_grad=True)
    a2 = a.clone().requires_grad_(True)
    slerp(a2, a2, t).sum().backward()
    assert torch.isfinite(a2.grad).all() and torch.isfinite(t.grad).all()


def test_model_pads_any_size_and_crops_back():
    """STYLE.md #14: callers need not know the multiple; an odd-sized input gives the result of the padded
    input (reflect, bottom/right) cropped back."""
    from slerir.model import pad_to_multiple

    torch.manual_seed(0)
    model = _activate(SLERIR(SMALL)).eval()
    x = torch.rand(1, 3, 30, 21)
    m = SMALL.pad_multiple
    with torch.no_grad():
        out = model(x)
        xp, h, w = pad_to_multiple(x, m)
        ref = model(xp)
    assert xp.shape[-2:] == (32, 24) and (h, w) == (30, 21)
    assert out.image.shape == x.shape
    assert torch.equal(out.image, ref.image[..., :30, :21])
    assert out.layer("enc0.b0").weights.shape[-2:] == (16, 12)  # maps cover the padded image
    with torch.no_grad():
        tiny = model(torch.rand(1, 3, 3, 2))  # too small to reflect: replicated
    assert tiny.image.shape[-2:] == (3, 2) and torch.isfinite(tiny.image).all()


def test_options_checked_once_with_a_typed_error():
    from slerir.model import OptionError

    model = SLERIR(SMALL).eval()
    x = torch.rand(1, 3, 32, 32)
    for kw in ({"top_k": 9}, {"top_k": 0}, {"top_k": 1.5}, {"top_k": "two"}, {"fusion": "bogus"},
               {"force_expert": {"nope": 0}}, {"force_expert": {"mid.b0": SMALL.num_experts}},
               {"force_expert": {"mid.b0": "x"}}):
        with pytest.raises(OptionError):
            model(x, **kw)
        with pytest.raises(OptionError):
            model.check_options(**kw)
    assert issubclass(OptionError, ValueError)
    assert model.check_options() == SMALL.top_k and model.check_options(top_k=3.0) == 3


def test_model_module_does_not_import_inference():
    import subprocess
    import sys

    code = "import sys, slerir.model, slerir.checkpoint; print('slerir.inference' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_config_validation_and_presets():
    with pytest.raises(ValueError):
        ModelConfig(num_experts=3)
    with pytest.raises(ValueError):
        ModelConfig(router="cosine")
    with pytest.raises(KeyError):
        get_config("huge")
    cfg = get_config("tiny")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="does not know"):
        ModelConfig.from_dict({**cfg.to_dict(), "bogus": 1})
    n_paper = sum(p.numel() for p in SLERIR(PRESETS["paper"]).parameters())
    assert 25e6 <= n_paper <= 35e6, n_paper
    with pytest.raises(Exception):
        cfg.top_k = 3  # frozen


@pytest.mark.parametrize("global_cond", [False, True])
def test_global_conditioning_is_the_only_whole_image_path_besides_z_g(global_cond):
    """With local-only fusion a far-away change reaches a pixel only through the pooled-feature
    conditioning (the backbone has no global pooling of its own)."""
    torch.manual_seed(0)
    model = _activate(SLERIR(SMALL.replace(global_cond=global_cond))).eval()
    if global_cond:
        for blk in model.modules():
            if getattr(blk, "cond", None) is not None:
                blk.cond.weight.data.normal_(0, 0.5)
    g = torch.Generator().manual_seed(1)
    a = torch.rand(1, 3, 32, 256, generator=g)
    b = a.clone()
    b[..., 192:] = 0.0  # change only the right quarter (to black)
    with torch.no_grad():
        ya, yb = model(a, fusion="local").image, model(b, fusion="local").image
    near_left = (ya[..., :16] - yb[..., :16]).abs().max().item()
    if global_cond:
        assert near_left > 1e-4
    else:
        assert near_left == 0.0


def test_new_encoder_stem_and_conditioning_shapes():
    assert get_config("tiny").enc_stem == "conv" and get_config("tiny").global_cond
    model = SLERIR(SMALL.replace(enc_stem="unshuffle4", global_cond=False))
    assert not any(n.endswith("cond.weight") for n, _ in model.named_parameters())
    with pytest.raises(ValueError, match="enc_stem"):
        SMALL.replace(enc_stem="bogus")


def test_context_pools_the_global_statistics_of_a_wider_view():
    torch.manual_seed(0)
    model = _activate(SLERIR(get_config("tiny", widths=(8, 16, 32), enc_blocks=(1, 1), mid_blocks=1,
                                        dec_blocks=(1, 1), enc_width=8))).eval()
    g = torch.Generator().manual_seed(1)
    x, wide = torch.rand(2, 3, 32, 32, generator=g), torch.rand(2, 3, 80, 72, generator=g)
    with torch.no_grad():
        own = model(x)
        same = model(x, context=x)  # a patch as its own context: the plain forward
        ctx = model(x, context=wide)
        stats = model(x, global_stats=model.global_stats(wide))
    assert torch.allclose(own.image, same.image, atol=1e-6)
    assert torch.allclose(ctx.image, stats.image, atol=1e-6)
    assert torch.allclose(ctx.embeddings.global_, stats.embeddings.global_, atol=1e-6)
    assert not torch.allclose(ctx.embeddings.global_, own.embeddings.global_, atol=1e-3)
    # the global embedding's losses train the encoder through the context
    model.train()
    wide.requires_grad_(True)
    model(x, context=wide).proto_sim_global[:, 0].sum().backward()
    assert wide.grad is not None and wide.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="context or global_stats"):
        model(x, context=wide, global_stats=model.global_stats(wide))


def test_router_scale_floor_and_v2_routing_terms():
    """router_scale_min keeps every router's scale above the floor (the first recipe's scales fell to
    0.05-0.45 and tied every pixel); the aux terms measure marginal balance and per-pixel entropy."""
    import math
    from slerir.config import get_config
    from slerir.model import SLERIR

    torch.manual_seed(0)
    cfg = get_config("tiny", router_scale_min=8.0, init_router_scale=10.0)
    m = SLERIR(cfg)
    for r in (b.router for b in m.routed_blocks()):
        assert abs(float(r.scale().detach()) - 10.0) < 1e-4
        with torch.no_grad():
            r.log_scale.fill_(-20.0)  # what the collapse did to exp(log_scale)
        assert float(r.scale().detach()) >= 8.0
    out = m(torch.rand(2, 3, 32, 32))
    for name in ("balance_mi", "entropy"):
        v = float(out.aux[name])
        assert 0.0 <= v <= 1.0 + 1e-6, (name, v)
    # a uniform router (scale -> 0 without a floor) has maximal entropy and perfect balance
    flat = SLERIR(get_config("tiny"))
    for r in (b.router for b in flat.routed_blocks()):
        with torch.no_grad():
            r.log_scale.fill_(-30.0)
    o = flat(torch.rand(2, 3, 32, 32))
    assert abs(float(o.aux["entropy"]) - 1.0) < 1e-4
    assert abs(float(o.aux["balance_mi"])) < 1e-4
    # the entropy term has a gradient into the router keys and scale (the embedding is detached)
    out.aux["entropy"].backward()
    assert m.router(0).keys.grad is not None and m.router(0).log_scale.grad is not None
    assert math.isfinite(float(m.router(0).log_scale.grad))


@pytest.mark.parametrize("context", [0, 3])
def test_fused_routing_loss_trains_only_the_glgf_gate_towards_the_local_class(context):
    """w_fused (v2.2): the fused embedding the routers see is pulled towards each cell's class. Through the
    stop-gradient only the GLGF gate learns from it, and on a composite it lowers the global share alpha
    where the local cue is right and the global one is not."""
    from slerir.losses import contrastive_losses

    torch.manual_seed(0)
    model = SLERIR(SMALL.replace(glgf_context=context))
    batch = mixed_batch(b=4, p=32, seed=1)
    out = model(batch["lq"])
    terms = contrastive_losses(out, batch["frac"], batch["mask"])
    assert "con_fused" in terms and math.isfinite(float(terms["con_fused"]))
    terms["con_fused"].backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert any(g is not None and g.abs().sum() > 0 for n, g in grads.items() if n.startswith("glgf.net"))
    assert all(g is None or g.abs().sum() == 0 for n, g in grads.items() if not n.startswith("glgf."))
    # the weight enters the total loss only when set
    out = model(batch["lq"])
    base = {"l1": 1, "contrastive": 0.1, "uniformity": 0.0, "balance": 0.0}
    l0, logs = total_loss(out, batch, base)
    l1, _ = total_loss(out, batch, {**base, "fused": 0.5})
    assert abs(float(l1 - l0) - 0.5 * logs["con_fused"]) < 1e-4

    # a gate fed a perfect local cue and a global cue halfway between two classes learns to trust the local one
    protos = model.prototypes.detach()
    j = int(next(k for k in range(1, len(protos)) if abs(float(protos[0] @ protos[k])) < 0.5))  # not antipodal
    zl = torch.cat([protos[0].view(1, -1, 1, 1).expand(1, -1, 4, 2), protos[j].view(1, -1, 1, 1).expand(1, -1, 4, 2)], 3)
    zg = F.normalize(protos[0] + protos[j], dim=0)[None]  # the whole image: halfway between the two
    target = torch.zeros(1, len(CLASSES), 4, 4)
    target[0, 0, :, :2] = 1
    target[0, j, :, 2:] = 1
    gate = model.glgf
    opt = torch.optim.Adam(gate.parameters(), lr=1e-2)
    _, a0 = gate(zg, zl)
    for _ in range(100):
        z, _ = gate(zg, zl)
        sims = torch.einsum("bdhw,kd->bkhw", F.normalize(z, dim=1), protos)
        loss = -(target * (sims / 0.1).log_softmax(1)).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    _, a1 = gate(zg, zl)
    assert float(a1.mean()) < 0.5 * float(a0.mean())


def test_glgf_context_gate_sees_regional_agreement():
    """glgf_context k: the gate gets two more inputs, cos(z_l, regional mean) and cos(regional mean, z_g);
    a cell agreeing with its region scores 1 on the first; k must be 0 or odd."""
    from slerir.model import GLGF

    with pytest.raises(ValueError, match="glgf_context"):
        SMALL.replace(glgf_context=4)
    with pytest.raises(ValueError, match="glgf_context"):
        SMALL.replace(glgf_context=-1)
    cfg = SMALL.replace(glgf_context=3)
    gate = GLGF(cfg)
    p = uniform_prototypes(cfg.num_classes, cfg.embed_dim)
    j = int(next(k for k in range(1, len(p)) if abs(float(p[0] @ p[k])) < 0.5))
    zl = torch.cat([p[0].view(1, -1, 1, 1).expand(1, -1, 6, 3), p[j].view(1, -1, 1, 1).expand(1, -1, 6, 3)], 3)
    zl = zl.clone()
    zl[:, :, 1, 1] = p[j]  # a stray cell inside the left region
    zg = p[0][None]
    x = gate.gate_inputs(zg[:, :, None, None].expand_as(zl), zl)
    d = cfg.embed_dim
    assert x.shape == (1, 2 * d + 3, 6, 6)
    agree, region_vs_global = x[0, 2 * d + 1], x[0, 2 * d + 2]
    assert float(agree[4, 0]) > 0.99                         # deep in the left region
    assert float(agree[1, 1]) < float(agree[4, 0]) - 0.2     # the stray cell disagrees with its region
    assert float(region_vs_global[4, 5]) < 0.1               # the right region differs from z_g
    assert float(region_vs_global[4, 0]) > 0.99              # left region agrees with z_g
    assert GLGF(SMALL).gate_inputs(zg[:, :, None, None].expand_as(zl), zl).shape[1] == 2 * d + 1


def test_glgf_max_global_bounds_the_global_share():
    """glgf_max_global m (v2.6): alpha = m * sigmoid(gate), so the global cue never weighs more than m; the same
    gate weights give exactly m times the unbounded alpha; the "global"/"local" modes still give 1 and 0."""
    from slerir.model import GLGF

    for bad in (0.0, -0.5, 1.5):
        with pytest.raises(ValueError, match="glgf_max_global"):
            SMALL.replace(glgf_max_global=bad)
    torch.manual_seed(0)
    free, bounded = GLGF(SMALL.replace(glgf_context=3)), GLGF(SMALL.replace(glgf_context=3, glgf_max_global=0.5))
    bounded.load_state_dict(free.state_dict())
    with torch.no_grad():  # a gate that wants the global cue everywhere
        free.net[-1].bias.fill_(8.0)
        bounded.net[-1].bias.fill_(8.0)
    zg = F.normalize(torch.randn(2, SMALL.embed_dim), dim=1)
    zl = F.normalize(torch.randn(2, SMALL.embed_dim, 5, 4), dim=1)
    z_free, a_free = free(zg, zl)
    z_b, a_b = bounded(zg, zl)
    assert float(a_free.min()) > 0.99
    assert float(a_b.max()) <= 0.5 and torch.allclose(a_b, 0.5 * a_free)
    # the bounded fused embedding stays nearer the local cue than the global one
    cos = lambda a, b: (a * b).sum(1)
    assert bool((cos(z_b, zl) >= cos(z_b, zg[:, :, None, None].expand_as(zl)) - 1e-5).all())
    assert float(bounded(zg, zl, "global")[1].min()) == 1.0 and float(bounded(zg, zl, "local")[1].max()) == 0.0
