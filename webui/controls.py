"""The Stylize tab's controls and their widgets, declared once: one field per control.

`Controls` holds what the widgets hold (a fusion as a second method and a balance, layer
weights as text, …). Each field says, in one place, its API description and its widget
(`Widget`: the Gradio component, its label, range and choices, and where it sits on the
page); `webui.stylize_tab.layout` builds the widgets from these fields and nothing else.
`to_settings` validates the controls into `nst.config.Settings`; `from_settings` is the
inverse, used to restore a run from the gallery. The fields' order is the order of the
`/stylize` API's parameters after the two images, and `takes_controls` gives a handler
those parameters (names, defaults, descriptions) so that Gradio documents them. A control
named after a `Settings` field (as `precision` is) passes through both conversions by
itself, so adding one is one field here: `name: type = _control("name", widget=…)`.
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, TypeVar

import gradio as gr

from nst.colors import COLOR_MODES
from nst.config import (BLENDS, INITS, INT_FIELDS, LIMITS, OPTIMIZERS, PRECISIONS, STYLE_EDGE, STYLE_LAYERS, Settings,
                        field_spec)
from nst.errors import NSTError
from nst.methods import METHODS
from nst.regions import MASK_HELP, palette_hex

from .text import BLEND_INFO, BLEND_LABELS, COLOR_LABELS

__all__ = ["AUTO", "NO_FUSION", "GAMMA_CHOICES", "Widget", "Controls", "parse_numbers", "takes_controls"]

NO_FUSION = "none"
# A control's value for "let the library choose" (a `Settings` field left at None).
AUTO = "auto"
# Log-spaced style weights γ; each method's default is added where missing.
GAMMA_CHOICES: tuple[float, ...] = tuple(sorted(
    {0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0} | {m.default_gamma for m in METHODS.values()}))

F = TypeVar("F", bound=Callable)


@dataclass(frozen=True)
class Widget:
    """A control's widget: the Gradio component `kind`, built with `options` (label, info,
    choices, range, …) in the tab's `place` (a key of `webui.stylize_tab.PLACES`)."""

    place: str
    kind: type[gr.components.Component]
    options: Mapping[str, Any]

    def make(self, value: Any, **overrides: Any) -> gr.components.Component:
        """The component, showing `value` (as `Controls.values` gives it), with `overrides` of its options."""
        return self.kind(value=value, **{**self.options, **overrides})


def _widget(place: str, kind: type[gr.components.Component], **options: Any) -> Widget:
    return Widget(place, kind, options)


def _control(name: str | None, help: str | None = None, default: Any = None, *, widget: Widget) -> Any:
    """A field whose default and description come from `Settings.<name>` unless given."""
    spec = field_spec(name) if name else {}
    return field(default=spec.get("default", default) if default is None else default,
                 metadata={"help": help or spec["help"], "widget": widget})


def _range(name: str) -> dict[str, Any]:
    """A number box's bounds: those of `Settings.<name>`."""
    spec = field_spec(name)
    return {"minimum": spec["min"], "maximum": spec["max"]}


_METHOD_CHOICES = [(m.title, m.name) for m in METHODS.values()]


