"""Each visitor's runs: how many may run at once, and stopping them within one step.

A visitor is a browser tab or an API client (Gradio's session hash). `Visitors.run`
registers a run and hands it a `threading.Event`; `until_stopped` passes on a run's
stream (one item per optimizer step) and checks that event after every item, so Stop
(`stop`) and leaving the page (`leave`, wired to the page's unload) end the run at the
current step and free the CPU or GPU for the next request.
Gradio's own cancellation only stops a handler when it next yields to the page.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Callable, Iterator, TypeVar

import gradio as gr

from .errors import visitor_error

__all__ = ["Visitors", "session_of"]

T = TypeVar("T")


def session_of(request: gr.Request | None) -> str | None:
    """The visitor behind `request`, or None for a call made without one (a test, a script)."""
    return getattr(request, "session_hash", None) if request is not None else None


class Visitors:
    """The runs going on, by visitor; at most `per_visitor` at once for each."""

    def __init__(self, per_visitor: int = 1) -> None:
        self.per_visitor = per_visitor
        self._lock = threading.Condition()
        self._runs: dict[str, list[threading.Event]] = {}

    @contextlib.contextmanager
    def run(self, visitor: str | None) -> Iterator[threading.Event]:
        """Register a run of `visitor` while the block runs; the event is set when it must stop.

        Raises a one-line error when the visitor already has `per_visitor` runs going.
        A run without a visitor is not counted, and only its caller can stop it.
        """
        stop = threading.Event()
        if visitor is None:
            yield stop
            return
        with self._lock:
            runs = self._runs.setdefault(visitor, [])
            if len(runs) >= self.per_visitor:
                raise visitor_error("you already have a run going: wait for it to end, or press Stop")
            runs.append(stop)
        try:
            yield stop
        finally:
            with self._lock:
                runs.remove(stop)
                if not runs:
                    del self._runs[visitor]
                self._lock.notify_all()

    def until_stopped(self, visitor: str | None, start: Callable[[], Iterator[T]]) -> Iterator[T]:
        """The items of the stream `start()` opens, registered as a run of `visitor` (see `run`):
        after each item, the stream ends when the visitor has stopped it, and it is closed
        however it ends (which frees its optimizer and targets at once)."""
        with self.run(visitor) as stop:
            stream = start()
            try:
                for item in stream:
                    yield item
                    if stop.is_set():
                        return
            finally:
                stream.close()  # type: ignore[attr-defined]

    def stop(self, visitor: str | None, wait: float = 0.0) -> int:
        """Ask every run of `visitor` to stop at its current step, and wait up to `wait`
        seconds for them to end; how many were going."""
        with self._lock:
            runs = list(self._runs.get(visitor, [])) if visitor is not None else []
            for event in runs:
                event.set()
            self._lock.wait_for(lambda: visitor not in self._runs, timeout=wait)
        return len(runs)

    def stopping(self, visitor: str | None) -> bool:
        """Whether a run of `visitor` has been asked to stop and has not ended yet."""
        with self._lock:
            return any(event.is_set() for event in self._runs.get(visitor, []))

    def leave(self, request: gr.Request) -> None:
        """The page's unload event: the visitor closed the tab, so their runs stop."""
        self.stop(session_of(request))

    def running(self) -> int:
        """Runs going on now, of every visitor."""
        with self._lock:
            return sum(len(runs) for runs in self._runs.values())
