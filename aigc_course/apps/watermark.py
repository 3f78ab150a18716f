"""A green-list watermark for generated text (Kirchenbauer et al. 2023, "A Watermark for Large Language
Models", ICML), on the course's character-level mini-GPT (chapter 14).

The scheme, with vocabulary size ``V``, green share ``γ`` and bias ``δ``:

- a secret ``key`` and the **previous** token ``p`` seed a random permutation of the vocabulary; its first
  ``round(γ V)`` tokens are the *green list* ``G(p)``. :func:`green_lists` tabulates all of them as a
  ``(V, V)`` boolean matrix (row = previous token);
- **generation** adds ``δ`` to the logits of the green tokens before sampling — high-entropy steps then
  pick green tokens more often, low-entropy steps are hardly changed;
- **detection** needs only the key: count the green tokens ``|s|_G`` among ``T`` scored tokens and compute
  ``z = (|s|_G − γ T) / √(T γ (1 − γ))``. Without the watermark each token is green with probability ``γ``,
  so ``z`` is approximately standard normal; a large ``z`` is evidence of the watermark.

``unique=True`` (the default in :func:`z_scores`) scores each (previous, token) pair once: human text repeats
common pairs ("th", "he"), and repeated pairs are not independent draws. With distinct pairs the null count
is at most as spread as a binomial, so the normal threshold stays valid (conservative).

Shapes: ``B`` texts, ``T`` tokens, ``V`` vocabulary. Token ids are int64.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..metrics.classification import rate_interval  # noqa: F401  (part of this module's API)
from ..models.lm import eval_windows


def green_lists(vocab_size: int, gamma: float, key: int) -> torch.Tensor:
    """The green lists of every previous token: bool ``(V, V)``, row ``p`` = ``G(p)`` with ``round(γ V)`` entries."""
    if not 0.0 < gamma < 1.0:
        raise ValueError(f"gamma (the green share) must lie in (0, 1); got {gamma}")
    if vocab_size < 2:
        raise ValueError(f"need a vocabulary of at least 2 tokens; got {vocab_size}")
    n_green = round(gamma * vocab_size)
    table = torch.zeros(vocab_size, vocab_size, dtype=torch.bool)
    for prev in range(vocab_size):
        g = torch.Generator().manual_seed((key * 1_000_003 + prev) % (2**63 - 1))
        table[prev, torch.randperm(vocab_size, generator=g)[:n_green]] = True
    return table


def bias_logits(logits: torch.Tensor, prev: torch.Tensor, green: torch.Tensor, delta: float) -> torch.Tensor:
    """``logits + δ · 1[token ∈ G(prev)]``: logits ``(..., V)``, previous tokens ``(...)`` → ``(..., V)``."""
    return logits + delta * green.to(logits.device)[prev].to(logits.dtype)


@torch.no_grad()
def generate(model: nn.Module, prompts: torch.Tensor, n_new: int, green: torch.Tensor | None = None,
             delta: float = 0.0, *, temperature: float = 1.0, generator: torch.Generator | None = None
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``n_new`` tokens after ``prompts`` ``(B, P)`` from ``softmax(logits / τ + δ · green)``.

    Returns ``(tokens (B, n_new), nll (B, n_new))`` where ``nll`` is each chosen token's negative
    log-probability under the **unwatermarked** model at ``τ = 1`` (for the perplexity cost). ``green=None``
    or ``delta=0`` gives plain sampling. Works with any model that has ``prefill`` / ``extend`` (lm.py)."""
    if prompts.ndim != 2 or prompts.shape[1] == 0:
        raise ValueError(f"prompts must be (B, P) ids with P >= 1; got {tuple(prompts.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0; got {temperature}")
    model.eval()
    device = next(model.parameters()).device
    idx = prompts.to(device)
    logits, state = model.prefill(idx)
    tokens, nlls = [], []
    for _ in range(n_new):
        scaled = logits.float() / temperature
        if green is not None and delta != 0:
            scaled = bias_logits(scaled, idx[:, -1], green, delta)
        nxt = torch.multinomial(scaled.softmax(-1).cpu(), 1, generator=generator).to(device)  # (B, 1)
        nlls.append(-logits.float().log_softmax(-1).gather(1, nxt))
        tokens.append(nxt)
        idx = torch.cat([idx, nxt], dim=1)
        logits, state = model.extend(idx, state)
    return torch.cat(tokens, 1).cpu(), torch.cat(nlls, 1).cpu()


