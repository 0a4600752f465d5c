"""A clear one-line error for an unreadable upload.

`gr.Image` opens an upload with Pillow in its `preprocess`, before any handler runs, so
a corrupt file would otherwise end in Gradio's generic "error". Subclassing `gr.Image`
breaks the page (the browser asks for an unknown component), so the guard wraps
`preprocess` on the component instance instead, and checks the file with the
library's own reader (`nst.images.load_image`: corrupt, empty, too many pixels).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from nst.errors import NSTError
from nst.images import load_image

from .errors import visitor_error

__all__ = ["guard_image_upload"]


def guard_image_upload(component: gr.Image, name: str) -> gr.Image:
    """Make `component` (a `type="filepath"` image input) raise `gr.Error` for a bad upload.

    `name` labels the image in the message, e.g. "content image".
    """
    original = component.preprocess

    def preprocess(payload: Any) -> Any:
        try:
            value = original(payload)
        except gr.Error:
            raise
        except Exception:  # Pillow raises several types for the same problem
            raise visitor_error(f"{name}: not a readable image file; use a PNG, JPEG or WebP image") from None
        if isinstance(value, str):
            try:
                load_image(value, name=name)
            except NSTError as exc:
                raise visitor_error(str(exc)) from None
        return value

    component.preprocess = preprocess  # type: ignore[method-assign]
    return component
