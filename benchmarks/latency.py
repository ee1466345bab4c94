"""CPU cost of each preset: parameters, MACs, median latency, peak memory, training throughput.

    python benchmarks/latency.py                      # all presets, 2 threads
    python benchmarks/latency.py --presets tiny --repeats 7
    python benchmarks/latency.py --memory-only        # 4096x4096 tiled restore peak RSS (tiny)

Latency is the median of ``--repeats`` runs of ``Restorer.restore(capture=True)`` (inference mode,
full routing capture, untrained weights: the cost does not depend on the values) after one
warm-up. 1024x1024 runs tiled (512 tiles). Peak memory of a 4096x4096 restore through tiling is
measured in a fresh subprocess (ru_maxrss, so it includes the Python/torch baseline). Training
throughput: steps per hour at batch 8 on 64x64 patches, data generation included.
Targets (issue 2) for tiny: 512x512 <= 0.55 s, 4096x4096 peak <= 1.5 GB, >= 15,000 steps/h.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slerir.config import PRESETS  # noqa: E402
from slerir.inference import Restorer  # noqa: E402
from slerir.model import SLERIR, count_parameters  # noqa: E402


def macs(model: SLERIR, size: int) -> float:
    """Multiply-accumulates of one forward pass at size x size (FlopCounterMode counts 2 per MAC)."""
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.rand(1, 3, size, size)
    with torch.inference_mode(), FlopCounterMode(display=False) as fc:
        model(x)
    return fc.get_total_flops() / 2


def latency(restorer: Restorer, size: int, repeats: int) -> float:
    img = np.random.default_rng(0).random((size, size, 3), dtype=np.float32)
    restorer.restore(img)  # warm-up
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        restorer.restore(img, capture=True)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def train_throughput(preset: str, steps: int) -> float | None:
    try:
        from slerir.train import Trainer, TrainConfig
    except Exception:
        return None
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        try:
            tr = Trainer(TrainConfig(preset=preset, batch=8, patch=64, steps=steps + 3, val_every=0, ckpt_every=10**9, out=d))
        except FileNotFoundError:
            return None  # no training images here
        for s in range(3):
            tr.train_step(tr.sampler.batch(s))
        t = time.perf_counter()
        for s in range(3, 3 + steps):
            tr.train_step(tr.sampler.batch(s))
        return 3600 * steps / (time.perf_counter() - t)


def peak_memory_4096(preset: str) -> float:
    """Peak RSS in GB of a subprocess restoring one 4096x4096 image through tiling."""
    code = (
        "import sys,resource,numpy as np,torch;sys.path.insert(0,%r);torch.set_num_threads(2)\n"
        "from slerir.config import PRESETS;from slerir.model import SLERIR;from slerir.inference import Restorer\n"
        "r=Restorer(SLERIR(PRESETS[%r]),tile=512)\n"
        "img=(np.random.default_rng(0).random((4096,4096,3))*255).astype(np.uint8)\n"
        "out=r.restore(img,capture=True)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    ) % (str(Path(__file__).resolve().parent.parent), preset)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(p.stdout.strip().splitlines()[-1]) / 1024**2  # KB -> GB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="tiny,small,paper")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--train-steps", type=int, default=40)
    ap.add_argument("--memory-only", action="store_true")
    ap.add_argument("--json", default=None, help="also write the figures as JSON")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rows = []
    if a.memory_only:
        print(f"tiny 4096x4096 tiled restore: peak RSS {peak_memory_4096('tiny'):.2f} GB")
        return
    print(f"torch {torch.__version__}, {a.threads} threads, median of {a.repeats}")
    print("| preset | params | GMAC @256 | 256x256 s | 512x512 s | 1024x1024 tiled s | 4096x4096 peak GB | train steps/h (b8, 64px) |")
    print("|---|---|---|---|---|---|---|---|")
    for name in a.presets.split(","):
        cfg = PRESETS[name]
        model = SLERIR(cfg).eval()
        r = Restorer(model, tile=512)
        row = {"preset": name, "params": count_parameters(model), "gmac_256": macs(model, 256) / 1e9}
        reps = a.repeats if name != "paper" else max(1, a.repeats // 3)
        row["s_256"] = latency(r, 256, reps)
        row["s_512"] = latency(r, 512, reps)
        row["s_1024_tiled"] = latency(r, 1024, max(1, reps // 2)) if name != "paper" else None
        row["peak_gb_4096"] = peak_memory_4096(name) if name == "tiny" else None
        row["train_steps_per_h"] = train_throughput(name, a.train_steps) if name == "tiny" else None
        rows.append(row)
        f = lambda v, fmt: "-" if v is None else format(v, fmt)
        print(f"| {name} | {row['params'] / 1e6:.2f}M | {row['gmac_256']:.2f} | {row['s_256']:.3f} | {row['s_512']:.3f} | "
              f"{f(row['s_1024_tiled'], '.3f')} | {f(row['peak_gb_4096'], '.2f')} | {f(row['train_steps_per_h'], ',.0f')} |", flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
