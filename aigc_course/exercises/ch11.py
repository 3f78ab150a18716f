"""Chapter 11 (customer-service assistant): the exercises' references, known mistakes and hints."""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..apps import assistant as A
from . import Exercise, copying
from . import checkers as ex

# ---- 11.order_id (implement): the order number of a message ------------------------------------------------

_TODAY = dt.date(2026, 5, 1)
_ORDER_CASES = ["where is IB-123456", "ib 654321 late", "IB1234567 pls", "no number", "IB123456", "IB-12345 is short",
                "orders IB-111111 and IB-222222", "SIB123456 is a code, not an order"]


def _order_id(text: str) -> str | None:
    return A.extract_slots(text, _TODAY).get("order_id")


def _order_match(pattern: str, flags: int = re.IGNORECASE, group: int = 1, prefix: str = "IB-") -> Any:
    def found(text: str) -> str | None:
        m = re.search(pattern, text, flags)
        return (prefix + m[group] if group == 1 else m[0]) if m else None
    return found


_ORDER_MISTAKES: list[tuple[Any, str]] = [
    (_order_match(r"IB[-\s]?(\d{6})"), "Anchor the pattern with \\b on both sides: 'IB1234567' has seven digits and "
                                       "is not an order number, and 'SIB123456' is another word."),
    (_order_match(r"\bIB[-\s]?(\d{6})\b", flags=0), "Ignore case (re.IGNORECASE): customers type 'ib 654321'."),
    (_order_match(r"\bIB[-\s]?(\d{6})\b", group=0), "Normalise the match: return 'IB-' plus the six digits, whatever "
                                                     "the customer typed ('ib 654321' → 'IB-654321')."),
    (_order_match(r"\bIB[-\s]?(\d{6})\b", prefix=""), "Return the whole order number 'IB-' + digits, not only the "
                                                      "digits."),
    (_order_match(r"\bIB[-\s](\d{6})\b"), "The separator is optional ([-\\s]?): 'IB123456' is an order number too."),
]
_ORDER_WRONG = [(fn, text.split(":")[0][:30]) for fn, text in _ORDER_MISTAKES]


def _run_order_id(answer: Any) -> bool:
    return ex.check_function("11.order_id", copying(answer), _order_id, [(t,) for t in _ORDER_CASES],
                             mistakes=_ORDER_MISTAKES, compare=operator.eq,
                             hint="re.search(r'\\bIB[-\\s]?(\\d{6})\\b', text, re.IGNORECASE), then 'IB-' + the digits")


# ---- 11.platt (derive): the calibrated confidence -----------------------------------------------------------


def _platt(top1: float, margin: float, a: float, b: float, c: float) -> float:
    return float(1 / (1 + np.exp(-(a * top1 + b * margin + c))))


_PLATT_CASES = [(0.8, 0.2, 5.0, 3.0, -4.0), (0.3, 0.0, 5.0, 3.0, -4.0), (0.5, 0.1, -1.0, 2.0, 0.5)]
_PLATT_MISTAKES: list[tuple[Any, str]] = [
    (lambda t, m, a, b, c: 1 / (1 + np.exp(a * t + b * m + c)), "σ(z) = 1 / (1 + e^{-z}): mind the sign."),
    (lambda t, m, a, b, c: a * t + b * m + c, "Pass the linear score through the sigmoid."),
    (lambda t, m, a, b, c: 1 / (1 + np.exp(-(a * t + b * m))), "You left out the intercept c."),
    (lambda t, m, a, b, c: 1 / (1 + np.exp(-(a * m + b * t + c))),
     "The weights are swapped: a multiplies top1 and b the margin."),
    (lambda t, m, a, b, c: 1 / (1 + np.exp(-(a * t + b * m) + c)),
     "The minus sign covers the whole score: e^{-(a·top1 + b·margin + c)}, so the intercept is negated too."),
]
_PLATT_WRONG = [(fn, text.split(":")[0][:20]) for fn, text in _PLATT_MISTAKES]


