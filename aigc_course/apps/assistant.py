"""A small customer-service assistant over a written FAQ knowledge base (chapter 11).

The pipeline, top to bottom:

1. **Knowledge base** (:func:`load_kb`): intents of a fictional online bookshop, each with an answer
   template, train and held-out paraphrased questions, plus out-of-scope questions (calibration / test).
2. **Slots** (:func:`extract_slots`): order numbers and dates found by regular expressions and validated;
   a missing slot is *asked for*, never invented.
3. **Retrieval** (:class:`IntentMatcher`): a question is compared with every train paraphrase, by TF-IDF
   (character and word n-grams) and by SIF-weighted skip-gram sentence vectors; the score of an intent is
   its best paraphrase's cosine similarity.
4. **Classifier** (:class:`IntentClassifier`, :class:`HybridScorer`): logistic regression on word and
   character n-gram TF-IDF (optionally + sentence vectors), mixed with the retrieval score; the mix is
   chosen by cross-validation on the train questions (:func:`cross_validate`, :func:`choose_config`).
5. **Calibrated confidence** (:class:`PlattCalibrator`): ``P(top-1 intent is right)`` from the top-1 score
   and its margin over the runner-up, fitted on out-of-fold train scores and calibration out-of-scope
   questions. Below a threshold the assistant **hands over to a human**.
6. **Answers** (:class:`Assistant`, :class:`Conversation`): the intent's template with its slots filled.
7. **Checking replies** (:class:`ReplyChecker`, :func:`unsupported_facts`): the facts a reply states that neither
   the question nor the right answer supports. The generated replies it checks, ungrounded and grounded in the
   retrieved passage, live in :mod:`aigc_course.apps.grounding`.

Shapes: ``N`` questions, ``M`` train paraphrases, ``K`` intents, ``D`` vector width.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

SLOT_NAMES: tuple[str, ...] = ("order_id", "date")


class KBError(ValueError):
    """The knowledge base file is malformed (the message says where)."""


# --------------------------------------------------------------------------------------------
# Knowledge base
# --------------------------------------------------------------------------------------------
@dataclass
class Intent:
    name: str
    answer: str  # template with {slot} fields
    slots: tuple[str, ...]  # slots the answer needs
    train: list[str]  # question templates (may contain {order_id} / {date})
    test: list[str]


@dataclass
class KnowledgeBase:
    company: str
    today: dt.date  # the fixed "today" that relative dates refer to
    intents: list[Intent]
    oos_calibration: list[str]
    oos_test: list[str]
    slot_prompts: dict[str, str]
    handover: str
    slot_cases: list[dict[str, Any]] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [i.name for i in self.intents]

    def intent(self, name: str) -> Intent:
        return self.intents[self.names.index(name)]


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def word_overlap(a: str, b: str) -> float:
    """Jaccard overlap of the word sets of two questions (slot fields ignored): 1 for a copy."""
    wa, wb = set(_norm(re.sub(r"\{\w+\}", " ", a)).split()), set(_norm(re.sub(r"\{\w+\}", " ", b)).split())
    return len(wa & wb) / max(len(wa | wb), 1)


def validate_kb(raw: Mapping[str, Any], min_intents: int = 40, min_paraphrases: int = 6,
                max_overlap: float = 0.5) -> KnowledgeBase:
    """Check the raw JSON and build a :class:`KnowledgeBase`; raise :class:`KBError` naming the problem.
    A held-out paraphrase whose word set overlaps a train paraphrase's by ``max_overlap`` or more
    (Jaccard) counts as a copy: it would make the held-out accuracy meaningless."""
    for key in ("company", "today", "intents", "out_of_scope", "slot_prompts", "handover"):
        if key not in raw:
            raise KBError(f"knowledge base: missing top-level key {key!r}")
    try:
        today = dt.date.fromisoformat(raw["today"])
    except ValueError:
        raise KBError(f"knowledge base: 'today' must be YYYY-MM-DD, not {raw['today']!r}") from None
    intents, seen = [], set()
    for n, item in enumerate(raw["intents"]):
        where = f"intent #{n} ({item.get('intent', '?')!r})"
        for key in ("intent", "answer", "train", "test"):
            if key not in item:
                raise KBError(f"{where}: missing key {key!r}")
        if item["intent"] in seen:
            raise KBError(f"{where}: duplicate intent name")
        seen.add(item["intent"])
        slots = tuple(item.get("slots", ()))
        for s in slots:
            if s not in SLOT_NAMES:
                raise KBError(f"{where}: unknown slot {s!r} (known: {', '.join(SLOT_NAMES)})")
        used = set(re.findall(r"\{(\w+)\}", item["answer"]))
        if used != set(slots):
            raise KBError(f"{where}: the answer uses slots {sorted(used)} but the intent declares {sorted(slots)}")
        for q in item["train"] + item["test"]:
            bad = set(re.findall(r"\{(\w+)\}", q)) - set(SLOT_NAMES)
            if bad:
                raise KBError(f"{where}: question {q!r} has unknown fields {sorted(bad)}")
        if len(item["train"]) + len(item["test"]) < min_paraphrases:
            raise KBError(f"{where}: {len(item['train']) + len(item['test'])} paraphrases, need ≥ {min_paraphrases}")
        if not item["train"] or not item["test"]:
            raise KBError(f"{where}: needs both train and test paraphrases")
        near = [(a, b) for a in item["test"] for b in item["train"] if word_overlap(a, b) >= max_overlap]
        if near:
            raise KBError(f"{where}: held-out paraphrases (nearly) copy train ones "
                          f"(word overlap ≥ {max_overlap}): {near}")
        intents.append(Intent(item["intent"], item["answer"], slots, list(item["train"]), list(item["test"])))
    if len(intents) < min_intents:
        raise KBError(f"knowledge base: {len(intents)} intents, need ≥ {min_intents}")
    oos = raw["out_of_scope"]
    if not oos.get("calibration") or not oos.get("test"):
        raise KBError("knowledge base: out_of_scope needs non-empty 'calibration' and 'test' lists")
    missing = [s for s in SLOT_NAMES if s not in raw["slot_prompts"]]
    if missing:
        raise KBError(f"knowledge base: slot_prompts lacks {missing}")
    return KnowledgeBase(raw["company"], today, intents, list(oos["calibration"]), list(oos["test"]),
                         dict(raw["slot_prompts"]), raw["handover"], list(raw.get("slot_cases", [])))


def load_kb(path: str | Path | None = None, **limits: int) -> KnowledgeBase:
    """The course's knowledge base (package data ``customer_service_kb.json``) or the JSON file at ``path``."""
    if path is None:
        text = resources.files("aigc_course").joinpath("data/customer_service_kb.json").read_text("utf-8")
        where = "customer_service_kb.json"
    else:
        text, where = Path(path).read_text("utf-8"), str(path)
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KBError(f"{where} is not valid JSON: {exc}") from None
    return validate_kb(raw, **limits)


