"""Chapter 07 (language models): the exercises' references, known mistakes and hints."""

from __future__ import annotations

import math
from typing import Any

import torch

from ..metrics import text as text_metrics
from ..models import lm, ngram
from . import Exercise, copying
from . import checkers as ex

# ---- 07.perplexity_bits (derive): perplexity and bits per character from a loss in nats ------------------


def _perplexity_bits(loss_nats: float) -> tuple[float, float]:
    return math.exp(loss_nats), loss_nats / math.log(2)


_PPL_CASES = [(1.48,), (2.05,), (math.log(65),), (0.0,)]
_PPL_WRONG: list[tuple[Any, str]] = [
    (lambda x: (2 ** x, x / math.log(2)), "e^loss"),
    (lambda x: (math.exp(x), x * math.log(2)), "Upside down"),
    (lambda x: (math.exp(x), x / math.log(10)), "bans"),
]


def _run_perplexity_bits(answer: Any) -> bool:
    return ex.check_function(
        "07.perplexity_bits", answer, _perplexity_bits, _PPL_CASES,
        mistakes=[(_PPL_WRONG[0][0], "Perplexity is e^loss when the loss is in nats (2^loss is for a loss in bits)."),
                  (_PPL_WRONG[1][0], "Upside down: a bit is ln 2 ≈ 0.69 nats, so bits = nats / ln 2."),
                  (_PPL_WRONG[2][0], "log 10 converts to base-10 units (bans); bits use ln 2.")],
        hint="perplexity = exp(loss); bits = loss / ln 2")


# ---- 07.add_k (derive): the add-k smoothed distribution of one context ---------------------------------


def _add_k(row: torch.Tensor, k: float) -> torch.Tensor:
    """p_k(w | h) = (N(h, w) + k) / (N(h) + kV). row: (V,) counts; returns (V,) probabilities."""
    return (row + k) / (row.sum() + k * len(row))


def _add_k_cases() -> list[tuple[torch.Tensor, float]]:
    """Random sparse count rows of a 65-character vocabulary, an unseen context (all zeros) and a tiny row."""
    g = torch.Generator().manual_seed(701)
    rows = [torch.randint(0, 40, (65,), generator=g).float() * (torch.rand(65, generator=g) < 0.3) for _ in range(2)]
    return [(rows[0], 0.5), (rows[1], 0.1), (torch.zeros(5), 1.0), (torch.tensor([3.0, 0.0, 1.0]), 2.0)]


_ADD_K_WRONG: list[tuple[Any, str]] = [
    (lambda r, k: (r + k) / (r.sum() + k), "one of the V characters"),
    (lambda r, k: (r + k) / r.sum().clamp(min=1), "sums to 1"),
    (lambda r, k: r / r.sum().clamp(min=1), "unsmoothed"),
]


def _run_add_k(answer: Any) -> bool:
    return ex.check_function(
        "07.add_k", copying(answer), _add_k, _add_k_cases(),
        mistakes=[(_ADD_K_WRONG[0][0], "The denominator needs k for *every* one of the V characters: N(h) + kV."),
                  (_ADD_K_WRONG[1][0], "Add kV to the denominator too, or the row no longer sums to 1."),
                  (_ADD_K_WRONG[2][0], "That is the unsmoothed estimate: unseen characters get probability 0.")],
        hint="(row + k) / (row.sum() + k * len(row))")


# ---- 07.top_p (implement): nucleus filtering of one row of logits ----------------------------------------


def _finite(fn: Any) -> Any:
    """``fn`` with −inf replaced by −1e9, so that results can be compared with a tolerance."""
    if not callable(fn):
        return fn
    return lambda z, p: torch.nan_to_num(fn(z, p), neginf=-1e9)


def _top_p(z: torch.Tensor, p: float) -> torch.Tensor:
    """z: (V,) logits; the logits outside the nucleus of mass p set to -inf, (V,)."""
    return lm.filter_logits(z[None], 1.0, top_p=p)[0]


