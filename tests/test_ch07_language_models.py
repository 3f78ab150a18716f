"""Chapter 07: n-gram models, skip-gram embeddings, text metrics, decoding and the playground."""

from __future__ import annotations

import math

import pytest
import torch

from aigc_course import widgets
from aigc_course.metrics import text as text_metrics
from aigc_course.models import lm, ngram, word2vec

TEXT = "the cat sat on the mat. the dog sat on the log. a cat and a dog met on a mat.\n" * 3


@pytest.fixture(scope="module")
def toy():
    vocab = lm.CharVocab.from_text(TEXT)
    return vocab, vocab.encode(TEXT)


# --------------------------------------------------------------------------------------------
# n-grams
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("smoothing", ["add_k", "kneser_ney"])
def test_ngram_distributions_sum_to_one_and_are_positive(toy, order, smoothing):
    vocab, ids = toy
    model = ngram.CharNGram(order, len(vocab), smoothing, k=0.5).fit(ids)
    g = torch.Generator().manual_seed(0)
    contexts = torch.randint(len(vocab), (20, order - 1), generator=g)  # mostly unseen contexts
    seen = ids[: 5 * (order - 1)].view(5, order - 1) if order > 1 else torch.zeros(5, 0, dtype=torch.long)
    probs = model.log_probs(torch.cat([contexts, seen])).exp()
    assert probs.shape == (25, len(vocab))
    assert torch.allclose(probs.sum(1), torch.ones(25, dtype=torch.float64), atol=1e-9)
    assert (probs > 0).all()


def test_add_k_bigram_matches_the_formula(toy):
    vocab, ids = toy
    V, k = len(vocab), 0.3
    counts = torch.zeros(V, V, dtype=torch.float64)
    counts.index_put_((ids[:-1], ids[1:]), torch.ones(len(ids) - 1, dtype=torch.float64), accumulate=True)
    expected = (counts + k) / (counts.sum(1, keepdim=True) + k * V)
    model = ngram.CharNGram(2, V, "add_k", k=k).fit(ids)
    assert torch.allclose(model.log_probs(torch.arange(V)[:, None]).exp(), expected, atol=1e-12)
    nll = float(-expected[ids[:-1], ids[1:]].log().mean())
    assert model.nll(ids) == pytest.approx(nll, rel=1e-9)


def test_smaller_k_trusts_the_counts_more(toy):
    vocab, ids = toy
    h, w = vocab.stoi["t"], vocab.stoi["h"]  # "th" is frequent
    p = [ngram.CharNGram(2, len(vocab), "add_k", k=k).fit(ids).log_probs(torch.tensor([[h]])).exp()[0, w]
         for k in (0.01, 1.0, 100.0)]
    assert p[0] > p[1] > p[2] > 1.0 / len(vocab) - 1e-3


def test_kneser_ney_discount_and_backoff(toy):
    vocab, ids = toy
    model = ngram.CharNGram(3, len(vocab), "kneser_ney").fit(ids)
    assert all(0 < d <= 1 for d in model.discounts)
    # a context never seen: the trigram backs off entirely to the bigram of its last character
    unseen = torch.tensor([[vocab.stoi["z"] if "z" in vocab.stoi else 0, vocab.stoi["c"]]])
    bigram_part = ngram.CharNGram(3, len(vocab), "kneser_ney").fit(ids)
    assert torch.allclose(model.log_probs(unseen), bigram_part.log_probs(unseen))
    # on its training text KN beats add-1 at order 3
    assert model.nll(ids) < ngram.CharNGram(3, len(vocab), "add_k", k=1.0).fit(ids).nll(ids)


def test_choose_k_uses_only_the_training_ids(toy):
    vocab, ids = toy
    best, scores = ngram.choose_k(ids, 2, len(vocab), (0.01, 0.1, 1.0))
    assert best in scores and scores[best] == min(scores.values())


