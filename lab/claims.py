"""The paper's three claims, tested with seeds and a budget that can tell the variants apart (issue #32).

    python -m lab.claims train --variants full linear global local shared --seeds 0 1 --steps 8000 --runs runs/claims
    python -m lab.claims evaluate --runs runs/claims --out docs/claims/claims.json
    python -m lab.claims report --claims docs/claims/claims.json
    python -m lab.claims status --runs runs/claims         # each run's step, measured rate, time left
    bash scripts/claims_gpu.sh                      # the same protocol on a lent GPU (larger batch)

SLER-IR's abstract claims (1) layer-wise expert routing beats one shared router, (2) the spherical uniform
degradation embedding beats a plain linear one, (3) global-local granularity fusion (GLGF) beats either
granularity alone, above all on images with more than one degradation.

Protocol. Every variant trains FROM SCRATCH (no ``init_from``) on the data recipe, loss weights and
architecture (``model_overrides``) of ``--base`` (``lab/claims_base.json``: v2.5's recipe, shipped until v4, and its GLGF bound; v2.6 in docs/LOG.md), with
equal steps, batch, patch and seeds; the seed sets both the initialisation and the data order, so two variants
of one seed see the same batches. The variant changes ``model_overrides`` only, on top of the base's:

    full      the base: spherical embedding + cosine router, GLGF (regional gate), layer-wise routers
    linear    router "linear" (unnormalised embedding, linear router; router_scale_min 0)    claim 2
    global    fusion "global" (global-only routing embedding)                                claim 3
    local     fusion "local" (local-only routing embedding)                                  claim 3
    shared    shared_router True (one router for all layers)                                 claim 1

The base recipe's learning rate is a fine-tune's (2e-4 from the shipped model), so the protocol uses the from-scratch
schedule of ``slerir.train.TrainConfig`` and ``lab.ablate`` instead (``--lr`` 2e-3, ``--warmup`` 500); no
validation weights are kept (``best/`` and ``weights/`` are).

train: one run folder per (variant, seed), ``RUNS/<variant>_s<seed>``, holding ``train_config.json`` (a
``TrainConfig``, readable by ``python -m slerir.train --config``) and ``claims_run.json`` (variant, seed,
processes), written first. Each run is a ``python -m slerir.train`` subprocess (``torchrun`` with ``--nproc``
> 1), resumed from its ``state.pt`` when there is one; a finished run (its weights at ``steps``) is skipped.
Runs go one after another (``--parallel P``: P side by side, for a GPU with cores to spare), seed by seed, so
every variant advances together. Ctrl-C, SIGTERM or ``--deadline`` stop every run at its next step, saved.

evaluate: every finished run's ``best/`` weights (``weights/`` when it kept none) on the synthetic benchmarks
(CBSD68 sigma 25, Rain100L, SOTS, HSTS, LOL, GoPro: ``slerir.evaluate``), two-region composites of validation
photos (``lab.routing_check.probe_images``: PSNR against the clean photo), the real photos
(``lab.real_check.check``: paired gains, recognition), recognition, and the routing statistics per layer
(``lab.routing_check.layer_stats``: median top-1 weight, expert-kind NMI, composite split). Results are cached
in each run's ``eval.json`` under the weights' SHA-256 and the evaluation settings.

Verdicts: per claim, the paired difference full - alternative for every seed both finished (claim 3: the
better of global/local by its mean), its mean, and an interval across seeds: min..max for two seeds, a
two-sided 90% t-interval for three or more. "supported" when the interval lies above 0, "not supported"
when it lies at or below 0, else "undecided" (also with fewer than two paired seeds).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable

VARIANTS: dict[str, dict[str, Any]] = {
    "full": {"router_scale_min": 10.0},
    "linear": {"router": "linear", "router_scale_min": 0.0},
    "global": {"fusion": "global", "router_scale_min": 10.0},
    "local": {"fusion": "local", "router_scale_min": 10.0},
    "shared": {"shared_router": True, "router_scale_min": 10.0},
}
BENCH = ["cbsd68_25", "rain100l", "sots", "hsts", "lol", "gopro"]
DEFAULT_BASE = "lab/claims_base.json"
# from-scratch schedule (TrainConfig's defaults, as lab.ablate): the base recipe's 3e-4 is a fine-tune's rate
PROTOCOL_DEFAULTS = {"lr": 2e-3, "warmup": 500, "keep_val_weights": False}
# TrainConfig fields a run may change between machines (a CPU run continued on a GPU) without changing its result
MACHINE_FIELDS = ("threads", "workers", "data_root")
CLAIMS: list[dict[str, Any]] = [
    {"id": 1, "claim": "layer-wise expert routing beats one shared router", "variant": "full",
     "against": ["shared"], "metric": "mean_psnr"},
    {"id": 2, "claim": "the spherical uniform embedding beats a linear one", "variant": "full",
     "against": ["linear"], "metric": "mean_psnr"},
    {"id": 3, "claim": "GLGF beats global-only and local-only routing, above all on two-region composites",
     "variant": "full", "against": ["global", "local"], "metric": "composite_psnr", "also": "mean_psnr"},
]
EVAL_VERSION = 1  # bump when evaluate_weights changes what it measures: old eval.json entries are then recomputed
TIMINGS = "timings.jsonl"
PSNR_CAP = 100.0  # dB, for the probe images: a pass-through of the clean photo would otherwise score inf


# ------------------------------------------------------------------------------------------------ train


def run_name(variant: str, seed: int) -> str:
    return f"{variant}_s{seed}"


def resolved_config(base: str | Path, variant: str, seed: int, steps: int, out: str | Path,
                    overrides: dict[str, Any] | None = None, model_overrides: dict[str, Any] | None = None) -> dict:
    """The ``TrainConfig`` fields of one run: the base recipe without ``init_from``, the protocol's
    from-scratch schedule, ``overrides`` (batch, patch, ...), and the model overrides: the base's, then
    ``model_overrides`` (shared by every variant: tests shrink the architecture with it), then the variant's own."""
    from dataclasses import asdict

    from slerir.train import TrainConfig

    if variant not in VARIANTS:
        raise SystemExit(f"unknown variant {variant!r}; choose from {list(VARIANTS)}")
    cfg = asdict(TrainConfig.from_json(base))
    cfg.update(PROTOCOL_DEFAULTS)
    cfg.update({k: v for k, v in (overrides or {}).items() if v is not None})
    cfg["init_from"] = None
    cfg["model_overrides"] = {**(cfg.get("model_overrides") or {}), **(model_overrides or {}), **VARIANTS[variant]}
    cfg.update(steps=int(steps), seed=int(seed), out=str(out))
    TrainConfig(**cfg)  # unknown or malformed fields fail here, before any run starts
    return cfg


