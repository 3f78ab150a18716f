"""Chapter 09 (sentiment): the exercises' references, known mistakes and hints."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..metrics import classification as cm
from . import Exercise, copying
from . import checkers as ex

# ---- 09.macro_f1 (implement): macro-F1 from a confusion matrix ---------------------------------------------


def _prf(counts: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-class precision and recall ``(K,)`` each of a confusion matrix ``(K, K)`` (row = truth); 0/0 is 0."""
    c = np.asarray(counts, dtype=float)
    tp = np.diag(c)
    p = np.divide(tp, c.sum(0), out=np.zeros(len(tp)), where=c.sum(0) > 0)
    r = np.divide(tp, c.sum(1), out=np.zeros(len(tp)), where=c.sum(1) > 0)
    return p, r


def _harmonic(p: np.ndarray, r: np.ndarray) -> np.ndarray:
    return np.divide(2 * p * r, p + r, out=np.zeros_like(p), where=p + r > 0)


def _macro_f1(counts: Any) -> float:
    """Macro-F1 of a confusion matrix ``counts`` ``(K, K)`` (row = true class, column = predicted): the plain
    mean of the K per-class F1 scores, a 0/0 counted as 0."""
    return float(_harmonic(*_prf(counts)).mean())


def _macro_f1_cases() -> list[tuple[np.ndarray]]:
    """Seeded random confusion matrices (K = 3 unbalanced like the tweets, K = 2, K = 5) and edge cases: a class
    that is never predicted, a class absent from the truth, and the first edition's two hand-made matrices."""
    rng = np.random.default_rng(9)
    cases = []
    for k, n in ((3, 400), (3, 60), (2, 50), (5, 300)):
        truth = rng.choice(k, n, p=np.r_[0.65, np.full(k - 1, 0.35 / (k - 1))])
        pred = np.where(rng.random(n) < 0.7, truth, rng.integers(0, k, n))
        cases.append((np.bincount(truth * k + pred, minlength=k * k).reshape(k, k),))
    cases.append((np.array([[5, 0, 0], [3, 0, 1], [2, 0, 9]]),))  # class 1 never predicted
    cases.append((np.array([[7, 1, 2], [0, 0, 0], [1, 3, 6]]),))  # class 1 absent from the truth
    cases.append((np.array([[10, 2], [7, 1]]),))
    return cases[::-1]  # the small hand-made cases first: a failure shows a readable one


def _f1_accuracy(c):
    return float(np.trace(c) / np.sum(c))


def _f1_weighted(c):
    return float((_harmonic(*_prf(c)) * np.sum(c, 1)).sum() / np.sum(c))


def _f1_arithmetic(c):
    return float(((_prf(c)[0] + _prf(c)[1]) / 2).mean())


def _f1_of_macro_pr(c):
    p, r = _prf(c)
    return float(_harmonic(np.array([p.mean()]), np.array([r.mean()]))[0])


_MACRO_F1_MISTAKES: list[tuple[Any, str]] = [
    (_f1_accuracy, "That is accuracy (= micro-F1 for single-label data): macro-F1 averages the per-class F1 "
                   "scores."),
    (_f1_weighted, "That is the support-weighted F1: macro-F1 gives every class the same weight 1/K."),
    (_f1_arithmetic, "F1 is the harmonic mean 2PR/(P+R), not the arithmetic mean (P+R)/2."),
    (_f1_of_macro_pr, "That is the F1 of macro-precision and macro-recall; average the per-class F1 scores "
                      "instead."),
]
_MACRO_F1_WRONG = [(fn, text.split(":")[0].split(";")[0]) for fn, text in _MACRO_F1_MISTAKES]


def _run_macro_f1(answer: Any) -> bool:
    return ex.check_function(
        "09.macro_f1", copying(answer), _macro_f1, _macro_f1_cases(), atol=1e-9, rtol=1e-9,
        mistakes=_MACRO_F1_MISTAKES,
        hint="per class: TP = the diagonal, TP + FP = the column sum, TP + FN = the row sum; F1_k = 2TP / (2TP + FP "
             "+ FN), 0 when the denominator is 0; then the plain mean over the K classes")


