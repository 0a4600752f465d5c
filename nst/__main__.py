"""Command line: `python -m nst CONTENT STYLE -o OUT.png --method poly ...`, and
`python -m nst batch PHOTOS/ PAINTINGS/ -o OUT/ ...` for every pair of two folders
(`nst.batch`; a first argument `batch` is that command).

Every flag's default, range and help text is read from `nst.config.Settings`, so a
default is written once, in the library. `--plugin FILE.py` runs a file that registers
methods of its own (`nst.register_method`) before the flags are built, so its methods
are among --method's choices; they are registered for this run only. `--recipe PNG`
takes the settings from the recipe inside a PNG that nst wrote (`nst.recipe`); flags
given as well change those settings.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable

from . import explore_cli
from .batch import CONTACT_SHEET, INDEX, Batch, all_pairs, read_pairs, run_batch
from .config import CPU_COARSEST, CPU_PRESET, INT_FIELDS, STYLE_LAYERS, Settings, field_spec
from .errors import NSTError
from .methods import METHODS, isolated_registry
from .precision import precision_used
from .recipe import Recipe, inputs_of, read_recipe, recipe_of, save_with_recipe
from .regions import MASK_HELP
from .request import Request
from .stylize import stylize
from .weights import NETWORK_HELP, device_type, load_extractor

__all__ = ["build_parser", "build_batch_parser", "load_plugin", "main", "parse_fusion", "parse_weights",
           "settings_from_args", "recipe_settings"]

# Settings fields with a spelling of their own on the command line (--layers K, --fusion
# M=W,…, --blend, comma-separated weights); every other field is a --flag of its own name.
# Those in CPU_PRESET take the preset's value on a CPU when not given.
_SPELLED = frozenset({"method", "fusion", "style_layers", "layer_weights", "painting_weights", "style_blend"})
_PLAIN_FIELDS = tuple(f.name for f in dataclasses.fields(Settings) if f.name not in _SPELLED)
# The flag of a Settings field, where it is not the field's own name.
_FLAG_OF = {"style_layers": "layers", "style_blend": "blend"}
_RECIPE_HELP = ("take the settings from the recipe inside a PNG that nst wrote; flags given as well change them "
                "(the images are given as usual)")


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
    """The argument parser of one run; defaults and ranges come from `Settings`."""
    parser = argparse.ArgumentParser(
        prog="python -m nst",
        description="Neural style transfer as distribution alignment (Li et al., IJCAI 2017). "
                    "python -m nst batch --help: every pair of two folders.")
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
    parser.add_argument("-o", "--output", default="stylized.png",
                        help="output PNG, which carries its recipe; its record goes beside it as .json "
                             "(default: %(default)s)")
    _add_run_flags(parser)
    return parser


def build_batch_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m nst batch`: the run flags of one painting."""
    parser = argparse.ArgumentParser(
        prog="python -m nst batch",
        description="Stylize every photo in PHOTOS with every painting in PAINTINGS (or the pairs --pairs "
                    f"lists) into OUT: a PNG per pair with its recipe, {CONTACT_SHEET} and {INDEX}. Run it "
                    "again to go on: finished pairs (same settings, images and network) are kept.")
    parser.add_argument("photos", help="folder of photos (its images, not its subfolders)")
    parser.add_argument("paintings", help="folder of paintings")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder")
    parser.add_argument("--pairs", metavar="CSV", help="only the pairs this CSV lists: a header row photo,painting, "
                                                       "then file names in PHOTOS and PAINTINGS")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="processes, each with the network loaded: one per CUDA device, or sharing the CPU's "
                             "threads (default: %(default)s)")
    parser.set_defaults(painting_weights=None, blend=field_spec("style_blend")["default"])  # one painting a run
    _add_run_flags(parser)
    return parser


def _add_run_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of every `Settings` field but the paintings' weights and blend, and of the
    network, device, plugins, recipe and progress bar."""
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
    parser.add_argument("--recipe", metavar="PNG", help=_RECIPE_HELP)
    parser.add_argument("--plugin", action="append", default=[], metavar="FILE.py",
                        help="a Python file that registers a distance of its own with nst.register_method "
                             "(repeatable; its methods join --method and --fusion)")
    parser.add_argument("--network", default="auto", help=NETWORK_HELP)
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The `Settings` an argument namespace describes (validated).

    On a CPU (`--device cpu`, or no GPU here) --size and --steps not given take
    `CPU_PRESET`'s values and --scales `cpu_scales` of the size and steps
    (`Settings.on_device`); elsewhere they take `Settings`' defaults.
    """
    values = _setting_values(args)
    kind = device_type(args.device)
    for name in ("size", "steps"):
        if values[name] is None:
            values[name] = CPU_PRESET[name] if kind == "cpu" else field_spec(name)["default"]
    return Settings(**values).on_device(kind)


def recipe_settings(recipe: Recipe, args: argparse.Namespace, given: set[str]) -> Settings:
    """The recipe's settings as recorded (no CPU preset: the same settings make the same
    image), with the value in `args` of each field whose flag is in `given`."""
    values = _setting_values(args)
    return recipe.run.settings.replace(**{name: value for name, value in values.items()
                                          if _FLAG_OF.get(name, name) in given})