@dataclass(frozen=True)
class Controls:
    """The values of the Stylize tab's widgets (after the two images), in API order."""

    method: str = _control("method", f"one of {', '.join(METHODS)}", widget=_widget(
        "method", gr.Radio, choices=_METHOD_CHOICES, label="Method",
        info="How the feature distributions of image and painting are compared"))
    gamma: float | None = _control(None, "style weight against content; empty: the method's default", widget=_widget(
        "gamma", gr.Dropdown, choices=[(f"{g:g}", g) for g in GAMMA_CHOICES], label="Style weight γ",
        allow_custom_value=True, info="How much the style counts against the content (reset to the method's "
                                      "default when the method changes); type any other value"))
    content_weight: float = _control("content_weight", "content weight alpha; 0 reconstructs the style alone",
                                     widget=_widget("more", gr.Number, **_range("content_weight"),
                                                    label="Content weight α",
                                                    info="0 reconstructs the style alone (the paper's Figure 1)"))
    style_layers: tuple[str, ...] = _control("style_layers", f"names from {', '.join(STYLE_LAYERS)}", widget=_widget(
        "more", gr.CheckboxGroup, choices=list(STYLE_LAYERS), label="Style layers"))
    # The page narrows the size's range to its device's (`webui.limits.page_max_size`).
    size: int = _control("size", widget=_widget("size", gr.Slider, minimum=LIMITS.min_size, maximum=LIMITS.max_size,
                                                step=16, label="Output size (long edge, px)", elem_id="size"))
    steps: int = _control("steps", widget=_widget("size", gr.Slider, minimum=1, maximum=LIMITS.max_steps, step=1,
                                                  label="Steps", elem_id="steps"))
    init: str = _control("init", "starting image: content, noise or style", widget=_widget(
        "more", gr.Radio, choices=list(INITS), label="Start from"))
    seed: int = _control("seed", widget=_widget("more", gr.Number, precision=0, **_range("seed"), label="Seed",
                                                info=field_spec("seed")["help"]))
    fuse_with: str = _control(None, "a second method to mix in, or none", NO_FUSION, widget=_widget(
        "fusion", gr.Dropdown, choices=[("none", NO_FUSION), *_METHOD_CHOICES], label="Second method"))
    fusion_balance: float = _control(None, "weight of the second method, 0 to 1", 0.5, widget=_widget(
        "fusion", gr.Slider, minimum=0, maximum=1, step=0.05, label="Weight of the second method",
        info="0 keeps the first method only, 1 the second only"))
    optimizer: str = _control("optimizer", widget=_widget("advanced", gr.Radio, choices=list(OPTIMIZERS),
                                                          label="Optimizer", info=field_spec("optimizer")["help"]))
    lr: float | None = _control("lr", "learning rate; empty: the optimizer's default", widget=_widget(
        "advanced", gr.Number, **_range("lr"), label="Learning rate",
        info=f"{field_spec('lr')['help']}; leave empty for the default"))
    layer_weights: str = _control(None, "one weight per style layer, e.g. '1, 1, 0.5'; empty: equal", "",
                                  widget=_widget("advanced", gr.Textbox, label="Layer weights", placeholder="equal",
                                                 info="One number per ticked style layer, e.g. 1, 1, 1, 0.5, 0.5"))
    tv_weight: float = _control("tv_weight", widget=_widget("advanced", gr.Number, **_range("tv_weight"),
                                                            label="Smoothing (TV weight)",
                                                            info=field_spec("tv_weight")["help"]))
    precision: str = _control("precision", widget=_widget("advanced", gr.Radio, choices=list(PRECISIONS),
                                                          label="Precision", info=field_spec("precision")["help"]))
    colors: str = _control("colors", "style (the painting's colours), luminance (the photo's colours, the luminance "
                                     "stylized) or match (the painting recoloured to the photo's)", widget=_widget(
        "colors", gr.Radio, choices=[(COLOR_LABELS[mode], mode) for mode in COLOR_MODES], label="Colours",
        elem_id="colors", info="Keep the photo's colours: stylize its luminance only, or recolour the painting to "
                               "the photo's colour statistics first"))
    more_styles: list[str] | None = _control(None, "more paintings to blend with the style image (files)", None,
                                             widget=_widget("paintings", gr.File, file_count="multiple",
                                                            file_types=["image"], type="filepath",
                                                            label="More paintings", elem_id="more-styles"))
    painting_weights: str = _control(None, "one weight per painting, the style image first, e.g. '0.7, 0.3'; "
                                           "empty: equal", "", widget=_widget(
        "paintings", gr.Textbox, label="Weights", placeholder="equal", elem_id="painting-weights",
        info="One per painting, the style image first, e.g. 0.7, 0.3"))
    style_blend: str = _control("style_blend", widget=_widget(
        "paintings", gr.Radio, choices=[(BLEND_LABELS[b], b) for b in BLENDS], label="Blend", elem_id="style-blend",
        info=BLEND_INFO))
    scales: str = _control("scales", "coarse to fine: 1 to 4 sizes, or auto (up to 3 on a CPU; on a GPU 1, or 2 "
                                     "above 1024 px)", AUTO, widget=_widget(
        "scales", gr.Radio, choices=[AUTO, *(str(n) for n in range(1, field_spec("scales")["max"] + 1))],
        label="Scales (coarse to fine)", elem_id="scales",
        info="Start small and double the size up to the output's, the steps shared equally: most of the look for "
             "a fraction of the time. Auto: up to 3 on a CPU; on a GPU 1, or 2 above 1024 px"))
    style_scale: float = _control("style_scale", "brush size: the painting's long edge as a share of the result's; "
                                                 "0: auto", 0.0, widget=_widget(
        "more", gr.Slider, minimum=0, maximum=field_spec("style_scale")["max"], step=0.05, label="Brush size",
        elem_id="style-scale",
        info=f"The painting's long edge as a share of the result's: smaller paints finer strokes, larger coarser "
             f"ones. 0 = auto: 1 up to {STYLE_EDGE} px; above, the strokes keep their size in pixels"))
    mask: str | None = _control(None, f"regions (a file): {MASK_HELP}; the style image is painting 1, the more "
                                      "paintings 2 onwards; empty: every painting everywhere", None, widget=_widget(
        "regions", gr.ImageEditor, type="pil", image_mode="RGBA", sources=(), transforms=(), layers=False,
        format="png", brush=gr.Brush(colors=palette_hex(), default_color=palette_hex()[0], color_mode="fixed"),
        label="Regions", show_label=False, height=360, elem_id="mask"))

    @classmethod
    def widgets(cls) -> dict[str, Widget]:
        """Each control's widget, by name, in API order."""
        return {f.name: f.metadata["widget"] for f in dataclasses.fields(cls)}

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def to_settings(self) -> Settings:
        """The validated `Settings` these controls describe (`NSTError` with one line if not valid).

        A control named after a `Settings` field passes straight through (an empty one,
        None or "", takes the library's default). The others are translated: a fusion
        mixes `method` with weight `1 - fusion_balance` and `fuse_with` with weight
        `fusion_balance`; layer weights are parsed from text. Style layers keep VGG order
        whatever order they were ticked in.
        """
        given = {name: _as_setting(name, getattr(self, name)) for name in self.names() if name in _SETTINGS}
        fields = {name: value for name, value in given.items() if value is not None}
        fields["style_layers"] = tuple(layer for layer in STYLE_LAYERS if layer in (self.style_layers or ()))
        if self.fuse_with not in (None, "", NO_FUSION):
            balance = float(self.fusion_balance)
            fields["fusion"] = ((self.method, 1.0 - balance), (self.fuse_with, balance))
        return Settings(**fields, layer_weights=parse_numbers(self.layer_weights, "layer weights"),
                        painting_weights=parse_numbers(self.painting_weights, "painting weights"))

    @classmethod
    def from_settings(cls, settings: Settings) -> Controls:
        """The controls that reproduce `settings` (γ shown as the value the run used)."""
        fields = {name: getattr(settings, name) for name in cls.names() if name in _SETTINGS}
        fields = {name: _as_control(name, value) for name, value in fields.items()}
        fields["gamma"] = settings.gamma_used()
        if settings.fusion:
            fields["method"] = settings.fusion[0][0]
            if len(settings.fusion) > 1:
                (_, w1), (fields["fuse_with"], w2) = settings.fusion[:2]
                fields["fusion_balance"] = w2 / (w1 + w2) if w1 + w2 > 0 else 0.5
        return cls(**fields, layer_weights=", ".join(f"{w:g}" for w in settings.layer_weights or ()),
                   painting_weights=", ".join(f"{w:g}" for w in settings.painting_weights or ()))

    def values(self) -> dict[str, Any]:
        """Field name → value, as the widgets take them (lists, not tuples)."""
        return {name: list(v) if isinstance(v, tuple) else v
                for name, v in ((n, getattr(self, n)) for n in self.names())}


