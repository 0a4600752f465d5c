"""nst.tiles: the cores of a step partition the image, move at every step, and their crops hold the halo."""

import pytest
import torch

from nst.tiles import ALIGN, core_length, cuts, grid_borders, tile_grid


def _coverage(tiles, height, width):
    counts = torch.zeros(height, width, dtype=torch.int64)
    for tile in tiles:
        top, left, bottom, right = tile.core
        counts[top:bottom, left:right] += 1
    return counts


@pytest.mark.parametrize("height, width, largest, halo", [(85, 128, 48, 16), (300, 451, 96, 64), (64, 64, 32, 0)])
def test_every_pixel_is_in_exactly_one_core_and_crops_add_the_halo(height, width, largest, halo):
    generator = torch.Generator().manual_seed(3)
    for _ in range(5):
        tiles = tile_grid(height, width, largest, halo, generator)
        assert torch.equal(_coverage(tiles, height, width), torch.ones(height, width, dtype=torch.int64))
        for tile in tiles:
            top, left, bottom, right = tile.core
            assert bottom - top <= largest and right - left <= largest
            assert tile.crop == (max(0, top - halo), max(0, left - halo), min(height, bottom + halo),
                                 min(width, right + halo))
            rows, cols = tile.core_in_crop
            assert (rows.stop - rows.start, cols.stop - cols.start) == (bottom - top, right - left)
        rows, cols = grid_borders(tiles)
        assert all(r % ALIGN == 0 for r in rows + cols)  # on VGG's grid at relu5_1


def test_the_borders_move_between_steps():
    generator = torch.Generator().manual_seed(0)
    borders = [grid_borders(tile_grid(512, 384, 128, 64, generator)) for _ in range(6)]
    assert len({tuple(map(tuple, b)) for b in borders}) >= 5  # 8 offsets per edge: a repeat now and then at most


def test_an_edge_that_one_core_covers_is_not_cut():
    generator = torch.Generator().manual_seed(0)
    tiles = tile_grid(100, 300, 128, 64, generator)
    assert {(t.core[0], t.core[2]) for t in tiles} == {(0, 100)}
    assert len(tile_grid(100, 120, 128, 64, generator)) == 1
    assert cuts(100, 128, 48) == [] and cuts(300, 112, 0) == [112, 224] and cuts(300, 112, 32) == [32, 144, 256]


@pytest.mark.parametrize("edge, largest, length", [(2048, 912, 688), (4096, 672, 592), (1024, 960, 512),
                                                     (300, 512, 304), (85, 48, 48)])
def test_core_length_splits_the_edge_in_near_equal_aligned_parts(edge, largest, length):
    assert core_length(edge, largest) == length
    assert length % ALIGN == 0 and length <= largest