def _run_platt(answer: Any) -> bool:
    return ex.check_function("11.platt", answer, _platt, _PLATT_CASES, mistakes=_PLATT_MISTAKES,
                             hint="σ(a·top1 + b·margin + c) with σ(z) = 1 / (1 + e^{−z})")


# ---- 11.ece (implement): the expected calibration error ---------------------------------------------------


def _ece_variant(conf, correct, bins, *, weighted=True, per_sample=False, signed=False, drop_one=False):
    conf, correct = np.asarray(conf, dtype=float), np.asarray(correct, dtype=float)
    if per_sample:
        return float(np.mean(np.abs(correct - conf)))
    idx = np.floor(conf * bins).astype(int)
    if not drop_one:
        idx = np.clip(idx, 0, bins - 1)
    gaps, weights = [], []
    for b in range(bins):
        inside = idx == b
        if inside.any():
            gap = correct[inside].mean() - conf[inside].mean()
            gaps.append(gap if signed else abs(gap))
            weights.append(inside.mean() if weighted else 1.0)
    if not weighted:
        return float(np.mean(gaps)) if gaps else 0.0
    return float(np.dot(weights, gaps))


def _ece_unweighted(*a):
    return _ece_variant(*a, weighted=False)


def _ece_per_sample(*a):
    return _ece_variant(*a, per_sample=True)


def _ece_signed(*a):
    return _ece_variant(*a, signed=True)


def _ece_drop_one(*a):
    return _ece_variant(*a, drop_one=True)


