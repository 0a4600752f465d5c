"""Your runs, kept in the visitor's browser: each run's record and a small thumbnail.

The Stylize tab keeps a visitor's runs in a `gr.BrowserState` (the browser's
localStorage), so they survive a reload: a list, newest first, of entries
`{"id": 16 hex digits, "record": RunRecord.to_dict(), "thumb": "data:image/jpeg;base64,…"}`,
at most `MAX_RUNS` entries and `MAX_BYTES` of JSON in all. The full images stay on the
server for the session only (a `gr.State` of id → path).

What comes back from the browser is untrusted: `read` checks every entry (its keys, an
id of hex digits, a record that `RunRecord.from_dict` accepts, a thumbnail that is a
small JPEG) and the caps, and refuses the whole value in one line otherwise. Nothing in an
entry names a file on the server.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import secrets
from typing import Any

from PIL import Image

from nst.errors import NSTError
from nst.record import RunRecord

__all__ = ["MAX_RUNS", "MAX_BYTES", "THUMB_PX", "thumbnail", "thumb_image", "entry", "add", "read"]

MAX_RUNS = 12
# localStorage holds about 5 MB per site; the runs take a small, fixed share of it.
MAX_BYTES = 200_000
THUMB_PX = 96
_THUMB_PREFIX = "data:image/jpeg;base64,"
_MAX_THUMB_CHARS = 16_000
_ID = re.compile(r"[0-9a-f]{16}")
_KEYS = {"id", "record", "thumb"}


def thumbnail(image: Image.Image) -> str:
    """`image` at most `THUMB_PX` on its long edge, as a JPEG data URL."""
    small = image.convert("RGB")
    small.thumbnail((THUMB_PX, THUMB_PX), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=85)
    return _THUMB_PREFIX + base64.b64encode(buffer.getvalue()).decode("ascii")


def thumb_image(thumb: str) -> Image.Image:
    """The image of a thumbnail data URL; `NSTError` unless it is a JPEG of at most `THUMB_PX`."""
    if not (isinstance(thumb, str) and thumb.startswith(_THUMB_PREFIX) and len(thumb) <= _MAX_THUMB_CHARS):
        raise NSTError(f"a thumbnail must be a JPEG data URL of at most {_MAX_THUMB_CHARS:,} characters")
    try:
        image = Image.open(io.BytesIO(base64.b64decode(thumb[len(_THUMB_PREFIX):], validate=True)), formats=["JPEG"])
    except (binascii.Error, OSError):
        raise NSTError("a thumbnail is not a readable JPEG") from None
    if max(image.size) > THUMB_PX:  # read from the header, before any pixel is decoded
        raise NSTError(f"a thumbnail is larger than {THUMB_PX} px")
    try:
        image.load()
    except OSError:
        raise NSTError("a thumbnail is not a readable JPEG") from None
    return image


def entry(image: Image.Image, record: dict[str, Any]) -> dict[str, Any]:
    """A new entry for a run that showed `image` and has `record` (a `RunRecord.to_dict`)."""
    return {"id": secrets.token_hex(8), "record": record, "thumb": thumbnail(image)}


def add(history: list[dict[str, Any]], new: dict[str, Any]) -> list[dict[str, Any]]:
    """`new` first, then `history`, cut to `MAX_RUNS` entries and `MAX_BYTES`."""
    runs = [new, *history][:MAX_RUNS]
    while len(runs) > 1 and _size(runs) > MAX_BYTES:
        runs.pop()
    return runs


def read(value: Any) -> list[dict[str, Any]]:
    """The runs a browser sent, checked (see the module's docstring); `NSTError` of one line if not valid."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_RUNS:
        raise NSTError(f"expected a list of at most {MAX_RUNS} runs")
    if _size(value) > MAX_BYTES:
        raise NSTError(f"more than {MAX_BYTES:,} bytes")
    for item in value:
        if not isinstance(item, dict) or set(item) != _KEYS:
            raise NSTError(f"each run must be an object with the keys {', '.join(sorted(_KEYS))}")
        if not (isinstance(item["id"], str) and _ID.fullmatch(item["id"])):
            raise NSTError("a run's id must be 16 hexadecimal digits")
        RunRecord.from_dict(item["record"])
        thumb_image(item["thumb"])
    return value


def _size(runs: list[Any]) -> int:
    try:
        return len(json.dumps(runs, separators=(",", ":")))
    except (TypeError, ValueError, RecursionError):
        raise NSTError("not JSON") from None