def _top_p_cases() -> list[tuple[torch.Tensor, float]]:
    g = torch.Generator().manual_seed(702)
    z = 2.0 * torch.randn(65, generator=g)
    return [(z, 0.9), (z, 0.5), (torch.tensor([2.0, 1.0, 0.5, -1.0]), 0.7),
            (torch.tensor([0.3, -0.2, 1.1, 0.0, -2.0]), 0.6), (torch.tensor([5.0, 0.0, -1.0]), 0.3)]


def _wrong_cumsum(z, p):  # keeps only tokens whose *inclusive* cumulative mass is below p: one too few
    probs, order = z.softmax(-1).sort(descending=True)
    keep = torch.zeros_like(z, dtype=torch.bool)
    keep[order[probs.cumsum(-1) < p]] = True
    return z.masked_fill(~keep, float("-inf"))


def _wrong_threshold(z, p):  # keeps characters whose own probability is at least 1 - p
    return z.masked_fill(z.softmax(-1) < 1 - p, float("-inf"))


def _wrong_unsorted(z, p):  # accumulates in vocabulary order instead of from the most likely character
    probs = z.softmax(-1)
    return z.masked_fill(probs.cumsum(-1) - probs >= p, float("-inf"))


def _wrong_ascending(z, p):  # sorts from the *least* likely character
    probs, order = z.softmax(-1).sort()
    keep = torch.zeros_like(z, dtype=torch.bool)
    keep[order[probs.cumsum(-1) - probs < p]] = True
    return z.masked_fill(~keep, float("-inf"))


def _wrong_zero_fill(z, p):  # "removes" the characters outside the nucleus by setting their logits to 0
    probs, order = z.softmax(-1).sort(descending=True)
    keep = torch.zeros_like(z, dtype=torch.bool)
    keep[order[probs.cumsum(-1) - probs < p]] = True
    return z.masked_fill(~keep, 0.0)


_TOP_P_WRONG: list[tuple[Any, str]] = [
    (_wrong_cumsum, "Off by one"), (_wrong_threshold, "not a threshold"), (_wrong_unsorted, "Sort first"),
    (_wrong_ascending, "descending"), (_wrong_zero_fill, "A logit of 0 is not excluded"),
]


def _run_top_p(answer: Any) -> bool:
    return ex.check_function(
        "07.top_p", _finite(copying(answer)), _finite(_top_p), _top_p_cases(),
        mistakes=[(_finite(_wrong_cumsum), "Off by one: keep a character while the mass *before* it is below p, so "
                                           "the kept set reaches p (the inclusive cumulative sum drops the last one)."),
                  (_finite(_wrong_threshold), "top-p is not a threshold on each probability: sort, accumulate, and "
                                              "cut where the running total reaches p."),
                  (_finite(_wrong_unsorted), "Sort first: the running total must start from the most likely "
                                             "character, not from the first one of the vocabulary."),
                  (_finite(_wrong_ascending), "Sort in *descending* order (descending=True): you kept the least "
                                              "likely characters."),
                  (_finite(_wrong_zero_fill), "A logit of 0 is not excluded: e^0 = 1 still gets its share of the "
                                              "softmax. Set the logits outside the nucleus to -inf.")],
        hint="sort the probabilities in descending order; keep a character while cumsum − p_i < p")


# ---- 07.rnn_forward (implement): a vanilla RNN layer over a whole sequence --------------------------------


def _rnn_forward(x: torch.Tensor, h0: torch.Tensor, W_x: torch.Tensor, W_h: torch.Tensor,
                 b: torch.Tensor) -> torch.Tensor:
    """h_t = tanh(W_x x_t + W_h h_{t-1} + b) for t = 1 … T.

    x: (B, T, E) inputs; h0: (B, H) initial state; W_x: (H, E); W_h: (H, H); b: (H,).
    Returns (B, T, H): the states h_1 … h_T."""
    h, out = h0, []
    for t in range(x.shape[1]):
        h = torch.tanh(x[:, t] @ W_x.T + h @ W_h.T + b)
        out.append(h)
    return torch.stack(out, dim=1)


