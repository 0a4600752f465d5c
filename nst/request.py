"""One stylization request: the photo, the paintings, an optional mask and the `Settings`,
read and checked once.

Every caller (the CLI, the app, the figure runner, `nst.stylize`) builds one `Request`
and every scale of the run takes its tensors from it (`Request.at`), so an input file is
decoded once however many scales the run has. A refusal (an unreadable file, a weight
count that does not fit the paintings, a mask that cannot apply, an image too small for
the coarsest scale) is raised while it is built, before any weights load.
"""

from __future__ import annotations

import copy
import os
from typing import Sequence

import torch
from torch import Tensor

from .budget import ScaleLayout, scale_layouts
from .config import Settings
from .errors import NSTError
from .images import ImageSource, check_fits, fit_tensor, load_image
from .objective import painting_shares
from .regions import PALETTE, check_labels, check_shape, fit_labels, painted, read_mask

__all__ = ["Request", "paintings", "source_name"]


def paintings(style: ImageSource | Sequence[ImageSource] | None) -> list[ImageSource]:
    """The style argument as a list: one painting, or several (a list or tuple of them)."""
    found = list(style) if isinstance(style, (list, tuple)) else [] if style is None else [style]
    if not found:
        raise NSTError("give at least one style image")
    return found


def source_name(source: ImageSource) -> str:
    """How a record names an input: its path as given, a PIL image's file name, else "(in memory)"."""
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return getattr(source, "filename", "") or "(in memory)"


class Request:
    """The inputs of one run, decoded and checked once.

    `content` and each painting are upright RGB `PIL.Image`s at their full size; `labels`
    is the mask as `(H, W)` int64 region labels (`nst.regions`) or None. `names` hold what a
    run record calls them (`source_name`).
    """

    def __init__(self, content: ImageSource, style: ImageSource | Sequence[ImageSource],
                 settings: Settings | None = None, *, mask: ImageSource | None = None) -> None:
        self.settings = settings or Settings()
        sources = paintings(style)
        # A weight count that does not fit, or a method that cannot blend the paintings, is told before any image loads.
        painting_shares(self.settings, len(sources), masked=mask is not None)
        self.content = load_image(content, name="content image")
        self.paintings = tuple(load_image(s, name=_painting_name(k, len(sources))) for k, s in enumerate(sources, 1))
        self.labels: Tensor | None = None
        if mask is not None:
            self.labels = read_mask(mask)
            check_labels(self.labels, len(sources))
            check_shape(self.labels, (self.content.height, self.content.width))
        self._check_fits()
        self.content_name = source_name(content)
        self.painting_names = tuple(source_name(s) for s in sources)
        self.mask_name = None if mask is None else _mask_name(source_name(mask), self.labels)
        # (size, painting edge, device): requests made by `with_settings` share it, their brush sizes may differ.
        self._scaled: dict[tuple[int, int, str], tuple[Tensor, list[Tensor], Tensor | None]] = {}

    def with_settings(self, settings: Settings) -> Request:
        """The same inputs, decoded once and shared (resized tensors included), run with
        `settings`; checked as a new request would be."""
        painting_shares(settings, len(self.paintings), masked=self.labels is not None)
        other = copy.copy(self)
        other.settings = settings
        other._check_fits()
        return other

    def _check_fits(self) -> None:
        coarsest = self.settings.scale_plan()[0][0]
        check_fits(self.content, coarsest, name="content image")
        for k, painting in enumerate(self.paintings, start=1):
            check_fits(painting, self.settings.painting_edge(coarsest), name=_painting_name(k, len(self.paintings)))

    def at(self, size: int, device: torch.device | str = "cpu") -> tuple[Tensor, list[Tensor], Tensor | None]:
        """The photo `(1, 3, H, W)` (long edge `size`), each painting `(1, 3, H_k, W_k)` (long edge
        `Settings.painting_edge(size)`), in [0, 1] on `device`, and the regions `(H, W)` fitted to
        the photo (None without a mask); made once per size and device."""
        edge = self.settings.painting_edge(size)
        key = (size, edge, str(device))
        if key not in self._scaled:
            photo = fit_tensor(self.content, size, device, name="content image")
            styles = [fit_tensor(p, edge, device, name=_painting_name(k, len(self.paintings)))
                      for k, p in enumerate(self.paintings, start=1)]
            regions = None if self.labels is None else fit_labels(self.labels, tuple(photo.shape[-2:]))
            self._scaled[key] = (photo, styles, regions)
        return self._scaled[key]


    def layouts(self, device: torch.device | str) -> tuple[ScaleLayout, ...]:
        """How each scale of `Settings.scale_plan` is optimised on `device` under the run's memory
        budget (`nst.budget.layout_scale`): whole, or in tiles. `NSTError` when the budget is too small."""
        return scale_layouts(self.settings, self.content.size, [p.size for p in self.paintings], device)


def _mask_name(name: str, labels: Tensor) -> str:
    """The mask as a record names it: its name and which colour went to which painting,
    e.g. "mask.png: red → painting 1, green → painting 2" (a reader sees the regions without the file)."""
    return f"{name}: " + ", ".join(f"{PALETTE[k - 1][0]} → painting {k}" for k in painted(labels))


def _painting_name(k: int, count: int) -> str:
    return "style image" if count == 1 else f"style image {k}"

