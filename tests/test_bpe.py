"""Byte-level BPE (aigc_course.models.bpe): token for token the same as Hugging Face ``tokenizers`` trained with the
same settings, exact round trips on any Unicode, and merges that follow the counting rule (ties to smaller ids)."""

from __future__ import annotations

import random

import pytest

from aigc_course.models import bpe

CORPUS = [
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n",
    "You are all resolved rather to die than to famish? We'll know't, they're sure; I'd say 'tis so.\n",
    "aaaa aaa aa a banana bandana  cabana\t\tnaan   2024 1999 3.14 — “quotes” café naïve 東京 🙂🙂\n",
]
UNICODE = ["", " ", "  leading", "trailing  ", "tabs\tand\nnew lines\r\n", "Ωμέγα и кириллица", "中文，标点。",
           "emoji 👩‍👩‍👧 ZWJ", "combining é vs é", "\x00\x01 control", "'s 've 'LL don't", "1234567 ۱۲۳ ٤٥"]


def test_the_byte_symbols_are_256_distinct_printable_characters():
    table = bpe.byte_symbols()
    assert sorted(table) == list(range(256)) and len(set(table.values())) == 256
    assert table[ord("A")] == "A" and table[ord(" ")] == "Ġ" and table[ord("\n")] == "Ċ"
    assert all(not s.isspace() for s in table.values())


def test_pre_tokens_keep_the_space_before_a_word():
    assert bpe.pre_tokenize("Hi there, you're 42!") == ["Hi", "Ġthere", ",", "Ġyou", "'re", "Ġ42", "!"]


def _random_text(rng: random.Random, n: int) -> str:
    pools = ["abcdefghij", "  \n\t", "éüß", "東京中文", "🙂👍", ".,;'!?", "0123456789"]
    return "".join(rng.choice(rng.choice(pools)) for _ in range(n))


@pytest.mark.parametrize("vocab_size", [256, 300, 420])
def test_round_trip_is_exact_on_any_unicode(vocab_size):
    tok = bpe.train(CORPUS, vocab_size)
    rng = random.Random(vocab_size)
    for text in UNICODE + CORPUS + [_random_text(rng, 200) for _ in range(20)]:
        assert tok.decode(tok.encode(text)) == text


def test_the_most_frequent_pair_is_merged_and_ties_go_to_smaller_ids():
    # pre-tokens ab, Ġab ×2, Ġcd ×3: (a, b), (Ġ, c) and (c, d) all occur 3 times, (Ġ, a) twice. The byte
    # symbols are numbered by code point (a < b < c < d < Ġ = U+0120), so (a, b) goes first, then (c, d) beats
    # (Ġ, c), then (Ġ, cd) with 3 beats (Ġ, ab) with 2.
    tok = bpe.train(["ab ab ab cd cd cd"], 259)
    assert tok.vocab[256:] == ["ab", "cd", "Ġcd"]


def test_overlapping_pairs_merge_left_to_right():
    tok = bpe.train(["aaaaaaa"], 257)  # one merge: (a, a)
    assert tok.vocab[256] == "aa"
    assert [tok.vocab[i] for i in tok.encode("aaaaa")] == ["aa", "aa", "a"]


def test_a_vocabulary_below_the_bytes_is_refused():
    with pytest.raises(ValueError, match="at least 256"):
        bpe.train(CORPUS, 100)


def test_save_and_load_give_the_same_tokens(tmp_path):
    tok = bpe.train(CORPUS, 330)
    again = bpe.ByteBPE.load(tok.save(tmp_path / "merges.json"))
    assert again.vocab == tok.vocab and again.encode(CORPUS[2]) == tok.encode(CORPUS[2])


@pytest.mark.parametrize("vocab_size", [257, 300, 400, 600])
def test_same_tokens_as_hugging_face_tokenizers(vocab_size):
    pytest.importorskip("tokenizers")
    rng = random.Random(0)
    train = CORPUS * 3 + [_random_text(rng, 300) for _ in range(10)]
    ours, theirs = bpe.train(train, vocab_size), bpe.hf_byte_level_bpe(train, vocab_size)
    assert theirs.get_vocab_size() == ours.vocab_size
    assert {s: i for i, s in enumerate(ours.vocab)} == theirs.get_vocab()
    held_out = UNICODE + [_random_text(rng, 300) for _ in range(10)]
    for text in held_out:
        assert ours.encode(text) == theirs.encode(text).ids, text
        assert theirs.decode(ours.encode(text)) == text
