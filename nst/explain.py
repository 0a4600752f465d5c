"""The teaching view's computations: why matching Gram matrices is matching distributions.

Two halves, both pure torch (the app's "Why it works" tab draws them and names things for people):

- Real features. `layer_features` turns images into `(N, M)` feature matrices per style
  layer; `identity_check` verifies ‖Ĝ_F − Ĝ_S‖²_F = MMD²_k with k(x, y) = (xᵀy)² from
  explicit kernel sums; `pca_projection`, `channel_stats` and `distance_rows` show the
  distributions and each method's distance to the style.
- A 2-D playground. Each point of a cloud is a "feature vector" with two channels
  (shape `(2, M)`, like a layer's `(N, M)`); `toy_descent` moves a source cloud by
  gradient descent on one method's loss from `nst.methods`, so each method's effect is
  visible: linear moves every point by one vector, BN shifts and stretches each axis,
  poly (Gram) applies one 2×2 matrix to every point, the Gaussian W2 (meancov) one
  affine map, sliced Wasserstein and Gaussian MMD move each point on its own. Clouds
  are named by preset keys (`TOY_PRESETS`); `drawn_points` checks points given by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence

import torch
from torch import Tensor

from . import losses
from .config import STYLE_LAYERS, Settings
from .errors import NSTError
from .features import VGGFeatures
from .images import ImageSource, load_tensor
from .methods import METHOD_NAMES, get_method
from .methods.bn import mean_std
from .methods.poly import gram, gram_distance
from .methods.swd import sliced_wasserstein
from .objective import feature_matrix

__all__ = [
    "ANALYSIS_SIZE",
    "IDENTITY_POSITIONS",
    "PROJECTION_SAMPLES",
    "IdentityCheck",
    "layer_features",
    "identity_check",
    "identity_checks",
    "pca_projection",
    "channel_stats",
    "distance_rows",
    "TOY_PRESETS",
    "TOY_SOURCE_PRESETS",
    "TOY_POINTS",
    "TOY_DIRECTIONS",
    "TOY_GAPS",
    "TOY_STATS",
    "DRAWN_POINTS",
    "DRAWN_LIMIT",
    "ToyFrame",
    "toy_cloud",
    "toy_pair",
    "drawn_points",
    "default_drawing",
    "toy_loss",
    "toy_descent",
    "toy_gaps",
    "toy_stats",
]

# ---------------------------------------------------------------------------------------
# Real features
# ---------------------------------------------------------------------------------------

# Long edge the teaching view resizes every image to: enough positions for stable
# statistics, cheap enough (three forward passes) to redo after every run on a CPU.
ANALYSIS_SIZE = 256
# The brute-force MMD needs M×M kernel matrices; above this many positions both the
# Gram loss and the MMD are computed on the same random subset of positions.
IDENTITY_POSITIONS = 1024
# Feature vectors per image in the 2-D projection.
PROJECTION_SAMPLES = 300


def layer_features(extractor: VGGFeatures, images: Mapping[str, ImageSource], *,
                   size: int = ANALYSIS_SIZE,
                   layers: Sequence[str] = STYLE_LAYERS) -> dict[str, dict[str, Tensor]]:
    """label → layer → `(N, M)` float32 CPU feature matrix, every image resized to long edge `size`.

    Bad images raise `NSTError` naming the label ("style image: …").
    """
    out: dict[str, dict[str, Tensor]] = {}
    with torch.no_grad():
        for label, source in images.items():
            image = load_tensor(source, size, extractor.device, name=f"{label} image")
            activations = extractor(image, layers)
            out[label] = {layer: feature_matrix(a).cpu() for layer, a in activations.items()}  # (N, M)
    return out


@dataclass(frozen=True)
class IdentityCheck:
    """Gram loss and brute-force MMD² of one layer, computed on the same positions.

    `gram_loss` is E = ‖Ĝ_F − Ĝ_S‖²_F / (4N²) with Ĝ = X Xᵀ / M, which is Gatys et al.'s
    ‖G_F − G_S‖²_F / (4N²M²) when both images have M positions and stays defined when
    they do not. `mmd2` is MMD²_k with k(x, y) = (xᵀy)², from explicit kernel sums.
    Theory: `ratio` = MMD² / E = `constant` = 4N².
    """

    layer: str
    channels: int
    positions_image: int
    positions_style: int
    used_image: int
    used_style: int
    gram_loss: float
    mmd2: float

    @property
    def ratio(self) -> float:
        return self.mmd2 / self.gram_loss if self.gram_loss > 0 else math.nan

    @property
    def constant(self) -> int:
        return 4 * self.channels**2


def _subsample(x: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """At most `k` random columns of `x` `(N, M)`, without replacement."""
    if x.shape[1] <= k:
        return x
    return x[:, torch.randperm(x.shape[1], generator=generator)[:k]]  # (N, k)


def identity_check(layer: str, x: Tensor, y: Tensor, *, max_positions: int = IDENTITY_POSITIONS,
                   generator: torch.Generator | None = None) -> IdentityCheck:
    """Check Gram loss = MMD² / 4N² on features `x` `(N, Mx)` (image) and `y` `(N, My)` (style).

    Runs in float64. Where an image has more than `max_positions` positions, a random
    subset of that many is used for both quantities.
    """
    generator = generator or torch.Generator().manual_seed(0)
    xs = _subsample(x.double(), max_positions, generator)  # (N, ≤max_positions)
    ys = _subsample(y.double(), max_positions, generator)
    n = x.shape[0]
    gram_loss = gram_distance(gram(xs), gram(ys), n) / 4
    mmd2 = losses.mmd2(xs, ys, losses.poly_kernel(0.0, 2))
    return IdentityCheck(layer, n, x.shape[1], y.shape[1], xs.shape[1], ys.shape[1],
                         float(gram_loss), float(mmd2))


def identity_checks(image: Mapping[str, Tensor], style: Mapping[str, Tensor], *,
                    max_positions: int = IDENTITY_POSITIONS, seed: int = 0) -> list[IdentityCheck]:
    """`identity_check` for every layer the two feature dicts share, in the order of `style`."""
    generator = torch.Generator().manual_seed(seed)
    return [identity_check(layer, image[layer], style[layer], max_positions=max_positions, generator=generator)
            for layer in style if layer in image]


def pca_projection(clouds: Mapping[str, Tensor], *, samples: int = PROJECTION_SAMPLES,
                   seed: int = 0) -> tuple[list[dict[str, float | str]], tuple[float, float]]:
    """Project sampled feature vectors of several images onto the union's first two principal axes.

    `clouds` maps a label to `(N, M)` features of one layer. Up to `samples` positions
    per image are drawn; PCA is fitted on all drawn vectors together, so the images
    share one coordinate system. Returns rows `{"pc1", "pc2", "image"}` and the
    fraction of the union's variance each axis explains.
    """
    generator = torch.Generator().manual_seed(seed)
    picked = {label: _subsample(x.double(), samples, generator) for label, x in clouds.items()}
    union = torch.cat(list(picked.values()), dim=1)  # (N, K)
    mean = union.mean(dim=1, keepdim=True)  # (N, 1)
    _, s, vh = torch.linalg.svd((union - mean).T, full_matrices=False)  # vh: (min(K, N), N)
    axes = vh[:2]  # (2, N)
    axes = axes * torch.where(axes.sum(dim=1, keepdim=True) < 0, -1.0, 1.0)  # a fixed sign per axis
    variance = s.square()
    explained = (variance[:2] / variance.sum().clamp_min(1e-300)).tolist()
    rows: list[dict[str, float | str]] = []
    for label, x in picked.items():
        coords = (axes @ (x - mean)).T  # (k, 2)
        rows += [{"pc1": float(a), "pc2": float(b), "image": label} for a, b in coords.tolist()]
    return rows, (explained + [0.0, 0.0])[:2]


def channel_stats(style: Tensor, other: Tensor, *, labels: tuple[str, str] = ("style", "result"),
                  channels: int = 16) -> list[dict[str, float | int | str]]:
    """Per-channel mean and std of `style` and `other` (`(N, M)` each) for the `channels`
    channels with the largest style mean, in that order (rank 1 = largest).

    These are the statistics BN matching aligns. Rows: `{"rank", "channel", "image", "mean", "std"}`.
    """
    stats = {labels[0]: mean_std(style.double()), labels[1]: mean_std(other.double())}
    top = torch.argsort(stats[labels[0]][0], descending=True)[:channels]
    return [{"rank": rank, "channel": int(c), "image": label,
             "mean": float(stats[label][0][c]), "std": float(stats[label][1][c])}
            for rank, c in enumerate(top.tolist(), start=1) for label in labels]


def distance_rows(style: Mapping[str, Tensor], others: Mapping[str, Mapping[str, Tensor]], *,
                  settings: Settings | None = None, seed: int = 0) -> list[dict[str, float | str]]:
    """Every method's scale-free style term between each image in `others` and the style, per layer.

    The term is what the optimiser minimises (`nst.methods`): the method's loss divided
    by the loss of all-zero features against the style, so methods and layers compare.
    Options (poly c, the Gaussian estimator) come from `settings` (default: `Settings()`);
    random parts are drawn from `seed`. Rows: `{"method", "layer", <label of each other image>: value}`.
    """
    settings = settings or Settings()
    generator = torch.Generator().manual_seed(seed)
    rows: list[dict[str, float | str]] = []
    for method in METHOD_NAMES:
        m = get_method(method)
        for layer, y in style.items():
            term = m.build(y, m.options_for(settings), generator=generator)
            row: dict[str, float | str] = {"method": method, "layer": layer}
            for label, feats in others.items():
                row[label] = float(term(feats[layer], torch.Generator().manual_seed(seed)))
            rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------
# The 2-D playground
# ---------------------------------------------------------------------------------------

# "drawn" takes points given by hand; "copy" (target only) is the source rotated, squeezed and moved.
TOY_PRESETS: tuple[str, ...] = ("blob", "stretched", "moons", "ring", "clusters", "drawn", "copy")
TOY_SOURCE_PRESETS: tuple[str, ...] = tuple(k for k in TOY_PRESETS if k != "copy")
TOY_POINTS = 200
# Both clouds live in the positive quadrant, like ReLU features: a Gram matrix cannot
# tell a cloud from its mirror image through the origin, non-negative features can.
_SOURCE_CENTER = (1.3, 3.1)
_TARGET_CENTER = (3.3, 1.5)
# What `drawn_points` accepts: a cloud's number of points and the largest |coordinate|.
DRAWN_POINTS = (3, 1000)
DRAWN_LIMIT = 10.0


# Sliced Wasserstein in the playground: this many directions, evenly spaced over half a turn
# (d and −d give the same 1-D distance), so no direction of the plane is favoured.
TOY_DIRECTIONS = 16
# The statistics `toy_gaps` measures, from the poorest to the whole distribution.
TOY_GAPS: tuple[str, ...] = ("mean", "std", "cov", "gram", "mmd")
TOY_STATS: tuple[str, ...] = ("mean x", "mean y", "std x", "std y", "E[x²]", "E[xy]", "E[y²]")


def _rotation(degrees: float) -> Tensor:
    a = math.radians(degrees)
    return torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])  # (2, 2)


def _shape(preset: str, n: int, generator: torch.Generator) -> Tensor:
    """A preset cloud `(2, n)` centred near the origin, about 2 units across."""
    def noise(scale: float) -> Tensor:
        return torch.randn(2, n, generator=generator) * scale  # (2, n)

    if preset == "blob":
        return noise(0.45)
    if preset == "stretched":
        return _rotation(35) @ (noise(1.0) * torch.tensor([[0.9], [0.22]]))
    if preset == "clusters":
        side = (torch.arange(n) % 2) * 2.0 - 1.0  # (n,) alternating ±1
        return noise(0.22) + torch.stack([0.9 * side, torch.zeros(n)])
    t = torch.rand(n, generator=generator)
    if preset == "ring":
        angle = 2 * math.pi * t
        return torch.stack([angle.cos(), angle.sin()]) + noise(0.06)
    if preset == "moons":
        angle = math.pi * t
        upper = torch.arange(n) % 2 == 0
        x = torch.where(upper, angle.cos(), 1 - angle.cos())
        y = torch.where(upper, angle.sin(), 0.5 - angle.sin())
        return 0.9 * (torch.stack([x, y]) - torch.tensor([[0.5], [0.25]])) + noise(0.06)
    raise NSTError(f"unknown preset {preset!r}; choose one of {', '.join(TOY_PRESETS)}")


def toy_cloud(preset: str, *, n: int = TOY_POINTS, seed: int = 0,
              center: tuple[float, float] = _SOURCE_CENTER) -> Tensor:
    """Points `(2, n)` of a preset shape ("blob", "stretched", "moons", "ring", "clusters") around `center`."""
    return _shape(preset, n, torch.Generator().manual_seed(seed)) + torch.tensor(center).view(2, 1)


def toy_pair(source: str, target: str, *, drawn: Tensor | None = None,
             n: int = TOY_POINTS) -> tuple[Tensor, Tensor]:
    """Source and target clouds `(2, ·)` for two preset names (`TOY_PRESETS`).

    "drawn" takes the points `drawn` `(2, K)` as they are, once `drawn_points` accepts
    them; "copy" (target only) rotates, squeezes and moves the source, so matching it
    needs more than a shift.
    """
    if source not in TOY_SOURCE_PRESETS:
        raise NSTError(f"unknown source preset {source!r}; choose one of {', '.join(TOY_SOURCE_PRESETS)}")
    if target not in TOY_PRESETS:
        raise NSTError(f"unknown target preset {target!r}; choose one of {', '.join(TOY_PRESETS)}")
    if "drawn" in (source, target):
        if drawn is None:
            raise NSTError("the 'drawn' preset needs points: pass drawn, a (2, K) tensor")
        drawn = drawn_points(drawn)
    src = drawn if source == "drawn" else toy_cloud(source, n=n, seed=0, center=_SOURCE_CENTER)
    if target == "copy":
        centred = src - src.mean(dim=1, keepdim=True)  # (2, M)
        squeeze = torch.tensor([[1.5], [0.45]])
        return src, _rotation(60) @ (centred * squeeze) + torch.tensor(_TARGET_CENTER).view(2, 1)
    tgt = drawn if target == "drawn" else toy_cloud(target, n=n, seed=1, center=_TARGET_CENTER)
    return src, tgt


def drawn_points(points: Tensor) -> Tensor:
    """`points` `(2, K)` as float32 when they can stand for a cloud, else `NSTError`.

    A cloud needs `DRAWN_POINTS` (3 to 1000) points, every coordinate finite and within
    ±`DRAWN_LIMIT` (10; the presets live within about 0…5).
    """
    if points.dim() != 2 or points.shape[0] != 2:
        raise NSTError(f"drawn points: expected a (2, K) tensor of x and y, got shape {tuple(points.shape)}")
    fewest, most = DRAWN_POINTS
    if not fewest <= points.shape[1] <= most:
        raise NSTError(f"drawn points: give between {fewest} and {most} points (got {points.shape[1]})")
    points = points.float()
    outside = ~points.isfinite().all(dim=0) | (points.abs() > DRAWN_LIMIT).any(dim=0)  # (K,)
    if outside.any():
        k = int(outside.nonzero()[0])
        x, y = points[:, k].tolist()
        raise NSTError(f"drawn points: point {k + 1} is ({x:g}, {y:g}); coordinates must be finite and between "
                       f"-{DRAWN_LIMIT:g} and {DRAWN_LIMIT:g}")
    return points


def default_drawing(n: int = 60) -> Tensor:
    """A heart outline of `n` points `(2, n)` around the target's place."""
    t = torch.linspace(0, 2 * math.pi, n + 1)[:-1]
    x = 16 * t.sin() ** 3
    y = 13 * t.cos() - 5 * (2 * t).cos() - 2 * (3 * t).cos() - (4 * t).cos()
    cx, cy = _TARGET_CENTER
    return torch.stack([cx + 0.06 * x, cy + 0.06 * y])  # (2, n)