# ---- 09.class_weights (derive): balanced class weights w_k = N / (K n_k) ----------------------------------


def _class_weights(counts: Any) -> np.ndarray:
    """Balanced weights ``(K,)`` from the examples per class ``counts`` ``(K,)``: ``w_k = N / (K n_k)``."""
    c = np.asarray(counts, dtype=float)
    return c.sum() / (len(c) * c)


def _class_weights_cases() -> list[tuple[np.ndarray]]:
    rng = np.random.default_rng(90)
    return [(rng.integers(1, 500, 3),), (rng.integers(1, 50, 6),), (np.array([10, 30, 60]),), (np.array([5, 5]),)]


def _weights_inverse(c):
    return 1.0 / np.asarray(c, dtype=float)


def _weights_no_k(c):
    return np.sum(c) / np.asarray(c, dtype=float)


def _weights_upside_down(c):
    return np.asarray(c, dtype=float) / np.sum(c)


_CLASS_WEIGHTS_WRONG: list[tuple[Any, str]] = [
    (_weights_inverse, "wrong scale"), (_weights_no_k, "number of classes"), (_weights_upside_down, "Upside down"),
]


def _run_class_weights(answer: Any) -> bool:
    return ex.check_function(
        "09.class_weights", copying(answer), _class_weights, _class_weights_cases(),
        mistakes=[(_weights_inverse, "1/n_k has the right proportions but the wrong scale: multiply by N/K so the "
                                     "weights average to 1 over the examples."),
                  (_weights_no_k, "Divide by the number of classes K as well."),
                  (_weights_upside_down, "Upside down: that gives the *big* class the big weight. Rare classes need "
                                         "larger weights.")],
        hint="N = counts.sum(), K = len(counts); w = N / (K * counts)")


# ---- 09.undo_weights (implement): remove the class weights' boost from probabilities -----------------------


def _undo_weights(probs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Probabilities ``(N, K)`` of a model trained with class weights ``(K,)`` → the unweighted ones ``(N, K)``:
    the weighted loss is minimised by p ∝ w·q, so q ∝ p / w, renormalised per row."""
    q = np.asarray(probs, dtype=float) / np.asarray(weights, dtype=float)
    return q / q.sum(1, keepdims=True)


def _undo_cases() -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded random probabilities with balanced-looking weights, and edge cases: weights all equal (nothing to
    undo), a row with a zero probability, a single row, and weights that do not average to 1."""
    rng = np.random.default_rng(919)
    cases = []
    for n, k in ((6, 3), (10, 4), (4, 2)):
        p = rng.dirichlet(np.ones(k), n)
        counts = rng.integers(5, 200, k)
        cases.append((p, counts.sum() / (k * counts)))
    cases.append((np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]]), np.full(3, 0.7)))
    cases.append((np.array([[0.0, 0.4, 0.6], [0.5, 0.5, 0.0]]), np.array([2.2, 1.65, 0.52])))
    cases.append((np.array([[0.25, 0.25, 0.5]]), np.array([4.0, 2.0, 1.0])))
    return cases[::-1]  # the small hand-made cases first: a failure shows a readable one


def _undo_multiplied(p, w):
    q = p * w
    return q / q.sum(1, keepdims=True)


def _undo_not_renormalised(p, w):
    return p / w


def _undo_column_normalised(p, w):
    q = p / w
    return q / q.sum(0, keepdims=True)


def _undo_log_shift(p, w):
    q = np.clip(p - np.log(w), 0, None)
    return q / q.sum(1, keepdims=True)


_UNDO_WRONG: list[tuple[Any, str]] = [
    (_undo_multiplied, "Divide by w_k"), (_undo_not_renormalised, "no longer sums to 1"),
    (_undo_column_normalised, "each row"), (_undo_log_shift, "log-probabilities"),
]