def _rnn_cases() -> list[tuple[torch.Tensor, ...]]:
    """Random sizes with E ≠ H, one sequence of length 1, a zero recurrent matrix (each step then forgets the
    past), and a batch of one with large weights (tanh saturates)."""
    g = torch.Generator().manual_seed(703)
    cases = []
    for b, t, e, h, scale in ((3, 5, 4, 6, 0.5), (2, 1, 3, 2, 1.0), (4, 7, 5, 3, 0.8), (1, 6, 2, 4, 3.0)):
        cases.append((torch.randn(b, t, e, generator=g), torch.randn(b, h, generator=g),
                      scale * torch.randn(h, e, generator=g), scale * torch.randn(h, h, generator=g),
                      torch.randn(h, generator=g)))
    x, h0, W_x, _, b = cases[0]
    cases.append((x, h0, W_x, torch.zeros(W_x.shape[0], W_x.shape[0]), b))
    return cases


def _rnn_no_tanh(x, h0, W_x, W_h, b):
    h, out = h0, []
    for t in range(x.shape[1]):
        h = x[:, t] @ W_x.T + h @ W_h.T + b
        out.append(h)
    return torch.stack(out, dim=1)


def _rnn_state_not_carried(x, h0, W_x, W_h, b):
    return torch.tanh(x @ W_x.T + (h0 @ W_h.T)[:, None] + b)


def _rnn_shifted(x, h0, W_x, W_h, b):
    full = _rnn_forward(x, h0, W_x, W_h, b)
    return torch.cat([h0[:, None], full[:, :-1]], dim=1)


def _rnn_last_only(x, h0, W_x, W_h, b):
    return _rnn_forward(x, h0, W_x, W_h, b)[:, -1]


_RNN_WRONG: list[tuple[Any, str]] = [
    (_rnn_no_tanh, "tanh"), (_rnn_state_not_carried, "carry the state"), (_rnn_shifted, "h_1 … h_T"),
    (_rnn_last_only, "every step"),
]


def _run_rnn_forward(answer: Any) -> bool:
    return ex.check_function(
        "07.rnn_forward", copying(answer), _rnn_forward, _rnn_cases(), atol=1e-5, rtol=1e-4,
        mistakes=[(_rnn_no_tanh, "The tanh is missing: without it the RNN is linear and its state can grow without "
                                 "bound. Apply torch.tanh to W_x x_t + W_h h_{t-1} + b at every step."),
                  (_rnn_state_not_carried, "Every step used h0 as the previous state: carry the state — the h_t you "
                                           "just computed is the h_{t-1} of the next step (a loop over t, h = ...)."),
                  (_rnn_shifted, "Off by one: return the states *after* each input, h_1 … h_T (the first row is "
                                 "tanh(W_x x_1 + W_h h0 + b)), not h0 … h_{T-1}."),
                  (_rnn_last_only, "Return the state of every step stacked along dim 1, shape (B, T, H) — the "
                                   "language model predicts a character at every position, not only after h_T.")],
        hint="loop over t: h = tanh(x[:, t] @ W_x.T + h @ W_h.T + b); stack the h's along dim 1")


# ---- 07.kneser_ney_bigram (implement): the interpolated Kneser–Ney bigram table ----------------------------


def _kneser_ney_bigram(counts: torch.Tensor, D: float) -> torch.Tensor:
    """Interpolated Kneser–Ney bigram probabilities.

    counts: (V, V) bigram counts N(h, w) (row: the previous character h); D: the discount in (0, 1).
    p(w | h) = max(N(h, w) − D, 0) / N(h) + D · T(h) / N(h) · P_cont(w), with T(h) the number of different
    characters seen after h and P_cont(w) = (number of different h seen before w) / (number of different bigrams);
    a context never seen (N(h) = 0) gets P_cont. Returns (V, V), every row summing to 1."""
    seen = (counts > 0).to(counts.dtype)
    p_cont = seen.sum(0) / seen.sum()  # (V,)
    total = counts.sum(1, keepdim=True)  # (V, 1): N(h)
    safe = total.clamp(min=1e-12)
    mixed = (counts - D).clamp(min=0) / safe + D * seen.sum(1, keepdim=True) / safe * p_cont
    return torch.where(total > 0, mixed, p_cont.expand_as(counts))


