"""Train SLER-IR.

    python -m slerir.train --preset tiny --tasks five --steps 30000 --out runs/tiny5
    python -m slerir.train --config configs/tiny_five.json            # same, from a file
    python -m slerir.train --out runs/tiny5 --resume                   # continue bit-for-bit
    torchrun --nproc_per_node 4 -m slerir.train --config configs/paper_five.json   # DDP

One process trains on the CPU (or its GPU when CUDA is present). Under ``torchrun`` every rank
builds the same model, draws its own batches (the sampler is seeded by (seed, rank, step)) and
DistributedDataParallel averages gradients (gloo on CPU, nccl on GPUs). Rank 0 writes the log,
checkpoints and the best weights (chosen on the validation split of the training images, never
on a test set).

Outputs in ``--out``:
    state.pt           full training state for --resume (model, EMA, optimizer, step, RNG)
    log.jsonl          one line per logged step: every loss term, lr, steps/s, expert load per layer
    val.jsonl          validation PSNR per class and recognition accuracy
    weights/           EMA weights of the latest step (safetensors + config.json)
    best/              EMA weights with the best validation PSNR
    val_weights/       with keep_val_weights: the EMA weights of every validation, step_NNNNNN/

Warm start (``init_from``, fresh runs only): a weights folder or ``.safetensors`` file, or a checkpoint
named by its content, ``"sha256:<hex>"`` (16 to 64 hex digits, a prefix of the SHA-256 of its
``model.safetensors``; the first 16 are ``slerir.checkpoint.weights_fingerprint``). A recipe that
continues from a checkpoint names it by hash, so a folder that now holds other weights cannot stand in
for it: the trainer looks in ``assets/weights``, ``runs/*/weights``, ``runs/*/best`` and
``runs/*/val_weights/*`` (relative to the working directory, plus ``$SLERIR_WEIGHTS`` when set), takes
the folder whose hash matches and stops with an error naming the hash when none does.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from .checkpoint import save_weights
from .config import CLASSES, ModelConfig, get_config
from .losses import total_loss
from .model import SLERIR, count_parameters


@dataclass
class TrainConfig:
    preset: str = "tiny"
    model_overrides: dict = field(default_factory=dict)  # e.g. {"router": "linear"} for ablations
    tasks: str = "five"
    patch: int = 64
    batch: int = 16  # per process
    steps: int = 30000
    lr: float = 2e-3
    min_lr: float = 1e-5
    warmup: int = 500
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    ema: float = 0.999
    mixed_share: float = 0.3
    clean_share: float = 0.05
    task_weights: dict | None = None  # relative draw weight per kind, e.g. {"noise": 2, "rain": 2}
    recipe: list = field(default_factory=list)  # augmentations drawn per sample: [{"aug": name, "share": x, ...}] (slerir.data.augment)
    stats_context: int = 1  # k > 1: the global statistics pool a degraded crop k patches wide around each patch
    w_l1: float = 1.0
    w_contrastive: float = 0.05
    w_uniformity: float = 0.01
    w_balance: float = 0.01  # importance/load coefficient of variation (first recipe; pushes probabilities to uniform)
    w_balance_mi: float = 0.0  # v2: batch-marginal expert distribution towards uniform (SLERIR.forward aux "balance_mi")
    w_entropy: float = 0.0  # v2: per-pixel routing entropy, minimised so each pixel decides (aux "entropy")
    w_fused: float = 0.0  # v2.2: the fused (routed) embedding towards each cell's class fractions; trains the GLGF gate (slerir.losses)
    seed: int = 0
    log_every: int = 50
    ckpt_every: int = 1000
    val_every: int = 2000
    val_n: int = 60
    keep_val_weights: bool = False  # also save the EMA weights of every validation as val_weights/step_NNNNNN
    val_profile: str = "patch"  # "full": whole validation photos at benchmark-like levels (slerir.data.val_set_full); "scene": with scene haze; "flat": plus blurred flat photos; "toned": plus rainy flat photos; "camera": plus photos blurred in linear light; "street": plus blurred photos with a light, flat region; "storm": plus photos with broad slanted rain; "zoom": plus zoomed, degraded photos
    threads: int = 0  # 0: leave torch's default
    workers: int = 0  # > 0: that many processes synthesise the batches ahead of the model (GPU runs); same batches
    data_root: str | None = None
    data_layout: str = "synthetic"  # "standard": the PromptIR/AdaIR training sets (slerir.datasets_std)
    std_root: str | None = None  # folder of the standard sets (default data/allinone)
    out: str = "runs/default"
    amp: str = "none"  # "bf16" autocast on GPUs
    grad_checkpoint: bool = False
    init_from: str | None = None  # weights folder or "sha256:<hex>" (resolve_init): warm-start every tensor whose name and shape match

    @classmethod
    def from_json(cls, path: str | Path) -> "TrainConfig":
        d = json.loads(Path(path).read_text())
        known = {f.name for f in fields(cls)}
        bad = sorted(set(d) - known)
        if bad:
            hint = ("; the *_share augmentation options are now entries of \"recipe\" (slerir.data.augment)"
                    if any(k.endswith("_share") or k == "zoom_only" for k in bad) else "")
            raise SystemExit(f"{path}: unknown training options {bad}{hint}")
        return cls(**d)


# where a "sha256:" init_from is looked for; train_state/weights/ keeps each model that was shipped before (scripts/ship.sh)
INIT_SEARCH = ("assets/weights", "train_state/weights/*", "runs/*/weights", "runs/*/best", "runs/*/val_weights/*",
               "train_state/*/val_weights/*")


def resolve_init(ref: str, search: tuple[str, ...] | None = None) -> Path:
    """The weights folder (or file) that ``init_from`` names: ``ref`` itself, or for ``"sha256:<hex>"``
    the first folder of ``search`` (glob patterns relative to the working directory; default
    :data:`INIT_SEARCH` plus ``$SLERIR_WEIGHTS``) whose ``model.safetensors`` has a SHA-256 starting with
    ``<hex>``. Raises SystemExit when the hash is malformed or no folder matches."""
    import glob
    import re

    if not ref.startswith("sha256:"):
        return Path(ref)
    want = ref[len("sha256:"):].lower()
    if not re.fullmatch(r"[0-9a-f]{16,64}", want):
        raise SystemExit(f"init_from {ref!r}: expected sha256: and 16 to 64 hex digits")
    from .checkpoint import weights_sha256

    if search is None:
        search = INIT_SEARCH + ((os.environ["SLERIR_WEIGHTS"],) if os.environ.get("SLERIR_WEIGHTS") else ())
    seen = []
    for pattern in search:
        for cand in sorted(glob.glob(pattern)):
            full = weights_sha256(cand)
            if full is not None:
                seen.append(cand)
                if full.startswith(want):
                    return Path(cand)
    raise SystemExit(f"init_from {ref!r}: no checkpoint with that hash in {', '.join(search)} "
                     f"({len(seen)} weights folders looked at). Put the weights (model.safetensors + config.json) "
                     "in one of those folders, e.g. runs/NAME/weights, or pass init_from a path.")


def lr_at(step: int, tc: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to min_lr."""
    if step < tc.warmup:
        return tc.lr * (step + 1) / tc.warmup
    t = (step - tc.warmup) / max(1, tc.steps - tc.warmup)
    return tc.min_lr + 0.5 * (tc.lr - tc.min_lr) * (1 + math.cos(math.pi * min(1.0, t)))


