"""Exercise checkers that tell a student what went wrong, not just that it did.

Each checker prints ``✅`` or ``❌`` with a helpful message and returns ``True`` / ``False``.
Known wrong answers (``mistakes``) get their own explanation. An exercise left as the student
hand-out has it (``answer = None``, a function that raises ``NotImplementedError``) is reported as
"not attempted yet" rather than as an error. Messages are shown in the course language
(:func:`aigc_course.core.i18n.translate`; the Chinese ones live in ``core/locale/zh/``). Under the course runner and in
CI (``AIGC_COURSE_STRICT_EXERCISES=1``) a failed check raises :class:`ExerciseFailed`, so a
broken solution cannot pass unnoticed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch

from ..core import i18n


class ExerciseFailed(AssertionError):
    """Raised by a failed check when ``AIGC_COURSE_STRICT_EXERCISES=1``."""


def _as_array(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=float)


def _close(a: Any, b: Any, atol: float, rtol: float) -> bool:
    try:
        a, b = _as_array(a), _as_array(b)
    except (TypeError, ValueError):
        return False
    return a.shape == b.shape and bool(np.allclose(a, b, atol=atol, rtol=rtol))


def _report(name: str, ok: bool, message: str) -> bool:
    message = i18n.translate(message)  # in the course language (core.i18n: the exercise bank's catalogue)
    print(f"{'✅' if ok else '❌'} {name}: {message}")
    if not ok and os.environ.get("AIGC_COURSE_STRICT_EXERCISES") == "1":
        raise ExerciseFailed(f"{name}: {message}")
    return ok


def _not_attempted(answer: Any, what: str) -> str | None:
    """The message for an answer that is still the hand-out's placeholder, else ``None``."""
    if answer is None:
        return f"not attempted yet — replace `None` with your {what}"
    if answer is Ellipsis:
        return f"no answer yet — replace the `...` with your {what}"
    return None


def check_value(
    name: str,
    answer: Any,
    expected: Any,
    *,
    atol: float = 1e-6,
    rtol: float = 1e-4,
    mistakes: Iterable[tuple[Any, str]] = (),
    hint: str = "",
) -> bool:
    """Compare ``answer`` with ``expected`` (numbers, arrays or tensors, elementwise tolerance).

    ``mistakes`` lists ``(wrong_value, explanation)`` pairs for the common wrong answers.
    """
    if (placeholder := _not_attempted(answer, "code")) is not None:
        return _report(name, False, placeholder)
    if _close(answer, expected, atol, rtol):
        return _report(name, True, "correct")
    for wrong, explanation in mistakes:
        if _close(answer, wrong, atol, rtol):
            return _report(name, False, explanation)
    a = _as_array(answer) if not isinstance(answer, str) else answer
    e = _as_array(expected)
    if isinstance(a, np.ndarray) and a.shape != e.shape:
        return _report(name, False, f"shape {a.shape} but expected {e.shape}. {hint}".strip())
    shown = np.array2string(np.asarray(a), precision=4, threshold=6)
    return _report(name, False, f"got {shown}, which is not right. {hint}".strip())


def check_function(
    name: str,
    fn: Callable[..., Any],
    reference: Callable[..., Any],
    cases: Sequence[tuple[Any, ...]],
    *,
    atol: float = 1e-6,
    rtol: float = 1e-4,
    mistakes: Iterable[tuple[Callable[..., Any], str]] = (),
    hint: str = "",
    compare: Callable[[Any, Any], bool] | None = None,
) -> bool:
    """Run ``fn`` and ``reference`` on every argument tuple in ``cases`` and compare the results.

    ``mistakes`` lists ``(wrong_function, explanation)``: a student function that agrees with a
    known wrong version on every case gets that explanation. Results are compared numerically
    (``atol``, ``rtol``) unless ``compare`` is given (``operator.eq`` for strings, lists, ``None``).
    """
    same = compare or (lambda a, b: _close(a, b, atol, rtol))
    if fn is None or fn is Ellipsis:
        return _report(name, False, "not attempted yet — define the function in the cell above")
    try:
        results = [fn(*case) for case in cases]
    except NotImplementedError:
        return _report(name, False, "not attempted yet (not implemented) — write the function body in the cell above")
    except Exception as exc:  # the student's code raised: show what and where
        return _report(name, False, f"raised {type(exc).__name__}: {exc}. {hint}".strip())
    expected = [reference(*case) for case in cases]
    if all(same(r, e) for r, e in zip(results, expected)):
        return _report(name, True, f"correct on all {len(cases)} cases")
    for wrong, explanation in mistakes:
        try:
            if all(same(r, wrong(*case)) for r, case in zip(results, cases)):
                return _report(name, False, explanation)
        except Exception:  # a mistake model that cannot run on a case simply does not match
            continue
    first = next(i for i, (r, e) in enumerate(zip(results, expected)) if not same(r, e))
    return _report(name, False, f"wrong on case {first} (arguments {cases[first]!r}). {hint}".strip())


def check_choice(
    name: str,
    answer: Any,
    expected: Any,
    *,
    mistakes: dict[Any, str] | None = None,
    hint: str = "",
) -> bool:
    """Compare a non-numeric answer (a word, a profile name, a bool) with ``expected``.

    Strings are compared without surrounding spaces and case; ``mistakes`` maps common wrong
    answers to their explanation.
    """
    norm = lambda v: v.strip().lower() if isinstance(v, str) else v
    if (placeholder := _not_attempted(answer, "answer")) is not None:
        return _report(name, False, placeholder)
    if norm(answer) == norm(expected):
        return _report(name, True, "correct")
    for wrong, explanation in (mistakes or {}).items():
        if norm(answer) == norm(wrong):
            return _report(name, False, explanation)
    return _report(name, False, f"{answer!r} is not right. {hint}".strip())


def check_true(name: str, condition: bool, *, success: str = "correct", failure: str) -> bool:
    """A free-form check: ``condition`` decides, ``failure`` explains what to look at."""
    return _report(name, bool(condition), success if condition else failure)