def _run_undo_weights(answer: Any) -> bool:
    return ex.check_function(
        "09.undo_weights", copying(answer), _undo_weights, _undo_cases(), atol=1e-9, rtol=1e-7,
        mistakes=[(_undo_multiplied, "Divide by w_k, do not multiply: the weighted model already *over-states* class "
                                     "k by the factor w_k (p ∝ w·q), so q ∝ p / w."),
                  (_undo_not_renormalised, "After dividing by w each row no longer sums to 1: divide every row by "
                                           "its own sum."),
                  (_undo_column_normalised, "Normalise each row (one tweet's K probabilities, axis 1), not each "
                                            "column (one class over the batch)."),
                  (_undo_log_shift, "Subtracting log w_k is the correction for *logits* or log-probabilities; on "
                                    "probabilities the factor w_k is undone by a division.")],
        hint="q = probs / weights (broadcast over the rows), then q / q.sum(1, keepdims=True)")


# ---- 09.tfidf (implement): sublinear TF-IDF with smoothed idf and L2 rows ----------------------------------


def _tfidf(counts: np.ndarray) -> np.ndarray:
    """TF-IDF ``(D, V)`` of term counts ``(D, V)`` whose idf is fitted on the same D documents:
    tf = 1 + ln count (0 where the count is 0), idf = ln((1 + D) / (1 + df)) + 1, rows L2-normalised (an empty
    row stays 0)."""
    c = np.asarray(counts, dtype=float)
    tf = np.zeros_like(c)
    np.log(c, out=tf, where=c > 0)
    tf = np.where(c > 0, 1.0 + tf, 0.0)
    idf = np.log((1 + len(c)) / (1 + (c > 0).sum(0))) + 1
    v = tf * idf
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    return np.divide(v, norm, out=np.zeros_like(v), where=norm > 0)


def _tfidf_cases() -> list[tuple[np.ndarray]]:
    """Seeded sparse random count matrices (most counts 0, some above 1), and edge cases: a document with no
    known term (an all-zero row), a term in every document, a term in no document, and a single document."""
    rng = np.random.default_rng(95)
    cases = []
    for d, v in ((6, 9), (12, 20), (3, 5)):
        c = rng.poisson(0.6, (d, v)) * (rng.random((d, v)) < 0.5)
        cases.append((c,))
    cases.append((np.array([[1, 0, 2, 0], [0, 0, 0, 0], [3, 1, 1, 0], [1, 0, 0, 0]]),))
    cases.append((np.array([[2, 1, 1]]),))
    return cases[::-1]  # the small hand-made cases first: a failure shows a readable one


def _tfidf_raw_tf(c):
    c = np.asarray(c, dtype=float)
    v = c * (np.log((1 + len(c)) / (1 + (c > 0).sum(0))) + 1)
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    return np.divide(v, norm, out=np.zeros_like(v), where=norm > 0)


def _tfidf_unnormalised(c):
    c = np.asarray(c, dtype=float)
    tf = np.where(c > 0, 1.0 + np.log(np.where(c > 0, c, 1.0)), 0.0)
    return tf * (np.log((1 + len(c)) / (1 + (c > 0).sum(0))) + 1)


def _tfidf_idf_no_one(c):
    c = np.asarray(c, dtype=float)
    tf = np.where(c > 0, 1.0 + np.log(np.where(c > 0, c, 1.0)), 0.0)
    v = tf * np.log((1 + len(c)) / (1 + (c > 0).sum(0)))
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    return np.divide(v, norm, out=np.zeros_like(v), where=norm > 0)


def _tfidf_df_is_total_count(c):
    c = np.asarray(c, dtype=float)
    tf = np.where(c > 0, 1.0 + np.log(np.where(c > 0, c, 1.0)), 0.0)
    v = tf * (np.log((1 + len(c)) / (1 + c.sum(0))) + 1)
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    return np.divide(v, norm, out=np.zeros_like(v), where=norm > 0)


