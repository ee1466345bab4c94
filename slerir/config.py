"""Model configuration: one frozen dataclass per preset, saved inside every checkpoint.

The presets follow STYLE.md (nanoGPT's ``GPTConfig`` made frozen): ``ModelConfig(**ckpt_config)``
rebuilds exactly the architecture a checkpoint holds.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

# Degradation classes known to the model. Index = class id used everywhere (labels, masks,
# prototypes). "clean" lets an undegraded photo be recognised as such.
CLASSES: tuple[str, ...] = ("clean", "noise", "rain", "haze", "blur", "lowlight")
TASKS: dict[str, tuple[str, ...]] = {
    "three": ("noise", "rain", "haze"),
    "five": ("noise", "rain", "haze", "blur", "lowlight"),
}

ROUTER_MODES = ("spherical", "linear")
FUSION_MODES = ("glgf", "global", "local")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of one SLER-IR model.

    Attributes:
        widths: channels per U-Net level (level 0 works at H/2 after pixel-unshuffle).
        enc_blocks: blocks per encoder level; ``mid_blocks`` at the bottom; ``dec_blocks`` per decoder level.
        num_experts: experts per routed layer (E).
        expert_ratios: relative hidden widths of the E experts (MoCE-IR style complexity experts);
            the hidden widths sum to ``ffn_expand * channels`` so all experts together cost about one
            ordinary feed-forward part.
        top_k: default number of experts used per pixel (configurable at inference).
        embed_dim: d, the degradation embedding size (3: the demo sphere is the true space).
        num_classes: K prototypes, one per entry of ``CLASSES``.
        router: "spherical" (unit embedding, cosine router) or "linear" (ablation: unnormalised
            embedding and linear router).
        fusion: "glgf" (fused), "global" (global-only) or "local" (local-only) ablations.
        shared_router: ablation: one router (keys and scale) for all routed layers.
        learn_prototypes: learn prototypes (with a uniformity loss) instead of a fixed uniform set.
        enc_width: channels of the degradation encoder.
        detach_embedding: routers and GLGF see the embeddings through a stop-gradient, so the
            encoder is shaped by the contrastive losses alone (ours: without it the restoration
            loss bends the embedding towards content and away from the degradation prototypes).
        enc_stem: "conv" (ours, presets): 3x3 convolutions from H/2 down to H/8, so the encoder
            sees pixel-level texture (noise grain vs rain streaks); "unshuffle4": the first
            version (pixel-unshuffle x4 and a 1x1), kept so its checkpoints still load.
        router_scale_min: a floor under every router's learned scale, s = router_scale_min +
            exp(log_scale) (0: the first recipe's plain exp(log_scale)). Ours, measured: under the
            first recipe's importance-CV balance term the learned scales fell from 10 to 0.05-0.45,
            so cosine logits differed by < 1 and top-2 split every pixel about 50/50; with a floor
            of s the top-1 weight under top-2 reaches 0.75 once the two best cosines differ by
            ln(3)/s.
        global_cond: every block is modulated (per-channel scale and shift, zero-initialised) by
            the encoder's mean-pooled features: the backbone's only whole-image context (haze
            density, exposure), tile-consistent because tiling hands every tile the same pooled
            statistics.
        glgf_context: 0 (the first gate): the GLGF gate sees z_g, z_l(p) and their cosine at p only. k > 0
            (ours, v2.2): it also sees how the region around p agrees, over a k x k window of local cells
            (k odd): cos(z_l(p), mean z_l of the window) (is p's local cue consistent with its
            neighbours?) and cos(mean z_l of the window, z_g) (does the region as a whole differ from the
            image?). At one cell the gate cannot tell a region that truly differs (one half of a
            composite: trust the local cue) from a stray local error (trust the global cue); measured on
            v2.1, it settled at alpha ~0.5 on composites and routed their halves alike (LOG finding 29).
        glgf_max_global: the most the global cue may weigh in GLGF's fusion: alpha(p) =
            glgf_max_global * sigmoid(gate(p)) (1: the first gate, unbounded). Ours, v2.6, at 0.5: the global
            cue at most as much as the local one (the slerp's midpoint). Measured on v2.2 (LOG finding 33): the
            training losses push alpha up everywhere (single-kind samples, four fifths of the data, are
            named right more often the more global the fused cue is), and at alpha ~0.65 the two halves of
            a composite route alike; the same weights at alpha ~0.33 route them apart in 5 layers instead of
            2 for 0.05 dB of validation score. The fusion modes "global" and "local" ignore it (alpha 1, 0).
    """

    name: str = "tiny"
    widths: tuple[int, ...] = (32, 64, 128)
    enc_blocks: tuple[int, ...] = (1, 2)
    mid_blocks: int = 3
    dec_blocks: tuple[int, ...] = (1, 2)
    num_experts: int = 4
    expert_ratios: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)
    ffn_expand: float = 2.0
    top_k: int = 2
    embed_dim: int = 3
    num_classes: int = len(CLASSES)
    classes: tuple[str, ...] = CLASSES
    router: str = "spherical"
    fusion: str = "glgf"
    shared_router: bool = False
    learn_prototypes: bool = False
    enc_width: int = 32
    enc_blocks_deg: int = 2
    init_router_scale: float = 10.0
    detach_embedding: bool = True
    enc_stem: str = "unshuffle4"
    global_cond: bool = False
    router_scale_min: float = 0.0
    glgf_context: int = 0
    glgf_max_global: float = 1.0

    def __post_init__(self) -> None:
        if len(self.expert_ratios) != self.num_experts:
            raise ValueError(f"expert_ratios has {len(self.expert_ratios)} entries, num_experts={self.num_experts}")
        if not 1 <= self.top_k <= self.num_experts:
            raise ValueError(f"top_k={self.top_k} must be in [1, {self.num_experts}]")
        if self.router not in ROUTER_MODES:
            raise ValueError(f"router must be one of {ROUTER_MODES}, got {self.router!r}")
        if self.fusion not in FUSION_MODES:
            raise ValueError(f"fusion must be one of {FUSION_MODES}, got {self.fusion!r}")
        if len(self.enc_blocks) != len(self.widths) - 1 or len(self.dec_blocks) != len(self.widths) - 1:
            raise ValueError("enc_blocks and dec_blocks need len(widths) - 1 entries")
        if self.enc_stem not in ("conv", "unshuffle4"):
            raise ValueError(f"enc_stem must be 'conv' or 'unshuffle4', got {self.enc_stem!r}")
        if self.router_scale_min < 0:
            raise ValueError(f"router_scale_min must be >= 0, got {self.router_scale_min}")
        if self.glgf_context < 0 or (self.glgf_context and self.glgf_context % 2 == 0):
            raise ValueError(f"glgf_context must be 0 or an odd window size, got {self.glgf_context}")
        if not 0 < self.glgf_max_global <= 1:
            raise ValueError(f"glgf_max_global must be in (0, 1], got {self.glgf_max_global}")
        if self.num_classes != len(self.classes):
            raise ValueError("num_classes must equal len(classes)")

    @property
    def pad_multiple(self) -> int:
        """Input sides must be a multiple of this (pixel-unshuffle x2, then one x2 per level)."""
        return 2 * 2 ** (len(self.widths) - 1)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"checkpoint config has fields this code does not know: {unknown}")
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**kw)

    def replace(self, **changes: Any) -> "ModelConfig":
        return dataclasses.replace(self, **changes)


