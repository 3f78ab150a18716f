"""Chapter 11: the knowledge base, slots, hand-over, conversation state and the chat widget."""

import datetime as dt
import json

import numpy as np
import pytest

from aigc_course.apps import assistant as A
from aigc_course.widgets.assistant import chat_widget

HP = {"char_ngrams": (3, 5), "tfidf_weight": 1.0, "platt_l2": 1e-2, "answers_as_documents": True,
      "threshold_grid": tuple(round(0.05 * i, 2) for i in range(1, 20)), "cv_folds": 3,
      "tfidf_weight_grid": (1.0,), "mix": 0.75, "clf_c": 10.0, "clf_vectors": False, "word_ngrams": (1, 2),
      "clf_char_ngrams": (2, 5)}


@pytest.fixture(scope="module")
def kb():
    return A.load_kb()


@pytest.fixture(scope="module")
def fitted(kb):
    return A.build_assistant(kb, HP, None)[0]


@pytest.fixture(scope="module")
def bot(kb, fitted):
    """The fitted matcher and calibrator, answering whatever the confidence (conversation logic only)."""
    return A.Assistant(kb, fitted.matcher, fitted.calibrator, 0.0)


def test_kb_schema(kb):
    assert len(kb.intents) >= 40 and len(kb.oos_calibration) >= 40 and kb.oos_test
    for it in kb.intents:
        assert len(it.train) + len(it.test) >= 6 and len(it.train) >= 10 and it.test
        assert all(A.word_overlap(a, b) < 0.5 for a in it.test for b in it.train)


def test_kb_validation_names_the_problem(kb, tmp_path):
    raw = json.loads((__import__("importlib").resources.files("aigc_course") / "data/customer_service_kb.json")
                     .read_text("utf-8"))
    raw["intents"][0]["test"].append(raw["intents"][0]["train"][0])
    path = tmp_path / "kb.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(A.KBError, match="copy train"):
        A.load_kb(path)
    raw["intents"][0]["test"].pop()
    raw["intents"] = raw["intents"][:3]
    path.write_text(json.dumps(raw))
    with pytest.raises(A.KBError, match="need ≥ 40"):
        A.load_kb(path)


def test_slot_cases(kb):
    for case in kb.slot_cases:
        assert A.extract_slots(case["text"], kb.today) == case["slots"], case["text"]
    today = dt.date(2026, 12, 30)
    assert A.extract_slots("on 2 January", today) == {"date": "2027-01-02"}  # a past day means next year


def test_handover_below_threshold(kb, fitted):
    conf = fitted.classify(["Where is my order IB-123456?", "What is the capital of Australia?"])[1]
    assert conf[0] > conf[1]  # a train question is more confident than an out-of-scope one
    strict = A.Assistant(kb, fitted.matcher, fitted.calibrator, (conf[0] + conf[1]) / 2)
    r = strict.reply("What is the capital of Australia?")
    assert r.handover and r.text == kb.handover
    assert not strict.reply("Where is my order IB-123456?").handover


def test_answer_never_invents_a_slot(bot):
    r = bot.reply("Where is my order?")
    assert r.intent == "order_status" and r.missing == ("order_id",) and r.text == bot.kb.slot_prompts["order_id"]


def test_conversation_keeps_pending_slot(bot):
    conv = A.Conversation(bot)
    first = conv.send("Where is my order?")
    assert first.missing and conv.pending is not None
    second = conv.send("it is IB-654321")
    assert second.intent == "order_status" and "IB-654321" in second.text and conv.pending is None
    assert len(conv.history) == 2 and "IB-654321" in conv.transcript()


def test_chat_widget_send(bot):
    ui = chat_widget(A.Conversation(bot))
    reply = ui.send("Where is my order IB-111222?")
    assert "IB-111222" in reply.text and "IB-111222" in ui.log.value
    ui.box.value = "What are your opening hours?"
    ui.button.click()
    assert ui.box.value == "" and len(ui.conversation.history) == 2


def test_platt_and_unsupported_facts(kb):
    x = np.array([[0.9, 0.5], [0.8, 0.4], [0.2, 0.0], [0.3, 0.05]])
    cal = A.PlattCalibrator(1e-3).fit(x, np.array([1.0, 1.0, 0.0, 0.0]))
    p = cal(x)
    assert p[0] > 0.5 > p[2]
    heavy = A.PlattCalibrator(1e-3).fit(x, np.array([1.0, 1.0, 0.0, 0.0]), weight=np.array([1, 1, 5, 5]))
    assert heavy(x)[1] < p[1]  # weighting the negatives lowers the confidences
    assert A.unsupported_facts("Order IB-999999 costs £2.99", "where is IB-123456", kb) == ["IB-999999"]
    assert A.unsupported_facts("Delivery costs £2.99 for IB-123456", "where is IB-123456", kb) == []


def test_mask_slots_masks_relative_dates():
    masked = A.mask_slots("deliver IB-123456 tomorrow or next Friday, not 3 May")
    assert "IB" not in masked and "tomorrow" not in masked and "Friday" not in masked and "May" not in masked
    assert masked.count("somedate") == 3 and "ordernumber" in masked


