"""Chapter 11 §6–7: generated replies, without and with the retrieved knowledge-base passage.

One small GPT (chapter 08's, with rotary positions) reads **byte-level BPE tokens** (chapter 07's
:mod:`aigc_course.models.bpe`, trained here on the dialogues) and is trained on two kinds of rows, half each:

* **ungrounded** ``"Q: {question}\\nA:" → " {reply}\\n"``: the reply is what the templated assistant says
  (:func:`~aigc_course.apps.assistant.reference_reply`), so the model must recall the answer — facts included — from its
  weights, and copy an order number from the question;
* **grounded** ``"K: {passage}\\nQ: {question}\\nA:" → " {passage}\\n"``: the passage is the intent's answer
  template (``{order_id}`` / ``{date}`` left as placeholders, which the program fills from the question afterwards)
  and the reply states it. Only questions that carry every slot their intent needs get a grounded row: when one is
  missing, the program asks for it (as the templated assistant does), not the model. In ``changed_passage_share``
  of the rows the passage's figures are changed (:func:`perturb`) and the reply follows them: the figures must be
  *read*.

At answer time the grounded system is the chapter's assistant with the generator in place of the template:
retrieval picks the intent, a low calibrated confidence **hands over** (no generation at all), otherwise the model
is prompted with the retrieved passage. Same weights, same decoding; only the context differs from the ungrounded
prompt. :class:`~aigc_course.apps.assistant.ReplyChecker` judges every reply against the question's *true* intent.

**Grounded + DPO**: on-policy preference pairs on train questions — replies sampled at temperature 1 from the
grounded prompt, the checker's verdict as the preference (a grounded reply over one with an unsupported fact or
off intent) — and :func:`~aigc_course.models.alignment.train_dpo` (chapter 16 derives the loss).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..core.config import torch_threads
from . import assistant

UNGROUNDED = "Q: {question}\nA:"
GROUNDED = "K: {passage}\nQ: {question}\nA:"

NUMBER = re.compile(r"(?<![\w.])(£?)(\d+)(?:\.(\d\d))?(%?)(?![\w])")
"""A figure: optional ``£``, whole part, optional two-digit pence, optional ``%`` (not inside a word or a code)."""


def perturb(sentence: str, rng: np.random.Generator) -> str:
    """``sentence`` with every figure replaced by a different one of the same kind: a price by another price
    (``£2.99`` → ``£3.49``), a whole number by another of about the same size (``30`` → ``21``); ``%`` kept."""

    def new(m: re.Match[str]) -> str:
        pound, whole, pence, pct = m.groups()
        old = int(whole)
        while True:
            value = int(rng.integers(max(1, old // 2), max(4, 2 * old + 2)))
            cents = (["49", "99", "50", "25"][int(rng.integers(4))]) if pence else None
            if value != old or (cents is not None and cents != pence):
                break
        return f"{pound}{value}" + (f".{cents}" if cents else "") + pct

    return NUMBER.sub(new, sentence)


def ungrounded_prompt(question: str) -> str:
    return UNGROUNDED.format(question=question)


def grounded_prompt(passage: str, question: str) -> str:
    return GROUNDED.format(passage=passage, question=question)


def missing_slot(kb: assistant.KnowledgeBase, question: str, intent: str) -> str | None:
    """The first slot of ``intent`` that ``question`` lacks (``None`` when it has them all)."""
    found = assistant.extract_slots(question, kb.today)
    return next((s for s in kb.intent(intent).slots if s not in found), None)


def fill_slots(reply: str, question: str, kb: assistant.KnowledgeBase) -> str:
    """``reply`` with ``{order_id}`` / ``{date}`` replaced by the values found in ``question`` (the program, not the
    model, writes them)."""
    for name, value in assistant.extract_slots(question, kb.today).items():
        reply = reply.replace("{" + name + "}", value)
    return reply


def dialogue_rows(kb: assistant.KnowledgeBase, repeats: int, changed_share: float,
                  seed: int = 0) -> tuple[list[str], list[str], list[str]]:
    """``(prompts, responses, kinds)``: for every train paraphrase, ``repeats`` times with fresh slot values, one
    ungrounded row and, when the question has every slot its intent needs, one grounded row (module docstring);
    ``kinds`` is ``"ungrounded"`` / ``"grounded"``. Every
    response starts with a space and ends with ``"\\n"`` (the stop token)."""
    rng = np.random.default_rng(seed)
    prompts, responses, kinds = [], [], []
    for _ in range(repeats):
        for intent in kb.intents:
            for q in intent.train:
                question = q.format_map(assistant.example_values(rng, kb.today))
                prompts.append(ungrounded_prompt(question))
                responses.append(f" {assistant.reference_reply(kb, question, intent.name)}\n")
                kinds.append("ungrounded")
                if missing_slot(kb, question, intent.name) is None:  # otherwise the program asks for the slot
                    passage = perturb(intent.answer, rng) if rng.random() < changed_share else intent.answer
                    prompts.append(grounded_prompt(passage, question))
                    responses.append(f" {passage}\n")
                    kinds.append("grounded")
    return prompts, responses, kinds


def train_dialogue_model(kb: assistant.KnowledgeBase, hp: Mapping[str, Any], *,
                         device: torch.device | None = None) -> Any:
    """The generator: a byte-level BPE with ``hp["bpe_vocab"]`` tokens learned on the rows of :func:`dialogue_rows`,
    and chapter 08's GPT (sizes ``hp["dialogue_gpt"]``) trained on them with the loss on the reply tokens only
    (:func:`~aigc_course.models.alignment.train_sft` with ``hp["dialogue_train"]``). ``block_size`` must hold the
    longest row. Cached by :func:`~aigc_course.core.training.load_or_train`. Returns ``(trained, vocab)``;
    ``trained.extra`` has ``params``, ``steps``, ``seconds``, ``loss``, ``longest_tokens`` and ``chars_per_token``."""
    from ..core import config, training
    from ..models import alignment, bpe, lm

    prompts, responses, _ = dialogue_rows(kb, int(hp["dialogue_repeats"]), float(hp["changed_passage_share"]),
                                          int(hp["seed"]))
    texts = [p + r for p, r in zip(prompts, responses)]
    vocab = bpe.TokenVocab(bpe.train(texts + [kb.handover], int(hp["bpe_vocab"])))
    lengths = [len(vocab.encode(p)) + len(vocab.encode(r)) for p, r in zip(prompts, responses)]
    sizes, th = dict(hp["dialogue_gpt"]), dict(hp["dialogue_train"])
    if max(lengths) > sizes["block_size"]:
        raise ValueError(f"the longest dialogue has {max(lengths)} tokens but block_size is {sizes['block_size']}: "
                         "raise hp.dialogue_gpt['block_size'] so every reply sees its whole prompt")
    chars_per_token = sum(map(len, texts)) / sum(lengths)
    key = {**sizes, **th, "bpe_merges": assistant.hash_text(str(vocab.bpe.merges)),
           "rows": assistant.hash_text("".join(texts))}

    def build(_: Any) -> torch.nn.Module:
        torch.manual_seed(int(hp["seed"]))
        return lm.GPT(lm.GPTConfig(vocab_size=len(vocab), **sizes))

    def train(model: torch.nn.Module, session: Any) -> dict[str, Any]:
        with torch_threads(hp.get("dialogue_threads")):
            h = alignment.train_sft(model, vocab, prompts, responses, seed=int(hp["seed"]), session=session, **th)
        return {"seconds": float(h["seconds"][-1]), "loss": float(h["loss"][-1]), "steps": int(h["step"][-1]),
                "params": sum(p.numel() for p in model.parameters()), "longest_tokens": max(lengths),
                "chars_per_token": chars_per_token}

    trained = training.load_or_train("11_dialogue_bpe_gpt", key, build, train,
                                     device=device or config.resolve_device())
    trained.model.eval()
    return trained, vocab


def generate(model: torch.nn.Module, vocab: Any, prompts: Sequence[str], *, temperature: float = 0.0,
             samples: int = 1, seed: int = 0, max_new: int = 120) -> list[str]:
    """``samples`` replies per prompt (prompt by prompt, ``samples`` in a row), stripped, up to the first newline."""
    from ..models import alignment

    xs = [p for p in prompts for _ in range(samples)]
    return [r.strip() for r in alignment.replies(model, vocab, xs, temperature=temperature, max_new=max_new,
                                                 seed=seed)]


@dataclass
class Answers:
    """The replies of one system to ``questions``: ``replies[i * samples + s]``; ``handover[i]`` and
    ``retrieved[i]`` (the intent whose passage was used, ``None`` when handed over or ungrounded)."""

    system: str
    questions: list[str]
    replies: list[str]
    samples: int
    handover: list[bool]
    retrieved: list[str | None]


def ungrounded(model: torch.nn.Module, vocab: Any, questions: Sequence[str], **decode: Any) -> Answers:
    """Replies to ``"Q: …\\nA:"``: the model alone."""
    out = generate(model, vocab, [ungrounded_prompt(q) for q in questions], **decode)
    n = len(questions)
    return Answers("ungrounded", list(questions), out, decode.get("samples", 1), [False] * n, [None] * n)


def grounded(bot: assistant.Assistant, model: torch.nn.Module, vocab: Any, kb: assistant.KnowledgeBase,
             questions: Sequence[str],
             system: str = "grounded", **decode: Any) -> Answers:
    """The assistant's retrieval decides: below its hand-over threshold the reply is the hand-over message; when
    the retrieved intent needs a slot the question lacks, the program asks for it; otherwise the model continues
    ``"K: {retrieved passage}\\nQ: …\\nA:"`` and the program fills the slots."""
    samples = decode.get("samples", 1)
    decided = [bot.reply(q) for q in questions]
    handover = [r.handover or r.intent is None for r in decided]
    out = [kb.handover] * (len(questions) * samples)
    asked = []
    for i, (r, h) in enumerate(zip(decided, handover)):
        slot = None if h else missing_slot(kb, questions[i], r.intent)
        if slot is not None:
            out[i * samples: (i + 1) * samples] = [kb.slot_prompts[slot]] * samples
        elif not h:
            asked.append(i)
    texts = generate(model, vocab, [grounded_prompt(kb.intent(decided[i].intent).answer, questions[i]) for i in asked],
                     **decode)
    for k, i in enumerate(asked):
        for s in range(samples):
            out[i * samples + s] = fill_slots(texts[k * samples + s], questions[i], kb)
    return Answers(system, list(questions), out, samples, handover,
                   [None if h else r.intent for r, h in zip(decided, handover)])


def templated(bot: assistant.Assistant, questions: Sequence[str]) -> Answers:
    """The templated assistant's replies (the control: every fact from the KB or the question)."""
    decided = [bot.reply(q) for q in questions]
    return Answers("templated", list(questions), [r.text for r in decided], 1, [r.handover for r in decided],
                   [None if r.handover else r.intent for r in decided])