_TFIDF_WRONG: list[tuple[Any, str]] = [
    (_tfidf_raw_tf, "sublinear"), (_tfidf_unnormalised, "L2-normalise"), (_tfidf_idf_no_one, "+ 1"),
    (_tfidf_df_is_total_count, "document frequency"),
]


def _run_tfidf(answer: Any) -> bool:
    return ex.check_function(
        "09.tfidf", copying(answer), _tfidf, _tfidf_cases(), atol=1e-9, rtol=1e-7,
        mistakes=[(_tfidf_raw_tf, "tf is sublinear: 1 + ln count(t, d) for a count > 0 (and 0 for a count of 0), not "
                                  "the raw count — a word said three times is not three times as telling."),
                  (_tfidf_unnormalised, "L2-normalise each row at the end (x_d = v / ‖v‖₂; an all-zero row stays "
                                        "0), so that short and long tweets are comparable."),
                  (_tfidf_idf_no_one, "idf = ln((1 + n)/(1 + df)) + 1: without the + 1 a term found in every "
                                      "document gets the weight 0 and vanishes."),
                  (_tfidf_df_is_total_count, "df(t) is the document frequency — the number of documents that contain "
                                             "t, (counts > 0).sum(0) — not the total number of times t occurs.")],
        hint="tf = where(counts > 0, 1 + log(counts), 0); df = (counts > 0).sum(0); idf = log((1 + D)/(1 + df)) + 1; "
             "v = tf * idf; divide each non-zero row by its L2 norm")


# ---- 09.ece (implement): expected calibration error with equal-width bins ---------------------------------


