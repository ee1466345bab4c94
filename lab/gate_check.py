"""What GLGF's gate does on samples as the trainer makes them: the global share alpha and how often the
local and the fused embedding name each cell's class, for single-kind samples and for the two regions of
two-kind samples (the region that covers more of the patch, and the other).

    python -m lab.gate_check --weights assets/weights --config configs/tiny_v2_2.json

Samples: ``--batches`` batches of ``slerir.data.TrainSampler`` with the recipe, patch, shares and context of
``--config``, drawn from the validation photos (``--split val``, never a test set) with ``--seed``. A cell's
class is the majority class of the pixels it covers (``slerir.losses.mask_fractions``); a two-kind sample's
*major* region is its more frequent class, the *minor* region the rest.

Reading it: for the fused embedding to route the two regions of a composite differently, the gate has to
lower alpha on the minor region (where the global cue points to the other class) while the local embedding
is right there; when the local cue is no more right on composites than the global one, the gate has no
reason to trust it (``docs/LOG.md``, finding 30).
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from lab.common import emit, load_restorer

GROUPS = ("single", "major", "minor")
DISTANCE_BINS = (0, 8, 16, 24, 32, 48)  # px from the other region; the last bin is open


def interior_cells(frac, cell):
    """(B,h,w) bool: cells covered by one class alone (fraction > 0.99) whose 3x3 neighbours share that class."""
    import torch.nn.functional as F

    h, w = cell.shape[-2:]
    pad = F.pad(cell[:, None].float(), (1, 1, 1, 1), mode="replicate")[:, 0]
    same = frac.max(1).values > 0.99
    for dy in range(3):
        for dx in range(3):
            same = same & (pad[:, dy:dy + h, dx:dx + w] == cell)
    return same


def boundary_distance(mask: np.ndarray) -> np.ndarray:
    """(H,W) class mask -> (H,W) distance in px from each pixel to the nearest pixel of another class
    (inf where the mask holds one class)."""
    from scipy.ndimage import distance_transform_edt

    d = np.full(mask.shape, np.inf)
    kinds = np.unique(mask)
    if len(kinds) < 2:
        return d
    for k in kinds:
        inside = mask == k
        d[inside] = distance_transform_edt(inside)[inside]
    return d


def _embed(model, b) -> tuple:
    """One trainer batch through ``model``: its embeddings and each cell's class fractions."""
    import torch

    from slerir.losses import mask_fractions

    with torch.no_grad():
        e = model(b["lq"], context=b.get("ctx")).embeddings
    return e, mask_fractions(b["mask"], model.prototypes.shape[0], tuple(e.local.shape[-2:]))


def _cells(model, b) -> tuple:
    """:func:`_embed`, plus each cell's majority class and the class nearest to the local and to the fused
    embedding of every cell."""
    import torch
    import torch.nn.functional as F

    e, frac = _embed(model, b)
    protos = model.prototypes.detach()

    def nearest(z):
        return torch.einsum("bdhw,kd->bkhw", F.normalize(z, dim=1), protos).argmax(1)

    return e, frac, frac.argmax(1), nearest(e.local), nearest(e.fused)


