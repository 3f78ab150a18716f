"""Character n-gram language models: count, smooth, score in nats per character, sample.

An order-``n`` model predicts a character from the ``n - 1`` characters before it:
``P(w | h)`` with ``h`` the context. Counting gives the maximum-likelihood estimate
``N(h, w) / N(h)``, which is zero for every n-gram the training text never contains, so a
held-out text gets infinite loss. Two smoothings fix that:

* ``"add_k"`` (Lidstone; ``k = 1`` is Laplace): ``P(w | h) = (N(h, w) + k) / (N(h) + k V)``.
* ``"kneser_ney"``: interpolated Kneser–Ney (Chen & Goodman 1998) with one absolute discount ``D``
  per order. It takes ``D`` off every seen count and gives the freed mass to the next-lower order,
  whose counts are *continuation* counts (in how many different contexts a string occurs).

Counts are kept sparse: an n-gram of ids ``(a, b, c)`` is the integer key ``(a V + b) V + c``, the
keys are sorted, and a lookup is a binary search (``torch.searchsorted``). Shapes: ``V`` vocabulary
size, ``B`` number of contexts.
"""

from __future__ import annotations

import torch

from ..metrics.text import perplexity  # noqa: F401  (re-exported: chapter 07 calls ngram.perplexity)

SMOOTHINGS = ("add_k", "kneser_ney")
MIN_DISCOUNT = 0.05
"""Kneser–Ney discounts are at least this, so every character keeps a probability above zero (a text whose
n-grams all occur twice or more would otherwise get ``D = 0`` and no mass for unseen continuations)."""


