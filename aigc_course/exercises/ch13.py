"""Chapter 13 (recommendation): the exercises' references, known mistakes and hints."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from ..metrics import ranking as rk
from ..models import recsys as rs
from . import Exercise, copying
from . import checkers as ex

# ---- 13.ndcg (derive): NDCG@k of one user from the 0-based rank of the single relevant item ----------------


def _ndcg(rank: int, k: int) -> float:
    return float(1.0 / np.log2(rank + 2)) if rank < k else 0.0


_NDCG_CASES = [(0, 10), (3, 10), (9, 10), (10, 10), (4, 5), (25, 10)]
_NDCG_WRONG: list[tuple[Any, str]] = [
    (lambda r, k: 1 / np.log2(r + 1) if 0 < r < k else float(r == 0), "log2(rank + 2)"),
    (lambda r, k: 1 / np.log2(r + 2), "Outside the top k the gain is 0"),
    (lambda r, k: float(r < k), "That is HR@k"),
]


def _run_ndcg(answer: Any) -> bool:
    return ex.check_function(
        "13.ndcg", answer, _ndcg, _NDCG_CASES,
        mistakes=[(_NDCG_WRONG[0][0], "Positions are 0-based: the discount is log2(rank + 2), so rank 0 gives "
                                      "1/log2(2) = 1."),
                  (_NDCG_WRONG[1][0], "Outside the top k the gain is 0: a hit at rank 25 does not count for @10."),
                  (_NDCG_WRONG[2][0], "That is HR@k: NDCG also discounts a hit by its position.")],
        hint="1[rank < k] / log2(rank + 2)")


# ---- 13.target_ranks (implement): the full-ranking position of each user's held-out item -----------------


def _target_ranks_cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Random score matrices with many ties (small integer scores), random exclusions that never hit the
    target, and three edge cases: the target scores highest; every other item is excluded; an excluded item
    scores above the target."""
    g = torch.Generator().manual_seed(13)
    cases = []
    for users, items in ((4, 7), (6, 12), (3, 30)):
        scores = torch.randint(0, 5, (users, items), generator=g).float()
        targets = torch.randint(0, items, (users,), generator=g)
        exclude = torch.rand(users, items, generator=g) < 0.3
        exclude[torch.arange(users), targets] = False
        cases.append((scores, targets, exclude))
    top = torch.tensor([[0.1, 0.9, 0.3, 0.2]])
    cases.append((top, torch.tensor([1]), torch.zeros(1, 4, dtype=torch.bool)))
    alone = torch.tensor([[0.5, 0.2, 0.9]])
    cases.append((alone, torch.tensor([1]), torch.tensor([[True, False, True]])))
    above = torch.tensor([[0.9, 0.1, 0.4, 0.2]])
    cases.append((above, torch.tensor([2]), torch.tensor([[True, False, False, False]])))
    return cases


def _masked(scores: torch.Tensor, exclude: torch.Tensor) -> torch.Tensor:
    return scores.float().masked_fill(exclude, float("-inf"))


def _ranks_ties_in_favour(scores, targets, exclude):
    s = _masked(scores, exclude)
    return (s > s.gather(1, targets.view(-1, 1))).sum(1)


def _ranks_no_exclusion(scores, targets, exclude):
    s = scores.float()
    return (s >= s.gather(1, targets.view(-1, 1))).sum(1) - 1


def _ranks_one_based(scores, targets, exclude):
    s = _masked(scores, exclude)
    return (s >= s.gather(1, targets.view(-1, 1))).sum(1)


_TARGET_RANKS_WRONG: list[tuple[Any, str]] = [
    (_ranks_ties_in_favour, "Ties count against"),
    (_ranks_no_exclusion, "not candidates"),
    (_ranks_one_based, "0-based"),
]


