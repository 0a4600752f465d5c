"""The shape every tab shares: a layout dataclass, a handler class, and wiring between them.

A tab's `layout()` returns a dataclass of its components that derives from `Page`. Its
handler class knows nothing of components: each handler returns (or yields) a dict
`{name: value}` whose names are fields of that dataclass, so it can be called and
checked without a server. `wire(page, handlers)` connects events through `page.bind`,
which turns those dicts into the `{component: value}` dicts Gradio applies; outputs a
handler leaves out keep their value.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Iterator, Mapping

import gradio as gr

__all__ = ["Page", "Outputs"]

Outputs = dict[str, Any]


class Page:
    """Base of the tabs' layout dataclasses: components by name, and handlers bound to them."""

    def component(self, name: str) -> gr.components.Component:
        """The component called `name` (a field of the dataclass)."""
        value = getattr(self, name, None)
        if not isinstance(value, gr.blocks.Block):
            raise KeyError(f"{type(self).__name__} has no component {name!r}")
        return value

    def components(self, *names: str) -> list[gr.components.Component]:
        return [self.component(name) for name in names]

    def _by_component(self, outputs: Mapping[str, Any]) -> dict[gr.components.Component, Any]:
        return {self.component(name): value for name, value in outputs.items()}

    def bind(self, handler: Callable[..., Outputs | Iterator[Outputs]]) -> Callable[..., Any]:
        """`handler` with its `{name: value}` results turned into `{component: value}`.

        The wrapper keeps the handler's signature (Gradio reads parameter names,
        defaults and `gr.Progress` from it) and is a generator exactly when it is.
        """
        if inspect.isgeneratorfunction(handler):
            def stream(*args: Any, **kwargs: Any) -> Iterator[dict[gr.components.Component, Any]]:
                for outputs in handler(*args, **kwargs):
                    yield self._by_component(outputs)
            return _same_face(stream, handler)

        def call(*args: Any, **kwargs: Any) -> dict[gr.components.Component, Any]:
            return self._by_component(handler(*args, **kwargs))
        return _same_face(call, handler)


def _same_face(wrapper: Callable[..., Any], handler: Callable[..., Any]) -> Callable[..., Any]:
    """`wrapper` with `handler`'s name, docstring and signature. The signature is set
    explicitly: one declared on a method's function (`webui.controls.takes_controls`)
    still lists `self`, which `functools.wraps` would copy."""
    functools.update_wrapper(wrapper, handler)
    wrapper.__signature__ = inspect.signature(handler)  # type: ignore[attr-defined]
    return wrapper
