"""SLER-IR: Spherical Layer-wise Expert Routing for All-in-One Image Restoration (arXiv 2603.05940).

The paper is public only as its abstract. This module implements its three ideas as
``shared/DESIGN.md`` describes them; everything the abstract leaves open is our choice and is
marked "ours" below.

1. Layer-wise expert routing: every routed block owns a pool of E experts and its own cosine
   router, so layers can pick different specialists.
2. Spherical uniform degradation embedding: the degradation encoder maps an image to unit-norm
   global z_g (B,d) and local z_l (B,d,h,w) embeddings; K unit prototypes are uniformly spread
   (the octahedron for K=6, d=3). A linear, unnormalised embedding (the "linear" ablation) lets
   its norm bias the router.
3. Global-Local Granularity Fusion (GLGF): per location a global share alpha(p) in [0,1] and a fused
   embedding z(p) = slerp(z_l(p), z_g, alpha(p)), unit-norm.

Einsum letters: b batch, e experts, d embedding dims, c channels, h/w spatial.

Backbone (ours): pixel-unshuffle stem (no work at full resolution), NAFNet-style blocks
(depthwise conv + simple gate, no global pooling) in a U-Net, pixel-shuffle out, residual.
The feed-forward part of every block is replaced by an expert layer whose E experts together
cost about one ordinary feed-forward part; experts are computed densely and masked to the top-k
(simple and fast at small E; exact, see ``ExpertFFN``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import ModelConfig

# ----------------------------------------------------------------------------------------------
# Typed outputs (STYLE.md #3): analysis/ and demo/ read routing by name, never through hooks.


@dataclass
class LayerRouting:
    """Routing of one routed layer.

    Attributes:
        name: stable layer name, e.g. "enc0.b0", "mid.b2", "dec1.b0".
        level: U-Net level (0 = H/2 after the stem, 1 = H/4, ...).
        weights: (B,E,h,w) routing weights: non-negative, exactly top_k non-zeros per pixel, sum 1.
        topk: (B,k,h,w) indices of the chosen experts, best first.
        logits: (B,E,h,w) router logits before the softmax.
    """

    name: str
    level: int
    weights: torch.Tensor
    topk: torch.Tensor
    logits: torch.Tensor


@dataclass
class Embeddings:
    """Degradation embeddings. global_ (B,d); local/fused (B,d,h,w); alpha (B,1,h,w) global share.
    All unit-norm along d, except under the "linear" ablation."""

    global_: torch.Tensor
    local: torch.Tensor
    fused: torch.Tensor
    alpha: torch.Tensor


@dataclass
class RestorationOutput:
    """What ``SLERIR.forward`` returns.

    Attributes:
        image: (B,3,H,W) restored image (not clamped during training).
        routing: one ``LayerRouting`` per routed layer, in forward order.
        embeddings: global/local/fused embeddings and the GLGF alpha map.
        proto_sim_global: (B,K) cosine similarity of z_g to each class prototype.
        proto_sim_local: (B,K,h,w) cosine similarity of z_l to each prototype.
        aux: unweighted auxiliary losses (load balance, uniformity); training weights them.
        proto_sim_fused: (B,K,h,w) cosine similarity of the fused embedding z (what the routers see)
            to each prototype.
    """

    image: torch.Tensor
    routing: list[LayerRouting]
    embeddings: Embeddings
    proto_sim_global: torch.Tensor
    proto_sim_local: torch.Tensor
    aux: dict[str, torch.Tensor] = field(default_factory=dict)
    proto_sim_fused: torch.Tensor | None = None

    def layer(self, name: str) -> LayerRouting:
        for r in self.routing:
            if r.name == name:
                return r
        raise KeyError(f"no routed layer named {name!r}; have {[r.name for r in self.routing]}")


# ----------------------------------------------------------------------------------------------
# Geometry helpers


def uniform_prototypes(k: int, d: int, seed: int = 0, iters: int = 2000) -> torch.Tensor:
    """K unit vectors in R^d spread uniformly: the exact cross-polytope (octahedron for d=3) when
    k == 2d, the simplex when k <= d + 1, else a Thomson-problem minimisation with a fixed seed."""
    if k == 2 * d:
        eye = torch.eye(d)
        # order: +e0, -e0, +e1, -e1, ... so "clean" and "noise" sit opposite each other
        return torch.stack([v for i in range(d) for v in (eye[i], -eye[i])])
    if k <= d + 1:
        # regular simplex in R^k centred, embedded into R^d via QR
        e = torch.eye(k) - 1.0 / k
        q, _ = torch.linalg.qr(e.T)
        pts = e @ q[:, : k - 1]
        pts = F.normalize(pts, dim=1)
        out = torch.zeros(k, d)
        out[:, : k - 1] = pts
        return out
    g = torch.Generator().manual_seed(seed)
    p = F.normalize(torch.randn(k, d, generator=g), dim=1).requires_grad_(True)
    opt = torch.optim.Adam([p], lr=0.01)
    for _ in range(iters):
        q = F.normalize(p, dim=1)
        dist2 = torch.cdist(q, q).pow(2) + torch.eye(k) * 1e6
        loss = torch.exp(-2 * dist2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return F.normalize(p.detach(), dim=1)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Spherical interpolation between unit tensors a (t=0) and b (t=1) along ``dim``.

    Numerically safe: the dot product is clamped away from +-1, so the angle's sin never vanishes
    (no NaN gradients); the result is renormalised."""
    dot = (a * b).sum(dim, keepdim=True).clamp(-1 + 1e-4, 1 - 1e-4)
    theta = torch.acos(dot)
    s = torch.sin(theta)
    out = torch.sin((1 - t) * theta) / s * a + torch.sin(t * theta) / s * b
    return F.normalize(out, dim=dim)


