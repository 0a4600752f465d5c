"""The recipe inside the picture: every PNG that nst writes carries what made it.

A recipe is the run's `RunRecord` without when it ran, how long it took and where it
was written (so the same run writes the same bytes), and the SHA-256 of each input as
the run saw it: the photo's and each painting's pixels (upright RGB, `Request.content`,
`Request.paintings`) and the mask's region labels. Hashing pixels rather than files means
a photo saved again without loss, or with other metadata, still counts as the same.
The recipe is stored as JSON in the PNG's compressed text chunk `RECIPE_KEY`.

A recipe read from a PNG is untrusted: `read_recipe` reads the file's header and text
chunks only (no pixels, no other file, nothing fetched), and refuses in one line a text
chunk over the caps, one that is not JSON or too deep, an unknown or missing key, a
value of the wrong type and settings that `Settings` refuses.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image
from torch import Tensor

from .errors import NSTError
from .images import read_png_text, save_png
from .record import MAX_RECORD_BYTES, RunRecord
from .request import Request

__all__ = ["RECIPE_KEY", "Inputs", "Recipe", "inputs_of", "recipe_of", "save_with_recipe", "read_recipe"]

RECIPE_KEY = "nst-recipe"
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Inputs:
    """SHA-256 (64 hex digits) of a run's inputs: the photo's pixels, each painting's in
    order, and the mask's labels (None without a mask)."""

    content: str
    paintings: tuple[str, ...]
    mask: str | None

    def differ(self, other: Inputs) -> list[str]:
        """Which of these inputs `other` does not have: "photo", "painting 2", "mask", …"""
        names = [] if self.content == other.content else ["photo"]
        count = max(len(self.paintings), len(other.paintings))
        names += [f"painting {k}" for k in range(1, count + 1)
                  if self.paintings[k - 1:k] != other.paintings[k - 1:k]]
        return names + ([] if self.mask == other.mask else ["mask"])


@dataclass(frozen=True)
class Recipe:
    """What made a picture: the `run` (its record with `seconds`, `created` and `output`
    None) and the `inputs` it was made from."""

    run: RunRecord
    inputs: Inputs

    def to_json(self) -> str:
        """One line of JSON: {"run": {...}, "sha256": {"content", "paintings", "mask"}}."""
        return json.dumps({"run": self.run.to_dict(), "sha256": dataclasses.asdict(self.inputs)},
                          ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Recipe:
        """Inverse of `to_json`; `NSTError` of one line for anything else."""
        if len(text) > MAX_RECORD_BYTES:
            raise NSTError(f"recipe: {len(text):,} characters, more than any recipe ({MAX_RECORD_BYTES:,})")
        try:
            data = json.loads(text, parse_constant=_no_constant)
        except RecursionError:
            raise NSTError("recipe: not JSON (nested too deep)") from None
        except ValueError as exc:
            raise NSTError(f"recipe: not JSON ({str(exc).splitlines()[0]})") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> Recipe:
        """A recipe from parsed JSON, checking every key and value."""
        if not isinstance(data, dict) or set(data) != {"run", "sha256"}:
            raise NSTError("recipe: expected a JSON object with the keys run and sha256")
        digests = data["sha256"]
        if not isinstance(digests, dict) or set(digests) != {"content", "paintings", "mask"}:
            raise NSTError("recipe: sha256 must be an object with the keys content, paintings and mask")
        paintings = digests["paintings"]
        if not (_digest(digests["content"]) and isinstance(paintings, list) and paintings
                and all(map(_digest, paintings)) and (digests["mask"] is None or _digest(digests["mask"]))):
            raise NSTError("recipe: every sha256 must be 64 hexadecimal digits (mask: or null)")
        try:
            run = RunRecord.from_dict(data["run"])
        except NSTError as exc:
            raise NSTError(f"recipe: {exc}") from None
        return cls(run, Inputs(digests["content"], tuple(paintings), digests["mask"]))


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number a recipe holds")


def _digest(value: Any) -> bool:
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


def _pixels_sha256(image: Image.Image) -> str:
    # The size goes in too: the same bytes in another shape are another picture.
    return hashlib.sha256(f"{image.width}x{image.height} {image.mode}\n".encode() + image.tobytes()).hexdigest()


def _labels_sha256(labels: Tensor) -> str:
    height, width = labels.shape
    return hashlib.sha256(f"{width}x{height} labels\n".encode() + labels.to("cpu").byte().numpy().tobytes()).hexdigest()


def inputs_of(request: Request) -> Inputs:
    """The SHA-256 of `request`'s photo, paintings and mask, as a recipe holds them."""
    return Inputs(_pixels_sha256(request.content), tuple(_pixels_sha256(p) for p in request.paintings),
                  None if request.labels is None else _labels_sha256(request.labels))


def recipe_of(record: RunRecord, request: Request) -> Recipe:
    """The recipe of the run `record` made from `request`: the record without its timing and
    output path, and the inputs' SHA-256."""
    return Recipe(dataclasses.replace(record, seconds=None, created=None, output=None), inputs_of(request))


def save_with_recipe(image: Tensor | Image.Image, path: str | os.PathLike, recipe: Recipe) -> Path:
    """Write `image` as a PNG at `path` carrying `recipe` (`nst.images.save_png`); returns the path."""
    return save_png(image, path, text={RECIPE_KEY: recipe.to_json()})


def read_recipe(path: str | os.PathLike) -> Recipe:
    """The recipe inside the PNG at `path`, checked as untrusted input (see the module's docstring)."""
    text = read_png_text(path, RECIPE_KEY, name=str(path))
    if text is None:
        raise NSTError(f"{path}: no nst recipe in it (a PNG that nst wrote carries one)")
    try:
        return Recipe.from_json(text)
    except NSTError as exc:
        raise NSTError(f"{path}: {exc}") from None
