"""Every default and allowed range of a stylization run, written once.

`Settings` is the single source of truth: the library validates against it, the CLI
builds its flags from its fields, and the app builds its sliders from `field_spec`.
Hard caps that protect a shared server live in `LIMITS`.
"""

from __future__ import annotations

import dataclasses
import math
import json
from dataclasses import dataclass, field
from typing import Any

from .colors import COLOR_MODES
from .errors import NSTError
from .methods import gamma_for, fusion_weights, get_method
from .methods.gaussian import ESTIMATORS, GaussianOptions
from .methods.poly import PolyOptions
from .methods.swd import SWDOptions

__all__ = [
    "STYLE_LAYERS",
    "CONTENT_LAYER",
    "OPTIMIZERS",
    "INITS",
    "POOLINGS",
    "BLENDS",
    "PRECISIONS",
    "DEFAULT_LR",
    "AUTO_SCALES_ABOVE",
    "PRINT_STEP_EVERY",
    "CPU_PRESET",
    "CPU_COARSEST",
    "EARLY_STOP_WINDOW",
    "STYLE_EDGE",
    "CPU_BUDGET_GB",
    "GPU_BUDGET_SHARE",
    "cpu_scales",
    "Limits",
    "LIMITS",
    "Settings",
    "INT_FIELDS",
    "field_spec",
]

STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"
# "auto": L-BFGS for deterministic objectives, Adam when a style term is a sampled estimate
# (its curvature pairs would mix different objectives); see `Settings.optimizer_used`.
OPTIMIZERS: tuple[str, ...] = ("auto", "lbfgs", "adam")
INITS: tuple[str, ...] = ("content", "noise", "style")
# The paper's official code replaces VGG's max pooling by average pooling.
POOLINGS: tuple[str, ...] = ("avg", "max")
# Several paintings: match the mixture of their feature distributions, or the weighted sum of
# one style term per painting (see `nst.objective`).
BLENDS: tuple[str, ...] = ("mixture", "sum")
# "auto": bf16 where the device has bf16 units, else fp32 (`nst.precision.precision_used`).
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16")
# L-BFGS at 0.5: full quasi-Newton steps (1.0) overshot early on, the loss jumping up to
# 8-fold for a step on Gram matching; half steps reached the same loss after 40 steps.
DEFAULT_LR: dict[str, float] = {"lbfgs": 0.5, "adam": 0.02}
# Above this long edge a run goes coarse to fine unless told otherwise: its first scale
# settles the large structure at a quarter of the cost of a full-size step.
AUTO_SCALES_ABOVE = 1024
# A print's scales above `AUTO_SCALES_ABOVE` px get one step for every this many of the run
# (`Settings.scale_plan`): the CPU preset's 75 steps give each 2.
PRINT_STEP_EVERY = 30
# Where a run on a CPU starts (the app's page; the CLI when --steps and --scales are not
# given): a 512 px result within a minute on two cores, coarse to fine (benchmarks/multiscale.py,
# README "Speed").
CPU_PRESET: dict[str, int] = {"size": 512, "steps": 75, "scales": 3}
# Above this output size the painting is not enlarged further by default (`Settings.style_scale`): the
# examples' paintings are 600-1024 px, and enlarged past their own pixels they are blurred, which the finest
# scale would copy. Its strokes then keep the size in pixels they have in a 1024 px result.
STYLE_EDGE = 1024
# A CPU's default memory budget (`Settings.memory_budget_gb`, `nst.budget`): a 1024 px run of VGG-19
# fits in it whole, as before tiles (2.4 KB a pixel a step and 0.6 KB of L-BFGS history after 25
# steps: 2.1 GB for a 3:2 photo, 3.2 GB for a square one), and a print then takes little more: on
# two CPU cores a 2048 px print peaked at 3.2 GiB resident against 2.9 GiB for a 1024 px run
# (benchmarks.bench --tiled). On smaller machines, a quarter of the memory.
CPU_BUDGET_GB = 3.2
# A GPU's default budget: this share of its memory (the rest for CUDA's own use and fragmentation).
GPU_BUDGET_SHARE = 0.8
# Early stopping (`Settings.early_stop`, `nst.stopping`) compares the total loss with its value this many
# complete steps of the finest scale before: long enough that one L-BFGS step's wobble does not end a run.
EARLY_STOP_WINDOW = 10
# The coarsest scale a CPU run goes down to: below it VGG's deepest style layer has almost no positions.
CPU_COARSEST = 64


