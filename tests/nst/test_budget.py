"""nst.budget: a scale is whole when its step fits the budget, else in the largest tiles that fit."""

import ctypes
import os

import pytest
import torch

from nst import NSTError, Settings
from nst.budget import (HALO, MIN_TILE, STEP_BYTES_PER_PIXEL, default_budget_gb, layout_scale,
                        release_free_memory, scale_layouts, step_bytes_per_pixel)
from nst.config import CPU_BUDGET_GB
from nst.methods import get_method
from nst.tiles import ALIGN, tile_grid

GB = 1e9
# Whole-image float32 RGB tensors of a tiled scale (image and gradient, Adam's moments, photo, prepared
# photo, two shown).
TILED_IMAGE_BYTES = 8 * 12


def _tiled_peak(layout, per_pixel):
    """The whole-image tensors and the largest crop of 100 steps' grids."""
    generator = torch.Generator().manual_seed(0)
    crop = max((t.crop[2] - t.crop[0]) * (t.crop[3] - t.crop[1]) for _ in range(100)
               for t in tile_grid(layout.height, layout.width, layout.tile, layout.halo, generator))
    return layout.height * layout.width * TILED_IMAGE_BYTES + crop * per_pixel


@pytest.mark.parametrize("method", ["poly", "gaussian", "swd"])
@pytest.mark.parametrize("height, width", [(2048, 2048), (2731, 4096), (1365, 2048)])
def test_tiles_are_the_largest_that_fit_the_budget(method, height, width):
    settings = Settings(method=method, size=max(height, width))
    per_pixel = STEP_BYTES_PER_PIXEL + get_method(method).extra_bytes_per_pixel
    assert step_bytes_per_pixel([method]) == per_pixel
    layout = layout_scale(settings, height, width, steps=2, budget=4 * GB)
    assert layout.tiled and layout.halo == HALO and layout.tile % ALIGN == 0
    assert _tiled_peak(layout, per_pixel) <= 4 * GB
    bigger = type(layout)(height, width, layout.tile + ALIGN, HALO)
    assert layout.tile + ALIGN > max(height, width) or _tiled_peak(bigger, per_pixel) > 4 * GB


def test_a_scale_whose_step_fits_is_whole_and_a_big_gpu_takes_2048_px_whole():
    assert not layout_scale(Settings(size=1024), 683, 1024, steps=25, budget=4 * GB).tiled
    assert layout_scale(Settings(size=2048), 2048, 2048, steps=25, budget=4 * GB).tiled
    assert not layout_scale(Settings(size=2048), 2048, 2048, steps=25, budget=0.8 * 80 * GB).tiled


def test_the_gaussian_mmd_gets_smaller_tiles_than_gram_matching():
    poly, gaussian = (layout_scale(Settings(method=m, size=4096), 4096, 4096, 1, 4 * GB) for m in ("poly", "gaussian"))
    assert gaussian.tile < poly.tile


def test_a_budget_too_small_or_a_painting_too_large_is_refused_in_one_line():
    with pytest.raises(NSTError, match=r"too small for a 4096 px scale: it needs at least .* GB") as info:
        layout_scale(Settings(size=4096), 4096, 4096, 1, budget=1 * GB)
    assert "\n" not in str(info.value)
    need = (4096 * 4096 * TILED_IMAGE_BYTES + (MIN_TILE + 2 * HALO) ** 2 * STEP_BYTES_PER_PIXEL) / GB
    assert layout_scale(Settings(size=4096), 4096, 4096, 1, budget=need * 1.01 * GB).tile >= MIN_TILE
    with pytest.raises(NSTError, match="the painting's features at 4096 px need more than the memory budget"):
        layout_scale(Settings(size=4096, style_scale=1.0), 4096, 4096, 1, budget=4 * GB, painting_pixels=4096**2)


def test_the_layouts_follow_the_scale_plan_and_the_device_default():
    settings = Settings(size=4096, steps=75, scales=4)
    layouts = scale_layouts(settings, (4096, 2731), [(1024, 640)], "cpu")
    assert [max(l.height, l.width) for l in layouts] == [size for size, _ in settings.scale_plan()]
    assert [l.tiled for l in layouts] == [False, False, True, True]
    assert 0 < default_budget_gb("cpu") <= CPU_BUDGET_GB


def test_the_layout_s_tile_counts_and_seen_pixels_are_those_of_its_grids():
    layout = layout_scale(Settings(size=2048), 1365, 2048, steps=1, budget=4 * GB)
    generator = torch.Generator().manual_seed(0)
    grids = [tile_grid(layout.height, layout.width, layout.tile, layout.halo, generator) for _ in range(400)]
    counts = [len(g) for g in grids]
    seen = [sum((t.crop[2] - t.crop[0]) * (t.crop[3] - t.crop[1]) for t in g) for g in grids]
    assert max(counts) == layout.most_tiles()
    assert sum(counts) / len(counts) == pytest.approx(layout.mean_tiles(), rel=0.05)
    assert sum(seen) / len(seen) == pytest.approx(layout.seen_pixels(), rel=0.05)


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_memory_freed_in_the_middle_of_the_heap_goes_back_to_the_system():
    libc = ctypes.CDLL(None)
    if not hasattr(libc, "malloc_trim") or not os.path.exists("/proc/self/statm"):
        pytest.skip("glibc on Linux only")
    libc.malloc.restype, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
    size = 64 * 1024  # below glibc's mmap threshold: on the heap, as a tile's freed activations end up
    chunks = [libc.malloc(size) for _ in range(512)]
    for chunk in chunks:
        ctypes.memset(chunk, 1, size)  # resident
    top = chunks.pop()  # still in use above the others: free() alone cannot shrink the heap
    for chunk in chunks:
        libc.free(chunk)
    before = _resident_bytes()
    assert release_free_memory()
    returned = before - _resident_bytes()
    libc.free(top)
    assert returned > 0.75 * len(chunks) * size  # of the 33 MB freed
