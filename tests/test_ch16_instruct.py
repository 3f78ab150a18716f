"""Chapter 16: the instruction dataset (splits, changed figures), the program judges, and the training loops and
sampling of aigc_course.models.alignment on a tiny model."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from aigc_course.apps import assistant as A
from aigc_course.apps import instruct as I
from aigc_course.models import alignment as al
from aigc_course.models import lm


@pytest.fixture(scope="module")
def kb() -> A.KnowledgeBase:
    return A.load_kb()


def _note(sentence: str) -> I.Example:
    return I.Example("note", f"Note: {sentence}\nA: ", sentence + "\n", {"note": sentence, "original": sentence})


def test_fact_sentences_have_figures_and_read_as_english(kb):
    sentences = I.fact_sentences(kb)
    assert len(sentences) >= 10
    for s in sentences.values():
        assert A.facts(s) and not s[0].islower() and s.endswith(".") and "{" not in s and len(s) <= 80


def test_perturb_changes_every_figure_and_keeps_its_kind():
    rng = np.random.default_rng(0)
    s = "Standard UK delivery costs £2.99 and is free on orders over £25, 10% off for 30 days."
    for _ in range(50):
        new = I.perturb(s, rng)
        old_f, new_f = A.facts(s), A.facts(new)
        assert len(new_f) == len(old_f) and new_f != old_f
        assert new_f[0].startswith("£") and "." in new_f[0] and new_f[2].endswith("%")
        assert new.replace(new_f[0], "X") != s  # the text around the figures is unchanged
        assert I._NUMBER.sub("#", new) == I._NUMBER.sub("#", s)


def test_note_examples_split_by_paraphrase_and_answer_with_the_changed_note(kb):
    rng = np.random.default_rng(1)
    train = I.note_examples(kb, "train", rng, copies=2)
    test = I.note_examples(kb, "test", rng, copies=1)
    q = lambda e: e.prompt.split("Q: ")[1]  # noqa: E731
    assert not {q(e) for e in train} & {q(e) for e in test}
    assert len(train) > 2 * len(test) > 0
    assert all(e.response == e.meta["note"] + "\n" and e.meta["note"] in e.prompt for e in train + test)
    assert all(A.facts(e.meta["note"]) != A.facts(e.meta["original"]) for e in train + test)


def test_the_note_judge_wants_every_figure_of_the_note_and_no_other():
    e = _note("Delivery costs £3.49 and takes 4 days.")
    right = I.judge_note("Delivery costs £3.49 and takes 4 days.\n", e)
    assert right.correct and right.grounded and right.figures == ["£3.49", "4"]
    wrong = I.judge_note("Delivery costs £2.99 and takes 4 days.", e)  # the old figure, from memory
    assert not wrong.correct and not wrong.grounded and wrong.unsupported == ["£2.99"] and wrong.missing == ["£3.49"]
    partial = I.judge_note("Delivery takes 4 days.", e)
    assert not partial.correct and partial.grounded and partial.missing == ["£3.49"]
    silent = I.judge_note("We deliver.", e)  # states nothing false, and nothing asked for
    assert silent.grounded and not silent.correct


def test_the_voice_judge_counts_unknown_words_repeats_and_form():
    words = I.dictionary("the king is dead long live the king the king is here here here", min_count=2)
    assert I.known_share("The kong is here here", words) == pytest.approx(0.8)  # the lenient judge: words only
    assert words == frozenset({"the", "king", "is", "here"})
    good = I.judge_voice("The king is here.\n", words)
    assert good.score == 1.0 and good.on_format and good.repeats == 0 and good.unknown == []
    stutter = I.judge_voice("The the king is.\n", words)
    assert stutter.repeats == 1 and stutter.score == pytest.approx(1 - 0.25)
    made_up = I.judge_voice("The kong is here.\n", words)
    assert made_up.unknown == ["kong"] and made_up.score == pytest.approx(0.75)
    unfinished = I.judge_voice("The king is here", words)  # no newline: generation never stopped
    assert not unfinished.on_format and unfinished.score == pytest.approx(0.5)
    assert I.judge_voice("\n", words).score == -0.5


def test_win_rate_counts_ties_as_half_and_refuses_mismatched_lists():
    assert I.win_rate([1, 0, 2, 3], [0, 0, 3, 1]) == pytest.approx((1 + 0.5 + 0 + 1) / 4)
    with pytest.raises(ValueError, match="equally long"):
        I.win_rate([1, 2], [1])


def test_build_gives_all_three_tasks_on_both_sides(kb):
    tweets = __import__("pandas").DataFrame({"text": ["up up https://t.co/x", "down", "flat", "more up", "more down",
                                                      "so flat"], "label": [1, 0, 2, 1, 0, 2]})
    text = "\n\n".join(f"ROMEO:\nMy line number {k} is here.\n\nJULIET:\nAnd mine is number {k}." for k in range(20))
    hp = {"seed": 0, "speakers": ("ROMEO", "JULIET"), "n_tweet": 6, "n_voice": 4, "n_tweet_heldout": 3,
          "n_voice_heldout": 2, "voice_train_share": 0.8, "note_copies": 1, "note_copies_heldout": 1}
    data = I.build(kb, tweets, tweets, (text, text), hp)
    for task in I.TASKS:
        assert data.of(task) and data.of(task, "heldout")
    assert {e.response for e in data.of("tweet")} == {"positive\n", "negative\n", "neutral\n"}
    assert "https" not in "".join(e.prompt for e in data.of("tweet"))
    train_lines = {e.response for e in data.of("voice")}
    assert not train_lines & {e.response for e in data.of("voice", "heldout")}
    assert all(set(e.text) <= set(I.ALPHABET) for e in data.train + data.heldout)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    vocab = I.vocabulary()
    model = lm.GPT(lm.GPTConfig(len(vocab), 64, n_layer=1, n_head=2, n_embd=32, positions="rope"))
    prompts = [f"Say {w}.\nA: " for w in ("yes", "no", "maybe")]
    responses = ["yes\n", "no\n", "maybe\n"]
    return vocab, model, prompts, responses


def test_sft_learns_the_responses_and_replies_stop_at_the_newline(tiny):
    vocab, model, prompts, responses = tiny
    model = copy.deepcopy(model)
    history = al.train_sft(model, vocab, prompts, responses, steps=120, batch_size=6, lr=1e-2, log_every=40)
    assert history["step"] == [40, 80, 120] and history["loss"][-1] < 0.2 * history["loss"][0]
    assert al.replies(model, vocab, prompts, max_new=10) == responses
    one_by_one = [al.replies(model, vocab, [p], max_new=10)[0] for p in prompts]
    assert one_by_one == responses  # greedy replies do not depend on the batching


def test_sequence_kl_of_a_model_to_itself_is_zero_and_dpo_moves_it(tiny):
    vocab, model, prompts, responses = tiny
    sft = copy.deepcopy(model)
    al.train_sft(sft, vocab, prompts, responses, steps=60, batch_size=6, lr=1e-2, log_every=60)
    assert al.sequence_kl(sft, sft, vocab, prompts, samples=4) == pytest.approx(0.0, abs=1e-9)
    pairs = al.reference_logprobs(sft, vocab, al.Pairs(prompts, ["yes\n"] * 3, ["no\n"] * 3))
    policy = copy.deepcopy(sft)
    h = al.train_dpo(policy, vocab, pairs, beta=0.5, steps=40, batch_size=3, lr=1e-2, log_every=10)
    assert h["step"] == [10, 20, 30, 40] and h["accuracy"][-1] == 1.0 and h["loss"][-1] < h["loss"][0]
    assert h["chosen_reward"][-1] > h["rejected_reward"][-1]
    assert al.sequence_kl(policy, sft, vocab, prompts, samples=8) > 0.01
    with pytest.raises(ValueError, match="reference log-probabilities"):
        al.train_dpo(policy, vocab, al.Pairs(prompts, ["yes\n"] * 3, ["no\n"] * 3), beta=0.5, steps=1, batch_size=1,
                     lr=1e-3)


def test_voice_pairs_rank_the_models_own_lines(tiny):
    vocab, model, _, _ = tiny
    words = I.dictionary("the king is here and there " * 3)
    pairs = I.voice_pairs(model, ["ROMEO", "JULIET"], words, prompts=3, samples=4, min_gap=0.0, seed=0, max_new=20)
    assert 0 < len(pairs) <= 6
    for p, c, r in zip(pairs.prompts, pairs.chosen, pairs.rejected):
        assert p in (I.voice_prompt("ROMEO"), I.voice_prompt("JULIET"))
        assert I.judge_voice(c, words).score > I.judge_voice(r, words).score


def test_generate_with_a_stop_id_ends_early_and_agrees_with_the_full_run():
    torch.manual_seed(3)
    model = lm.GPT(lm.GPTConfig(7, 32, n_layer=1, n_head=2, n_embd=16))
    idx = torch.randint(0, 7, (5, 4))
    full = lm.generate(model, idx, 20, temperature=0)
    stopped = lm.generate(model, idx, 20, temperature=0, stop=2)
    assert stopped.shape[1] <= full.shape[1] and torch.equal(stopped, full[:, : stopped.shape[1]])
    new = stopped[:, 4:]
    assert ((new == 2).any(1)).all() or stopped.shape[1] == full.shape[1]  # all rows stopped, or none early


def test_on_format_knows_labels_and_lines_only():
    tweet = I.Example("tweet", "x", "neutral\n")
    assert I.on_format("neutral\n", tweet) and not I.on_format("neutral or not\n", tweet)
    voice = I.Example("voice", "x", "A line.\n")
    assert I.on_format("Now is the winter.\n", voice) and not I.on_format("Now is the winter.", voice)
    with pytest.raises(ValueError, match="judge_note"):
        I.on_format("x", _note("It costs £3.49."))