def _toy():
    texts = ["where is my parcel", "track my package", "cancel my order", "stop my order please",
             "how much is delivery", "postage cost"]
    return texts, [0, 0, 1, 1, 2, 2]


def test_classifier_shapes():
    texts, labels = _toy()
    clf = A.IntentClassifier(4, 10.0).fit(texts, labels)  # intent 3 has no examples
    p = clf.predict_proba(["wher is my parcle", "cancel it"])
    assert p.shape == (2, 4) and np.allclose(p.sum(1), 1) and (p[:, 3] == 0).all()
    assert p[0].argmax() == 0 and p[1].argmax() == 1  # character n-grams survive the typos
    rng = np.random.default_rng(0)
    vocab = sorted({w for t in texts for w in A.words(t)})
    stoi = {"<unk>": 0} | {w: i + 1 for i, w in enumerate(vocab)}
    enc = A.SentenceEncoder(stoi, rng.normal(size=(len(stoi), 8)), np.full(len(stoi), 1 / len(stoi))).fit(texts)
    with_vec = A.IntentClassifier(3, 10.0, enc).fit(texts, labels)
    assert with_vec.features(texts).shape[1] == clf.features(texts).shape[1] + 8
    assert with_vec.predict_proba(texts).shape == (6, 3)
    mix = A.combine_scores(p[:, :3], np.array([[0.2, 0.1, -np.inf], [0.0, 1.0, 0.5]]), 0.5)
    assert mix.shape == (2, 3) and np.isfinite(mix).all()


def test_cross_validation_uses_train_side_only(kb):
    cv = A.cross_validate(kb, HP, None)
    n = sum(len(i.train) for i in kb.intents)
    assert cv.proba[False].shape == (n, len(kb.intents)) and set(cv.retrieval) == {1.0}
    assert len(cv.proba_oos[False]) == HP["cv_folds"] and cv.proba_oos[False][0].shape[0] == len(kb.oos_calibration)
    config, rows = A.choose_config(cv, (0.0, 1.0))
    assert len(rows) == 2 and max(r["cv_acc"] for r in rows) == cv.accuracy(**config)


def test_train_subset_keeps_n_per_intent_and_the_held_out_side(kb):
    sub = A.with_train_subset(kb, 3, seed=0)
    assert [len(i.train) for i in sub.intents] == [min(3, len(i.train)) for i in kb.intents]
    assert all(set(s.train) <= set(i.train) for s, i in zip(sub.intents, kb.intents))
    assert [s.test for s in sub.intents] == [i.test for i in kb.intents]
    assert A.with_train_subset(kb, 3, seed=0).intents[0].train == sub.intents[0].train  # reproducible
    with pytest.raises(ValueError, match="at least 1"):
        A.with_train_subset(kb, 0)


def test_learning_curve_rises_with_more_wordings(kb):
    rows = A.learning_curve(kb, HP, (1, 64))
    assert [r["per_intent"] for r in rows] == [1, 64]
    assert rows[0]["train_questions"] == len(kb.intents)
    assert rows[1]["train_questions"] == sum(len(i.train) for i in kb.intents)
    assert rows[1]["heldout_acc"] > rows[0]["heldout_acc"] + 0.1


def test_facts_and_reply_checker(kb):
    assert A.facts("£2.99 or £ 25; 10% off at 9 am on 2026-05-03 for ib 123456, 30 days") == [
        "£2.99", "£25", "10%", "9am", "2026-05-03", "IB-123456", "30"]
    q = "Could you deliver IB-123456 on 3 May instead?"
    reference = A.reference_reply(kb, q, "change_delivery_date")
    assert "IB-123456" in reference and "2026-05-03" in reference
    # a number that is in *another* intent's answer is still unsupported for this question
    assert A.unsupported_facts("Delivery costs £2.99 for IB-123456", q, kb, "change_delivery_date") == ["£2.99"]
    checker = A.ReplyChecker(kb)
    good = checker.check(reference, q, "change_delivery_date")
    assert good["grounded"] and good["on_intent"] and good["rouge_l"] == 1.0 and good["unsupported"] == []
    wrong = checker.check("We ship to 60 countries.", q, "change_delivery_date")
    assert wrong["unsupported"] == ["60"] and wrong["nearest"] == "international_shipping" and not wrong["grounded"]
    empty = checker.check("", q, "change_delivery_date")  # no facts is not the same as grounded
    assert empty["unsupported"] == [] and not empty["on_intent"] and not empty["grounded"]
    ask = A.reference_reply(kb, "where is my parcel?", "order_status")
    assert ask == kb.slot_prompts["order_id"]
    assert checker.check(ask, "where is my parcel?", "order_status")["grounded"]
    assert A.rouge_l("a b c d", "a c d e") == pytest.approx(2 * 3 / 8) and A.rouge_l("", "a") == 0.0