def _run_target_ranks(answer: Any) -> bool:
    return ex.check_function(
        "13.target_ranks", copying(answer), rk.target_ranks, _target_ranks_cases(), atol=0, rtol=0,
        mistakes=[(_ranks_ties_in_favour, "Ties count against the target: an item with the *same* score could be "
                                          "shown first, so count s_j >= s_target (use >=, not >)."),
                  (_ranks_no_exclusion, "Items the user already rated (exclude == True) are not candidates: give them "
                                        "the score -inf (masked_fill) before counting."),
                  (_ranks_one_based, "Ranks are 0-based: the count of candidates scoring >= the target includes the "
                                     "target itself, so subtract 1 (a target ranked first has rank 0).")],
        hint="mask the excluded items with -inf, read each user's target score with gather, count >=, subtract 1")


# ---- 13.bpr_objective (implement): BPR-Opt's mini-batch objective with its prior ---------------------------


def _bpr_objective(p_u, q_i, q_j, b_i, b_j, lam):
    x = (p_u * q_i).sum(-1) + b_i - (p_u * q_j).sum(-1) - b_j
    prior = p_u.pow(2).sum(-1) + q_i.pow(2).sum(-1) + q_j.pow(2).sum(-1) + b_i ** 2 + b_j ** 2
    return (F.softplus(-x) + lam * prior).mean()


def _bpr_cases() -> list[tuple]:
    """Random batches (B, d) in float32, λ = 0 and λ > 0, and one pair ranked very wrongly (x ≈ −120), where
    log(sigmoid(x)) underflows to log(0)."""
    g = torch.Generator().manual_seed(1301)
    cases = []
    for b, d, lam in ((5, 3, 0.0), (8, 4, 0.01), (3, 6, 0.5)):
        cases.append((torch.randn(b, d, generator=g), torch.randn(b, d, generator=g), torch.randn(b, d, generator=g),
                      torch.randn(b, generator=g), torch.randn(b, generator=g), lam))
    p = torch.full((2, 2), 6.0)
    cases.append((p, -torch.ones(2, 2) * 5.0, torch.ones(2, 2) * 5.0, torch.zeros(2), torch.zeros(2), 0.0))
    return cases


def _bpr_no_prior(p_u, q_i, q_j, b_i, b_j, lam):
    return _bpr_objective(p_u, q_i, q_j, b_i, b_j, 0.0)


def _bpr_sign_flipped(p_u, q_i, q_j, b_i, b_j, lam):
    x = (p_u * q_i).sum(-1) + b_i - (p_u * q_j).sum(-1) - b_j
    prior = p_u.pow(2).sum(-1) + q_i.pow(2).sum(-1) + q_j.pow(2).sum(-1) + b_i ** 2 + b_j ** 2
    return (F.softplus(x) + lam * prior).mean()


def _bpr_naive_log(p_u, q_i, q_j, b_i, b_j, lam):
    x = (p_u * q_i).sum(-1) + b_i - (p_u * q_j).sum(-1) - b_j
    prior = p_u.pow(2).sum(-1) + q_i.pow(2).sum(-1) + q_j.pow(2).sum(-1) + b_i ** 2 + b_j ** 2
    return (-torch.log(torch.sigmoid(x)) + lam * prior).mean()


def _bpr_no_bias(p_u, q_i, q_j, b_i, b_j, lam):
    x = (p_u * q_i).sum(-1) - (p_u * q_j).sum(-1)
    prior = p_u.pow(2).sum(-1) + q_i.pow(2).sum(-1) + q_j.pow(2).sum(-1)
    return (F.softplus(-x) + lam * prior).mean()


def _bpr_summed(p_u, q_i, q_j, b_i, b_j, lam):
    return _bpr_objective(p_u, q_i, q_j, b_i, b_j, lam) * len(p_u)


_BPR_WRONG: list[tuple[Any, str]] = [
    (_bpr_no_prior, "BPR-Opt"),
    (_bpr_sign_flipped, "rises above"),
    (_bpr_naive_log, "underflows"),
    (_bpr_no_bias, "bias"),
    (_bpr_summed, "mean"),
]


