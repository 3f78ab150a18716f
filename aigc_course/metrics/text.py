"""Text metrics: perplexity from a loss, and the diversity of generated text (distinct-n).

Distinct-n (Li et al. 2016, "A Diversity-Promoting Objective Function for Neural Conversation
Models") is the number of *different* n-grams in a text divided by the *total* number of n-grams:

    distinct-n = |{ (t_i, …, t_{i+n-1}) }| / (N - n + 1)

for a text of ``N`` tokens. It is 1 when no n-gram repeats and small when the text loops. It
depends on the text's length (longer texts repeat more), so only compare texts of equal length.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

WORD_TOKEN_RE = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")
"""Words for the diversity metrics: letters with inner apostrophes; case is folded, punctuation ignored."""


def words(text: str) -> list[str]:
    """The lower-cased words of ``text`` (see :data:`WORD_TOKEN_RE`)."""
    return [w.lower() for w in WORD_TOKEN_RE.findall(text)]


def ngrams(tokens: Sequence, n: int) -> list[tuple]:
    """All ``len(tokens) - n + 1`` consecutive ``n``-tuples of ``tokens``."""
    if n < 1:
        raise ValueError(f"n must be >= 1, not {n}")
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(tokens: Sequence, n: int = 2) -> float:
    """Distinct n-grams / total n-grams of a token sequence (0.0 when it has no n-gram at all)."""
    grams = ngrams(tokens, n)
    return len(set(grams)) / len(grams) if grams else 0.0


def distinct_n_words(text: str, n: int = 2) -> float:
    """:func:`distinct_n` over the lower-cased words of ``text``."""
    return distinct_n(words(text), n)


def distinct_n_chars(text: str, n: int = 2) -> float:
    """:func:`distinct_n` over the characters of ``text``."""
    return distinct_n(list(text), n)


def known_word_fraction(text: str, vocabulary: set[str] | frozenset[str]) -> float:
    """Share of the words of ``text`` (lower-cased) that occur in ``vocabulary`` — a crude check that
    generated text is made of real words (0.0 for a text without words)."""
    ws = words(text)
    return sum(w in vocabulary for w in ws) / len(ws) if ws else 0.0


def perplexity(nats_per_token: float) -> float:
    """``exp(loss)``: how many equally likely choices per token the model is as unsure as."""
    return math.exp(nats_per_token)


def bits_per_char(nats_per_char: float) -> float:
    """Convert nats per character to bits per character (divide by ln 2)."""
    return nats_per_char / math.log(2)
