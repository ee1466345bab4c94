"""The same weights under another model setting that holds no parameters: writes a weights folder (the tensors
copied, ``config.json``'s ``model`` fields changed) that every tool reads like any other.

    python -m lab.override --weights assets/weights --set glgf_max_global=0.5 --out runs/override/max05
    python -m lab.routing_check --weights runs/override/max05
    python -m slerir.validate --weights runs/override/max05 --profile zoom --n 48

Only settings that leave the tensors' names and shapes alone make sense (``glgf_max_global``, ``top_k``,
``router_scale_min``, ``fusion``); the folder is checked by loading it, so a setting the tensors do not fit is
an error, not a broken folder. What it answers: how much of a measured behaviour is the setting's and how much
the training's (LOG finding 33: the shipped weights with the global share bounded by 0.5).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path


def parse_setting(text: str) -> tuple[str, object]:
    """"name=value" -> (name, value); the value read as JSON when it parses (numbers, true/false), else a string."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"expected name=value, got {text!r}")
    try:
        return name.strip(), json.loads(value)
    except json.JSONDecodeError:
        return name.strip(), value


def write_override(weights: str | Path, settings: dict[str, object], out: str | Path) -> Path:
    """Copy ``weights`` to ``out`` with ``settings`` in its model config; raises ValueError (unknown field,
    a value the model rejects) or CheckpointError (tensors that do not fit), leaving no folder behind."""
    from dataclasses import fields

    from lab.common import write_weights_folder
    from slerir.config import ModelConfig

    src, out = Path(weights), Path(out)
    cfg = json.loads((src / "config.json").read_text())
    known = {f.name for f in fields(ModelConfig)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ValueError(f"not a model setting: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    cfg["model"].update(settings)
    cfg.setdefault("meta", {})["override"] = {"of": str(src), "set": settings}
    return write_weights_folder(out, cfg, lambda path: shutil.copyfile(src / "model.safetensors", path))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lab.override", description=__doc__.split("\n")[0])
    ap.add_argument("--weights", required=True, help="weights folder (config.json + model.safetensors)")
    ap.add_argument("--set", action="append", required=True, metavar="NAME=VALUE", help="a model setting; repeatable")
    ap.add_argument("--out", required=True, help="the new weights folder")
    args = ap.parse_args(argv)
    from slerir.checkpoint import CheckpointError

    try:
        settings = dict(parse_setting(s) for s in args.set)
        if not (Path(args.weights) / "config.json").is_file():
            raise FileNotFoundError(f"{args.weights}: no config.json (expected a weights folder)")
        out = write_override(args.weights, settings, args.out)
    except (ValueError, TypeError, FileNotFoundError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{out}: {args.weights} with {settings}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