def cpu_scales(size: int, steps: int) -> int:
    """Scales of a CPU run when none are given: up to `CPU_PRESET`'s (one more for a print, above
    `AUTO_SCALES_ABOVE` px, whose coarsest would otherwise cost 4 to 16 times a 512 px step), as
    many as keep the coarsest at `CPU_COARSEST` px or more, and no more than `steps`."""
    most = CPU_PRESET["scales"] + (size > AUTO_SCALES_ABOVE)
    fit = 1
    while fit < most and math.ceil(size / 2**fit) >= CPU_COARSEST and fit < steps:
        fit += 1
    return fit


@dataclass(frozen=True)
class Limits:
    """Caps for untrusted input, kept in one place for the CLI, the app and the loader."""

    max_file_bytes: int = 50 * 1024 * 1024
    # Pillow's decompression-bomb guard is raised at this many pixels.
    max_input_pixels: int = 64_000_000
    min_size: int = 16
    max_size: int = 4096
    max_steps: int = 5000


LIMITS = Limits()
# The methods' own defaults, which their flat fields below take.
_POLY, _GAUSSIAN, _SWD = PolyOptions(), GaussianOptions(), SWDOptions()


def _spec(default: Any, help: str, *, lo: float | None = None, hi: float | None = None,
          choices: tuple[str, ...] | None = None) -> Any:
    return field(default=default, metadata={"help": help, "min": lo, "max": hi, "choices": choices})


