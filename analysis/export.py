"""Static PNG/SVG copies of plotly figures, for slides.

Plotly's maintained exporter, kaleido (1.x), renders figures in a local Chromium-based browser. It
never downloads one here: we look for an installed browser ourselves (``$BROWSER_PATH``, then
``chromium``, ``chromium-browser``, ``google-chrome`` on the PATH: Debian's ``chromium`` package is
enough) and hand kaleido its path, with MathJax disabled (kaleido would fetch it from a CDN) and
plotly.js taken from the installed plotly package. Where kaleido or a browser is missing, nothing
is written and the reason is returned, so callers can say so instead of failing.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Sequence

FORMATS = ("png", "svg")
RETRIES = 2  # extra attempts for figures a render missed
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    """Path of a Chromium-based browser kaleido can drive, or None."""
    env = os.environ.get("BROWSER_PATH")
    if env and Path(env).is_file() and os.access(env, os.X_OK):
        return env
    for name in BROWSER_NAMES:
        p = shutil.which(name)
        if p:
            return p
    return None


def parse_formats(text: str) -> tuple[str, ...]:
    """``"png,svg"`` -> ("png", "svg"); ``"none"`` or ``""`` -> (). Raises ValueError on others."""
    text = (text or "").strip().lower()
    if text in ("", "none"):
        return ()
    out = tuple(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    bad = [t for t in out if t not in FORMATS]
    if bad:
        raise ValueError(f"unknown static format(s) {bad}: choose from {', '.join(FORMATS)} or 'none'")
    return out


def export_static(jobs: Sequence[tuple[Any, Path]], formats: Sequence[str] = FORMATS, scale: float = 2.0,
                  timeout: float = 120.0) -> tuple[list[Path], str | None]:
    """Write every ``(figure, stem)`` of ``jobs`` as ``stem.<fmt>`` for each format, in one browser session.

    Args:
        jobs: plotly figures and output paths without suffix.
        formats: subset of FORMATS.
        scale: PNG pixel scale (2 = twice the figure's layout size, sharp on slides).
        timeout: seconds allowed per image.

    Returns:
        (files written, note): note is None when every file was written, else one sentence saying
        what was not written and why (kaleido missing, no browser, render errors).
    """
    formats = tuple(formats)
    if not jobs or not formats:
        return [], None
    try:
        import kaleido
    except ImportError:
        return [], "PNG/SVG copies not written: the kaleido package is not installed (pip install kaleido)."
    browser = find_browser()
    if browser is None:
        return [], ("PNG/SVG copies not written: no Chromium-based browser found (install Debian's chromium "
                    "or set BROWSER_PATH).")
    specs = []
    for fig, stem in jobs:
        for fmt in formats:
            path = Path(stem).with_suffix("." + fmt)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)  # a stale copy from an earlier run must not count as written
            opts = {"format": fmt, "scale": scale} if fmt == "png" else {"format": fmt}
            specs.append({"fig": fig, "path": path, "opts": opts})
    errors: tuple = ()
    for _ in range(RETRIES + 1):
        # a fresh tab sometimes renders before kaleido's own page script is ready ("kaleido_scopes is
        # not defined"); the figures it missed go again
        todo = [sp for sp in specs if not _written(sp["path"])]
        if not todo:
            break
        try:
            errors = tuple(kaleido.write_fig_from_object_sync(
                todo, kopts={"mathjax": False, "timeout": timeout, "path": browser}) or ())
        except Exception as e:  # browser failed to start, protocol error: the HTML figures still stand
            errors = (e,)
    written = [sp["path"] for sp in specs if _written(sp["path"])]
    if len(written) == len(specs):
        return written, None
    why = f" ({type(errors[0]).__name__}: {str(errors[0])[:200]})" if errors else ""
    if not written:
        return [], f"PNG/SVG copies not written: kaleido failed{why}."
    return written, f"PNG/SVG copies: {len(written)} of {len(specs)} written{why}."


def _written(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0
