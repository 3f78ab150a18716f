"""Chapter 11 §6–7: training rows, token vocabularies, the grounded system's rules, the judge and the probe."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from aigc_course.apps import assistant as A
from aigc_course.apps import grounding as G
from aigc_course.models import alignment, bpe, lm


@pytest.fixture(scope="module")
def kb():
    return A.load_kb()


@pytest.fixture(scope="module")
def checker(kb):
    return A.ReplyChecker(kb, 0.5)


def test_dialogue_rows_ground_only_questions_with_their_slots(kb):
    prompts, responses, kinds = G.dialogue_rows(kb, 1, changed_share=0.5, seed=0)
    assert len(prompts) == len(responses) == len(kinds)
    assert kinds.count("ungrounded") == sum(len(i.train) for i in kb.intents)
    assert all(r.startswith(" ") and r.endswith("\n") and "\n" not in r[:-1] for r in responses)
    changed = 0
    for p, r, k in zip(prompts, responses, kinds):
        if k == "ungrounded":
            assert p.startswith("Q: ") and p.endswith("\nA:")
            for order in A.ORDER_RE.findall(r):  # an order number in a reply comes from the question ...
                assert order in p or r == f" {kb.slot_prompts['order_id']}\n"  # ... or is the request's example
            continue
        passage, question = p[len("K: "): p.index("\nQ: ")], p[p.index("\nQ: ") + 4: -len("\nA:")]
        assert r == f" {passage}\n"  # the reply states the passage
        intent = next(i for i in kb.intents if G.NUMBER.sub("#", i.answer) == G.NUMBER.sub("#", passage))
        assert G.missing_slot(kb, question, intent.name) is None  # a missing slot is the program's job
        changed += passage != intent.answer
    grounded = kinds.count("grounded")
    with_figures = sum(1 for p, k in zip(prompts, kinds) if k == "grounded" and A.facts(p.split("\nQ: ")[0]))
    assert 0 < grounded < kinds.count("ungrounded")
    assert 0.35 * with_figures < changed < 0.65 * with_figures


def test_missing_slot_and_fill_slots(kb):
    assert G.missing_slot(kb, "where is my parcel?", "order_status") == "order_id"
    assert G.missing_slot(kb, "where is IB-123456?", "order_status") is None
    assert G.missing_slot(kb, "move IB-123456 please", "change_delivery_date") == "date"
    assert G.missing_slot(kb, "what does delivery cost?", "shipping_cost") is None
    reply = G.fill_slots("Order {order_id} on {date}.", "move ib 123456 to 2026-05-03", kb)
    assert reply == "Order IB-123456 on 2026-05-03."


def test_token_vocab_pairs_count_prompt_tokens():
    tok = bpe.TokenVocab(bpe.train(["K: the cat sat\nQ: cat?\nA: the cat\n"] * 5, 270))
    batch = alignment.encode_pairs(tok, ["Q: cat?\nA:", "Q: a\nA:"], [" the cat\n", " b\n"])
    for b, (p, r) in enumerate(zip(["Q: cat?\nA:", "Q: a\nA:"], [" the cat\n", " b\n"])):
        n_p, n = int(batch.prompt_lengths[b]), int(batch.lengths[b])
        assert n_p == len(tok.encode(p)) and n == n_p + len(tok.encode(r))
        assert tok.decode(batch.seqs[b, :n_p].tolist()) == p and tok.decode(batch.seqs[b, n_p:n].tolist()) == r
    chars = lm.CharVocab.from_text("Q: cat?\nA: the cb\n")  # characters: separate encoding == joint encoding
    joint = alignment.encode_pairs(chars, ["Q: cat?\nA:"], [" the cat\n"])
    assert joint.seqs[0].tolist() == chars.encode("Q: cat?\nA: the cat\n").tolist()


def test_replies_on_tokens_stop_at_the_newline_token():
    tok = bpe.TokenVocab(bpe.train(["Q: hi\nA: yes\n"] * 5, 262))
    torch.manual_seed(0)
    model = lm.GPT(lm.GPTConfig(vocab_size=len(tok), block_size=64, n_layer=1, n_head=1, n_embd=8,
                                positions="rope"))
    out = alignment.replies(model, tok, ["Q: hi\nA:", "Q: hello there\nA:"], max_new=12)
    assert len(out) == 2 and all(isinstance(o, str) for o in out)
    assert all("\n" not in o[:-1] for o in out)  # cut at the first stop
    with pytest.raises(ValueError, match="one"):
        alignment.replies(model, tok, ["Q: hi\nA:"], max_new=2, stop="yes\n")


class _Bot:
    """An assistant stub: a fixed decision per question."""

    def __init__(self, decisions):
        self.decisions = decisions

    def reply(self, q):
        intent, handover = self.decisions[q]
        return SimpleNamespace(text="", intent=intent, handover=handover, confidence=0.0)


def test_grounded_hands_over_asks_for_slots_and_prompts_with_the_retrieved_passage(kb, monkeypatch):
    seen = []

    def fake_generate(model, vocab, prompts, **decode):
        seen.extend(prompts)
        return [p[len("K: "): p.index("\nQ: ")] for p in prompts for _ in range(decode.get("samples", 1))]

    monkeypatch.setattr(G, "generate", fake_generate)
    questions = ["what is the weather?", "where is my parcel?", "where is IB-654321?", "delivery cost?"]
    bot = _Bot({questions[0]: ("shipping_cost", True), questions[1]: ("order_status", False),
                questions[2]: ("order_status", False), questions[3]: ("shipping_cost", False)})
    out = G.grounded(bot, None, None, kb, questions, samples=2)
    assert out.replies[0:2] == [kb.handover] * 2
    assert out.replies[2:4] == [kb.slot_prompts["order_id"]] * 2
    assert out.replies[4] == kb.intent("order_status").answer.replace("{order_id}", "IB-654321")
    assert out.replies[6] == kb.intent("shipping_cost").answer
    assert out.handover == [True, False, False, False] and out.retrieved[0] is None
    assert seen == [G.grounded_prompt(kb.intent("order_status").answer, questions[2]),
                    G.grounded_prompt(kb.intent("shipping_cost").answer, questions[3])]


def test_rates_and_the_judge(kb, checker):
    q = "How much is delivery?"
    good = checker.check(kb.intent("shipping_cost").answer, q, "shipping_cost")
    wrong_price = checker.check(kb.intent("shipping_cost").answer.replace("£2.99", "£3.49"), q, "shipping_cost")
    off = checker.check(kb.intent("careers").answer, q, "shipping_cost")
    assert G.preference(good) > G.preference(wrong_price) and G.preference(good) > G.preference(off)
    rows = [{"system": "a", "handover": False, **good}, {"system": "a", "handover": True, **wrong_price},
            {"system": "b", "handover": False, **off}]
    r = G.rates(rows)
    assert r["a"]["n"] == 2 and r["a"]["unsupported"] == 0.5 and r["a"]["k_unsupported"] == 1
    assert r["a"]["handover"] == 0.5 and r["b"]["grounded"] == 0.0


def test_preference_pairs_prefer_the_grounded_sample(kb, checker, monkeypatch):
    def fake_generate(model, vocab, prompts, samples=1, **decode):
        out = []
        for p in prompts:
            passage = p[len("K: "): p.index("\nQ: ")]
            out += [passage, "We ship 999 books for £0.01."][:samples]
        return out

    monkeypatch.setattr(G, "generate", fake_generate)
    pairs, stats = G.preference_pairs(None, None, kb, checker, prompts=20, samples=2, seed=0)
    assert stats["prompts"] == 20 and 0 < len(pairs) <= 20
    for p, c, r in zip(pairs.prompts, pairs.chosen, pairs.rejected):
        assert c == f" {p[len('K: '): p.index(chr(10) + 'Q: ')]}\n" and "999" in r
        question = p[p.index("\nQ: ") + 4: -len("\nA:")]
        assert "{" not in question


def test_changed_passage_probe_tells_reading_from_reciting(kb, monkeypatch):
    questions = ["How much is delivery?", "When are you open?", "Where is IB-123456?"]
    intents = ["shipping_cost", "store_hours", "order_status"]

    def reader(model, vocab, prompts, **decode):
        return [p[len("K: "): p.index("\nQ: ")] for p in prompts]

    def reciter(model, vocab, prompts, **decode):
        by_shape = {G.NUMBER.sub("#", i.answer): i.answer for i in kb.intents}
        return [by_shape[G.NUMBER.sub("#", p[len("K: "): p.index("\nQ: ")])] for p in prompts]

    monkeypatch.setattr(G, "generate", reader)
    read = G.changed_passage_probe(None, None, kb, questions, intents, seed=0)
    monkeypatch.setattr(G, "generate", reciter)
    recite = G.changed_passage_probe(None, None, kb, questions, intents, seed=0)
    assert read["n"] == recite["n"] == 2  # order_status needs a slot: not probed
    assert (read["follows"], read["recites"]) == (1.0, 0.0)
    assert (recite["follows"], recite["recites"]) == (0.0, 1.0)


def test_perturb_changes_every_figure(kb):
    rng = np.random.default_rng(0)
    for intent in kb.intents:
        new = G.perturb(intent.answer, rng)
        assert G.NUMBER.sub("#", new) == G.NUMBER.sub("#", intent.answer)
        old = [m[0] for m in G.NUMBER.finditer(intent.answer)]
        assert all(a != b for a, b in zip(old, [m[0] for m in G.NUMBER.finditer(new)]))