def _ece_cases() -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Seeded over- and under-confident predictions, and edge cases: confidences of exactly 0, 0.5 and 1 (1
    belongs to the last bin), empty bins, and a single bin."""
    rng = np.random.default_rng(1101)
    cases = []
    for n, bins, power in ((60, 10, 2.0), (300, 5, 0.5), (25, 10, 1.5)):
        conf = rng.uniform(0, 1, n)
        cases.append((conf, rng.uniform(0, 1, n) < conf ** power, bins))
    cases.append((np.array([0.0, 0.5, 1.0, 1.0, 0.25, 0.75, 0.95]),
                  np.array([False, True, True, False, False, True, True]), 4))
    cases.append((np.array([0.9, 0.8, 0.85, 0.3]), np.array([True, False, True, True]), 1))
    return cases


_ECE_MISTAKES: list[tuple[Any, str]] = [
    (_ece_unweighted, "Weight each bin by its share of the predictions, n_b / N: a bin with 2 predictions must count "
                      "less than one with 200 (a plain mean over bins over-weights the sparse ones)."),
    (_ece_per_sample, "Average inside each bin *before* taking the gap: ECE compares a bin's accuracy with its mean "
                      "confidence; the mean of |correct − conf| over single predictions is another, larger number."),
    (_ece_signed, "Take the absolute gap |acc_b − conf_b|: over-confident and under-confident bins must not cancel."),
    (_ece_drop_one, "A confidence of exactly 1.0 belongs to the last bin: clip the bin index floor(conf·bins) to "
                    "bins − 1, otherwise those predictions are lost."),
]
_ECE_WRONG = [(fn, text.split(":")[0][:30]) for fn, text in _ECE_MISTAKES]


def _run_ece(answer: Any) -> bool:
    return ex.check_function(
        "11.ece", copying(answer), A.expected_calibration_error, _ece_cases(), atol=1e-9, rtol=1e-7,
        mistakes=_ECE_MISTAKES,
        hint="idx = min(floor(conf·bins), bins − 1); ECE = Σ over non-empty bins of (n_b / N)·|mean(correct) − "
             "mean(conf)| in the bin")


# ---- 11.handover_threshold (implement): choose the hand-over threshold on the calibration set ---------------


def _handover_threshold(conf_in: np.ndarray, correct_in: np.ndarray, conf_oos: np.ndarray,
                        grid: Sequence[float]) -> float:
    """The threshold t of ``grid`` that maximises mean(conf_in >= t and correct_in) + mean(conf_oos < t).

    ``conf_in`` (N,) calibrated confidences of in-scope questions, ``correct_in`` (N,) bool (top-1 intent right),
    ``conf_oos`` (O,) confidences of out-of-scope questions; ties go to the smaller threshold."""
    return A.choose_threshold(conf_in, correct_in, conf_oos, grid)[0]


def _thr_variant(conf_in, correct_in, conf_oos, grid, *, larger=False, strict=False, answered=False, counts=False,
                 value=False):
    conf_in, correct_in, conf_oos = np.asarray(conf_in), np.asarray(correct_in, bool), np.asarray(conf_oos)
    best = None
    for t in grid:
        ans = conf_in > t if strict else conf_in >= t
        good = ans if answered else ans & correct_in
        hand = conf_oos <= t if strict else conf_oos < t
        j = good.sum() + hand.sum() if counts else good.mean() + hand.mean()
        key = (round(float(j), 9), t if larger else -t)
        if best is None or key > best[0]:
            best = (key, float(t), float(j))
    return best[2] if value else best[1]


def _thr_larger(*a):
    return _thr_variant(*a, larger=True)


def _thr_strict(*a):
    return _thr_variant(*a, strict=True)


def _thr_answered(*a):
    return _thr_variant(*a, answered=True)


def _thr_counts(*a):
    return _thr_variant(*a, counts=True)


def _thr_value(*a):
    return _thr_variant(*a, value=True)


def _threshold_cases() -> list[tuple]:
    """Seeded calibration sets on the grid 0.05 … 0.95 (confidences on that grid, so that ties with a grid value
    occur), one with 10 times more out-of-scope than in-scope questions, and edge cases: a tie (the smaller
    threshold wins), confidences equal to a threshold (answered, not handed over), and wrong answers that only a
    higher threshold avoids."""
    rng = np.random.default_rng(1102)
    grid = [k / 20 for k in range(1, 20)]
    cases = []
    for n_in, n_oos in ((40, 12), (20, 200), (80, 30)):
        conf_in = rng.integers(4, 20, n_in) / 20
        correct = rng.uniform(0, 1, n_in) < conf_in ** 0.7
        cases.append((conf_in, correct, rng.integers(1, 16, n_oos) / 20, grid))
    cases.append((np.array([0.9, 0.8]), np.array([True, True]), np.array([0.1, 0.2]), [0.3, 0.5, 0.7]))
    cases.append((np.array([0.5, 0.5, 0.7]), np.array([True, True, False]), np.array([0.55, 0.2]), [0.5, 0.6]))
    cases.append((np.array([0.9, 0.6, 0.6]), np.array([True, False, False]), np.array([0.3, 0.65]), [0.5, 0.7]))
    return cases


_THR_MISTAKES: list[tuple[Any, str]] = [
    (_thr_value, "Return the threshold t, not the value of the criterion it reaches."),
    (_thr_larger, "On a tie keep the *smaller* threshold: among equally good choices, hand over fewer customers."),
    (_thr_strict, "A question whose confidence equals t is answered: answer when conf >= t, hand over when conf < t "
                  "(as Assistant.reply does)."),
    (_thr_answered, "Count the in-scope questions answered *correctly* (conf >= t and the top-1 intent right): "
                    "answering with the wrong template is not a success."),
    (_thr_counts, "Add two *rates*, not two counts: with counts the larger set (here the out-of-scope questions) "
                  "decides the threshold alone."),
]
_THR_WRONG = [(fn, text.split(":")[0][:30]) for fn, text in _THR_MISTAKES]


def _run_handover_threshold(answer: Any) -> bool:
    return ex.check_function(
        "11.handover_threshold", copying(answer), _handover_threshold, _threshold_cases(), atol=1e-12, rtol=0.0,
        mistakes=_THR_MISTAKES,
        hint="for each t: J = mean((conf_in >= t) & correct_in) + mean(conf_oos < t); keep the t of largest J, "
             "the smaller t on a tie")


# ---- 11.threshold_questions (concept): where the hand-over threshold is chosen -----------------------------

_HELD_OUT = "Then the reported hand-over recall is tuned to the very questions it is measured on."
_SPLIT_MISTAKES = {
    "held-out": _HELD_OUT, "heldout": _HELD_OUT, "held out": _HELD_OUT,
    "all": "Any use of the held-out questions for a choice makes the reported figures optimistic.",
    "test": "The test questions are the held-out ones: the reported hand-over recall would be tuned to the very "
            "questions it is measured on.",
}
_SPLIT_WRONG = [("held-out", "tuned to the very questions"), ("all", "optimistic"), ("test", "held-out ones")]


def _run_threshold_questions(answer: Any) -> bool:
    return ex.check_choice("11.threshold_questions", answer, "calibration", mistakes=_SPLIT_MISTAKES,
                           hint='Answer with one of the listed words: "calibration", "held-out" or "all".')


# ---- 11.raw_confidence (experiment): hand over on the raw top-1 score -------------------------------------

RAW_BAND = 0.002  # the check accepts the figure within ± this of the value the assistant gives


def _criterion(conf_in: np.ndarray, correct: np.ndarray, conf_oos: np.ndarray, t: float) -> float:
    return float(np.mean((conf_in >= t) & correct) + np.mean(conf_oos < t))


def _raw_figures(bot: A.Assistant, cal: Mapping[str, Any], test_q: Sequence[str], test_y: Sequence[int],
                 hp: Mapping[str, Any]) -> dict[str, float]:
    """The held-out criterion with the raw top-1 score as the confidence (the answer) and the figures of the
    known wrong answers."""
    s_in = bot.matcher.scores(test_q)  # (N, K)
    x_in, x_oos = A.top2_features(s_in), A.top2_features(bot.matcher.scores(bot.kb.oos_test))  # (N, 2), (O, 2)
    correct = s_in.argmax(1) == np.asarray(test_y)
    t_raw, table = A.choose_threshold(cal["x_in"][:, 0], cal["correct_in"], cal["x_oos"][:, 0], hp["threshold_grid"])
    best = next(r for r in table if r["threshold"] == t_raw)
    return {"raw": _criterion(x_in[:, 0], correct, x_oos[:, 0], t_raw),
            "calibrated": _criterion(bot.calibrator(x_in), correct, bot.calibrator(x_oos), bot.threshold),
            "raw_calibration": best["in_scope_answered_correct"] + best["oos_handover"],
            "raw_same_threshold": _criterion(x_in[:, 0], correct, x_oos[:, 0], bot.threshold),
            "raw_oos_recall": float(np.mean(x_oos[:, 0] < t_raw)),
            "raw_answered_correct": float(np.mean((x_in[:, 0] >= t_raw) & correct))}


def _raw_mistakes(f: Mapping[str, float]) -> list[tuple[float, str]]:
    return [(f["calibrated"], "That is the unchanged assistant (calibrated confidence, its own threshold); use the raw "
                              "top-1 score s_(1) and choose its threshold again."),
            (f["raw_calibration"], "That is the criterion on the calibration set, where the threshold was chosen; "
                                   "report it on the held-out questions (held-out in-scope + test out-of-scope)."),
            (f["raw_same_threshold"], "You kept the calibrated confidence's threshold; a raw score lives on another "
                                      "scale, so choose its threshold again on the calibration set."),
            (f["raw_oos_recall"], "That is only the out-of-scope hand-over recall; report the sum of the two rates."),
            (f["raw_answered_correct"], "That is only the in-scope answered-correctly rate; add the out-of-scope "
                                        "hand-over rate.")]


def _raw_wrong(bot: A.Assistant, cal: Mapping[str, Any], test_q: Sequence[str], test_y: Sequence[int],
               hp: Mapping[str, Any]) -> list[tuple[float, str]]:
    f = _raw_figures(bot, cal, test_q, test_y, hp)
    return [(value, text.split(";")[0][:40]) for value, text in _raw_mistakes(f) if abs(value - f["raw"]) > RAW_BAND]


def _run_raw_confidence(answer: Any, *, bot: A.Assistant, cal: Mapping[str, Any], test_q: Sequence[str],
                        test_y: Sequence[int], hp: Mapping[str, Any]) -> bool:
    f = _raw_figures(bot, cal, test_q, test_y, hp)
    return ex.check_value(
        "11.raw_confidence", answer, f["raw"], atol=RAW_BAND, rtol=0.0, mistakes=_raw_mistakes(f),
        hint=f"accepted within ±{RAW_BAND} of what the raw top-1 score gives on the held-out questions")


def test_context() -> dict[str, object]:
    """The keyword arguments of the chapter's experiment check, rebuilt from the knowledge base as the notebook
    builds them, with a cheaper scorer (no sentence vectors: TF-IDF retrieval + classifier, mix 0.75)."""
    from ..core import config

    hp = config.chapter("11_customer_service").hparams("fast")
    kb = A.load_kb()
    setting = {**hp, "clf_vectors": False, "tfidf_weight": 1.0, "mix": 0.75, "cv_folds": 2}
    cv = A.cross_validate(kb, setting, None, hp.seed)
    bot, cal = A.build_assistant(kb, setting, None, hp.seed, cv)
    test_q, test_y = A.questions(kb, "test", hp.test_seed)
    return {"bot": bot, "cal": cal, "test_q": test_q, "test_y": test_y, "hp": hp}


EXERCISES: list[Exercise] = [
    Exercise("11.order_id", "implement", 1, "the order number of a message", _run_order_id, lambda: _order_id,
             hint="\\b, then IB, then an optional '-' or space, then exactly six digits, then \\b; ignore case; "
                  "return 'IB-' + the digits of the first match, or None.", wrong=_ORDER_WRONG),
    Exercise("11.ece", "implement", 2, "the expected calibration error", _run_ece,
             lambda: A.expected_calibration_error,
             hint="Bin b holds the confidences in [b/bins, (b+1)/bins), 1.0 in the last bin. For every non-empty "
                  "bin take the accuracy and the mean confidence of its predictions; weight |gap| by n_b / N.",
             wrong=_ECE_WRONG),
    Exercise("11.handover_threshold", "implement", 2, "the hand-over threshold", _run_handover_threshold,
             lambda: _handover_threshold,
             hint="Loop over the grid; answered = conf_in >= t; J = mean(answered & correct_in) + mean(conf_oos < t); "
                  "a strictly larger J replaces the best, so the first (smallest) t wins a tie.", wrong=_THR_WRONG),
    Exercise("11.raw_confidence", "experiment", 2, "hand over on the raw top-1 score", _run_raw_confidence,
             lambda bot, cal, test_q, test_y, hp: _raw_figures(bot, cal, test_q, test_y, hp)["raw"],
             hint="x = A.top2_features(bot.matcher.scores(texts)) gives (top-1, margin); cal['x_in'][:, 0] and "
                  "cal['x_oos'][:, 0] are the calibration set's raw top-1 scores; A.choose_threshold picks t.",
             wrong=_raw_wrong),
    Exercise("11.platt", "derive", 1, "the calibrated confidence", _run_platt, lambda: _platt,
             hint="A logistic regression: the sigmoid of a·top1 + b·margin + c.", wrong=_PLATT_WRONG),
    Exercise("11.threshold_questions", "concept", 1, "where the hand-over threshold is chosen",
             _run_threshold_questions, lambda: "calibration",
             hint="Which questions are never used for a choice, so that their figures can be reported?",
             wrong=_SPLIT_WRONG),
]