def _kn_cases() -> list[tuple[torch.Tensor, float]]:
    """Sparse random count tables (float64) with one context never seen, a table with a single seen pair per
    row, and a dense table."""
    g = torch.Generator().manual_seed(704)
    cases = []
    for v, density, d in ((6, 0.4, 0.75), (9, 0.3, 0.5), (5, 1.0, 0.9)):
        c = torch.randint(1, 8, (v, v), generator=g).double() * (torch.rand(v, v, generator=g) < density)
        c[0] = 0.0  # the context 0 was never seen
        c[1, 2] = 4.0  # at least one pair exists
        cases.append((c, d))
    cases.append((torch.tensor([[0.0, 3.0, 0.0], [0.0, 0.0, 1.0], [5.0, 0.0, 0.0]], dtype=torch.float64), 0.75))
    return cases


def _kn_unigram_backoff(counts, D):  # absolute discounting: backs off to the plain character frequencies
    p_uni = counts.sum(0) / counts.sum()
    seen = (counts > 0).to(counts.dtype)
    total = counts.sum(1, keepdim=True)
    safe = total.clamp(min=1e-12)
    mixed = (counts - D).clamp(min=0) / safe + D * seen.sum(1, keepdim=True) / safe * p_uni
    return torch.where(total > 0, mixed, p_uni.expand_as(counts))


def _kn_weight_without_types(counts, D):  # λ(h) = D / N(h): forgets that D was taken from T(h) pairs
    seen = (counts > 0).to(counts.dtype)
    p_cont = seen.sum(0) / seen.sum()
    total = counts.sum(1, keepdim=True)
    safe = total.clamp(min=1e-12)
    mixed = (counts - D).clamp(min=0) / safe + D / safe * p_cont
    return torch.where(total > 0, mixed, p_cont.expand_as(counts))


def _kn_no_clamp(counts, D):  # subtracts D from the unseen pairs too: negative "probabilities"
    seen = (counts > 0).to(counts.dtype)
    p_cont = seen.sum(0) / seen.sum()
    total = counts.sum(1, keepdim=True)
    safe = total.clamp(min=1e-12)
    mixed = (counts - D) / safe + D * seen.sum(1, keepdim=True) / safe * p_cont
    return torch.where(total > 0, mixed, p_cont.expand_as(counts))


def _kn_unseen_uniform(counts, D):  # a context never seen gets the uniform distribution
    v = counts.shape[1]
    out = _kneser_ney_bigram(counts, D)
    return torch.where(counts.sum(1, keepdim=True) > 0, out, torch.full_like(out, 1.0 / v))


_KN_WRONG: list[tuple[Any, str]] = [
    (_kn_unigram_backoff, "absolute discounting"), (_kn_weight_without_types, "T(h)"),
    (_kn_no_clamp, "only from the pairs"), (_kn_unseen_uniform, "never seen"),
]


