"""Clear one-line errors for bad input, checked before any handler runs.

A component's `preprocess` turns what the browser or an API client sent into the
handler's argument, and refuses what it cannot take; left alone, that refusal is a
traceback in the server log and a message that names neither the input nor what it
takes ("Value 8 is less than minimum value 16."). Subclassing a component breaks the page
(the browser asks for an unknown component), so the guards wrap `preprocess` on the
instance instead:

- `guard_image_upload`: the file's header is checked with the library's own rules
  (`nst.images.check_image_file`: missing, oversized, unreadable, too many pixels) before
  Gradio decodes the whole image, then the decoded file with `nst.images.load_image`.
- `guard_control`: a value outside a control's choices or range is refused naming the
  control and what it takes.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from nst.errors import NSTError
from nst.images import check_image_file, load_image

from .errors import visitor_error

__all__ = ["guard_image_upload", "guard_control"]


def guard_image_upload(component: gr.Image, name: str) -> gr.Image:
    """Make `component` (a `type="filepath"` image input) refuse a bad upload in one line.

    `name` labels the image in the message, e.g. "content image".
    """
    original = component.preprocess

    def preprocess(payload: Any) -> Any:
        path = getattr(payload, "path", None)
        try:
            if path:
                check_image_file(path, name=name)
            value = original(payload)
            if isinstance(value, str):
                load_image(value, name=name)
        except gr.Error as exc:
            raise visitor_error(exc.message) from None
        except NSTError as exc:
            raise visitor_error(str(exc)) from None
        except Exception:  # Pillow raises several types for the same problem
            raise visitor_error(f"{name}: not a readable image file; use a PNG, JPEG or WebP image") from None
        return value

    component.preprocess = preprocess  # type: ignore[method-assign]
    return component


def guard_control(component: gr.components.Component, name: str) -> gr.components.Component:
    """Make `component` refuse a value it cannot take with a line naming `name` and what it takes."""
    original = component.preprocess

    def preprocess(payload: Any) -> Any:
        try:
            return original(payload)
        except Exception as exc:  # Gradio's own refusals and conversion errors alike
            raise visitor_error(f"{name}: {payload!r} is not valid; {_takes(component, exc)}") from None

    component.preprocess = preprocess  # type: ignore[method-assign]
    return component


def _takes(component: gr.components.Component, exc: Exception) -> str:
    """What `component` takes: its choices, its range, or Gradio's own words."""
    choices = getattr(component, "choices", None)
    if choices:
        return "choose from " + ", ".join(repr(value) for _, value in choices)
    low, high = getattr(component, "minimum", None), getattr(component, "maximum", None)
    if low is not None and high is not None:
        return f"give a number from {_number(low)} to {_number(high)}"
    if low is not None:
        return f"give a number of at least {_number(low)}"
    if high is not None:
        return f"give a number of at most {_number(high)}"
    return exc.message if isinstance(exc, gr.Error) else "see the API page for what it takes"


def _number(x: float) -> str:
    """2147483647 rather than 2.14748e+09; 1e-06 stays short."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"
