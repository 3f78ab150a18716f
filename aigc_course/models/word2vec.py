"""Word embeddings with skip-gram and negative sampling (SGNS, word2vec; Mikolov et al. 2013).

Every word ``w`` gets two vectors: an *input* vector ``v_w`` (used when ``w`` is the centre word)
and an *output* vector ``u_w`` (used when ``w`` is a context word). For a centre word ``c``, a
context word ``o`` seen within ``window`` positions of it, and ``K`` noise words ``n_1 … n_K`` drawn
from the unigram distribution raised to the power 3/4, the loss is

    L = -log σ(u_o · v_c) - Σ_k log σ(-u_{n_k} · v_c),

a binary classification "real context pair or noise?" whose solution makes ``u_o · v_c`` close to
the pointwise mutual information of the two words minus ``log K`` (Levy & Goldberg 2014). Words
that occur in similar contexts end up with similar input vectors.

Shapes: ``V`` vocabulary size, ``D`` embedding dimension, ``B`` pairs per batch, ``K`` negatives.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

WORD_RE = re.compile(r"[a-z]+(?:'[a-z]+)*|[.,!?;:]")
"""Lower-case words (with inner apostrophes: ``o'er``, ``i'll``) and the punctuation marks ``. , ! ? ; :``."""


def tokenize_words(text: str) -> list[str]:
    """Lower-cased word and punctuation tokens of ``text`` (line breaks, other symbols and case are dropped)."""
    return WORD_RE.findall(text.lower())


class WordVocab:
    """Words seen at least ``min_count`` times, most frequent first, plus ``unk`` (id 0) for the rest."""

    def __init__(self, words: Sequence[str], counts: dict[str, int], unk: str = "<unk>") -> None:
        self.unk = unk
        self.itos: list[str] = [unk, *words]
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.counts = counts

    @classmethod
    def from_tokens(cls, tokens: Iterable[str], min_count: int = 3, unk: str = "<unk>") -> WordVocab:
        counts = Counter(tokens)
        words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        return cls(words, dict(counts), unk)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word: str) -> bool:
        return word in self.stoi

    def encode(self, tokens: Iterable[str]) -> torch.Tensor:
        """``(N,)`` int64 ids; words outside the vocabulary become ``unk`` (id 0)."""
        return torch.tensor([self.stoi.get(t, 0) for t in tokens], dtype=torch.long)

    def decode(self, ids: torch.Tensor | Sequence[int]) -> list[str]:
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else ids
        return [self.itos[i] for i in ids]

    def frequencies(self, ids: torch.Tensor) -> torch.Tensor:
        """``(V,)`` float counts of every id in the 1-D tensor ``ids``."""
        return torch.bincount(ids, minlength=len(self)).double()


# --------------------------------------------------------------------------------------------
# Training pairs
# --------------------------------------------------------------------------------------------
def keep_probabilities(freq: torch.Tensor, t: float | None) -> torch.Tensor:
    """``(V,)`` probability of keeping each occurrence of a word when frequent words are sub-sampled:
    ``min(1, sqrt(t / f) + t / f)`` with ``f`` the word's relative frequency (word2vec's formula).
    ``t=None`` keeps everything."""
    if t is None:
        return torch.ones_like(freq)
    f = freq / freq.sum()
    return ((t / f).sqrt() + t / f).clamp(max=1.0).nan_to_num(1.0)


def skipgram_pairs(ids: torch.Tensor, window: int, keep: torch.Tensor | None = None,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """All ``(centre, context)`` id pairs of one pass over ``ids`` ``(N,)``, each ``(P,)``.

    Occurrences are first sub-sampled with ``keep`` (per id). As in word2vec, each centre uses a
    random window ``b ~ U{1 … window}`` so that near neighbours appear more often than far ones.
    """
    if keep is not None:
        ids = ids[torch.rand(len(ids), generator=generator) < keep[ids]]
    n = len(ids)
    reach = torch.randint(1, window + 1, (n,), generator=generator)
    centres, contexts = [], []
    for offset in range(1, window + 1):
        pos = torch.arange(n - offset)
        for c, o in ((pos, pos + offset), (pos + offset, pos)):  # context after, then before, the centre
            ok = reach[c] >= offset
            centres.append(ids[c[ok]])
            contexts.append(ids[o[ok]])
    return torch.cat(centres), torch.cat(contexts)


def noise_distribution(freq: torch.Tensor, power: float = 0.75) -> torch.Tensor:
    """``(V,)`` probabilities ``f^power / Σ f^power`` of drawing each word as a negative."""
    p = freq.double().pow(power)
    return (p / p.sum()).float()


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------
class SkipGram(nn.Module):
    """Input vectors ``inp`` ``(V, D)`` and output vectors ``out`` ``(V, D)``.

    ``forward(centre (B,), context (B,), negatives (B, K)) -> mean SGNS loss`` (a scalar, nats).
    Initialised as word2vec does: input vectors uniform in ``±0.5 / D``, output vectors zero.
    """

    def __init__(self, vocab_size: int, dim: int = 64) -> None:
        super().__init__()
        self.inp = nn.Embedding(vocab_size, dim)
        self.out = nn.Embedding(vocab_size, dim)
        nn.init.uniform_(self.inp.weight, -0.5 / dim, 0.5 / dim)
        nn.init.zeros_(self.out.weight)

    def forward(self, centre: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
        v = self.inp(centre)  # (B, D)
        pos = (self.out(context) * v).sum(-1)  # (B,)   u_o · v_c
        neg = (self.out(negatives) * v[:, None, :]).sum(-1)  # (B, K)   u_n · v_c (faster than bmm for tiny matrices)
        return -(F.logsigmoid(pos) + F.logsigmoid(-neg).sum(-1)).mean()

    def vectors(self) -> torch.Tensor:
        """``(V, D)`` the input vectors: the word embeddings."""
        return self.inp.weight.detach().clone()


@dataclass
class SGNSConfig:
    """How :func:`train_sgns` trains: ``epochs`` passes of fresh (re-sub-sampled) pairs, Adam with
    a learning rate decaying linearly from ``lr`` to ``lr * min_lr_frac``."""

    dim: int = 64
    window: int = 4
    negatives: int = 5
    subsample: float | None = 1e-3
    epochs: int = 3
    batch_size: int = 1024
    lr: float = 0.01
    min_lr_frac: float = 0.05
    seed: int = 0


def train_sgns(ids: torch.Tensor, vocab_size: int, cfg: SGNSConfig, model: SkipGram | None = None,
               progress: Callable[[int, float], None] | None = None) -> tuple[SkipGram, dict[str, list[float]]]:
    """Train a :class:`SkipGram` (``model``, or a fresh seeded one) on the 1-D word ids ``ids``.
    Returns the model and its history: ``step``, ``loss`` (mean SGNS loss over the last interval of
    steps) and ``seconds``."""
    gen = torch.Generator().manual_seed(cfg.seed)
    freq = torch.bincount(ids, minlength=vocab_size).double()
    keep = keep_probabilities(freq, cfg.subsample)
    noise = noise_distribution(freq)
    if model is None:
        torch.manual_seed(cfg.seed)
        model = SkipGram(vocab_size, cfg.dim)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    epoch_pairs = [skipgram_pairs(ids, cfg.window, keep, gen) for _ in range(cfg.epochs)]
    total = sum(math.ceil(len(c) / cfg.batch_size) for c, _ in epoch_pairs)
    from ..core import training

    batches = iter(())
    epochs = iter(epoch_pairs)
    pair: tuple[torch.Tensor, torch.Tensor] = epoch_pairs[0]

    def loss_fn(step: int) -> torch.Tensor:
        nonlocal batches, pair
        batch = next(batches, None)
        if batch is None:  # the next epoch: a fresh order of its (re-sub-sampled) pairs
            pair = next(epochs)
            batches = iter(torch.randperm(len(pair[0]), generator=gen).split(cfg.batch_size))
            batch = next(batches)
        negs = torch.multinomial(noise, len(batch) * cfg.negatives, replacement=True, generator=gen)
        return model(pair[0][batch], pair[1][batch], negs.view(len(batch), cfg.negatives))

    history = training.run_steps(
        training.loss_step(loss_fn, opt), total=total, chunk=max(1, total // 50), optimizers=[opt],
        lr_at=lambda step, _: cfg.lr * (1 - (1 - cfg.min_lr_frac) * step / max(total - 1, 1)),
        on_chunk=(lambda step, row: progress(step, row["loss"])) if progress is not None else None)
    return model.eval(), history


# --------------------------------------------------------------------------------------------
# Using the vectors
# --------------------------------------------------------------------------------------------
def cosine_neighbours(vectors: torch.Tensor, query: int, k: int = 5) -> list[tuple[int, float]]:
    """The ``k`` ids whose vectors have the highest cosine similarity with ``vectors[query]`` (itself excluded)."""
    unit = F.normalize(vectors.float(), dim=1)
    sims = unit @ unit[query]
    sims[query] = -float("inf")
    top = sims.topk(k)
    return list(zip(top.indices.tolist(), top.values.tolist()))


def init_embedding(embedding: nn.Embedding, vectors: torch.Tensor, match_std: bool = True) -> None:
    """Copy ``vectors`` ``(V, D)`` into ``embedding`` (in place). With ``match_std`` every dimension is
    first centred (which removes the direction that all SGNS vectors share) and rescaled to the
    standard deviation of the embedding's current (random) weights, so that a comparison with random
    initialisation changes what the vectors encode, not their scale."""
    if tuple(vectors.shape) != tuple(embedding.weight.shape):
        raise ValueError(f"vectors have shape {tuple(vectors.shape)}, the embedding {tuple(embedding.weight.shape)}")
    with torch.no_grad():
        v = vectors.to(embedding.weight)
        if match_std:
            v = (v - v.mean(0)) / v.std(0) * embedding.weight.std()  # per dimension: removes the shared direction
        embedding.weight.copy_(v)