def _run_kneser_ney(answer: Any) -> bool:
    return ex.check_function(
        "07.kneser_ney_bigram", copying(answer), _kneser_ney_bigram, _kn_cases(), atol=1e-8, rtol=1e-6,
        mistakes=[(_kn_unigram_backoff, "That is absolute discounting: it backs off to how *often* w occurs. "
                                        "Kneser–Ney backs off to how many *different* characters w follows: "
                                        "P_cont(w) = #{h : N(h, w) > 0} / #{(h, w) : N(h, w) > 0}."),
                  (_kn_weight_without_types, "The back-off weight must hand back all the mass the discount freed: "
                                             "D was taken from each of the T(h) seen pairs, so λ(h) = D · T(h) / "
                                             "N(h), not D / N(h) (your rows do not sum to 1)."),
                  (_kn_no_clamp, "Subtract D only from the pairs that were seen: max(N(h, w) − D, 0) — an unseen pair "
                                 "would otherwise get a negative share."),
                  (_kn_unseen_uniform, "A context never seen (N(h) = 0) backs off entirely to the continuation "
                                       "distribution P_cont, not to the uniform one.")],
        hint="P_cont from (counts > 0).sum(0); T(h) from (counts > 0).sum(1); N(h) = counts.sum(1); "
             "torch.where(N(h) > 0, …, P_cont) for the unseen contexts")


# ---- 07.forget_gate (concept) and 07.distinct2 (derive): kept from the chapter's first edition ----------

_GATE_INPUT = "The input gate scales the *new* content i ⊙ g; ∂c_t/∂c_{t-1} = diag(f_t) does not contain it."
_GATE_OUTPUT = "The output gate only decides how much of the cell reaches h_t; it is not on the c → c path."
_GATE_WRONG: list[tuple[Any, str]] = [("input", "new* content"), ("output", "not on the c → c path"),
                                      ("forget gate", "listed word")]


def _run_forget_gate(answer: Any) -> bool:
    return ex.check_choice(
        "07.forget_gate", answer, "forget",
        mistakes={"input": _GATE_INPUT, "output": _GATE_OUTPUT, "input gate": _GATE_INPUT,
                  "output gate": _GATE_OUTPUT,
                  "forget gate": 'Right gate — answer with the listed word: "input", "forget" or "output".'},
        hint="Differentiate c_t with respect to c_{t-1}.")


_DISTINCT_TEXT = "to be or not to be"
_DISTINCT_WRONG: list[tuple[Any, str]] = [(4 / 6, "M − 1 = 5"), (5 / 5, "occurs twice"), (4 / 18, "not characters")]


def _run_distinct2(answer: Any) -> bool:
    return ex.check_value(
        "07.distinct2", answer, text_metrics.distinct_n_words(_DISTINCT_TEXT, 2),
        mistakes=[(4 / 6, "There are M − 1 = 5 word pairs in 6 words, not 6."),
                  (5 / 5, "'to be' occurs twice: only 4 of the 5 pairs are different."),
                  (4 / 18, "Count word pairs, not characters.")])


# ---- 07.laplace_trigram (experiment): the add-k trigram with k = 1 instead of the chosen k -----------------

LAPLACE_BAND = 0.002  # the check accepts the figure within ± this of the value the data gives


def _laplace_figures(data: lm.CharData, chosen_k: float) -> dict[str, float]:
    V = len(data.vocab)
    laplace = ngram.CharNGram(3, V, "add_k", k=1.0).fit(data.train)
    return {"laplace": laplace.nll(data.val),
            "chosen": ngram.CharNGram(3, V, "add_k", k=chosen_k).fit(data.train).nll(data.val),
            "bigram": ngram.CharNGram(2, V, "add_k", k=1.0).fit(data.train).nll(data.val),
            "train": laplace.nll(data.train[: len(data.val)])}


def _laplace_mistakes(f: dict[str, float], chosen_k: float) -> list[tuple[float, str]]:
    mistakes = [(f["chosen"], f"That is the trigram with the chosen k = {chosen_k:g} (the unchanged figure of §3): "
                              "refit it with k = 1."),
                (f["bigram"], "That is the Laplace *bigram*; the experiment changes the trigram (order 3)."),
                (f["train"], "That is measured on training text, which the counts have seen: report the validation "
                             "loss (data.val)."),
                (math.exp(f["laplace"]), "That is the perplexity e^loss; report the loss in nats per character.")]
    return [(v, m) for v, m in mistakes if abs(v - f["laplace"]) > LAPLACE_BAND]