def test_ngram_errors_are_clear(toy):
    vocab, ids = toy
    with pytest.raises(ValueError, match="k > 0"):
        ngram.CharNGram(2, len(vocab), "add_k", k=0)
    with pytest.raises(ValueError, match="smoothing"):
        ngram.CharNGram(2, len(vocab), "witten_bell")
    with pytest.raises(RuntimeError, match="fit"):
        ngram.CharNGram(2, len(vocab)).log_probs(torch.tensor([[0]]))
    with pytest.raises(ValueError, match="contexts of 2 ids"):
        ngram.CharNGram(3, len(vocab)).fit(ids).log_probs(torch.tensor([[0]]))


def test_ngram_sample_continues_the_prompt(toy):
    vocab, ids = toy
    model = ngram.CharNGram(3, len(vocab), "kneser_ney").fit(ids)
    out = model.sample(ids[:2], 30, generator=torch.Generator().manual_seed(0))
    assert out.shape == (32,) and torch.equal(out[:2], ids[:2])
    assert ngram.perplexity(math.log(7.0)) == pytest.approx(7.0)


# --------------------------------------------------------------------------------------------
# Skip-gram with negative sampling
# --------------------------------------------------------------------------------------------
def test_word_tokens_and_vocab():
    tokens = word2vec.tokenize_words("O Romeo, Romeo! wherefore art thou Romeo?\nI'll go.")
    assert tokens == ["o", "romeo", ",", "romeo", "!", "wherefore", "art", "thou", "romeo", "?", "i'll", "go", "."]
    vocab = word2vec.WordVocab.from_tokens(tokens, min_count=2)
    assert vocab.itos[:2] == ["<unk>", "romeo"]
    assert vocab.encode(["romeo", "juliet"]).tolist() == [1, 0]


def test_skipgram_pairs_respect_the_window():
    ids = torch.arange(50)
    centres, contexts = word2vec.skipgram_pairs(ids, 3, generator=torch.Generator().manual_seed(0))
    gaps = (centres - contexts).abs()
    assert len(centres) > 0 and gaps.min() >= 1 and gaps.max() <= 3
    keep = word2vec.keep_probabilities(torch.tensor([1000.0, 10.0, 1.0]), 1e-2)
    assert keep[0] < keep[1] <= keep[2] == 1.0


def test_sgns_loss_decreases_and_finds_structure():
    # two "topics": words 1-4 co-occur, words 5-8 co-occur, never across
    g = torch.Generator().manual_seed(0)
    blocks = [torch.randint(1, 5, (20,), generator=g) if i % 2 == 0 else torch.randint(5, 9, (20,), generator=g)
              for i in range(200)]
    ids = torch.cat(blocks)
    cfg = word2vec.SGNSConfig(dim=8, window=2, negatives=3, subsample=None, epochs=3, batch_size=256, lr=0.05)
    model, history = word2vec.train_sgns(ids, 9, cfg)
    assert history["loss"][-1] < 0.8 * history["loss"][0]
    vec = model.vectors()
    near = [i for i, _ in word2vec.cosine_neighbours(vec, 1, 3)]
    assert set(near) <= {2, 3, 4}


def test_sgns_forward_matches_the_formula():
    torch.manual_seed(0)
    model = word2vec.SkipGram(6, 4)
    torch.nn.init.normal_(model.out.weight)
    c, o, n = torch.tensor([1, 2]), torch.tensor([3, 4]), torch.tensor([[0, 5], [1, 3]])
    v, u = model.inp.weight, model.out.weight
    expected = -(torch.log(torch.sigmoid((u[o] * v[c]).sum(-1)))
                 + torch.log(torch.sigmoid(-(u[n] * v[c][:, None]).sum(-1))).sum(-1)).mean()
    assert model(c, o, n).item() == pytest.approx(expected.item(), rel=1e-5)