def _run_bpr(answer: Any) -> bool:
    return ex.check_function(
        "13.bpr_objective", copying(answer), _bpr_objective, _bpr_cases(), atol=1e-5, rtol=1e-4,
        mistakes=[(_bpr_no_prior, "BPR-Opt includes the prior: add λ(‖p_u‖² + ‖q_i‖² + ‖q_j‖² + b_i² + b_j²) per "
                                  "triple (it is 0 only when λ = 0)."),
                  (_bpr_sign_flipped, "The loss must fall as the observed item's score rises above the sampled "
                                      "one's: −log σ(s_ui − s_uj) = softplus(−x), not softplus(x)."),
                  (_bpr_naive_log, "-log(sigmoid(x)) underflows: for a pair ranked very wrongly (x ≈ −120) σ(x) "
                                   "rounds to 0 in float32 and the loss becomes inf. Use softplus(−x), the same "
                                   "function computed stably."),
                  (_bpr_no_bias, "The scores include the item bias: s_ui = p_u·q_i + b_i, and the prior covers b_i "
                                 "and b_j too."),
                  (_bpr_summed, "Average over the triples of the batch (mean), so the step size does not depend on "
                                "the batch size.")],
        hint="x = (p_u*q_i).sum(-1) + b_i − (p_u*q_j).sum(-1) − b_j; loss = mean(softplus(−x) + λ·prior)")


# ---- 13.bpr_weight (derive) and 13.split (concept): kept from the chapter's first edition -----------------

_SIG2 = float(1 / (1 + np.exp(-2.0)))
_BPR_WEIGHT_WRONG: list[tuple[Any, str]] = [
    (_SIG2, "That is σ(2)"),
    (float(np.log1p(np.exp(-2.0))), "That is the loss"),
    (-(1 - _SIG2), "its size"),
    (_SIG2 * (1 - _SIG2), "σ'(x)"),
    (1 - 2.0, "Apply the sigmoid first"),
]


def _run_bpr_weight(answer: Any) -> bool:
    return ex.check_value(
        "13.bpr_weight", answer, 1 - _SIG2, atol=1e-4,
        mistakes=[(_SIG2, "That is σ(2); the weight is 1 − σ(x): small for a pair already ranked right."),
                  (float(np.log1p(np.exp(-2.0))), "That is the loss −log σ(x), not its gradient weight."),
                  (-(1 - _SIG2), "That is the derivative of the loss, −(1 − σ(x)); the weight is its size, a "
                                 "positive number."),
                  (_SIG2 * (1 - _SIG2), "That is σ'(x) = σ(x)(1 − σ(x)), the slope of σ; differentiate log σ(x) "
                                        "instead: σ'(x)/σ(x)."),
                  (1 - 2.0, "Apply the sigmoid first: the weight is 1 − σ(x), not 1 − x.")])


_SPLIT_WRONG = [("test", "optimistic"), ("train", "cannot tell"), ("val", "listed word")]


def _run_split(answer: Any) -> bool:
    return ex.check_choice(
        "13.split", answer, "validation",
        mistakes={"test": "Then the test NDCG is tuned to the test items and optimistic.",
                  "train": "Training items are what the model fits; they cannot tell you when it starts to overfit.",
                  "training": "Training items are what the model fits; they cannot tell you when it starts to "
                              "overfit.",
                  "testing": "Then the test NDCG is tuned to the test items and optimistic.",
                  "val": 'Right item — answer with the listed word: "train", "validation" or "test".'})


# ---- 13.knn_raw (experiment): item-kNN without the cosine's normalisation ---------------------------------

KNN_RAW_BAND = 0.002  # the check accepts the figure within ± this of the value the split gives


def _raw_cooccurrence_scores(data: rs.RecData) -> torch.Tensor:
    x = torch.zeros(data.n_users, data.n_items)
    x[torch.as_tensor(data.train_users), torch.as_tensor(data.train_items)] = 1.0
    return (x @ x.T) @ x  # s_uj = Σ_{i rated by u} c_ij, c = XᵀX the co-rater counts


