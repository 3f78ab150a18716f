"""The answer bank: every exercise's reference answer, known mistakes and hint, keyed by its id.

A notebook's exercise is three cells: the statement (markdown, with ``metadata["aigc"]["exercise"]`` =
``{"id": "13.target_ranks", "kind": "implement", "difficulty": 2}``), the student's answer (a code cell tagged
``solution``, stubbed in the student edition) and a one-line check::

    ac.check("13.target_ranks", my_target_ranks)

The reference answer lives here, in ``aigc_course/exercises/chNN.py``, never in a cell a student sees; so
does the hint (``ac.hint("13.target_ranks")``). The checks are the course's explaining checkers
(:mod:`aigc_course.exercises.checkers`): a known wrong answer gets its own explanation, and under
``AIGC_COURSE_STRICT_EXERCISES=1`` a failed check raises.

Kinds (``KINDS``): **implement** (write a core step, checked against the reference on random inputs and edge
cases), **experiment** (change one thing, run, report a measured figure the check accepts within a stated
band), **derive** (turn a formula into a number or a line of code) and **concept** (choose or name).
Difficulty runs from 1 to 3.

Each :class:`Exercise` also lists ``wrong``: known wrong answers with a fragment of the feedback each must get.
The test suite feeds every one of them to the check, so the explanations are known to fire.
"""

from __future__ import annotations

import copy
import importlib
import pkgutil
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..core import i18n

KINDS = ("implement", "experiment", "derive", "concept")
ID_PATTERN = re.compile(r"^(\d\d)\.[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Exercise:
    """One exercise of the bank.

    ``run(answer, **context)`` checks a student's ``answer`` (printing ✅ or ❌ with an explanation) and returns
    whether it is right; ``context`` carries what an experiment's check needs from the notebook (its data).
    ``wrong`` holds ``(wrong_answer, feedback_fragment)`` pairs, or a callable ``context -> pairs`` when the
    wrong answers depend on the run, for the tests and the closing notes; ``reference(**context)`` gives the
    reference answer (a value or a function)."""

    id: str
    kind: str
    difficulty: int
    title: str
    run: Callable[..., bool]
    reference: Callable[..., Any]
    hint: str = ""
    wrong: Sequence[tuple[Any, str]] | Callable[..., Sequence[tuple[Any, str]]] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not ID_PATTERN.match(self.id):
            raise ValueError(f"exercise id {self.id!r} must look like '13.target_ranks' (chapter, dot, snake_case)")
        if self.kind not in KINDS:
            raise ValueError(f"exercise {self.id}: kind {self.kind!r} is not one of {KINDS}")
        if self.difficulty not in (1, 2, 3):
            raise ValueError(f"exercise {self.id}: difficulty must be 1, 2 or 3, not {self.difficulty!r}")

    @property
    def chapter(self) -> str:
        return self.id[:2]

    def wrong_answers(self, **context: Any) -> list[tuple[Any, str]]:
        return list(self.wrong(**context) if callable(self.wrong) else self.wrong)


def _module_copy(module: torch.nn.Module) -> torch.nn.Module:
    """A deep copy of ``module`` that keeps the gradients its parameters hold (``deepcopy`` drops them)."""
    out = copy.deepcopy(module)
    for p, q in zip(module.parameters(), out.parameters()):
        q.grad = None if p.grad is None else p.grad.clone()
    return out


def _copy_argument(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, torch.nn.Module):
        return _module_copy(value)
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (list, dict, set, tuple)) or type(value).__module__.startswith("pandas"):
        return copy.deepcopy(value)
    return value


def copying(fn: Any) -> Any:
    """``fn`` called on copies of its arguments (tensors, arrays, modules with their gradients, lists, dicts, data
    frames), so that an in-place change in a student's function (a ``+=`` on an input, gradients left in a model)
    cannot alter the next case of a check or the reference's view of it. A value
    that is not callable (the hand-out's ``None``) is returned as it is, for the "not attempted" message."""
    if not callable(fn):
        return fn

    def wrapped(*args: Any) -> Any:
        return fn(*[_copy_argument(a) for a in args])
    return wrapped


def nan_as_inf(fn: Any) -> Any:
    """``fn`` with a NaN result reported as +inf, so that a NaN answer can be matched with a known mistake (NaN
    never compares equal to NaN)."""
    if not callable(fn):
        return fn

    def wrapped(*args: Any) -> Any:
        out = fn(*args)
        try:
            arr = np.asarray(out.detach().cpu() if isinstance(out, torch.Tensor) else out, dtype=float)
        except (TypeError, ValueError):
            return out
        return np.where(np.isnan(arr), np.inf, arr)
    return wrapped


