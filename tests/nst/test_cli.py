"""The command line, in-process through main() and once as a subprocess."""

import importlib
import json
import os
import runpy
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

import nst
from nst import STYLE_LAYERS, RunRecord, Settings
from nst.config import CPU_PRESET
from nst import precision
from nst.__main__ import build_parser, main, settings_from_args
from nst.methods import METHODS, isolated_registry
from nst.weights import load_extractor


def test_defaults_come_from_the_library():
    args = build_parser().parse_args(["c.jpg", "s.jpg", "--device", "cuda"])
    assert settings_from_args(args) == Settings()


def test_a_cpu_starts_from_the_cpu_preset_with_scales_that_fit():
    parse = build_parser().parse_args
    assert settings_from_args(parse(["c.jpg", "s.jpg", "--device", "cpu"])) == Settings(**CPU_PRESET)
    given = settings_from_args(parse(["c.jpg", "s.jpg", "--device", "cpu", "--size", "200", "--steps", "2"]))
    assert given.scale_plan() == ((100, 1), (200, 1))  # 50 px would be below the coarsest a CPU run uses
    assert settings_from_args(parse(["c.jpg", "s.jpg", "--device", "cpu", "--size", "100"])).scale_plan() == (
        (100, 75),)
    assert settings_from_args(parse(["c.jpg", "s.jpg", "--device", "cpu", "--scales", "1"])).scales == 1


def test_flags_map_to_settings():
    args = build_parser().parse_args(["c.jpg", "s.jpg", "--fusion", "bn=0.5,poly=0.5", "--layers", "3",
                                      "--layer-weights", "1,0.5,0", "--gamma", "2", "--content-weight", "0",
                                      "--init", "noise", "--pooling", "max"])
    settings = settings_from_args(args)
    assert settings.fusion == (("bn", 0.5), ("poly", 0.5))
    assert settings.style_layers == STYLE_LAYERS[:3] and settings.layer_weights == (1.0, 0.5, 0.0)
    assert settings.pooling == "max"
    assert (settings.gamma, settings.content_weight, settings.init) == (2.0, 0.0, "noise")


def test_cli_writes_an_image_and_a_record(tmp_path, content_path, style_path, capsys):
    out = tmp_path / "out.png"
    code = main([str(content_path), str(style_path), "-o", str(out), "--method", "bn", "--size", "40",
                 "--steps", "2", "--quiet", "--device", "cpu"])
    assert code == 0
    assert Image.open(out).size == (40, 27)
    record = RunRecord.from_json(out.with_suffix(".json").read_text())
    default = load_extractor("auto", device="cpu")  # no --network: the paper's VGG-19 where it is installed
    assert record.settings.method == "bn" and record.network_source == default.source
    assert set(record.final_losses) == {"content", "bn", "tv", "total"}
    assert record.network == default.label and record.optimizer == "lbfgs"
    assert record.settings.gamma is None and record.gamma == METHODS["bn"].default_gamma  # γ left unset
    assert (record.content, record.paintings, record.regions) == (str(content_path), (str(style_path),), None)
    assert (record.output, record.steps_done, record.scales, record.device) == (str(out), 2, ((40, 2),), "cpu")
    assert record.version == nst.__version__ and record.seconds > 0
    assert RunRecord.from_json(capsys.readouterr().out) == record  # the stdout line is the same record


def test_the_progress_bar_names_the_scale_it_is_on(tmp_path, content_path, style_path, capsys):
    """The loss is measured at each scale's size and jumps when it changes: the bar says why."""
    assert main([str(content_path), str(style_path), "-o", str(tmp_path / "out.png"), "--size", "64", "--steps", "4",
                 "--scales", "2", "--device", "cpu", "--layers", "1"]) == 0
    bar = capsys.readouterr().err
    assert "scale 1/2, 32 px" in bar and "scale 2/2, 64 px" in bar
    assert bar.index("scale 1/2, 32 px") < bar.index("scale 2/2, 64 px")


def test_a_print_goes_in_tiles_that_the_bar_names_and_the_record_lists(tmp_path, content_path, style_path, capsys):
    out = tmp_path / "out.png"
    # Tiles with 64 px halos; one layer and no content term keep the steps short.
    assert main([str(content_path), str(style_path), "-o", str(out), "--size", "256", "--steps", "1", "--scales", "1",
                 "--device", "cpu", "--layers", "1", "--content-weight", "0", "--style-scale", "0.5",
                 "--memory-budget-gb", "0.095"]) == 0
    captured = capsys.readouterr()
    assert "tile 1/" in captured.err
    record = RunRecord.from_json(out.with_suffix(".json").read_text())
    assert (record.settings.style_scale, record.settings.memory_budget_gb) == (0.5, 0.095)
    assert record.tiles == ((80, 64, 20),)  # 256 × 170 px in cores of 80 px, cut at an offset: up to 5 × 4


