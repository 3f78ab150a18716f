"""Every notebook follows the course conventions (aigc_course.delivery.conventions)."""

from __future__ import annotations

import json

import pytest

from aigc_course.core.config import CHAPTERS
from aigc_course.core.paths import notebooks_dir
from aigc_course.delivery.conventions import check_notebook, code, md, opening_cells, write_notebook

NOTEBOOKS = sorted(notebooks_dir().glob("*.ipynb"))


def test_there_are_notebooks():
    assert any(p.stem == "00_welcome" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_follows_the_conventions(path):
    assert check_notebook(path) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_three_checked_exercises(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    checks = sum(("ac.exercises.checkers.check_" in "".join(c["source"]) or "ac.check(" in "".join(c["source"]))
                 for c in cells if c["cell_type"] == "code")
    assert checks >= 3


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_title_cell_states_the_time_of_the_profile_table(path):
    """The "Time" line a student reads is the chapter's row of the profile table, not a stale copy."""
    title = "".join(json.loads(path.read_text(encoding="utf-8"))["cells"][0]["source"])
    times = " · ".join(f"`{p}` ≈ {m:g} min" for p, m in CHAPTERS[path.stem].minutes.items())
    assert times in title, f"{path.stem}: the title cell should say {times!r} (aigc_course/core/config.py)"


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


# --------------------------------------------------------------------------------------------
# Every exercise explains its common wrong answers. The delivery requirement: "every exercise has an
# auto-check with a helpful message for the three commonest wrong answers". Read statically from the
# check cells: each check_value / check_function call lists at least three (wrong answer, explanation)
# pairs; a check_true exercise builds its message from such a list (at least three). A check_choice
# explains at least three wrong answers (misspellings and synonyms of an option count) unless the
# question has fewer: when its statement lists the options (`"a"`, `"b"`, ...) every listed wrong option
# must be explained, and min(3, number of wrong options) entries suffice; a bool has one wrong answer.
# That each explanation can fire (a wrong function differs from the reference on the cases) needs the
# notebook's data: the smoke runs execute the solutions under AIGC_COURSE_STRICT_EXERCISES=1.
# --------------------------------------------------------------------------------------------
import ast  # noqa: E402
import re  # noqa: E402

MIN_MISTAKES = 3
CHECKERS = ("check_value", "check_function", "check_choice", "check_true")
LISTED_OPTION = re.compile(r'`"([^"`]+)"`')  # an option in the exercise statement, written `"ddim"`


def _explanation(node: ast.expr) -> bool:
    """A non-empty string literal (f-strings allowed)."""
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str)
                                                and node.value.strip() != "")


def _mistake_keys(node: ast.expr | None, assigned: dict[str, ast.expr]) -> set[str] | None:
    """The distinct wrong answers of a ``mistakes`` literal, as source text (a dict's string keys normalised
    like check_choice does), following a name bound in the same cell; None when it is not a literal list of
    (wrong, explanation) pairs or a dict of explanations."""
    if isinstance(node, ast.Name):
        node = assigned.get(node.id)
    if isinstance(node, (ast.List, ast.Tuple)):
        pairs = node.elts
        if not all(isinstance(p, ast.Tuple) and len(p.elts) == 2 and _explanation(p.elts[1]) for p in pairs):
            return None
        return {ast.unparse(p.elts[0]) for p in pairs}
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys) or not all(_explanation(v) for v in node.values):
            return None
        return {k.value.strip().lower() if isinstance(k, ast.Constant) and isinstance(k.value, str)
                else ast.unparse(k) for k in node.keys}
    return None


def _choice_rule(call: ast.Call, keys: set[str], statement: str) -> tuple[int, list[str]]:
    """(entries required, problems) for a check_choice call under the exercise ``statement``."""
    expected = call.args[2] if len(call.args) > 2 else next((k.value for k in call.keywords if k.arg == "expected"),
                                                            None)
    if isinstance(expected, ast.Constant) and isinstance(expected.value, bool):
        return 1, []
    options = {o.strip().lower() for o in LISTED_OPTION.findall(statement)}
    if not options:
        return MIN_MISTAKES, []
    if isinstance(expected, ast.Constant) and isinstance(expected.value, str):
        answer = expected.value.strip().lower()
        if answer not in options:
            return MIN_MISTAKES, [f"the answer {answer!r} is not among the listed options {sorted(options)}"]
        missing = sorted(options - {answer} - keys)
    else:  # the answer is computed: all listed options but one need an explanation
        missing = sorted(options - keys) if len(options - keys) > 1 else []
    problems = [f"listed option(s) {missing} have no explanation"] if missing else []
    return min(MIN_MISTAKES, len(options) - 1), problems