def green_hits(context: torch.Tensor, tokens: torch.Tensor, green: torch.Tensor) -> torch.Tensor:
    """Is each token green given the token before it? ``context`` ``(B,)`` (the token before the first
    scored one), ``tokens`` ``(B, T)`` → bool ``(B, T)``."""
    if tokens.ndim != 2 or context.shape != (tokens.shape[0],):
        raise ValueError(f"need tokens (B, T) and context (B,); got {tuple(tokens.shape)} and {tuple(context.shape)}")
    prev = torch.cat([context[:, None], tokens[:, :-1]], dim=1)
    return green[prev, tokens]


def z_score(count: float | np.ndarray | torch.Tensor, n: float | np.ndarray | torch.Tensor, gamma: float):
    """``z = (count − γ n) / √(n γ (1 − γ))``: green ``count`` among ``n`` scored tokens (elementwise)."""
    if not 0.0 < gamma < 1.0:
        raise ValueError(f"gamma must lie in (0, 1); got {gamma}")
    if isinstance(n, torch.Tensor):
        n = n.double()
        return (count - gamma * n) / torch.sqrt(n * gamma * (1 - gamma))
    n = np.asarray(n, dtype=float)
    return (np.asarray(count, dtype=float) - gamma * n) / np.sqrt(n * gamma * (1 - gamma))


def green_share(green: torch.Tensor) -> float:
    """The exact green share ``γ = round(γ V) / V`` of a table from :func:`green_lists` (e.g. 32/65, not 0.5):
    the detector must use this value, or plain text gets a biased ``z``."""
    return int(green[0].sum()) / green.shape[1]


