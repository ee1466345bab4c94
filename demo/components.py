"""Gradio component tweaks the demo needs (layout code stays in ``demo.ui``)."""
from __future__ import annotations

import gradio as gr


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
            raise gr.Error(f"Could not read {name} as an image ({type(e).__name__}: {e}). "
                           "Upload a PNG, JPEG, WebP, TIFF or BMP file.", title="Not an image") from None