def _ece_cases() -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Seeded random probabilities (N, K) with labels drawn from them (15 and 5 bins), a small hand-made case,
    and confidences that lie exactly on bin edges b/B (they belong to the bin that *ends* there)."""
    rng = np.random.default_rng(909)
    cases = []
    for n, k, bins in ((300, 3, 15), (120, 3, 5), (80, 4, 10)):
        z = rng.normal(0, 2, (n, k))
        p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        y = np.array([rng.choice(k, p=row) for row in p])
        cases.append((p, y, bins))
    cases.append((np.array([[0.6, 0.3, 0.1], [0.6, 0.3, 0.1], [0.05, 0.9, 0.05]]), np.array([0, 1, 1]), 10))
    edges = np.array([[0.5, 0.5], [0.9, 0.1], [0.75, 0.25], [0.3, 0.7]])  # 0.5 lies on the edge of 2 bins
    cases.append((edges, np.array([0, 1, 0, 1]), 2))
    cases.append((np.array([[0.75, 0.25], [0.75, 0.25], [1.0, 0.0], [0.6, 0.4]]), np.array([0, 0, 1, 1]), 4))
    return cases[::-1]  # the small hand-made cases first: a failure shows a readable one


def _binned_gaps(conf: np.ndarray, correct: np.ndarray, n: int, *, closed_left: bool = False) -> np.ndarray:
    """(share of predictions, |accuracy - confidence|) of every non-empty bin; bins (lo, hi], or [lo, hi)."""
    which = np.floor(conf * n).astype(int) if closed_left else np.ceil(conf * n).astype(int) - 1
    which = np.clip(which, 0, n - 1)
    rows = [((which == b).mean(), abs(correct[which == b].mean() - conf[which == b].mean()))
            for b in range(n) if (which == b).any()]
    return np.array(rows)


def _ece_unweighted(p, y, n):
    return float(_binned_gaps(p.max(1), p.argmax(1) == y, n)[:, 1].mean())


def _ece_global(p, y, n):
    return float(abs((p.argmax(1) == y).mean() - p.max(1).mean()))


def _ece_true_class(p, y, n):
    share, gap = _binned_gaps(p[np.arange(len(y)), y], p.argmax(1) == y, n).T
    return float((share * gap).sum())


def _ece_left_closed(p, y, n):
    share, gap = _binned_gaps(p.max(1), p.argmax(1) == y, n, closed_left=True).T
    return float((share * gap).sum())


_ECE_WRONG: list[tuple[Any, str]] = [
    (_ece_unweighted, "share of the predictions"), (_ece_global, "errors in different bins cancel"),
    (_ece_true_class, "top-label confidence"), (_ece_left_closed, "bin edge"),
]


def _run_ece(answer: Any) -> bool:
    return ex.check_function(
        "09.ece", copying(answer), cm.expected_calibration_error, _ece_cases(), atol=1e-9, rtol=1e-7,
        mistakes=[(_ece_unweighted, "Weight each bin by its share of the predictions n_b / N, not equally."),
                  (_ece_global, "That compares overall accuracy with overall confidence: errors in different bins "
                                "cancel. Bin first."),
                  (_ece_true_class, "Use the top-label confidence max_k p_ik, not the probability of the true "
                                    "class."),
                  (_ece_left_closed, "A confidence exactly on a bin edge b/B belongs to the bin that *ends* there: "
                                     "bins are (lo, hi], so use ceil(conf·B) − 1 (clipped to 0 … B−1), not "
                                     "floor(conf·B).")],
        hint="conf = probs.max(1), correct = probs.argmax(1) == labels; bin index ceil(conf·B) − 1 clipped to "
             "0 … B−1; sum over non-empty bins of (n_b/N)·|mean(correct) − mean(conf)|")


# ---- 09.temperature_split (concept): where T is fitted ----------------------------------------------------

_TRAIN_WHY = ("The model has (nearly) memorised its training data, so it looks right *and* confident there: T fitted "
              "on train would not correct the over-confidence seen on new data.")
_TEST_WHY = "Then the test figures would no longer be held-out: the test split only scores final choices."
_SPLIT_WRONG = [("train", "memorised"), ("test", "held-out"), ("val", "listed word")]


def _run_split(answer: Any) -> bool:
    return ex.check_choice(
        "09.temperature_split", answer, "validation",
        mistakes={"train": _TRAIN_WHY, "training": _TRAIN_WHY, "test": _TEST_WHY, "testing": _TEST_WHY,
                  "val": 'Right split — answer with the listed word: "train", "validation" or "test".'},
        hint="It is a choice like the number of epochs.")


# ---- 09.corrected_f1 (experiment): decide with the prior-corrected probabilities -------------------------

CORRECTED_F1_BAND = 0.001  # the check accepts the figure within ± this of what the model gives


def _decision_figures(model: Any, test: pd.DataFrame, val: pd.DataFrame) -> dict[str, float]:
    """Test macro-F1 and accuracy of the prior-corrected argmax, the unchanged (class-weighted) test macro-F1
    and the validation macro-F1 of the corrected argmax."""
    k = len(model.labels)
    y_test, y_val = test["label"].to_numpy(), val["label"].to_numpy()
    texts = test["text"].tolist()
    corrected = model.predict(texts, prior_correction=True).argmax(1)
    weighted = model.predict(texts).argmax(1)
    val_corrected = model.predict(val["text"].tolist(), prior_correction=True).argmax(1)
    return {"corrected": cm.macro_f1(y_test, corrected, k), "weighted": cm.macro_f1(y_test, weighted, k),
            "corrected_accuracy": cm.accuracy(y_test, corrected),
            "corrected_val": cm.macro_f1(y_val, val_corrected, k)}


def _corrected_wrong(model: Any, test: pd.DataFrame, val: pd.DataFrame) -> list[tuple[float, str]]:
    f = _decision_figures(model, test, val)
    return [(f["weighted"], "unchanged"), (f["corrected_accuracy"], "accuracy"), (f["corrected_val"], "validation")]


def _run_corrected_f1(answer: Any, *, model: Any, test: pd.DataFrame, val: pd.DataFrame) -> bool:
    f = _decision_figures(model, test, val)
    return ex.check_value(
        "09.corrected_f1", answer, f["corrected"], atol=CORRECTED_F1_BAND, rtol=0.0,
        mistakes=[(f["weighted"], "That is the unchanged figure of §8: the argmax of softmax(z / T). Decide with "
                                  "model.predict(texts, prior_correction=True).argmax(1) instead."),
                  (f["corrected_accuracy"], "That is the accuracy of the corrected decisions; report macro-F1."),
                  (f["corrected_val"], "That is the validation subset's figure (printed in §9); report the test "
                                       "split's macro-F1.")],
        hint=f"accepted within ±{CORRECTED_F1_BAND} of what the corrected argmax of this model gives on the test split")


def test_context() -> dict[str, object]:
    """The keyword arguments the chapter's experiment check needs: the smoke profile's TF-IDF model (trained in
    a few seconds, or loaded), the test split and the validation subset, as the notebook builds them."""
    from ..apps import sentiment
    from ..datasets import load_financial_tweets

    model = sentiment.train_candidate("tfidf", "smoke", device="cpu", progress=False)
    _, val = sentiment.train_validation_split(sentiment.component_hparams("smoke"))
    return {"model": model, "test": load_financial_tweets("valid"), "val": val}


EXERCISES: list[Exercise] = [
    Exercise("09.macro_f1", "implement", 2, "macro-F1 from a confusion matrix", _run_macro_f1, lambda: _macro_f1,
             hint="Per class k: TP = counts[k, k], TP + FP = the column sum, TP + FN = the row sum. F1_k = 2PR/(P+R) "
                  "(= 2TP / (2TP + FP + FN)), 0 when it is 0/0. Macro-F1 is the plain mean of the K values.",
             wrong=_MACRO_F1_WRONG),
    Exercise("09.class_weights", "derive", 1, "balanced class weights", _run_class_weights,
             lambda: _class_weights, hint="w_k = N / (K n_k): the class's total weight n_k·w_k is then N/K for every "
                                          "class.", wrong=_CLASS_WEIGHTS_WRONG),
    Exercise("09.undo_weights", "implement", 2, "undo the class weights' boost", _run_undo_weights,
             lambda: _undo_weights,
             hint="§4: the weighted loss is minimised by p_k ∝ w_k·q_k. Solve for q: divide each column k by w_k, "
                  "then renormalise every row to sum 1.", wrong=_UNDO_WRONG),
    Exercise("09.tfidf", "implement", 2, "the TF-IDF matrix of §5", _run_tfidf, lambda: _tfidf,
             hint="Work column-wise with NumPy: df = (counts > 0).sum(0) over the D documents, idf = ln((1 + D)/(1 + "
                  "df)) + 1; tf = 1 + ln(count) only where count > 0 (np.where); v = tf·idf; divide each row by its "
                  "L2 norm unless the norm is 0.", wrong=_TFIDF_WRONG),
    Exercise("09.ece", "implement", 2, "the expected calibration error", _run_ece,
             lambda: cm.expected_calibration_error,
             hint="conf = probs.max(1) and correct = (probs.argmax(1) == labels). Bin b covers (b/B, (b+1)/B]: the "
                  "index is ceil(conf·B) − 1, clipped to 0 … B−1 so that a confidence of 0 lands in the first bin. "
                  "Add (n_b/N)·|accuracy_b − confidence_b| over the non-empty bins.", wrong=_ECE_WRONG),
    Exercise("09.corrected_f1", "experiment", 1, "decide with the prior-corrected probabilities", _run_corrected_f1,
             lambda model, test, val: _decision_figures(model, test, val)["corrected"],
             hint="best.predict(test_texts, prior_correction=True) gives the corrected probabilities; take the "
                  "argmax and score it with cm.macro_f1(y_test, ..., K).", wrong=_corrected_wrong),
    Exercise("09.temperature_split", "concept", 1, "where the temperature is fitted", _run_split,
             lambda: "validation", hint="T is a setting of the model, chosen like the number of epochs.",
             wrong=_SPLIT_WRONG),
]