def ngram_keys(ids: torch.Tensor, n: int, vocab_size: int) -> torch.Tensor:
    """``(len(ids) - n + 1,)`` int64 keys of every length-``n`` window of ``ids`` (base-``V`` numbers)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, not {n}")
    if vocab_size**n >= 2**62:
        raise ValueError(f"{vocab_size}^{n} keys do not fit in int64; use a smaller order")
    windows = ids.long().unfold(0, n, 1)  # (N - n + 1, n)
    powers = vocab_size ** torch.arange(n - 1, -1, -1, dtype=torch.long)
    return windows @ powers


class _Table:
    """Sorted unique keys with counts; ``get(q)`` returns the counts of arbitrary keys (0 if absent)."""

    def __init__(self, keys: torch.Tensor, counts: torch.Tensor) -> None:
        order = keys.argsort()
        self.keys, self.counts = keys[order], counts[order].double()

    @classmethod
    def count(cls, keys: torch.Tensor) -> _Table:
        uniq, counts = torch.unique(keys, return_counts=True)
        return cls(uniq, counts)

    def get(self, query: torch.Tensor) -> torch.Tensor:
        if len(self.keys) == 0:
            return torch.zeros(query.shape, dtype=torch.float64)
        idx = torch.searchsorted(self.keys, query).clamp(max=len(self.keys) - 1)
        return torch.where(self.keys[idx] == query, self.counts[idx], torch.zeros((), dtype=torch.float64))


def _group_sum(keys: torch.Tensor, values: torch.Tensor, divisor: int) -> _Table:
    """Sum ``values`` over keys that share ``key // divisor`` (e.g. ``N(h) = sum_w N(h, w)``)."""
    groups, inverse = torch.unique(keys // divisor, return_inverse=True)
    return _Table(groups, torch.zeros(len(groups), dtype=torch.float64).index_add_(0, inverse, values))


class CharNGram:
    """An order-``order`` character n-gram model over ids ``0 … vocab_size - 1``.

    ``smoothing``: ``"add_k"`` (with ``k``) or ``"kneser_ney"`` (discounts estimated from the counts,
    ``D = n1 / (n1 + 2 n2)``, where ``n_r`` is the number of n-grams seen exactly ``r`` times, and at
    least :data:`MIN_DISCOUNT`).
    Call :meth:`fit` on training ids, then :meth:`log_probs`, :meth:`nll` or :meth:`sample`.
    """

    def __init__(self, order: int, vocab_size: int, smoothing: str = "add_k", k: float = 1.0) -> None:
        if order < 1:
            raise ValueError(f"order must be >= 1, not {order}")
        if smoothing not in SMOOTHINGS:
            raise ValueError(f"smoothing must be one of {SMOOTHINGS}, not {smoothing!r}")
        if smoothing == "add_k" and k <= 0:
            raise ValueError("add-k smoothing needs k > 0 (k = 0 is the unsmoothed estimate: "
                             "infinite loss on unseen n-grams)")
        self.order, self.V, self.smoothing, self.k = order, vocab_size, smoothing, float(k)
        self.tables: list[_Table] = []  # tables[m - 1]: counts of m-grams (continuation counts below the top order)
        self.context_totals: list[_Table] = []  # N(h) per (m-1)-gram context h
        self.context_types: list[_Table] = []  # number of distinct w with N(h, w) > 0
        self.discounts: list[float] = []

    def __repr__(self) -> str:
        extra = f", k={self.k:g}" if self.smoothing == "add_k" else ""
        return f"CharNGram(order={self.order}, vocab_size={self.V}, smoothing={self.smoothing!r}{extra})"

    # ---------------------------------------------------------------------------------------- fit
    def fit(self, ids: torch.Tensor) -> CharNGram:
        """Count the n-grams of the 1-D id tensor ``ids``; returns ``self``."""
        n, V = self.order, self.V
        if len(ids) < n:
            raise ValueError(f"need at least {n} ids to count {n}-grams")
        top = _Table.count(ngram_keys(ids, n, V))
        orders = range(1, n + 1) if self.smoothing == "kneser_ney" else [n]
        self.tables, self.context_totals, self.context_types, self.discounts = [], [], [], []
        for m in orders:
            if m == n:
                table = top
            else:  # continuation count of the m-gram g: how many distinct characters precede g
                higher = _Table.count(ngram_keys(ids, m + 1, V))
                table = _Table.count(higher.keys % V**m)
            self.tables.append(table)
            self.context_totals.append(_group_sum(table.keys, table.counts, V))
            self.context_types.append(_group_sum(table.keys, torch.ones_like(table.counts), V))
            n1, n2 = float((table.counts == 1).sum()), float((table.counts == 2).sum())
            self.discounts.append(max(n1 / (n1 + 2 * n2), MIN_DISCOUNT) if n1 + n2 > 0 else 0.5)
        return self

    # ---------------------------------------------------------------------------------- predict
    def _context_ids(self, contexts: torch.Tensor, m: int) -> torch.Tensor:
        """``(B,)`` keys of the last ``m - 1`` ids of each context row (0 for the empty context)."""
        if m == 1:
            return torch.zeros(len(contexts), dtype=torch.long)
        return ngram_keys_rows(contexts[:, -(m - 1):], self.V)

    def log_probs(self, contexts: torch.Tensor) -> torch.Tensor:
        """``(B, V)`` float64 log-probabilities of the next id after each row of ``contexts`` ``(B, order - 1)``."""
        contexts = self._check_contexts(contexts)
        return self._probs(contexts, torch.arange(self.V).expand(len(contexts), -1)).log()

    def _check_contexts(self, contexts: torch.Tensor) -> torch.Tensor:
        if not self.tables:
            raise RuntimeError("call fit(ids) before asking for probabilities")
        contexts = torch.as_tensor(contexts, dtype=torch.long)
        contexts = contexts[None] if contexts.dim() == 1 else contexts
        if contexts.shape[1] != self.order - 1:
            raise ValueError(f"an order-{self.order} model needs contexts of {self.order - 1} ids, "
                             f"got {contexts.shape[1]}")
        return contexts

    def _probs(self, contexts: torch.Tensor, nxt: torch.Tensor) -> torch.Tensor:
        """``(B, K)`` probabilities of the ids ``nxt`` ``(B, K)`` after each context row ``(B, order - 1)``."""
        V = self.V
        if self.smoothing == "add_k":
            h = self._context_ids(contexts, self.order)[:, None]
            counts = self.tables[0].get(h * V + nxt)
            return (counts + self.k) / (self.context_totals[0].get(h) + self.k * V)
        probs = torch.full(nxt.shape, 1.0 / V, dtype=torch.float64)  # order 0: uniform
        for m in range(1, self.order + 1):  # interpolate upwards: unigram, bigram, …, the full order
            table, d = self.tables[m - 1], self.discounts[m - 1]
            h = self._context_ids(contexts, m)[:, None]
            total, kinds = self.context_totals[m - 1].get(h), self.context_types[m - 1].get(h)
            safe = total.clamp(min=1.0)
            mixed = (table.get(h * V + nxt) - d).clamp(min=0.0) / safe + d * kinds / safe * probs
            probs = torch.where(total > 0, mixed, probs)  # a context never seen: back off entirely
        return probs

    def nll(self, ids: torch.Tensor, chunk: int = 20_000) -> float:
        """Mean negative log-likelihood in **nats per character** of ``ids[order-1:]``, each given the
        ``order - 1`` ids before it."""
        n = self.order
        windows = torch.as_tensor(ids, dtype=torch.long).unfold(0, n, 1)  # (N - n + 1, n)
        self._check_contexts(windows[:1, :-1])
        total = 0.0
        for part in windows.split(chunk):
            total -= float(self._probs(part[:, :-1], part[:, -1:]).log().sum())
        return total / len(windows)

    @torch.no_grad()
    def sample(self, prompt: torch.Tensor, length: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``prompt`` (≥ ``order - 1`` ids) followed by ``length`` sampled ids, ``(len(prompt) + length,)``."""
        out = [int(i) for i in torch.as_tensor(prompt).tolist()]
        if len(out) < self.order - 1:
            raise ValueError(f"an order-{self.order} model needs a prompt of at least {self.order - 1} ids")
        for _ in range(length):
            context = torch.tensor(out[len(out) - (self.order - 1):] if self.order > 1 else [], dtype=torch.long)
            p = self.log_probs(context[None]).exp()[0]
            out.append(int(torch.multinomial(p.float(), 1, generator=generator)))
        return torch.tensor(out, dtype=torch.long)


def ngram_keys_rows(rows: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """``(B,)`` base-``V`` keys of the rows of ``rows`` ``(B, m)``."""
    m = rows.shape[1]
    return rows.long() @ (vocab_size ** torch.arange(m - 1, -1, -1, dtype=torch.long))


def choose_k(train_ids: torch.Tensor, order: int, vocab_size: int, ks: tuple[float, ...],
             heldout_frac: float = 0.1) -> tuple[float, dict[float, float]]:
    """Pick the add-``k`` constant for an order-``order`` model **without touching validation data**:
    fit on the first ``1 - heldout_frac`` of ``train_ids`` and score the rest. Returns
    ``(best_k, {k: held-out nats per char})``."""
    cut = int(len(train_ids) * (1 - heldout_frac))
    fit_part, held = train_ids[:cut], train_ids[cut:]
    model = CharNGram(order, vocab_size, "add_k", ks[0]).fit(fit_part)  # the counts do not depend on k
    scores = {}
    for k in ks:
        model.k = float(k)
        scores[k] = model.nll(held)
    best = min(scores, key=scores.get)
    return best, scores