def run_step(run_dir: Path) -> int:
    """The step of a run's latest saved weights (0 when none): ``weights/config.json``'s meta, written
    together with ``state.pt`` at every checkpoint."""
    try:
        return int(json.loads((run_dir / "weights" / "config.json").read_text())["meta"]["step"])
    except (FileNotFoundError, KeyError, ValueError, TypeError):
        return 0


def run_steps(run_dir: Path) -> int | None:
    """The steps a run is to train (from its ``train_config.json``); None when it has none."""
    try:
        return int(json.loads((run_dir / "train_config.json").read_text())["steps"])
    except (FileNotFoundError, KeyError, ValueError):
        return None


def is_finished(run_dir: Path) -> bool:
    steps = run_steps(run_dir)
    return steps is not None and run_step(run_dir) >= steps


def prepare_run(run_dir: Path, cfg: dict, info: dict) -> None:
    """Write the run's ``train_config.json`` and ``claims_run.json``; an existing run must have the same
    protocol (only :data:`MACHINE_FIELDS` may change), or this stops with the fields that differ."""
    run_dir.mkdir(parents=True, exist_ok=True)
    tc_path, info_path = run_dir / "train_config.json", run_dir / "claims_run.json"
    if tc_path.exists():
        old = json.loads(tc_path.read_text())
        diff = sorted(k for k in set(old) | set(cfg) if k not in MACHINE_FIELDS and old.get(k) != cfg.get(k))
        old_info = json.loads(info_path.read_text()) if info_path.exists() else info
        diff += sorted(f"claims_run.{k}" for k in set(old_info) | set(info) if old_info.get(k) != info.get(k))
        if diff:
            raise SystemExit(f"{run_dir} was started with another protocol (differs in {diff}); "
                             "use another --runs folder or the same options")
    tc_path.write_text(json.dumps(cfg, indent=2) + "\n")
    info_path.write_text(json.dumps(info, indent=2) + "\n")


def train_command(run_dir: Path, nproc: int = 1, python: str = sys.executable) -> list[str]:
    """The command that trains (or resumes) one run."""
    cfg = str(run_dir / "train_config.json")
    resume = ["--resume"] if (run_dir / "state.pt").exists() else []
    if nproc > 1:
        return ["torchrun", "--standalone", f"--nproc_per_node={nproc}", "-m", "slerir.train", "--config", cfg, *resume]
    return [python, "-m", "slerir.train", "--config", cfg, *resume]


