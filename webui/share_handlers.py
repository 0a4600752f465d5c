"""Handlers of the Stylize tab's *Share and reproduce* parts: a dropped PNG, Share, a link opened.

- `restore_file`: a PNG dropped on the page restores its run from the recipe inside it
  (`nst.recipe.read_recipe`: the file's header and text chunks only, every field checked
  as the API's parameters are); nothing the recipe names is opened or fetched.
- `share`: the result shown, with the photo and paintings it was made from, kept as a
  link (`webui.links`); the page gets `?run=<id>`, which it turns into a full address.
- `open_link`: the page's load with `?run=<id>` shows that run: its images, its result,
  its record and every control as it was.

Like `webui.stylize_handlers.Stylizer`, each returns `{name: value}` named after the fields
of `webui.stylize_tab.StylizePage`; every refusal is one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from nst.errors import NSTError
from nst.recipe import inputs_of, read_recipe
from nst.request import Request

from .errors import one_line_errors, visitor_error
from .links import Links
from .page import Outputs
from .stylize_handlers import restored

__all__ = ["LINK_PARAMETER", "Sharing"]

# The query parameter of a share link: `?run=<id>`.
LINK_PARAMETER = "run"


class Sharing:
    """The share and restore handlers, keeping links in `links`."""

    def __init__(self, links: Links) -> None:
        self.links = links

    @staticmethod
    def restore_file(path: str | None) -> Outputs:
        """A PNG dropped on the page: its run restored from its recipe (every control but the
        regions), the image shown as the result and its record in the JSON."""
        if not path:
            return {}
        name = Path(path).name
        try:
            recipe = read_recipe(path)
        except NSTError as exc:
            # The message starts with the file's place in Gradio's cache: the visitor knows it by its name.
            raise visitor_error(f"{name}: {str(exc).split(': ', 1)[-1]}") from None
        return {**restored(recipe.run, path), "status": f"Restored the settings of {name}. Add its photo and "
                                                        "painting, then press **Stylize** to make it again."}

    def share(self, result: str | None, content: str | None, style: str | None,
              more_styles: list[str] | None) -> Outputs:
        """The Share button: keep the result shown, with the photo and the paintings on the page,
        as a link; `{"link": "?run=<id>"}`. Refused in one line when the result is not a
        finished run's PNG or the images on the page are not the ones it was made from."""
        if not result:
            raise visitor_error("Share: make a result first (press Stylize)")
        with one_line_errors():
            try:
                recipe = read_recipe(result)
            except NSTError:
                raise NSTError("Share: only a finished run's image can be shared (it carries the run's recipe); "
                               "this one is a stopped run's or a thumbnail") from None
            paintings = [style, *(more_styles or [])]
            if content is None or None in paintings:
                raise NSTError("Share: put the photo and the painting of this result back on the page")
            page = inputs_of(Request(content, paintings, recipe.run.settings))
            changed = [name for name in recipe.inputs.differ(page) if name != "mask"]
            if changed:
                raise NSTError(f"Share: not the images this result was made from ({', '.join(changed)} differ): "
                               "put them back, or press Stylize again")
            return {"link": f"?{LINK_PARAMETER}={self.links.keep(result, content, paintings)}"}

    def open_link(self, request: gr.Request) -> Outputs:
        """The page's load: with `?run=<id>`, that shared run on the page; otherwise nothing changes."""
        link = dict(request.query_params).get(LINK_PARAMETER) if request is not None else None
        if link is None:
            return {}
        with one_line_errors():
            shared = self.links.open(link)
        run = shared.recipe.run
        paintings = [str(p) for p in shared.paintings]
        outputs: dict[str, Any] = restored(run, str(shared.result))
        return {**outputs, "content": str(shared.photo), "style": paintings[0], "more_styles": paintings[1:] or None,
                "status": "A shared run: its photo, paintings, settings and result. Press **Stylize** to make it "
                          "again here."}
