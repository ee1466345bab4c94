"""Training losses. The model returns unweighted auxiliary terms; ``slerir.train`` weights them.

- L1 restoration loss.
- Prototype contrastive loss (ours: the abstract names contrastive learning towards a uniform
  spherical embedding; we anchor it on fixed uniform class prototypes): cross-entropy of
  cos(z, p_k)/tau against the (soft) class distribution, for the global embedding (target: the
  fraction of pixels of each class) and for every local embedding cell (target: the class
  fractions of the pixels it covers, from the synthetic per-pixel masks).
- Fused-routing loss (ours, v2.2): the same cross-entropy on the *fused* embedding z(p), the one the
  routers see, against the same per-cell class fractions. The embeddings reach GLGF through a
  stop-gradient (``detach_embedding``), so this term trains only the GLGF gate: where the region's
  degradation differs from the image's (a composite), the gate has to lower its global share alpha
  and let the local cue route. Without it the gate mixed in ~0.5 of the global cue on composites and
  routed their two halves alike (LOG finding 29).
- Uniformity (Wang & Isola 2020) of the class-mean embeddings in the batch: keeps the classes
  spread over the sphere even when prototypes are learned.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .model import RestorationOutput


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Mean over non-channel positions of -sum_k target_k log softmax(logits)_k."""
    return -(target * logits.log_softmax(dim)).sum(dim).mean()


def mask_fractions(mask: torch.Tensor, num_classes: int, size: tuple[int, int]) -> torch.Tensor:
    """Per-pixel class mask (B,H,W) -> class fractions (B,K,h,w) per cell of a (h,w) grid."""
    onehot = F.one_hot(mask.long(), num_classes).permute(0, 3, 1, 2).float()
    return F.adaptive_avg_pool2d(onehot, size)


def contrastive_losses(out: RestorationOutput, frac: torch.Tensor, mask: torch.Tensor, tau: float = 0.1) -> dict[str, torch.Tensor]:
    """Prototype-anchored contrastive losses on global and local embeddings."""
    k = out.proto_sim_global.shape[1]
    g = soft_cross_entropy(out.proto_sim_global / tau, frac)
    target_l = mask_fractions(mask, k, out.proto_sim_local.shape[-2:])
    l = soft_cross_entropy(out.proto_sim_local / tau, target_l)
    terms = {"con_global": g, "con_local": l}
    if out.proto_sim_fused is not None:
        terms["con_fused"] = soft_cross_entropy(out.proto_sim_fused / tau, target_l)
    return terms


def uniformity_loss(z: torch.Tensor, labels: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    """log mean exp(-t ||mu_i - mu_j||^2) over pairs of distinct class means present in the batch."""
    z = F.normalize(z, dim=1)
    present = labels.unique()
    if len(present) < 2:
        return z.new_zeros(())
    mus = F.normalize(torch.stack([z[labels == c].mean(0) for c in present]), dim=1)
    d2 = torch.cdist(mus, mus).pow(2)
    off = ~torch.eye(len(mus), dtype=torch.bool, device=z.device)
    return torch.log(torch.exp(-t * d2[off]).mean())


def total_loss(out: RestorationOutput, batch: dict, weights: dict[str, float]) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted sum of all terms; returns the loss and a dict of every unweighted term (floats)."""
    terms: dict[str, torch.Tensor] = {"l1": (out.image - batch["gt"]).abs().mean()}
    terms.update(contrastive_losses(out, batch["frac"], batch["mask"]))
    terms["uniformity"] = uniformity_loss(out.embeddings.global_, batch["label"])
    terms["balance"] = out.aux["balance"]
    for name in ("balance_mi", "entropy"):  # v2 routing terms (see SLERIR.forward)
        if weights.get(name):
            terms[name] = out.aux[name]
    if "proto_uniformity" in out.aux:
        terms["uniformity"] = terms["uniformity"] + out.aux["proto_uniformity"]
    loss = (
        weights.get("l1", 1.0) * terms["l1"]
        + weights.get("contrastive", 0.05) * (terms["con_global"] + terms["con_local"])
        + weights.get("uniformity", 0.01) * terms["uniformity"]
        + weights.get("balance", 0.01) * terms["balance"]
    )
    for name in ("balance_mi", "entropy"):
        if name in terms:
            loss = loss + weights[name] * terms[name]
    if weights.get("fused") and "con_fused" in terms:
        loss = loss + weights["fused"] * terms["con_fused"]
    logs = {k: float(v.detach()) for k, v in terms.items()}
    logs["loss"] = float(loss.detach())
    return loss, logs
