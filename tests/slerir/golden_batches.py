"""Golden training batches: a sha256 of every tensor the synthetic sampler draws at a few steps, for
fixed recipes (tests/slerir/data/golden_batches.json).

The hashes were recorded from the sampler of slerir/data.py before it became a package and before the
flat ``*_share`` options became a declarative ``recipe``, built as the trainer builds it
(``slerir.datasets_std.make_sampler``) from tests/slerir/data/{tiny_five_stage24,tiny_five,every_share}.json;
each entry of the JSON holds the recipe, in today's form, that must draw the same batches.

    python -m tests.slerir.golden_batches            # compare (what the test does), print mismatches
    python -m tests.slerir.golden_batches --write    # re-record, only for an intended change of the draws

The hashes hold bit for bit only on a CPU like the recording one: numpy's vector code differs between CPUs
(AVX2 against AVX-512) in the last bit of float results (up to 4e-6 here, measured by switching numpy's
SIMD level with NPY_DISABLE_CPU_FEATURES). Where a float tensor's hash differs, its fingerprint decides: the
mean and standard deviation of every sample of the batch, within FINGERPRINT_ATOL; integer tensors (labels,
masks) must match their hash everywhere.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import torch

GOLDEN = Path(__file__).resolve().parent / "data" / "golden_batches.json"
FINGERPRINT_ATOL = 1e-5  # last-bit noise moves a sample's mean by ~1e-8; a changed draw by far more


def tensor_hash(t: torch.Tensor) -> str:
    """dtype, shape and the sha256 of the tensor's bytes, e.g. "torch.float32[16, 3, 96, 96]:ab12..."."""
    t = t.contiguous()
    return f"{t.dtype}{list(t.shape)}:" + hashlib.sha256(t.numpy().tobytes()).hexdigest()


def fingerprint(t: torch.Tensor) -> list[list[float]]:
    """[[mean, std], ...] of each sample (first dimension) of a float tensor, in float64."""
    x = t.detach().reshape(t.shape[0], -1).double()
    return [[round(float(m), 9), round(float(sd), 9)] for m, sd in zip(x.mean(1), x.std(1))]


def draw(sampler_fields: dict, steps) -> dict[str, dict[str, torch.Tensor]]:
    """{step: batch} the trainer's sampler draws for a TrainConfig with ``sampler_fields`` (rank 0 of 1)."""
    from slerir.datasets_std import make_sampler
    from slerir.train import TrainConfig

    s = make_sampler(TrainConfig(**sampler_fields), rank=0, world_size=1)
    return {str(step): dict(sorted(s.batch(step).items())) for step in steps}


def batch_hashes(sampler_fields: dict, steps) -> dict[str, dict[str, str]]:
    """{step: {key: tensor_hash}} of the batches the trainer's sampler draws."""
    return {st: {k: tensor_hash(v) for k, v in b.items()} for st, b in draw(sampler_fields, steps).items()}


def fingerprints(batches: dict[str, dict[str, torch.Tensor]]) -> dict[str, dict[str, list]]:
    return {st: {k: fingerprint(v) for k, v in b.items() if v.is_floating_point()} for st, b in batches.items()}


def mismatches(batches: dict[str, dict[str, torch.Tensor]], record: dict) -> list[str]:
    """"step S key" for every tensor that differs from ``record`` ({"hashes", "fingerprints"}): by hash, or,
    for a float tensor whose hash differs, by its per-sample fingerprint beyond FINGERPRINT_ATOL."""
    bad = []
    for st, b in batches.items():
        for k, v in b.items():
            if tensor_hash(v) == record["hashes"].get(st, {}).get(k):
                continue
            want = record.get("fingerprints", {}).get(st, {}).get(k)
            got = fingerprint(v) if v.is_floating_point() else None
            if (got is None or want is None or len(got) != len(want)
                    or any(abs(a - b) > FINGERPRINT_ATOL for g, w in zip(got, want) for a, b in zip(g, w))):
                bad.append(f"step {st} {k}")
    return bad


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--write", action="store_true", help="re-record hashes and fingerprints from the current sampler")
    a = p.parse_args(argv)
    golden = json.loads(GOLDEN.read_text())
    bad = 0
    for name, g in golden["samplers"].items():
        batches = draw(g["sampler"], golden["steps"])
        diff = mismatches(batches, g)
        print(f"{name}: {'same draws' if not diff else 'differs: ' + ', '.join(diff)}")
        bad += bool(diff)
        g["hashes"] = {st: {k: tensor_hash(v) for k, v in b.items()} for st, b in batches.items()}
        g["fingerprints"] = fingerprints(batches)
    if a.write:
        GOLDEN.write_text(json.dumps(golden, indent=1) + "\n")
        print(f"wrote {GOLDEN}")
    return 1 if bad and not a.write else 0


if __name__ == "__main__":
    sys.exit(main())