def checked(checker: assistant.ReplyChecker, answers: Answers, intents: Sequence[str]) -> list[dict[str, Any]]:
    """One row per reply: the system, question, true intent, retrieved intent, reply and the checker's verdict."""
    rows = []
    for k, reply in enumerate(answers.replies):
        i = k // answers.samples
        rows.append({"system": answers.system, "question": answers.questions[i], "intent": intents[i],
                     "retrieved": answers.retrieved[i], "handover": answers.handover[i], "reply": reply,
                     **checker.check(reply, answers.questions[i], intents[i])})
    return rows


def rates(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Per system of the :func:`checked` rows: ``n`` replies, ``unsupported`` (share with at least one unsupported
    fact), ``k_unsupported`` (their count), ``on_intent``, ``grounded``, ``handover`` and mean ``rouge_l``."""
    out: dict[str, dict[str, float]] = {}
    for system in dict.fromkeys(r["system"] for r in rows):
        mine = [r for r in rows if r["system"] == system]
        bad = [bool(r["unsupported"]) for r in mine]
        out[system] = {"n": float(len(mine)), "unsupported": float(np.mean(bad)), "k_unsupported": float(sum(bad)),
                       "on_intent": float(np.mean([r["on_intent"] for r in mine])),
                       "grounded": float(np.mean([r["grounded"] for r in mine])),
                       "handover": float(np.mean([r["handover"] for r in mine])),
                       "rouge_l": float(np.mean([r["rouge_l"] for r in mine]))}
    return out


def preference(verdict: Mapping[str, Any]) -> tuple[int, int, float]:
    """The judge's order of replies (higher is better): grounded first, then fewer unsupported facts, then ROUGE-L
    against the reference reply."""
    return int(verdict["grounded"]), -len(verdict["unsupported"]), float(verdict["rouge_l"])


def preference_pairs(model: torch.nn.Module, vocab: Any, kb: assistant.KnowledgeBase,
                     checker: assistant.ReplyChecker, *,
                     prompts: int, samples: int, seed: int, max_new: int = 120,
                     threads: int | None = None) -> tuple[Any, dict[str, float]]:
    """On-policy pairs on ``prompts`` train questions that carry their slots (fresh slot values; passage = the true
    intent's answer):
    ``samples`` replies each at temperature 1, judged by ``checker`` (:func:`preference`); the best and the worst
    form a pair when the best is grounded and the worst is not. Returns the
    :class:`~aigc_course.models.alignment.Pairs` (responses in the training format) and statistics of the samples."""
    from ..models import alignment

    rng = np.random.default_rng(seed)
    pool = [(intent.name, q) for intent in kb.intents for q in intent.train]
    questions, intents = [], []
    for j in rng.permutation(len(pool)):
        name, q = pool[j]
        question = q.format_map(assistant.example_values(rng, kb.today))
        if missing_slot(kb, question, name) is None:  # the model only answers those (see grounded())
            questions.append(question)
            intents.append(name)
        if len(questions) == prompts:
            break
    texts = [grounded_prompt(kb.intent(n).answer, q) for n, q in zip(intents, questions)]
    with torch_threads(threads):
        raw = generate(model, vocab, texts, temperature=1.0, samples=samples, seed=seed, max_new=max_new)
    pairs = alignment.Pairs([], [], [])
    grounded_share = []
    for i, (q, n) in enumerate(zip(questions, intents)):
        options = raw[i * samples: (i + 1) * samples]
        verdicts = [checker.check(fill_slots(o, q, kb), q, n) for o in options]
        grounded_share += [v["grounded"] for v in verdicts]
        order = sorted(range(samples), key=lambda s: preference(verdicts[s]))
        best, worst = order[-1], order[0]
        if verdicts[best]["grounded"] and not verdicts[worst]["grounded"]:
            pairs.prompts.append(texts[i])
            pairs.chosen.append(f" {options[best]}\n")
            pairs.rejected.append(f" {options[worst]}\n")
    return pairs, {"prompts": float(len(questions)), "pairs": float(len(pairs)),
                   "sampled_grounded_share": float(np.mean(grounded_share))}


def dpo_tuned(model: torch.nn.Module, vocab: Any, pairs: Any, hp: Mapping[str, Any]) -> tuple[torch.nn.Module, dict]:
    """A copy of ``model`` after DPO on ``pairs`` against ``model`` itself as the frozen reference
    (``hp``: ``beta``, ``steps``, ``batch_size``, ``lr``, ``seed``, optional ``threads``). Returns the policy and the
    DPO history."""
    from ..models import alignment

    if len(pairs) == 0:
        raise ValueError("no preference pairs: every sampled reply was judged alike; sample more prompts or replies")
    with torch_threads(hp.get("threads")):
        pairs = alignment.reference_logprobs(model, vocab, pairs)
        policy = copy.deepcopy(model)
        history = alignment.train_dpo(policy, vocab, pairs, beta=float(hp["beta"]), steps=int(hp["steps"]),
                                      batch_size=int(hp["batch_size"]), lr=float(hp["lr"]), seed=int(hp["seed"]))
    return policy.eval(), history


def changed_passage_probe(model: torch.nn.Module, vocab: Any, kb: assistant.KnowledgeBase, questions: Sequence[str],
                          intents: Sequence[str], seed: int = 0, max_new: int = 120) -> dict[str, Any]:
    """Does the model *read* the passage? For every question whose true intent's answer states figures and needs
    no slot, the passage is that answer with **changed** figures (:func:`perturb`); greedy reply. Returns the rows
    and ``follows`` (share of replies stating every changed figure and no original one) and ``recites`` (share
    stating an original figure of the KB answer that the changed passage no longer has)."""
    rng = np.random.default_rng(seed)
    picked = [(q, n) for q, n in zip(questions, intents)
              if assistant.facts(kb.intent(n).answer) and not kb.intent(n).slots]
    passages = [perturb(kb.intent(n).answer, rng) for _, n in picked]
    out = generate(model, vocab, [grounded_prompt(p, q) for p, (q, _) in zip(passages, picked)], max_new=max_new)
    rows = []
    for (q, n), p, reply in zip(picked, passages, out):
        stated, new = set(assistant.facts(reply)), set(assistant.facts(p))
        old = set(assistant.facts(kb.intent(n).answer)) - new
        rows.append({"question": q, "passage": p, "reply": reply, "follows": new <= stated and not (old & stated),
                     "recites": bool(old & stated)})
    follows = float(np.mean([r["follows"] for r in rows])) if rows else float("nan")
    recites = float(np.mean([r["recites"] for r in rows])) if rows else float("nan")
    return {"rows": rows, "follows": follows, "recites": recites, "n": len(rows)}


__all__ = ["GROUNDED", "NUMBER", "UNGROUNDED", "Answers", "changed_passage_probe", "checked", "dialogue_rows",
           "dpo_tuned", "fill_slots", "generate", "grounded", "grounded_prompt", "missing_slot", "perturb",
           "preference", "preference_pairs", "rates", "templated", "train_dialogue_model",
           "ungrounded", "ungrounded_prompt"]