# --------------------------------------------------------------------------------------------
# Slots: order numbers and dates
# --------------------------------------------------------------------------------------------
ORDER_RE = re.compile(r"\bIB[-\s]?(\d{6})\b", re.IGNORECASE)
"""An order number: ``IB`` then exactly six digits (``IB-482913``, ``ib 482913``, ``IB482913``)."""
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]
_MON = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?" \
       r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
ISO_RE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
DAY_MONTH_RE = re.compile(rf"\b(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?\s+{_MON}\b", re.IGNORECASE)
MONTH_DAY_RE = re.compile(rf"\b{_MON}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b", re.IGNORECASE)
RELATIVE_RE = re.compile(r"\b(today|tomorrow|day after tomorrow)\b", re.IGNORECASE)
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAY_RE = re.compile(r"\b(?:next\s+|on\s+|this\s+)?(" + "|".join(WEEKDAYS) + r")\b", re.IGNORECASE)


def _month(name: str) -> int:
    return next(i + 1 for i, m in enumerate(MONTHS) if m.startswith(name.lower()[:3]))


def _safe_date(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:  # 31 February, month 13: not a date, so no slot
        return None


def extract_date(text: str, today: dt.date) -> dt.date | None:
    """The first valid date in ``text``: ISO ``2026-05-03``; ``3 May`` / ``the 3rd of May`` / ``May 3rd``
    (year of ``today``; a day already past means next year); ``today`` / ``tomorrow`` / ``day after
    tomorrow``; a weekday name (its next occurrence after ``today``). Invalid dates give ``None``."""
    if m := ISO_RE.search(text):
        return _safe_date(int(m[1]), int(m[2]), int(m[3]))
    m = DAY_MONTH_RE.search(text)
    day_month = (int(m[1]), _month(m[2])) if m else None
    if day_month is None and (m := MONTH_DAY_RE.search(text)):
        day_month = (int(m[2]), _month(m[1]))
    if day_month is not None:
        d, mo = day_month
        date = _safe_date(today.year, mo, d)
        if date is not None and date < today:
            date = _safe_date(today.year + 1, mo, d)
        return date
    if m := RELATIVE_RE.search(text):
        return today + dt.timedelta(days={"today": 0, "tomorrow": 1}.get(m[1].lower(), 2))
    if m := WEEKDAY_RE.search(text):
        ahead = (WEEKDAYS.index(m[1].lower()) - today.weekday()) % 7 or 7
        return today + dt.timedelta(days=ahead)
    return None


def extract_slots(text: str, today: dt.date) -> dict[str, str]:
    """``{"order_id": "IB-482913", "date": "2026-05-03"}`` for what ``text`` contains (absent keys: not found)."""
    slots: dict[str, str] = {}
    if m := ORDER_RE.search(text):
        slots["order_id"] = f"IB-{m[1]}"
    date = extract_date(text, today)
    if date is not None:
        slots["date"] = date.isoformat()
    return slots


def mask_slots(text: str) -> str:
    """``text`` with order numbers and dates (also ``today`` / ``tomorrow`` / weekday names) replaced by the
    words ``ordernumber`` / ``somedate``: the matcher should compare *what is asked*, not which order."""
    text = ORDER_RE.sub(" ordernumber ", text)
    for rx in (ISO_RE, DAY_MONTH_RE, MONTH_DAY_RE, RELATIVE_RE, WEEKDAY_RE):
        text = rx.sub(" somedate ", text)
    return text


def fill_template(template: str, slots: Mapping[str, str]) -> str:
    """The template with ``{slot}`` replaced by ``slots[slot]``; a KeyError names a missing slot."""
    return template.format_map(dict(slots))


_DATE_FORMS = ("{d} {month}", "{month} {d}th", "{iso}", "tomorrow", "next friday", "the {d}th of {month}")


def example_values(rng: np.random.Generator, today: dt.date) -> dict[str, str]:
    """Random slot values *as a customer would write them* (order id variants, date wordings)."""
    digits = f"{rng.integers(100000, 1000000)}"
    order = rng.choice([f"IB-{digits}", f"IB{digits}", f"ib {digits}"])
    date = today + dt.timedelta(days=int(rng.integers(3, 40)))
    form = _DATE_FORMS[int(rng.integers(len(_DATE_FORMS)))]
    text = form.format(d=date.day, month=MONTHS[date.month - 1].capitalize(), iso=date.isoformat())
    return {"order_id": str(order), "date": text}


def questions(kb: KnowledgeBase, split: str, seed: int = 0) -> tuple[list[str], list[int]]:
    """Concrete questions of ``split`` ("train" / "test"): templates filled with random slot values.
    Returns texts and intent indices (aligned)."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for k, intent in enumerate(kb.intents):
        for q in getattr(intent, split):
            texts.append(q.format_map(example_values(rng, kb.today)))
            labels.append(k)
    return texts, labels


# --------------------------------------------------------------------------------------------
# Retrieval: TF-IDF and sentence vectors
# --------------------------------------------------------------------------------------------
WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def words(text: str) -> list[str]:
    return WORD_RE.findall(mask_slots(text).lower())


class Tfidf:
    """TF-IDF over word unigrams and character n-grams inside words (``char_ngrams``, padded with
    spaces: ``" refund "`` → ``" re"``, ``"ref"``, …), sublinear tf, smoothed idf, L2-normalised rows.
    Character n-grams let ``refunded`` match ``refund``."""

    def __init__(self, char_ngrams: tuple[int, int] = (3, 5)):
        self.char_ngrams = char_ngrams
        self.index: dict[str, int] = {}
        self.idf = np.zeros(0)

    def analyze(self, text: str) -> list[str]:
        lo, hi = self.char_ngrams
        ws = words(text)
        grams = [f"w:{w}" for w in ws]
        for w in ws:
            w = f" {w} "
            grams += [w[i: i + n] for n in range(lo, hi + 1) for i in range(len(w) - n + 1)]
        return grams

    def fit(self, texts: Sequence[str]) -> Tfidf:
        df = Counter(g for t in texts for g in set(self.analyze(t)))
        self.index = {g: i for i, g in enumerate(sorted(df))}
        n = len(texts)
        self.idf = np.array([math.log((1 + n) / (1 + df[g])) + 1 for g in sorted(df)])
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """``(N, V)`` float64, L2-normalised rows (all zero for a text with no known n-gram)."""
        out = np.zeros((len(texts), len(self.index)))
        for r, t in enumerate(texts):
            for g, c in Counter(self.analyze(t)).items():
                if g in self.index:
                    out[r, self.index[g]] = (1 + math.log(c)) * self.idf[self.index[g]]
        return _unit(out)


def _unit(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def train_word_vectors(corpus: Sequence[str], hp: Mapping[str, Any]) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
    """Skip-gram (chapter 07's :func:`~aigc_course.models.word2vec.train_sgns`) on the word tokens of
    ``corpus`` (one text per item, joined). Returns ``stoi``, input vectors ``(V, D)`` and unigram
    probabilities ``(V,)``. ``hp``: ``w2v_dim``, ``w2v_window``, ``w2v_epochs``, ``w2v_min_count``, ``seed``."""
    from ..models import word2vec

    tokens = [w for t in corpus for w in words(t)]
    vocab = word2vec.WordVocab.from_tokens(tokens, min_count=int(hp["w2v_min_count"]))
    ids = vocab.encode(tokens)
    cfg = word2vec.SGNSConfig(dim=int(hp["w2v_dim"]), window=int(hp["w2v_window"]), epochs=int(hp["w2v_epochs"]),
                              batch_size=int(hp.get("w2v_batch_size", 1024)), seed=int(hp.get("seed", 0)))
    model, _ = word2vec.train_sgns(ids, len(vocab), cfg)
    freq = vocab.frequencies(ids).numpy()
    return dict(vocab.stoi), model.vectors().numpy(), freq / freq.sum()


class SentenceEncoder:
    """SIF sentence vectors (Arora et al. 2017): the mean of word vectors weighted by ``a / (a + p(w))``
    (rare words count more), minus the projection on the first principal direction of the fitted
    sentences (the "common discourse" direction). Unknown words are skipped."""

    def __init__(self, stoi: Mapping[str, int], vectors: np.ndarray, probs: np.ndarray, a: float = 1e-3):
        self.stoi, self.vectors = dict(stoi), np.asarray(vectors, dtype=np.float64)
        self.weights = a / (a + np.asarray(probs, dtype=np.float64))
        self.pc = np.zeros(self.vectors.shape[1])

    def _raw(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.vectors.shape[1]))
        for r, t in enumerate(texts):
            ids = [self.stoi[w] for w in words(t) if self.stoi.get(w, 0) > 0]
            if ids:
                out[r] = (self.weights[ids, None] * self.vectors[ids]).mean(0)
        return out

    def fit(self, texts: Sequence[str]) -> SentenceEncoder:
        x = self._raw(texts)
        self.pc = np.linalg.svd(x, full_matrices=False)[2][0]
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """``(N, D)`` L2-normalised sentence vectors."""
        x = self._raw(texts)
        return _unit(x - np.outer(x @ self.pc, self.pc))


class IntentMatcher:
    """Scores every intent for a question: ``s_k = max_{j in intent k} cos(q, p_j)`` per representation,
    combined as ``w · s^tfidf + (1 - w) · s^vec``. Fitted on the train paraphrases ``(M,)``."""

    def __init__(self, tfidf: Tfidf, encoder: SentenceEncoder | None, texts: Sequence[str], labels: Sequence[int],
                 n_intents: int, tfidf_weight: float = 1.0):
        self.tfidf, self.encoder, self.w = tfidf, encoder, float(tfidf_weight)
        self.labels = np.asarray(labels)
        self.n_intents = n_intents
        self.train_tfidf = tfidf.transform(texts)
        self.train_vec = encoder.transform(texts) if encoder is not None else None

    def similarities(self, texts: Sequence[str]) -> np.ndarray:
        """``(N, M)`` combined cosine similarity with every train paraphrase."""
        sim = self.w * (self.tfidf.transform(texts) @ self.train_tfidf.T)
        if self.encoder is not None and self.w < 1:
            sim = sim + (1 - self.w) * (self.encoder.transform(texts) @ self.train_vec.T)
        return sim

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """``(N, K)`` intent scores: each intent's best combined similarity."""
        return intent_max(self.similarities(texts), self.labels, self.n_intents)

    def weight_grid_scores(self, texts: Sequence[str], grid: Sequence[float]) -> dict[float, np.ndarray]:
        """``{w: (N, K)}``: the scores for every TF-IDF weight ``w`` of ``grid`` (similarities computed once)."""
        st = self.tfidf.transform(texts) @ self.train_tfidf.T
        sv = self.encoder.transform(texts) @ self.train_vec.T if self.encoder is not None else np.zeros_like(st)
        return {w: intent_max(w * st + (1 - w) * sv, self.labels, self.n_intents) for w in grid}


def intent_max(sim: np.ndarray, labels: np.ndarray, n_intents: int) -> np.ndarray:
    """``(N, K)``: for each intent, the best similarity over its columns of ``sim`` ``(N, M)``."""
    out = np.full((len(sim), n_intents), -np.inf)
    for k in range(n_intents):
        cols = labels == k
        if cols.any():
            out[:, k] = sim[:, cols].max(1)
    return out


class IntentClassifier:
    """Supervised intent classifier: multinomial logistic regression on word (1–2)-gram and character
    (2–5)-gram TF-IDF of the masked question (character n-grams within word boundaries survive typos and
    word endings), optionally with the SIF sentence vector of ``encoder`` appended as ``D`` dense features."""

    def __init__(self, n_intents: int, c: float = 10.0, encoder: SentenceEncoder | None = None,
                 word_ngrams: tuple[int, int] = (1, 2), char_ngrams: tuple[int, int] = (2, 5), seed: int = 0):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        prep = _masked_words
        self.n_intents, self.encoder = n_intents, encoder
        self.word = TfidfVectorizer(analyzer="word", ngram_range=tuple(word_ngrams), sublinear_tf=True,
                                    preprocessor=prep, token_pattern=r"\S+")
        self.char = TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(char_ngrams), sublinear_tf=True,
                                    preprocessor=prep)
        self.model = LogisticRegression(C=c, solver="saga", tol=1e-3, max_iter=2000, random_state=seed)

    def features(self, texts: Sequence[str], fit: bool = False) -> Any:
        """``(N, F)`` sparse features: word TF-IDF | char TF-IDF | sentence vector (if any)."""
        from scipy import sparse

        parts = [self.word.fit_transform(texts) if fit else self.word.transform(texts),
                 self.char.fit_transform(texts) if fit else self.char.transform(texts)]
        if self.encoder is not None:
            parts.append(sparse.csr_matrix(self.encoder.transform(texts)))
        return sparse.hstack(parts).tocsr()

    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> IntentClassifier:
        self.model.fit(self.features(texts, fit=True), np.asarray(labels))
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """``(N, K)`` class probabilities (zero for an intent absent from the training labels)."""
        out = np.zeros((len(texts), self.n_intents))
        out[:, self.model.classes_] = self.model.predict_proba(self.features(texts))
        return out


def _masked_words(text: str) -> str:
    return " ".join(words(text))


class HybridScorer:
    """``s_k = mix · P_clf(k | q) + (1 − mix) · s_k^retrieval``: the classifier's probability and the
    retrieval score of :class:`IntentMatcher` (TF-IDF and sentence vectors), both ``(N, K)``."""

    def __init__(self, classifier: IntentClassifier | None, matcher: IntentMatcher | None, mix: float):
        if classifier is None and matcher is None:
            raise ValueError("HybridScorer needs a classifier, a matcher, or both")
        self.classifier, self.matcher, self.mix = classifier, matcher, float(mix)

    def parts(self, texts: Sequence[str]) -> tuple[np.ndarray | None, np.ndarray | None]:
        p = self.classifier.predict_proba(texts) if self.classifier is not None else None
        r = self.matcher.scores(texts) if self.matcher is not None else None
        return p, r

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """``(N, K)`` combined intent scores."""
        return combine_scores(*self.parts(texts), self.mix)


def combine_scores(proba: np.ndarray | None, retrieval: np.ndarray | None, mix: float) -> np.ndarray:
    """``mix · proba + (1 − mix) · retrieval`` (either part may be absent; then the other is used alone)."""
    if proba is None:
        return retrieval
    if retrieval is None:
        return proba
    return mix * proba + (1 - mix) * np.where(np.isfinite(retrieval), retrieval, -1.0)


def top2_features(scores: np.ndarray) -> np.ndarray:
    """``(N, 2)``: the top-1 score and its margin over the runner-up."""
    s = np.sort(np.where(np.isfinite(scores), scores, -1.0), axis=1)
    return np.stack([s[:, -1], s[:, -1] - s[:, -2]], axis=1)


class PlattCalibrator:
    """``P(correct) = σ(w · x + b)`` on the features ``x`` of :func:`top2_features`, fitted by L2-regularised
    logistic regression (Newton steps)."""

    def __init__(self, l2: float = 1e-2):
        self.l2, self.w, self.b = l2, np.zeros(2), 0.0

    def fit(self, x: np.ndarray, y: np.ndarray, steps: int = 50, weight: np.ndarray | None = None) -> PlattCalibrator:
        xb = np.hstack([x, np.ones((len(x), 1))])
        wt = np.ones(len(x)) if weight is None else np.asarray(weight, dtype=np.float64)
        theta = np.zeros(3)
        reg = np.diag([self.l2, self.l2, 0.0])
        for _ in range(steps):
            p = 1 / (1 + np.exp(-xb @ theta))
            grad = xb.T @ (wt * (p - y)) + reg @ theta
            hess = xb.T @ (xb * (wt * p * (1 - p))[:, None]) + reg + 1e-9 * np.eye(3)
            theta -= np.linalg.solve(hess, grad)
        self.w, self.b = theta[:2], float(theta[2])
        return self

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(x @ self.w + self.b)))


