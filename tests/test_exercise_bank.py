"""The answer bank (aigc_course.exercises): every reference passes its own check, every known wrong answer
gets its own explanation, the notebooks' one-line checks and metadata agree with the bank, and the student
edition of a notebook holds neither a solution nor a reference."""

from __future__ import annotations

import ast
import contextlib
import importlib
import io
import json
from pathlib import Path

import pytest

import aigc_course as ac
from aigc_course import exercises as eb
from aigc_course.cli import main as cli_main
from aigc_course.delivery import student, tag_solutions
from aigc_course.exercises import checkers as exercises

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BANK = eb.all_exercises()
MIN_WRONG = 3


_CONTEXTS: dict[str, dict] = {}


def _chapter_context(chapter: str) -> dict:
    """A chapter module's ``test_context()`` (what its experiment checks need), built once per chapter."""
    if chapter not in _CONTEXTS:
        module = importlib.import_module(f"aigc_course.exercises.ch{chapter}")
        _CONTEXTS[chapter] = module.test_context() if hasattr(module, "test_context") else {}
    return _CONTEXTS[chapter]


@pytest.fixture(scope="module")
def context():
    return _chapter_context


def _feedback(exercise: eb.Exercise, answer, ctx: dict) -> tuple[bool, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ok = exercise.run(answer, **ctx)
    return ok, out.getvalue()


def _ctx(exercise: eb.Exercise, context) -> dict:
    return context(exercise.chapter) if exercise.kind == "experiment" else {}


def test_the_bank_has_exercises():
    assert "13.target_ranks" in BANK and BANK["13.target_ranks"].kind == "implement"


@pytest.mark.parametrize("exercise_id", sorted(BANK))
def test_the_reference_passes_its_own_check(exercise_id, context, monkeypatch):
    monkeypatch.setenv("AIGC_COURSE_STRICT_EXERCISES", "1")
    exercise = BANK[exercise_id]
    ctx = _ctx(exercise, context)
    ok, text = _feedback(exercise, exercise.reference(**ctx), ctx)
    assert ok and text.startswith("✅"), text


@pytest.mark.parametrize("exercise_id", sorted(BANK))
def test_every_known_wrong_answer_gets_its_own_explanation(exercise_id, context, monkeypatch):
    monkeypatch.delenv("AIGC_COURSE_STRICT_EXERCISES", raising=False)
    exercise = BANK[exercise_id]
    ctx = _ctx(exercise, context)
    wrong = exercise.wrong_answers(**ctx)
    assert len(wrong) >= MIN_WRONG, f"{exercise_id} lists {len(wrong)} wrong answers, needs {MIN_WRONG}"
    for answer, fragment in wrong:
        ok, text = _feedback(exercise, answer, ctx)
        assert not ok and text.startswith("❌") and fragment in text, (fragment, text)


@pytest.mark.parametrize("exercise_id", sorted(BANK))
def test_a_missing_answer_is_reported_as_not_attempted(exercise_id, context, monkeypatch):
    monkeypatch.delenv("AIGC_COURSE_STRICT_EXERCISES", raising=False)
    exercise = BANK[exercise_id]
    ok, text = _feedback(exercise, None, _ctx(exercise, context))
    assert not ok and "not attempted" in text


def test_strict_mode_raises_on_a_wrong_answer(monkeypatch):
    monkeypatch.setenv("AIGC_COURSE_STRICT_EXERCISES", "1")
    with pytest.raises(exercises.ExerciseFailed, match="13.bpr_weight"), contextlib.redirect_stdout(io.StringIO()):
        ac.check("13.bpr_weight", 0.5)


def test_an_unknown_id_names_the_chapters_exercises():
    with pytest.raises(eb.UnknownExercise, match="13.target_ranks"):
        ac.check("13.no_such_exercise", 1)


def test_hint_prints_the_hint_not_the_answer(capsys):
    ac.hint("13.target_ranks")
    text = capsys.readouterr().out
    assert "gather" in text and "def " not in text


@pytest.mark.parametrize(("field", "value", "message"), [("kind", "quiz", "kind"), ("difficulty", 4, "difficulty"),
                                                         ("id", "13-ndcg", "must look like")])
def test_a_malformed_exercise_is_refused(field, value, message):
    fields = {"id": "13.x", "kind": "derive", "difficulty": 1, "title": "t", "run": print, "reference": lambda: 0}
    with pytest.raises(ValueError, match=message):
        eb.Exercise(**{**fields, field: value})


def _bank_checks(cells: list[dict]) -> list[tuple[int, str]]:
    """(cell index, exercise id) of every ``ac.check("id", ...)`` call."""
    found = []
    for i, cell in enumerate(cells):
        src = "".join(cell["source"])
        if cell["cell_type"] != "code" or "ac.check(" not in src:
            continue
        for node in ast.walk(ast.parse(src)):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "check"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "ac"):
                assert node.args and isinstance(node.args[0], ast.Constant), f"cell {i}: the id must be a literal"
                found.append((i, node.args[0].value))
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_one_line_checks_match_the_bank_and_the_statement_metadata(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for i, exercise_id in _bank_checks(cells):
        assert len("".join(cells[i]["source"]).strip().splitlines()) == 1, f"cell {i}: a check is one line"
        exercise = eb.get(exercise_id)
        assert exercise.chapter == path.stem[:2], f"cell {i}: {exercise_id} belongs to another chapter"
        statement = next(c for c in reversed(cells[:i]) if c["cell_type"] == "markdown")
        meta = statement["metadata"].get("aigc", {}).get("exercise")
        assert meta == {"id": exercise_id, "kind": exercise.kind, "difficulty": exercise.difficulty}, (i, meta)
        assert f"({exercise.kind} · difficulty {exercise.difficulty})" in "".join(statement["source"])
    ids = [m["id"] for m in eb.notebook_exercises(cells)]
    assert sorted(ids) == sorted(x for _, x in _bank_checks(cells)), "every statement with metadata has a check"
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_student_edition_holds_no_solution_and_no_reference(path):
    """Every line of a bank exercise's solution cell is gone from the student edition, and so is the source of
    every reference function of the chapter's bank."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    checks = _bank_checks(nb["cells"])
    if not checks:
        pytest.skip("no answer-bank exercise in this chapter yet")
    handout = json.dumps(student.student_notebook(nb), ensure_ascii=False)
    solutions = tag_solutions.find_solution_cells(nb["cells"])
    assert solutions
    for index in solutions:
        for line in "".join(nb["cells"][index]["source"]).splitlines():
            body = line.split("#")[0].strip()
            if len(body) > 12 and not body.startswith(("def ", "import ", "from ")):
                assert json.dumps(body, ensure_ascii=False)[1:-1] not in handout, f"solution line left: {body!r}"
    import inspect

    for _, exercise_id in checks:
        exercise = eb.get(exercise_id)
        if exercise.kind == "experiment":
            continue
        reference = exercise.reference()
        if callable(reference):
            body = inspect.getsource(reference).strip().splitlines()[-1].strip()
            assert json.dumps(body, ensure_ascii=False)[1:-1] not in handout


def test_the_exercises_command_prints_counts_by_kind(capsys):
    assert cli_main(["exercises", "--only", "13"]) == 0
    out = capsys.readouterr().out
    assert "| implement | experiment | derive | concept | unclassified | total |" in out
    row = next(line for line in out.splitlines() if line.startswith("| 13_recommendation"))
    counts = dict(zip(("implement", "experiment", "derive", "concept", "unclassified", "total"),
                      (int(x) for x in row.strip("|").split("|")[1:])))
    assert counts == {"implement": 2, "experiment": 1, "derive": 2, "concept": 1, "unclassified": 0, "total": 6}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_chapter_teaches_by_doing(path):
    """Chapters 01 onwards: at least two implement exercises (each with a hint) and one experiment; every check
    goes through the bank (no first-edition check with its reference in the cell)."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    counts = eb.count_by_kind(cells)
    assert counts["unclassified"] == 0, ("a first-edition ac.exercises.checkers.check_* cell is left: "
                                         "move it into the bank")
    if path.stem[:2] != "00":
        assert counts["implement"] >= 2 and counts["experiment"] >= 1, counts
    for meta in eb.notebook_exercises(cells):
        if meta["kind"] == "implement":
            assert eb.get(meta["id"]).hint, f"{meta['id']} has no hint"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_check_cells_carry_no_answer(path):
    """A check cell passes the exercise id and the student's names (and, for an experiment, the notebook's objects
    its check recomputes from): no string or float literal that could be the answer."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for i, _ in _bank_checks(cells):
        call = ast.parse("".join(cells[i]["source"])).body[0].value
        for node in [*call.args[1:], *(k.value for k in call.keywords)]:
            keys = {id(n.slice) for n in ast.walk(node) if isinstance(n, ast.Subscript)}  # det["threshold"] is fine
            for leaf in ast.walk(node):
                assert not (isinstance(leaf, ast.Constant) and isinstance(leaf.value, (str, float))
                            and id(leaf) not in keys), f"cell {i}: literal {leaf.value!r} in a check cell"


def _exercise_literals(cells: list[dict]) -> list[object]:
    """The constants in the code cells of the notebook's exercise section (from "## Exercises" to the next
    level-2 heading). The chapter itself may well say "recall" or "validation": it teaches them."""
    import re

    heading = lambda c, pattern: c["cell_type"] == "markdown" and re.search(pattern, "".join(c["source"]), re.M)
    start = next(i for i, c in enumerate(cells) if heading(c, r"^## Exercises"))
    end = next((i for i, c in enumerate(cells) if i > start and heading(c, r"^## ")), len(cells))
    found = []
    for cell in cells[start:end]:
        if cell["cell_type"] == "code":
            tree = ast.parse("".join(cell["source"]))
            keys = {id(n.slice) for n in ast.walk(tree) if isinstance(n, ast.Subscript)}  # scores["recall"]
            found += [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and id(n) not in keys]
    return found


def _same(literal: object, reference: object) -> bool:
    if isinstance(reference, str):
        return isinstance(literal, str) and literal.strip().lower() == reference.strip().lower()
    if isinstance(reference, bool) or not isinstance(reference, (int, float)):
        return False
    if isinstance(literal, bool) or not isinstance(literal, (int, float)):
        return False
    if isinstance(reference, int) and abs(reference) < 1000:  # small integers are everywhere (sizes, seeds)
        return False
    return abs(literal - reference) <= 1e-9 * max(1.0, abs(reference))


@pytest.mark.parametrize("path", sorted((ROOT / "student").glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_the_committed_student_notebook_holds_no_reference_value(path):
    """Every reference answer that is a value (a word, a number) is absent from the code of the committed student
    notebook's exercises; references that are functions are checked by their source line above."""
    literals = _exercise_literals(json.loads(path.read_text(encoding="utf-8"))["cells"])
    for exercise_id, exercise in eb.chapter_exercises(path.stem[:2]).items():
        if exercise.kind == "experiment":
            continue
        reference = exercise.reference()
        if callable(reference):
            continue
        leaked = [x for x in literals if _same(x, reference)]
        assert not leaked, f"{exercise_id}: its reference {reference!r} appears in student/{path.name}"


def test_instructor_guide_has_the_exercise_table():
    """docs/instructors.md holds the table `aigc-course exercises` prints, up to date."""
    guide = (ROOT / "docs" / "instructors.md").read_text(encoding="utf-8")
    assert eb.exercise_table(NOTEBOOKS) in guide, "paste the output of `aigc-course exercises` into docs/instructors.md"