def _popen(cmd: list[str], log_path: Path) -> subprocess.Popen:
    """Start a training subprocess, its output appended to ``log_path``. It gets a session of its own, so a
    Ctrl-C at the terminal reaches only this process, which then stops every run once (a second signal would
    make the trainer quit without saving)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log_path, "ab") as log:
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _last_log(run_dir: Path) -> dict:
    try:
        with open(run_dir / "log.jsonl", "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            lines = f.read().decode("utf-8", "replace").strip().splitlines()
        return json.loads(lines[-1]) if lines else {}
    except (FileNotFoundError, ValueError, IndexError):
        return {}


def train(variants: list[str], seeds: list[int], steps: int, runs: str | Path, base: str | Path = DEFAULT_BASE,
          overrides: dict[str, Any] | None = None, model_overrides: dict[str, Any] | None = None, nproc: int = 1,
          parallel: int = 1, deadline: float | None = None, launch: Callable | None = None,
          poll: float = 5.0, progress_every: float = 120.0, log: Callable[[str], None] = print) -> dict[str, str]:
    """Train every (variant, seed) run to ``steps`` (see the module docstring).

    ``launch(cmd, log_path)`` starts one run and returns a ``subprocess.Popen``-like handle (``poll``,
    ``send_signal``, ``wait``); tests inject a fake. Returns {run name: "finished" | "skipped" | "stopped" |
    "failed (rc N)"}."""
    launch = launch or _popen
    runs = Path(runs)
    runs.mkdir(parents=True, exist_ok=True)
    jobs = []
    for seed in seeds:  # seed-major: every variant of a seed before the next seed
        for v in variants:
            d = runs / run_name(v, seed)
            cfg = resolved_config(base, v, seed, steps, d, overrides, model_overrides)
            prepare_run(d, cfg, {"variant": v, "seed": int(seed), "nproc": int(nproc), "base": str(base)})
            jobs.append(d)
    status: dict[str, str] = {}
    pending = []
    for d in jobs:
        if is_finished(d):
            status[d.name] = "skipped"
            log(f"[{d.name}] finished ({run_step(d)} steps): skipped")
        else:
            pending.append(d)
    total = len(pending)
    active: dict[str, tuple[Path, Any, float, int]] = {}
    stop = {"why": None}

    def _on_signal(signum, frame):
        stop["why"] = stop["why"] or signal.Signals(signum).name

    old = {}
    if hasattr(signal, "SIGTERM"):
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                old[sig] = signal.signal(sig, _on_signal)
    t_start = time.monotonic()
    last_progress = t_start
    signalled = False
    try:
        while pending or active:
            if deadline is not None and stop["why"] is None and time.monotonic() - t_start >= deadline:
                stop["why"] = f"deadline {deadline:.0f} s"
            if stop["why"] and not signalled:
                signalled = True
                log(f"stopping ({stop['why']}): every run saves at its next step; run the same command to go on")
                for d, proc, _, _ in active.values():
                    proc.send_signal(signal.SIGTERM)
                for d in pending:
                    status[d.name] = "not started"
                pending.clear()
            while pending and len(active) < max(1, parallel) and not stop["why"]:
                d = pending.pop(0)
                s0 = run_step(d)
                n = total - len(pending)
                log(f"[{d.name}] {n}/{total}: {'resuming at ' + str(s0) if s0 else 'training from scratch'} "
                    f"-> {steps} steps ({d / 'train.out'})")
                active[d.name] = (d, launch(train_command(d, nproc), d / "train.out"), time.monotonic(), s0)
            for name in list(active):
                d, proc, t0, s0 = active[name]
                rc = proc.poll()
                if rc is None:
                    continue
                del active[name]
                dt = time.monotonic() - t0
                s1 = run_step(d)
                rate = (s1 - s0) / dt if dt > 0 else 0.0
                if rc == 0 and s1 >= steps:
                    status[name] = "finished"
                elif rc == 0 or stop["why"]:
                    status[name] = "stopped"
                else:
                    status[name] = f"failed (rc {rc})"
                log(f"[{name}] {status[name]} at step {s1}: {s1 - s0} steps in {dt:.0f} s ({rate:.2f} steps/s)")
                with open(runs / TIMINGS, "a") as f:
                    f.write(json.dumps({"run": name, "from": s0, "to": s1, "seconds": round(dt, 1),
                                        "steps_per_s": round(rate, 3), "status": status[name], "nproc": nproc,
                                        "parallel": parallel, "when": time.strftime("%Y-%m-%d %H:%M:%S")}) + "\n")
            if active and time.monotonic() - last_progress >= progress_every:
                last_progress = time.monotonic()
                for d, _, t0, s0 in active.values():
                    rec = _last_log(d)
                    s = rec.get("step", s0)
                    rate = (s - s0) / max(1e-9, time.monotonic() - t0)
                    if s <= s0 or "loss" not in rec:  # nothing logged since this launch: no rate or loss to give yet
                        log(f"[{d.name}] step {s}/{steps}: starting ({time.monotonic() - t0:.0f} s), no step logged yet")
                        continue
                    eta = (steps - s) / rate / 60
                    log(f"[{d.name}] step {s}/{steps}, {rate:.2f} steps/s, loss {rec['loss']:.4f}, "
                        f"about {eta:.0f} min left")
            if pending or active:
                time.sleep(poll)
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)
        for d, proc, _, _ in active.values():  # only when this loop itself failed: never leave runs behind
            proc.send_signal(signal.SIGTERM)
            proc.wait()
    log(f"train: {sum(v in ('finished', 'skipped') for v in status.values())} of {len(jobs)} runs finished "
        f"({time.monotonic() - t_start:.0f} s)")
    return status


# --------------------------------------------------------------------------------------------- evaluate


class _Recorder:
    """A restorer that keeps every result, so the composites' PSNR comes from the same passes as the routing
    statistics (``layer_stats``) instead of a second run."""

    def __init__(self, restorer):
        self.restorer, self.classes, self.results = restorer, restorer.classes, []

    def restore(self, image, **kw):
        res = self.restorer.restore(image, **kw)
        self.results.append(res)
        return res


def evaluate_weights(weights: str | Path, data_root: str | None = None, limit: int | None = None,
                     images: int = 8, side: int = 192, real: bool = True) -> dict:
    """Every measurement of one weights folder (flat numbers, plus the per-layer routing rows)."""
    import numpy as np

    from lab import real_check, routing_check
    from slerir.evaluate import evaluate
    from slerir.inference import Restorer
    from slerir.metrics import psnr

    t0 = time.perf_counter()
    r = Restorer.from_pretrained(weights)
    out: dict[str, Any] = {"step": r.meta.get("step")}
    ev = evaluate(r, BENCH, data_root, limit, progress=False)
    n_rec = 0
    for row in ev["rows"]:
        out[row["benchmark"]] = row["psnr"]
        out[row["benchmark"] + "_ssim"] = row["ssim"]
        out[row["benchmark"] + "_recognition"] = row["recognition"]
        n_rec += row["n"]
    out["mean_psnr"] = float(np.mean([out[b] for b in BENCH]))
    out["mean_ssim"] = float(np.mean([out[b + "_ssim"] for b in BENCH]))
    out["recognition"] = float(sum(row["recognition"] * row["n"] for row in ev["rows"]) / max(1, n_rec))
    # composites and routing: the validation photos, never a test set
    photos = routing_check.probe_photos(data_root, images, side)
    singles, comps = routing_check.probe_images(photos)
    rec = _Recorder(r)
    rows = routing_check.layer_stats(rec, singles, comps)
    if len(rec.results) != len(singles) + len(comps):  # layer_stats restores each single, then each composite, once
        raise RuntimeError("routing_check.layer_stats no longer restores each probe image once, in order")
    res_singles, res_comps = rec.results[:len(singles)], rec.results[len(singles):]
    # probe_images: per photo, the clean photo and one image per kind (singles), then its composites, in order
    clean = [p.astype(np.float32) / 255.0 for p in photos]
    per_comp, per_single = len(comps) // len(photos), len(singles) // len(photos)
    cap = lambda x: min(x, PSNR_CAP)  # identical images (a perfect pass-through) give inf
    comp_psnr = [cap(psnr(res.image, clean[i // per_comp])) for i, res in enumerate(res_comps)]
    single_vals, clean_vals = [], []
    for j, ((_, kind), res) in enumerate(zip(singles, res_singles)):
        (clean_vals if kind == "clean" else single_vals).append(cap(psnr(res.image, clean[j // per_single])))
    out["composite_psnr"] = float(np.mean(comp_psnr))
    out["composite_input_psnr"] = float(np.mean([cap(psnr(img, clean[i // per_comp])) for i, (img, _, _) in enumerate(comps)]))
    out["single_psnr"] = float(np.mean(single_vals))
    out["clean_psnr"] = float(np.mean(clean_vals))
    out["probe_recognition"] = float(np.mean([res.predicted_class == kind for (_, kind), res in zip(singles, res_singles)]))
    t = routing_check.targets(rows)
    out.update(top1_mean=float(np.mean([x["top1"] for x in rows])), nmi_mean=t["mean_nmi"],
               split_mean=float(np.nanmean([x["split"] for x in rows])), decisive_layers=t["decisive_layers"],
               split_layers=t["split_layers"], layers=rows)
    if real:
        rc = real_check.check(r, real_check.real_root(data_root), limit)
        sidd, drop = rc["paired"].get("SIDD_samples"), rc["paired"].get("Raindrop_pairs")
        out["sidd_gain"] = sidd["gain"] if sidd else None
        out["sidd_below_input"] = sidd["below_input"] if sidd else None
        out["raindrop_gain"] = drop["gain"] if drop else None
        out["real_recognition_by_kind"] = rc["recognition_by_kind"]
        out["real_recognition"] = (float(np.mean(list(rc["recognition_by_kind"].values())))
                                   if rc["recognition_by_kind"] else None)
    out["eval_seconds"] = round(time.perf_counter() - t0, 1)
    return out


def eval_settings(limit: int | None, images: int, side: int, real: bool) -> dict:
    return {"version": EVAL_VERSION, "limit": limit, "images": images, "side": side, "real": bool(real)}


def _settings_key(settings: dict) -> str:
    return json.dumps(settings, sort_keys=True)


def run_weights(run_dir: Path, which: str = "best") -> Path:
    """The weights a finished run is judged by: ``best/`` (chosen on the validation split) unless ``which`` is
    "final" or the run kept none, else ``weights/``."""
    best = run_dir / "best"
    return best if which == "best" and (best / "model.safetensors").exists() else run_dir / "weights"


def evaluate_run(run_dir: Path, settings: dict, which: str = "best", data_root: str | None = None,
                 evaluate_fn: Callable[..., dict] | None = None, log: Callable[[str], None] = print) -> dict:
    """One finished run's measurements, from its ``eval.json`` when the same weights (SHA-256) were measured
    with the same settings, else measured now and cached there."""
    from slerir.checkpoint import weights_sha256

    evaluate_fn = evaluate_fn or evaluate_weights
    w = run_weights(run_dir, which)
    sha = weights_sha256(w)
    if sha is None:
        raise FileNotFoundError(f"{w} holds no model.safetensors")
    cache_path = run_dir / "eval.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    key = _settings_key(settings)
    hit = cache.get(sha, {}).get(key)
    if hit is not None:
        log(f"[{run_dir.name}] {w.name}/ {sha[:16]}: cached")
        return hit
    log(f"[{run_dir.name}] evaluating {w} ({sha[:16]})")
    res = evaluate_fn(w, data_root=data_root, limit=settings["limit"], images=settings["images"],
                      side=settings["side"], real=settings["real"])
    res = {**res, "weights": w.name, "sha256": sha}
    cache.setdefault(sha, {})[key] = res
    tmp = cache_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(cache, indent=1))
    os.replace(tmp, cache_path)
    return res


def _protocol_key(cfg: dict, info: dict) -> str:
    keep = {k: v for k, v in cfg.items() if k not in ("model_overrides", "seed", "out", *MACHINE_FIELDS)}
    arch = {k: v for k, v in cfg.get("model_overrides", {}).items() if k not in VARIANTS.get(info.get("variant"), {})}
    return json.dumps({"train": keep, "arch": arch, "nproc": info.get("nproc", 1)}, sort_keys=True)


def collect_runs(runs: str | Path) -> tuple[list[dict], dict[str, int], list[str]]:
    """Finished runs of one protocol [{dir, variant, seed, cfg, info}], unfinished runs {name: step}, and the
    finished runs left out because their protocol differs from the most common one."""
    finished, unfinished = [], {}
    for d in sorted(Path(runs).iterdir() if Path(runs).is_dir() else []):
        if not (d / "claims_run.json").exists() or not (d / "train_config.json").exists():
            continue
        info = json.loads((d / "claims_run.json").read_text())
        cfg = json.loads((d / "train_config.json").read_text())
        if is_finished(d):
            finished.append({"dir": d, "variant": info["variant"], "seed": int(info["seed"]), "cfg": cfg, "info": info,
                             "key": _protocol_key(cfg, info)})
        else:
            unfinished[d.name] = run_step(d)
    excluded = []
    if finished:
        keys = [r["key"] for r in finished]
        main = max(set(keys), key=keys.count)
        excluded = [r["dir"].name for r in finished if r["key"] != main]
        finished = [r for r in finished if r["key"] == main]
    return finished, unfinished, excluded


# --------------------------------------------------------------------------------------------- verdicts


def interval(diffs: list[float], level: float = 0.9) -> tuple[list[float] | None, str]:
    """An interval for the mean of per-seed paired differences: None below 2 seeds, min..max at 2, a two-sided
    ``level`` t-interval from 3."""
    n = len(diffs)
    if n < 2:
        return None, f"{n} paired seed{'s' if n != 1 else ''}"
    if n == 2:
        return [float(min(diffs)), float(max(diffs))], "min..max over 2 seeds"
    from scipy import stats

    m = sum(diffs) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in diffs) / (n - 1))
    h = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return [m - h, m + h], f"{100 * level:.0f}% t-interval over {n} seeds"


def verdict(iv: list[float] | None) -> str:
    """"supported" when the interval lies above 0, "not supported" when it lies at or below 0, else "undecided"."""
    if iv is None:
        return "undecided"
    lo, hi = iv
    if lo > 0:
        return "supported"
    if hi <= 0:
        return "not supported"
    return "undecided"


def compare(variants: dict, variant: str, against: list[str], metric: str, level: float = 0.9) -> dict:
    """Paired comparison of ``variant`` with the best of ``against`` (by its mean of ``metric`` over the seeds it
    shares with ``variant``) on ``metric``: per-seed differences, their mean, interval and verdict."""
    a = variants.get(variant, {}).get("per_seed", {})
    best, best_mean = None, -math.inf
    for alt in against:
        b = variants.get(alt, {}).get("per_seed", {})
        common = [s for s in a if s in b and b[s].get(metric) is not None and a[s].get(metric) is not None]
        if common:
            m = sum(b[s][metric] for s in common) / len(common)
            if m > best_mean:
                best, best_mean = alt, m
    row: dict[str, Any] = {"variant": variant, "against": best, "candidates": list(against), "metric": metric}
    if best is None:
        return {**row, "per_seed": {}, "difference": None, "interval": None,
                "interval_kind": "no paired finished runs", "verdict": "undecided"}
    b = variants[best]["per_seed"]
    per = {s: a[s][metric] - b[s][metric] for s in sorted(a, key=int)
           if s in b and a[s].get(metric) is not None and b[s].get(metric) is not None}
    diffs = list(per.values())
    iv, kind = interval(diffs, level)
    return {**row, "per_seed": per, "difference": sum(diffs) / len(diffs), "interval": iv, "interval_kind": kind,
            "verdict": verdict(iv)}


def verdicts(variants: dict, level: float = 0.9) -> list[dict]:
    out = []
    for c in CLAIMS:
        row = {"id": c["id"], "claim": c["claim"], **compare(variants, c["variant"], c["against"], c["metric"], level)}
        if c.get("also"):
            row["overall"] = compare(variants, c["variant"], c["against"], c["also"], level)
        out.append(row)
    return out


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v is not None and math.isfinite(v)


def aggregate(results: list[dict]) -> dict:
    """{variant: {seeds, steps, overrides, per_seed {seed: metrics}, mean {metric: mean over seeds}}} from
    [{variant, seed, steps, metrics}]."""
    variants: dict[str, dict] = {}
    for r in sorted(results, key=lambda r: (r["variant"], r["seed"])):
        v = variants.setdefault(r["variant"], {"seeds": [], "steps": r["steps"], "overrides": VARIANTS.get(r["variant"], {}),
                                               "per_seed": {}, "mean": {}})
        v["seeds"].append(r["seed"])
        v["per_seed"][str(r["seed"])] = r["metrics"]
    for v in variants.values():
        keys = {k for m in v["per_seed"].values() for k, x in m.items() if _is_number(x) and k != "step"}
        for k in sorted(keys):
            vals = [m[k] for m in v["per_seed"].values() if _is_number(m.get(k))]
            if len(vals) == len(v["per_seed"]):
                v["mean"][k] = sum(vals) / len(vals)
    return dict(sorted(variants.items(), key=lambda kv: list(VARIANTS).index(kv[0]) if kv[0] in VARIANTS else 99))


def protocol_of(run: dict, settings: dict, which: str) -> dict:
    cfg, info = run["cfg"], run["info"]
    return {"base": info.get("base"), "from_scratch": cfg.get("init_from") is None, "steps": cfg["steps"],
            "batch": cfg["batch"], "processes": info.get("nproc", 1),
            "effective_batch": cfg["batch"] * max(1, info.get("nproc", 1)), "patch": cfg["patch"],
            "lr": cfg["lr"], "min_lr": cfg["min_lr"], "warmup": cfg["warmup"], "tasks": cfg["tasks"],
            "stats_context": cfg["stats_context"],
            "recipe": {"recipe": cfg["recipe"], "mixed_share": cfg["mixed_share"], "clean_share": cfg["clean_share"],
                       "task_weights": cfg["task_weights"]},
            "losses": {k: cfg[k] for k in cfg if k.startswith("w_")},
            "shared_model_overrides": {k: v for k, v in cfg["model_overrides"].items()
                                       if k not in VARIANTS.get(run["variant"], {})},
            "weights": which, "evaluation": settings,
            "interval": "paired differences full - alternative per seed; min..max at 2 seeds, 90% t-interval from 3"}


def evaluate_all(runs: str | Path, out: str | Path | None, limit: int | None = None, images: int = 8, side: int = 192,
                 real: bool = True, which: str = "best", data_root: str | None = None, command: str = "",
                 evaluate_fn: Callable[..., dict] | None = None, log: Callable[[str], None] = print) -> dict:
    """Evaluate every finished run (cached), aggregate, judge the claims; write claims.json and claims.md."""
    finished, unfinished, excluded = collect_runs(runs)
    for name, step in unfinished.items():
        log(f"[{name}] unfinished (step {step}): left out")
    for name in excluded:
        log(f"[{name}] trained under another protocol than the other runs: left out")
    settings = eval_settings(limit, images, side, real)
    results = []
    for r in finished:
        m = evaluate_run(r["dir"], settings, which, data_root, evaluate_fn, log)
        results.append({"variant": r["variant"], "seed": r["seed"], "steps": r["cfg"]["steps"], "metrics": m})
    variants = aggregate(results)
    doc = {"protocol": protocol_of(finished[0], settings, which) if finished else {"evaluation": settings},
           "variants": variants, "verdicts": verdicts(variants), "unfinished": unfinished, "excluded": excluded,
           "command": command}
    if out:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=1) + "\n")
        out.with_suffix(".md").write_text(to_markdown(doc))
        log(f"wrote {out} and {out.with_suffix('.md')}")
    return doc


# ----------------------------------------------------------------------------------------------- report

COLUMNS = [("cbsd68_25", "CBSD68 σ25"), ("rain100l", "Rain100L"), ("sots", "SOTS"), ("hsts", "HSTS"), ("lol", "LOL"),
           ("gopro", "GoPro"), ("mean_psnr", "mean"), ("composite_psnr", "composites"), ("recognition", "recog."),
           ("real_recognition", "real recog."), ("sidd_gain", "SIDD gain"), ("top1_mean", "top-1"),
           ("nmi_mean", "NMI"), ("split_mean", "split")]


def _fmt(v, key: str) -> str:
    if not _is_number(v):
        return "n/a"
    if key in ("recognition", "real_recognition"):
        return f"{100 * v:.0f}%"
    if key in ("top1_mean", "nmi_mean", "split_mean"):
        return f"{v:.2f}"
    return f"{v:+.2f}" if key.endswith("gain") else f"{v:.2f}"


def _cell(v: dict, key: str) -> str:
    mean = _fmt(v["mean"].get(key), key)
    vals = [m.get(key) for m in v["per_seed"].values() if _is_number(m.get(key))]
    if len(vals) > 1 and mean != "n/a":
        return f"{mean} ({_fmt(min(vals), key)}..{_fmt(max(vals), key)})"
    return mean


def _interval_text(c: dict) -> str:
    if c["interval"] is None:
        return "n/a"
    return f"[{c['interval'][0]:+.2f}, {c['interval'][1]:+.2f}]"


def to_markdown(doc: dict) -> str:
    p, variants = doc["protocol"], doc["variants"]
    lines = ["# The paper's three claims", ""]
    if "steps" in p:
        lines += [f"Protocol: every variant trained from scratch for {p['steps']} steps, batch {p['batch']}"
                  + (f" x {p['processes']} processes" if p.get("processes", 1) > 1 else "")
                  + f", {p['patch']} px patches, lr {p['lr']} (warm-up {p['warmup']}), on the data recipe and loss "
                  f"weights of `{p['base']}`; equal seeds across variants. Judged by their "
                  + ("`best/` weights (validation split; `weights/` where a run kept none). " if p["weights"] == "best"
                     else "final weights. ")
                  + "PSNR in dB (RGB); the benchmarks' mean is over the six sets; composites: validation photos, two "
                  "degradations in two halves; recognition: benchmarks; real recog.: mean over kinds of real photos; "
                  "routing: mean over layers. Cells: mean over seeds (min..max).", ""]
    head = ["variant", "seeds", *[c[1] for c in COLUMNS]]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, v in variants.items():
        lines.append("| " + " | ".join([name, ",".join(map(str, v["seeds"]))] + [_cell(v, k) for k, _ in COLUMNS]) + " |")
    lines += ["", "| claim | comparison | metric | difference (dB) | interval | verdict |", "|---|---|---|---|---|---|"]
    for c in doc["verdicts"]:
        rows = [c] + ([c["overall"]] if c.get("overall") else [])
        for i, r in enumerate(rows):
            diff = "n/a" if r["difference"] is None else f"{r['difference']:+.2f}"
            lines.append(f"| {c['id'] if i == 0 else ''} {c['claim'] if i == 0 else '(overall)'} | {r['variant']} vs "
                         f"{r['against'] or ' / '.join(r['candidates'])} | {r['metric']} | {diff} | "
                         f"{_interval_text(r)} ({r['interval_kind']}) | **{r['verdict']}** |")
    if doc.get("unfinished"):
        lines += ["", "Unfinished runs (left out): " + ", ".join(f"{k} at step {s}" for k, s in doc["unfinished"].items()) + "."]
    if doc.get("excluded"):
        lines += ["", "Left out (another protocol): " + ", ".join(doc["excluded"]) + "."]
    lines += ["", f"Reproduce: `{doc.get('command', '')}`", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- status


def progress(runs: str | Path) -> dict:
    """Each run's step of its steps, the measured rate (``timings.jsonl``: steps/s per run, and how many ran side
    by side), and the time the remaining steps need at that rate."""
    runs = Path(runs)
    rows = {}
    for d in sorted(p for p in runs.iterdir() if (p / "claims_run.json").exists()) if runs.is_dir() else []:
        rows[d.name] = {"step": run_step(d), "steps": run_steps(d)}
    timings = []
    if (runs / TIMINGS).exists():
        timings = [json.loads(line) for line in (runs / TIMINGS).read_text().splitlines() if line.strip()]
    timed = [t for t in timings if t["to"] > t["from"] and t["seconds"] > 0]
    rate = sum(t["to"] - t["from"] for t in timed) / sum(t["seconds"] for t in timed) if timed else None
    side = max((t.get("parallel", 1) for t in timed), default=1)
    left = sum(max(0, (r["steps"] or 0) - r["step"]) for r in rows.values())
    hours = left / (rate * side) / 3600 if rate else None
    return {"runs": rows, "steps_left": left, "steps_per_s_per_run": rate, "parallel": side, "hours_left": hours}


def progress_text(p: dict) -> str:
    lines = [f"{name}: step {r['step']} of {r['steps']}" for name, r in p["runs"].items()]
    if p["steps_per_s_per_run"]:
        lines.append(f"{p['steps_left']} steps left; measured {p['steps_per_s_per_run']:.2f} steps/s per run with "
                     f"{p['parallel']} side by side: about {p['hours_left']:.2f} h more")
    else:
        lines.append(f"{p['steps_left']} steps left; no timing measured yet")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------- pack


def _arcname(f: Path, runs: Path) -> str:
    """``f`` relative to the working directory, or to the parent of ``runs`` when it lies outside it."""
    rel = os.path.relpath(f)
    return rel if not rel.startswith("..") else os.path.relpath(f, Path(runs).resolve().parent)


def pack(runs: str | Path, out: str | Path, max_files: int = 8, max_file_mb: float = 16.0,
         max_total_mb: float = 60.0, log: Callable[[str], None] = print) -> list[Path]:
    """Pack the runs into at most ``max_files`` tar files of at most ``max_file_mb`` MiB (a device machine's
    limits on what comes back): per run its configs, logs and ``eval.json``; finished runs' ``best/`` and
    ``weights/``; unfinished runs' ``state.pt`` (to resume), as room allows, finished runs first. Paths inside
    the tars are relative to the working directory (``tar xf`` in the repository root puts them back)."""
    runs, out = Path(runs), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    small = ("train_config.json", "claims_run.json", "log.jsonl", "val.jsonl", "train.out", "eval.json")
    items: list[tuple[int, list[Path]]] = []  # (priority, files) units that go whole into one tar
    meta = [p for p in [runs / TIMINGS, runs / "claims.json", runs / "claims.md"] if p.exists()]
    for d in sorted(p for p in runs.iterdir() if p.is_dir()):
        items.append((0, [d / f for f in small if (d / f).exists()]))
        if is_finished(d):
            for sub in ("best", "weights"):
                if (d / sub).is_dir():
                    items.append((1, sorted(p for p in (d / sub).iterdir() if p.is_file())))
        elif (d / "state.pt").exists():
            items.append((2, [d / "state.pt"]))
    items = [(0, meta)] + sorted(items, key=lambda it: it[0])
    cap, total_cap = int(max_file_mb * 2 ** 20) - 2 ** 16, int(max_total_mb * 2 ** 20)
    bins: list[list[Path]] = []
    sizes: list[int] = []
    used, left_out = 0, []
    for _, files in items:
        size = sum(f.stat().st_size + 1024 for f in files)
        if not files:
            continue
        slot = next((i for i, s in enumerate(sizes) if s + size <= cap), None)
        if size > cap or used + size > total_cap or (slot is None and len(bins) >= max_files):
            left_out += files
            continue
        if slot is None:
            bins.append([])
            sizes.append(0)
            slot = len(bins) - 1
        bins[slot] += files
        sizes[slot] += size
        used += size
    written = []
    for i, files in enumerate(bins):
        path = out / f"claims_{i + 1}.tar"
        with tarfile.open(path, "w") as tar:
            for f in files:
                tar.add(str(f), arcname=_arcname(f, runs))
        written.append(path)
    log(f"packed {sum(map(len, bins))} files into {len(written)} tar files ({used / 2 ** 20:.1f} MiB)"
        + (f"; left out {len(left_out)}: " + ", ".join(_arcname(f, runs) for f in left_out) if left_out else ""))
    return written


# ------------------------------------------------------------------------------------------------- main


def _ints(xs: Iterable[str]) -> list[int]:
    return [int(x) for x in xs]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(prog="python -m lab.claims", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train every (variant, seed) run (resumable)")
    t.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    t.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    t.add_argument("--steps", type=int, default=8000)
    t.add_argument("--runs", default="runs/claims")
    t.add_argument("--base", default=DEFAULT_BASE, help="recipe whose data and loss fields every run uses")
    t.add_argument("--nproc", type=int, default=1, help="> 1: torchrun with that many processes (GPUs)")
    t.add_argument("--parallel", type=int, default=1, help="runs side by side (default 1: one after another)")
    t.add_argument("--deadline", type=float, default=None, help="stop every run (saved) after this many seconds")
    t.add_argument("--progress-every", type=float, default=120.0, help="seconds between progress lines")
    for flag, typ in (("batch", int), ("patch", int), ("val-every", int), ("val-n", int), ("lr", float),
                      ("warmup", int), ("workers", int), ("threads", int), ("ckpt-every", int), ("log-every", int),
                      ("data-root", str), ("amp", str)):
        t.add_argument("--" + flag, type=typ, default=None, help="TrainConfig field (default: the base recipe's)")
    t.add_argument("--model-overrides", type=json.loads, default=None,
                   help="JSON model fields shared by every variant (tests shrink the model with it)")
    e = sub.add_parser("evaluate", help="evaluate finished runs, judge the claims, write claims.json/.md")
    e.add_argument("--runs", default="runs/claims")
    e.add_argument("--out", default="docs/claims/claims.json")
    e.add_argument("--limit", type=int, default=None, help="at most this many images per benchmark / real set")
    e.add_argument("--images", type=int, default=8, help="validation photos for composites and routing")
    e.add_argument("--side", type=int, default=192, help="their centre crop, px")
    e.add_argument("--no-real", action="store_true", help="skip the real photos (a machine without real/)")
    e.add_argument("--weights", choices=["best", "final"], default="best")
    e.add_argument("--data-root", default=None)
    e.add_argument("--threads", type=int, default=0)
    r = sub.add_parser("report", help="print the table of a claims.json")
    r.add_argument("--claims", default="docs/claims/claims.json")
    st = sub.add_parser("status", help="each run's step, the measured rate and the time left")
    st.add_argument("--runs", default="runs/claims")
    p = sub.add_parser("pack", help="tar the runs for the trip back from a device machine")
    p.add_argument("--runs", default="runs/claims_gpu")
    p.add_argument("--out", required=True)
    a = ap.parse_args(argv)

    if a.cmd == "train":
        over = {"batch": a.batch, "patch": a.patch, "val_every": a.val_every, "val_n": a.val_n, "lr": a.lr,
                "warmup": a.warmup, "workers": a.workers, "threads": a.threads, "ckpt_every": a.ckpt_every,
                "log_every": a.log_every, "data_root": a.data_root, "amp": a.amp}
        status = train(a.variants, a.seeds, a.steps, a.runs, a.base, over, a.model_overrides, a.nproc, a.parallel,
                       a.deadline, progress_every=a.progress_every)
        return 0 if all(s in ("finished", "skipped") for s in status.values()) else 1
    if a.cmd == "evaluate":
        if a.threads:
            import torch

            torch.set_num_threads(a.threads)
        doc = evaluate_all(a.runs, a.out, a.limit, a.images, a.side, not a.no_real, a.weights, a.data_root,
                           command="python -m lab.claims " + " ".join(argv))
        print(to_markdown(doc))
        return 0 if doc["variants"] else 1
    if a.cmd == "report":
        print(to_markdown(json.loads(Path(a.claims).read_text())))
        return 0
    if a.cmd == "status":
        print(progress_text(progress(a.runs)))
        return 0
    if a.cmd == "pack":
        pack(a.runs, a.out)
        return 0
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
