"""A small instruction dataset built from the course's own data, and a program that judges the replies (chapter 16).

Three tasks, each an :class:`Example` (``prompt``, ``response``; the response ends with a newline, which is where
generation stops):

- ``note`` — *answer the bookshop question from the note*. The note is a sentence of the chapter-11 knowledge base
  whose figures (prices, days, percentages, …) have been **changed** (:func:`perturb`): the shop's prices moved
  since the model read its old FAQ during pretraining. The reference reply is the note's sentence. An answer from
  memory states an out-of-date figure; :func:`judge_note` catches it.
- ``tweet`` — *classify a financial tweet* as positive, negative or neutral (chapter 09's data; the label is the
  reference).
- ``voice`` — *write a line in the voice of a Shakespeare speaker* (a real line of that speaker is the reference).

The train side uses the knowledge base's train paraphrases, the tweets' train split and 85 % of the speakers' lines
in Tiny Shakespeare's train part; the held-out side uses the test paraphrases, the tweets' validation split and the
other lines, with fresh figures in every note (:func:`build`).

Two programs judge replies: :func:`judge_note` (every figure must be the note's: **grounded** and **correct**) and
:func:`judge_voice` (known words, no stutter, the form of one line), whose score ranks the preference pairs and
decides the win rates of chapter 16.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from . import assistant
from .grounding import NUMBER, perturb

TASKS: tuple[str, ...] = ("note", "tweet", "voice")
TWEET_LABELS: tuple[str, ...] = ("negative", "positive", "neutral")  # the dataset's 0 bearish, 1 bullish, 2 neutral
PROMPTS: dict[str, str] = {
    "note": "Answer from the note.\nNote: {note}\nQ: {question}\nA: ",
    "tweet": "Classify the tweet: positive, negative or neutral.\nTweet: {tweet}\nA: ",
    "voice": "Write a line in the voice of {speaker}.\nA: ",
}
ALPHABET = "".join(chr(c) for c in range(32, 127)) + "£\n"
"""The characters of every text of the chapter: printable ASCII, the pound sign and the newline."""


@dataclass
class Example:
    """One instruction: ``prompt`` (ends with ``"A: "``) and reference ``response`` (ends with ``"\\n"``).

    ``meta`` — note: ``note`` (the note's text), ``answer`` (the sentence that answers, figures changed),
    ``other`` (the distractor sentence), ``original`` (the answer as the KB states it), ``intent``;
    tweet: ``label``; voice: ``speaker``."""

    task: str
    prompt: str
    response: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.prompt + self.response


@dataclass
class InstructionData:
    """The train and held-out examples of every task, and the texts the base model is pretrained on."""

    train: list[Example]
    heldout: list[Example]

    def of(self, task: str, split: str = "train") -> list[Example]:
        return [e for e in (self.train if split == "train" else self.heldout) if e.task == task]


# --------------------------------------------------------------------------------------------
# The note task: knowledge-base sentences with changed figures
# --------------------------------------------------------------------------------------------
_NUMBER = NUMBER  # the figure pattern of chapter 11's grounding module


def fact_sentences(kb: assistant.KnowledgeBase, max_chars: int = 80) -> dict[str, str]:
    """For each intent whose answer has a sentence with a figure and no slot, its first such sentence of at most
    ``max_chars`` characters (ending with ``.``, first letter capitalised). Sentences with a clock time or with the
    figure 1 are left out: their changed figures would not read as English ("13 am", "3 hour")."""
    out = {}
    for intent in kb.intents:
        for s in re.split(r"(?<=[.;])\s+", intent.answer):
            s = s[0].upper() + s[1:].rstrip(";").rstrip(".") + "."
            values = [m[2] for m in _NUMBER.finditer(s)]
            if ("{" in s or len(s) > max_chars or not values or "1" in values or re.search(r"\d\s?[ap]m\b", s)
                    or not set(s) <= set(ALPHABET)):
                continue
            out[intent.name] = s
            break
    return out


def note_examples(kb: assistant.KnowledgeBase, split: str, rng: np.random.Generator, copies: int = 1,
                  max_chars: int = 80, max_question: int = 64) -> list[Example]:
    """``copies`` ``note`` examples per paraphrase (``split`` "train" or "test") of every intent with a fact
    sentence: the note is that sentence with freshly changed figures, and it is also the reference reply."""
    sentences = fact_sentences(kb, max_chars)
    out = []
    for name in sorted(sentences):
        for q in [q for q in getattr(kb.intent(name), split) for _ in range(copies)]:
            if "{" in q or len(q) > max_question or not set(q) <= set(ALPHABET):
                continue
            note = perturb(sentences[name], rng)
            out.append(Example("note", PROMPTS["note"].format(note=note, question=q), note + "\n",
                               {"note": note, "intent": name, "original": sentences[name]}))
    return out


@dataclass
class NoteVerdict:
    """What :func:`judge_note` found in a reply: the figures it states (chapter 11's
    :func:`~aigc_course.apps.assistant.facts`), those not in the note (``unsupported``: invented or remembered) and the
    note's figures it left out (``missing``)."""

    figures: list[str]
    unsupported: list[str]
    missing: list[str]

    @property
    def grounded(self) -> bool:
        """States no figure the note lacks."""
        return not self.unsupported

    @property
    def correct(self) -> bool:
        """Grounded, and states every figure of the note."""
        return not self.unsupported and not self.missing


def judge_note(reply: str, example: Example) -> NoteVerdict:
    """Check a ``note`` reply against its note: every figure it states must be the note's, and every figure of the
    note must be stated."""
    in_note = assistant.facts(example.meta["note"])
    got = assistant.facts(reply)
    return NoteVerdict(got, [f for f in got if f not in in_note], [f for f in in_note if f not in got])


# --------------------------------------------------------------------------------------------
# The tweet and voice tasks
# --------------------------------------------------------------------------------------------
def tweet_examples(frame: Any, n: int, rng: np.random.Generator, max_chars: int = 110) -> list[Example]:
    """``n`` tweets (``text``, ``label`` columns) of at most ``max_chars`` characters, links removed, balanced over
    the three labels as far as the data allows."""
    texts = [re.sub(r"\s*https?://\S+", "", t).strip() for t in frame["text"]]
    ok = [i for i, t in enumerate(texts) if 0 < len(t) <= max_chars and set(t) <= set(ALPHABET) and "\n" not in t]
    by_label = {k: [i for i in ok if int(frame["label"].iloc[i]) == k] for k in range(3)}
    out = []
    for k in range(3):
        for i in rng.permutation(by_label[k])[: n // 3]:
            out.append(Example("tweet", PROMPTS["tweet"].format(tweet=texts[i]), TWEET_LABELS[k] + "\n",
                               {"label": TWEET_LABELS[k]}))
    return [out[i] for i in rng.permutation(len(out))]


def speaker_lines(text: str, speakers: Sequence[str], max_chars: int = 70) -> dict[str, list[str]]:
    """The first lines of every speech of ``speakers`` in a Tiny Shakespeare text (``NAME:`` then the speech),
    at most ``max_chars`` characters."""
    out: dict[str, list[str]] = {s: [] for s in speakers}
    for block in text.split("\n\n"):
        head, _, rest = block.partition(":\n")
        line = rest.split("\n")[0].strip()
        if head in out and 10 <= len(line) <= max_chars:
            out[head].append(line)
    return out


def voice_examples(lines: dict[str, list[str]], n: int, rng: np.random.Generator) -> list[Example]:
    """``n`` ``voice`` examples, the speakers of ``lines`` taking turns; the response is one of the speaker's
    ``lines``."""
    speakers = [s for s in lines if lines[s]]
    out = []
    for k in range(n):
        s = speakers[k % len(speakers)]
        line = lines[s][int(rng.integers(len(lines[s])))]
        out.append(Example("voice", PROMPTS["voice"].format(speaker=s), line + "\n", {"speaker": s}))
    return out


_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")


def dictionary(text: str, min_count: int = 3) -> frozenset[str]:
    """The lower-cased words that occur at least ``min_count`` times in ``text`` (the judge's word list)."""
    from collections import Counter

    counts = Counter(w.lower() for w in _WORD.findall(text))
    return frozenset(w for w, c in counts.items() if c >= min_count)


@dataclass
class VoiceVerdict:
    """What :func:`judge_voice` found in a line: its words, those not in the dictionary (``unknown``), the
    ``repeats`` (a word right after itself, or a word used a third time), whether it has the form of a line
    (``on_format``, :func:`line_form`), and the ``score`` = share of known words − 0.25 × repeats − 0.5 if
    off-format (at most 1)."""

    words: list[str]
    unknown: list[str]
    repeats: int
    on_format: bool
    score: float


def line_form(reply: str) -> bool:
    """One line (generation stopped at its newline) of 3–14 words ending in punctuation."""
    line = reply.rstrip("\n")
    return (reply.endswith("\n") and "\n" not in line and 3 <= len(_WORD.findall(line)) <= 14
            and line.rstrip()[-1:] in tuple(".,;:!?"))


def known_share(reply: str, words: frozenset[str]) -> float:
    """A *lenient* judge: only the share of the reply's words found in ``words`` (0 for no word) — no penalty for
    repeats, length or form. Chapter 16 optimises against it to show what a judge with a hole gets."""
    ws = [w.lower() for w in _WORD.findall(reply)]
    return 1 - sum(w not in words for w in ws) / len(ws) if ws else 0.0


def judge_voice(reply: str, words: frozenset[str]) -> VoiceVerdict:
    """Score a ``voice`` reply with a program: real words (``words``, see :func:`dictionary`), no stutter, the
    form of a line. It does not judge the *voice* — which is what a policy optimised against it can exploit."""
    ws = _WORD.findall(reply)
    low = [w.lower() for w in ws]
    seen: dict[str, int] = {}
    repeats = 0
    for i, w in enumerate(low):
        seen[w] = seen.get(w, 0) + 1
        repeats += (i > 0 and low[i - 1] == w) or seen[w] == 3
    fmt = line_form(reply)
    score = known_share(reply, words) - 0.25 * repeats - (0 if fmt else 0.5)
    return VoiceVerdict(ws, [w for w in low if w not in words], repeats, fmt, float(score))


def on_format(reply: str, example: Example) -> bool:
    """Does a reply have its task's form? tweet: exactly one of the three labels (and its newline); voice:
    :func:`line_form`."""
    if example.task == "tweet":
        return reply.strip() in TWEET_LABELS
    if example.task == "voice":
        return line_form(reply)
    raise ValueError(f"on_format knows the tweet and voice tasks, not {example.task!r}: judge notes with judge_note")


# --------------------------------------------------------------------------------------------
# The whole dataset and the pretraining corpus
# --------------------------------------------------------------------------------------------
def build(kb: assistant.KnowledgeBase, tweets_train: Any, tweets_valid: Any, shakespeare: tuple[str, str],
          hp: Any) -> InstructionData:
    """The instruction dataset: ``hp["note_copies"]`` / ``hp["note_copies_heldout"]`` ``note`` examples per
    paraphrase of the train / test side of the knowledge base; the ``voice`` lines of ``hp["speakers"]`` in the
    train part of Tiny Shakespeare, split ``hp["voice_train_share"]`` / rest between the sides; and
    ``hp["n_tweet"]`` / ``hp["n_voice"]`` tweet and voice examples per split, with ``hp["seed"]``."""
    rng = np.random.default_rng(int(hp["seed"]))
    lines = speaker_lines(shakespeare[0], tuple(hp["speakers"]))
    cut = {s: rng.permutation(len(v)) for s, v in lines.items()}
    keep = float(hp["voice_train_share"])
    voice_train = {s: [v[i] for i in cut[s][: int(keep * len(v))]] for s, v in lines.items()}
    voice_held = {s: [v[i] for i in cut[s][int(keep * len(v)):]] for s, v in lines.items()}
    train = (note_examples(kb, "train", rng, int(hp["note_copies"]))
             + tweet_examples(tweets_train, int(hp["n_tweet"]), rng)
             + voice_examples(voice_train, int(hp["n_voice"]), rng))
    held = (note_examples(kb, "test", rng, int(hp["note_copies_heldout"]))
            + tweet_examples(tweets_valid, int(hp["n_tweet_heldout"]), rng)
            + voice_examples(voice_held, int(hp["n_voice_heldout"]), rng))
    return InstructionData([train[i] for i in rng.permutation(len(train))], held)


def pretraining_text(kb: assistant.KnowledgeBase, tweets_train: Any, shakespeare_train: str, kb_repeats: int) -> str:
    """Raw text for the base model: Tiny Shakespeare's train part, the financial tweets of the train split (links
    removed) and the bookshop's FAQ — its answers with their *original* figures and its train questions —
    ``kb_repeats`` times. No instruction format: the model learns language, not to follow instructions."""
    tweets = "\n".join(t for t in (re.sub(r"\s*https?://\S+", "", x).strip() for x in tweets_train["text"])
                       if t and set(t) <= set(ALPHABET))
    faq = "\n\n".join(
        "\n".join(q for q in i.train if "{" not in q) + "\n" + assistant.fill_template(
            i.answer, {"order_id": "IB-123456", "date": "3 May"}) for i in kb.intents)
    return shakespeare_train + "\n\n" + tweets + "\n\n" + "\n\n".join([faq] * kb_repeats)


# --------------------------------------------------------------------------------------------
# The three stages' models (cached by training.load_or_train) and the preference pairs
# --------------------------------------------------------------------------------------------
def vocabulary() -> Any:
    """The character vocabulary of every model of the chapter: :data:`ALPHABET`."""
    from ..models import lm

    return lm.CharVocab(ALPHABET)


def pretrained_base(text: str, val_text: str, hp: Any, device: Any = None) -> Any:
    """Stage 1: chapter 08's GPT (sizes ``hp["gpt"]``) trained on raw ``text`` (:func:`pretraining_text`) by
    :func:`~aigc_course.models.lm.train_lm` with ``hp["pretrain"]``; its validation loss is measured on
    ``val_text``, which must not overlap ``text`` (Tiny Shakespeare's held-out part: the FAQ is repeated in
    ``text``, so a slice of ``text`` would measure memorisation). Cached: returns the
    :class:`~aigc_course.core.training.Trained`."""
    from ..core import training
    from ..models import lm

    vocab = vocabulary()
    train_ids, val_ids = vocab.encode(text), vocab.encode(val_text)
    cfg = lm.LMTrainConfig(**hp["pretrain"])
    key = {**hp["gpt"], **hp["pretrain"], "text": assistant.hash_text(text), "val": assistant.hash_text(val_text)}

    def build(_: Any) -> Any:
        torch.manual_seed(int(hp["pretrain"]["seed"]))
        return lm.GPT(lm.GPTConfig(vocab_size=len(vocab), **hp["gpt"]))

    def train(model: Any, session: Any) -> dict[str, Any]:
        h = lm.train_lm(model, train_ids, val_ids, cfg, session)
        return {"steps": int(h["step"][-1]), "val_loss": float(h["val_loss"][-1]), "seconds": float(h["seconds"][-1])}

    trained = training.load_or_train("16_base_gpt", key, build, train, device=device)
    trained.model.eval()
    return trained


def fine_tuned(base: Any, examples: Sequence[Example], hp: Any, device: Any = None) -> Any:
    """Stage 2: a copy of ``base`` after supervised fine-tuning on ``examples`` (loss on the responses only,
    :func:`~aigc_course.models.alignment.train_sft` with ``hp["sft"]``). Cached: returns the
    :class:`~aigc_course.core.training.Trained`."""
    import copy

    from ..core import training
    from ..models import alignment
    from ..models.finetune import weights_fingerprint

    vocab = vocabulary()
    prompts, responses = [e.prompt for e in examples], [e.response for e in examples]
    key = {**hp["sft"], "base": weights_fingerprint(base),
           "examples": assistant.hash_text("".join(p + r for p, r in zip(prompts, responses))), "seed": hp["seed"]}

    def build(_: Any) -> Any:
        return copy.deepcopy(base)

    def train(model: Any, session: Any) -> dict[str, Any]:
        h = alignment.train_sft(model, vocab, prompts, responses, seed=int(hp["seed"]), session=session, **hp["sft"])
        return {"seconds": float(h["seconds"][-1]), "loss": float(h["loss"][-1])}

    trained = training.load_or_train("16_sft_gpt", key, build, train, device=device)
    trained.model.eval()
    return trained


def voice_prompt(speaker: str) -> str:
    return PROMPTS["voice"].format(speaker=speaker)


def sample_lines(model: Any, speakers: Sequence[str], n: int, words: frozenset[str], *, seed: int,
                 max_new: int = 100) -> tuple[list[str], list[VoiceVerdict]]:
    """``n`` lines per speaker sampled at temperature 1 (speaker by speaker, ``n`` in a row), and their verdicts."""
    from ..models import alignment

    prompts = [voice_prompt(s) for s in speakers for _ in range(n)]
    lines = alignment.replies(model, vocabulary(), prompts, temperature=1.0, max_new=max_new, seed=seed)
    return lines, [judge_voice(x, words) for x in lines]


def voice_pairs(model: Any, speakers: Sequence[str], words: frozenset[str], *, prompts: int, samples: int,
                min_gap: float, seed: int, max_new: int = 100, judge: Any = None) -> Any:
    """Preference pairs from the model's own lines: for each of ``prompts`` prompts per speaker, ``samples`` lines
    at temperature 1; the one the judge scores highest is *chosen*, the lowest *rejected*, when their scores differ
    by more than ``min_gap``. The judge is :func:`judge_voice`'s score unless ``judge(line) -> float`` is given.
    Returns :class:`~aigc_course.models.alignment.Pairs`."""
    from ..models import alignment

    lines, verdicts = sample_lines(model, speakers, prompts * samples, words, seed=seed, max_new=max_new)
    pairs = alignment.Pairs([], [], [])
    for k in range(0, len(lines), samples):
        scores = [judge(x) if judge is not None else v.score
                  for x, v in zip(lines[k: k + samples], verdicts[k: k + samples])]
        hi, lo = int(np.argmax(scores)), int(np.argmin(scores))
        if scores[hi] - scores[lo] > min_gap:
            pairs.prompts.append(voice_prompt(speakers[k // (prompts * samples)]))
            pairs.chosen.append(lines[k + hi])
            pairs.rejected.append(lines[k + lo])
    return pairs


def dpo_round(policy: Any, speakers: Sequence[str], words: frozenset[str], hp: Any, *, seed: int, judge: Any = None,
              **dpo: Any) -> tuple[Any, Any, dict[str, list[float]]]:
    """One round of on-policy DPO: pairs from ``policy``'s own lines (:func:`voice_pairs` with ``hp``'s
    ``pair_prompts``, ``pair_samples``, ``pair_min_gap`` and ``judge``), ``policy`` frozen as the reference, and a
    copy of it trained with :func:`~aigc_course.models.alignment.train_dpo` (``hp["dpo"]``, overridden by ``dpo``).
    Returns ``(new_policy, pairs, history)``."""
    import copy

    from ..models import alignment

    pairs = voice_pairs(policy, speakers, words, prompts=int(hp["pair_prompts"]), samples=int(hp["pair_samples"]),
                        min_gap=float(hp["pair_min_gap"]), seed=seed, max_new=int(hp["max_new"]), judge=judge)
    alignment.reference_logprobs(policy, vocabulary(), pairs)
    new = copy.deepcopy(policy)
    history = alignment.train_dpo(new, vocabulary(), pairs, seed=seed, **{**hp["dpo"], **dpo})
    return new, pairs, history


def win_rate(scores_a: Sequence[float], scores_b: Sequence[float]) -> float:
    """Share of pairs ``(a_i, b_i)`` where ``a`` scores higher, a tie counting one half."""
    a, b = np.asarray(scores_a, dtype=float), np.asarray(scores_b, dtype=float)
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"need two equally long, non-empty score lists, not {a.shape} and {b.shape}")
    return float(np.mean((a > b) + 0.5 * (a == b)))


# --------------------------------------------------------------------------------------------
# Held-out reports
# --------------------------------------------------------------------------------------------
def task_report(model: Any, data: InstructionData, max_new: int = 100) -> dict[str, float]:
    """Greedy replies of ``model`` to every held-out prompt, scored per task: note replies by :func:`judge_note`
    (``correct``, ``grounded``, and how many state one of the FAQ's *old* figures the note replaced), tweets by
    their label (accuracy, and how many replies are a label at all), lines by :func:`line_form`."""
    from ..models import alignment

    vocab, out = vocabulary(), {}
    notes, tweets, lines = (data.of(t, "heldout") for t in TASKS)
    r = alignment.replies(model, vocab, [e.prompt for e in notes], max_new=max_new)
    verdicts = [judge_note(x, e) for x, e in zip(r, notes)]
    out["note: correct"] = float(np.mean([v.correct for v in verdicts]))
    out["note: grounded"] = float(np.mean([v.grounded for v in verdicts]))
    out["note: states an old FAQ figure"] = float(np.mean([
        bool(set(v.figures) & set(assistant.facts(e.meta["original"])) - set(assistant.facts(e.meta["note"])))
        for v, e in zip(verdicts, notes)]))
    r = alignment.replies(model, vocab, [e.prompt for e in tweets], max_new=max_new)
    out["tweet: accuracy"] = float(np.mean([x == e.response for x, e in zip(r, tweets)]))
    out["tweet: answers with a label"] = float(np.mean([on_format(x, e) for x, e in zip(r, tweets)]))
    r = alignment.replies(model, vocab, [e.prompt for e in lines], max_new=max_new)
    out["voice: on format"] = float(np.mean([on_format(x, e) for x, e in zip(r, lines)]))
    return out


def voice_eval(policy: Any, reference: Any, speakers: Sequence[str], words: frozenset[str], *, samples: int,
               kl_samples: int, seed: int, max_new: int = 100) -> dict[str, Any]:
    """``samples`` lines per speaker sampled from ``policy`` at temperature 1 (the same ``seed`` for every policy, so
    two policies' lines pair one to one), their :func:`judge_voice` scores and the judge's parts averaged, and the
    policy's KL to ``reference`` (nats per line, :func:`~aigc_course.models.alignment.sequence_kl`; 0 for the reference
    itself)."""
    from ..models import alignment

    lines, verdicts = sample_lines(policy, speakers, samples, words, seed=seed, max_new=max_new)
    kl = 0.0 if policy is reference else alignment.sequence_kl(
        policy, reference, vocabulary(), [voice_prompt(s) for s in speakers], samples=kl_samples, seed=seed,
        max_new=max_new)
    return {"lines": lines, "scores": [v.score for v in verdicts], "kl": kl,
            "known words": float(np.mean([1 - len(v.unknown) / max(len(v.words), 1) for v in verdicts])),
            "repeats": float(np.mean([v.repeats for v in verdicts])),
            "on format": float(np.mean([v.on_format for v in verdicts])),
            "words per line": float(np.mean([len(v.words) for v in verdicts])),
            "distinct": len(set(lines)) / len(lines)}


__all__ = ["ALPHABET", "Example", "InstructionData", "NoteVerdict", "PROMPTS", "TASKS", "TWEET_LABELS",
           "VoiceVerdict", "build", "dictionary", "dpo_round", "fact_sentences", "fine_tuned", "judge_note",
           "judge_voice", "known_share", "line_form", "note_examples", "on_format", "perturb", "pretrained_base",
           "pretraining_text", "sample_lines", "speaker_lines", "task_report", "tweet_examples", "vocabulary",
           "voice_eval", "voice_examples", "voice_pairs", "voice_prompt", "win_rate"]