def test_ctrl_c_inside_a_tiled_step_keeps_the_last_whole_image(tmp_path, content_path, style_path, capsys,
                                                                 monkeypatch):
    loop = importlib.import_module("nst.stylize")  # the module: the package's `nst.stylize` is the function
    real, seen = loop.iter_stylize, []

    def interrupted(*args, **kwargs):
        for step in real(*args, **kwargs):
            seen.append(step)
            if (step.step, step.tile) == (2, 2):
                raise KeyboardInterrupt  # what Ctrl-C raises wherever the loop is
            yield step

    monkeypatch.setattr(loop, "iter_stylize", interrupted)
    out = tmp_path / "out.png"
    assert main([str(content_path), str(style_path), "-o", str(out), "--size", "256", "--steps", "3", "--scales", "1",
                 "--device", "cpu", "--layers", "1", "--content-weight", "0", "--memory-budget-gb", "0.095"]) == 130
    assert f"interrupted after step 1 of 3: its image is in {out}" in capsys.readouterr().err
    record = RunRecord.from_json(out.with_suffix(".json").read_text())
    step_one = next(s for s in seen if s.step == 1 and s.complete)
    assert record.steps_done == 1 and seen[-1].tile == 2
    written = np.asarray(Image.open(out).convert("RGB"), dtype=np.int16)
    assert np.abs(written - np.asarray(step_one.pil(), dtype=np.int16)).max() == 0  # step 1's image, not a mix


