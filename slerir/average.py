"""Average the weights of models of one architecture (a "model soup"), e.g. two checkpoints of one run
or a run and the run it was warm-started from:

    python -m slerir.average --weights runs/a/best runs/b/best --out runs/soup
    python -m slerir.average --weights runs/a/best runs/b/best --ratio 0.3 0.7 --out runs/soup

Every floating-point tensor becomes the weighted mean of the inputs (``--ratio``, normalised to sum 1;
equal by default); integer buffers are taken from the last input. The inputs must share one model
config (checked). Choose between a soup and its parts on validation (``python -m slerir.validate``),
never on the test sets. The output's meta names its parts and ratios.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from .checkpoint import CheckpointError, load_model, save_weights
from .model import SLERIR


def average(paths: list[str | Path], ratios: list[float] | None = None) -> tuple[SLERIR, dict]:
    """The weighted mean of the weights in ``paths`` and its meta.

    Raises:
        ValueError: fewer than two inputs, a ratio count that does not match, or non-positive ratios.
        CheckpointError: an input is unreadable or has another model config.
    """
    if len(paths) < 2:
        raise ValueError("give at least two weights folders to average")
    ratios = [1.0] * len(paths) if ratios is None else [float(r) for r in ratios]
    if len(ratios) != len(paths):
        raise ValueError(f"{len(ratios)} ratios for {len(paths)} weights")
    if min(ratios) <= 0:
        raise ValueError("ratios must be positive")
    total = sum(ratios)
    ratios = [r / total for r in ratios]
    models = [load_model(p) for p in paths]
    cfg = models[0][0].cfg
    for (m, _), p in zip(models[1:], paths[1:]):
        if m.cfg != cfg:
            raise CheckpointError(f"{p} has another model config than {paths[0]}: weights of different "
                                  "architectures cannot be averaged")
    states = [m.state_dict() for m, _ in models]
    out = {}
    for k, v in states[-1].items():
        if v.is_floating_point():
            out[k] = sum(r * s[k].double() for r, s in zip(ratios, states)).to(v.dtype)
        else:
            out[k] = v.clone()
    model = SLERIR(cfg)
    model.load_state_dict(out, strict=True)
    last_meta = models[-1][1]
    meta = {"averaged_from": [str(p) for p in paths], "ratios": [round(r, 6) for r in ratios],
            "step": last_meta.get("step"), "parts_meta": [m for _, m in models]}
    return model.eval(), meta


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weights", nargs="+", required=True, help="two or more weights folders")
    p.add_argument("--ratio", nargs="+", type=float, default=None, help="one weight per input (default equal)")
    p.add_argument("--out", required=True, help="weights folder to write")
    a = p.parse_args(argv)
    try:
        model, meta = average(a.weights, a.ratio)
    except (ValueError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    save_weights(model, a.out, meta)
    print(f"wrote {a.out}: mean of {len(a.weights)} weights, ratios {meta['ratios']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
