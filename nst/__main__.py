"""Command line: `python -m nst CONTENT STYLE -o OUT.png --method poly ...`.

Every flag's default, range and help text is read from `nst.config.Settings`, so a
default is written once, in the library. `--plugin FILE.py` runs a file that registers
methods of its own (`nst.register_method`) before the flags are built, so its methods
are among --method's choices; they are registered for this run only.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import sys
from pathlib import Path


from . import explore_cli
from .config import CPU_COARSEST, CPU_PRESET, INT_FIELDS, STYLE_LAYERS, Settings, field_spec
from .errors import NSTError
from .images import save_png
from .methods import METHODS, isolated_registry
from .regions import MASK_HELP
from .request import Request
from .stylize import stylize
from .weights import NETWORK_HELP, device_type, load_extractor

__all__ = ["build_parser", "load_plugin", "main", "parse_fusion", "parse_weights"]

# Settings fields with a spelling of their own on the command line (--layers K, --fusion
# M=W,…, --blend, comma-separated weights); every other field is a --flag of its own name.
# Those in CPU_PRESET take the preset's value on a CPU when not given.
_SPELLED = frozenset({"method", "fusion", "style_layers", "layer_weights", "painting_weights", "style_blend"})
_PLAIN_FIELDS = tuple(f.name for f in dataclasses.fields(Settings) if f.name not in _SPELLED)


def parse_fusion(text: str) -> tuple[tuple[str, float], ...]:
    """'bn=0.5,poly=0.5' → (('bn', 0.5), ('poly', 0.5))."""
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, weight = item.partition("=")
        try:
            pairs.append((name.strip(), float(weight)))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected METHOD=WEIGHT pairs like bn=0.5,poly=0.5, got {item!r}") from None
        if not sep:
            raise argparse.ArgumentTypeError(f"expected METHOD=WEIGHT pairs like bn=0.5,poly=0.5, got {item!r}")
    return tuple(pairs)


def parse_weights(text: str) -> tuple[float, ...]:
    """'0.7,0.3' → (0.7, 0.3)."""
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas like 0.7,0.3, got {text!r}") from None


def _add_setting(parser: argparse.ArgumentParser, name: str) -> None:
    spec = field_spec(name)
    kind = int if name in INT_FIELDS else type(spec["default"]) if spec["default"] is not None else float
    help_text = spec["help"] + (f" (default: {spec['default']})" if spec["default"] is not None else "")
    if name in ("size", "steps"):
        help_text += f" (on a CPU: {CPU_PRESET[name]})"
    if name == "scales":
        help_text += f" (on a CPU: up to {CPU_PRESET[name]}, the coarsest at least {CPU_COARSEST} px)"
    if name == "gamma":
        help_text += " (default: the method's own: " + ", ".join(
            f"{m.name} {m.default_gamma:g}" for m in METHODS.values()) + ")"
    if spec.get("min") is not None:
        help_text += f"; {spec['min']:,}..{spec['max']:,}" if kind is int else f"; {spec['min']:g}..{spec['max']:g}"
    parser.add_argument("--" + name.replace("_", "-"), type=kind,
                        default=None if name in CPU_PRESET else spec["default"],
                        choices=spec.get("choices"), help=help_text)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; defaults and ranges come from `Settings`."""
    parser = argparse.ArgumentParser(
        prog="python -m nst",
        description="Neural style transfer as distribution alignment (Li et al., IJCAI 2017).")
    parser.add_argument("content", help="content photo (any image Pillow reads)")
    parser.add_argument("style", nargs="*", help="style image (a painting); give several to blend them")
    parser.add_argument("--style", dest="more_styles", action="append", default=[], metavar="PAINTING",
                        help="another painting to blend in (repeatable; added after the positional ones)")
    parser.add_argument("--painting-weights", type=parse_weights, default=None, metavar="W,W,…",
                        help="one weight per painting, e.g. 0.7,0.3 (default: equal)")
    blend = field_spec("style_blend")
    parser.add_argument("--blend", choices=blend["choices"], default=blend["default"],
                        help=f"{blend['help']} (default: {blend['default']})")
    parser.add_argument("--mask", metavar="IMAGE", help=f"regions: {MASK_HELP}")
    parser.add_argument("-o", "--output", default="stylized.png", help="output PNG (default: %(default)s)")
    method = field_spec("method")
    parser.add_argument("--method", choices=tuple(METHODS), default=method["default"],
                        help=f"{method['help']} (default: {method['default']})")
    parser.add_argument("--fusion", type=parse_fusion, default=field_spec("fusion")["default"],
                        help="fusion of methods, e.g. bn=0.5,poly=0.5 (a convex combination; overrides --method)")
    parser.add_argument("--layers", type=int, default=len(field_spec("style_layers")["default"]),
                        choices=range(1, len(STYLE_LAYERS) + 1), metavar="K",
                        help=f"use the first K style layers of {', '.join(STYLE_LAYERS)} (default: %(default)s)")
    parser.add_argument("--layer-weights", type=parse_weights, default=None, metavar="W,W,…",
                        help="one weight per style layer used, e.g. 1,1,1,0.5,0.5 (default: equal)")
    for name in _PLAIN_FIELDS:
        _add_setting(parser, name)
    parser.add_argument("--plugin", action="append", default=[], metavar="FILE.py",
                        help="a Python file that registers a distance of its own with nst.register_method "
                             "(repeatable; its methods join --method and --fusion)")
    parser.add_argument("--network", default="auto", help=NETWORK_HELP)
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The `Settings` an argument namespace describes (validated).

    On a CPU (`--device cpu`, or no GPU here) --size and --steps not given take
    `CPU_PRESET`'s values and --scales `cpu_scales` of the size and steps
    (`Settings.on_device`); elsewhere they take `Settings`' defaults.
    """
    values = {name: getattr(args, name) for name in _PLAIN_FIELDS}
    kind = device_type(args.device)
    for name in ("size", "steps"):
        if values[name] is None:
            values[name] = CPU_PRESET[name] if kind == "cpu" else field_spec(name)["default"]
    settings = Settings(method=args.method, fusion=args.fusion, style_layers=STYLE_LAYERS[: args.layers],
                        layer_weights=args.layer_weights, painting_weights=args.painting_weights,
                        style_blend=args.blend, **values)
    return settings.on_device(kind)


def load_plugin(path: str) -> None:
    """Run the Python file `path`, which registers methods (`nst.register_method`); a missing
    file or one that raises on import is an `NSTError` of one line."""
    file = Path(path)
    if not file.is_file():
        raise NSTError(f"plugin {path}: no such file")
    spec = importlib.util.spec_from_file_location(f"nst_plugin_{file.stem}", file)
    if spec is None or spec.loader is None:
        raise NSTError(f"plugin {path}: not a Python file (give a .py file)")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's own code: any failure is reported the same way
        message = (str(exc).splitlines() or [""])[0]
        raise NSTError(f"plugin {path} failed on import: {type(exc).__name__}: {message}") from None


def _plugin_paths(argv: list[str] | None) -> list[str]:
    """The --plugin files in `argv`, read before the full parser is built (its --method choices need them)."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--plugin", action="append", default=[])
    return early.parse_known_args(argv)[0].plugin


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 success, 2 bad input). A first argument
    `explore` runs `nst.explore_cli` instead (a photo named so is given as ./explore).
    Methods that --plugin files register are gone from the registry when it returns."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["explore"]:
        return explore_cli.main(argv[1:])
    with isolated_registry():
        try:
            for path in _plugin_paths(argv):
                load_plugin(path)
        except NSTError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return _run(build_parser(), argv)


def _run(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """Parse `argv` with `parser`, stylize and write the image and its record; the exit status."""
    try:
        args = parser.parse_args(argv)
        settings = settings_from_args(args)
        styles = [*args.style, *args.more_styles]
        if not styles:
            raise NSTError("give a style image (a painting) after the content photo, or --style PAINTING")
        request = Request(args.content, styles, settings, mask=args.mask)  # bad input is told before weights load
        request.layouts(args.device or device_type(None))  # and a memory budget too small for the run
        extractor = load_extractor(args.network, pooling=settings.pooling, device=args.device)
        result = stylize(request, extractor=extractor, progress=not args.quiet)
    except NSTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    path = save_png(result.image, args.output)
    record = dataclasses.replace(result.record, output=str(path))
    print(record.to_json(indent=None))
    path.with_suffix(".json").write_text(record.to_json() + "\n", encoding="utf-8")
    return 0

if __name__ == "__main__":
    sys.exit(main())