def exercise_check_problems(cells: list[dict]) -> list[str]:
    """Every check call in ``cells`` that explains too few wrong answers (empty list = all fine)."""
    problems = []
    statement = ""  # the latest markdown cell: the statement of the exercise being checked
    for i, cell in enumerate(cells):
        src = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            statement = src
            continue
        if cell["cell_type"] != "code" or "ac.exercises.checkers.check_" not in src:
            continue
        tree = ast.parse(src)
        assigned = {t.id: n.value for n in ast.walk(tree) if isinstance(n, ast.Assign)
                    for t in n.targets if isinstance(t, ast.Name)}
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                 and n.func.attr in CHECKERS]
        if not calls:
            problems.append(f"cell {i}: mentions ac.exercises.checkers.check_ but calls none of {CHECKERS}")
        for call in calls:
            kind = call.func.attr
            where = f"cell {i} {kind}({ast.unparse(call.args[0]) if call.args else ''})"
            kw = {k.arg: k.value for k in call.keywords}
            if kind == "check_true":  # the failure message is looked up in a list of (wrong function, explanation)
                names = {n.id for n in ast.walk(kw.get("failure", ast.Constant(""))) if isinstance(n, ast.Name)}
                lists = [k for name in sorted(names) if name in assigned
                         and (k := _mistake_keys(assigned[name], {})) is not None]
                keys = max(lists, key=len, default=None)
                if keys is None:
                    problems.append(f"{where}: its failure message does not come from a list of "
                                    "(wrong function, explanation) pairs bound in the cell")
                    continue
            else:
                keys = _mistake_keys(kw.get("mistakes", ast.List(elts=[])), assigned)
                if keys is None:
                    problems.append(f"{where}: `mistakes` is not a literal list of (wrong, explanation) pairs "
                                    "or dict of explanations, so its entries cannot be counted")
                    continue
            required = MIN_MISTAKES
            if kind == "check_choice":
                required, choice_problems = _choice_rule(call, keys, statement)
                problems += [f"{where}: {p}" for p in choice_problems]
            if len(keys) < required:
                problems.append(f"{where}: explains {len(keys)} wrong answer(s), needs at least {required}")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_explains_its_common_mistakes(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    assert exercise_check_problems(cells) == []


def _cells(statement: str, check: str) -> list[dict]:
    return [md(statement), code("answer = 1"), code(check)]


_THREE = '[(0, "a"), (2, "b"), (3, "c")]'


@pytest.mark.parametrize(
    ("statement", "check", "problem"),
    [
        ("**Ex**", 'ac.exercises.checkers.check_value("e", answer, 1, mistakes=[(0, "a"), (2, "b")])', "explains 2"),
        ("**Ex**", 'ac.exercises.checkers.check_value("e", answer, 1)', "explains 0"),
        ("**Ex**", 'ac.exercises.checkers.check_function("e", f, g, [(1,)], mistakes=[(h, "a"), (h, "b"), (k, "c")])',
         "explains 2"),  # the same wrong function twice counts once
        ("**Ex**", f'ac.exercises.checkers.check_value("e", answer, 1, mistakes=[*{_THREE}])', "cannot be counted"),
        ("**Ex**", 'ac.exercises.checkers.check_value("e", answer, 1, mistakes=[(0, "a"), (2, "b"), (3, "")])',
         "cannot be counted"),  # an empty explanation does not count
        ('Which: `"x"`, `"y"` or `"z"`?',
         'ac.exercises.checkers.'
         'check_choice("e", answer, "x", mistakes={"y": "no", "Y ": "no"})', "['z'] have no explanation"),
        ('Which: `"x"`, `"y"` or `"z"`?', 'ac.exercises.checkers.'
                                          'check_choice("e", answer, "w", mistakes={"y": "1", "z": "2"})',
         "not among the listed options"),
        ("Which word?", 'ac.exercises.checkers.'
                        'check_choice("e", answer, "x", mistakes={"y": "1", "z": "2"})', "explains 2"),
        ("**Ex**", 'ms = [(f, "a"), (g, "b")]\n'
                   'ac.exercises.checkers.check_true("e", ok, failure=next(m for f, m in ms))',
         "explains 2"),
        ("**Ex**", 'ac.exercises.checkers.check_true("e", ok, failure="look again")', "does not come from a list"),
    ],
)
def test_mistake_rule_flags_each_shortfall(statement, check, problem):
    problems = exercise_check_problems(_cells(statement, check))
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(
    ("statement", "check"),
    [
        ("**Ex**", f'ac.exercises.checkers.check_value("e", answer, 1, mistakes={_THREE})'),
        ("**Ex**", f'ms = {_THREE}\nac.exercises.checkers.check_function("e", f, g, [(1,)], mistakes=ms)'),
        ('Which: `"x"` or `"y"`?', 'ac.exercises.checkers.check_choice("e", answer, "x", mistakes={"y": "no"})'),
        ('Which: `"x"`, `"y"` or `"z"`?', 'ac.exercises.checkers.'
                                          'check_choice("e", answer, "x", mistakes={"y": "1", "z": "2"})'),
        ("Which word?", 'ac.exercises.checkers.'
                        'check_choice("e", answer, "x", mistakes={"y": "1", "z": "2", "Zz": "2"})'),
        ("True?", 'ac.exercises.checkers.check_choice("e", answer, True, mistakes={False: "no"})'),
        ("**Ex**", f'ms = {_THREE}\nac.exercises.checkers.check_true("e", ok, failure=next(m for f, m in ms))'),
    ],
)
def test_mistake_rule_accepts_enough_explanations(statement, check):
    assert exercise_check_problems(_cells(statement, check)) == []


def _executed_notebook() -> dict:
    return {
        "cells": [
            {"cell_type": "code", "execution_count": 3, "id": "abc", "source": ["x = 1\n", "x"],
             "metadata": {"tags": ["parameters"], "slideshow": {"slide_type": "slide"}, "scrolled": True,
                          "execution": {"iopub.status.busy": "2026-12-04"}, "papermill": {"duration": 1.0},
                          "ExecuteTime": {"end_time": "x"}},
             "outputs": [{"output_type": "execute_result", "execution_count": 3, "data": {"text/plain": ["1"]},
                          "metadata": {}}]},
            {"cell_type": "markdown", "id": "def", "source": ["# Title"], "metadata": {"collapsed": False}},
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                     "papermill": {"parameters": {}}, "widgets": {"application/vnd.jupyter.widget-state+json": {}}},
        "nbformat": 4, "nbformat_minor": 5,
    }


def test_strip_removes_outputs_and_execution_metadata_and_keeps_the_rest():
    from aigc_course.delivery.conventions import strip_notebook

    nb = _executed_notebook()
    assert strip_notebook(nb) is True
    code, md = nb["cells"]
    assert code["outputs"] == [] and code["execution_count"] is None
    assert code["metadata"] == {"tags": ["parameters"], "slideshow": {"slide_type": "slide"}}
    assert code["id"] == "abc" and md["id"] == "def" and md["metadata"] == {}
    assert set(nb["metadata"]) == {"kernelspec"}
    assert strip_notebook(nb) is False  # already stripped: nothing to do


def test_strip_file_rewrites_only_what_needs_it(tmp_path):
    from aigc_course.delivery.conventions import dumps, strip_file

    path = tmp_path / "nb.ipynb"
    path.write_text(dumps(_executed_notebook()), encoding="utf-8")
    before = path.read_bytes()
    assert strip_file(path, check=True) is True and path.read_bytes() == before  # --check writes nothing
    assert strip_file(path) is True
    stripped = path.read_bytes()
    assert strip_file(path) is False and path.read_bytes() == stripped
    assert json.loads(stripped)["cells"][0]["outputs"] == []
