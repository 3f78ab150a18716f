"""Ranking metrics for recommendation with one held-out item per user (chapter 13).

With a single relevant item per user at 0-based rank ``r`` in the user's ranked list,
``HR@k = 1[r < k]`` and ``NDCG@k = 1[r < k] / log2(r + 2)`` (the ideal DCG is 1: the item first).
"""

from __future__ import annotations

import numpy as np
import torch


def target_ranks(scores: torch.Tensor, targets: torch.Tensor, exclude: torch.Tensor | None = None) -> torch.Tensor:
    """0-based rank of each user's target among the candidate items (full ranking, no sampling).

    ``scores`` (U, I) float, ``targets`` (U,) item ids, ``exclude`` (U, I) bool marks items that are not
    candidates (already rated); the target itself is always a candidate. Ties count against the target:
    ``rank = #{candidates j ≠ target : s_j ≥ s_target}``. Returns (U,) int64.
    """
    scores = scores.float().clone()
    if exclude is not None:
        scores[exclude] = float("-inf")
    t = scores.gather(1, targets.view(-1, 1))  # (U, 1)
    return (scores >= t).sum(1) - 1


def hit_rate(ranks: torch.Tensor | np.ndarray, k: int = 10) -> float:
    """HR@k: share of users whose target is in the top k (ranks (U,), 0-based)."""
    ranks = torch.as_tensor(ranks)
    return float((ranks < k).double().mean())


def ndcg(ranks: torch.Tensor | np.ndarray, k: int = 10) -> float:
    """NDCG@k with one relevant item per user: mean of ``1[r < k] / log2(r + 2)`` over users (ranks (U,))."""
    r = torch.as_tensor(ranks).double()
    return float(torch.where(r < k, 1.0 / torch.log2(r + 2.0), torch.zeros_like(r)).mean())


def ndcg_from_list(ranked: list[int], relevant: set[int], k: int = 10) -> float:
    """NDCG@k of one ranked list of item ids against a set of relevant ids (binary gains):
    ``DCG = Σ_{p<k} 1[ranked_p ∈ relevant] / log2(p + 2)`` divided by the DCG of the ideal list."""
    dcg = sum(1.0 / np.log2(p + 2) for p, item in enumerate(ranked[:k]) if item in relevant)
    ideal = sum(1.0 / np.log2(p + 2) for p in range(min(k, len(relevant))))
    return float(dcg / ideal) if ideal > 0 else 0.0


def per_user(ranks: torch.Tensor | np.ndarray, k: int = 10) -> dict[str, np.ndarray]:
    """Per-user ``"hr"`` = 1[r < k] and ``"ndcg"`` = 1[r < k] / log2(r + 2), each (U,) float64 (their means are
    :func:`hit_rate` and :func:`ndcg`)."""
    r = torch.as_tensor(ranks).double().numpy()
    return {"hr": (r < k).astype(float), "ndcg": np.where(r < k, 1.0 / np.log2(r + 2.0), 0.0)}


def bootstrap_ci(values: np.ndarray, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (U,) or (U, M) (one column per model; the same
    resampled users for every column, so intervals of differences are paired). Returns ``(low, high)``, each
    a float or an (M,) array."""
    v = np.asarray(values, dtype=float)
    idx = np.random.default_rng(seed).integers(0, len(v), (n_boot, len(v)))
    means = v[idx].mean(1)  # (n_boot,) or (n_boot, M)
    a = (1 - level) / 2
    low, high = np.quantile(means, a, axis=0), np.quantile(means, 1 - a, axis=0)
    return (float(low), float(high)) if v.ndim == 1 else (low, high)


__all__ = ["bootstrap_ci", "hit_rate", "ndcg", "ndcg_from_list", "per_user", "target_ranks"]
