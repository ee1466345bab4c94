"""Gradio component tweaks the demo needs (layout code stays in ``demo.ui``)."""
from __future__ import annotations

import functools

import gradio as gr
from PIL import UnidentifiedImageError


def image_input(**kwargs) -> gr.Image:
    """A ``gr.Image`` whose preprocessing never leaks a stack trace.

    Gradio opens every upload with PIL before our callback runs; a file that is not an image (or
    is truncated, or too large to decode) would otherwise fail there with a bare exception. The
    instance's ``preprocess`` is wrapped so that any such failure becomes a ``gr.Error`` with a
    message a person can act on. (Wrapping the instance, not subclassing: a ``gr.Image`` subclass
    makes Gradio write a ``.pyi`` stub next to this file at import time.)
    """
    comp = gr.Image(**kwargs)
    original = comp.preprocess

    @functools.wraps(original)
    def preprocess(payload):
        try:
            return original(payload)
        except gr.Error:
            raise
        except Exception as e:  # UnidentifiedImageError, OSError (truncated), DecompressionBombError...
            name = getattr(payload, "orig_name", None) or "the uploaded file"
            why = ("its contents are not a recognised image format" if isinstance(e, UnidentifiedImageError)
                   else f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}")
            raise gr.Error(f"Could not read {name} as an image: {why}. Upload a PNG, JPEG, WebP, TIFF or "
                           "BMP file.", title="Not an image", print_exception=False) from None

    comp.preprocess = preprocess
    return comp
