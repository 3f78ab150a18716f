"""Byte-level byte-pair encoding (BPE): a trainer, an encoder and a decoder.

Set up to give the same tokens as Hugging Face ``tokenizers`` when that is trained with the same settings
(:func:`hf_byte_level_bpe`: a ``BPE`` model, the ``ByteLevel`` pre-tokenizer without a prefix space, a
``BpeTrainer`` whose initial alphabet is the 256 byte symbols), so the two can be compared token for token:

1. **Bytes as symbols.** Text is UTF-8 encoded and each byte is shown as one printable character
   (:func:`byte_symbols`: printable ASCII and Latin-1 bytes stand for themselves, the other 68 bytes are moved to
   U+0100 …). Any string, in any script, is then a sequence over a fixed alphabet of 256 symbols, so nothing is
   ever out of vocabulary and decoding is exact.
2. **Pre-tokens.** The GPT-2 pattern (:data:`SPLIT_PATTERN`) cuts the text into words, numbers, punctuation runs
   and white space (a word keeps the space before it), and merges never cross these cuts.
3. **Training.** Start with the 256 byte symbols, ids in the order of their code points (what ``tokenizers``
   does). Repeatedly count every adjacent pair of symbols inside the pre-tokens (weighted by how often the
   pre-token occurs), make the most frequent pair a new symbol, and replace it everywhere, left to right. Ties go
   to the pair with the smaller ids. Stop at ``vocab_size`` symbols or when no pair occurs ``min_frequency``
   times.
4. **Encoding** a pre-token applies the learned merges in the order they were learned (the lowest-ranked pair
   present first, all its occurrences left to right) until none applies.

Shapes: token ids are plain ``list[int]``; :meth:`ByteBPE.encode_batch` is a list of them.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import regex
import torch

SPLIT_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
"""The GPT-2 pre-tokenisation pattern (Radford et al. 2019), which ``tokenizers``' ``ByteLevel`` also uses."""
_SPLIT = regex.compile(SPLIT_PATTERN)


def byte_symbols() -> dict[int, str]:
    """The printable character that stands for each byte 0…255.

    Bytes that are printable on their own (``!``…``~``, ``¡``…``¬``, ``®``…``ÿ``: 188 of them) stand for
    themselves; the other 68 (control characters, the space, …) are given U+0100, U+0101, … in byte order, so
    every symbol is visible and none is white space."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in keep}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


BYTE_SYMBOL = byte_symbols()
SYMBOL_BYTE = {s: b for b, s in BYTE_SYMBOL.items()}


def pre_tokenize(text: str) -> list[str]:
    """The pre-tokens of ``text``, each written in byte symbols (``"Hi there"`` → ``["Hi", "Ġthere"]``)."""
    return ["".join(BYTE_SYMBOL[b] for b in piece.encode("utf-8")) for piece in _SPLIT.findall(text)]


def _word_counts(texts: Iterable[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(pre_tokenize(text))
    return counts


def merge_pair(ids: Sequence[int], pair: tuple[int, int], new: int) -> list[int]:
    """``ids`` with every occurrence of ``pair`` replaced by ``new``, left to right (``a a a`` with the pair
    ``(a, a)`` becomes ``new a``)."""
    a, b = pair
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == a and ids[i + 1] == b:
            out.append(new)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


@dataclass
class ByteBPE:
    """A trained byte-level BPE: ``vocab[i]`` is token ``i`` in byte symbols; ``merges[r]`` the pair of token ids
    merged by rule ``r`` (rank ``r``; token ``256 + r`` is its result)."""

    vocab: list[str]
    merges: list[tuple[int, int]]
    _rank: dict[tuple[int, int], int] = field(init=False, repr=False)
    _cache: dict[str, list[int]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.vocab) != 256 + len(self.merges):
            raise ValueError(f"a byte-level BPE has 256 + {len(self.merges)} tokens, not {len(self.vocab)}")
        self._rank = {pair: r for r, pair in enumerate(self.merges)}
        self._id = {s: i for i, s in enumerate(self.vocab)}
        self._cache = {}

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def _encode_word(self, word: str) -> list[int]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        ids = [self._id[s] for s in word]
        while len(ids) > 1:
            ranks = [self._rank.get(p, len(self.merges)) for p in zip(ids, ids[1:])]
            best = min(ranks)
            if best == len(self.merges):
                break
            ids = merge_pair(ids, self.merges[best], 256 + best)
        if len(self._cache) < 100_000:
            self._cache[word] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``."""
        return [i for word in pre_tokenize(text) for i in self._encode_word(word)]

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    def decode(self, ids: Iterable[int]) -> str:
        """The text of token ids (exact for the ids of any string; a cut inside a UTF-8 character becomes U+FFFD)."""
        data = bytes(SYMBOL_BYTE[s] for i in ids for s in self.vocab[i])
        return data.decode("utf-8", errors="replace")

    def token_bytes(self, i: int) -> bytes:
        return bytes(SYMBOL_BYTE[s] for s in self.vocab[i])

    def save(self, path: str | Path) -> Path:
        """Write the merges as JSON (the vocabulary follows from them)."""
        path = Path(path)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps({"merges": self.merges}), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> ByteBPE:
        merges = [tuple(m) for m in json.loads(Path(path).read_text(encoding="utf-8"))["merges"]]
        return from_merges(merges)