def test_init_embedding_matches_scale_and_checks_shape():
    torch.manual_seed(0)
    emb = torch.nn.Embedding(10, 4)
    random_std = float(emb.weight.detach().std())
    vectors = torch.randn(10, 4) * 0.01 + 3.0
    word2vec.init_embedding(emb, vectors)
    assert emb.weight.mean(0).abs().max() < 1e-4  # centred per dimension
    assert float(emb.weight.detach().std(0).mean()) == pytest.approx(random_std, rel=1e-3)
    with pytest.raises(ValueError, match="shape"):
        word2vec.init_embedding(emb, torch.zeros(9, 4))


# --------------------------------------------------------------------------------------------
# Text metrics
# --------------------------------------------------------------------------------------------
def test_distinct_n_on_known_strings():
    assert text_metrics.distinct_n_words("to be or not to be", 2) == pytest.approx(4 / 5)
    assert text_metrics.distinct_n_words("la la la la", 2) == pytest.approx(1 / 3)
    assert text_metrics.distinct_n_words("One, two; THREE four!", 1) == 1.0
    assert text_metrics.distinct_n_words("hello", 2) == 0.0
    assert text_metrics.distinct_n_chars("abab", 2) == pytest.approx(2 / 3)
    assert text_metrics.known_word_fraction("Thou art xqzt", {"thou", "art"}) == pytest.approx(2 / 3)
    assert text_metrics.bits_per_char(math.log(2)) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        text_metrics.ngrams([1, 2], 0)


# --------------------------------------------------------------------------------------------
# Decoding and the playground
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_lstm(toy):
    vocab, ids = toy
    torch.manual_seed(0)
    model = lm.CharLSTM(len(vocab), embed=8, hidden=16)
    lm.train_lm(model, ids, ids, lm.LMTrainConfig(batch_size=8, block_size=16, max_steps=30, eval_every=30,
                                                  eval_windows=4, warmup=5))
    return model.eval(), vocab


def test_top_k_one_equals_greedy(tiny_lstm):
    model, vocab = tiny_lstm
    prompt = vocab.encode("the ")
    greedy = lm.generate(model, prompt, 40, temperature=0.0)
    for seed in range(3):
        gen = torch.Generator().manual_seed(seed)
        assert torch.equal(lm.generate(model, prompt, 40, temperature=1.0, top_k=1, generator=gen), greedy)
        gen = torch.Generator().manual_seed(seed)
        assert torch.equal(lm.generate(model, prompt, 40, temperature=1.3, top_p=1e-6, generator=gen), greedy)


def test_playground_function_returns_text(tiny_lstm):
    model, vocab = tiny_lstm
    text = widgets.decoding_update(model, vocab, "the ", temperature=0.8, top_k=5, top_p=0.9, length=25,
                                   show=False)
    assert text.startswith("the ") and len(text) == 4 + 25 and not text.startswith("error")
    again = widgets.decoding_update(model, vocab, "the ", temperature=0.8, top_k=5, top_p=0.9, length=25,
                                    show=False)
    assert again == text  # same seed, same text
    greedy = widgets.decoding_update(model, vocab, "the ", temperature=0.0, length=25, show=False)
    assert greedy == "the " + widgets.generate_text(model, vocab, "the ", 25, temperature=0.0)


def test_playground_names_unknown_characters(tiny_lstm, capsys):
    model, vocab = tiny_lstm
    text = widgets.decoding_update(model, vocab, "the Zebra — ok", length=10)
    assert text.startswith("error:") and "'Z'" in text and "'—'" in text and "vocabulary" in text
    assert "Traceback" not in capsys.readouterr().out
    assert widgets.decoding_update(model, vocab, "", length=10, show=False).startswith("error: the prompt is empty")
    with pytest.raises(lm.UnknownCharactersError, match="'Z'"):
        widgets.generate_text(model, vocab, "Zed", 5)


def test_playground_widget_builds(tiny_lstm):
    pytest.importorskip("ipywidgets")
    model, vocab = tiny_lstm
    ui = widgets.decoding_playground(model, vocab, prompt="the ")
    names = {getattr(c, "description", "") for c in ui.children}
    assert {"prompt", "seed"} <= names and any("temperature" in n for n in names)


def test_torch_threads_restores():
    before = torch.get_num_threads()
    with widgets.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