def toy_loss(method: str, x: Tensor, y: Tensor) -> Tensor:
    """The loss `method` minimises in the playground, on points `x` `(2, Mx)` and `y` `(2, My)`.

    Linear, BN, poly and meancov are the library's losses. Gaussian MMD is the exact
    quadratic MMD² (`nst.losses.mmd2`) rather than the optimiser's sampled estimate, so
    that the animation is smooth; σ² is the library's adaptive bandwidth, detached.
    Sliced Wasserstein is the library's, along `TOY_DIRECTIONS` evenly spaced directions.
    """
    if method == "gaussian":
        sigma2 = losses.mean_sq_distance(x, y).detach().clamp_min(1e-12)
        return losses.mmd2(x, y, losses.gaussian_kernel(sigma2))
    if method == "swd":
        return sliced_wasserstein(x, y, _toy_directions(x.dtype).to(x.device))
    return get_method(method).loss(x, y)


def _toy_directions(dtype: torch.dtype) -> Tensor:
    """`TOY_DIRECTIONS` unit vectors `(K, 2)` at angles kπ/K."""
    angle = torch.arange(TOY_DIRECTIONS, dtype=torch.float64) * (math.pi / TOY_DIRECTIONS)
    return torch.stack([angle.cos(), angle.sin()], dim=1).to(dtype)


