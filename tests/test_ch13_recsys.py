"""Chapter 13: leave-last-out split, ranking metrics, BPR loss and the two trainable recommenders."""

import numpy as np
import pandas as pd
import torch

from aigc_course.metrics import ranking as rk
from aigc_course.models import recsys as rs


def _toy():
    ratings = pd.DataFrame({"userId": [1, 1, 1, 1, 2, 2, 2], "movieId": [10, 20, 30, 40, 20, 10, 30],
                            "rating": 4.0, "timestamp": [1, 2, 3, 4, 5, 6, 7]})
    movies = pd.DataFrame({"movieId": [10, 20, 30, 40, 50], "title": ["A (1990)", "B", "C", "D", "E"],
                           "genres": ["Comedy", "Drama|Comedy", "Drama", "(no genres listed)", "Action"]})
    return ratings, movies


def test_leave_last_out():
    d = rs.leave_last_out(*_toy())
    assert d.n_users == 2 and d.n_items == 5
    assert d.test_items.tolist() == [3, 2] and d.val_items.tolist() == [2, 0]
    assert [s.tolist() for s in d.train_seqs] == [[0, 1], [1]]
    mask = rs.exclusion_mask(d, include_val=True)
    assert mask[0].tolist() == [True, True, True, False, False]
    assert rs.history_matrix(d.train_seqs, 3, 5).tolist() == [[5, 0, 1], [5, 5, 1]]
    u, i, h = rs.next_item_examples(d.train_seqs, 2, 5)
    assert u.tolist() == [0, 0, 1] and i.tolist() == [0, 1, 1] and h.tolist() == [[5, 5], [5, 0], [5, 5]]
    tags = pd.DataFrame({"userId": [1, 2], "movieId": [40, 40], "tag": ["secret", "fun"], "timestamp": [0, 0]})
    texts = rs.item_texts(_toy()[1], tags, d)
    assert "secret" not in texts[3] and "fun" in texts[3]  # user 1's tag on their own test movie is dropped


def test_ranking_metrics():
    scores = torch.tensor([[0.9, 0.5, 0.1, 0.7], [0.1, 0.2, 0.3, 0.4]])
    ranks = rk.target_ranks(scores, torch.tensor([1, 0]), torch.tensor([[True, False, False, False]] + [[False] * 4]))
    assert ranks.tolist() == [1, 3]
    assert rk.hit_rate(ranks, 2) == 0.5
    assert abs(rk.ndcg(ranks, 10) - (1 / np.log2(3) + 1 / np.log2(5)) / 2) < 1e-12
    assert rk.ndcg_from_list([5, 3, 1], {3}, 10) == 1 / np.log2(3)
    assert rk.target_ranks(torch.ones(1, 3), torch.tensor([0])).item() == 2  # ties count against


def test_bpr_gradient_and_models_train():
    pos, neg = torch.tensor([2.0], requires_grad=True), torch.tensor([0.0], requires_grad=True)
    rs.bpr_loss(pos, neg).backward()
    assert torch.allclose(pos.grad, -(1 - torch.sigmoid(torch.tensor(2.0))))
    d = rs.leave_last_out(*_toy())
    mf = rs.BPRMF(d.n_users, d.n_items, 4)
    hp = {"epochs": 2, "batch_size": 4, "lr": 0.01, "weight_decay": 0.0, "patience": 1}
    log = rs.train_bpr(mf, torch.as_tensor(d.train_users), torch.as_tensor(d.train_items), None, d.n_items, hp,
                       lambda m: 0.0, 0, progress=False)
    assert log["best_epoch"] == 1 and mf.score_all(torch.arange(2)).shape == (2, 5)
    tm = rs.TextHistoryRecommender(d.n_users, np.eye(5, 3, dtype=np.float32), 4, 2, 0.5)
    u, i, h = rs.next_item_examples(d.train_seqs, 2, 5)
    rs.train_bpr(tm, u, i, h, d.n_items, hp, lambda m: 0.0, 0, progress=False)
    hist = rs.history_matrix(d.train_seqs, 2, 5)
    assert tm.score_all(torch.arange(2), hist).shape == (2, 5) and tm.item_vectors().shape == (5, 4)
    assert rs.text_embeddings(["aa bb", "bb cc", "cc aa", "aa aa"], 2, 1, 0).shape == (4, 2)


def test_random_holdout_and_timestamp_stats():
    ratings, movies = _toy()
    d = rs.random_holdout(ratings, movies, seed=0)
    assert d.n_users == 2 and rs.random_holdout(ratings, movies, seed=0).test_items.tolist() == d.test_items.tolist()
    for u, n in enumerate([4, 3]):  # every rating ends up in exactly one part
        items = sorted(d.train_seqs[u].tolist() + [int(d.val_items[u]), int(d.test_items[u])])
        assert len(items) == n and len(set(items)) == n
        assert d.val_items[u] != d.test_items[u]
    ts = rs.timestamp_stats(ratings, session_gap_min=1)
    assert ts["users"] == 2 and ts["last_two_within_10min"] == 2 and ts["last_two_same_second"] == 0


def test_itemknn_scores_match_the_cosine_formula():
    d = rs.leave_last_out(*_toy())
    s = rs.itemknn_scores(d)
    x = np.zeros((d.n_users, d.n_items))
    x[d.train_users, d.train_items] = 1
    n = x.sum(0)
    sim = (x.T @ x) / np.sqrt(np.maximum(np.outer(n, n), 1e-12))
    sim[np.outer(n, n) == 0] = 0
    assert np.allclose(s.numpy(), x @ sim, atol=1e-6)


def test_bpr_penalty_and_bootstrap_ci():
    torch.manual_seed(0)
    m = rs.BPRMF(3, 4, 2)
    u, i, j = torch.tensor([0, 1]), torch.tensor([1, 2]), torch.tensor([3, 0])
    want = (m.user(u).pow(2).sum(1) + m.item(i).pow(2).sum(1) + m.item(j).pow(2).sum(1)
            + m.bias(i).squeeze(1) ** 2 + m.bias(j).squeeze(1) ** 2).mean()
    assert torch.allclose(m.penalty(u, i, j), want)
    per = rk.per_user(torch.tensor([0, 3, 20]), k=10)
    assert np.allclose(per["hr"], [1, 1, 0]) and np.isclose(per["ndcg"].mean(), rk.ndcg(torch.tensor([0, 3, 20]), 10))
    lo, hi = rk.bootstrap_ci(np.r_[np.zeros(50), np.ones(50)], n_boot=500, seed=0)
    assert lo < 0.5 < hi and hi - lo < 0.3
    lo2, hi2 = rk.bootstrap_ci(np.stack([np.ones(10), np.zeros(10)], 1), n_boot=50)
    assert lo2.tolist() == [1.0, 0.0] and hi2.tolist() == [1.0, 0.0]