def _dist_info() -> tuple[int, int, int]:
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def _no_decay(name: str, p: torch.Tensor) -> bool:
    return p.ndim <= 1 or "keys" in name or "log_scale" in name or "bias" in name


def _param_groups(model: torch.nn.Module, wd: float) -> list[dict]:
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (no_decay if _no_decay(n, p) else decay).append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


def upgrade_train_state(st: dict, model: SLERIR) -> dict:
    """A ``state.pt`` written before each routed block owned its router, made loadable into ``model``.

    Its model and EMA tensors are renamed (``slerir.checkpoint.upgrade_state_dict``); its optimizer state,
    which torch keys by parameter position, is reordered: the old model registered its routers after every
    other module (``routers.{i}``, layer order), the new one inside each block. States written since are
    returned as they are."""
    from .checkpoint import legacy_router_names, upgrade_state_dict

    if not any(k.startswith("routers.") for k in st["model"]):
        return st
    st = dict(st, model=upgrade_state_dict(st["model"], model), ema=upgrade_state_dict(st["ema"], model))
    routers = set(legacy_router_names(model).values())
    params = list(model.named_parameters())
    old_order = [np_ for np_ in params if np_[0] not in routers] + [np_ for np_ in params if np_[0] in routers]
    opt = dict(st["opt"], param_groups=[dict(g) for g in st["opt"]["param_groups"]])
    for g, no_decay in zip(opt["param_groups"], (False, True)):  # the groups of _param_groups, in its order
        old = [n for n, p in old_order if _no_decay(n, p) == no_decay]
        new = [n for n, p in params if _no_decay(n, p) == no_decay]
        if len(old) != len(g["params"]):
            raise SystemExit("the optimizer state of this state.pt does not match the model; use a new --out")
        ids = dict(zip(old, g["params"]))
        g["params"] = [ids[n] for n in new]
    st["opt"] = opt
    return st