def _step_scale(method: str, x: Tensor, y: Tensor) -> float:
    """Factor on a point's gradient that makes one learning rate fit clouds of any size.

    The losses average over points, so each point's gradient carries 1/M: multiply by M.
    Linear, BN, meancov and sliced Wasserstein flows are then scale-free (the last two
    move each point along its displacement to an optimal match: to its image under the
    optimal affine map, and to its quantiles along the 16 directions, whose average
    2 d dᵀ over the half turn is the identity); poly's gradient grows with the square of
    the coordinates (divide by the larger top eigenvalue of the two Ĝ, which also keeps
    the step stable for lr < 1), Gaussian MMD's shrinks as 1/σ² (multiply by σ²).
    """
    m = x.shape[1]
    if method == "poly":
        top = max(float(torch.linalg.matrix_norm(gram(p), ord=2)) for p in (x, y))
        return m / max(top, 1e-12)
    if method == "gaussian":
        return m * float(losses.mean_sq_distance(x, y).clamp_min(1e-12))
    return float(m)


@dataclass(frozen=True)
class ToyFrame:
    """The source points `(2, M)` after `step` gradient steps, with the loss at that point."""

    step: int
    points: Tensor
    loss: float


def toy_descent(source: Tensor, target: Tensor, method: str, *, lr: float | None = None,
                steps: int | None = None, every: int = 5) -> Iterator[ToyFrame]:
    """Move `source` `(2, M)` towards `target` `(2, K)` by gradient descent on `toy_loss(method)`.

    x_i ← x_i − lr · s · ∂L/∂x_i with s from `_step_scale`. Yields the start (step 0),
    every step up to 2·`every` (the first steps move the most), then every `every` steps,
    and the last step. Defaults from the method's `toy` schedule (`nst.methods`).
    """
    schedule = get_method(method).toy
    if schedule is None:
        raise NSTError(f"method {method!r} has no schedule for the playground")
    lr = schedule.lr if lr is None else lr
    steps = schedule.steps if steps is None else steps
    x = source.detach().clone()
    y = target.detach()
    for step in range(steps + 1):
        x.requires_grad_(True)
        loss = toy_loss(method, x, y)
        if not math.isfinite(float(loss.detach())):
            raise NSTError(f"{method}: the loss stopped being finite at step {step}; use a smaller learning rate")
        if step <= 2 * every or step % every == 0 or step == steps:
            yield ToyFrame(step, x.detach().clone(), float(loss.detach()))
        if step == steps:
            return
        (grad,) = torch.autograd.grad(loss, x)
        x = (x - lr * _step_scale(method, x.detach(), y) * grad).detach()