def _setting_values(args: argparse.Namespace) -> dict[str, Any]:
    """Every `Settings` field as the flags in `args` set it (size and steps None when not given)."""
    return {"method": args.method, "fusion": args.fusion, "style_layers": STYLE_LAYERS[: args.layers],
            "layer_weights": args.layer_weights, "painting_weights": args.painting_weights,
            "style_blend": args.blend, **{name: getattr(args, name) for name in _PLAIN_FIELDS}}


def _given(build: Callable[[], argparse.ArgumentParser], argv: list[str] | None) -> set[str]:
    """The destinations of the options that `argv` gives, parsed by a parser from `build`
    whose defaults are all suppressed (argparse has no public way to tell a value given
    from its default)."""
    parser = build()
    for action in parser._actions:
        action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(argv)))



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
    """Run the CLI; returns the exit status (0 success, 2 bad input, 130 interrupted: a run keeps its
    last whole image, a batch its finished pairs). A
    first argument `explore` runs `nst.explore_cli` instead, and `batch` a batch (`nst.batch`);
    a photo named so is given as ./explore or ./batch. Methods that --plugin files register
    are gone from the registry when it returns."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["explore"]:
        return explore_cli.main(argv[1:])
    with isolated_registry():
        try:
            for path in _plugin_paths(argv):
                load_plugin(path)
        except NSTError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if argv[:1] == ["batch"]:
            return _run_batch(argv[1:])
        return _run(argv)


def _settings(build: Callable[[], argparse.ArgumentParser], args: argparse.Namespace,
              argv: list[str]) -> tuple[Settings, Recipe | None]:
    """The run's settings: from the flags, or from --recipe's PNG changed by the flags given."""
    if args.recipe is None:
        return settings_from_args(args), None
    recipe = read_recipe(args.recipe)
    return recipe_settings(recipe, args, _given(build, argv)), recipe


def _run(argv: list[str]) -> int:
    """Parse `argv`, stylize and write the image with its recipe and its record; the exit status."""
    try:
        args = build_parser().parse_args(argv)
        settings, recipe = _settings(build_parser, args, argv)
        styles = [*args.style, *args.more_styles]
        if not styles:
            raise NSTError("give a style image (a painting) after the content photo, or --style PAINTING")
        request = Request(args.content, styles, settings, mask=args.mask)  # bad input is told before weights load
        request.layouts(args.device or device_type(None))  # and a memory budget too small for the run
        extractor = load_extractor(args.network, pooling=settings.pooling, device=args.device)
        for line in _unlike_recipe(recipe, request, extractor.source) if recipe else ():
            print(f"warning: {line}", file=sys.stderr)
        if recipe and settings.precision == "auto" and precision_used("auto", extractor.device) != recipe.run.precision:
            # "auto" resolves by the hardware: the recipe's pixels need the precision its run used.
            request = request.with_settings(settings.replace(precision=recipe.run.precision))
        result = stylize(request, extractor=extractor, progress=not args.quiet, keep_on_interrupt=True)
    except NSTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before the first step ended: there is no image yet
        print("interrupted before the first step ended: nothing written", file=sys.stderr)
        return 130
    path = save_with_recipe(result.image, args.output, recipe_of(result.record, request))
    record = dataclasses.replace(result.record, output=str(path))
    print(record.to_json(indent=None))
    path.with_suffix(".json").write_text(record.to_json() + "\n", encoding="utf-8")
    if result.interrupted:
        print(f"interrupted after step {record.steps_done} of {settings.steps}: its image is in {path}",
              file=sys.stderr)
        return 130
    return 0


def _unlike_recipe(recipe: Recipe, request: Request, network_source: str) -> list[str]:
    """One line for each way this run cannot give the recipe's pixels: other images, another
    network, a run that the recipe's maker stopped early."""
    lines = []
    differ = recipe.inputs.differ(inputs_of(request))
    if differ:
        lines.append(f"not the recipe's images (the SHA-256 of their pixels differs): {', '.join(differ)}; "
                     "the result will differ")
    if network_source != recipe.run.network_source:
        lines.append(f"the recipe was made on {recipe.run.network_source}, this run uses {network_source}")
    if recipe.run.steps_done < recipe.run.settings.steps:
        lines.append(f"the recipe's run was stopped after step {recipe.run.steps_done} of "
                     f"{recipe.run.settings.steps}; this one goes to the end")
    return lines


def _run_batch(argv: list[str]) -> int:
    """`python -m nst batch …`: every pair, then the contact sheet and index; the exit status
    (2 when a pair failed, after the others ran)."""
    try:
        args = build_batch_parser().parse_args(argv)
        settings, _ = _settings(build_batch_parser, args, argv)
        pairs = read_pairs(args.pairs, args.photos, args.paintings) if args.pairs else all_pairs(args.photos,
                                                                                                  args.paintings)
        if args.workers < 1:
            raise NSTError(f"--workers must be at least 1, got {args.workers}")
        batch = Batch(pairs, Path(args.output), settings, args.network, args.device)
        outcomes = run_batch(batch, workers=args.workers, progress=not args.quiet)
    except NSTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: every pair finished so far is kept; the same command goes on from there", file=sys.stderr)
        return 130
    counts = {status: sum(o.status == status for o in outcomes) for status in ("made", "kept", "failed")}
    print(f"{len(outcomes)} pairs: {counts['made']} made, {counts['kept']} kept from before, {counts['failed']} "
          f"failed; {Path(args.output) / CONTACT_SHEET}, {Path(args.output) / INDEX}")
    return 2 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