def distance_stats(model, batches) -> list[dict]:
    """Two-kind samples' cells by their centre's distance to the other region (``DISTANCE_BINS``): cells,
    mean alpha, local and fused class accuracy, and the share of cells in the major region. Shows whether the
    local cue fails only near the boundary (its receptive field reaches over it) or everywhere."""
    import torch

    edges = list(DISTANCE_BINS) + [np.inf]
    acc = [{"alpha": [], "local": [], "fused": [], "major": []} for _ in DISTANCE_BINS]
    for b in batches:
        e, _, cell, local, fused = _cells(model, b)
        h, w = cell.shape[-2:]
        for i in range(cell.shape[0]):
            mask = b["mask"][i].numpy()
            if len(np.unique(mask)) < 2:
                continue
            sy, sx = mask.shape[0] // h, mask.shape[1] // w
            dist = boundary_distance(mask)[sy // 2::sy, sx // 2::sx][:h, :w]
            major = int(np.bincount(mask.ravel()).argmax())
            c = cell[i].numpy()
            for j in range(len(DISTANCE_BINS)):
                sel = (dist >= edges[j]) & (dist < edges[j + 1])
                if sel.any():
                    t = torch.from_numpy(sel)
                    acc[j]["alpha"].append(e.alpha[i, 0][t].numpy())
                    acc[j]["local"].append((local[i][t] == cell[i][t]).numpy())
                    acc[j]["fused"].append((fused[i][t] == cell[i][t]).numpy())
                    acc[j]["major"].append(c[sel] == major)
    rows = []
    for j, a in enumerate(acc):
        if a["alpha"]:
            lo, hi = edges[j], edges[j + 1]
            rows.append({"px": f"{lo}-{hi}" if np.isfinite(hi) else f">= {lo}",
                         "cells": int(sum(x.size for x in a["alpha"])),
                         "alpha": float(np.concatenate(a["alpha"]).mean()),
                         "local_acc": float(np.concatenate(a["local"]).mean()),
                         "fused_acc": float(np.concatenate(a["fused"]).mean()),
                         "major": float(np.concatenate(a["major"]).mean())})
    return rows


def gate_stats(model, batches, interior: bool = False) -> dict[str, dict[str, float]]:
    """Per group (single, major, minor): cells, mean alpha, local and fused class accuracy. ``batches``:
    trainer batches (dicts with "lq", "mask" and optionally "ctx"). ``interior``: count only the cells of
    two-kind samples that lie inside one region (``interior_cells``), leaving out its edges and mixed cells."""
    import torch

    k = model.prototypes.shape[0]
    acc: dict[str, dict[str, list]] = {g: {"alpha": [], "local": [], "fused": []} for g in GROUPS}
    for b in batches:
        e, frac, cell, local, fused = _cells(model, b)
        inside = interior_cells(frac, cell) if interior else torch.ones_like(cell, dtype=torch.bool)
        for i in range(cell.shape[0]):
            c = cell[i]
            counts = torch.bincount(c.flatten(), minlength=k)
            if int((counts > 0).sum()) == 1:
                groups = {"single": torch.ones_like(c, dtype=torch.bool)}
            else:
                major = counts.argmax()
                groups = {"major": (c == major) & inside[i], "minor": (c != major) & inside[i]}
            for g, m in groups.items():
                if not bool(m.any()):
                    continue
                acc[g]["alpha"].append(e.alpha[i, 0][m].numpy())
                acc[g]["local"].append((local[i][m] == c[m]).numpy())
                acc[g]["fused"].append((fused[i][m] == c[m]).numpy())
    rows = {}
    for g in GROUPS:
        if acc[g]["alpha"]:
            a = np.concatenate(acc[g]["alpha"])
            rows[g] = {"cells": int(a.size), "alpha": float(a.mean()),
                       "local_acc": float(np.concatenate(acc[g]["local"]).mean()),
                       "fused_acc": float(np.concatenate(acc[g]["fused"]).mean())}
    return rows


REFIT_OBJECTIVES = ("fused", "balanced", "which")


def _embeddings(model, batches) -> list[tuple]:
    """Per batch: z_g, z_l (detached, as GLGF sees them), the cells' class fractions and a two-kind flag per sample."""
    import torch

    out = []
    for b in batches:
        e, frac = _embed(model, b)
        two = torch.tensor([len(torch.unique(m)) > 1 for m in b["mask"]])
        out.append((e.global_, e.local, frac, two))
    return out


def refit_gate(model, batches, objective: str, iters: int = 600, lr: float = 3e-3, seed: int = 0):
    """A copy of ``model.glgf`` whose gate is fitted anew, the embeddings frozen, on trainer ``batches`` to one
    objective (each cell's target: the class fractions of the pixels it covers):

    fused     the trainer's fused-routing loss: cross-entropy of the fused embedding, every cell alike;
    balanced  the same, with two-kind samples weighing as much in all as single-kind ones;
    which     binary cross-entropy pulling alpha to 1 where only the global cue names the cell's class and to 0
              where only the local one does (other cells left out).

    What it answers: is there a gate, given these embeddings, that the objective would drive to route a
    composite's regions apart? (LOG finding 33.)"""
    import copy

    import torch
    import torch.nn.functional as F

    if objective not in REFIT_OBJECTIVES:
        raise ValueError(f"objective must be one of {REFIT_OBJECTIVES}, got {objective!r}")
    torch.manual_seed(seed)
    gate = copy.deepcopy(model.glgf).train()
    protos = model.prototypes.detach()
    data = _embeddings(model, batches)
    opt = torch.optim.Adam(gate.parameters(), lr=lr)

    def ce(z, t):  # (B,h,w): the contrastive loss's cross-entropy at tau 0.1
        sims = torch.einsum("bdhw,kd->bkhw", F.normalize(z, dim=1), protos) / 0.1
        return -(t * sims.log_softmax(1)).sum(1)

    for it in range(iters):
        zg, zl, t, two = data[it % len(data)]
        z, a = gate(zg, zl, "glgf")
        if objective == "fused":
            loss = ce(z, t).mean()
        elif objective == "balanced":
            per = ce(z, t).mean((1, 2))  # each kind of sample present weighs alike
            loss = torch.stack([per[g].mean() for g in (two, ~two) if bool(g.any())]).mean()
        else:
            c = t.argmax(1)
            local_ok = torch.einsum("bdhw,kd->bkhw", zl, protos).argmax(1) == c
            global_ok = (zg @ protos.T).argmax(1)[:, None, None].expand_as(c) == c
            sel = local_ok ^ global_ok
            if not bool(sel.any()):
                continue
            loss = F.binary_cross_entropy(a[:, 0][sel].clamp(1e-6, 1 - 1e-6), global_ok[sel].float())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return gate.eval()


class _GateSwapped:
    """``with _GateSwapped(model, gate):`` the model fuses with ``gate`` instead of its own GLGF."""

    def __init__(self, model, gate):
        self.model, self.gate = model, gate

    def __enter__(self):
        self.saved, self.model.glgf = self.model.glgf, self.gate
        return self.model

    def __exit__(self, *exc):
        self.model.glgf = self.saved


def _two_kind(rows: dict) -> dict:
    """The major and minor regions' rows of ``gate_stats`` pooled by cells."""
    parts = [rows[g] for g in ("major", "minor") if g in rows]
    n = sum(p["cells"] for p in parts)
    if not n:
        return {}
    return {"cells": n, **{k: sum(p[k] * p["cells"] for p in parts) / n for k in ("alpha", "local_acc", "fused_acc")}}


def to_markdown(results: dict) -> str:
    lines = [f"# GLGF gate on training samples: `{results['command']}`", ""]
    for w, rows in results["weights"].items():
        lines += [f"## {w}", "", "| cells | n | mean alpha (global share) | local embedding right | fused embedding right |",
                  "|---|---|---|---|---|"]
        inner = ", inside" if results.get("interior") else ""
        names = {"single": "single-kind samples", "major": f"two-kind samples, major region{inner}",
                 "minor": f"two-kind samples, minor region{inner}"}
        for g in GROUPS:
            if g in rows:
                r = rows[g]
                lines.append(f"| {names[g]} | {r['cells']} | {r['alpha']:.2f} | {r['local_acc']:.0%} | {r['fused_acc']:.0%} |")
        lines.append("")
        dist = results.get("distance", {}).get(w)
        if dist:
            lines += ["Two-kind samples' cells by distance to the other region:", "",
                      "| px from the other region | cells | mean alpha | local embedding right | fused embedding right | in the major region |",
                      "|---|---|---|---|---|---|"]
            lines += [f"| {r['px']} | {r['cells']} | {r['alpha']:.2f} | {r['local_acc']:.0%} | {r['fused_acc']:.0%} | {r['major']:.0%} |"
                      for r in dist]
            lines.append("")
        refit = results.get("refit", {}).get(w)
        if refit:
            lines += [f"The gate refitted on {results['refit_batches']} batches of the train photos, embeddings frozen "
                      "(`--refit`); measured on the samples above, and on the routing probe of `lab.routing_check`:", "",
                      "| gate | alpha: single / two-kind | fused right: single / two-kind | layers splitting composites | mean NMI |",
                      "|---|---|---|---|---|"]
            for r in refit:
                one, two = r["rows"].get("single", {}), _two_kind(r["rows"])
                fmt = lambda d, k, f: format(d[k], f) if k in d else "-"
                lines.append(f"| {r['gate']} | {fmt(one, 'alpha', '.2f')} / {fmt(two, 'alpha', '.2f')} | "
                             f"{fmt(one, 'fused_acc', '.0%')} / {fmt(two, 'fused_acc', '.0%')} | "
                             f"{r.get('split_layers', '-')} | {format(r['mean_nmi'], '.2f') if 'mean_nmi' in r else '-'} |")
            lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lab.gate_check", description=__doc__.split("\n")[0])
    ap.add_argument("--weights", nargs="+", default=["assets/weights"], help="weights folders")
    ap.add_argument("--config", default="configs/tiny_v2_2.json", help="training config whose sampler makes the samples")
    ap.add_argument("--batches", type=int, default=12, help="batches of the config's batch size")
    ap.add_argument("--split", choices=["val", "train"], default="val", help="photos the samples are cut from")
    ap.add_argument("--seed", type=int, default=999)
    ap.add_argument("--interior", action="store_true",
                    help="two-kind samples: only cells inside one region (no edges, no mixed cells)")
    ap.add_argument("--by-distance", action="store_true",
                    help="also break the two-kind samples' cells down by their distance to the other region")
    ap.add_argument("--refit", nargs="+", choices=REFIT_OBJECTIVES, default=None,
                    help="also refit the gate alone (embeddings frozen) to these objectives and measure each")
    ap.add_argument("--refit-batches", type=int, default=40, help="train-photo batches the refit learns from")
    ap.add_argument("--probe-images", type=int, default=8,
                    help="with --refit: validation photos of lab.routing_check's composite probe (0: no probe)")
    ap.add_argument("--data-root", default=None, help="datasets folder (default: $SLERIR_DATA or ../shared/datasets)")
    ap.add_argument("--out", default=None, help="write a markdown table here and JSON beside it")
    args = ap.parse_args(argv)
    if args.batches < 1 or args.refit_batches < 1 or args.probe_images < 0:
        print("error: --batches and --refit-batches must be >= 1, --probe-images >= 0", file=sys.stderr)
        return 2
    from slerir.data.sampler import TrainSampler
    from slerir.train import TrainConfig

    try:
        cfg = TrainConfig.from_json(args.config)
        sampler = TrainSampler(args.data_root, cfg.tasks, cfg.patch, cfg.batch, cfg.mixed_share, cfg.clean_share,
                               split=args.split, seed=args.seed, task_weights=cfg.task_weights, recipe=cfg.recipe,
                               context=cfg.stats_context)
    except (FileNotFoundError, ValueError, TypeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    batches = [sampler.batch(s) for s in range(args.batches)]
    results = {"command": "python -m lab.gate_check " + " ".join(argv if argv is not None else sys.argv[1:]),
               "interior": bool(args.interior), "weights": {}}
    probe = None
    if args.refit:
        results["refit_batches"] = args.refit_batches
        train = TrainSampler(args.data_root, cfg.tasks, cfg.patch, cfg.batch, cfg.mixed_share, cfg.clean_share,
                             split="train", seed=args.seed + 1, task_weights=cfg.task_weights, recipe=cfg.recipe,
                             context=cfg.stats_context)
        refit_batches = [train.batch(s) for s in range(args.refit_batches)]
        if args.probe_images:
            from lab.routing_check import probe_images, probe_photos

            probe = probe_images(probe_photos(args.data_root, args.probe_images))
    for w in args.weights:
        restorer = load_restorer(w)
        if restorer is None:
            return 2
        restorer.model.eval()
        results["weights"][w] = gate_stats(restorer.model, batches, args.interior)
        if args.by_distance:
            results.setdefault("distance", {})[w] = distance_stats(restorer.model, batches)
        if args.refit:
            from lab.routing_check import layer_stats, targets

            model, rows = restorer.model, []
            for name in ("as trained", *args.refit):
                gate = model.glgf if name == "as trained" else refit_gate(model, refit_batches, name, seed=args.seed)
                with _GateSwapped(model, gate):
                    row = {"gate": name, "rows": gate_stats(model, batches, args.interior)}
                    if probe is not None:
                        t = targets(layer_stats(restorer, *probe))
                        row.update(split_layers=t["split_layers"], mean_nmi=t["mean_nmi"])
                rows.append(row)
                print(f"  {w}: gate {name} measured", file=sys.stderr, flush=True)
            results.setdefault("refit", {})[w] = rows
    emit(to_markdown(results), results, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