@torch.no_grad()
def validate(model: SLERIR, val: list[dict], device: torch.device, profile: str = "patch",
             ensemble: str | None = None) -> dict:
    """PSNR per category (on the fixed validation samples), their mean, global nearest-prototype
    accuracy, and "score", the number checkpoints are chosen by (``slerir.data.selection_score``).

    Samples of any size run whole (the model pads to its multiple and crops back, as in ``Restorer``'s
    whole-image path). ``ensemble``: a self-ensemble of ``slerir.inference.ENSEMBLES``
    ("mirror", "x8"), as ``Restorer(ensemble=...)``; recognition from the untransformed pass."""
    from .data import selection_score
    from .inference import ENSEMBLES, dihedral
    from .metrics import psnr

    model.eval()

    def run(x: torch.Tensor):
        out = model(x)
        return out.image.clamp(0, 1), out

    per: dict[str, list[float]] = {}
    correct = 0
    for s in val:
        lq = torch.from_numpy(s["lq"])[None].to(device)  # (1,3,H,W)
        img, out = run(lq)
        if ensemble:
            for k, f in ENSEMBLES[ensemble][1:]:
                img = img + dihedral(run(dihedral(lq, k, f))[0], k, f, inverse=True)
            img = img / len(ENSEMBLES[ensemble])
        pred = img[0].permute(1, 2, 0).cpu().numpy()
        name = s.get("kind", CLASSES[int(s["label"])])
        per.setdefault(name, []).append(psnr(pred, s["gt"].transpose(1, 2, 0)))
        correct += int(out.proto_sim_global.argmax(1).item() == int(s["label"]))
    res = {k: float(np.mean(v)) for k, v in per.items()}
    res["mean_psnr"] = float(np.mean([res[k] for k in per]))
    res["recognition"] = correct / max(1, len(val))
    res["score"] = selection_score(res, profile)
    return res


def _leave_signals_to_parent(_worker_id: int) -> None:
    """Batch workers ignore SIGTERM/SIGINT: ``timeout`` and Ctrl-C signal the whole process group, and a
    worker that died of it would abort the trainer mid-step instead of letting it save (``_StopOnSignal``).
    The DataLoader still ends them when the trainer is done, and they exit when it dies."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _StepBatches(torch.utils.data.Dataset):
    """Steps ``start`` .. ``end - 1`` as a dataset whose item i is the sampler's batch at step start + i."""

    def __init__(self, sampler, start: int, end: int):
        self.sampler, self.start, self.n = sampler, start, max(0, end - start)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.sampler.batch(self.start + i)


class _StopOnSignal:
    """SIGTERM/SIGINT while training: finish the step, save, leave ``fit`` (``timeout``, a cluster's preemption
    or Ctrl-C lose nothing). Only the main thread can take signals; elsewhere the default handling stays."""

    def __init__(self):
        self.requested: int | None = None
        self._old = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame) -> None:
        if self.requested is not None:  # a second signal: stop now
            raise KeyboardInterrupt
        self.requested = signum

    def restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