def _laplace_wrong(data: lm.CharData, chosen_k: float) -> list[tuple[float, str]]:
    frags = ("chosen k", "bigram", "training text", "perplexity")
    f = _laplace_figures(data, chosen_k)
    return [(v, next(fr for fr in frags if fr in m)) for v, m in _laplace_mistakes(f, chosen_k)]


def _run_laplace_trigram(answer: Any, *, data: lm.CharData, chosen_k: float) -> bool:
    f = _laplace_figures(data, chosen_k)
    return ex.check_value(
        "07.laplace_trigram", answer, f["laplace"], atol=LAPLACE_BAND, rtol=0.0,
        mistakes=_laplace_mistakes(f, chosen_k),
        hint=f"accepted within ±{LAPLACE_BAND} of the validation loss of ngram.CharNGram(3, V, 'add_k', k=1.0) "
             "fitted on data.train")


def test_context() -> dict[str, object]:
    """The keyword arguments the chapter's experiment check needs, rebuilt from the data mirror as the notebook
    builds them (for the test suite); the trigram's k chosen on held-out training text is 0.1 in every profile."""
    return {"data": lm.shakespeare_data(), "chosen_k": 0.1}


EXERCISES: list[Exercise] = [
    Exercise("07.perplexity_bits", "derive", 1, "perplexity and bits per character from a loss in nats",
             _run_perplexity_bits, lambda: _perplexity_bits,
             hint="Perplexity is e to the loss in nats; one bit is ln 2 nats.", wrong=_PPL_WRONG),
    Exercise("07.add_k", "derive", 1, "add-k smoothing of one context's counts", _run_add_k, lambda: _add_k,
             hint="Every one of the V characters gets k pretend counts: k is added V times to the denominator.",
             wrong=_ADD_K_WRONG),
    Exercise("07.top_p", "implement", 2, "nucleus (top-p) filtering", _run_top_p, lambda: _top_p,
             hint="Sort the probabilities in descending order (keep the order indices), take the mass *before* each "
                  "one (cumsum − p_i), keep those below p, map the kept positions back with the indices and set "
                  "the rest to -inf.", wrong=_TOP_P_WRONG),
    Exercise("07.rnn_forward", "implement", 2, "a vanilla RNN layer over a sequence", _run_rnn_forward,
             lambda: _rnn_forward,
             hint="A Python loop over t = 0 … T−1: h = torch.tanh(x[:, t] @ W_x.T + h @ W_h.T + b), starting from "
                  "h = h0; collect every h and torch.stack them along dim 1.", wrong=_RNN_WRONG),
    Exercise("07.kneser_ney_bigram", "implement", 3, "the interpolated Kneser–Ney bigram table", _run_kneser_ney,
             lambda: _kneser_ney_bigram,
             hint="seen = counts > 0. P_cont(w) = seen.sum(0) / seen.sum(); T(h) = seen.sum(1); N(h) = counts.sum(1). "
                  "p = (counts − D).clamp(min=0) / N(h) + D·T(h)/N(h) · P_cont, and rows with N(h) = 0 get P_cont "
                  "(torch.where; divide by N(h).clamp(min=…) to avoid 0/0).", wrong=_KN_WRONG),
    Exercise("07.forget_gate", "concept", 1, "the gate on the cell path", _run_forget_gate, lambda: "forget",
             hint="Differentiate c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t with respect to c_{t-1}.", wrong=_GATE_WRONG),
    Exercise("07.distinct2", "derive", 1, "distinct-2 of a short text by hand", _run_distinct2, lambda: 4 / 5,
             hint="6 words give 5 word pairs; count how many of them are different.", wrong=_DISTINCT_WRONG),
    Exercise("07.laplace_trigram", "experiment", 1, "the add-k trigram with Laplace's k = 1", _run_laplace_trigram,
             lambda data, chosen_k: _laplace_figures(data, chosen_k)["laplace"],
             hint="ngram.CharNGram(3, V, 'add_k', k=1.0).fit(data.train).nll(data.val)", wrong=_laplace_wrong),
]