@dataclass(frozen=True)
class Settings:
    """One stylization run. Frozen so that a run can be recorded and reproduced from it.

    `gamma=None` means the method's registered default (see `nst.methods`).
    `fusion` turns the run into a fusion: `(("bn", 0.5), ("poly", 0.5))` is a convex
    combination of the two methods' style terms, weights normalised to sum to 1.
    """

    method: str = _spec("poly", "distribution-alignment method for the style term")
    fusion: tuple[tuple[str, float], ...] = _spec((), "fusion: (method, weight) pairs; overrides method")
    gamma: float | None = _spec(None, "style weight γ: how much the style counts against the content", lo=0.0, hi=1e4)
    content_weight: float = _spec(1.0, "content weight alpha; 0 gives pure style reconstruction",
                                  lo=0.0, hi=1e4)
    style_layers: tuple[str, ...] = _spec(STYLE_LAYERS, "VGG layers whose feature distributions are matched",
                                          choices=STYLE_LAYERS)
    layer_weights: tuple[float, ...] | None = _spec(None, "one weight per style layer (default: equal)")
    size: int = _spec(512, "long edge of the output in pixels", lo=LIMITS.min_size, hi=LIMITS.max_size)
    steps: int = _spec(300, "optimizer steps (one forward and backward pass each)", lo=1, hi=LIMITS.max_steps)
    scales: int | None = _spec(None, "coarse to fine: optimise at this many sizes, each twice the one before and "
                                     "the last at size, the steps shared equally (default: 1, or 2 above "
                                     f"{AUTO_SCALES_ABOVE} px)", lo=1, hi=4)
    optimizer: str = _spec("auto", "optimizer; auto is L-BFGS, or Adam when a Gaussian term is in the run",
                           choices=OPTIMIZERS)
    lr: float | None = _spec(None, "learning rate (default: " + ", ".join(
        f"{lr:g} for {name}" for name, lr in DEFAULT_LR.items()) + ")", lo=1e-6, hi=10.0)
    init: str = _spec("content", "starting image; noise is the network's mean colour plus faint noise",
                      choices=INITS)
    tv_weight: float = _spec(0.01, "total-variation weight: smooths pixel noise (1 = as rough as the painting)",
                             lo=0.0, hi=1e3)
    seed: int = _spec(0, "seed for noise init and Gaussian pair sampling", lo=0, hi=2**31 - 1)
    pooling: str = _spec("avg", "VGG pooling", choices=POOLINGS)
    poly_c: float = _spec(_POLY.c, "constant c of the poly kernel (x'y + c)^2; 0 is Gram matching", lo=0.0, hi=1e3)
    gaussian_estimator: str = _spec(_GAUSSIAN.estimator, "Gaussian MMD estimator: fourier (random Fourier features, "
                                    "fixed during a run) or pairs (the paper's, new sampled pairs each step)",
                                    choices=ESTIMATORS)
    gaussian_features: int = _spec(_GAUSSIAN.features, "random Fourier frequencies per layer of the fourier estimator",
                                   lo=8, hi=8192)
    gaussian_pairs: int | None = _spec(_GAUSSIAN.pairs, "sampled pairs per layer and step of the pairs estimator "
                                                       "(None: one per position, as the paper)", lo=16, hi=1_000_000)
    painting_weights: tuple[float, ...] | None = _spec(None, "one weight per painting when there are several "
                                                          "(default: equal)")
    style_blend: str = _spec("mixture", "several paintings: mixture (match the weighted mixture of their feature "
                                        "distributions) or sum (the weighted sum of one style term per painting)",
                             choices=BLENDS)
    swd_directions: int | None = _spec(_SWD.directions, "random directions per layer of the sliced Wasserstein "
                                                        "distance (default: as many as the layer has channels)",
                                       lo=1, hi=8192)
    precision: str = _spec("auto", "network precision: bf16 runs VGG under autocast in channels_last (losses and "
                                   "optimizer stay fp32); auto is bf16 on a CPU with AMX or AVX-512 BF16 and on a "
                                   "CUDA GPU of compute capability 8.0 or more, fp32 elsewhere", choices=PRECISIONS)
    style_scale: float | None = _spec(None, "brush size: the painting's long edge as a share of the output's, at "
                                            "every scale; 1 = as long (default: 1 up to "
                                            f"{STYLE_EDGE} px; above, the painting stays {STYLE_EDGE} px)",
                                      lo=0.05, hi=4.0)
    memory_budget_gb: float | None = _spec(None, "memory the run's tensors may take, in GB; a scale whose whole "
                                                 "image does not fit is optimised in tiles (default: "
                                                 f"{GPU_BUDGET_SHARE:g} of a GPU's memory, {CPU_BUDGET_GB:g} GB "
                                                 "on a CPU)", lo=0.01, hi=1e4)
    colors: str = _spec("style", "colours of the result: style (the painting's), luminance (stylize the "
                                 "luminance only, keep the photo's chroma) or match (the painting recoloured "
                                 "to the photo's colour mean and covariance first)", choices=COLOR_MODES)
    early_stop: float = _spec(0.0, "early stopping: end the run once the total loss at the finest scale changed by "
                                   f"less than this share over its last {EARLY_STOP_WINDOW} steps, e.g. 0.005, where the "
                                   "paper's official code stopped; 0 runs every step", lo=0.0, hi=1.0)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _check_field(f, getattr(self, f.name))
        if self.layer_weights is not None and len(self.layer_weights) != len(self.style_layers):
            raise NSTError(f"layer_weights has {len(self.layer_weights)} entries; "
                           f"expected one per style layer ({len(self.style_layers)})")
        if self.layer_weights is not None and not all(math.isfinite(w) for w in self.layer_weights):
            raise NSTError("layer_weights must be finite numbers")
        if self.layer_weights is not None and (min(self.layer_weights) < 0 or sum(self.layer_weights) <= 0):
            raise NSTError("layer_weights must be non-negative with a positive sum")
        if self.painting_weights is not None and not (all(math.isfinite(w) and w >= 0 for w in self.painting_weights)
                                                   and sum(self.painting_weights) > 0):
            raise NSTError("painting_weights must be finite, non-negative, with a positive sum")
        if not self.style_layers:
            raise NSTError(f"choose at least one style layer from {', '.join(STYLE_LAYERS)}")
        if self.fusion and (min(w for _, w in self.fusion) < 0 or sum(w for _, w in self.fusion) <= 0):
            raise NSTError("fusion weights must be non-negative with a positive sum")
        fusion_weights(self.method, self.fusion)
        scales = self.scales_used()
        if math.ceil(self.size / 2 ** (scales - 1)) < LIMITS.min_size or scales > self.steps:
            raise NSTError(f"{scales} scales need a size of at least {LIMITS.min_size * 2 ** (scales - 1)} "
                           f"px and at least {scales} steps; got {self.size} px, {self.steps} steps")

    def scales_used(self) -> int:
        """`scales`, or when unset 2 above `AUTO_SCALES_ABOVE` px and 1 up to it."""
        if self.scales is not None:
            return self.scales
        return 2 if self.size > AUTO_SCALES_ABOVE else 1

    def on_device(self, device_type: str) -> Settings:
        """This run as it goes on a device of `device_type` ("cpu", "cuda", …): unchanged, except
        that on a CPU unset scales become `cpu_scales` (coarse to fine costs a CPU the most)."""
        if self.scales is None and device_type == "cpu":
            return self.replace(scales=cpu_scales(self.size, self.steps))
        return self

    def scale_plan(self) -> tuple[tuple[int, int], ...]:
        """(long edge, steps) of each scale, coarsest first: sizes halve from `size` down and
        the `steps` are shared equally, what rounding leaves over going to the coarsest.

        Equal shares put most of the time into the finest scale (a step there costs about
        four times one of the scale before). On real features (chelsea_cat × starry_night,
        poly, 512 px, two CPU cores) 128 × 25 → 256 × 25 → 512 × 25 closed 0.93 of the Gram
        gap in 52 s; halving shares, 128 × 58 → 256 × 28 → 512 × 14, closed 0.91 and kept
        too little of the photo's detail (README "Speed").

        A print (above `AUTO_SCALES_ABOVE` px) gives each of its print scales (those above
        that size, but the coarsest) one step for every `PRINT_STEP_EVERY` of the run, at
        least one; the scales below share the rest equally, as a run of their size would.
        A print scale's step costs the most (at 2048 px on two CPU cores, in tiles
        (`nst.tiled`), 65 s against 9 s at 1024 px) and does the least: Adam at a small rate
        (`optimizer_at`) sharpens what the 1024 px scale drew. Measured at 2048 px (the
        paper's VGG-19, chelsea_cat × starry_night, poly, two CPU cores), 256 × 30 → 512 × 20
        → 1024 × 15 → 2048 × 2 closed 0.48 of the Gram gap in 340 s; 256 × 30 → 512 × 16 →
        1024 × 8 → 2048 × 4 closed 0.44 in 411 s; the former rule of a quarter of the steps of
        the scale before, 256 × 57 → 512 × 14 → 1024 × 3 → 2048 × 1, closed 0.32.
        """
        scales = self.scales_used()
        sizes = [math.ceil(self.size / 2 ** (scales - 1 - i)) for i in range(scales)]
        fixed = max(1, self.steps // PRINT_STEP_EVERY)
        counts = [fixed if i > 0 and size > AUTO_SCALES_ABOVE else 0 for i, size in enumerate(sizes)]
        shared = counts.count(0)
        rest = self.steps - sum(counts)
        counts = [count or rest // shared for count in counts]
        counts[0] += rest - rest // shared * shared
        return tuple(zip(sizes, counts))

    def style_scale_used(self) -> float:
        """`style_scale`, or when unset 1 up to `STYLE_EDGE` px and `STYLE_EDGE` / size above."""
        if self.style_scale is not None:
            return self.style_scale
        return min(1.0, STYLE_EDGE / self.size)

    def painting_edge(self, size: int) -> int:
        """The painting's long edge at a scale of long edge `size`: `style_scale_used` of it."""
        return max(1, round(self.style_scale_used() * size))

    def gamma_used(self) -> float:
        """The style weight γ a run uses: `gamma`, or when unset its methods' defaults (`gamma_for`)."""
        return gamma_for(self.gamma, self.method, self.fusion)

    def optimizer_used(self) -> str:
        """The optimizer a run uses: `optimizer`, or for "auto" Adam when a style term is a sampled estimate."""
        if self.optimizer != "auto":
            return self.optimizer
        methods = [get_method(m) for m in fusion_weights(self.method, self.fusion)]
        stochastic = any(m.is_stochastic(m.options_for(self)) for m in methods)
        return "adam" if stochastic else "lbfgs"

    def optimizer_at(self, size: int, *, tiled: bool = False) -> str:
        """The optimizer of a scale of long edge `size`: `optimizer_used`, but Adam on a tiled scale
        (`nst.tiled`) and, for "auto", on a print's scales above `AUTO_SCALES_ABOVE` px. There a
        scale has 1 to 3 steps (`scale_plan`), and L-BFGS's first step is a plain gradient step of
        length lr/‖g‖₁ that barely moves the image (a 2048 px print on the paper's VGG-19 closed 0.23
        of the Gram gap with it, 0.33 with Adam); its history would hold 100 images (5 GB at 2048 px)."""
        if tiled or (self.optimizer == "auto" and size > AUTO_SCALES_ABOVE):
            return "adam"
        return self.optimizer_used()

    def lr_at(self, size: int, *, tiled: bool = False) -> float:
        """The learning rate of that scale's optimizer: `lr` when the scale runs the run's own optimizer,
        else the default of the one it runs (an L-BFGS rate is a share of its step, not a step size)."""
        name = self.optimizer_at(size, tiled=tiled)
        return self.lr if self.lr is not None and name == self.optimizer_used() else DEFAULT_LR[name]

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed, validated again."""
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        """Inverse of `dataclasses.asdict` (JSON turns tuples into lists). Untrusted: unknown
        names and values of the wrong JSON type are refused in one line."""
        if not isinstance(data, dict):
            raise NSTError(f"settings must be a JSON object, got {type(data).__name__}")
        fields = {f.name: str(f.type) for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise NSTError(f"unknown setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(fields))}")
        for name, value in data.items():
            if not _has_type(value, fields[name]):
                raise NSTError(f"{name}: {value!r} is not of type {fields[name]}")
        fixed = dict(data)
        for key in ("style_layers", "layer_weights", "painting_weights"):
            if fixed.get(key) is not None:
                fixed[key] = tuple(fixed[key])
        if "fusion" in fixed:
            fixed["fusion"] = tuple((str(m), float(w)) for m, w in fixed["fusion"])
        return cls(**fixed)


def _has_type(value: Any, annotation: str) -> bool:
    """Whether a JSON value fits a field's annotation ("int", "float | None", "tuple[str, ...]",
    "tuple[tuple[str, float], ...]"); lists stand for tuples, and ints for floats."""
    base, _, optional = annotation.partition(" | ")
    if value is None:
        return optional == "None"
    if base == "tuple[str, float]":  # a fusion's (method, weight) pair
        return (isinstance(value, (list, tuple)) and len(value) == 2 and isinstance(value[0], str)
                and _has_type(value[1], "float"))
    if base.endswith(", ...]"):
        inner = base[len("tuple["):-len(", ...]")]
        return isinstance(value, (list, tuple)) and all(_has_type(v, inner) for v in value)
    if isinstance(value, bool):
        return False
    return isinstance(value, {"int": int, "float": (int, float), "str": str}[base])


# Fields that hold whole numbers, default or not; annotations are strings here (postponed
# evaluation): "int", "int | None".
INT_FIELDS: frozenset[str] = frozenset(f.name for f in dataclasses.fields(Settings)
                                       if str(f.type).split(" |")[0] == "int")


def field_spec(name: str) -> dict[str, Any]:
    """Default, help, min, max and choices of one `Settings` field, for building a CLI flag or a slider."""
    for f in dataclasses.fields(Settings):
        if f.name == name:
            return {"default": f.default, **f.metadata}
    raise NSTError(f"unknown setting {name!r}")


def _check_field(f: dataclasses.Field, value: Any) -> None:
    meta = f.metadata
    if value is None:
        return
    if meta.get("choices") is not None:
        values = value if isinstance(value, tuple) else (value,)
        bad = [v for v in values if v not in meta["choices"]]
        if bad:
            raise NSTError(f"{f.name}: {bad[0]!r} is not one of {', '.join(meta['choices'])}")
    if meta.get("min") is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not (meta["min"] <= value <= meta["max"]) or value != value:
            raise NSTError(f"{f.name} must be between {meta['min']:g} and {meta['max']:g}, got {value!r}")