def resize_embedding(z: torch.Tensor, size: tuple[int, int], normalize: bool) -> torch.Tensor:
    """Resample a (B,d,h,w) embedding field to ``size`` (bilinear), renormalised on the sphere."""
    if z.shape[-2:] != size:
        z = F.interpolate(z, size=size, mode="bilinear", align_corners=False)
    return F.normalize(z, dim=1) if normalize else z


def pad_to_multiple(x: torch.Tensor, m: int) -> tuple[torch.Tensor, int, int]:
    """Pad (..., H, W) at the bottom and right to multiples of ``m`` (reflect; replicate where the
    image is too small to reflect); returns the padded tensor and the original H, W to crop back to.
    A channels-last input stays channels-last (the convolutions then take the same path, bit for bit)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % m, (-w) % m
    if ph or pw:
        channels_last = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
        mode = "reflect" if h > ph and w > pw else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
    return x, h, w


class OptionError(ValueError):
    """An inference option (``top_k``, ``fusion``, ``force_expert``) this model cannot take; the message
    names the values it can. Raised by ``SLERIR.check_options``, the one place they are checked."""


FUSIONS = ("glgf", "global", "local")  # GLGF, and its global-only / local-only ablations at inference


# ----------------------------------------------------------------------------------------------
# Building blocks


class LayerNorm2d(nn.Module):
    """LayerNorm over channels of a (B,C,H,W) tensor."""

    def __init__(self, c: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        x = (x - mu) / torch.sqrt(var + self.eps)
        return x * self.weight[:, None, None] + self.bias[:, None, None]


class SimpleGate(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return a * b


def expert_widths(cfg: ModelConfig, c: int) -> list[int]:
    """Hidden widths of the E experts of a block with c channels; they sum to about ffn_expand*c."""
    total = cfg.ffn_expand * c
    s = sum(cfg.expert_ratios)
    return [max(4, int(round(total * r / s))) for r in cfg.expert_ratios]


class ExpertFFN(nn.Module):
    """E feed-forward experts (conv1x1 -> simple gate -> conv1x1), computed densely as one block-
    diagonal layer and mixed per pixel by the routing weights.

    expert_e(x) = W2_e gate(W1_e x + b1_e) + b2_e. Because W2 is linear, scaling expert e's hidden
    channels by w_e(p) and applying the concatenated W2 gives sum_e w_e(p) W2_e h_e(p) exactly; the
    output biases are mixed as sum_e w_e(p) b2_e. Unselected experts have w_e = 0 and contribute
    nothing (so their parameters get no gradient on pixels where they are unused).
    """

    def __init__(self, c: int, widths: list[int]):
        super().__init__()
        self.widths = widths
        hidden = sum(widths)
        # conv_in produces [a_0..a_E | b_0..b_E] so SimpleGate pairs a_e with b_e per expert
        self.conv_in = nn.Conv2d(c, 2 * hidden, 1)
        self.conv_out = nn.Conv2d(hidden, c, 1, bias=False)
        self.bias_out = nn.Parameter(torch.zeros(len(widths), c))
        self.register_buffer("expand_idx", torch.repeat_interleave(torch.arange(len(widths)), torch.tensor(widths)), persistent=False)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        # x (B,c,H,W), w (B,E,H,W)
        h = self.conv_in(x)
        a, b = h.chunk(2, dim=1)
        h = a * b  # (B,hidden,H,W)
        h = h * w.index_select(1, self.expand_idx)  # each expert's channels times its weight
        out = self.conv_out(h)
        return out + torch.einsum("behw,ec->bchw", w, self.bias_out)

    def expert_outputs(self, x: torch.Tensor) -> torch.Tensor:
        """(B,E,c,H,W) each expert's output alone (for tests and analysis)."""
        outs = []
        for e in range(len(self.widths)):
            w = torch.zeros(x.shape[0], len(self.widths), *x.shape[-2:], device=x.device, dtype=x.dtype)
            w[:, e] = 1
            outs.append(self.forward(x, w))
        return torch.stack(outs, 1)


