"""Share links: a finished run kept on the server's disk under a random name, for a while.

`Links.keep` copies a result PNG (which carries its recipe, `nst.recipe`) with the photo
and the paintings it was made from into a new folder `<folder>/<id>/` and gives the id, 32
random hex digits; the page turns it into `?run=<id>`. `Links.open` finds them again for
an id, reading the settings from the recipe inside the kept PNG as untrusted input.

A link lives `days` days from the share, or until the folder is lost (a Space without
persistent storage loses its disk when it restarts). The folder is apart from Gradio's
cache on purpose: Gradio deletes every file it has served from its cache after an hour
(`delete_cache` in app.py), and a link opened once would take its images with it.
Expired links are removed whenever a run is shared, and at most `max_links` are kept
(the oldest go first), so a public Space's disk stays bounded.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from nst.errors import NSTError
from nst.recipe import Recipe, read_recipe

__all__ = ["LINK_DAYS", "MAX_LINKS", "SharedRun", "Links"]

LINK_DAYS = 7.0
MAX_LINKS = 500
_ID = re.compile(r"[0-9a-f]{32}")
_RESULT = "result.png"
# Kept images keep their suffix (Gradio serves a file by it); anything else is stored as .img.
_SUFFIX = re.compile(r"\.(png|jpe?g|webp|gif|bmp|tiff?)")


@dataclass(frozen=True)
class SharedRun:
    """What a link opens: the `result` PNG with its `recipe`, the `photo` and the `paintings` (paths)."""

    recipe: Recipe
    result: Path
    photo: Path
    paintings: tuple[Path, ...]


class Links:
    """The shared runs kept in `folder`, each for `days` days, at most `max_links` of them."""

    def __init__(self, folder: str | os.PathLike, days: float = LINK_DAYS, max_links: int = MAX_LINKS) -> None:
        self.folder = Path(folder)
        self.days = days
        self.max_links = max_links

    @classmethod
    def from_env(cls) -> Links:
        """`NST_LINKS_DIR` (default: `nst-mmd-links` in the system's temporary folder) and
        `NST_LINK_DAYS` (default `LINK_DAYS`)."""
        folder = os.environ.get("NST_LINKS_DIR") or Path(tempfile.gettempdir()) / "nst-mmd-links"
        days = os.environ.get("NST_LINK_DAYS", "")
        try:
            return cls(folder, float(days) if days else LINK_DAYS)
        except ValueError:
            raise NSTError(f"NST_LINK_DAYS: expected a number of days, got {days!r}") from None

    def keep(self, result: str | os.PathLike, photo: str | os.PathLike,
             paintings: Sequence[str | os.PathLike]) -> str:
        """Copy `result`, `photo` and `paintings` into a new link; its id. The caller checks
        that they belong together."""
        self.sweep()
        link = secrets.token_hex(16)
        folder = self.folder / link
        folder.mkdir(parents=True)
        shutil.copyfile(result, folder / _RESULT)
        shutil.copyfile(photo, folder / f"photo{_suffix(photo)}")
        for k, painting in enumerate(paintings, start=1):
            shutil.copyfile(painting, folder / f"painting-{k}{_suffix(painting)}")
        return link

    def open(self, link: str) -> SharedRun:
        """The run kept under `link`; `NSTError` of one line for a malformed, unknown or
        expired id, or a kept PNG whose recipe does not read."""
        folder = self.folder / link if _ID.fullmatch(link) else None
        if folder is None or not folder.is_dir() or self._expired(folder):
            raise NSTError(f"this link is unknown or has expired (links live {self.days:g} days here, "
                           "and end when the app restarts without its disk)")
        try:
            recipe = read_recipe(folder / _RESULT)
        except NSTError as exc:
            raise NSTError(f"this link's result cannot be read: {str(exc).split(': ', 1)[-1]}") from None
        paintings = tuple(next(folder.glob(f"painting-{k}.*"), None) for k in range(1, len(recipe.inputs.paintings) + 1))
        photo = next(folder.glob("photo.*"), None)
        if photo is None or None in paintings:
            raise NSTError("this link's images are incomplete; ask for a new link")
        return SharedRun(recipe, folder / _RESULT, photo, paintings)  # type: ignore[arg-type]

    def sweep(self) -> None:
        """Remove expired links, then the oldest beyond `max_links`."""
        if not self.folder.is_dir():
            return
        kept = sorted((p for p in self.folder.iterdir() if p.is_dir() and _ID.fullmatch(p.name)),
                      key=lambda p: p.stat().st_mtime, reverse=True)
        for number, folder in enumerate(kept):
            if number >= self.max_links - 1 or self._expired(folder):  # - 1: room for the link being made
                shutil.rmtree(folder, ignore_errors=True)

    def _expired(self, folder: Path) -> bool:
        return time.time() - folder.stat().st_mtime > self.days * 86400


def _suffix(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    return suffix if _SUFFIX.fullmatch(suffix) else ".img"
