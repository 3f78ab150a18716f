"""Speech metrics for chapter 10: digit error rate and the diagonality of an attention alignment.

**Digit error rate (DER).** Like the word error rate of speech recognition: the Levenshtein distance
(substitutions + deletions + insertions) between the recognised digit sequence ``h`` and the
reference ``r``, divided by the reference length. Over a corpus the edits and lengths are summed
before dividing,

    DER = Σ_u lev(h_u, r_u) / Σ_u |r_u|,

so long utterances weigh more. It is 0 for a perfect transcript and can exceed 1 (insertions).

**Alignment diagonality.** An attention matrix ``α`` ``(T, N)`` (decoder steps × characters, rows sum
to 1) of a good TTS alignment runs from the top-left to the bottom-right corner. With the centre
coordinates ``t' = (t + ½) / T`` and ``n' = (n + ½) / N``, the diagonality is the share of the
attention mass inside the band ``|n' - t'| ≤ b``:

    diag_b(α) = Σ_{t,n: |n'-t'| ≤ b} α_tn / Σ_{t,n} α_tn.

It is 1 for a perfect diagonal, about ``2b - b²`` (the band's share of the unit square) for a
uniform matrix, and small for an alignment stuck on one character.

**DTW log-mel distance.** A synthesised utterance and a recording of the same text differ in timing, so
their frames are first aligned by dynamic time warping (the symmetric step pattern: a diagonal step costs
twice the frame distance, a horizontal or vertical one once), and the total cost is divided by
``T₁ + T₂``: the mean frame distance along the best alignment. The frame distance is the RMS difference of
the two log-mel frames in dB (natural-log magnitudes × 20 / ln 10). It is a mel-cepstral-distortion-style
measure (Kubichek 1993 on cepstra with DTW) computed on log-mels: 0 for identical frames, lower is closer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def edit_distance(hypothesis: Sequence, reference: Sequence) -> int:
    """Levenshtein distance (unit costs) between two sequences (strings or lists)."""
    h, r = list(hypothesis), list(reference)
    prev = list(range(len(r) + 1))
    for i, hi in enumerate(h, 1):
        cur = [i] + [0] * len(r)
        for j, rj in enumerate(r, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (hi != rj))
        prev = cur
    return prev[-1]


def digit_error_rate(hypotheses: Sequence[str] | str, references: Sequence[str] | str) -> float:
    """Corpus DER: total edit distance over total reference length (one string each, or two lists)."""
    if isinstance(hypotheses, str) and isinstance(references, str):
        hypotheses, references = [hypotheses], [references]
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    total = sum(len(r) for r in references)
    if total == 0:
        raise ValueError("the references are empty: the DER is undefined")
    return sum(edit_distance(h, r) for h, r in zip(hypotheses, references)) / total


def band_mask(n_steps: int, n_text: int, band: float = 0.2) -> np.ndarray:
    """``(T, N)`` bool: True where ``|(n + ½)/N - (t + ½)/T| ≤ band``."""
    t = (np.arange(n_steps)[:, None] + 0.5) / n_steps
    n = (np.arange(n_text)[None, :] + 0.5) / n_text
    return np.abs(n - t) <= band + 1e-12


def alignment_diagonality(alignment: torch.Tensor | np.ndarray, band: float = 0.2) -> float:
    """Share of the attention mass of ``alignment`` ``(T, N)`` inside the diagonal band of half-width ``band``."""
    a = alignment.detach().cpu().double().numpy() if isinstance(alignment, torch.Tensor) else np.asarray(alignment,
                                                                                                       float)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"alignment must be a non-empty (steps, characters) matrix; got shape {a.shape}")
    total = a.sum()
    if total <= 0:
        raise ValueError("the alignment has no mass")
    return float(a[band_mask(*a.shape, band)].sum() / total)


def dtw_log_mel_distance(reference: torch.Tensor | np.ndarray, estimate: torch.Tensor | np.ndarray) -> float:
    """Mean frame distance in dB between two natural-log mel spectrograms ``(n_mels, T₁)`` and ``(n_mels, T₂)``
    along their DTW alignment (symmetric steps, normalised by ``T₁ + T₂``)."""
    a = reference.detach().cpu().double().numpy() if isinstance(reference, torch.Tensor) else np.asarray(reference,
                                                                                                        float)
    b = estimate.detach().cpu().double().numpy() if isinstance(estimate, torch.Tensor) else np.asarray(estimate,
                                                                                                      float)
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[0] or not a.size or not b.size:
        raise ValueError(f"need two (n_mels, frames) arrays with the same n_mels; got {a.shape} and {b.shape}")
    db = 20.0 / np.log(10.0)
    cost = np.sqrt((((a.T[:, None, :] - b.T[None, :, :]) * db) ** 2).mean(-1))  # (T1, T2)
    prev = np.full(b.shape[1] + 1, np.inf)
    prev[0] = 0.0  # the virtual cell (-1, -1)
    for i in range(cost.shape[0]):
        c = cost[i]
        diag, up = prev[:-1] + 2 * c, prev[1:] + c  # from (i-1, j-1) and (i-1, j)
        best = np.minimum(diag, up)
        # left moves within the row: D[j] = min_k<=j (best[k] + sum c[k+1..j]), a running minimum
        run = np.cumsum(c)
        row = run + np.minimum.accumulate(best - run)
        prev = np.concatenate([[np.inf], row])  # the virtual corner is only reachable from row 0
    return float(prev[-1] / (cost.shape[0] + cost.shape[1]))


__all__ = ["edit_distance", "digit_error_rate", "band_mask", "alignment_diagonality", "dtw_log_mel_distance"]
