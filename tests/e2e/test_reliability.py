"""The README's Reliability table, checked: every bad input of `scripts.reliability` is sent
to a running app, and the table must show what came back.

Weights: what the app finds with no flags (the paper's VGG-19 from its package, as in the
README's table), and an app whose `--network` file does not exist. Nothing here writes the README: when the answers change,
`.venv/bin/python -m scripts.reliability` rewrites its table.
"""

from __future__ import annotations

import difflib
import importlib
from pathlib import Path

import pytest

from scripts import reliability
from scripts.reliability import CAP_VARIABLES, CASES, NO_WEIGHTS, README, REGENERATE, App, Observed

SENT = [case for case in CASES if case.send]


@pytest.fixture(scope="module")
def sent(tmp_path_factory) -> tuple[dict[str, App], dict[str, Observed]]:
    """The two apps (one with the default network, one without weights) and every sent case's answer."""
    tmp = tmp_path_factory.mktemp("reliability")
    with pytest.MonkeyPatch.context() as mp:
        for name in CAP_VARIABLES:  # the table shows the default caps
            mp.delenv(name, raising=False)
        with reliability.running_apps(tmp, ()) as apps:
            return apps, reliability.observe_all(apps, tmp)


@pytest.fixture(scope="module")
def apps(sent) -> dict[str, App]:
    return sent[0]


@pytest.fixture(scope="module")
def observed(sent) -> dict[str, Observed]:
    return sent[1]


# Gradio checks a request's shape (a file must be a file object) before any of the app's
# code runs, and logs a traceback for it that the app cannot prevent.
LOGGED_BY_GRADIO = {"not-a-file"}


@pytest.mark.parametrize("case", SENT, ids=[case.key for case in SENT])
def test_each_input_gets_its_answer(observed, case):
    assert case.expect in observed[case.key].message
    if case.key not in LOGGED_BY_GRADIO:
        assert not observed[case.key].traceback, "an expected condition left a traceback in the app's log"


def test_without_weights_the_app_answers_with_how_to_provide_them(observed, apps, figures):
    answer = observed["no-weights"]
    assert "To fix it, do one of these" in answer.message and not answer.traceback
    figures.add("without weights and without network", f"app answering {apps[NO_WEIGHTS].seconds_to_listen:.1f} s "
                f"after its start; /stylize's error in {answer.seconds:.2f} s")


def test_the_readme_table_shows_these_answers(observed):
    written = reliability.readme_table(README.read_text())
    rendered = reliability.render_table(observed)
    diff = "\n".join(difflib.unified_diff(written.splitlines(), rendered.splitlines(), "README.md", "answers",
                                          lineterm=""))
    assert written == rendered, f"the README's Reliability table is out of date: run {REGENERATE}\n{diff}"


def test_every_checked_by_names_a_test_that_exists():
    root = Path(reliability.ROOT)
    for case in CASES:
        path, _, function = case.checked_by.partition("::")
        assert (root / path).is_file(), f"{case.key}: no file {path}"
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))  # tests is a package
        assert not function or callable(getattr(module, function, None)), f"{case.key}: no {case.checked_by}"


def test_the_cases_have_unique_keys_and_known_areas():
    assert len({case.key for case in CASES}) == len(CASES)
    assert {case.area for case in CASES} == set(reliability.AREAS)
