"""Colour preservation (nst.colors) against hand-computed YIQ values and colour moments
computed independently with numpy."""

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from nst import colors
from nst.errors import NSTError
from nst.images import load_tensor


# NTSC 1953 RGB → YIQ, written out again here so that the tests do not read the module's matrix.
NTSC = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def image(h, w, seed, low=0.0, high=1.0):
    g = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(1, 3, h, w, generator=g)


def yiq_np(img):
    """YIQ of `img` `(1, 3, H, W)` as a numpy `(3, M)` array, in float64."""
    return NTSC @ img.double().reshape(3, -1).numpy()


def moments_np(img):
    pixels = img.double().reshape(3, -1).numpy()  # (3, M): rows are variables
    return pixels.mean(axis=1), np.cov(pixels, bias=True)


def test_luminance_is_the_ntsc_weighted_sum():
    r, g, b = 0.8, 0.3, 0.1
    pixel = torch.tensor([r, g, b], dtype=torch.float64).reshape(1, 3, 1, 1)
    y = 0.299 * r + 0.587 * g + 0.114 * b  # 0.4262
    assert colors.rgb_to_yiq(pixel)[0, 0, 0, 0].item() == pytest.approx(y, abs=1e-15)
    assert_close(colors.luminance_as_rgb(pixel), torch.full((1, 3, 1, 1), y, dtype=torch.float64))


def test_grey_has_no_chroma():
    grey = torch.full((1, 3, 2, 2), 0.37)
    assert_close(colors.rgb_to_yiq(grey)[:, 1:], torch.zeros(1, 2, 2, 2), atol=1e-7, rtol=0)


def test_yiq_round_trip():
    x = image(17, 23, seed=0)
    assert_close(colors.yiq_to_rgb(colors.rgb_to_yiq(x)), x, atol=1e-6, rtol=0)
    assert_close(colors.rgb_to_yiq(colors.yiq_to_rgb(x)), x, atol=1e-6, rtol=0)


def test_luminance_mode_keeps_the_photos_chroma_and_the_stylized_luminance():
    photo, style = image(20, 30, seed=1), image(40, 25, seed=2)
    content_seen, style_seen = colors.prepare_colors("luminance", photo, style)
    for grey in (content_seen, style_seen):
        assert grey.shape[1] == 3 and torch.equal(grey[:, 0], grey[:, 1]) and torch.equal(grey[:, 0], grey[:, 2])
    assert_close(content_seen[0, 0].double().flatten().numpy(), yiq_np(photo)[0], atol=1e-6, rtol=0)
    # A stylized result: the network's grey-as-RGB output, slightly coloured and outside [0, 1] in places.
    stylized = content_seen + 0.3 * (image(20, 30, seed=3) - 0.5)
    out = colors.with_chroma(stylized, photo)
    assert_close(yiq_np(out)[1:], yiq_np(photo)[1:], atol=1e-6, rtol=0)
    assert_close(yiq_np(out)[0], yiq_np(stylized)[0], atol=1e-6, rtol=0)
    shown = colors.finish_colors("luminance", stylized, photo)
    assert_close(shown, out.clamp(0, 1))
    assert shown.min() >= 0 and shown.max() <= 1


def test_match_colors_gives_the_photos_mean_and_covariance():
    style = image(31, 45, seed=4) ** 2  # skewed, correlated-looking colours
    style[:, 1] = 0.6 * style[:, 0] + 0.4 * style[:, 1]
    photo = image(52, 20, seed=5, low=0.2, high=0.7)
    out = colors.match_colors(style, photo)
    assert out.shape == style.shape and out.dtype == torch.float32
    mean_out, cov_out = moments_np(out)
    mean_p, cov_p = moments_np(photo)
    np.testing.assert_allclose(mean_out, mean_p, rtol=0, atol=1e-6)
    np.testing.assert_allclose(cov_out, cov_p, rtol=1e-5, atol=1e-7)


def test_match_colors_on_the_example_images(content_path, style_path):
    photo = load_tensor(content_path, 64)
    painting = load_tensor(style_path, 64)
    assert photo.shape != painting.shape
    out = colors.match_colors(painting, photo)
    (mean_out, cov_out), (mean_p, cov_p) = moments_np(out), moments_np(photo)
    np.testing.assert_allclose(mean_out, mean_p, rtol=0, atol=1e-6)
    np.testing.assert_allclose(cov_out, cov_p, rtol=1e-5, atol=1e-7)
    content_seen, style_seen = colors.prepare_colors("match", photo, painting)
    assert content_seen is photo
    assert_close(style_seen, out.clamp(0, 1))


def test_photo_equal_to_style_leaves_the_style_unchanged():
    style = image(24, 24, seed=6)
    assert_close(colors.match_colors(style, style.clone()), style, atol=1e-6, rtol=0)


def test_match_colors_does_not_depend_on_the_channel_order():
    # Symmetric square roots commute with permuting the colour axes; Cholesky factors do not.
    style, photo = image(20, 26, seed=7) ** 3, image(18, 22, seed=8) ** 0.5
    style[:, 2] = 0.5 * style[:, 0] + 0.5 * style[:, 2]
    order = [2, 0, 1]
    permuted = colors.match_colors(style[:, order], photo[:, order])
    assert_close(permuted, colors.match_colors(style, photo)[:, order], atol=1e-6, rtol=0)


def test_degenerate_paintings_give_finite_output():
    photo = image(16, 16, seed=9)
    grey = image(16, 20, seed=10)[:, :1].repeat(1, 3, 1, 1)
    out = colors.match_colors(grey, photo)
    assert torch.isfinite(out).all()
    mean_p, _ = moments_np(photo)
    np.testing.assert_allclose(moments_np(out)[0], mean_p, rtol=0, atol=1e-6)
    flat = torch.full((1, 3, 16, 20), 0.4)
    everywhere_mean = torch.from_numpy(mean_p).float().reshape(1, 3, 1, 1).expand(1, 3, 16, 20)
    assert_close(colors.match_colors(flat, photo), everywhere_mean)


def test_style_mode_changes_nothing():
    content, style = image(16, 16, seed=11), image(20, 16, seed=12)
    seen = colors.prepare_colors("style", content, style)
    assert seen[0] is content and seen[1] is style
    assert colors.finish_colors("style", style, content) is style
    assert colors.finish_colors("match", style, content) is style


@pytest.mark.parametrize("call", [
    lambda c, s: colors.prepare_colors("sepia", c, s),
    lambda c, s: colors.finish_colors("sepia", s, c),
])
def test_unknown_mode_is_refused(call):
    with pytest.raises(NSTError) as err:
        call(image(16, 16, seed=13), image(16, 16, seed=14))
    message = str(err.value)
    assert "\n" not in message and "'sepia'" in message
    assert all(mode in message for mode in colors.COLOR_MODES)


def test_unequal_sizes_are_refused_for_chroma():
    with pytest.raises(NSTError) as err:
        colors.finish_colors("luminance", image(16, 20, seed=15), image(20, 16, seed=16))
    message = str(err.value)
    assert "\n" not in message and "same size" in message