class Router(nn.Module):
    """Cosine router (spherical) or linear router (ablation) for one layer (or shared by all).

    spherical: logits(p) = s * cos(z(p), key_e), keys unit-norm, s = scale_min + exp(log_scale)
               learned (``ModelConfig.router_scale_min``; 0 in the first recipe).
    linear:    logits(p) = W z(p) + b on the unnormalised embedding (norm biases the routing).
    """

    def __init__(self, d: int, num_experts: int, mode: str, init_scale: float, seed: int, scale_min: float = 0.0):
        super().__init__()
        self.mode = mode
        self.scale_min = float(scale_min)
        g = torch.Generator().manual_seed(seed)
        if mode == "spherical":
            self.keys = nn.Parameter(F.normalize(torch.randn(num_experts, d, generator=g), dim=1))
            self.log_scale = nn.Parameter(torch.tensor(math.log(max(init_scale - scale_min, 1e-3))))
        else:
            self.proj = nn.Conv2d(d, num_experts, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z (B,d,h,w) -> logits (B,E,h,w)."""
        if self.mode == "spherical":
            keys = F.normalize(self.keys, dim=1)
            return self.scale() * torch.einsum("bdhw,ed->behw", z, keys)
        return self.proj(z)

    def scale(self) -> torch.Tensor:
        """The cosine router's scale s (a 0-d tensor)."""
        s = self.log_scale.exp()
        return s + self.scale_min if self.scale_min else s


def topk_weights(logits: torch.Tensor, k: int, force: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Softmax, keep the top-k, renormalise.

    Args:
        logits: (B,E,h,w).
        k: experts kept per pixel.
        force: if given, route every pixel to this expert alone (analysis "force an expert").
    Returns:
        weights (B,E,h,w) with exactly k non-zeros per pixel summing to 1, topk indices (B,k,h,w),
        and the full softmax probabilities (B,E,h,w) for the load-balancing loss.
    """
    probs = logits.softmax(1)
    if force is not None:
        idx = torch.full_like(logits[:, :1], force, dtype=torch.long)
        w = torch.zeros_like(probs).scatter_(1, idx, 1.0)
        return w, idx, probs
    top, idx = probs.topk(k, dim=1)
    top = top / top.sum(1, keepdim=True).clamp_min(1e-12)
    w = torch.zeros_like(probs).scatter(1, idx, top)
    return w, idx, probs


class RoutedBlock(nn.Module):
    """One routed layer: spatial mixing (LN, 1x1, depthwise 3x3, gate, 1x1), then E experts mixed per
    pixel by the block's router (STYLE.md #13: the block owns its router and returns its routing).

    Ours: no global pooling (NAFNet's channel attention is left out) so that every output pixel
    depends only on its neighbourhood and on z_g; a tiled run then computes the same function as
    an untiled one (z_g is handed to every tile).

    Args:
        c: channels.
        cfg: the model config.
        name: stable layer name ("enc0.b0", "mid.b2", ...), the name of its ``LayerRouting``.
        level: U-Net level (0 = H/2 after the stem).

    The router comes from ``set_router``: a block's own router is saved under ``<block>.router.*``; the
    "shared router" ablation hands one instance to every block and the model saves it once.
    """

    def __init__(self, c: int, cfg: ModelConfig, name: str, level: int):
        super().__init__()
        self.name, self.level = name, level
        # global conditioning (ours): per-channel scale/shift of both normalised inputs from the
        # encoder's pooled features; zero-initialised so a fresh block starts unconditioned
        self.cond = nn.Linear(cfg.enc_width, 4 * c) if cfg.global_cond else None
        if self.cond is not None:
            nn.init.zeros_(self.cond.weight)
            nn.init.zeros_(self.cond.bias)
        self.norm1 = LayerNorm2d(c)
        self.conv1 = nn.Conv2d(c, 2 * c, 1)
        self.dw = nn.Conv2d(2 * c, 2 * c, 3, padding=1, groups=2 * c)
        self.gate = SimpleGate()
        self.conv2 = nn.Conv2d(c, c, 1)
        self.norm2 = LayerNorm2d(c)
        self.experts = ExpertFFN(c, expert_widths(cfg, c))
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    def set_router(self, router: Router, shared: bool = False) -> None:
        """Give the block its router (after the backbone is built, so that every block's initialisation
        draws the same random numbers with or without its own router). A shared router is referenced,
        not registered: the model registers it once."""
        if shared:
            self.__dict__["router"] = router
        else:
            self.router = router

    def forward(self, x: torch.Tensor, z: torch.Tensor, g: torch.Tensor | None = None, top_k: int = 2,
                force: int | None = None) -> tuple[torch.Tensor, LayerRouting]:
        """Route, then transform.

        Args:
            x: (B,c,H,W) features.
            z: (B,d,H,W) fused embedding at this block's resolution.
            g: (B,enc_width) pooled encoder features (global conditioning), or None.
            top_k: experts kept per pixel.
            force: route every pixel to this expert alone (analysis), or None.
        Returns:
            the block's output (B,c,H,W) and its ``LayerRouting``.
        """
        logits = self.router(z)  # (B,E,H,W)
        w, idx, _ = topk_weights(logits, top_k, force)
        routing = LayerRouting(self.name, self.level, w, idx, logits)
        w = w.to(x.dtype)
        n1 = self.norm1(x)
        film = None
        if self.cond is not None and g is not None:
            film = self.cond(g)[:, :, None, None].to(x.dtype).chunk(4, dim=1)  # scale1, shift1, scale2, shift2
            n1 = n1 * (1 + film[0]) + film[1]
        y = self.gate(self.dw(self.conv1(n1)))
        x = x + self.conv2(y) * self.beta
        n2 = self.norm2(x)
        if film is not None:
            n2 = n2 * (1 + film[2]) + film[3]
        return x + self.experts(n2, w) * self.gamma, routing


# ----------------------------------------------------------------------------------------------
# Degradation encoder and GLGF


class DegradationEncoder(nn.Module):
    """Maps the input to local features at H/8 and to embeddings.

    Ours: pixel-unshuffle x4 (no work at full resolution), a strided conv to H/8, a few
    depthwise residual blocks; local head 1x1 -> d; global head = MLP on the mean-pooled features.
    The global embedding is a function of *pooled* features only, so a tiled run can accumulate
    the pooled features over all tiles first and hand the same z_g to every tile.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c = cfg.enc_width
        if cfg.enc_stem == "conv":
            # ours: 3x3 convolutions at H/2 and H/4 see pixel-level texture before pooling
            self.stem = nn.Sequential(nn.PixelUnshuffle(2), nn.Conv2d(12, c, 3, padding=1), nn.GELU(),
                                      nn.Conv2d(c, c, 3, stride=2, padding=1), nn.GELU(),
                                      nn.Conv2d(c, c, 3, padding=1, groups=c), nn.Conv2d(c, c, 1), nn.GELU(),
                                      nn.Conv2d(c, c, 3, stride=2, padding=1), nn.GELU())
        else:
            self.stem = nn.Sequential(nn.PixelUnshuffle(4), nn.Conv2d(48, c, 1), nn.GELU(),
                                      nn.Conv2d(c, c, 3, stride=2, padding=1), nn.GELU())
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, c, 3, padding=1, groups=c), nn.Conv2d(c, 2 * c, 1), nn.GELU(), nn.Conv2d(2 * c, c, 1))
            for _ in range(cfg.enc_blocks_deg)
        )
        self.local_head = nn.Conv2d(c, cfg.embed_dim, 1)
        # global head on the *mean* of the local features: a mean over a 64-px training patch and
        # over a whole photo estimate the same quantity (a std over the image would also measure
        # content variation across the photo, which patches never see: a train/test mismatch)
        self.global_head = nn.Sequential(nn.LayerNorm(c), nn.Linear(c, 2 * c), nn.GELU(), nn.Linear(2 * c, cfg.embed_dim))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x (B,3,H,W), H,W multiples of 8 -> features (B,c,H/8,W/8)."""
        f = self.stem(x)
        for blk in self.blocks:
            f = f + blk(f)
        return f

    @staticmethod
    def pool_stats(f: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Sufficient statistics for the global head: feature sum and count (tile-additive)."""
        return f.sum((2, 3)), f.shape[-1] * f.shape[-2]

    def global_from_stats(self, s1: torch.Tensor, n: int) -> torch.Tensor:
        return self.global_head(s1 / n)