def choose_threshold(conf_in: np.ndarray, correct_in: np.ndarray, conf_oos: np.ndarray,
                     grid: Sequence[float]) -> tuple[float, list[dict[str, float]]]:
    """The threshold of ``grid`` that maximises *answered-correctly rate of in-scope questions + hand-over
    rate of out-of-scope questions* (ties: the smaller threshold). Returns it and the table of the grid."""
    rows = []
    for t in grid:
        rows.append({"threshold": float(t), "in_scope_answered_correct": float(np.mean((conf_in >= t) & correct_in)),
                     "oos_handover": float(np.mean(conf_oos < t)),
                     "in_scope_handover": float(np.mean(conf_in < t))})
    best = max(rows, key=lambda r: (round(r["in_scope_answered_correct"] + r["oos_handover"], 9), -r["threshold"]))
    return best["threshold"], rows


# --------------------------------------------------------------------------------------------
# The assistant and the conversation
# --------------------------------------------------------------------------------------------
@dataclass
class Reply:
    text: str
    intent: str | None  # best-matching intent (None: nothing matched)
    confidence: float  # calibrated P(intent is right)
    handover: bool  # passed to a human instead of answering
    slots: dict[str, str] = field(default_factory=dict)
    missing: tuple[str, ...] = ()  # slots the answer still needs (the reply asks for the first)


