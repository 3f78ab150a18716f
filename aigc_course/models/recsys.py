"""Recommenders for MovieLens (chapter 13): popularity, BPR matrix factorisation, and a text + history model.

All models score every item for every user; :mod:`aigc_course.metrics.ranking` turns the scores into
HR@k and NDCG@k over a full ranking of the items a user has not rated.

* :func:`random_holdout` holds out one random rating per user as the **test** item and another as the
  **validation** item (for early stopping and tuning); the rest is training data. :func:`leave_last_out` splits by
  time instead, which on MovieLens mostly measures the rating session (:func:`timestamp_stats`).
* :func:`itemknn_scores` — cosine item–item neighbourhood scores on the training interactions.
* :class:`BPRMF` — matrix factorisation ``s(u, i) = p_u·q_i + b_i`` trained with the BPR loss
  ``−log σ(s(u, i) − s(u, j))`` for an observed item ``i`` and a random item ``j`` (:func:`bpr_loss`), plus
  BPR-Opt's prior ``λ‖Θ‖²`` on the parameters each triple touches (``penalty``, ``hp["reg"]``).
* :class:`TextHistoryRecommender` — each item's vector is an id embedding plus a projection of its
  **text** (title, genres, tags → TF-IDF → truncated SVD, :func:`text_embeddings`); a user is their own
  vector plus a recency-weighted mean of the vectors of the last ``L`` items they rated. Items with few
  or no ratings still get a meaningful vector from their text (the cold-start case).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------
@dataclass
class RecData:
    """Leave-last-out split. Items are 0..n_items-1 (``movie_ids[i]`` is MovieLens' id of item i).

    ``train_users``/``train_items`` (N,) in time order per user; ``train_seqs[u]`` the user's training items
    (oldest first); ``val_items``/``test_items`` (U,) one held-out item per user.
    """

    n_users: int
    n_items: int
    movie_ids: np.ndarray
    train_users: np.ndarray
    train_items: np.ndarray
    train_seqs: list[np.ndarray]
    val_items: np.ndarray
    test_items: np.ndarray
    user_ids: np.ndarray

    def user_index(self, user_id: int) -> int:
        """The row of MovieLens user ``user_id`` (what the models take); a ``ValueError`` names an unknown id."""
        row = int(np.searchsorted(self.user_ids, user_id))
        if row >= len(self.user_ids) or int(self.user_ids[row]) != int(user_id):
            raise ValueError(f"MovieLens user {user_id} is not in this data: its {len(self.user_ids)} users have ids "
                             f"{int(self.user_ids[0])}..{int(self.user_ids[-1])} (with gaps); data.user_ids lists them")
        return row

    def item_counts(self) -> np.ndarray:
        """Training ratings per item (I,)."""
        return np.bincount(self.train_items, minlength=self.n_items)


def leave_last_out(ratings: pd.DataFrame, movies: pd.DataFrame) -> RecData:
    """Split ``ratings`` (userId, movieId, rating, timestamp) per user by time: last → test, second-to-last
    → validation, the rest → training (ties in time are broken by movieId). Every rating counts as an
    interaction (implicit feedback); every movie of ``movies`` is an item, rated or not."""
    movie_ids = movies["movieId"].to_numpy()
    item_of = {m: i for i, m in enumerate(movie_ids)}
    df = ratings.sort_values(["userId", "timestamp", "movieId"], kind="stable")
    user_ids = np.sort(df["userId"].unique())
    seqs, val, test = [], [], []
    tu, ti = [], []
    for u, (_, g) in enumerate(df.groupby("userId", sort=True)):
        items = np.array([item_of[m] for m in g["movieId"]])
        if len(items) < 3:
            raise ValueError("every user needs at least 3 ratings for leave-last-out")
        seqs.append(items[:-2])
        val.append(items[-2])
        test.append(items[-1])
        tu.append(np.full(len(items) - 2, u))
        ti.append(items[:-2])
    return RecData(len(user_ids), len(movie_ids), movie_ids, np.concatenate(tu), np.concatenate(ti), seqs,
                   np.array(val), np.array(test), user_ids)


def random_holdout(ratings: pd.DataFrame, movies: pd.DataFrame, seed: int) -> RecData:
    """Split ``ratings`` per user at random: one rating → test, another → validation, the rest → training
    (kept in time order, ties broken by movieId). Unlike :func:`leave_last_out` this makes no claim that
    rating time is viewing order. Every user needs at least 3 ratings."""
    rng = np.random.default_rng(seed)
    movie_ids = movies["movieId"].to_numpy()
    item_of = {m: i for i, m in enumerate(movie_ids)}
    df = ratings.sort_values(["userId", "timestamp", "movieId"], kind="stable")
    user_ids = np.sort(df["userId"].unique())
    seqs, val, test, tu, ti = [], [], [], [], []
    for u, (_, g) in enumerate(df.groupby("userId", sort=True)):
        items = np.array([item_of[m] for m in g["movieId"]])
        if len(items) < 3:
            raise ValueError("every user needs at least 3 ratings for a random hold-out")
        v, t = rng.choice(len(items), 2, replace=False)
        keep = np.ones(len(items), dtype=bool)
        keep[[v, t]] = False
        seqs.append(items[keep])
        val.append(items[v])
        test.append(items[t])
        tu.append(np.full(int(keep.sum()), u))
        ti.append(items[keep])
    return RecData(len(user_ids), len(movie_ids), movie_ids, np.concatenate(tu), np.concatenate(ti), seqs,
                   np.array(val), np.array(test), user_ids)


def timestamp_stats(ratings: pd.DataFrame, session_gap_min: float) -> dict[str, float]:
    """How much of a user's rating order is a rating *session* (per user, sorted by time, ties by movieId):
    ``users``; ``last_two_within_10min`` and ``last_two_same_second`` (users whose last two ratings, the
    leave-last-out validation and test items, are that close); ``last_21_within_1h``; ``three_or_more_sessions``
    (users with ≥ 3 sessions when a gap of more than ``session_gap_min`` minutes starts a new session)."""
    out = {"users": 0, "last_two_within_10min": 0, "last_two_same_second": 0, "last_21_within_1h": 0,
           "three_or_more_sessions": 0}
    for _, g in ratings.sort_values(["userId", "timestamp", "movieId"], kind="stable").groupby("userId"):
        t = g["timestamp"].to_numpy()
        out["users"] += 1
        out["last_two_within_10min"] += int(t[-1] - t[-2] < 600)
        out["last_two_same_second"] += int(t[-1] == t[-2])
        out["last_21_within_1h"] += int(len(t) >= 21 and t[-1] - t[-21] < 3600)
        out["three_or_more_sessions"] += int((np.diff(t) > session_gap_min * 60).sum() + 1 >= 3)
    return out


def exclusion_mask(data: RecData, include_val: bool) -> torch.Tensor:
    """(U, I) bool: items each user already rated in training (and, if ``include_val``, the validation item)
    — they are not candidates for ranking."""
    mask = torch.zeros(data.n_users, data.n_items, dtype=torch.bool)
    mask[torch.as_tensor(data.train_users), torch.as_tensor(data.train_items)] = True
    if include_val:
        mask[torch.arange(data.n_users), torch.as_tensor(data.val_items)] = True
    return mask


def item_texts(movies: pd.DataFrame, tags: pd.DataFrame, data: RecData) -> list[str]:
    """One text per item: title, genres (``|`` → spaces) and the tags users wrote for it. Tags a user wrote
    on their own validation or test movie are dropped (they would reveal the held-out interaction)."""
    held = {(int(data.user_ids[u]), int(data.movie_ids[i])) for u, i in enumerate(data.val_items)}
    held |= {(int(data.user_ids[u]), int(data.movie_ids[i])) for u, i in enumerate(data.test_items)}
    keep = [(u, m) not in held for u, m in zip(tags["userId"], tags["movieId"])]
    tag_text = tags[keep].groupby("movieId")["tag"].apply(lambda s: " ".join(map(str, s)))
    texts = []
    for m, title, genres in zip(movies["movieId"], movies["title"], movies["genres"]):
        g = "" if genres == "(no genres listed)" else genres.replace("|", " ").replace("-", "")
        texts.append(f"{title} {g} {tag_text.get(m, '')}".strip())
    return texts


def text_embeddings(texts: Sequence[str], dim: int, min_df: int, seed: int) -> np.ndarray:
    """TF-IDF (words, ``min_df``) → truncated SVD (``dim`` components) → L2-normalised rows: (I, dim) float32."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    x = TfidfVectorizer(min_df=min_df, sublinear_tf=True).fit_transform(texts)
    z = TruncatedSVD(dim, random_state=seed).fit_transform(x)
    z /= np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    return z.astype(np.float32)


def history_matrix(seqs: Sequence[np.ndarray], length: int, pad: int) -> torch.Tensor:
    """The last ``length`` items of each sequence, oldest first, left-padded with ``pad``: (len(seqs), length)."""
    out = torch.full((len(seqs), length), pad, dtype=torch.long)
    for u, s in enumerate(seqs):
        s = s[-length:]
        if len(s):
            out[u, length - len(s):] = torch.as_tensor(s)
    return out


def next_item_examples(seqs: Sequence[np.ndarray], length: int, pad: int) -> tuple[torch.Tensor, ...]:
    """Training examples of a history model: for every training position t of every user, ``(user, item_t,
    history = the ≤ length items before t)``. Returns users (N,), items (N,), histories (N, length)."""
    users, items, hists = [], [], []
    for u, s in enumerate(seqs):
        padded = np.concatenate([np.full(length, pad), s])
        idx = np.arange(len(s))[:, None] + np.arange(length)[None, :]  # (n, L) windows ending before t
        users.append(np.full(len(s), u))
        items.append(s)
        hists.append(padded[idx])
    return (torch.as_tensor(np.concatenate(users)), torch.as_tensor(np.concatenate(items)),
            torch.as_tensor(np.concatenate(hists)))


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------
def popularity_scores(data: RecData) -> torch.Tensor:
    """Scores (U, I): every user gets the items' training-rating counts."""
    return torch.as_tensor(data.item_counts(), dtype=torch.float32).expand(data.n_users, -1)


def itemknn_scores(data: RecData) -> torch.Tensor:
    """Item-kNN with cosine similarity on the binary training matrix X (U, I), every item a neighbour:
    ``sim(i, j) = c_ij / sqrt(n_i n_j)`` (c co-raters, n raters) and ``s(u, j) = Σ_{i rated by u} sim(i, j)``.
    Computed as ``(X D^{-1/2} X^T)(X D^{-1/2})`` without the (I, I) matrix. Returns scores (U, I)."""
    x = torch.zeros(data.n_users, data.n_items)
    x[torch.as_tensor(data.train_users), torch.as_tensor(data.train_items)] = 1.0
    xn = x / x.sum(0).clamp_min(1.0).sqrt()  # (U, I) = X D^{-1/2}
    return (x @ xn.T) @ xn


def bpr_loss(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """BPR loss ``mean(−log σ(pos − neg))`` = ``mean(softplus(neg − pos))`` for scores (B,) of observed and
    sampled items."""
    return F.softplus(neg - pos).mean()


def check_users(users: torch.Tensor, n_users: int) -> None:
    """Raise a ``ValueError`` naming the first user index of ``users`` outside ``0..n_users-1`` (an embedding lookup
    would fail with an opaque ``IndexError``, or, on a GPU, a device assert)."""
    bad = users[(users < 0) | (users >= n_users)]
    if bad.numel():
        raise ValueError(f"user index {int(bad[0])} is outside 0..{n_users - 1}: the models take row indices, not "
                         "MovieLens user ids (data.user_index(user_id) gives the row)")


class BPRMF(nn.Module):
    """Matrix factorisation ``s(u, i) = p_u · q_i + b_i`` with P (U, d), Q (I, d), b (I,)."""

    def __init__(self, n_users: int, n_items: int, dim: int, init_std: float = 0.05):
        super().__init__()
        self.user = nn.Embedding(n_users, dim)
        self.item = nn.Embedding(n_items, dim)
        self.bias = nn.Embedding(n_items, 1)
        nn.init.normal_(self.user.weight, std=init_std)
        nn.init.normal_(self.item.weight, std=init_std)
        nn.init.zeros_(self.bias.weight)

    def score(self, users: torch.Tensor, items: torch.Tensor, hist: torch.Tensor | None = None) -> torch.Tensor:
        """Scores (B,) of pairs ``users`` (B,), ``items`` (B,) (``hist`` is ignored)."""
        return (self.user(users) * self.item(items)).sum(-1) + self.bias(items).squeeze(-1)

    @torch.no_grad()
    def score_all(self, users: torch.Tensor, hist: torch.Tensor | None = None) -> torch.Tensor:
        """Scores (B, I) of every item for ``users`` (B,)."""
        check_users(users, self.user.num_embeddings)
        return self.user(users) @ self.item.weight.T + self.bias.weight.T

    def item_vectors(self) -> torch.Tensor:
        """The item space (I, d)."""
        return self.item.weight.detach()

    def penalty(self, users: torch.Tensor, items: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        """BPR-Opt's prior term per triple, ``‖p_u‖² + ‖q_i‖² + ‖q_j‖² + b_i² + b_j²``, averaged over the batch (B,)."""
        return (self.user(users).pow(2).sum(-1) + self.item(items).pow(2).sum(-1) + self.item(neg).pow(2).sum(-1)
                + self.bias(items).squeeze(-1) ** 2 + self.bias(neg).squeeze(-1) ** 2).mean()


class TextHistoryRecommender(nn.Module):
    """Items from ids **and text**, users from their own vector **and their history**.

    ``v_i = e_i + A t_i`` with ``t_i`` the fixed text embedding (I, k) and A (d, k) learned; the user query
    ``q_u = p_u + Σ_l w_l v_{h_l} / Σ_l w_l`` over the last L history items ``h`` (padding ignored), with
    recency weights ``w_l = γ^{L−1−l}`` (the newest item has weight 1); ``s(u, i) = q_u · v_i + b_i``.
    Item index ``I`` is the padding item (a zero vector).
    """

    def __init__(self, n_users: int, text: np.ndarray | torch.Tensor, dim: int, history: int, decay: float,
                 init_std: float = 0.05):
        super().__init__()
        text = torch.as_tensor(text, dtype=torch.float32)
        n_items = text.shape[0]
        self.n_items, self.history = n_items, history
        self.register_buffer("text", torch.cat([text, torch.zeros(1, text.shape[1])]))  # (I+1, k)
        self.user = nn.Embedding(n_users, dim)
        self.item = nn.Embedding(n_items + 1, dim, padding_idx=n_items)
        self.proj = nn.Linear(text.shape[1], dim, bias=False)
        self.bias = nn.Embedding(n_items + 1, 1, padding_idx=n_items)
        self.register_buffer("weights", decay ** torch.arange(history - 1, -1, -1, dtype=torch.float32))  # (L,)
        for emb in (self.user, self.item):
            nn.init.normal_(emb.weight, std=init_std)
        with torch.no_grad():
            self.item.weight[n_items].zero_()
            self.bias.weight.zero_()

    def vectors(self, items: torch.Tensor) -> torch.Tensor:
        """Item vectors ``v`` (..., d) of item ids (...) (the padding id gives 0)."""
        return self.item(items) + self.proj(self.text[items])

    def query(self, users: torch.Tensor, hist: torch.Tensor) -> torch.Tensor:
        """User queries ``q`` (B, d) from ``users`` (B,) and histories ``hist`` (B, L)."""
        w = self.weights * (hist != self.n_items)  # (B, L), zero on padding
        h = (w.unsqueeze(-1) * self.vectors(hist)).sum(1) / w.sum(1, keepdim=True).clamp_min(1e-8)
        return self.user(users) + h

    def score(self, users: torch.Tensor, items: torch.Tensor, hist: torch.Tensor) -> torch.Tensor:
        """Scores (B,) of ``items`` (B,) for ``users`` (B,) with histories (B, L)."""
        return (self.query(users, hist) * self.vectors(items)).sum(-1) + self.bias(items).squeeze(-1)

    @torch.no_grad()
    def score_all(self, users: torch.Tensor, hist: torch.Tensor) -> torch.Tensor:
        """Scores (B, I) of every item."""
        check_users(users, self.user.num_embeddings)
        every = torch.arange(self.n_items, device=users.device)
        return self.query(users, hist) @ self.vectors(every).T + self.bias(every).T

    def penalty(self, users: torch.Tensor, items: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        """The same prior on the free parameters a triple touches: ``‖p_u‖² + ‖e_i‖² + ‖e_j‖² + b_i² + b_j²``
        (batch mean; the shared projection A is left to ``weight_decay``)."""
        return (self.user(users).pow(2).sum(-1) + self.item(items).pow(2).sum(-1) + self.item(neg).pow(2).sum(-1)
                + self.bias(items).squeeze(-1) ** 2 + self.bias(neg).squeeze(-1) ** 2).mean()

    def item_vectors(self) -> torch.Tensor:
        """The item space (I, d)."""
        with torch.no_grad():
            return self.vectors(torch.arange(self.n_items, device=self.text.device))


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------
def train_bpr(model: nn.Module, users: torch.Tensor, items: torch.Tensor, hist: torch.Tensor | None,
              n_items: int, hp: Mapping, validate: Callable[[nn.Module], float], seed: int,
              progress: bool = True) -> dict:
    """Train ``model`` with BPR-Opt — the BPR loss plus ``hp["reg"]`` (λ, default 0) times the model's
    ``penalty`` (the squared norms of the parameters each triple touches) — and one uniformly sampled
    negative item per example; keep the weights
    of the epoch with the best ``validate(model)`` (validation NDCG@10), stop after ``hp["patience"]`` epochs
    without improvement. ``users``, ``items`` (N,), ``hist`` (N, L) or None. Uses ``hp["epochs"]``,
    ``hp["batch_size"]``, ``hp["lr"]``, ``hp["weight_decay"]``. Returns the history and the best epoch."""

    from ..core import training

    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=hp["lr"], weight_decay=hp["weight_decay"])
    per_epoch = -(-len(users) // hp["batch_size"])
    best = {"score": -1.0, "state": None, "epoch": 0, "bad": 0}
    order = torch.arange(len(users))
    start = time.time()

    def new_epoch(epoch: int, first: bool) -> None:
        nonlocal order
        model.train()
        order = torch.randperm(len(users), generator=g)

    def loss_fn(step: int) -> tuple[torch.Tensor, dict[str, float]]:
        b = (step % per_epoch) * hp["batch_size"]
        idx = order[b: b + hp["batch_size"]]
        neg = torch.randint(0, n_items, (len(idx),), generator=g)
        h = hist[idx] if hist is not None else None
        loss = bpr_loss(model.score(users[idx], items[idx], h), model.score(users[idx], neg, h))
        if hp.get("reg", 0.0):
            loss = loss + hp["reg"] * model.penalty(users[idx], items[idx], neg)
        return loss, {"n": len(idx)}

    def validation() -> dict[str, float]:
        model.eval()
        return {"val_ndcg10": validate(model)}

    def early_stop(done: int, row: dict[str, float]) -> bool:
        if row["val_ndcg10"] > best["score"]:
            best.update(score=row["val_ndcg10"], state=copy.deepcopy(model.state_dict()), epoch=done // per_epoch,
                        bad=0)
        else:
            best["bad"] += 1
        return best["bad"] >= hp["patience"]

    history = training.run_steps(training.loss_step(loss_fn, opt), total=hp["epochs"] * per_epoch, chunk=per_epoch,
                                 optimizers=[opt], chunk_start=new_epoch, weight="n", evaluate=validation,
                                 on_chunk=early_stop, desc=type(model).__name__ if progress else None)
    log = {"loss": history["loss"], "val_ndcg10": history["val_ndcg10"]}
    best, best_state, best_epoch = best["score"], best["state"], best["epoch"]
    model.load_state_dict(best_state)
    return {**log, "best_epoch": best_epoch, "best_val_ndcg10": best, "train_seconds": time.time() - start}


__all__ = ["BPRMF", "RecData", "TextHistoryRecommender", "bpr_loss", "exclusion_mask", "history_matrix",
           "item_texts", "itemknn_scores", "leave_last_out", "next_item_examples", "popularity_scores",
           "random_holdout", "text_embeddings", "timestamp_stats", "train_bpr"]
