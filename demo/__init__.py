"""SLER-IR Studio, the Gradio demo: layout (``demo.ui``) and callbacks (``demo.callbacks``) only;
analysis lives in ``analysis``, the model in ``slerir``. ``app.py`` loads the weights and launches.

``build_demo`` and ``launch_kwargs`` are imported lazily so that ``python -m demo.examples`` does
not pay for importing gradio.
"""
from __future__ import annotations

__all__ = ["build_demo", "launch_kwargs"]


def __getattr__(name: str):
    if name in __all__:
        from . import ui

        return getattr(ui, name)
    raise AttributeError(f"module 'demo' has no attribute {name!r}")
