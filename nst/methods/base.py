"""What every method shares: the `Method` record, the style-term protocol, typed options and
the support of a mixture target.

A method is one way of aligning the feature distributions of the result and the painting. Its
module (`nst.methods.linear`, …) holds its pure loss, its scale-free style term, its options
(a frozen dataclass made by `method_options`) and its `Method` record; `nst.methods` lists the
records in one registry.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol

import torch
from torch import Tensor

from ..errors import NSTError

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["MIN_SCALE", "StyleTerm", "ToySchedule", "Method", "method_options", "setting", "support"]

# Keeps a term finite when a target layer is entirely zero (a black style image).
MIN_SCALE = 1e-12


class StyleTerm(Protocol):
    """A style loss against a fixed target: `(N, M)` features → 0-d tensor."""

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor: ...


@dataclass(frozen=True)
class ToySchedule:
    """Learning rate and number of gradient steps of one method in the teaching view's playground."""

    lr: float
    steps: int


def setting(default: Any, name: str) -> Any:
    """An options field with its `default`, read from the flat `Settings` field `name` (`Method.options_for`)."""
    return dataclasses.field(default=default, metadata={"setting": name})


def method_options(method: str) -> Callable[[type], type]:
    """Class decorator: `method`'s options as a frozen, keyword-only dataclass whose constructor
    refuses an unknown name with one `NSTError` line naming the method and its valid options
    (a misspelt option is never silently ignored)."""

    def decorate(cls: type) -> type:
        cls = dataclass(frozen=True, kw_only=True)(cls)
        names = tuple(f.name for f in dataclasses.fields(cls))
        init = cls.__init__

        @functools.wraps(init)
        def checked_init(self: Any, **values: Any) -> None:
            unknown = [name for name in values if name not in names]
            if unknown:
                valid = f"its options: {', '.join(names)}" if names else "it takes no options"
                raise NSTError(f"method {method!r} has no option {unknown[0]!r}; {valid}")
            init(self, **values)

        cls.__init__ = checked_init
        return cls

    return decorate


def support(y: Tensor, weights: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """The style columns that carry weight, `(N, M')`, and their probabilities `(M',)`, summing to 1.

    `weights` `(M,)` must be non-negative with a positive sum; they are cast to y's dtype
    and device and divided by their sum. Columns of weight 0 are not part of the target
    distribution: dropping them keeps them out of the sliced Wasserstein quantile line
    (where they would still be points) and out of every cost. None: `(y, None)`, unchanged.
    """
    if weights is None:
        return y, None
    if weights.shape != (y.shape[1],):
        raise NSTError(f"position weights must have shape ({y.shape[1]},), one per position, "
                       f"got {tuple(weights.shape)}")
    weights = weights.to(y)
    if bool((weights < 0).any()):
        raise NSTError("position weights must not be negative")
    total = weights.sum()
    if not bool(total > 0) or not bool(total.isfinite()):
        raise NSTError(f"position weights must have a positive finite sum, got {float(total)}")
    keep = weights > 0
    return y[:, keep], weights[keep] / total


@dataclass(frozen=True)
class Method:
    """One way of aligning feature distributions.

    `term(y, options, weights=, generator=)` summarises the style features `y` `(N, M)` into
    a `StyleTerm` (use `build`, which checks its arguments); `options` is an instance of
    `options_type`, whose fields name the flat `Settings` field each is read from.
    `loss(x, y)` is the plain two-argument loss on `(N, Mx)` and `(N, My)` matrices.
    `mixture`: whether `build` takes column `weights` `(M,)`, a target that mixes several
    paintings (see `nst.methods.pool`). `stochastic_when` is the (option, value) under which
    the term is a sampled estimate that changes at every step, which L-BFGS must not be
    given (its curvature pairs would mix different objectives). `extra_per_pixel`: seconds
    per pixel and step beyond Gram matching's, measured on one NVIDIA H200, for the methods
    whose cost the speed model counts apart (`nst.runtime`); `extra_bytes_per_pixel`: the memory a
    step takes per pixel beyond Gram matching's, which sets the tiles' size (`nst.budget`). The teaching view: `title`,
    `kernel` (the MMD kernel in LaTeX, or for a distance that is no MMD the distance itself),
    `matches` (what the distance matches, in words) and `toy` (its schedule in the playground).
    """

    name: str
    title: str
    kernel: str
    matches: str
    default_gamma: float
    term: Callable[..., StyleTerm]
    loss: Callable[[Tensor, Tensor], Tensor]
    options_type: type
    mixture: bool = True
    stochastic_when: tuple[str, object] | None = None
    extra_per_pixel: float = 0.0
    extra_bytes_per_pixel: int = 0
    toy: ToySchedule | None = None

    def options(self, **values: Any) -> Any:
        """This method's options; an unknown name raises `NSTError` listing the valid ones."""
        return self.options_type(**values)

    def options_for(self, settings: Settings) -> Any:
        """This method's options as the flat fields of `settings` give them (`poly_c` → `c`, …)."""
        return self.options_type(**{f.name: getattr(settings, f.metadata["setting"])
                                    for f in dataclasses.fields(self.options_type)})

    def check_mixture(self) -> None:
        """Raise `NSTError` when this method cannot target a mixture of paintings."""
        if not self.mixture:
            raise NSTError(f"method {self.name!r} is a plain two-argument loss: it cannot target a mixture of "
                           "paintings; use style_blend 'sum' (--blend sum) or one painting")

    def build(self, y: Tensor, options: Any = None, *, weights: Tensor | None = None,
              generator: torch.Generator | None = None) -> StyleTerm:
        """The scale-free style term against the style features `y` `(N, M)`.

        `options`: an `options_type` instance (None: the defaults). `weights` `(M,)`: each
        column's probability in a mixture target (None: 1/M each). `generator` draws the
        term's fixed random parts (Fourier frequencies, directions).
        """
        options = self.options() if options is None else options
        if not isinstance(options, self.options_type):
            raise NSTError(f"method {self.name!r} takes {self.options_type.__name__}, got {type(options).__name__}")
        if weights is not None:
            self.check_mixture()
        return self.term(y, options, weights=weights, generator=generator)

    def is_stochastic(self, options: Any) -> bool:
        """Whether the term built with these options is a sampled estimate."""
        return self.stochastic_when is not None and getattr(options, self.stochastic_when[0]) == self.stochastic_when[1]
