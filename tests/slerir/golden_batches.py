"""Golden training batches: a sha256 of every tensor the synthetic sampler draws at a few steps, for
fixed recipes (tests/slerir/data/golden_batches.json).

The hashes were recorded from the sampler of slerir/data.py before it became a package and before the
flat ``*_share`` options became a declarative ``recipe``, built as the trainer builds it
(``slerir.datasets_std.make_sampler``) from tests/slerir/data/{tiny_five_stage24,tiny_five,every_share}.json;
each entry of the JSON holds the recipe, in today's form, that must draw the same batches.

    python -m tests.slerir.golden_batches            # compare (what the test does), print mismatches
    python -m tests.slerir.golden_batches --write    # re-record, only for an intended change of the draws
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import torch

GOLDEN = Path(__file__).resolve().parent / "data" / "golden_batches.json"


def tensor_hash(t: torch.Tensor) -> str:
    """dtype, shape and the sha256 of the tensor's bytes, e.g. "torch.float32[16, 3, 96, 96]:ab12..."."""
    t = t.contiguous()
    return f"{t.dtype}{list(t.shape)}:" + hashlib.sha256(t.numpy().tobytes()).hexdigest()


def batch_hashes(sampler_fields: dict, steps) -> dict[str, dict[str, str]]:
    """{step: {key: tensor_hash}} of the batches the trainer's sampler draws for a TrainConfig with
    ``sampler_fields`` (rank 0 of 1)."""
    from slerir.datasets_std import make_sampler
    from slerir.train import TrainConfig

    s = make_sampler(TrainConfig(**sampler_fields), rank=0, world_size=1)
    return {str(step): {k: tensor_hash(v) for k, v in sorted(s.batch(step).items())} for step in steps}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--write", action="store_true", help="re-record the hashes from the current sampler")
    a = p.parse_args(argv)
    golden = json.loads(GOLDEN.read_text())
    bad = 0
    for name, g in golden["samplers"].items():
        got = batch_hashes(g["sampler"], golden["steps"])
        diff = [f"step {s} {k}" for s in got for k in got[s] if got[s][k] != g["hashes"].get(s, {}).get(k)]
        print(f"{name}: {'same draws' if not diff else 'differs: ' + ', '.join(diff)}")
        bad += bool(diff)
        g["hashes"] = got
    if a.write:
        GOLDEN.write_text(json.dumps(golden, indent=1) + "\n")
        print(f"wrote {GOLDEN}")
    return 1 if bad and not a.write else 0


if __name__ == "__main__":
    sys.exit(main())