class GLGF(nn.Module):
    """Global-Local Granularity Fusion: alpha(p) = sigmoid(g([z_g, z_l(p), <z_g, z_l(p)>, ...])) and
    z(p) = slerp(z_l(p), z_g, alpha(p)). With ``glgf_context`` k > 0 the gate also sees the regional
    agreement cos(z_l(p), r(p)) and cos(r(p), z_g), r(p) the mean local embedding over a k x k window
    (see ``ModelConfig.glgf_context``); alpha is at most ``ModelConfig.glgf_max_global``. Ablations: fusion
    "global" (alpha=1), "local" (alpha=0)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d = cfg.embed_dim
        self.mode = cfg.fusion
        self.spherical = cfg.router == "spherical"
        self.context = int(cfg.glgf_context)
        self.max_global = float(cfg.glgf_max_global)
        self.net = nn.Sequential(nn.Conv2d(2 * d + (3 if self.context else 1), 16, 1), nn.GELU(), nn.Conv2d(16, 1, 1))

    def gate_inputs(self, zg_map: torch.Tensor, zl: torch.Tensor) -> torch.Tensor:
        """(B, 2d+1 or 2d+3, h, w): what the gate sees at each cell."""
        cos = lambda a, b: (F.normalize(a, dim=1) * F.normalize(b, dim=1)).sum(1, keepdim=True)
        feats = [zg_map, zl, cos(zg_map, zl)]
        if self.context:
            k = self.context
            region = F.avg_pool2d(zl, k, stride=1, padding=k // 2, count_include_pad=False)
            feats += [cos(zl, region), cos(region, zg_map)]
        return torch.cat(feats, 1)

    def forward(self, zg: torch.Tensor, zl: torch.Tensor, mode: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        mode = mode or self.mode
        zg_map = zg[:, :, None, None].expand_as(zl)
        if mode == "global":
            alpha = torch.ones_like(zl[:, :1])
        elif mode == "local":
            alpha = torch.zeros_like(zl[:, :1])
        else:
            alpha = torch.sigmoid(self.net(self.gate_inputs(zg_map, zl)))
            if self.max_global < 1:
                alpha = self.max_global * alpha
        if self.spherical:
            if mode == "global":
                return zg_map, alpha
            if mode == "local":
                return zl, alpha
            return slerp(zl, zg_map, alpha), alpha
        return alpha * zg_map + (1 - alpha) * zl, alpha


# ----------------------------------------------------------------------------------------------
# The model


class SLERIR(nn.Module):
    """SLER-IR restoration network. See the module docstring."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.spherical = cfg.router == "spherical"
        widths = cfg.widths
        self.encoder = DegradationEncoder(cfg)
        self.glgf = GLGF(cfg)
        self.register_buffer("prototypes_fixed", uniform_prototypes(cfg.num_classes, cfg.embed_dim))
        self.prototypes_learned = nn.Parameter(self.prototypes_fixed.clone()) if cfg.learn_prototypes else None

        self.stem = nn.Sequential(nn.PixelUnshuffle(2), nn.Conv2d(12, widths[0], 3, padding=1))
        self.enc = nn.ModuleList()
        self.down = nn.ModuleList()
        for i, n in enumerate(cfg.enc_blocks):
            self.enc.append(nn.ModuleList(RoutedBlock(widths[i], cfg, f"enc{i}.b{j}", i) for j in range(n)))
            self.down.append(nn.Conv2d(widths[i], widths[i + 1], 2, stride=2))
        L = len(widths) - 1
        self.mid = nn.ModuleList(RoutedBlock(widths[L], cfg, f"mid.b{j}", L) for j in range(cfg.mid_blocks))
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for i in reversed(range(L)):
            self.up.append(nn.Sequential(nn.Conv2d(widths[i + 1], widths[i] * 4, 1, bias=False), nn.PixelShuffle(2)))
            self.dec.append(nn.ModuleList(RoutedBlock(widths[i], cfg, f"dec{i}.b{j}", i) for j in range(cfg.dec_blocks[i])))
        self.head = nn.Sequential(nn.Conv2d(widths[0], 12, 3, padding=1), nn.PixelShuffle(2))

        blocks = self.routed_blocks()
        self.layer_names: list[str] = [b.name for b in blocks]
        self.layer_levels: list[int] = [b.level for b in blocks]
        # routers last, each with its own seed: the backbone's initialisation does not depend on them
        make_router = lambda i: Router(cfg.embed_dim, cfg.num_experts, cfg.router, cfg.init_router_scale,
                                       seed=1000 + i, scale_min=cfg.router_scale_min)
        if cfg.shared_router:
            self.shared_router = make_router(0)  # one router for every layer (ablation), saved once
            for b in blocks:
                b.set_router(self.shared_router, shared=True)
        else:
            for i, b in enumerate(blocks):
                b.set_router(make_router(i))

    def routed_blocks(self) -> list[RoutedBlock]:
        """The routed blocks in forward order (encoder, middle, decoder), as ``layer_names`` lists them."""
        return [b for level in self.enc for b in level] + list(self.mid) + [b for level in self.dec for b in level]

    @property
    def prototypes(self) -> torch.Tensor:
        """(K,d) unit class prototypes."""
        p = self.prototypes_learned if self.prototypes_learned is not None else self.prototypes_fixed
        return F.normalize(p, dim=1)

    def router(self, i: int) -> Router:
        """The router of routed layer ``i`` (forward order); the same instance for every i when shared."""
        return self.routed_blocks()[i].router

    # -- embeddings --------------------------------------------------------------------------
    def embed(self, x: torch.Tensor, global_stats: tuple | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Global (B,d) and local (B,d,H/8,W/8) embeddings (unit-norm unless "linear").

        Args:
            global_stats: precomputed pooled feature statistics of the whole image (tiling);
                when given, z_g comes from them instead of from ``x``.
        """
        zg, zl, _ = self._embed(x, global_stats)
        return zg, zl

    def _embed(self, x: torch.Tensor, global_stats: tuple | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z_g, z_l and the (B,c) pooled features that condition the backbone."""
        f = self.encoder.features(x)
        s1, n = global_stats if global_stats is not None else self.encoder.pool_stats(f)
        pooled = s1 / n  # (B,c) whole-image mean features
        zg = self.encoder.global_head(pooled)
        zl = self.encoder.local_head(f)
        if self.spherical:
            zg, zl = F.normalize(zg, dim=1), F.normalize(zl, dim=1)
        return zg, zl, pooled

    def global_stats(self, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Pooled encoder statistics (feature sum, count) of ``x`` (B,3,H,W), any size: an odd side is padded
        by one row or column as ``forward`` pads (the encoder's pixel-unshuffle needs even sides; even inputs,
        as every padded forward pass gives, are untouched)."""
        return self.encoder.pool_stats(self.encoder.features(pad_to_multiple(x, 2)[0]))

    # -- forward -----------------------------------------------------------------------------
    def check_options(self, top_k: int | None = None, fusion: str | None = None,
                      force_expert: dict[str, int] | None = None) -> int:
        """Check the inference options once (``forward`` and ``slerir.inference.Restorer`` call this);
        returns the number of experts per pixel. Raises ``OptionError`` (a ``ValueError``)."""
        E = self.cfg.num_experts
        if top_k is None:
            k = self.cfg.top_k
        else:
            try:
                k = int(top_k)
            except (TypeError, ValueError):
                raise OptionError(f"top_k must be a whole number between 1 and {E}, got {top_k!r}") from None
            if k != top_k or not 1 <= k <= E:
                raise OptionError(f"top_k must be a whole number between 1 and {E}, got {top_k!r}")
        if fusion is not None and fusion not in FUSIONS:
            raise OptionError(f"fusion must be one of {', '.join(FUSIONS)}, got {fusion!r}")
        for name, e in (force_expert or {}).items():
            if name not in self.layer_names:
                raise OptionError(f"unknown layer {name!r}; layers: {', '.join(self.layer_names)}")
            try:
                ok = int(e) == e and 0 <= int(e) < E
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise OptionError(f"expert index for layer {name} must be a whole number in [0, {E - 1}], got {e!r}")
        return k

    def forward(
        self,
        x: torch.Tensor,
        top_k: int | None = None,
        fusion: str | None = None,
        global_stats: tuple | None = None,
        force_expert: dict[str, int] | None = None,
        context: torch.Tensor | None = None,
        treat_as: int | None = None,
    ) -> RestorationOutput:
        """Restore x.

        Args:
            x: (B,3,H,W) in [0,1], any size: padded to ``cfg.pad_multiple`` inside (reflect, at the bottom and
                right) and cropped back, so ``image`` is (B,3,H,W); routing maps and embedding fields cover
                the padded image (``ceil(H / stride)`` cells along H belong to the image).
            top_k: experts per pixel (default ``cfg.top_k``).
            fusion: override GLGF mode at inference ("glgf", "global", "local").
            global_stats: whole-image pooled encoder statistics (tiling; see ``embed``).
            force_expert: {layer name: expert index} routes every pixel of that layer to one expert.
            context: (B,3,H',W') a wider view of x under the same degradation: its pooled encoder
                statistics replace x's own (training as inference pools a whole photo; any size).
            treat_as: a class index: route every pixel as that degradation (the fused embedding is its
                prototype everywhere, alpha = 1); the encoder's pooled features still condition the blocks.
        """
        cfg = self.cfg
        if treat_as is not None and not 0 <= int(treat_as) < cfg.num_classes:
            raise OptionError(f"treat_as must be a class index in [0, {cfg.num_classes}), got {treat_as!r}")
        k = self.check_options(top_k, fusion, force_expert)
        force_expert = {name: int(e) for name, e in (force_expert or {}).items()}
        x, H, W = pad_to_multiple(x, cfg.pad_multiple)
        if context is not None:
            if global_stats is not None:
                raise ValueError("give context or global_stats, not both")
            global_stats = self.global_stats(context)
        zg, zl, pooled = self._embed(x, global_stats)
        g = pooled if cfg.global_cond else None
        if cfg.detach_embedding:
            z, alpha = self.glgf(zg.detach(), zl.detach(), fusion)
        else:
            z, alpha = self.glgf(zg, zl, fusion)
        if treat_as is not None:
            z = self.prototypes[int(treat_as)].to(z).view(1, -1, 1, 1).expand_as(z)
            alpha = torch.ones_like(alpha)

        z_at_size: dict[tuple[int, int], torch.Tensor] = {}

        def z_like(h: torch.Tensor) -> torch.Tensor:
            """The fused embedding resampled to the resolution of features h (once per resolution)."""
            size = (h.shape[-2], h.shape[-1])
            if size not in z_at_size:
                z_at_size[size] = resize_embedding(z, size, self.spherical)
            return z_at_size[size]

        routing: list[LayerRouting] = []
        h = self.stem(x)
        skips = []
        for blocks, down in zip(self.enc, self.down):
            for blk in blocks:
                h, r = blk(h, z_like(h), g, k, force_expert.get(blk.name))
                routing.append(r)
            skips.append(h)
            h = down(h)
        for blk in self.mid:
            h, r = blk(h, z_like(h), g, k, force_expert.get(blk.name))
            routing.append(r)
        for up, blocks in zip(self.up, self.dec):
            h = up(h) + skips.pop()
            for blk in blocks:
                h, r = blk(h, z_like(h), g, k, force_expert.get(blk.name))
                routing.append(r)
        out = (self.head(h) + x)[..., :H, :W]

        # unweighted auxiliary losses (STYLE.md #5), from each layer's routing
        probs = [r.logits.softmax(1) for r in routing]  # (B,E,h,w) per layer, as the blocks' top-k saw them
        imp = torch.stack([p.mean((0, 2, 3)) for p in probs])  # (L,E) importance
        ld = torch.stack([(r.weights > 0).float().mean((0, 2, 3)) for r in routing])  # (L,E) load
        entropy = [-(p * p.clamp_min(1e-12).log()).sum(1).mean() for p in probs]  # per layer, nats
        cv2 = lambda t: (t.var(1, unbiased=False) / t.mean(1).pow(2).clamp_min(1e-12)).mean()
        aux = {"balance": cv2(imp) + cv2(ld).detach(), "importance_cv2": cv2(imp).detach(), "load_cv2": cv2(ld).detach()}
        # v2 routing terms (ours), both in [0, 1] per layer, averaged over layers:
        #   balance_mi: 1 - H(mean_p)/log E, the batch's marginal expert distribution away from
        #     uniform. It balances the load over a batch and, unlike the importance CV above, leaves
        #     each pixel free to decide (a router with all its probabilities at 1/E scores the same
        #     as one that sends each pixel to one expert, as long as the batch uses all experts).
        #   entropy: the mean per-pixel routing entropy H(p)/log E; minimising it makes each pixel
        #     pick its experts (the two terms together maximise the mutual information between
        #     pixel and expert).
        log_e = math.log(cfg.num_experts)
        marg = imp.clamp_min(1e-12)
        aux["balance_mi"] = (1 - (-(marg * marg.log()).sum(1)) / log_e).mean()
        aux["entropy"] = torch.stack(entropy).mean() / log_e
        protos = self.prototypes
        if self.prototypes_learned is not None:
            dist2 = torch.cdist(protos, protos).pow(2)
            off = ~torch.eye(len(protos), dtype=torch.bool, device=protos.device)
            aux["proto_uniformity"] = torch.log(torch.exp(-2 * dist2[off]).mean())

        zg_n, zl_n = F.normalize(zg, dim=1), F.normalize(zl, dim=1)
        sim_g = zg_n @ protos.T
        sim_l = torch.einsum("bdhw,kd->bkhw", zl_n, protos)
        sim_f = torch.einsum("bdhw,kd->bkhw", F.normalize(z, dim=1), protos)
        return RestorationOutput(out, routing, Embeddings(zg, zl, z, alpha), sim_g, sim_l, aux, proto_sim_fused=sim_f)


MODELS = {"slerir": SLERIR}  # plain registry (STYLE.md #2)


def build_model(cfg: ModelConfig) -> SLERIR:
    return SLERIR(cfg)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
