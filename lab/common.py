"""What the lab's command lines share: loading each --weights folder with a clear error, and writing a
report as markdown (printed, and to --out) with its JSON beside it."""
from __future__ import annotations

import json
import sys
from pathlib import Path


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
