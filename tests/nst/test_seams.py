"""nst.seams: the seam ratio against a direct computation, and what it says about a seam."""

import numpy as np
import pytest
import torch

from nst import NSTError
from nst.seams import seam_ratio


def test_the_ratio_is_the_mean_step_across_borders_over_the_mean_step_elsewhere():
    image = torch.rand(1, 3, 40, 50, generator=torch.Generator().manual_seed(0))
    rows, cols = [16, 32], [20]
    x = image[0].numpy()
    down = np.abs(np.diff(x, axis=1))  # (3, 39, 50): row i against row i + 1
    right = np.abs(np.diff(x, axis=2))
    across = np.concatenate([down[:, [15, 31]].ravel(), right[:, :, [19]].ravel()])
    elsewhere = np.concatenate([np.delete(down, [15, 31], axis=1).ravel(), np.delete(right, [19], axis=2).ravel()])
    assert seam_ratio(image, rows, cols) == pytest.approx(across.mean() / elsewhere.mean(), rel=1e-5)


def test_with_a_period_only_the_pairs_at_the_borders_phase_count_elsewhere():
    image = torch.rand(1, 3, 40, 50, generator=torch.Generator().manual_seed(2))
    x = image[0].numpy()
    down, right = np.abs(np.diff(x, axis=1)), np.abs(np.diff(x, axis=2))
    # Borders before row 16 and column 32; period 16: row 32 (pair 31), columns 16 and 48 (pairs 15, 47) elsewhere.
    across = np.concatenate([down[:, [15]].ravel(), right[:, :, [31]].ravel()])
    elsewhere = np.concatenate([down[:, [31]].ravel(), right[:, :, [15, 47]].ravel()])
    assert seam_ratio(image, [16], [32], period=16) == pytest.approx(across.mean() / elsewhere.mean(), rel=1e-5)


def test_a_period_of_two_does_not_mistake_a_bilinear_enlargement_for_a_seam():
    generator = torch.Generator().manual_seed(3)
    small = torch.rand(1, 3, 64, 64, generator=generator)
    enlarged = torch.nn.functional.interpolate(small, scale_factor=2, mode="bilinear", align_corners=False)
    borders = [32, 64]  # no seam there: even positions, whose pairs are the larger kind
    assert seam_ratio(enlarged, borders, borders) > 1.2
    assert seam_ratio(enlarged, borders, borders, period=16) == pytest.approx(1.0, abs=0.1)


def test_a_seam_raises_it_and_an_even_texture_does_not():
    generator = torch.Generator().manual_seed(1)
    texture = 0.4 + 0.1 * torch.rand(1, 3, 64, 64, generator=generator)  # neighbours differ by 0.033 on average
    assert seam_ratio(texture, [32], [16, 48]) == pytest.approx(1.0, abs=0.1)
    seamed = texture.clone()
    seamed[..., 32:, :] += 0.05  # a lower half brighter by 13 grey levels
    assert seam_ratio(seamed, [32], []) > 1.2 * 1.2
    assert seam_ratio(seamed, [32], [], period=16) > 1.2 * 1.2


def test_borders_outside_the_image_or_none_are_refused():
    image = torch.zeros(1, 3, 8, 8)
    with pytest.raises(NSTError, match="outside"):
        seam_ratio(image, [8], [])
    with pytest.raises(NSTError, match="no tile border"):
        seam_ratio(image, [], [])
    with pytest.raises(NSTError, match="no other pair"):
        seam_ratio(image, [4], [], period=4)  # row 4 is the only multiple of 4 inside
