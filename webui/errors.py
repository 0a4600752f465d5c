"""What a visitor reads when a request cannot be served: one line, and no traceback in the log.

Bad input, missing weights, a cap reached and a run that runs out of memory are expected
conditions of a public Space, not bugs: the visitor reads what to change, and the
server log stays readable. Anything else is a bug and keeps Gradio's traceback.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import gradio as gr
import torch

from nst.errors import NSTError

__all__ = ["visitor_error", "one_line_errors"]


def visitor_error(message: str) -> gr.Error:
    """A `gr.Error` showing `message`, without a traceback in the server log."""
    return gr.Error(message, print_exception=False)


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn an `NSTError`, and running out of memory, into a `visitor_error`."""
    try:
        yield
    except NSTError as exc:
        raise visitor_error(str(exc)) from None
    except torch.OutOfMemoryError:
        raise visitor_error("out of memory: choose a smaller output size or fewer style layers") from None