class Assistant:
    """Intent matching + calibrated confidence + hand-over + templated answers."""

    def __init__(self, kb: KnowledgeBase, matcher: HybridScorer | IntentMatcher, calibrator: PlattCalibrator,
                 threshold: float):
        self.kb, self.matcher, self.calibrator, self.threshold = kb, matcher, calibrator, float(threshold)

    def classify(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Top-1 intent indices ``(N,)`` and calibrated confidences ``(N,)``."""
        scores = self.matcher.scores(texts)
        return scores.argmax(1), self.calibrator(top2_features(scores))

    def answer(self, intent: str, slots: Mapping[str, str], confidence: float = 1.0) -> Reply:
        """The template of ``intent`` if all its slots are known, else a question for the first missing one."""
        spec = self.kb.intent(intent)
        missing = tuple(s for s in spec.slots if s not in slots)
        if missing:
            return Reply(self.kb.slot_prompts[missing[0]], intent, confidence, False, dict(slots), missing)
        return Reply(fill_template(spec.answer, slots), intent, confidence, False, dict(slots))

    def reply(self, text: str) -> Reply:
        """Answer one message on its own (no conversation state)."""
        k, conf = self.classify([text])
        slots = extract_slots(text, self.kb.today)
        intent, conf = self.kb.names[int(k[0])], float(conf[0])
        if conf < self.threshold:
            return Reply(self.kb.handover, intent, conf, True, slots)
        return self.answer(intent, slots, conf)


class Conversation:
    """A chat with memory: the history of ``(user, Reply)`` turns and a *pending* intent whose answer
    waits for a slot. A message that brings the missing slot completes the pending answer; a message
    without it is treated as a new question."""

    def __init__(self, assistant: Assistant):
        self.assistant = assistant
        self.history: list[tuple[str, Reply]] = []
        self.pending: Reply | None = None

    def send(self, text: str) -> Reply:
        slots = extract_slots(text, self.assistant.kb.today)
        pend = self.pending
        if pend is not None and any(s in slots for s in pend.missing):
            reply = self.assistant.answer(pend.intent, {**pend.slots, **slots}, pend.confidence)
        else:
            reply = self.assistant.reply(text)
        self.pending = reply if reply.missing else None
        self.history.append((text, reply))
        return reply

    def transcript(self) -> str:
        lines = []
        for user, r in self.history:
            tag = "hand-over" if r.handover else f"{r.intent}, {r.confidence:.2f}"
            lines += [f"customer: {user}", f"assistant [{tag}]: {r.text}"]
        return "\n".join(lines)


def _documents(kb: KnowledgeBase, hp: Mapping[str, Any]) -> tuple[list[str], list[int]]:
    """Each intent's answer text as one more training document of it (``hp.answers_as_documents``)."""
    if not hp.get("answers_as_documents", False):
        return [], []
    return [i.answer for i in kb.intents], list(range(len(kb.intents)))


def fit_scorer(texts: Sequence[str], labels: Sequence[int], n_intents: int, hp: Mapping[str, Any],
               encoder: SentenceEncoder | None, seed: int = 0) -> HybridScorer:
    """The :class:`HybridScorer` of ``hp`` (``mix``, ``tfidf_weight``, ``clf_vectors``, ``clf_c``,
    ``word_ngrams``, ``clf_char_ngrams``, ``char_ngrams``) fitted on ``texts`` / ``labels``."""
    mix = float(hp["mix"])
    clf = matcher = None
    if mix > 0:
        clf = IntentClassifier(n_intents, hp["clf_c"], encoder if hp["clf_vectors"] else None,
                               tuple(hp["word_ngrams"]), tuple(hp["clf_char_ngrams"]), seed).fit(texts, labels)
    if mix < 1:
        w = float(hp["tfidf_weight"]) if encoder is not None else 1.0
        matcher = IntentMatcher(Tfidf(tuple(hp["char_ngrams"])).fit(texts), encoder if w < 1 else None,
                                texts, labels, n_intents, w)
    return HybridScorer(clf, matcher, mix)


@dataclass
class CrossValidation:
    """Out-of-fold scores of the train questions ``(N, K)`` and, per fold, of the calibration out-of-scope
    questions ``(O, K)``, for every component: ``proba[clf_vectors]`` and ``retrieval[tfidf_weight]``."""

    labels: np.ndarray
    proba: dict[bool, np.ndarray]
    retrieval: dict[float, np.ndarray]
    proba_oos: dict[bool, list[np.ndarray]]
    retrieval_oos: dict[float, list[np.ndarray]]

    def scores(self, clf_vectors: bool, tfidf_weight: float, mix: float) -> tuple[np.ndarray, list[np.ndarray]]:
        p, r = self.proba[clf_vectors], self.retrieval[tfidf_weight]
        po, ro = self.proba_oos[clf_vectors], self.retrieval_oos[tfidf_weight]
        return combine_scores(p, r, mix), [combine_scores(a, b, mix) for a, b in zip(po, ro)]

    def accuracy(self, clf_vectors: bool, tfidf_weight: float, mix: float) -> float:
        return float(np.mean(self.scores(clf_vectors, tfidf_weight, mix)[0].argmax(1) == self.labels))


def cross_validate(kb: KnowledgeBase, hp: Mapping[str, Any], encoder: SentenceEncoder | None,
                   seed: int = 0, encoder_fn: Any = None) -> CrossValidation:
    """Stratified ``hp.cv_folds``-fold cross-validation on the **train** questions only: each fold fits the
    classifier (with and without sentence-vector features) and the retrieval matcher (every weight of
    ``hp.tfidf_weight_grid``) on the other folds (+ answer documents) and scores the fold and the calibration
    out-of-scope questions. The held-out paraphrases and test out-of-scope questions are never touched.
    ``encoder_fn(texts)``, if given, refits the sentence encoder (skip-gram included) on each fold's
    training texts, so that the validation fold's words are unseen by the word vectors too."""
    from sklearn.model_selection import StratifiedKFold

    texts, labels = questions(kb, "train", seed)
    docs, doc_labels = _documents(kb, hp)
    y = np.asarray(labels)
    K = len(kb.intents)
    variants = (False, True) if encoder is not None else (False,)
    weights = tuple(hp["tfidf_weight_grid"]) if encoder is not None else (1.0,)
    proba = {v: np.zeros((len(texts), K)) for v in variants}
    retrieval = {w: np.zeros((len(texts), K)) for w in weights}
    proba_oos: dict[bool, list[np.ndarray]] = {v: [] for v in variants}
    retrieval_oos: dict[float, list[np.ndarray]] = {w: [] for w in weights}
    folds = StratifiedKFold(int(hp["cv_folds"]), shuffle=True, random_state=seed)
    for tr, va in folds.split(np.zeros(len(y)), y):
        fit_t, fit_y = [texts[i] for i in tr] + docs, [labels[i] for i in tr] + doc_labels
        val_t = [texts[i] for i in va]
        enc = encoder_fn(fit_t) if (encoder_fn is not None and encoder is not None) else encoder
        for v in variants:
            sc = fit_scorer(fit_t, fit_y, K, {**hp, "mix": 1.0, "clf_vectors": v}, enc, seed)
            proba[v][va] = sc.scores(val_t)
            proba_oos[v].append(sc.scores(kb.oos_calibration))
        matcher = IntentMatcher(Tfidf(tuple(hp["char_ngrams"])).fit(fit_t), enc, fit_t, fit_y, K, 0.0)
        for w, sc_w in matcher.weight_grid_scores(val_t, weights).items():
            retrieval[w][va] = sc_w
        for w, sc_w in matcher.weight_grid_scores(kb.oos_calibration, weights).items():
            retrieval_oos[w].append(sc_w)
    return CrossValidation(y, proba, retrieval, proba_oos, retrieval_oos)


def choose_config(cv: CrossValidation, mix_grid: Sequence[float]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The (``clf_vectors``, ``tfidf_weight``, ``mix``) of highest cross-validated train accuracy (ties: the
    simpler one — no vectors in the classifier, more TF-IDF, more classifier). Returns it and every row."""
    rows = [{"clf_vectors": v, "tfidf_weight": w, "mix": float(m), "cv_acc": cv.accuracy(v, w, m)}
            for v in cv.proba for w in cv.retrieval for m in mix_grid]
    best = max(rows, key=lambda r: (round(r["cv_acc"], 9), not r["clf_vectors"], r["tfidf_weight"], r["mix"]))
    return {k: best[k] for k in ("clf_vectors", "tfidf_weight", "mix")}, rows


def build_assistant(kb: KnowledgeBase, hp: Mapping[str, Any], encoder: SentenceEncoder | None,
                    seed: int = 0, cv: CrossValidation | None = None) -> tuple[Assistant, dict[str, Any]]:
    """Fit the scorer of ``hp`` (``mix``, ``tfidf_weight``, ``clf_vectors``) on all train questions (+ answer
    documents); fit the Platt calibrator and choose the hand-over threshold on **out-of-fold** train scores
    (:func:`cross_validate`) + the calibration out-of-scope questions (scored by each fold's model, weighted
    ``1 / folds``). Returns the assistant and the calibration data (``x_in``, ``correct_in``, ``x_oos``,
    ``table``, ``cv_acc``)."""
    texts, labels = questions(kb, "train", seed)
    docs, doc_labels = _documents(kb, hp)
    cv = cv if cv is not None else cross_validate(kb, hp, encoder, seed)
    w = float(hp["tfidf_weight"]) if encoder is not None else 1.0
    s_in, s_oos = cv.scores(bool(hp["clf_vectors"]) and encoder is not None, w, float(hp["mix"]))
    correct_in = s_in.argmax(1) == cv.labels
    x_in, x_oos = top2_features(s_in), np.vstack([top2_features(s) for s in s_oos])
    weight = np.concatenate([np.ones(len(x_in)), np.full(len(x_oos), 1 / len(s_oos))])
    calibrator = PlattCalibrator(hp["platt_l2"]).fit(
        np.vstack([x_in, x_oos]), np.concatenate([correct_in, np.zeros(len(x_oos), bool)]).astype(float),
        weight=weight)
    threshold, table = choose_threshold(calibrator(x_in), correct_in, calibrator(x_oos), hp["threshold_grid"])
    scorer = fit_scorer(texts + docs, labels + doc_labels, len(kb.intents), hp, encoder, seed)
    return Assistant(kb, scorer, calibrator, threshold), {"x_in": x_in, "correct_in": correct_in, "x_oos": x_oos,
                                                         "table": table, "cv_acc": float(correct_in.mean())}


def with_train_subset(kb: KnowledgeBase, n: int, seed: int = 0) -> KnowledgeBase:
    """A copy of ``kb`` that keeps ``n`` randomly chosen train paraphrases per intent (all if it has fewer);
    the held-out side is unchanged."""
    if n < 1:
        raise ValueError(f"n must be at least 1 train paraphrase per intent, not {n}")
    rng = np.random.default_rng(seed)
    intents = [replace(i, train=[i.train[j] for j in sorted(rng.permutation(len(i.train))[:n])]) for i in kb.intents]
    return replace(kb, intents=intents)


def learning_curve(kb: KnowledgeBase, hp: Mapping[str, Any], sizes: Sequence[int], encoder_fn: Any = None,
                   seed: int = 0, test_seed: int = 1) -> list[dict[str, Any]]:
    """Held-out top-1 accuracy of the scorer of ``hp`` (fixed ``mix`` / ``tfidf_weight`` / ``clf_vectors``)
    trained on ``n`` paraphrases per intent, for each ``n`` in ``sizes``. ``encoder_fn(texts)`` refits the
    sentence encoder on each subset (None: no vectors). Returns rows ``{"per_intent", "train_questions",
    "heldout_acc"}``. A figure only: nothing is chosen with it."""
    test_q, test_y = questions(kb, "test", test_seed)
    docs, doc_labels = _documents(kb, hp)
    rows = []
    for n in sizes:
        sub = with_train_subset(kb, int(n), seed)
        texts, labels = questions(sub, "train", seed)
        enc = encoder_fn(texts) if encoder_fn is not None else None
        scorer = fit_scorer(texts + docs, labels + doc_labels, len(kb.intents), hp, enc, seed)
        acc = float(np.mean(scorer.scores(test_q).argmax(1) == np.asarray(test_y)))
        rows.append({"per_intent": int(n), "train_questions": len(texts), "heldout_acc": acc})
    return rows


def evaluate(assistant: Assistant, texts: Sequence[str], labels: Sequence[int], oos: Sequence[str]) -> dict[str, Any]:
    """Held-out figures: top-1 accuracy, hand-over rates, latency of :meth:`Assistant.reply` per message."""
    k, conf_in = assistant.classify(texts)
    _, conf_oos = assistant.classify(oos)
    latencies = []
    for t in list(texts) + list(oos):
        start = time.perf_counter()
        assistant.reply(t)
        latencies.append(1000 * (time.perf_counter() - start))
    correct = k == np.asarray(labels)
    answered = conf_in >= assistant.threshold
    return {
        "intent_top1_acc": float(correct.mean()),
        "out_of_scope_handover_recall": float(np.mean(conf_oos < assistant.threshold)),
        "in_scope_false_handover_rate": float(np.mean(conf_in < assistant.threshold)),
        "answered_accuracy": float(correct[answered].mean()) if answered.any() else float("nan"),
        "median_latency_ms": float(np.median(latencies)),
        "pred": k, "conf_in": conf_in, "conf_oos": conf_oos, "correct": correct,
    }


def expected_calibration_error(conf: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """``Σ_b (n_b / N) |acc_b − conf_b|`` over equal-width confidence bins."""
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    return float(sum(np.mean(idx == b) * abs(correct[idx == b].mean() - conf[idx == b].mean())
                     for b in range(bins) if (idx == b).any()))


# --------------------------------------------------------------------------------------------
# The reference reply
# --------------------------------------------------------------------------------------------
def reference_reply(kb: KnowledgeBase, question: str, intent: str) -> str:
    """What the templated assistant says to ``question`` when it matches ``intent``: the answer filled with the
    slots found *in the question*, or the prompt for the first slot the question lacks. It is the target of
    the generated replies and the reference of :func:`fact_check`."""
    spec = kb.intent(intent)
    slots = extract_slots(question, kb.today)
    missing = [s for s in spec.slots if s not in slots]
    return kb.slot_prompts[missing[0]] if missing else fill_template(spec.answer, slots)


def hash_text(text: str) -> str:
    """A short, stable fingerprint of ``text`` (for checkpoint keys)."""
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Checking a reply: facts and relevance
# --------------------------------------------------------------------------------------------
FACT_RE = re.compile(
    r"(?P<order>\bIB[-\s]?\d{6}\b)|(?P<iso>\b\d{4}-\d{2}-\d{2}\b)|(?P<money>£\s?\d+(?:\.\d+)?)"
    r"|(?P<time>\b\d{1,2}(?::\d{2})?\s?(?:am|pm)\b)|(?P<number>\b\d+(?:\.\d+)?%?)", re.IGNORECASE)


def facts(text: str) -> list[str]:
    """The checkable facts of ``text``, normalised: order numbers (``IB-482913``), ISO dates, prices (``£2.99``),
    clock times (``9am``) and any other number, with its ``%`` (``30``, ``10%``). In order of appearance."""
    out = []
    for m in FACT_RE.finditer(text):
        kind, value = next((k, v) for k, v in m.groupdict().items() if v)
        if kind == "order":
            value = "IB-" + value[-6:]
        elif kind in ("money", "time"):
            value = re.sub(r"\s", "", value).lower()
        out.append(value)
    return out


def unsupported_facts(reply: str, question: str, kb: KnowledgeBase, intent: str | None = None) -> list[str]:
    """Facts of ``reply`` (see :func:`facts`) found neither in ``question`` (its slots included)     nor in the
    reference reply of the question's true ``intent`` (:func:`reference_reply`) nor in the hand-over message
    (handing over is always allowed); without ``intent``, in no answer of the KB. A made-up order number, date,
    price or day count is unsupported."""
    allowed = set(facts(question)) | set(extract_slots(question, kb.today).values()) | set(facts(kb.handover))
    if intent is None:
        allowed |= {f for i in kb.intents for f in facts(i.answer)} | set(facts(kb.handover))
    else:
        allowed |= set(facts(reference_reply(kb, question, intent)))
    return [f for f in facts(reply) if f not in allowed]


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 on lower-cased words: the longest common subsequence ``l`` of the two word lists,
    ``2 l / (|candidate| + |reference|)`` (0 when either is empty)."""
    a, b = words(candidate), words(reference)
    if not a or not b:
        return 0.0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return 2 * prev[-1] / (len(a) + len(b))


class ReplyChecker:
    """Scores a reply to a question whose true intent is known: the facts it states and which of them are
    unsupported (:func:`unsupported_facts`), the KB reply it is closest to (TF-IDF cosine over word 1–2-grams,
    order numbers and dates masked, among every intent's answer, the slot prompts and the hand-over) and its
    ROUGE-L against the reference reply. A reply is **on intent** when its closest KB reply is the reference's
    *and* their cosine is at least ``min_cosine`` (gibberish is close to nothing), and **grounded** when it is on
    intent and states no unsupported fact."""

    def __init__(self, kb: KnowledgeBase, min_cosine: float = 0.5):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.kb, self.min_cosine = kb, float(min_cosine)
        self.labels = [i.name for i in kb.intents] + [f"ask:{s}" for s in kb.slot_prompts] + ["handover"]
        docs = [i.answer for i in kb.intents] + list(kb.slot_prompts.values()) + [kb.handover]
        self.vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit([mask_slots(d) for d in docs])
        self.docs = self.vec.transform([mask_slots(d) for d in docs])

    def nearest(self, reply: str) -> tuple[str, float]:
        """The label of the KB reply closest to ``reply`` (an intent name, ``ask:<slot>`` or ``handover``; ``none``
        if no word is shared) and its cosine."""
        sims = (self.docs @ self.vec.transform([mask_slots(reply)]).T).toarray()[:, 0]
        return (self.labels[int(sims.argmax())] if sims.max() > 0 else "none"), float(sims.max())

    def reference_label(self, question: str, intent: str) -> str:
        spec = self.kb.intent(intent)
        missing = [s for s in spec.slots if s not in extract_slots(question, self.kb.today)]
        return f"ask:{missing[0]}" if missing else intent

    def check(self, reply: str, question: str, intent: str) -> dict[str, Any]:
        """One row: ``facts``, ``unsupported``, ``nearest``, ``cosine``, ``on_intent``, ``rouge_l``, ``grounded``."""
        reference = reference_reply(self.kb, question, intent)
        nearest, cosine = self.nearest(reply)
        on_intent = nearest == self.reference_label(question, intent) and cosine >= self.min_cosine
        bad = unsupported_facts(reply, question, self.kb, intent)
        return {"facts": facts(reply), "unsupported": bad, "nearest": nearest, "cosine": cosine, "on_intent": on_intent,
                "rouge_l": rouge_l(reply, reference), "grounded": on_intent and not bad}
