"""Every notebook follows the course conventions (aigc_course.conventions)."""

from __future__ import annotations

import json

import pytest

from aigc_course.conventions import check_notebook, code, md, opening_cells, write_notebook
from aigc_course.paths import notebooks_dir

NOTEBOOKS = sorted(notebooks_dir().glob("*.ipynb"))


def test_there_are_notebooks():
    assert any(p.stem == "00_welcome" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_follows_the_conventions(path):
    assert check_notebook(path) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_three_checked_exercises(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    checks = sum("ac.exercises.check_" in "".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert checks >= 3


def _good(tmp_path):
    stem = "42_example"
    cells = opening_cells(stem, "Example", "intro", ["one"], "none", {"fast": 1})
    cells += [md("## Summary"), md("## Exercises"), code("ac.record({'x': 1})")]
    return write_notebook(tmp_path / f"{stem}.ipynb", cells)


def test_checker_accepts_a_conforming_notebook(tmp_path):
    assert check_notebook(_good(tmp_path)) == []


@pytest.mark.parametrize(
    ("breakage", "problem"),
    [
        (lambda nb: nb["cells"][3].update(outputs=[{"output_type": "stream", "name": "stdout", "text": "x"}]),
         "outputs"),
        (lambda nb: nb["cells"][0].update(source=["# 42 — Example\n"]), "badge"),
        (lambda nb: nb["cells"].pop(1), "Colab install"),
        (lambda nb: nb["cells"][2]["metadata"].pop("tags"), "parameters"),
        (lambda nb: nb["cells"].pop(-1), "record"),
        (lambda nb: nb["cells"][-3].update(source=["## Wrap-up"]), "summary"),
        (lambda nb: nb["metadata"]["kernelspec"].update(name="python2"), "kernelspec"),
        (lambda nb: nb["cells"][4]["metadata"].pop("slideshow"), "slideshow"),
        (lambda nb: nb["cells"][0].update(source=[s.replace("Learning objectives", "Goals")
                                                  for s in nb["cells"][0]["source"]]), "learning objectives"),
    ],
)
def test_checker_names_each_breakage(tmp_path, breakage, problem):
    path = _good(tmp_path)
    nb = json.loads(path.read_text())
    breakage(nb)
    path.write_text(json.dumps(nb))
    problems = check_notebook(path)
    assert any(problem in p for p in problems), problems
