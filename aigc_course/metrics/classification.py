r"""Classification metrics on held-out data: confusion matrix, macro-F1, calibration (ECE, reliability bins),
temperature scaling, and the "balanced" class weights.

Conventions: ``y_true`` and ``y_pred`` are integer labels ``(N,)`` in ``0 … K-1``; ``probs`` are
probabilities ``(N, K)`` whose rows sum to 1; ``logits`` are ``(N, K)``. Inputs may be NumPy arrays,
torch tensors or lists; results are NumPy arrays or floats.

Expected calibration error with :math:`B` equal-width bins of the top-label confidence
:math:`\hat p_i = \max_k p_{ik}` (bin :math:`b` = :math:`(\frac{b-1}{B}, \frac{b}{B}]`, the first one closed):

.. math:: \mathrm{ECE} = \sum_{b=1}^{B} \frac{n_b}{N}\,\bigl|\mathrm{acc}_b - \mathrm{conf}_b\bigr|

with :math:`\mathrm{acc}_b` the share of correct predictions and :math:`\mathrm{conf}_b` the mean confidence
in bin :math:`b`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F


def _labels(y: Any, name: str) -> np.ndarray:
    a = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D integer labels (N,); got shape {a.shape}")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name} must hold integer labels; got dtype {a.dtype}")
    return a.astype(np.int64)


def _probs(p: Any) -> np.ndarray:
    a = p.detach().cpu().double().numpy() if isinstance(p, torch.Tensor) else np.asarray(p, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"probs must be (N, K); got shape {a.shape}")
    if a.size and (a.min() < -1e-9 or not np.allclose(a.sum(1), 1.0, atol=1e-4)):
        raise ValueError("probs must be non-negative rows that sum to 1 (did you pass logits? apply softmax)")
    return a


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int) -> np.ndarray:
    """Counts ``(K, K)`` int64: row = true class, column = predicted class."""
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if len(t) != len(p):
        raise ValueError(f"y_true has {len(t)} labels but y_pred has {len(p)}")
    if len(t) and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= num_classes):
        raise ValueError(f"labels must lie in 0 … {num_classes - 1}")
    return np.bincount(t * num_classes + p, minlength=num_classes**2).reshape(num_classes, num_classes)


def precision_recall_f1(y_true: Any, y_pred: Any, num_classes: int) -> dict[str, np.ndarray]:
    r"""Per-class ``precision``, ``recall``, ``f1`` and ``support`` (each ``(K,)``).

    precision\ :sub:`k` = TP/(TP+FP), recall\ :sub:`k` = TP/(TP+FN), F1\ :sub:`k` = 2PR/(P+R);
    a 0/0 is 0 (scikit-learn's ``zero_division=0``).
    """
    cm = confusion_matrix(y_true, y_pred, num_classes).astype(np.float64)
    tp = np.diag(cm)
    predicted, actual = cm.sum(0), cm.sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": actual.astype(np.int64)}


def macro_f1(y_true: Any, y_pred: Any, num_classes: int) -> float:
    """The unweighted mean of the per-class F1 scores: every class counts the same, whatever its size."""
    return float(precision_recall_f1(y_true, y_pred, num_classes)["f1"].mean())


def accuracy(y_true: Any, y_pred: Any) -> float:
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if len(t) != len(p) or len(t) == 0:
        raise ValueError(f"need the same, non-zero number of labels; got {len(t)} and {len(p)}")
    return float((t == p).mean())


@dataclass(frozen=True)
class ReliabilityBins:
    """Per-bin statistics of top-label confidence (each array ``(B,)``; empty bins have ``count`` 0
    and ``confidence`` / ``accuracy`` NaN)."""

    edges: np.ndarray  # (B + 1,) from 0 to 1
    count: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray

    @property
    def ece(self) -> float:
        """Expected calibration error: count-weighted mean of |accuracy - confidence|."""
        full = self.count > 0
        gaps = np.abs(self.accuracy[full] - self.confidence[full])
        return float((self.count[full] * gaps).sum() / self.count.sum())


def reliability_bins(probs: Any, y_true: Any, n_bins: int = 15) -> ReliabilityBins:
    """Bin the top-label confidence of ``probs`` ``(N, K)`` into ``n_bins`` equal-width bins."""
    p, t = _probs(probs), _labels(y_true, "y_true")
    if len(p) != len(t) or len(t) == 0:
        raise ValueError(f"need the same, non-zero number of rows; got {len(p)} probabilities, {len(t)} labels")
    if n_bins < 1:
        raise ValueError(f"n_bins must be ≥ 1; got {n_bins}")
    conf, pred = p.max(1), p.argmax(1)
    correct = (pred == t).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)  # (lo, hi]; 0 → first bin
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_conf = np.bincount(which, conf, n_bins) / count
        mean_acc = np.bincount(which, correct, n_bins) / count
    return ReliabilityBins(edges, count, mean_conf, mean_acc)


def expected_calibration_error(probs: Any, y_true: Any, n_bins: int = 15) -> float:
    """ECE of ``probs`` ``(N, K)`` against labels ``(N,)`` with ``n_bins`` equal-width confidence bins."""
    return reliability_bins(probs, y_true, n_bins).ece


def negative_log_likelihood(probs: Any, y_true: Any) -> float:
    """Mean ``-log p[i, y_i]`` (nats), probabilities clipped at 1e-12."""
    p, t = _probs(probs), _labels(y_true, "y_true")
    return float(-np.log(np.clip(p[np.arange(len(t)), t], 1e-12, None)).mean())


def fit_temperature(logits: torch.Tensor, y_true: Any, *, steps: int = 100) -> float:
    """The temperature ``T > 0`` that minimises the cross-entropy of ``softmax(logits / T)`` on held-out
    ``(logits (N, K), y_true (N,))`` (Guo et al., 2017). Fitted on ``log T`` with L-BFGS, float64.

    Dividing all logits by one ``T`` keeps their order, so the predicted class (accuracy, F1) is unchanged;
    only the confidence moves: ``T > 1`` softens over-confident predictions.
    """
    z = torch.as_tensor(logits).detach().double().cpu()
    t = torch.as_tensor(_labels(y_true, "y_true"))
    if z.ndim != 2 or len(z) != len(t) or len(t) == 0:
        raise ValueError(f"logits must be (N, K) with N = len(y_true) > 0; got {tuple(z.shape)} and {len(t)}")
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(z / log_t.exp(), t)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp())


def fit_temperature_and_bias(logits: torch.Tensor, y_true: Any, *, steps: int = 200) -> tuple[float, np.ndarray]:
    """``(T, b)`` minimising the cross-entropy of ``softmax(logits / T + b)`` on held-out logits ``(N, K)`` and
    labels ``(N,)``: a temperature and one bias per class ``b`` ``(K,)`` (shifted to mean 0; only differences
    matter).

    At the optimum the gradient with respect to ``b_k``, ``Σ_i (p_ik - [y_i = k])``, is zero: the average
    predicted probability of every class equals its frequency in the data the biases were fitted on. This
    undoes a shift of the class priors, such as the rare-class boost of a class-weighted loss.
    """
    z = torch.as_tensor(logits).detach().double().cpu()
    t = torch.as_tensor(_labels(y_true, "y_true"))
    if z.ndim != 2 or len(z) != len(t) or len(t) == 0:
        raise ValueError(f"logits must be (N, K) with N = len(y_true) > 0; got {tuple(z.shape)} and {len(t)}")
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(z.shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t, bias], lr=0.5, max_iter=steps, tolerance_grad=1e-12, tolerance_change=1e-14,
                            line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(z / log_t.exp() + bias, t)
        loss.backward()
        return loss

    opt.step(closure)
    b = bias.detach().numpy()
    return float(log_t.detach().exp()), b - b.mean()


def balanced_class_weights(y_true: Any, num_classes: int) -> np.ndarray:
    r"""``w_k = N / (K · n_k)`` ``(K,)``: each class gets the same total weight :math:`N/K` in a weighted loss
    (scikit-learn's ``class_weight="balanced"``). A class with no examples gets weight 0."""
    counts = np.bincount(_labels(y_true, "y_true"), minlength=num_classes).astype(np.float64)
    with np.errstate(divide="ignore"):
        return np.where(counts > 0, counts.sum() / (num_classes * counts), 0.0)


def bootstrap_diff(y_true: Any, pred_a: Any, pred_b: Any, metric: Callable[[np.ndarray, np.ndarray], float],
                   n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """Paired percentile bootstrap over examples of ``metric(y, pred_a) − metric(y, pred_b)``.

    ``y_true``, ``pred_a``, ``pred_b`` (N,) labels; the same resampled examples score both models. Returns
    ``(difference on the full data, low, high)`` with a ``level`` interval; an interval that contains 0 does
    not rank the two models."""
    t, a, b = _labels(y_true, "y_true"), _labels(pred_a, "pred_a"), _labels(pred_b, "pred_b")
    idx = np.random.default_rng(seed).integers(0, len(t), (n_boot, len(t)))
    d = np.array([metric(t[i], a[i]) - metric(t[i], b[i]) for i in idx])
    q = (1 - level) / 2
    return float(metric(t, a) - metric(t, b)), float(np.quantile(d, q)), float(np.quantile(d, 1 - q))


def rate_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper–Pearson) two-sided confidence interval for a rate from ``k`` events in ``n`` trials."""
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0; got k={k}, n={n}")
    from scipy.stats import beta

    a = (1 - level) / 2
    low = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return low, high
