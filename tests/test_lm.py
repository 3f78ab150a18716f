"""The language-model core (aigc_course/models/lm.py): vocabulary, decoding, evaluation, training."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from aigc_course.core import training
from aigc_course.models import lm


def test_vocab_round_trip_and_names_unknown_characters():
    vocab = lm.CharVocab.from_text("to be, or not to be")
    ids = vocab.encode("be not")
    assert ids.dtype == torch.long and vocab.decode(ids) == "be not"
    with pytest.raises(lm.UnknownCharactersError) as err:
        vocab.encode("To be? Or not!")
    message = str(err.value)
    for ch in ("'T'", "'?'", "'O'", "'!'"):
        assert ch in message
    assert "vocab.chars" in message
    assert lm.CharVocab.from_dict(vocab.to_dict()).chars == vocab.chars


def test_capped_vocab_keeps_the_most_frequent_and_maps_the_rest_to_unk():
    vocab = lm.CharVocab.from_text("aaaabbbc", max_size=3, unk="?")
    assert set(vocab.chars) == {"a", "b", "?"}
    assert vocab.decode(vocab.encode("abcz")) == "ab??"
    with pytest.raises(ValueError, match="unk"):
        lm.CharVocab.from_text("abc", max_size=2)


def test_random_batch_targets_are_the_inputs_shifted_by_one():
    data = torch.arange(100)
    x, y = lm.random_batch(data, 8, 5, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (5, 8)
    assert torch.equal(y, x + 1)


def test_eval_windows_do_not_overlap_and_are_deterministic():
    data = torch.arange(101)
    w = lm.eval_windows(data, 10)
    assert w.shape == (10, 11)
    assert torch.equal(w[:, 0], torch.arange(0, 100, 10))
    assert torch.equal(lm.eval_windows(data, 10, max_windows=4), lm.eval_windows(data, 10, max_windows=4))
    assert lm.eval_windows(data, 10, max_windows=4).shape == (4, 11)


class _Uniform(torch.nn.Module):
    def __init__(self, vocab: int):
        super().__init__()
        self.vocab = vocab
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, idx):
        return torch.zeros(*idx.shape, self.vocab) + self.dummy


def test_evaluate_lm_of_a_uniform_model_is_log_vocab():
    assert lm.evaluate_lm(_Uniform(7), torch.randint(7, (500,)), 16) == pytest.approx(math.log(7))


def test_filter_logits_top_k_top_p_and_temperature():
    logits = torch.tensor([[3.0, 2.0, 1.0, 0.0]])
    probs = logits.softmax(-1)[0]  # 0.644, 0.237, 0.087, 0.032
    assert torch.isinf(lm.filter_logits(logits, top_k=2)[0, 2:]).all()
    # nucleus: keep the smallest prefix whose mass reaches p
    kept = lambda p: int(torch.isfinite(lm.filter_logits(logits, top_p=p)).sum())  # noqa: E731
    assert kept(0.5) == 1 and kept(float(probs[0]) + 0.01) == 2 and kept(0.99) == 4
    assert torch.allclose(lm.filter_logits(logits, temperature=2.0), logits / 2)
    with pytest.raises(ValueError):
        lm.filter_logits(logits, temperature=0.0)
    with pytest.raises(ValueError):
        lm.filter_logits(logits, top_p=1.5)


def test_sampling_follows_the_filtered_distribution():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.2]])).repeat(20000, 1)
    draws = lm.sample_next(logits, generator=torch.Generator().manual_seed(0))[:, 0]
    freq = torch.bincount(draws, minlength=3).float() / len(draws)
    assert torch.allclose(freq, torch.tensor([0.5, 0.3, 0.2]), atol=0.02)
    draws = lm.sample_next(logits, top_k=2, generator=torch.Generator().manual_seed(0))[:, 0]
    freq = torch.bincount(draws, minlength=3).float() / len(draws)
    assert freq[2] == 0 and freq[0] == pytest.approx(0.5 / 0.8, abs=0.02)
    assert lm.sample_next(logits[:1], temperature=0).item() == 0


@pytest.mark.parametrize("model", ["gpt", "lstm"])
def test_generate_with_and_without_cache_gives_the_same_tokens(model):
    torch.manual_seed(0)
    net = lm.GPT(lm.GPTConfig(11, 12, 2, 2, 16)) if model == "gpt" else lm.CharLSTM(11, 8, 16)
    prompt = torch.randint(11, (2, 4))
    runs = [lm.generate(net, prompt, 30, top_k=5, use_cache=c, generator=torch.Generator().manual_seed(3))
            for c in (True, False)]
    assert runs[0].shape == (2, 34) and torch.equal(runs[0], runs[1]) and torch.equal(runs[0][:, :4], prompt)
    assert lm.generate(net, prompt[0], 3, temperature=0).shape == (7,)
    with pytest.raises(ValueError, match="empty"):
        lm.generate(net, torch.zeros(0, dtype=torch.long), 3)


def test_kv_cache_logits_equal_the_full_forward_pass():
    torch.manual_seed(0)
    net = lm.GPT(lm.GPTConfig(13, 16, 2, 2, 16)).eval()
    x = torch.randint(13, (2, 11))
    cache = lm.KVCache(2)
    pieces = torch.cat([net(x[:, :5], cache), net(x[:, 5:6], cache), net(x[:, 6:], cache)], dim=1)
    assert cache.length == 11
    assert torch.allclose(pieces, net(x), atol=1e-5)
    with pytest.raises(ValueError, match="block_size"):
        net(torch.zeros(1, 17, dtype=torch.long))


def test_compare_kv_cache_reports_rounding_level_differences_and_full_agreement():
    torch.manual_seed(0)
    net = lm.GPT(lm.GPTConfig(13, 16, 2, 2, 16))
    seqs = torch.randint(13, (3, 16))
    diff, agree = lm.compare_kv_cache(net, seqs, prompt_len=4)
    assert 0.0 <= diff < 1e-4 and agree == 1.0
    assert net.training  # the model's mode is restored


def test_train_lm_learns_a_repeating_pattern_and_logs_its_history():
    torch.manual_seed(0)
    data = torch.arange(5).repeat(400)  # 0 1 2 3 4 0 1 2 ...: perfectly predictable after one character
    net = lm.GPT(lm.GPTConfig(5, 8, 1, 1, 16))
    cfg = lm.LMTrainConfig(batch_size=8, block_size=8, lr=1e-2, warmup=5, max_steps=60, eval_every=20, eval_windows=10)
    hist = lm.train_lm(net, data, data, cfg)
    assert hist["step"] == [20, 40, 60]
    assert hist["seconds"] == sorted(hist["seconds"])
    assert hist["val_loss"][-1] < 0.1 * math.log(5)


def test_train_lm_stops_at_its_time_budget():
    net = lm.CharLSTM(5, 4, 8)
    cfg = lm.LMTrainConfig(batch_size=4, block_size=8, seconds=0.3, eval_every=10_000, eval_windows=4)
    hist = lm.train_lm(net, torch.arange(5).repeat(50), torch.arange(5).repeat(10), cfg)
    assert 0.3 <= hist["seconds"][-1] < 2.0 and len(hist["step"]) == 1


def test_interrupted_lm_training_resumes(tmp_path, monkeypatch):
    data = torch.arange(5).repeat(100)
    cfg = lm.LMTrainConfig(batch_size=4, block_size=8, max_steps=30, eval_every=10, eval_windows=4)
    build = lambda _: (torch.manual_seed(0), lm.CharLSTM(5, 4, 8))[1]  # noqa: E731
    calls = {"n": 0}
    real = lm.evaluate_lm

    def flaky(*args, **kwargs):  # interrupt after the second interval
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(lm, "evaluate_lm", flaky)
    with pytest.raises(KeyboardInterrupt):
        training.load_or_train("lm", {"x": 1}, build, lambda m, s: lm.train_lm(m, data, data, cfg, s) and None,
                               folder=tmp_path)
    monkeypatch.setattr(lm, "evaluate_lm", real)
    done = training.load_or_train("lm", {"x": 1}, build, lambda m, s: lm.train_lm(m, data, data, cfg, s) and None,
                                  folder=tmp_path)
    assert done.history["step"] == [10, 20, 30]  # the first interval was kept, the rest re-done


def test_shakespeare_data_uses_the_nanogpt_split(mirror):
    data = lm.shakespeare_data()
    assert len(data.vocab) == 65
    assert len(data.train) == 1_003_854 and len(data.val) == 111_540
    assert data.vocab.decode(data.train[:9]) == "First Cit"


def test_shakespeare_lm_trains_then_loads(mirror, isolated, monkeypatch):
    monkeypatch.setenv("AIGC_COURSE_DATA", str(mirror))
    torch.set_num_threads(1)
    trained, data = lm.shakespeare_lm("gpt", "smoke", progress=False, seconds=0.5)
    assert not trained.loaded and trained.extra["steps"] > 0
    assert trained.extra["val_loss"] < math.log(65)
    again, _ = lm.shakespeare_lm("gpt", "smoke", progress=False, seconds=0.5)
    assert again.loaded and again.history == trained.history
    x = data.val[:33][None]
    assert F.cross_entropy(again.model(x[:, :-1])[0], x[0, 1:]).item() < math.log(65)
