"""Chapter 09 package code: tokenizers, text classifiers, classification metrics, the sentiment API."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from sklearn.metrics import f1_score
from sklearn.utils.class_weight import compute_class_weight

from aigc_course.apps import sentiment
from aigc_course.core import config
from aigc_course.metrics import classification as cm
from aigc_course.models import text_classifiers as tc
from aigc_course.models.text_tokenize import (
    PAD,
    UNK,
    TfidfFeaturizer,
    WordTokenizer,
    encoder_from_state,
    split_words,
    word_ngrams,
)
from aigc_course.viz import classify as viz_classify

matplotlib.use("Agg")

CORPUS = [
    "$AAPL up 5% after @WSJ report https://t.co/abc",
    "Stocks slide as oil falls; $XOM down -3.5%",
    "Fed holds rates steady",
    "Analyst upgrades $TSLA to buy, price target raised",
    "Analyst downgrades $F to sell",
    "Markets wait for the jobs report",
]


# --------------------------------------------------------------------------------------------
# Tokenizers
# --------------------------------------------------------------------------------------------
def test_split_words_uses_placeholders_and_keeps_signs():
    assert split_words("$AAPL up 5% after @WSJ report https://t.co/x") == [
        "<ticker>", "up", "<num>", "%", "after", "<user>", "report", "<url>"]
    assert split_words("down -3.5%") == ["down", "-", "<num>", "%"]
    assert split_words("O'Reilly's CEO") == ["o'reilly's", "ceo"]
    assert split_words("   ") == []


def test_word_tokenizer_is_deterministic_and_round_trips():
    tok = WordTokenizer.fit(CORPUS, min_freq=2)
    assert tok.itos[:2] == [PAD, UNK] and len(tok) == len(set(tok.itos))
    assert "<ticker>" in tok.stoi and "analyst" in tok.stoi and "jobs" not in tok.stoi  # seen once
    assert WordTokenizer.fit(list(reversed(CORPUS)), min_freq=2).itos == tok.itos
    ids = tok.encode("Analyst says jobs")
    assert ids[0] == tok.stoi["analyst"] and ids[2] == tok.unk_id
    assert tok.encode("   ") == [tok.unk_id]  # never an empty sequence
    again = encoder_from_state(tok.state())
    assert isinstance(again, WordTokenizer) and again.itos == tok.itos


def test_word_tokenizer_batch_pads_and_truncates():
    tok = WordTokenizer.fit(CORPUS, min_freq=1)
    batch = tok.batch(["Fed holds rates steady", "Fed"], max_len=3, min_len=5)
    assert batch.shape == (2, 5) and batch.dtype == torch.long
    assert (batch[0, 3:] == tok.pad_id).all() and (batch[1, 1:] == tok.pad_id).all()
    assert tok.decode(batch[0].tolist()) == ["fed", "holds", "rates"]


@pytest.mark.parametrize("bad", ["a single string", 42, [1, 2], ["ok", None]])
def test_tokenizers_reject_bad_input(bad):
    tok = WordTokenizer.fit(CORPUS)
    with pytest.raises(TypeError):
        tok.batch(bad)


def test_tfidf_featurizer_matches_scikit_learn():
    feat = TfidfFeaturizer.fit(CORPUS, ngram_range=(1, 2), min_df=1)
    ref = TfidfVectorizer(analyzer=feat.analyze, min_df=1, sublinear_tf=True).fit(CORPUS)
    assert list(ref.get_feature_names_out()) == feat.vocab
    texts = [*CORPUS, "rates rates rates up", "nothing known here"]
    ours, theirs = feat.transform(texts), ref.transform(texts)
    assert abs(ours - theirs).max() < 1e-12
    assert ours[-1].nnz == 0  # no known n-gram → the zero vector, not NaN
    dense = feat.batch(texts).to_dense()
    assert torch.allclose(dense, torch.as_tensor(theirs.toarray(), dtype=torch.float32), atol=1e-6)
    again = encoder_from_state(feat.state())
    assert again.vocab == feat.vocab and np.allclose(again.idf, feat.idf)
    assert word_ngrams(["a", "b", "c"], (1, 2)) == ["a", "b", "c", "a b", "b c"]


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------
def _nets(vocab: int = 50):
    torch.manual_seed(0)
    return {
        "textcnn": tc.TextCNN(vocab, 3, embed_dim=8, kernel_sizes=(2, 3, 4), channels=5),
        "bilstm": tc.BiLSTMClassifier(vocab, 3, embed_dim=8, hidden=6),
        "transformer": tc.TransformerClassifier(vocab, 3, d_model=8, heads=2, layers=1, ff=16, max_len=12),
    }


@pytest.mark.parametrize("arch", ["textcnn", "bilstm", "transformer"])
def test_neural_classifiers_shapes_and_padding_invariance(arch):
    net = _nets()[arch].eval()
    ids = torch.tensor([[5, 6, 7, 8, 9], [3, 4, 0, 0, 0], [2, 0, 0, 0, 0]])
    logits = net(ids)
    assert logits.shape == (3, 3) and torch.isfinite(logits).all()
    padded = torch.cat([ids, torch.zeros(3, 4, dtype=torch.long)], dim=1)  # more padding: same answer
    assert torch.allclose(net(padded), logits, atol=1e-5)
    assert torch.allclose(net(ids[1:2, :2]), logits[1:2], atol=1e-5)  # a batch of one short text
    logits.sum().backward()  # differentiable end to end


def test_tfidf_logistic_regression_reproduces_scikit_learn():
    feat = TfidfFeaturizer.fit(CORPUS, min_df=1)
    x = feat.transform(CORPUS)
    clf = LogisticRegression(C=10.0, max_iter=500).fit(x, [0, 0, 2, 1, 0, 2])
    net = tc.TfidfLogisticRegression.from_sklearn(clf)
    probs = torch.softmax(net(feat.batch(CORPUS)), 1).detach().numpy()
    assert np.allclose(probs, clf.predict_proba(x), atol=1e-5)
    dense = net(feat.batch(CORPUS).to_dense())
    assert torch.allclose(dense, net(feat.batch(CORPUS)), atol=1e-6)


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------
def test_confusion_matrix_and_macro_f1_match_scikit_learn():
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 3, 500), rng.integers(0, 3, 500)
    assert (cm.confusion_matrix(y, p, 3) == sk_confusion_matrix(y, p)).all()
    assert cm.macro_f1(y, p, 3) == pytest.approx(f1_score(y, p, average="macro"), abs=1e-12)
    always_2 = np.full(500, 2)  # classes never predicted get F1 = 0 (zero_division=0)
    assert cm.macro_f1(y, always_2, 3) == pytest.approx(f1_score(y, always_2, average="macro", zero_division=0))
    assert cm.accuracy(y, y) == 1.0
    with pytest.raises(ValueError):
        cm.confusion_matrix([0, 3], [0, 1], 3)


def test_ece_on_known_cases():
    labels = np.array([0, 1, 2, 0])
    onehot = np.eye(3)[labels]
    assert cm.expected_calibration_error(onehot, labels) == 0.0  # confident and right
    wrong = np.eye(3)[(labels + 1) % 3]
    assert cm.expected_calibration_error(wrong, labels) == pytest.approx(1.0)  # confident and wrong
    # two bins: 0.6-confident (half right) and 0.9-confident (all right)
    probs = np.array([[0.6, 0.3, 0.1], [0.6, 0.3, 0.1], [0.05, 0.9, 0.05], [0.05, 0.9, 0.05]])
    y = np.array([0, 1, 1, 1])
    expected = 0.5 * abs(0.5 - 0.6) + 0.5 * abs(1.0 - 0.9)
    assert cm.expected_calibration_error(probs, y, n_bins=10) == pytest.approx(expected)
    bins = cm.reliability_bins(probs, y, n_bins=10)
    assert bins.count.sum() == 4 and bins.count[5] == 2 and bins.count[8] == 2  # (0.5, 0.6] and (0.8, 0.9]
    assert len(bins.edges) == 11 and np.isnan(bins.accuracy[0])
    with pytest.raises(ValueError, match="logits"):
        cm.expected_calibration_error(np.array([[2.0, -1.0, 0.5]]), [0])


def test_fit_temperature_recovers_a_known_temperature():
    g = torch.Generator().manual_seed(0)
    z = 3 * torch.randn(20000, 3, generator=g, dtype=torch.float64)
    y = torch.multinomial(torch.softmax(z / 2.0, 1), 1, generator=g).squeeze(1)  # true T = 2
    assert cm.fit_temperature(z, y) == pytest.approx(2.0, rel=0.05)


def test_fit_temperature_and_bias_matches_class_frequencies():
    g = torch.Generator().manual_seed(1)
    z = 2 * torch.randn(20000, 3, generator=g, dtype=torch.float64)
    true_b = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)
    y = torch.multinomial(torch.softmax(z / 1.5 + true_b, 1), 1, generator=g).squeeze(1)
    t, b = cm.fit_temperature_and_bias(z, y)
    assert t == pytest.approx(1.5, rel=0.05) and np.allclose(b, true_b.numpy(), atol=0.1)
    p = torch.softmax(z / t + torch.as_tensor(b), 1).numpy()
    assert np.allclose(p.mean(0), np.bincount(y.numpy(), minlength=3) / len(y), atol=1e-6)  # zero gradient in b


def test_balanced_class_weights():
    y = np.array([0] * 10 + [1] * 30 + [2] * 60)
    w = cm.balanced_class_weights(y, 3)
    assert np.allclose(w, compute_class_weight("balanced", classes=np.arange(3), y=y))
    assert np.allclose(np.bincount(y) * w, len(y) / 3)  # every class carries the same total weight


def test_plots_draw(tmp_path):
    fig = viz_classify.confusion_matrix_plot(np.array([[5, 1, 0], [2, 3, 1], [0, 0, 9]]), ["a", "b", "c"],
                                             show=False)
    assert fig is not None
    bins = cm.reliability_bins(np.array([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3]]), [0, 2], n_bins=5)
    assert viz_classify.reliability_diagram({"m": bins}, show=False) is not None
    with pytest.raises(ValueError):
        viz_classify.confusion_matrix_plot(np.ones((2, 2)), ["a", "b", "c"], show=False)


# --------------------------------------------------------------------------------------------
# The sentiment API (tiny smoke models in a temporary checkpoint folder)
# --------------------------------------------------------------------------------------------
def test_stratified_split_keeps_class_shares():
    y = np.array([0] * 100 + [1] * 300 + [2] * 600)
    fit, held = sentiment.stratified_split(y, 0.2, seed=0)
    assert len(np.intersect1d(fit, held)) == 0 and len(fit) + len(held) == len(y)
    assert np.bincount(y[held]).tolist() == [20, 60, 120]
    assert np.array_equal(held, sentiment.stratified_split(y, 0.2, seed=0)[1])


def test_component_row_has_every_candidate():
    for profile in config.PROFILES:
        hp = sentiment.component_hparams(profile)
        for arch in hp["candidates"]:
            cfg = sentiment.candidate_config(arch, hp)
            assert cfg["arch"] == arch
            net = sentiment.build_net(arch, 40, cfg).eval()  # every profile's settings build a working network
            x = torch.rand(2, 40) if arch == "tfidf" else torch.randint(1, 40, (2, 7))
            assert net(x).shape == (2, len(sentiment.LABELS))
    with pytest.raises(ValueError, match="unknown sentiment_classifier settings"):
        sentiment.component_hparams("smoke", no_such_setting=1)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["tfidf", "textcnn"])
def test_train_save_load_and_predict(with_mirror, arch):
    first = sentiment.train_candidate(arch, "smoke", device="cpu", progress=False, train_limit=300)
    assert not first.loaded and first.path.is_file()
    assert first.path == sentiment.checkpoint_path(f"sentiment_{arch}", sentiment.candidate_config(
        arch, sentiment.component_hparams("smoke", train_limit=300)))  # the same file load_or_train wrote
    state = torch.load(first.path, map_location="cpu", weights_only=True)  # no pickle needed
    assert state["extra"]["encoder"]["kind"] == ("tfidf" if arch == "tfidf" else "word")
    for key in ("val_macro_f1", "val_accuracy", "temperature", "val_ece", "val_ece_scaled"):
        assert np.isfinite(state["extra"][key])

    second = sentiment.train_candidate(arch, "smoke", device="cpu", progress=False, train_limit=300)
    assert second.loaded
    texts = ["$AAPL beats estimates, shares jump", "Fed holds rates steady", "Ford cut to sell at Barclays"]
    probs = second.predict(texts)
    assert probs.shape == (3, 3) and probs.dtype == np.float64
    assert np.allclose(probs.sum(1), 1.0) and (probs >= 0).all()
    assert np.allclose(probs, first.predict(texts), atol=1e-6)
    assert np.allclose(second.predict(list(reversed(texts))), probs[::-1], atol=1e-6)  # order-safe batching
    assert second.predict([]).shape == (0, 3)
    corrected = second.predict(texts, prior_correction=True)
    assert corrected.shape == (3, 3) and np.allclose(corrected.sum(1), 1.0)
    assert len(second.info["prior_bias"]) == 3 and second.info["prior_temperature"] > 0
    assert second.predict_labels(texts[:1])[0] in sentiment.LABELS

    with pytest.raises(TypeError, match="single string"):
        second.predict("Fed holds rates steady")
    with pytest.raises(TypeError):
        second.predict(["ok", 3])
    with pytest.raises(ValueError, match="empty"):
        second.predict(["ok", "   "])


def test_select_best_uses_validation_macro_f1():
    class Fake:
        def __init__(self, f1):
            self.info = {"val_macro_f1": f1}

    models = {"a": Fake(0.5), "b": Fake(0.7), "c": Fake(0.7)}
    assert sentiment.select_best(models) is models["b"]
    with pytest.raises(ValueError):
        sentiment.select_best({})


@pytest.mark.slow
def test_load_sentiment_model_serves_the_validation_best(with_mirror):
    model = sentiment.load_sentiment_model("smoke", "cpu", progress=False)
    hp = sentiment.component_hparams("smoke")
    scores = {a: sentiment.train_candidate(a, "smoke", device="cpu").info["val_macro_f1"] for a in hp["candidates"]}
    assert model.info["val_macro_f1"] == max(scores.values())
    assert sentiment.load_sentiment_model("smoke", "cpu") is model  # kept in memory
    probs = sentiment.predict(["Shares of $XYZ soar after record quarter"], profile="smoke", device="cpu")
    assert probs.shape == (1, 3) and np.allclose(probs, model.predict(["Shares of $XYZ soar after record quarter"]))


def test_bootstrap_diff_is_paired_and_centred():
    y = np.array([0, 1, 2] * 30)
    a = y.copy()
    b = y.copy()
    b[::3] = 2  # b misses every class-0 example
    d, lo, hi = cm.bootstrap_diff(y, a, b, lambda t, p: cm.accuracy(t, p), n_boot=300, seed=0)
    assert np.isclose(d, 1 / 3) and lo <= d <= hi and lo > 0
    d0, lo0, hi0 = cm.bootstrap_diff(y, a, a, lambda t, p: cm.accuracy(t, p), n_boot=50)
    assert d0 == lo0 == hi0 == 0.0