class UnknownExercise(KeyError):
    """An id that is not in the bank."""


def _chapter_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if re.fullmatch(r"ch\d\d", m.name))


def chapter_exercises(chapter: str) -> dict[str, Exercise]:
    """The exercises of chapter ``"13"`` by id, in the order their module lists them (empty when none)."""
    name = f"ch{chapter}"
    if name not in _chapter_modules():
        return {}
    module = importlib.import_module(f"{__name__}.{name}")
    found = {ex.id: ex for ex in module.EXERCISES}
    if len(found) != len(module.EXERCISES):
        raise ValueError(f"{module.__name__} lists an exercise id twice")
    wrong_chapter = [i for i in found if i[:2] != chapter]
    if wrong_chapter:
        raise ValueError(f"{module.__name__} holds exercises of another chapter: {wrong_chapter}")
    return found


def all_exercises() -> dict[str, Exercise]:
    """Every exercise of the bank by id."""
    out: dict[str, Exercise] = {}
    for name in _chapter_modules():
        out.update(chapter_exercises(name[2:]))
    return out


def get(exercise_id: str) -> Exercise:
    """The exercise ``exercise_id``; an unknown id raises :class:`UnknownExercise` naming the chapter's ids."""
    chapter = exercise_id[:2]
    known = chapter_exercises(chapter) if chapter.isdigit() else {}
    if exercise_id not in known:
        listed = ", ".join(known) or "none"
        raise UnknownExercise(f"no exercise {exercise_id!r} in the bank (chapter {chapter} has: {listed}); "
                              "check the id in the check cell")
    return known[exercise_id]


def check(exercise_id: str, answer: Any, **context: Any) -> bool:
    """Check ``answer`` for exercise ``exercise_id``: prints ✅ or ❌ with an explanation; returns whether it
    is right (under ``AIGC_COURSE_STRICT_EXERCISES=1`` a wrong answer raises ``ExerciseFailed``)."""
    return get(exercise_id).run(answer, **context)


def hint(exercise_id: str) -> None:
    """Print the hint of ``exercise_id`` (students ask for it; it is not shown otherwise)."""
    ex = get(exercise_id)
    print(i18n.translate(f"hint for {exercise_id} ({ex.title}): "
                         f"{ex.hint or 'no hint for this one — reread the statement.'}"))


def notebook_exercises(cells: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The exercise metadata (``{"id", "kind", "difficulty"}``) of a notebook's cells, in order."""
    found = []
    for cell in cells:
        meta = cell.get("metadata", {}).get("aigc", {}).get("exercise")
        if meta:
            found.append(dict(meta))
    return found


def count_by_kind(cells: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """How many exercises of each kind a notebook's cells hold: the bank exercises by their metadata kind, and
    the first edition's checks (``ac.exercises.checkers.check_*``, no kind yet) as ``"unclassified"``."""
    counts = dict.fromkeys((*KINDS, "unclassified"), 0)
    for meta in notebook_exercises(cells):
        counts[meta.get("kind", "unclassified") if meta.get("kind") in KINDS else "unclassified"] += 1
    for cell in cells:
        text = cell.get("source", "")
        text = "".join(text) if isinstance(text, list) else text
        if cell.get("cell_type") == "code" and "ac.exercises.checkers.check_" in text:
            counts["unclassified"] += 1
    return counts


def exercise_table(notebooks: Sequence[Any]) -> str:
    """A markdown table of the exercise counts by kind, one row per notebook (``Path`` objects), with totals."""
    import json
    from pathlib import Path

    head = ("notebook", *KINDS, "unclassified", "total")
    rows, total = [], dict.fromkeys((*KINDS, "unclassified"), 0)
    for path in notebooks:
        counts = count_by_kind(json.loads(Path(path).read_text(encoding="utf-8"))["cells"])
        total = {k: total[k] + v for k, v in counts.items()}
        rows.append((Path(path).stem, *counts.values(), sum(counts.values())))
    rows.append(("**all**", *total.values(), sum(total.values())))
    lines = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
    lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


__all__ = ["KINDS", "Exercise", "UnknownExercise", "all_exercises", "chapter_exercises", "check", "copying",
           "count_by_kind", "exercise_table", "get", "hint", "nan_as_inf", "notebook_exercises"]