def _knn_figures(data: rs.RecData, k: int = 10) -> dict[str, float]:
    test_t, val_t = torch.as_tensor(data.test_items), torch.as_tensor(data.val_items)
    ex_test, ex_val = rs.exclusion_mask(data, include_val=True), rs.exclusion_mask(data, include_val=False)
    raw = _raw_cooccurrence_scores(data)
    raw_test = rk.target_ranks(raw, test_t, ex_test)
    return {"raw": rk.ndcg(raw_test, k), "raw_hr": rk.hit_rate(raw_test, k),
            "raw_val": rk.ndcg(rk.target_ranks(raw, val_t, ex_val), k),
            "cosine": rk.ndcg(rk.target_ranks(rs.itemknn_scores(data), test_t, ex_test), k),
            "popularity": rk.ndcg(rk.target_ranks(rs.popularity_scores(data), test_t, ex_test), k)}


def _knn_wrong(data: rs.RecData) -> list[tuple[float, str]]:
    f = _knn_figures(data)
    return [(f["cosine"], "unchanged cosine"), (f["popularity"], "popularity"), (f["raw_hr"], "HR@10"),
            (f["raw_val"], "validation")]


def _run_knn_raw(answer: Any, *, data: rs.RecData) -> bool:
    f = _knn_figures(data)
    return ex.check_value(
        "13.knn_raw", answer, f["raw"], atol=KNN_RAW_BAND, rtol=0.0,
        mistakes=[(f["cosine"], "That is the unchanged cosine item-kNN of §4: replace sim(i, j) = c_ij/√(n_i n_j) by "
                                "the raw count c_ij and rank again."),
                  (f["popularity"], "That is the popularity baseline's NDCG@10; the experiment changes item-kNN."),
                  (f["raw_hr"], "That is HR@10 of the raw co-counts; report NDCG@10."),
                  (f["raw_val"], "That is measured on the validation items; report the test items' NDCG@10 (with "
                                 "the validation item excluded from the candidates).")],
        hint=f"accepted within ±{KNN_RAW_BAND} of what raw co-counts give on this split")


def test_context() -> dict[str, object]:
    """The keyword arguments the chapter's experiment checks need, rebuilt from the data mirror as the notebook
    builds them (for the test suite)."""
    from ..core import config
    from ..datasets.movielens import load_movielens

    ml = load_movielens()
    return {"data": rs.random_holdout(ml.ratings, ml.movies, config.chapter("13_recommendation").hparams("fast")
                                      .split_seed)}


EXERCISES: list[Exercise] = [
    Exercise("13.ndcg", "derive", 1, "NDCG@k for one user", _run_ndcg, lambda: _ndcg,
             hint="A hit at 0-based rank r < k is worth 1/log2(r + 2); outside the top k nothing.", wrong=_NDCG_WRONG),
    Exercise("13.target_ranks", "implement", 2, "the full-ranking rank of each user's held-out item",
             _run_target_ranks, lambda: rk.target_ranks,
             hint="Mask the excluded items with -inf (masked_fill), take each user's target score with "
                  "gather(1, targets.view(-1, 1)), count the candidates scoring >= it and subtract 1 (the target "
                  "itself).", wrong=_TARGET_RANKS_WRONG),
    Exercise("13.bpr_objective", "implement", 2, "BPR-Opt's mini-batch objective", _run_bpr,
             lambda: _bpr_objective,
             hint="x = s_ui − s_uj with s = p·q + b; −log σ(x) is F.softplus(−x); the prior adds the squared norms of "
                  "everything the triple touches; average over the batch.", wrong=_BPR_WRONG),
    Exercise("13.bpr_weight", "derive", 1, "the BPR gradient weight at x = 2", _run_bpr_weight, lambda: 1 - _SIG2,
             hint="d/dx of −log σ(x) is −(1 − σ(x)).", wrong=_BPR_WEIGHT_WRONG),
    Exercise("13.split", "concept", 1, "where the epochs and λ are chosen", _run_split, lambda: "validation",
             hint="Which item of each user is never used for a choice, and which one is?", wrong=_SPLIT_WRONG),
    Exercise("13.knn_raw", "experiment", 2, "item-kNN with raw co-counts instead of the cosine", _run_knn_raw,
             lambda data: _knn_figures(data)["raw"],
             hint="X is the binary (U, I) training matrix; c = XᵀX counts co-raters; the scores are X c = (X Xᵀ) X. "
                  "Rank the test items with rk.target_ranks and the exclusion mask of §1.", wrong=_knn_wrong),
]
