"""Two weights folders of one architecture mixed tensor by tensor: ``(1 - alpha) * A + alpha * B``, written as a
weights folder that every tool reads like any other (A's ``config.json``, with the mix recorded under ``meta``).

    python -m lab.blend --weights assets/weights train_state/tiny_v3/val_weights/step_001000 --alpha 0.5 \\
        --out runs/blend/v3_050

What it answers: a fine-tune of the shipped tensors gains in one category and drifts in others (LOG findings 35-37);
weights on the straight line between the model and its fine-tune often keep most of the gain and little of the
drift, because both lie in one basin. ``--only PREFIX...`` mixes some tensors and keeps the rest (which part of a
fine-tune carries a gain or a drift: ``--alpha 1 --only encoder glgf``). Only folders whose tensors have the same names, shapes and dtypes mix;
the model settings that hold no parameters are A's (``glgf_max_global`` and the like: use ``lab.override`` after).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def blend_tensors(a: dict[str, np.ndarray], b: dict[str, np.ndarray], alpha: float,
                  only: list[str] | None = None) -> dict[str, np.ndarray]:
    """``(1 - alpha) * a + alpha * b`` per tensor (with ``only``: just the tensors whose names start with one of
    those prefixes; the rest stay ``a``'s); ValueError when the two do not hold the same tensors."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    if set(a) != set(b):
        only = sorted(set(a) ^ set(b))
        raise ValueError(f"the two hold different tensors ({len(only)} differ, e.g. {only[0]})")
    if only is not None:
        unmatched = [p for p in only if not any(k.startswith(p) for k in a)]
        if unmatched:
            raise ValueError(f"no tensor name starts with {', '.join(unmatched)}")
    out = {}
    for k in sorted(a):
        x, y = a[k], b[k]
        if x.shape != y.shape or x.dtype != y.dtype:
            raise ValueError(f"tensor {k}: {x.shape} {x.dtype} against {y.shape} {y.dtype}")
        if only is not None and not any(k.startswith(p) for p in only):
            out[k] = x.copy()
        elif x.dtype.kind != "f":
            if not np.array_equal(x, y):
                raise ValueError(f"tensor {k}: non-float tensors differ, cannot mix them")
            out[k] = x.copy()
        else:
            out[k] = np.array(((1.0 - alpha) * x.astype(np.float64) + alpha * y.astype(np.float64)).astype(x.dtype), order="C")
    return out


def write_blend(a: str | Path, b: str | Path, alpha: float, out: str | Path, only: list[str] | None = None) -> Path:
    """Write the mix of weights folders ``a`` and ``b`` to ``out``; raises ValueError or CheckpointError,
    leaving no folder behind."""
    from safetensors.numpy import load_file, save_file

    from lab.common import write_weights_folder

    a, b, out = Path(a), Path(b), Path(out)
    for src in (a, b):
        if not (src / "config.json").is_file() or not (src / "model.safetensors").is_file():
            raise FileNotFoundError(f"{src}: expected a weights folder (config.json + model.safetensors)")
    ca, cb = (json.loads((p / "config.json").read_text()) for p in (a, b))
    shape_keys = sorted(k for k in ca["model"] if ca["model"].get(k) != cb["model"].get(k))
    tensors = blend_tensors(load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors")), alpha,
                            only)
    cfg = dict(ca)
    cfg["meta"] = dict(ca.get("meta", {}))
    cfg["meta"]["blend"] = {"a": str(a), "b": str(b), "alpha": alpha, "only": only,
                          "settings_differing": shape_keys}
    return write_weights_folder(out, cfg, lambda path: save_file(tensors, str(path)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lab.blend", description=__doc__.split("\n")[0])
    ap.add_argument("--weights", nargs=2, required=True, metavar=("A", "B"), help="two weights folders")
    ap.add_argument("--alpha", type=float, required=True, help="B's share, 0 (A) .. 1 (B)")
    ap.add_argument("--only", nargs="+", metavar="PREFIX", default=None,
                    help="mix only the tensors whose names start with one of these (e.g. encoder glgf); the rest stay A's")
    ap.add_argument("--out", required=True, help="the new weights folder")
    args = ap.parse_args(argv)
    from slerir.checkpoint import CheckpointError

    try:
        out = write_blend(args.weights[0], args.weights[1], args.alpha, args.out, args.only)
    except (ValueError, FileNotFoundError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    part = f" (only {' '.join(args.only)})" if args.only else ""
    print(f"{out}: {1 - args.alpha:g} x {args.weights[0]} + {args.alpha:g} x {args.weights[1]}{part}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
