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


__all__ = ["edit_distance", "digit_error_rate", "band_mask", "alignment_diagonality"]