def toy_gaps(x: Tensor, y: Tensor, sigma2: float) -> dict[str, float]:
    """How far cloud `x` `(2, M)` is from `y` `(2, K)` in each statistic of `TOY_GAPS`.

    Distances, not squared: ‖μ_x − μ_y‖, ‖σ_x − σ_y‖ (per axis), ‖Σ_x − Σ_y‖_F (centred
    covariance), ‖Ĝ_x − Ĝ_y‖_F (Ĝ = E[xxᵀ] = Σ + μμᵀ), and the square root of the
    Gaussian-kernel MMD² with the fixed bandwidth `sigma2`.
    """
    (mx, sx), (my, sy) = mean_std(x), mean_std(y)
    gx, gy = gram(x), gram(y)  # (2, 2) each
    cov_gap = (gx - torch.outer(mx, mx)) - (gy - torch.outer(my, my))  # (2, 2)
    mmd2 = losses.mmd2(x, y, losses.gaussian_kernel(sigma2)).clamp_min(0)
    return {"mean": float((mx - my).norm()), "std": float((sx - sy).norm()), "cov": float(cov_gap.norm()),
            "gram": float((gx - gy).norm()), "mmd": float(mmd2.sqrt())}


def toy_stats(points: Tensor) -> dict[str, float]:
    """Means, per-axis stds and second moments E[x²], E[xy], E[y²] of `points` `(2, M)` (keys `TOY_STATS`)."""
    mean, std = mean_std(points)
    g = gram(points)  # (2, 2)
    values = (*mean.tolist(), *std.tolist(), float(g[0, 0]), float(g[0, 1]), float(g[1, 1]))
    return dict(zip(TOY_STATS, values))
