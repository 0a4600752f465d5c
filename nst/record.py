"""The run record: what made an image, written by the CLI, shown by the app and stored with
every paper cell, all built by `run_record` and read back by `RunRecord.from_json`.

A record read from a file is untrusted: `from_json` / `from_dict` refuse a malformed one
(not JSON, an unknown or missing key, a value of the wrong type, settings `Settings`
refuses) with one line naming what is wrong. Every PNG carries its run's record, less its
timing and output path, as its recipe (`nst.recipe`).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .config import Settings
from .errors import NSTError
from .features import VGGFeatures
from .precision import precision_used
from .request import Request
from .version import __version__

__all__ = ["MAX_RECORD_BYTES", "RunRecord", "run_record", "read_json"]

# A record is a few kilobytes; a larger file is not one of ours.
MAX_RECORD_BYTES = 1_000_000


@dataclass(frozen=True)
class RunRecord:
    """One run: its settings and what they came to (γ, optimizer, scales and their tiles), the
    network and where its weights came from, the inputs by name, where the image went, how far
    the run got (and why it stopped early, when it did) and its final loss per term, and where,
    in which precision and with what it ran. `tiles` may be missing from a record written before
    tiles came in (read back as ()), `precision` from one written before "auto" (read back as the
    settings' own, which then was what ran), `stopped` from one written before early stopping."""

    settings: Settings
    gamma: float  # the style weight γ used: `settings.gamma`, or its methods' default
    optimizer: str  # the optimizer used ("auto" resolved)
    scales: tuple[tuple[int, int], ...]  # (long edge, steps) per scale, coarsest first
    network: str  # `VGGFeatures.label`
    network_source: str  # `VGGFeatures.source`: where its weights came from
    content: str  # the photo, as `nst.request.source_name` names it
    paintings: tuple[str, ...]
    regions: str | None  # the mask and which colour went to which painting, or None without one
    output: str | None  # the image written, or None where none was (and in a recipe, which is inside it)
    steps_done: int  # fewer than `settings.steps` when the run was stopped
    final_losses: dict[str, float]  # every term at the last step done (empty before the first)
    seconds: float | None  # None in a recipe (`nst.recipe`): the same run gives the same bytes
    device: str
    version: str  # nst's
    torch: str
    created: str | None  # when the run started, ISO 8601 in UTC; None in a recipe
    # Per scale (core long edge, halo, most tiles a step): (size, 0, 1) for a scale optimised whole.
    # `optimizer` is the run's; a tiled scale runs Adam (`nst.tiled`), as a print's scales above
    # 1024 px do under "auto" (`Settings.optimizer_at`).
    tiles: tuple[tuple[int, int, int], ...] = ()
    precision: str = "fp32"  # what the network ran in: "fp32" or "bf16" (`settings.precision`, "auto" resolved)
    # Why the run ended at `steps_done` before its last step by itself (early stopping's rule held,
    # `nst.stopping`); None when it ran every step or was stopped from outside.
    stopped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON types: tuples become lists."""
        data = dataclasses.asdict(self)
        return json.loads(json.dumps(data))

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> RunRecord:
        """Inverse of `to_json`; `NSTError` of one line for anything else."""
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise NSTError(f"run record: not JSON ({str(exc).splitlines()[0] if str(exc) else 'too deep'})") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> RunRecord:
        """Inverse of `to_dict`, checking every key and type."""
        if not isinstance(data, dict):
            raise NSTError(f"run record: expected a JSON object, got {type(data).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        optional = {f.name for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}
        unknown = sorted(set(data) - set(names))
        missing = [n for n in names if n not in data and n not in optional]
        if unknown:
            raise NSTError(f"run record: unknown key(s) {', '.join(map(str, unknown))}; a record has "
                           f"{', '.join(names)}")
        if missing:
            raise NSTError(f"run record: missing key(s) {', '.join(missing)}")
        for name, check in _CHECKS.items():
            if name in data and not check(data[name]):
                raise NSTError(f"run record: {name} {_short(data[name])} is not {_WHAT[name]}")
        try:
            settings = Settings.from_dict(data["settings"])
        except NSTError as exc:
            raise NSTError(f"run record: bad settings: {exc}") from None
        return cls(**{**data, "settings": settings, "gamma": float(data["gamma"]),
                      # Before "auto" came in a run's precision was its settings' own.
                      "precision": data.get("precision", "fp32" if settings.precision == "auto" else settings.precision),
                      "seconds": None if data["seconds"] is None else float(data["seconds"]),
                      "scales": tuple((size, steps) for size, steps in data["scales"]),
                      "tiles": tuple(tuple(t) for t in data.get("tiles", ())),
                      "paintings": tuple(data["paintings"]),
                      "final_losses": {k: float(v) for k, v in data["final_losses"].items()}})


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _whole(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _text(x: Any) -> bool:
    return isinstance(x, str)


_CHECKS = {
    "settings": lambda x: isinstance(x, dict),
    "gamma": _number, "optimizer": _text,
    "scales": lambda x: isinstance(x, list) and all(isinstance(p, list) and len(p) == 2 and all(map(_whole, p))
                                                     for p in x),
    "network": _text, "network_source": _text, "content": _text,
    "paintings": lambda x: isinstance(x, list) and all(map(_text, x)),
    "regions": lambda x: x is None or _text(x), "output": lambda x: x is None or _text(x),
    "steps_done": _whole,
    "final_losses": lambda x: isinstance(x, dict) and all(_text(k) and _number(v) for k, v in x.items()),
    "seconds": lambda x: x is None or _number(x), "device": _text, "version": _text, "torch": _text,
    "created": lambda x: x is None or _text(x),
    "tiles": lambda x: isinstance(x, list) and all(isinstance(t, list) and len(t) == 3 and all(map(_whole, t))
                                                   for t in x),
    "precision": lambda x: x in ("fp32", "bf16"), "stopped": lambda x: x is None or _text(x),
}
_WHAT = {
    "settings": "an object of settings", "gamma": "a number", "scales": "a list of [size, steps] pairs",
    "paintings": "a list of names", "regions": "a name or null", "output": "a path or null",
    "tiles": "a list of [tile, halo, tiles] triples",
    "steps_done": "a whole number", "final_losses": "an object of numbers", "seconds": "a number or null",
    "created": "text or null", "precision": "fp32 or bf16", "stopped": "text or null",
    **{name: "text" for name in ("optimizer", "network", "network_source", "content", "device", "version", "torch")},
}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def run_record(request: Request, extractor: VGGFeatures, *, steps_done: int = 0,
               final_losses: dict[str, float] | None = None, seconds: float = 0.0, output: str | None = None,
               device: str | None = None, stopped: str | None = None) -> RunRecord:
    """The record of running `request` on `extractor`: so far `steps_done` steps in `seconds`
    with these `final_losses`, ended early for the reason `stopped` (None: not by itself);
    `device` defaults to the extractor's (`"cpu"`, `"cuda:0"`). Its tiles are those of
    `Request.layouts` on the extractor's device, its precision `settings.precision` resolved there."""
    settings = request.settings
    tiles = tuple((layout.tile, layout.halo, layout.most_tiles()) if layout.tile is not None else (size, 0, 1)
                  for (size, _), layout in zip(settings.scale_plan(), request.layouts(extractor.device)))
    return RunRecord(settings=settings, gamma=settings.gamma_used(), optimizer=settings.optimizer_used(),
                     scales=settings.scale_plan(), network=extractor.label,
                     network_source=extractor.source,
                     content=request.content_name, paintings=request.painting_names, regions=request.mask_name,
                     output=output, steps_done=steps_done, final_losses=dict(final_losses or {}),
                     seconds=round(seconds, 3), device=device or str(extractor.device), version=__version__,
                     torch=torch.__version__,
                     created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), tiles=tiles,
                     precision=precision_used(settings.precision, extractor.device), stopped=stopped)


def read_json(path: str | os.PathLike, *, name: str = "run record") -> Any:
    """The JSON in the file at `path` (a record, or a file holding one), refused in one line
    when it is missing, larger than `MAX_RECORD_BYTES` or not JSON."""
    path = Path(path)
    try:
        size = path.stat().st_size
        text = None if size > MAX_RECORD_BYTES else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NSTError(f"{name} {path}: cannot be read ({getattr(exc, 'strerror', None) or type(exc).__name__})") \
            from None
    if text is None:
        raise NSTError(f"{name} {path}: larger than {MAX_RECORD_BYTES:,} bytes, not a record")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise NSTError(f"{name} {path}: not JSON") from None