def base_vocab() -> list[str]:
    """The 256 byte symbols in the order of their code points: ids 0…255 (as ``tokenizers`` numbers them)."""
    return sorted(BYTE_SYMBOL.values())


def from_merges(merges: Sequence[tuple[int, int]]) -> ByteBPE:
    vocab = base_vocab()
    for a, b in merges:
        vocab.append(vocab[a] + vocab[b])
    return ByteBPE(vocab, [tuple(m) for m in merges])


def train(texts: Iterable[str], vocab_size: int, *, min_frequency: int = 0) -> ByteBPE:
    """Learn ``vocab_size - 256`` merges from ``texts`` (each text is pre-tokenised on its own).

    Pair counts are kept up to date incrementally: merging a pair only changes the counts of the pairs next to
    its occurrences, so each step touches the words that contain the pair, not the whole corpus. A heap holds
    ``(-count, a, b)``; an entry whose count is out of date is skipped when it comes up."""
    if vocab_size < 256:
        raise ValueError(f"vocab_size must be at least 256 (the byte symbols), not {vocab_size}")
    vocab = base_vocab()
    index = {s: i for i, s in enumerate(vocab)}
    counted = _word_counts(texts)
    words = [[index[s] for s in w] for w in counted]
    freq = list(counted.values())
    pair_count: defaultdict[tuple[int, int], int] = defaultdict(int)
    where: defaultdict[tuple[int, int], set[int]] = defaultdict(set)
    for w, (ids, n) in enumerate(zip(words, freq)):
        for pair in zip(ids, ids[1:]):
            pair_count[pair] += n
            where[pair].add(w)
    heap = [(-c, a, b) for (a, b), c in pair_count.items()]
    heapq.heapify(heap)
    merges: list[tuple[int, int]] = []
    while len(vocab) < vocab_size and heap:
        neg, a, b = heapq.heappop(heap)
        if -neg != pair_count.get((a, b), 0):
            continue  # out of date: the current count was pushed again when it changed
        if -neg < max(1, min_frequency):
            break
        new = len(vocab)
        merges.append((a, b))
        vocab.append(vocab[a] + vocab[b])
        changed: set[tuple[int, int]] = set()
        for w in list(where.pop((a, b), ())):
            ids, n = words[w], freq[w]
            for pair in zip(ids, ids[1:]):
                pair_count[pair] -= n
                changed.add(pair)
            merged = merge_pair(ids, (a, b), new)
            words[w] = merged
            for pair in zip(merged, merged[1:]):
                pair_count[pair] += n
                where[pair].add(w)
                changed.add(pair)
        pair_count.pop((a, b), None)
        for pair in changed:
            c = pair_count.get(pair, 0)
            if c > 0:
                heapq.heappush(heap, (-c, *pair))
            else:
                pair_count.pop(pair, None)
    return ByteBPE(vocab, merges)


def hf_byte_level_bpe(texts: Sequence[str], vocab_size: int, *, min_frequency: int = 0):  # noqa: ANN201
    """The same tokenizer trained by Hugging Face ``tokenizers`` (for comparison): ``BPE`` model, ``ByteLevel``
    pre-tokenizer and decoder without a prefix space, a ``BpeTrainer`` with the 256 byte symbols as its initial
    alphabet and no special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    tok.train_from_iterator(list(texts), trainer=trainer)
    return tok


def chars_per_token(bpe: ByteBPE, text: str) -> float:
    """Compression: characters of ``text`` per token."""
    return len(text) / max(1, len(bpe.encode(text)))


class TokenVocab:
    """A :class:`ByteBPE` with the interface of a character vocabulary (``encode`` returns a ``(T,)`` long tensor,
    ``decode`` takes ids, ``len`` is the number of tokens), so the language-model helpers of
    :mod:`aigc_course.models.alignment` and :func:`~aigc_course.models.lm.generate` run on subword tokens unchanged."""

    def __init__(self, bpe: ByteBPE):
        self.bpe = bpe

    def __len__(self) -> int:
        return self.bpe.vocab_size

    def encode(self, text: str) -> torch.Tensor:
        return torch.tensor(self.bpe.encode(text), dtype=torch.long)

    def decode(self, ids: Iterable[int]) -> str:
        return self.bpe.decode(ids)


__all__ = ["BYTE_SYMBOL", "SPLIT_PATTERN", "ByteBPE", "TokenVocab", "base_vocab", "byte_symbols", "chars_per_token",
           "from_merges", "hf_byte_level_bpe", "merge_pair", "pre_tokenize", "train"]