def test_a_memory_budget_too_small_is_told_before_any_weights_lookup(tmp_path, content_path, style_path, capsys,
                                                                     monkeypatch):
    import nst.__main__ as cli

    monkeypatch.setattr(cli, "load_extractor", lambda *a, **k: pytest.fail("looked for weights first"))
    assert main([str(content_path), str(style_path), "-o", str(tmp_path / "o.png"), "--size", "4096", "--steps", "4",
                 "--device", "cpu", "--memory-budget-gb", "0.95", "--style-scale", "0.05"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: a memory budget of 0.95 GB is too small for a 4096 px scale") and "\n" not in err


@pytest.mark.parametrize("argv_tail, message", [
    (["--size", "5"], "size must be between 16 and 4096, got 5"),
    (["--fusion", "bn=0.5,gram=0.5"], f"unknown method 'gram'; choose one of {', '.join(METHODS)}"),
    (["--layers", "2", "--layer-weights", "1,1,1"], "layer_weights has 3 entries; expected one per style layer (2)"),
])
def test_bad_parameters_give_one_line_errors(tmp_path, content_path, style_path, capsys, argv_tail, message):
    assert main([str(content_path), str(style_path), "-o", str(tmp_path / "o.png"), *argv_tail]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {message}"


def test_a_corrupt_image_gives_a_one_line_error_before_any_weights_lookup(tmp_path, style_path, capsys,
                                                                            monkeypatch):
    import nst.__main__ as cli

    monkeypatch.setattr(cli, "load_extractor", lambda *a, **k: pytest.fail("looked for weights first"))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    assert main([str(bad), str(style_path), "-o", str(tmp_path / "o.png"), "--size", "32", "--steps", "1"]) == 2
    expected = "error: content image: not a readable image file; use a PNG, JPEG or WebP image"
    assert capsys.readouterr().err.strip() == expected
    assert not (tmp_path / "o.png").exists()


def test_the_program_names_an_unreadable_image_without_loading_anything_else(tmp_path, style_path, figures):
    bad = tmp_path / "holiday.jpg"
    bad.write_bytes(b"GIF89a but not really an image")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "nst", str(bad), str(style_path), "-o", str(tmp_path / "o.png"),
                           "--network", str(tmp_path / "nowhere.safetensors")],
                          env=os.environ.copy(), capture_output=True, text=True, timeout=300)
    seconds = time.monotonic() - start
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: content image: not a readable image file; use a PNG, JPEG or WebP image"
    figures.add("without weights and without network", f"the CLI's answer to an unreadable image in {seconds:.1f} s "
                "(whole process, imports included)")


def test_module_runs_as_a_program(tmp_path, content_path, style_path):
    out = tmp_path / "cli.png"
    proc = subprocess.run([sys.executable, "-m", "nst", str(content_path), str(style_path), "-o", str(out),
                           "--size", "32", "--steps", "2", "--method", "linear", "--quiet"],
                          env=os.environ.copy(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert Image.open(out).size == (32, 21)


def test_several_paintings_blend_and_a_weight_count_that_does_not_fit_is_told_at_once(tmp_path, content_path,
                                                                                      style_path, capsys):
    other = str(style_path.parent / "the_scream.jpg")
    out = tmp_path / "blend.png"
    code = main([str(content_path), str(style_path), "--style", other, "--painting-weights", "0.7,0.3", "--blend", "sum",
                 "-o", str(out), "--size", "32", "--steps", "2", "--quiet", "--device", "cpu"])
    assert code == 0 and Image.open(out).size == (32, 21)
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["paintings"] == [str(style_path), other]
    assert record["settings"]["painting_weights"] == [0.7, 0.3] and record["settings"]["style_blend"] == "sum"
    capsys.readouterr()
    assert main([str(content_path), str(style_path), "--painting-weights", "1,2", "-o", str(out)]) == 2
    assert capsys.readouterr().err.strip() == "error: painting_weights has 2 entries; give one per painting (1)"


def test_a_mask_paints_each_painting_into_its_region(tmp_path, content_path, style_path):
    w, h = Image.open(content_path).size
    mask = np.zeros((h, w, 3), dtype=np.uint8)
    mask[:, : w // 2] = (255, 0, 0)
    mask[:, w // 2:] = (0, 255, 0)
    Image.fromarray(mask).save(tmp_path / "mask.png")
    out = tmp_path / "regions.png"
    other = str(style_path.parent / "the_scream.jpg")
    code = main([str(content_path), str(style_path), other, "--mask", str(tmp_path / "mask.png"), "-o", str(out),
                 "--size", "32", "--steps", "2", "--quiet", "--device", "cpu"])
    assert code == 0 and Image.open(out).size == (32, 21)
    assert json.loads(out.with_suffix(".json").read_text())["regions"] == \
        f"{tmp_path / 'mask.png'}: red → painting 1, green → painting 2"


@pytest.mark.parametrize("colour, size, message", [
    ((0, 0, 255), None, "error: the mask paints a region blue, for painting 3, but only 1 painting was given"),
    ((255, 0, 0), (30, 60), "error: the mask is 30x60 but the photo is 451x300 here: draw the mask on the photo, "
                            "at its shape"),
])
def test_a_mask_that_cannot_apply_is_told_before_any_weights_lookup(tmp_path, content_path, style_path, capsys,
                                                                    monkeypatch, colour, size, message):
    import nst.__main__ as cli

    monkeypatch.setattr(cli, "load_extractor", lambda *a, **k: pytest.fail("looked for weights first"))
    Image.new("RGB", size or Image.open(content_path).size, colour).save(tmp_path / "mask.png")
    assert main([str(content_path), str(style_path), "--mask", str(tmp_path / "mask.png"),
                 "-o", str(tmp_path / "o.png")]) == 2
    assert capsys.readouterr().err.strip() == message


def test_a_plugin_s_distance_runs_from_the_command_line(tmp_path, content_path, style_path, capsys, custom_distance):
    """--plugin examples/custom_distance.py --method energy: a real run whose energy term falls; the
    registration lasts for the run only."""
    with isolated_registry():  # the γ the file declares, read as Python sees it
        gamma = runpy.run_path(str(custom_distance))["nst"].methods.get_method("energy").default_gamma
    finals = []
    for steps in (1, 5):
        out = tmp_path / f"energy{steps}.png"
        assert main([str(content_path), str(style_path), "--plugin", str(custom_distance), "--method", "energy",
                     "-o", str(out), "--size", "40", "--steps", str(steps), "--quiet", "--device", "cpu"]) == 0
        assert Image.open(out).size == (40, 27)
        record = json.loads(out.with_suffix(".json").read_text())
        assert record["settings"]["method"] == "energy" and record["gamma"] == gamma
        finals.append(record["final_losses"]["energy"])
    assert finals[1] < 0.9 * finals[0]
    assert "energy" not in METHODS


def test_a_plugin_s_method_is_among_the_choices_and_in_a_fusion(tmp_path, content_path, style_path, capsys,
                                                                 custom_distance):
    with pytest.raises(SystemExit) as done:
        main(["--plugin", str(custom_distance), "--help"])
    assert done.value.code == 0
    assert "{linear,poly,gaussian,bn,swd,meancov,energy}" in capsys.readouterr().out
    out = tmp_path / "fused.png"
    assert main([str(content_path), str(style_path), "--plugin", str(custom_distance), "--fusion", "energy=0.5,poly=0.5",
                 "-o", str(out), "--size", "32", "--steps", "2", "--quiet", "--device", "cpu"]) == 0
    assert set(json.loads(out.with_suffix(".json").read_text())["final_losses"]) == {"content", "energy", "poly",
                                                                                   "tv", "total"}
    assert "energy" not in METHODS  # gone with the run: without --plugin the name is not a choice again
    with pytest.raises(SystemExit):
        build_parser().parse_args(["c.jpg", "s.jpg", "--method", "energy"])


@pytest.mark.parametrize("source, message", [
    (None, "error: plugin {path}: no such file"),
    ("1 / 0\n", "error: plugin {path} failed on import: ZeroDivisionError: division by zero"),
    ("import nst\nnst.register_method('poly', lambda x, y: x.sum(), gamma=1.0, doc='')\n",
     "error: plugin {path} failed on import: NSTError: method 'poly' is already registered; choose another name"),
])
def test_a_plugin_that_cannot_load_gives_one_line(tmp_path, content_path, style_path, capsys, source, message):
    path = tmp_path / "mine.py"
    if source is not None:
        path.write_text(source)
    assert main([str(content_path), str(style_path), "--plugin", str(path), "-o", str(tmp_path / "o.png")]) == 2
    assert capsys.readouterr().err.strip() == message.format(path=path)


def test_a_plain_loss_over_a_mixture_of_paintings_is_told_before_any_weights_lookup(tmp_path, content_path,
                                                                                    style_path, capsys, monkeypatch,
                                                                                    custom_distance):
    import nst.__main__ as cli

    monkeypatch.setattr(cli, "load_extractor", lambda *a, **k: pytest.fail("looked for weights first"))
    other = str(style_path.parent / "the_scream.jpg")
    assert main([str(content_path), str(style_path), other, "--plugin", str(custom_distance), "--method", "energy",
                 "-o", str(tmp_path / "o.png")]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: method 'energy' is a plain two-argument loss: it cannot target a mixture of paintings; "
        "use style_blend 'sum' (--blend sum) or one painting")


def test_a_recipe_reproduces_a_cpu_result_and_flags_given_change_it(tmp_path, content_path, style_path,
                                                                    other_style_path, capsys):
    """`--recipe a.png` with a's images gives a's pixels and bytes; a flag given with it wins
    over the recipe even at its default value (--method poly), and other images are told in
    one warning line."""
    here = ["--quiet", "--device", "cpu", "--network", "vgg19"]
    first = tmp_path / "a.png"
    assert main([str(content_path), str(style_path), "-o", str(first), "--size", "48", "--steps", "3",
                 "--method", "bn", "--layers", "2", "--seed", "5", *here]) == 0
    again = tmp_path / "again" / "b.png"
    capsys.readouterr()
    assert main(["--recipe", str(first), str(content_path), str(style_path), "-o", str(again), *here]) == 0
    assert capsys.readouterr().err == ""  # the same images and network: nothing to warn of
    assert np.array_equal(np.asarray(Image.open(first)), np.asarray(Image.open(again)))
    assert first.read_bytes() == again.read_bytes()
    assert RunRecord.from_json(again.with_suffix(".json").read_text()).output == str(again)
    changed = tmp_path / "c.png"
    assert main(["--recipe", str(first), str(content_path), str(other_style_path), "-o", str(changed),
                 "--steps", "2", "--method", "poly", *here]) == 0
    assert capsys.readouterr().err == ("warning: not the recipe's images (the SHA-256 of their pixels differs): "
                                       "painting 1; the result will differ\n")
    settings = nst.read_recipe(changed).run.settings
    assert (settings.steps, settings.method, settings.size, settings.seed, settings.style_layers, settings.scales) == \
        (2, "poly", 48, 5, STYLE_LAYERS[:2], 1)  # no CPU preset: the recipe's size and scales


def test_a_recipe_made_under_auto_precision_reruns_in_the_precision_it_used(tmp_path, content_path, style_path,
                                                                            monkeypatch):
    here = ["--quiet", "--device", "cpu", "--network", "vgg19"]
    made, again = tmp_path / "a.png", tmp_path / "b.png"
    assert main([str(content_path), str(style_path), "-o", str(made), "--size", "32", "--steps", "1", "--layers", "1",
                 *here]) == 0
    assert nst.read_recipe(made).run.precision == "fp32"  # "auto" on a CPU without bf16 units
    monkeypatch.setattr(precision, "cpu_info", lambda: ("a CPU with AMX", frozenset({"amx_bf16"})))  # another machine
    assert main(["--recipe", str(made), str(content_path), str(style_path), "-o", str(again), *here]) == 0
    assert nst.read_recipe(again).run.precision == "fp32"  # not this CPU's bf16: the recipe's pixels
    assert np.array_equal(np.asarray(Image.open(made)), np.asarray(Image.open(again)))
    assert main(["--recipe", str(made), str(content_path), str(style_path), "-o", str(again), "--precision", "bf16",
                 *here]) == 0
    assert nst.read_recipe(again).run.precision == "bf16"  # a precision given by name wins


def test_a_first_argument_batch_is_the_batch_command_and_other_names_are_photos(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["batch", "--help"])
    assert capsys.readouterr().out.startswith("usage: python -m nst batch")
    args = build_parser().parse_args(["photos/batch.jpg", "batch"])  # a painting called batch is a painting
    assert (args.content, args.style) == ("photos/batch.jpg", ["batch"])