PRESETS: dict[str, ModelConfig] = {
    # CPU: trained here, shipped with the demo.
    "tiny": ModelConfig(enc_width=48, enc_blocks_deg=3, enc_stem="conv", global_cond=True),
    # A wider CPU/GPU middle ground.
    "small": ModelConfig(
        name="small", widths=(48, 96, 192), enc_blocks=(2, 2), mid_blocks=4, dec_blocks=(2, 2),
        enc_width=48, enc_blocks_deg=3, embed_dim=3, enc_stem="conv", global_cond=True,
    ),
    # PromptIR / MoCE-IR scale (about 25-35M parameters), for GPU training (issue 7).
    "paper": ModelConfig(
        name="paper", widths=(96, 192, 384, 448), enc_blocks=(3, 4, 4), mid_blocks=8, dec_blocks=(3, 4, 4),
        num_experts=6, expert_ratios=(0.5, 0.5, 1.0, 1.0, 1.5, 1.5), ffn_expand=2.0, top_k=2,
        enc_width=64, enc_blocks_deg=3, embed_dim=3, enc_stem="conv", global_cond=True,
    ),
}


def get_config(name: str, **overrides: Any) -> ModelConfig:
    """Look up a preset by name, optionally overriding fields (ablations)."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
    return PRESETS[name].replace(**overrides) if overrides else PRESETS[name]