_SETTINGS = frozenset(f.name for f in dataclasses.fields(Settings)) - {"layer_weights", "painting_weights"}
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Controls)}
# Sliders whose 0 stands for the library's automatic value (None): a slider cannot be empty.
_ZERO_IS_AUTO = frozenset({"style_scale"})


def _as_control(name: str, value: Any) -> Any:
    """A `Settings` value as its widget takes it: a control that offers auto takes text, a
    slider whose 0 means auto takes 0 for None."""
    if name in _ZERO_IS_AUTO:
        return 0.0 if value is None else value
    if _DEFAULTS[name] != AUTO:
        return value
    return AUTO if value is None else str(value)


def _as_setting(name: str, value: Any) -> Any:
    """A widget's value as `Settings.<name>` takes it: None when empty, ints where the field
    holds ints (sliders give floats), tuples for lists."""
    if value is None or value == "" or value == AUTO or (name in _ZERO_IS_AUTO and value == 0):
        return None
    spec = field_spec(name)
    if isinstance(value, str) and spec["min"] is not None:  # a number typed into a box that takes text
        try:
            value = float(value)
        except ValueError:
            raise NSTError(f"{name}: expected a number, got {value!r}") from None
    if name in INT_FIELDS:
        return int(value)
    if isinstance(value, list):
        return tuple(value)
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def parse_numbers(text: str | None, what: str) -> tuple[float, ...] | None:
    """'1, 0.5, 0.25' → (1.0, 0.5, 0.25); empty → None (equal weights). `what` names the field in the error."""
    parts = [p.strip() for p in (text or "").replace(";", ",").split(",") if p.strip()]
    if not parts:
        return None
    try:
        return tuple(float(p) for p in parts)
    except ValueError:
        raise NSTError(f"{what}: expected numbers separated by commas, got {text!r}") from None


def takes_controls(fn: F) -> F:
    """Declare every `Controls` field as a keyword parameter of `fn(self, …, **controls)`.

    Gradio reads a handler's signature and docstring for the API's parameter names,
    defaults and descriptions; this writes both from `Controls`, so the handler's own
    code takes `**controls` and never lists them.
    """
    signature = inspect.signature(fn)
    own = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    hints = {f.name: f.type for f in dataclasses.fields(Controls)}
    extra = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=hints[f.name])
             for f in dataclasses.fields(Controls)]
    fn.__signature__ = signature.replace(parameters=own + extra)  # type: ignore[attr-defined]
    args = "\n".join(f"    {f.name}: {f.metadata['help']}" for f in dataclasses.fields(Controls))
    doc = inspect.getdoc(fn) or ""
    # The controls join the function's own Args (its images), or start them.
    fn.__doc__ = f"{doc}\n{args}" if "\nArgs:\n" in doc else f"{doc}\n\nArgs:\n{args}"
    return fn