def z_scores(context: torch.Tensor, tokens: torch.Tensor, green: torch.Tensor, *,
             unique: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Detection: ``(z (B,), green count (B,), scored tokens (B,))`` for every text, with ``γ`` =
    :func:`green_share` of the table. With ``unique`` each distinct (previous, token) pair counts once."""
    gamma = green_share(green)
    hits = green_hits(context, tokens, green)
    if not unique:
        counts = hits.sum(1).numpy().astype(float)
        n = np.full(len(tokens), tokens.shape[1], dtype=float)
        return z_score(counts, n, gamma), counts, n
    prev = torch.cat([context[:, None], tokens[:, :-1]], dim=1)
    pair = prev * green.shape[0] + tokens  # (B, T) one id per (previous, token) pair
    counts, n = np.zeros(len(tokens)), np.zeros(len(tokens))
    for b in range(len(tokens)):
        ids, first = np.unique(pair[b].numpy(), return_index=True)
        counts[b], n[b] = float(hits[b, torch.as_tensor(first)].sum()), float(len(ids))
    return z_score(counts, n, gamma), counts, n


def threshold_for_fpr(fpr: float) -> float:
    """The one-sided normal threshold ``z*`` with ``P(Z > z*) = fpr``."""
    if not 0.0 < fpr < 1.0:
        raise ValueError(f"fpr must lie in (0, 1); got {fpr}")
    return NormalDist().inv_cdf(1 - fpr)


def calibrate_threshold(z_calib: np.ndarray, fpr: float) -> float:
    """The detection threshold for a false-positive rate ``fpr``, set on **calibration** scores only: the larger
    of the normal ``z*`` and the ``(k+1)``-th largest of the ``n`` unwatermarked scores ``z_calib`` (1-D),
    ``k = floor(fpr · n)``, so that at most ``k`` of them lie above it. Report the false-positive rate on other
    texts (:func:`flag_rate`): on the calibration texts it holds by construction."""
    z_calib = np.asarray(z_calib, dtype=float)
    if z_calib.size == 0:
        raise ValueError("need unwatermarked calibration scores")
    k = int(np.floor(fpr * z_calib.size + 1e-9))
    empirical = float(np.sort(z_calib)[::-1][min(k, z_calib.size - 1)])
    return max(threshold_for_fpr(fpr), empirical)


def flag_rate(z: np.ndarray, threshold: float, level: float = 0.95) -> dict[str, float]:
    """Share of the scores ``z`` (1-D) above ``threshold``: ``{"rate", "k", "n", "low", "high"}`` with the
    Clopper–Pearson interval of :func:`rate_interval` at ``level``."""
    z = np.asarray(z, dtype=float)
    k, n = int((z > threshold).sum()), int(z.size)
    low, high = rate_interval(k, n, level)
    return {"rate": k / n, "k": k, "n": n, "low": low, "high": high}


def tpr_at_fpr(z_marked: np.ndarray, z_plain: np.ndarray, fpr: float) -> dict[str, float]:
    """True-positive rate at a false-positive rate ``fpr``: a text is flagged when ``z > threshold``, and the
    threshold is the larger of the normal ``z*`` and the empirical one — the ``(k+1)``-th largest unwatermarked
    score, ``k = floor(fpr · n)``, so that at most ``k`` of the ``n`` scores ``z_plain`` lie above it. Neither
    the theory nor the sample can make it too lenient. Returns ``{"threshold", "tpr", "fpr"}`` (``fpr`` = the
    share of ``z_plain`` above the threshold, ≤ the requested rate)."""
    z_marked, z_plain = np.asarray(z_marked, dtype=float), np.asarray(z_plain, dtype=float)
    if z_marked.size == 0 or z_plain.size == 0:
        raise ValueError("need watermarked and unwatermarked scores")
    thr = calibrate_threshold(z_plain, fpr)
    return {"threshold": thr, "tpr": float((z_marked > thr).mean()), "fpr": float((z_plain > thr).mean())}


@torch.no_grad()
def watermarked_loss(model: nn.Module, data: torch.Tensor, block_size: int, green: torch.Tensor | None,
                     delta: float, *, max_windows: int | None = None, batch: int = 64) -> float:
    """Cross-entropy (nats per character) of the *watermarked* next-token distribution
    ``softmax(logits + δ · green[previous])`` on held-out ids ``data`` (1-D), over the windows of
    :func:`~aigc_course.models.lm.eval_windows`. ``δ = 0`` is the model's own loss."""
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for chunk in eval_windows(data, block_size, max_windows).split(batch):
        chunk = chunk.to(device)
        x, y = chunk[:, :-1], chunk[:, 1:]
        logits = model(x).float()
        if green is not None and delta != 0:
            logits = bias_logits(logits, x, green, delta)
        total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum"))
        count += y.numel()
    return total / count


def substitute(tokens: torch.Tensor, share: float, vocab_size: int, generator: torch.Generator | None = None
               ) -> torch.Tensor:
    """An edit attack: replace a random ``share`` of the tokens ``(B, T)`` by uniformly random ones."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must lie in [0, 1]; got {share}")
    hit = torch.rand(tokens.shape, generator=generator) < share
    random = torch.randint(0, vocab_size, tokens.shape, generator=generator)
    return torch.where(hit, random, tokens)


def binomial_tail(n: int, gamma: float, k_min: int) -> float:
    """Exact ``P(Binomial(n, γ) ≥ k_min)`` (to compare the normal approximation with)."""
    return float(sum(math.comb(n, k) * gamma**k * (1 - gamma) ** (n - k) for k in range(max(k_min, 0), n + 1)))


__all__ = ["bias_logits", "binomial_tail", "calibrate_threshold", "flag_rate", "generate", "green_hits",
           "green_share", "green_lists", "rate_interval", "substitute", "threshold_for_fpr", "tpr_at_fpr",
           "watermarked_loss", "z_score", "z_scores"]
