"""What a set of weights measurably gains per degradation kind, read from a gain table.

The table is the JSON that ``python -m lab.levels --weights W ... --out T.md`` writes beside ``T.md``
(the app ships ``assets/eval/levels_restored.json``): per weights folder the mean PSNR of the degraded
and of the restored images per kind and strength (``restored``), and each folder's
``slerir.checkpoint.weights_fingerprint`` (``fingerprints``). The app tells a user what the loaded
weights gain on the kind it predicts, and only when the table was measured with those very weights.
"""
from __future__ import annotations


def kind_gains(levels: dict, fingerprint: str | None) -> dict[str, tuple[float, float]] | None:
    """The restored-minus-degraded PSNR range (dB, lowest and highest over the strengths) per kind of
    the weights whose fingerprint is ``fingerprint``, from a gain table ``levels`` (a parsed
    ``lab.levels`` JSON); None when no weights there have it (the table was measured with other weights)."""
    if not fingerprint:
        return None
    for w, fp in (levels.get("fingerprints") or {}).items():
        if fp == fingerprint and w in levels.get("restored", {}):
            by_kind = levels["restored"][w]["strength"]
            return {k: (min(r - d for d, r in v), max(r - d for d, r in v)) for k, v in by_kind.items()}
    return None