class Trainer:
    def __init__(self, tc: TrainConfig, resume: bool = False):
        self.tc = tc
        self.rank, self.world, local = _dist_info()
        if self.world > 1 and not dist.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            dist.init_process_group(backend)
        if torch.cuda.is_available():
            self.device = torch.device("cuda", local)
            torch.cuda.set_device(self.device)
        else:
            self.device = torch.device("cpu")
            if tc.threads:
                torch.set_num_threads(tc.threads)
        self.out = Path(tc.out)
        if self.rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(tc.seed)
        cfg = get_config(tc.preset, **{k: tuple(v) if isinstance(v, list) else v for k, v in tc.model_overrides.items()})
        self.model = SLERIR(cfg).to(self.device)
        if self.device.type == "cpu":
            self.model = self.model.to(memory_format=torch.channels_last)
        if tc.grad_checkpoint:
            self._enable_checkpointing()
        self.ema = copy.deepcopy(self.model).eval()
        for p in self.ema.parameters():
            p.requires_grad_(False)
        self.opt = torch.optim.AdamW(_param_groups(self.model, tc.weight_decay), lr=tc.lr, betas=(0.9, 0.99))
        self.ddp = None
        if self.world > 1:
            # find_unused_parameters: ablations (global-only fusion) leave GLGF's net unused
            self.ddp = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[local] if self.device.type == "cuda" else None, find_unused_parameters=True
            )
        from .datasets_std import make_sampler, make_val_set

        self.sampler = make_sampler(tc, rank=self.rank, world_size=self.world)
        self.val = make_val_set(tc) if self.rank == 0 and tc.val_every else []
        self.step = 0
        self.best = -1.0
        self.elapsed = 0.0
        if resume and (self.out / "state.pt").exists():
            self._load_state(self.out / "state.pt")
        elif tc.init_from:
            self._warm_start(resolve_init(tc.init_from))

    def _warm_start(self, path: Path) -> None:
        """Copy every tensor of a weights folder whose name and shape match (fresh runs only).

        New parameters keep their initialisation (e.g. zero-initialised conditioning layers), so
        a model with an extra part continues from an earlier run's backbone."""
        from .checkpoint import load_model

        src = load_model(path)[0].state_dict()  # the checked loader: its own config, strict, finite
        own = self.model.state_dict()
        taken = {k: v for k, v in src.items() if k in own and own[k].shape == v.shape}
        self.model.load_state_dict(taken, strict=False)
        self.ema.load_state_dict(self.model.state_dict())
        if self.rank == 0:
            print(f"warm start from {path}: {len(taken)}/{len(own)} tensors copied "
                  f"({len(src) - len(taken)} of the source skipped: new shapes or names)", flush=True)

    def _enable_checkpointing(self) -> None:
        from torch.utils.checkpoint import checkpoint

        for blk in self.model.routed_blocks():
            fwd = blk.forward
            blk.forward = lambda x, z, g=None, top_k=2, force=None, _f=fwd: checkpoint(
                _f, x, z, g, top_k, force, use_reentrant=False)

    # -- state --------------------------------------------------------------------------------
    def _state(self) -> dict:
        return {
            "step": self.step,
            "best": self.best,
            "elapsed": self.elapsed,
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict(),
            "opt": self.opt.state_dict(),
            "train_config": asdict(self.tc),
            "model_config": self.model.cfg.to_dict(),
            "torch_rng": torch.get_rng_state(),
        }

    def _load_state(self, path: Path) -> None:
        # our own training-state file (never a user upload): full pickle needed for optimizer state
        st = torch.load(path, map_location=self.device, weights_only=False)
        if ModelConfig.from_dict(st["model_config"]) != self.model.cfg:  # older states lack newer fields
            raise SystemExit(f"{path} was written for a different model config; use a new --out")
        st = upgrade_train_state(st, self.model)  # states written before blocks owned their routers
        self.model.load_state_dict(st["model"], strict=True)
        self.ema.load_state_dict(st["ema"], strict=True)
        self.opt.load_state_dict(st["opt"])
        self.step, self.best, self.elapsed = st["step"], st["best"], st.get("elapsed", 0.0)
        torch.set_rng_state(st["torch_rng"])
        if self.rank == 0:
            print(f"resumed from {path} at step {self.step}", flush=True)

    def save(self) -> None:
        if self.rank != 0:
            return
        tmp = self.out / "state.pt.tmp"
        torch.save(self._state(), tmp)
        os.replace(tmp, self.out / "state.pt")  # atomic: an interruption never leaves a torn file
        save_weights(self.ema, self.out / "weights", self.meta())

    def meta(self) -> dict:
        return {"step": self.step, "train_config": asdict(self.tc), "wall_time_s": round(self.elapsed, 1),
                "world_size": self.world, "device": str(self.device.type), "params": count_parameters(self.model)}

    # -- loop ---------------------------------------------------------------------------------
    def train_step(self, batch: dict) -> dict:
        tc = self.tc
        self.model.train()
        for g in self.opt.param_groups:
            g["lr"] = lr_at(self.step, tc)
        batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        lq = batch["lq"]
        if self.device.type == "cpu":
            lq = lq.contiguous(memory_format=torch.channels_last)
        ctx = batch.get("ctx")  # the wider view the global statistics pool (stats_context > 1)
        if ctx is not None and self.device.type == "cpu":
            ctx = ctx.contiguous(memory_format=torch.channels_last)
        net = self.ddp or self.model
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=tc.amp == "bf16"):
            out = net(lq, context=ctx)
        weights = {"l1": tc.w_l1, "contrastive": tc.w_contrastive, "uniformity": tc.w_uniformity, "balance": tc.w_balance,
                   "balance_mi": tc.w_balance_mi, "entropy": tc.w_entropy, "fused": tc.w_fused}
        loss, logs = total_loss(out, batch, weights)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(self.model.parameters(), tc.grad_clip)
        self.opt.step()
        with torch.no_grad():
            d = min(tc.ema, (1 + self.step) / (10 + self.step))
            for pe, pm in zip(self.ema.parameters(), self.model.parameters()):
                pe.lerp_(pm, 1 - d)
            for be, bm in zip(self.ema.buffers(), self.model.buffers()):
                be.copy_(bm)
        logs["grad_norm"] = float(gn)
        logs["lr"] = self.opt.param_groups[0]["lr"]
        logs["load"] = {r.name: [round(float(x), 4) for x in (r.weights > 0).float().mean((0, 2, 3))] for r in out.routing}
        # decisiveness per layer: median over pixels of the largest routing weight (0.5 = a tie under top-2)
        logs["top1"] = {r.name: round(float(r.weights.detach().amax(1).median()), 3) for r in out.routing}
        logs["entropy"] = float(out.aux["entropy"].detach())
        self.step += 1
        return logs

    def _batches(self, start: int, end: int):
        """The batches of steps ``start`` .. ``end - 1`` in order. With ``workers`` > 0 a DataLoader's
        processes draw them ahead of the model; each batch is the sampler's function of its step, so
        the batches (and a resumed run) are the same either way (``make_sampler`` then leaves out the
        standard sampler's own prefetch threads)."""
        if self.tc.workers <= 0:
            return (self.sampler.batch(step) for step in range(start, end))
        loader = torch.utils.data.DataLoader(_StepBatches(self.sampler, start, end), batch_size=None,
                                             num_workers=self.tc.workers, prefetch_factor=4,
                                             pin_memory=self.device.type == "cuda", worker_init_fn=_leave_signals_to_parent)
        return iter(loader)

    def _agreed(self, stop: _StopOnSignal) -> bool:
        """Whether to stop now; under DDP every rank stops at the same step when any one was signalled."""
        if self.world > 1:
            flag = torch.tensor([0 if stop.requested is None else 1], device=self.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            if flag.item() and stop.requested is None:
                stop.requested = signal.SIGTERM
        return stop.requested is not None

    def fit(self, progress: bool = True, stop_at: int | None = None) -> None:
        """Train until ``tc.steps`` (or ``stop_at``, to simulate an interruption in tests)."""
        tc = self.tc
        end = tc.steps if stop_at is None else min(stop_at, tc.steps)
        log = open(self.out / "log.jsonl", "a") if self.rank == 0 else None
        bar = None
        if progress and self.rank == 0:
            from tqdm import tqdm

            bar = tqdm(total=tc.steps, initial=self.step, dynamic_ncols=True, mininterval=2.0)
        t_last, s_last = time.time(), self.step
        batches = self._batches(self.step, end)
        stop = _StopOnSignal()
        try:
            while self.step < end and not self._agreed(stop):
                t0 = time.time()
                logs = self.train_step(next(batches))
                self.elapsed += time.time() - t0
                if bar is not None:
                    bar.update(1)
                if self.rank == 0 and (self.step % tc.log_every == 0 or self.step == tc.steps):
                    now = time.time()
                    logs["steps_per_s"] = round((self.step - s_last) / max(1e-9, now - t_last), 3)
                    t_last, s_last = now, self.step
                    logs["step"] = self.step
                    log.write(json.dumps(logs) + "\n")
                    log.flush()
                    if bar is not None:
                        bar.set_postfix(loss=f"{logs['loss']:.4f}", l1=f"{logs['l1']:.4f}", con=f"{logs['con_global']:.3f}",
                                        bal=f"{logs['balance']:.3f}", sps=logs["steps_per_s"])
                if tc.val_every and self.rank == 0 and (self.step % tc.val_every == 0 or self.step == tc.steps):
                    res = validate(self.ema, self.val, self.device, tc.val_profile)
                    res["step"] = self.step
                    with open(self.out / "val.jsonl", "a") as f:
                        f.write(json.dumps(res) + "\n")
                    if res["score"] > self.best:
                        self.best = res["score"]
                        save_weights(self.ema, self.out / "best", {**self.meta(), "val": res})
                    if tc.keep_val_weights:  # for a selection rule beyond the one score (e.g. a clean-photo check)
                        save_weights(self.ema, self.out / "val_weights" / f"step_{self.step:06d}",
                                     {**self.meta(), "val": res})
                    if bar is not None:
                        bar.write(f"step {self.step}: val {json.dumps({k: round(v, 3) for k, v in res.items()})}")
                if self.step % tc.ckpt_every == 0 or self.step == end:
                    self.save()
            if stop.requested:
                self.save()
                if self.rank == 0:
                    print(f"stopped by signal {stop.requested} at step {self.step}; state saved, continue with "
                          "--resume", flush=True)
        finally:
            stop.restore()
            if bar is not None:
                bar.close()
            if log is not None:
                log.close()


def _config_of_state(path: Path) -> TrainConfig:
    """The TrainConfig a training state was written with (``state.pt``'s ``train_config``)."""
    st = torch.load(path, map_location="cpu", weights_only=False)
    d = dict(st.get("train_config") or {})
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise SystemExit(f"{path} was written by an older trainer (options {unknown}); pass --config with the run's "
                         "settings in today's form")
    return TrainConfig(**d)


def parse_args(argv: list[str] | None = None) -> tuple[TrainConfig, bool]:
    p = argparse.ArgumentParser(description="Train SLER-IR (CPU, one GPU, or torchrun DDP).")
    p.add_argument("--config", help="JSON file of TrainConfig fields; flags given explicitly override it")
    p.add_argument("--resume", action="store_true", help="continue from OUT/state.pt if it exists")
    for f in fields(TrainConfig):
        if f.name in ("model_overrides", "task_weights", "recipe"):
            example = {"model_overrides": '{"router": "linear"}', "task_weights": '{"noise": 2, "rain": 2}',
                       "recipe": '[{"aug": "long_blur", "share": 0.4}]'}[f.name]
            p.add_argument("--" + f.name.replace("_", "-"), type=json.loads, default=None, help=f"JSON, e.g. '{example}'")
            continue
        default = f.default
        if isinstance(default, bool):
            typ = lambda s: s.lower() in ("1", "true", "yes")
        elif isinstance(default, (int, float)):
            typ = type(default)
        else:
            typ = str
        p.add_argument("--" + f.name.replace("_", "-"), type=typ, default=None)
    a = p.parse_args(argv)
    if a.config:
        base = TrainConfig.from_json(a.config)
    elif a.resume and a.out and (Path(a.out) / "state.pt").is_file():
        base = _config_of_state(Path(a.out) / "state.pt")  # --out RUN --resume continues the run as it was set up
    else:
        base = TrainConfig()
    over = {f.name: getattr(a, f.name) for f in fields(TrainConfig) if getattr(a, f.name) is not None}
    for k, v in over.items():
        setattr(base, k, v)
    if base.tasks not in ("three", "five"):
        raise SystemExit(f"--tasks must be three or five, got {base.tasks!r}")
    return base, a.resume


def main(argv: list[str] | None = None) -> None:
    tc, resume = parse_args(argv)
    tr = Trainer(tc, resume=resume)
    if tr.rank == 0:
        print(f"SLER-IR {tr.model.cfg.name}: {count_parameters(tr.model):,} parameters, world size {tr.world}, "
              f"device {tr.device}, steps {tc.steps}, out {tc.out}", flush=True)
    try:
        tr.fit(progress=sys.stderr.isatty() or os.environ.get("SLERIR_PROGRESS") == "1")
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    main()
