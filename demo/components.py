"""Gradio component tweaks the demo needs (layout code stays in ``demo.ui``)."""
from __future__ import annotations

import gradio as gr
from PIL import UnidentifiedImageError


class ImageInput(gr.Image):
    """``gr.Image`` whose preprocessing never leaks a stack trace.

    Gradio opens every upload with PIL before our callback runs; a file that is not an image (or
    is truncated, or too large to decode) would otherwise fail there with a bare exception. This
    turns any such failure into a ``gr.Error`` with a message a person can act on. Rendered by the
    stock Image frontend (``is_template``).
    """

    is_template = True

    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except gr.Error:
            raise
        except Exception as e:  # PIL.UnidentifiedImageError, OSError (truncated), DecompressionBombError...
            name = getattr(payload, "orig_name", None) or "the uploaded file"
            why = ("its contents are not a recognised image format" if isinstance(e, UnidentifiedImageError)
                   else f"{type(e).__name__}: {str(e).split(chr(10))[0][:200]}")
            raise gr.Error(f"Could not read {name} as an image: {why}. Upload a PNG, JPEG, WebP, TIFF or "
                           "BMP file.", title="Not an image", print_exception=False) from None
