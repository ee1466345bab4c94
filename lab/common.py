"""What the lab's command lines share: loading each --weights folder with a clear error, and writing a
report as markdown (printed, and to --out) with its JSON beside it."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Callable


def load_restorer(weights: str):
    """``Restorer.from_pretrained(weights)``, or None after printing ``error: ...`` to stderr."""
    from slerir.checkpoint import CheckpointError
    from slerir.inference import Restorer

    try:
        return Restorer.from_pretrained(weights)
    except (CheckpointError, FileNotFoundError) as e:
        print(f"error: {weights}: {e}", file=sys.stderr)
        return None


def emit(markdown: str, results: dict, out: str | None) -> None:
    """Print ``markdown``; with ``out``, write it there and ``results`` as JSON beside it (.json)."""
    print(markdown)
    if out:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(markdown)
        path.with_suffix(".json").write_text(json.dumps(results, indent=2))


def write_weights_folder(out: str | Path, config: dict, write_tensors: Callable[[Path], None]) -> Path:
    """Write a weights folder: ``write_tensors(out / "model.safetensors")`` and ``config`` as ``config.json``,
    then load it (``slerir.checkpoint.load_model``) as every tool will; on any error the folder is removed and
    the error raised, so no broken folder is left behind."""
    from slerir.checkpoint import load_model

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        write_tensors(out / "model.safetensors")
        (out / "config.json").write_text(json.dumps(config, indent=2))
        load_model(out)
    except Exception:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return out
