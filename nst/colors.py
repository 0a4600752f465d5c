"""Colour preservation as pure tensor functions (Gatys et al., "Controlling Perceptual
Factors in Neural Style Transfer", CVPR 2017, section 5).

Images are `(1, 3, H, W)` RGB tensors in [0, 1]. Two ways to keep the photo's colours:
stylize the luminance channel only and put the photo's chroma back afterwards
(`with_chroma`), or recolour the painting first so that its pixel colours have the
photo's mean and covariance (`match_colors`). `prepare_colors` and `finish_colors` say
what the optimisation sees and what is shown, for each of `COLOR_MODES`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .errors import NSTError

__all__ = [
    "COLOR_MODES",
    "finish_colors",
    "luminance_as_rgb",
    "match_colors",
    "prepare_colors",
    "rgb_to_yiq",
    "with_chroma",
    "yiq_to_rgb",
]

# "style": the painting's colours (plain style transfer).
# "luminance": stylize luminance only; both images go through the network as grey-as-RGB,
#   and the result's luminance is combined with the photo's chroma (I and Q).
# "match": colour histogram matching; the painting's pixels are first transformed so that
#   their colour mean and covariance equal the photo's.
COLOR_MODES: tuple[str, ...] = ("style", "luminance", "match")

# NTSC 1953 (FCC) RGB → YIQ; rows Y, I, Q. The Y row sums to 1 and the I and Q rows to 0,
# so grey (r, r, r) maps to (r, 0, 0) and back.
_RGB_TO_YIQ = torch.tensor(
    [
        [0.299, 0.587, 0.114],
        [0.596, -0.274, -0.322],
        [0.211, -0.523, 0.312],
    ],
    dtype=torch.float64,
)
# The exact inverse rather than the rounded one usually printed, so that a round trip is the
# identity to float precision.
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)

# Eigenvalues of the painting's colour covariance below this fraction of the largest are
# raised to it: a grey or flat painting has no spread in some colour directions, and
# Σ^{-1/2} would divide by zero there. Far above float64 round-off (~1e-16), far below
# the spread of any real colour image.
_EIG_FLOOR = 1e-8


def _mix(matrix: Tensor, image: Tensor) -> Tensor:
    """Apply a `(3, 3)` colour matrix to every pixel of `image` `(B, 3, H, W)`."""
    return torch.einsum("ij,bjhw->bihw", matrix.to(image.device, image.dtype), image)


def rgb_to_yiq(image: Tensor) -> Tensor:
    """RGB → YIQ with the NTSC 1953 matrix, `(B, 3, H, W)` → `(B, 3, H, W)`.

        Y = 0.299 R + 0.587 G + 0.114 B
        I = 0.596 R − 0.274 G − 0.322 B
        Q = 0.211 R − 0.523 G + 0.312 B

    Y is the luminance; I and Q the chroma, zero for grey.
    """
    return _mix(_RGB_TO_YIQ, image)


def yiq_to_rgb(image: Tensor) -> Tensor:
    """YIQ → RGB with the exact inverse of `rgb_to_yiq`'s matrix (computed by
    `torch.linalg.inv` in float64), `(B, 3, H, W)` → `(B, 3, H, W)`."""
    return _mix(_YIQ_TO_RGB, image)


def luminance_as_rgb(image: Tensor) -> Tensor:
    """The luminance Y of `image` `(1, 3, H, W)` replicated to three channels: (Y, Y, Y),
    `(1, 3, H, W)`. Its own YIQ is (Y, 0, 0) since the Y row sums to 1."""
    return rgb_to_yiq(image)[:, :1].repeat(1, 3, 1, 1)


def with_chroma(stylized: Tensor, photo: Tensor) -> Tensor:
    """RGB of (Y of `stylized`, I and Q of `photo`), both `(1, 3, H, W)` of equal size.

    `stylized` may be grey-as-RGB or colour; only its luminance is used. Not clamped:
    the result's I and Q equal the photo's exactly only before clamping, which would
    change them where a channel leaves [0, 1]; the caller clamps for display.
    """
    if stylized.shape[-2:] != photo.shape[-2:]:
        raise NSTError(f"with_chroma: stylized image is {tuple(stylized.shape[-2:])} (H, W) but the photo is "
                       f"{tuple(photo.shape[-2:])}; they must be the same size")
    yiq = torch.cat([rgb_to_yiq(stylized)[:, :1], rgb_to_yiq(photo)[:, 1:]], dim=1)
    return yiq_to_rgb(yiq)


def _moments(image: Tensor) -> tuple[Tensor, Tensor]:
    """Colour mean `(3, 1)` and biased covariance `(3, 3)` (1/M) of the M pixels of `image` `(3, M)`."""
    mean = image.mean(dim=1, keepdim=True)
    centred = image - mean
    return mean, centred @ centred.T / image.shape[1]


def match_colors(style: Tensor, photo: Tensor) -> Tensor:
    """The painting `style` recoloured so that its pixel colours have the photo's mean and covariance.

    Every pixel x becomes A (x − μ_s) + μ_p, where μ and Σ are the per-image colour mean
    and biased 3×3 covariance of `style` (s) and `photo` (p). Then A Σ_s Aᵀ = Σ_p. This
    uses the image-analogies variant that Gatys et al. compare with the Cholesky one:

        A = Σ_p^{1/2} Σ_s^{-1/2},  with symmetric square roots V diag(√λ) Vᵀ from `eigh`.

    Symmetric roots do not depend on the choice of colour axes: permuting (or rotating)
    both images' channels permutes (rotates) the result in the same way, whereas the
    Cholesky factors depend on the channel order and add a rotation that colour order
    alone decides. When Σ_s and Σ_p commute, this A is the least-displacement (optimal
    transport) linear map.

    A grey or flat painting has a singular Σ_s: its eigenvalues are floored at 1e-8 of
    the largest, so the output is finite, but its covariance cannot reach Σ_p in the
    directions the painting does not vary in. A flat painting becomes μ_p everywhere.

    Computed on the CPU in float64 (not every device has it; this runs once per run) so
    that the moments match to float precision; returned in `style`'s dtype and device.
    Not clamped: clamping to [0, 1] would break the exact moment equality, so the caller
    may clamp afterwards. `style` `(1, 3, Hs, Ws)`, `photo` `(1, 3, Hp, Wp)`, of any sizes;
    returns `(1, 3, Hs, Ws)`.
    """
    s = style.detach().to("cpu", torch.float64).reshape(3, -1)  # (3, Ms)
    p = photo.detach().to("cpu", torch.float64).reshape(3, -1)  # (3, Mp)
    mu_s, cov_s = _moments(s)
    mu_p, cov_p = _moments(p)
    lam_s, vec_s = torch.linalg.eigh(cov_s)
    lam_p, vec_p = torch.linalg.eigh(cov_p)
    floor = _EIG_FLOOR * lam_s.max().clamp_min(torch.finfo(torch.float64).tiny)
    inv_sqrt_s = vec_s @ torch.diag(lam_s.clamp_min(floor).rsqrt()) @ vec_s.T
    sqrt_p = vec_p @ torch.diag(lam_p.clamp_min(0).sqrt()) @ vec_p.T  # clamp: round-off can make λ ≈ 0 negative
    matched = sqrt_p @ inv_sqrt_s @ (s - mu_s) + mu_p  # (3, Ms)
    return matched.reshape(style.shape).to(style.device, style.dtype)


def _check_mode(mode: str) -> None:
    if mode not in COLOR_MODES:
        raise NSTError(f"unknown colour mode {mode!r}; choose one of {', '.join(COLOR_MODES)}")


def prepare_colors(mode: str, content: Tensor, style: Tensor) -> tuple[Tensor, Tensor]:
    """The (content, style) pair the optimisation sees for colour mode `mode`.

    "style": both unchanged. "luminance": both as grey-as-RGB (`luminance_as_rgb`).
    "match": the content unchanged, the style recoloured to the content's colour moments
    (`match_colors`), clamped to [0, 1] because it is an image the network reads.
    """
    _check_mode(mode)
    if mode == "luminance":
        return luminance_as_rgb(content), luminance_as_rgb(style)
    if mode == "match":
        return content, match_colors(style, content).clamp(0, 1)
    return content, style


def finish_colors(mode: str, image: Tensor, content: Tensor) -> Tensor:
    """The image shown for the optimised `image`: for "luminance" its luminance with the
    photo `content`'s chroma (`with_chroma`), clamped to [0, 1]; otherwise `image` unchanged."""
    _check_mode(mode)
    if mode == "luminance":
        return with_chroma(image, content).clamp(0, 1)
    return image
