"""The optimisation loop: one generator that the CLI, the app, the figure runner and
the benchmark all consume.

`iter_stylize` yields a `Step` after every optimizer step (on a tiled scale, after every
tile of it, `nst.tiled`); `stylize` runs it to the end with a tqdm bar and returns a
`Result`. One step is one forward and backward pass of the VGG over the image (L-BFGS
runs with `max_iter=1`, so its cost per step is the same as Adam's), or over each of its tiles.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from typing import Callable, Generator, Iterator, Sequence

import torch
from PIL import Image
from torch import Tensor
from tqdm.auto import tqdm

from .budget import release_free_memory
from .colors import finish_colors, prepare_colors
from .config import Settings
from .errors import NSTError
from .features import VGGFeatures
from .images import ImageSource, load_tensor, to_pil
from .objective import Objective, StyleTargets
from .record import RunRecord, run_record
from .regions import NO_PAINTING
from .request import Request
from .step import Step, deterministic_cudnn, step_seed
from .stopping import until_converged
from .tiled import optimise_tiled
from .weights import load_extractor

__all__ = ["NOISE_AMPLITUDE", "LBFGS_MAX_STEP", "Step", "Result", "prepare_images", "as_request", "initial_image",
           "upsample", "iter_stylize", "stylize", "step_seed"]

# Breaks the symmetry of the flat start (the official code's noise: ±0.1 grey levels, 0.0004).
NOISE_AMPLITUDE = 0.05
LBFGS_MAX_STEP = 0.1


@dataclass(frozen=True)
class Result:
    """A finished run: the image, the loss history per term, and its record (how it was made);
    `interrupted` when Ctrl-C ended it early (`stylize(keep_on_interrupt=True)`)."""

    image: Image.Image
    history: dict[str, list[float]]
    record: RunRecord
    interrupted: bool = False


def prepare_images(content: ImageSource, style: ImageSource, size: int,
                   device: torch.device) -> tuple[Tensor, Tensor]:
    """Load both images, resize each to long edge `size`; tensors `(1, 3, H, W)` in [0, 1]."""
    return (load_tensor(content, size, device, name="content image"),
            load_tensor(style, size, device, name="style image"))


def as_request(content: ImageSource | Request, style: ImageSource | Sequence[ImageSource] | None = None,
               settings: Settings | None = None, mask: ImageSource | None = None) -> Request:
    """`content` when it is a `Request` already (then nothing else may be given), else the
    `Request` of these inputs."""
    if isinstance(content, Request):
        if style is not None or settings is not None or mask is not None:
            raise NSTError("a Request holds its paintings, settings and mask: give the Request alone")
        return content
    return Request(content, style, settings, mask=mask)


def initial_image(content: Tensor, style: Tensor, init: str, seed: int,
                  mean_rgb: tuple[float, float, float] = (0.5, 0.5, 0.5)) -> Tensor:
    """The start `(1, 3, H, W)`: the content photo, the painting resized to it, or for
    "noise" the flat colour `mean_rgb` plus uniform noise of ±`NOISE_AMPLITUDE` (seeded).

    The paper's official code starts the same way: its network's mean colour (a zero
    input) plus uniform noise, of ±0.1 grey levels there.
    """
    if init == "content":
        return content.clone()
    if init == "style":
        return torch.nn.functional.interpolate(style, size=content.shape[-2:], mode="bilinear",
                                               align_corners=False).clamp(0, 1)
    noise = torch.rand(content.shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    mean = torch.tensor(mean_rgb).view(1, 3, 1, 1)
    return (mean + NOISE_AMPLITUDE * noise).clamp(0, 1).to(content.device)


class _Optimizer:
    """The run's optimizer behind one `step(closure)`: Adam, or L-BFGS (one iteration per
    step, no line search) whose step never moves a pixel by more than `LBFGS_MAX_STEP`.

    L-BFGS scales its second step by the curvature seen over its tiny first one (length
    lr/‖g‖₁). From some starts that estimate is far too optimistic and the image was
    thrown far away: the loss rose 10⁴ to 10⁸ fold from the near-flat noise start
    (linear, poly, BN, measured on HED's edge-detection VGG-16) and from the photo when the painting's colours are
    far from it (coffee × grande_jatte, linear, γ = 5), and took most of a run to come
    back. Healthy steps moved no pixel by more than 0.04 (median) to 0.1 (largest seen),
    so a cap at 0.1 of the range leaves them alone; a capped step is scaled as a whole and
    L-BFGS is told the step length it actually took (its `t`), so its next curvature
    pair is exact. Measured alternatives: five Adam steps first still failed on coffee ×
    grande_jatte at 256 px; a strong-Wolfe line search cost 1.5 evaluations a step and
    ended higher.
    """

    def __init__(self, settings: Settings, image: Tensor) -> None:
        size = max(image.shape[-2:])
        name, lr = settings.optimizer_at(size), settings.lr_at(size)
        self.image = image
        if name == "adam":
            self.optimizer: torch.optim.Optimizer = torch.optim.Adam([image], lr=lr)
        else:
            # Tolerances at 0: the loss is scale-free, so torch's absolute defaults would end a run early.
            self.optimizer = torch.optim.LBFGS([image], lr=lr, max_iter=1, history_size=50, tolerance_grad=0.0,
                                               tolerance_change=0.0)

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()

    def step(self, closure: Callable[[], Tensor]) -> None:
        if isinstance(self.optimizer, torch.optim.Adam):
            self.optimizer.step(closure)
            return
        before = self.image.detach().clone()
        self.optimizer.step(closure)
        with torch.no_grad():
            largest = float((self.image - before).abs().max())
            if largest > LBFGS_MAX_STEP:
                shrink = LBFGS_MAX_STEP / largest
                self.image.copy_(before + (self.image - before) * shrink)
                self.optimizer.state[self.image]["t"] *= shrink  # the next pair's s = t·d: the step taken


def iter_stylize(content: ImageSource | Request, style: ImageSource | Sequence[ImageSource] | None = None,
                 settings: Settings | None = None, *, mask: ImageSource | None = None,
                 extractor: VGGFeatures | None = None, network: str = "auto",
                 device: str | torch.device | None = None) -> Iterator[Step]:
    """Optimise an image whose VGG feature distributions match `style`'s, keeping `content`.

    Takes a `Request`, or the photo, the paintings, the settings and the mask it is made
    of (`as_request`; the images are read and checked before the first step). `style` is
    one painting or a list of them (blended as `settings.style_blend` says, with
    `settings.painting_weights`), or with a `mask` (an image of the photo's shape, `nst.regions`)
    each painting in the region painted in its colour and none where the mask is black,
    white or transparent. Yields a `Step` after each of `settings.steps` steps. With
    `settings.colors` other than "style" the network sees the images of
    `nst.colors.prepare_colors` and each step's image is `finish_colors` of the optimised
    one. With more than one scale (`Settings.scale_plan`) the run goes coarse to fine: each
    scale starts from the previous one's image upsampled with the photo's detail put back
    (`upsample`), with fresh targets and optimizer, and its steps' images have that scale's
    size. A scale whose whole step does not fit the memory budget (`Request.layouts`) is
    optimised in tiles (`nst.tiled.optimise_tiled`), yielding after every tile. With
    `settings.early_stop` the run may end before its last step (`nst.stopping`): its last `Step`
    then says why (`Step.stopped`). `extractor` defaults to the cached extractor of `network` on `device` (CUDA when
    present). Raises `NSTError` for bad images, a memory budget too small for the run, or
    when the loss stops being finite.
    """
    request = as_request(content, style, settings, mask)
    settings = request.settings
    extractor = extractor or load_extractor(network, pooling=settings.pooling, device=device)
    layouts = request.layouts(extractor.device)  # a budget too small for the run is refused before any step
    start = time.perf_counter()
    image: Tensor | None = None
    coarse_content: Tensor | None = None
    done = 0
    plan = settings.scale_plan()
    for scale, ((size, count), layout) in enumerate(zip(plan, layouts), start=1):
        photo, paintings, regions = request.at(size, extractor.device)
        prepared = [prepare_colors(settings.colors, photo, p) for p in paintings]
        content_t, style_t = prepared[0][0], [s for _, s in prepared]
        if image is None:
            image = initial_image(content_t, style_t[0], settings.init, settings.seed, extractor.convention.mean_rgb())
        else:
            detail = coarse_content if settings.content_weight > 0 else None
            image = upsample(image, content_t, detail)
            if regions is not None and settings.content_weight > 0:
                # Unpainted parts have no style term: the photo is their best start. A coarse scale's
                # receptive fields span most of the image, so its style reaches far past a region's
                # edge and, carried up, stayed (an unpainted middle third, 256 px, three scales:
                # mean pixel change 0.043; 0.011 with this reset; 0.028 on one scale).
                image = torch.where(regions == NO_PAINTING, content_t, image)
        targets = StyleTargets(extractor, style_t, settings, masked=regions is not None)
        shown = (lambda x, photo=photo: finish_colors(settings.colors, x, photo))
        if layout.tiled:
            steps = optimise_tiled(extractor, targets, content_t, regions, image, settings, layout, done=done,
                                   count=count, start=start, show=shown, scale=scale, scales=len(plan))
        else:
            steps = _optimise(Objective(extractor, content_t, targets, settings, regions), image, settings, done,
                              count, start, shown, scale, len(plan))
        if scale == len(plan) and settings.early_stop > 0:
            yield from until_converged(steps, settings.early_stop)  # the last scale: its image is not needed after
        else:
            image = yield from steps
        del targets, steps
        release_free_memory()  # the scale's activations, L-BFGS history and optimizer state
        done += count
        coarse_content = content_t


def upsample(image: Tensor, content: Tensor, coarse_content: Tensor | None = None) -> Tensor:
    """A coarse scale's result `(1, 3, h, w)` brought to the next scale's size, that of `content` `(1, 3, H, W)`.

    Bilinear upsampling U, plus, when `coarse_content` (the photo at the coarse size) is
    given, the photo's detail that the coarse scale could not hold:
        x_fine = U(x_coarse) + (c − U(c_coarse)),  clamped to [0, 1].
    Without that term the fine scale starts blurred and its few steps do not bring the
    photo's edges back (on real features, 512 px: whiskers and fur lost, 0.89 of the Gram
    gap closed against 0.91 with it; README "Speed").
    """
    def up(t: Tensor) -> Tensor:
        return torch.nn.functional.interpolate(t, size=content.shape[-2:], mode="bilinear", align_corners=False)

    fine = up(image)
    if coarse_content is not None:  # in place: at 4096 px each whole-image temporary is 200 MB
        fine.add_(content).sub_(up(coarse_content))
    return fine.clamp_(0, 1)


def _optimise(objective: Objective, start_image: Tensor, settings: Settings, done: int, count: int,
              start: float, show: Callable[[Tensor], Tensor], scale: int = 1,
              scales: int = 1) -> Generator[Step, None, Tensor]:
    """Steps `done + 1` … `done + count` of the run on scale `scale` of `scales`, whole, from
    `start_image` `(1, 3, H, W)`.

    Each `Step` carries `show` of the image (what the visitor sees: for colour
    preservation, the photo's chroma put back); returns the optimised image itself, clamped.
    """
    image = start_image.detach().clone().requires_grad_(True)
    optimizer = _Optimizer(settings, image)
    # The image is not clamped between steps: clamping breaks L-BFGS's curvature pairs
    # (its losses jumped and stalled in tests); pixels are clamped where they are reported.
    # Scale-free terms are O(1) over the whole image, so per-pixel gradients shrink with
    # size; multiplying by the pixel count keeps L-BFGS's curvature updates well above
    # its fixed 1e-10 threshold at every size. It does not move the minimum.
    pixels = image.shape[-1] * image.shape[-2]
    for step in range(done + 1, done + count + 1):
        terms: dict[str, Tensor] = {}
        seed = step_seed(settings.seed, step)

        def closure() -> Tensor:
            optimizer.zero_grad()
            with deterministic_cudnn():
                total, parts = objective(image, torch.Generator().manual_seed(seed))
                (total * pixels).backward()
            terms.update(parts)
            return total

        optimizer.step(closure)
        values = {name: float(v.detach()) for name, v in terms.items()}
        if not math.isfinite(values["total"]):
            raise NSTError(f"the loss stopped being finite at step {step}; try a smaller learning rate or Adam")
        yield Step(step, settings.steps, values, show(image.detach().clamp(0, 1)), time.perf_counter() - start,
                   scale, scales)
    return image.detach().clamp(0, 1)


def stylize(content: ImageSource | Request, style: ImageSource | Sequence[ImageSource] | None = None,
            settings: Settings | None = None, *, mask: ImageSource | None = None,
            extractor: VGGFeatures | None = None, network: str = "auto", device: str | torch.device | None = None,
            progress: bool = True, keep_on_interrupt: bool = False) -> Result:
    """Run `iter_stylize` to the end, with a tqdm progress bar unless `progress=False`. The
    history holds each term once per step (on a tiled scale, its mean over the step's tiles).

    With `keep_on_interrupt`, Ctrl-C (KeyboardInterrupt) ends the run where it is and the
    result is the last whole image: that of the last complete step, which `record.steps_done`
    gives (a print's tiled step takes minutes; its work so far is not thrown away)."""
    request = as_request(content, style, settings, mask)
    settings = request.settings
    extractor = extractor or load_extractor(network, pooling=settings.pooling, device=device)
    steps = iter_stylize(request, extractor=extractor)
    last = next(steps)
    history: dict[str, list[float]] = {}
    plan = settings.scale_plan()
    interrupted = False
    # leave=None: the bar stays when it is the only one, and goes when it sits under another (a batch's).
    # The bar is drawn at most twice a second (mininterval, refresh=False), not after every step,
    # and at once where it names a new scale or tile.
    shown = None
    with tqdm(total=settings.steps, disable=not progress, unit="step", leave=None, mininterval=0.5) as bar:
        try:
            for step in itertools.chain([last], steps):
                # The loss is measured at the current scale's size, so it jumps when the size
                # changes; naming the scale in the bar says why. A tiled step takes minutes:
                # the tile it is on shows it moving.
                where = [f"scale {step.scale}/{step.scales}, {plan[step.scale - 1][0]} px"] if step.scales > 1 else []
                where += [f"tile {step.tile}/{step.tiles}"] if step.tiles > 1 else []
                bar.set_postfix(loss=f"{step.losses['total']:.4g}", refresh=False)
                if ", ".join(where) != shown:
                    shown = ", ".join(where)
                    bar.set_description(shown or None)
                if step.complete:
                    for name, value in step.losses.items():
                        history.setdefault(name, []).append(value)
                    bar.update(1)
                last = step
        except KeyboardInterrupt:
            if not keep_on_interrupt:
                raise
            interrupted = True
    steps.close()
    # Inside a tiled step `last.image` is the image the step before left.
    done = last.step if last.complete else last.step - 1
    record = run_record(request, extractor, steps_done=done, final_losses=last.losses, seconds=last.elapsed,
                        stopped=last.stopped)
    return Result(last.pil(), history, record, interrupted)
