"""benchmarks.prints: one print-size run reports its tiles, peak memory, seam ratio and yardstick."""

from __future__ import annotations

from benchmarks.prints import EXAMPLES, print_run


def test_a_tiled_run_reports_its_tiles_memory_seams_and_yardstick(tmp_path):
    coffee, wave = EXAMPLES / "content" / "coffee.jpg", EXAMPLES / "style" / "great_wave.jpg"  # a gallery pair
    figures = print_run(320, 2, "poly", "auto", "cpu", untiled=False, yardstick_up_to=320, out=tmp_path,
                        budget_gb=0.13, content=coffee, style=wave)
    assert figures["pair"] == "coffee × great_wave"
    assert figures["plan"] == ((160, 1), (320, 1)) and figures["tiles"][0] is None  # the CPU's two scales
    tile, halo, tiles = figures["tiles"][1]
    assert tile < 320 and halo > 0 and tiles > 1  # the finest in tiles
    assert figures["peak_mib"] > 0 and figures["seconds"] > 0
    assert 0 < figures["seam_ratio"] < 2 and 0 < figures["seam_ratio_aligned"] < 2 and 0 < figures["seam_ratio_photo"] < 2
    assert 0 < figures["yardstick"]["gram_gap_closed"] < 1
    assert (tmp_path / "coffee-great_wave-320.png").is_file()


def test_one_step_of_a_fusion_on_one_scale_for_its_peak_memory(tmp_path):
    fusion = (("bn", 0.5), ("poly", 0.5))
    figures = print_run(320, 1, "poly", "auto", "cpu", untiled=False, yardstick_up_to=0, out=tmp_path,
                        budget_gb=0.13, fusion=fusion, scales=1)
    assert figures["method"] == "bn=0.5,poly=0.5"
    assert figures["plan"] == ((320, 1),) and figures["tiles"][0][2] > 1  # one step, in tiles
    assert figures["peak_mib"] > 0 and "yardstick" not in figures
    assert (tmp_path / "bn=0.5,poly=0.5-320.png").is_file()
