"""Tokenisers for short English texts (financial tweets): a word vocabulary and a TF-IDF featuriser.

Both start from the same splitting rule, :func:`split_words`: lower-case, then cut the text into
words, numbers and single punctuation marks, with four placeholders for the parts whose exact form
carries little sentiment (``<url>``, ``<ticker>`` for cash-tags such as ``$AAPL``, ``<user>`` for
``@mentions``, ``<num>`` for numbers). Signs and ``%`` stay separate tokens, so ``"-5%"`` becomes
``["-", "<num>", "%"]``.

* :class:`WordTokenizer` maps tokens to integer ids for the neural classifiers (``<pad>`` = 0,
  ``<unk>`` = 1) and pads a batch into an ``(N, L)`` tensor.
* :class:`TfidfFeaturizer` maps a text to a sparse, L2-normalised TF-IDF vector over word n-grams
  with the same formulas as scikit-learn's ``TfidfVectorizer(sublinear_tf=True)`` (checked in
  chapter 09 and in the tests).

Each has ``state()`` / ``from_state()`` returning plain lists, strings and numbers, so the vocabulary
travels inside a ``weights_only`` checkpoint next to the model's weights.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

PAD, UNK = "<pad>", "<unk>"

_TOKEN = re.compile(
    r"""(?P<url>https?://\S+|www\.\S+)
      | (?P<ticker>\$[^\W\d_][\w.]*)
      | (?P<user>@\w+)
      | (?P<num>\d+(?:[.,:]\d+)*)
      | (?P<word>[^\W\d_]+(?:['’][^\W\d_]+)*)
      | (?P<sym>[^\s\w])""",
    re.X,
)


def split_words(text: str) -> list[str]:
    """Lower-case ``text`` and split it into tokens (words, placeholders, single symbols).

    >>> split_words("$AAPL up 5% after @WSJ report https://t.co/x")
    ['<ticker>', 'up', '<num>', '%', 'after', '<user>', 'report', '<url>']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    tokens = []
    for match in _TOKEN.finditer(text.lower()):
        kind = match.lastgroup
        tokens.append(match.group() if kind in ("word", "sym") else f"<{kind}>")
    return tokens


def _check_texts(texts: Any) -> list[str]:
    """``texts`` as a list of str; a clear error for a bare string or non-string items."""
    if isinstance(texts, (str, bytes)):
        raise TypeError("texts must be a list of strings, not a single string: wrap it as [text]")
    try:
        items = list(texts)
    except TypeError:
        raise TypeError(f"texts must be a list of strings, not {type(texts).__name__}") from None
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] is a {type(t).__name__}, not a str")
    return items


class WordTokenizer:
    """Word-level vocabulary: token ↔ id, with ``<pad>`` = 0 and ``<unk>`` = 1.

    Build it from training texts with :meth:`fit`; :meth:`batch` turns texts into a padded
    ``(N, L)`` LongTensor of ids.
    """

    def __init__(self, vocab: Sequence[str]):
        vocab = list(vocab)
        if vocab[:2] != [PAD, UNK]:
            raise ValueError(f"a vocabulary starts with {PAD!r}, {UNK!r}; got {vocab[:2]}")
        if len(set(vocab)) != len(vocab):
            raise ValueError("the vocabulary has duplicate tokens")
        self.itos: list[str] = vocab
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(vocab)}

    pad_id, unk_id = 0, 1

    @classmethod
    def fit(cls, texts: Iterable[str], min_freq: int = 2, max_size: int | None = None) -> WordTokenizer:
        """Keep tokens seen at least ``min_freq`` times (at most ``max_size``), most frequent first
        (ties alphabetical, so the vocabulary is the same on every machine)."""
        counts = Counter(tok for text in _check_texts(texts) for tok in split_words(text))
        kept = sorted((t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))
        if max_size is not None:
            kept = kept[: max(0, max_size - 2)]
        return cls([PAD, UNK, *kept])

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str, max_len: int | None = None) -> list[int]:
        """Ids of ``text``'s tokens (unknown → 1), cut to ``max_len``; at least one id (``[1]`` for a
        text without tokens)."""
        ids = [self.stoi.get(t, self.unk_id) for t in split_words(text)][:max_len]
        return ids or [self.unk_id]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ``ids``, padding dropped."""
        return [self.itos[i] for i in ids if i != self.pad_id]

    def batch(self, texts: Sequence[str], max_len: int | None = None, min_len: int = 1) -> torch.Tensor:
        """Padded ids ``(N, L)`` (int64), ``L`` = the longest text (≤ ``max_len``, ≥ ``min_len``)."""
        rows = [self.encode(t, max_len) for t in _check_texts(texts)]
        width = max([min_len, *map(len, rows)])
        out = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        for i, row in enumerate(rows):
            out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        return out

    def unknown_rate(self, texts: Sequence[str]) -> float:
        """Share of the tokens of ``texts`` that are not in the vocabulary."""
        toks = [t for text in _check_texts(texts) for t in split_words(text)]
        return sum(t not in self.stoi for t in toks) / max(1, len(toks))

    def state(self) -> dict[str, Any]:
        """Plain data for a ``weights_only`` checkpoint."""
        return {"kind": "word", "vocab": list(self.itos)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> WordTokenizer:
        return cls(state["vocab"])


def word_ngrams(tokens: Sequence[str], ngram_range: tuple[int, int] = (1, 2)) -> list[str]:
    """All n-grams of ``tokens`` for n in ``ngram_range`` (inclusive), joined by spaces, in
    scikit-learn's order (all unigrams, then all bigrams, …)."""
    lo, hi = ngram_range
    grams: list[str] = []
    for n in range(lo, hi + 1):
        grams += [" ".join(tokens[i: i + n]) for i in range(len(tokens) - n + 1)]
    return grams


class TfidfFeaturizer:
    r"""Sparse TF-IDF vectors over word n-grams, as scikit-learn computes them.

    For a document :math:`d` and n-gram :math:`t` of the vocabulary (those in ≥ ``min_df`` training
    documents, sorted alphabetically):

    * :math:`\mathrm{tf}(t, d) = 1 + \ln \mathrm{count}(t, d)` (sublinear; 0 when absent),
    * :math:`\mathrm{idf}(t) = \ln\frac{1 + n}{1 + \mathrm{df}(t)} + 1` (smoothed; :math:`n` training documents),
    * :math:`x_d = v / \lVert v\rVert_2` with :math:`v_t = \mathrm{tf}(t, d)\,\mathrm{idf}(t)`.
    """

    def __init__(self, vocab: Sequence[str], idf: Sequence[float], ngram_range: tuple[int, int] = (1, 2)):
        if len(vocab) != len(idf):
            raise ValueError(f"{len(vocab)} n-grams but {len(idf)} idf values")
        self.vocab = list(vocab)
        self.index = {t: i for i, t in enumerate(self.vocab)}
        self.idf = np.asarray(idf, dtype=np.float64)
        self.ngram_range = (int(ngram_range[0]), int(ngram_range[1]))

    @classmethod
    def fit(cls, texts: Iterable[str], ngram_range: tuple[int, int] = (1, 2), min_df: int = 2) -> TfidfFeaturizer:
        docs = [set(word_ngrams(split_words(t), ngram_range)) for t in _check_texts(texts)]
        df = Counter(g for doc in docs for g in doc)
        vocab = sorted(g for g, c in df.items() if c >= min_df)
        n = len(docs)
        idf = [math.log((1 + n) / (1 + df[g])) + 1 for g in vocab]
        return cls(vocab, idf, ngram_range)

    def __len__(self) -> int:
        return len(self.vocab)

    def analyze(self, text: str) -> list[str]:
        """The n-grams of one text (the ``analyzer`` to give scikit-learn for the same vocabulary)."""
        return word_ngrams(split_words(text), self.ngram_range)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """TF-IDF matrix ``(N, V)`` float64, rows L2-normalised (a text without known n-grams is all zero)."""
        texts = _check_texts(texts)
        indptr, indices, values = [0], [], []
        for text in texts:
            counts = Counter(self.index[g] for g in self.analyze(text) if g in self.index)
            cols = sorted(counts)
            v = np.array([(1 + math.log(counts[c])) * self.idf[c] for c in cols], dtype=np.float64)
            norm = np.linalg.norm(v)
            indices += cols
            values += list(v / norm) if norm > 0 else []
            indptr.append(len(indices))
        return sp.csr_matrix((np.array(values, dtype=np.float64), np.array(indices, dtype=np.int64),
                              np.array(indptr, dtype=np.int64)), shape=(len(texts), len(self.vocab)))

    def batch(self, texts: Sequence[str]) -> torch.Tensor:
        """The TF-IDF matrix as a sparse COO float32 tensor ``(N, V)``, the input of
        :class:`~aigc_course.models.text_classifiers.TfidfLogisticRegression`."""
        coo = self.transform(texts).tocoo()
        index = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
        values = torch.from_numpy(coo.data.astype(np.float32))
        with torch.sparse.check_sparse_tensor_invariants(True):  # cheap here, and says so (no torch warning)
            return torch.sparse_coo_tensor(index, values, coo.shape).coalesce()

    def state(self) -> dict[str, Any]:
        """Plain data for a ``weights_only`` checkpoint."""
        return {"kind": "tfidf", "vocab": list(self.vocab), "idf": self.idf.tolist(),
                "ngram_range": list(self.ngram_range)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TfidfFeaturizer:
        return cls(state["vocab"], state["idf"], tuple(state["ngram_range"]))


def encoder_from_state(state: dict[str, Any]) -> WordTokenizer | TfidfFeaturizer:
    """Rebuild a tokenizer / featuriser from its :meth:`state` dict."""
    kinds = {"word": WordTokenizer, "tfidf": TfidfFeaturizer}
    if state.get("kind") not in kinds:
        raise ValueError(f"unknown encoder kind {state.get('kind')!r}; known: {', '.join(kinds)}")
    return kinds[state["kind"]].from_state(state)
