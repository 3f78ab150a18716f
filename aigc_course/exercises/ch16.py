"""Chapter 16 (instruction tuning and preference optimisation): the exercises' references, known mistakes and hints."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from ..apps import instruct as I
from ..models import alignment as AL
from . import Exercise, copying
from . import checkers as ex

# ---- 16.response_mask (implement): which targets the SFT loss counts ------------------------------------------

_MASK_CASES = [([2, 3], [5, 6], 6), ([1], [2], 3), ([4, 1, 2], [6, 7, 3], 8), ([3], [9], 8)]


def _mask(prompt_lengths: Sequence[int], lengths: Sequence[int], T: int) -> torch.Tensor:
    return AL.response_mask(prompt_lengths, lengths, T)


def _mask_from_prompt(p, n, T):  # also counts the target that predicts the last prompt token
    j = torch.arange(T).view(1, -1)
    return (j + 2 >= torch.as_tensor(p).view(-1, 1)) & (j + 1 < torch.as_tensor(n).view(-1, 1))


def _mask_index_not_next(p, n, T):  # compares the index j, not the token j + 1 it predicts
    j = torch.arange(T).view(1, -1)
    return (j >= torch.as_tensor(p).view(-1, 1)) & (j < torch.as_tensor(n).view(-1, 1))


def _mask_with_padding(p, n, T):  # no upper bound: the padding is learned too
    return torch.arange(1, T + 1).view(1, -1) >= torch.as_tensor(p).view(-1, 1)


def _mask_everything(p, n, T):  # the plain language-model loss: prompt tokens included
    return torch.arange(1, T + 1).view(1, -1) < torch.as_tensor(n).view(-1, 1)


_MASK_WRONG: list[tuple[Any, str]] = [(_mask_index_not_next, "predicts token j + 1"),
                                      (_mask_with_padding, "padding"), (_mask_everything, "prompt is given"),
                                      (_mask_from_prompt, "last prompt token")]


def _same_mask(a: Any, b: Any) -> bool:
    return torch.equal(torch.as_tensor(a).bool(), torch.as_tensor(b).bool())


def _run_response_mask(answer: Any) -> bool:
    return ex.check_function(
        "16.response_mask", answer, _mask, _MASK_CASES, compare=_same_mask,
        mistakes=[(_mask_index_not_next, "Target j predicts token j + 1: compare j + 1 (not j) with the prompt "
                                         "length and the sequence length."),
                  (_mask_with_padding, "Positions at or after the sequence's length are padding: they must not be "
                                       "learned (add j + 1 < length)."),
                  (_mask_everything, "That counts the prompt too: the prompt is given, not learned — only targets "
                                     "with j + 1 >= prompt length count."),
                  (_mask_from_prompt, "The target at j = P − 2 predicts the last prompt token (P − 1), which is "
                                      "part of the prompt: start at j + 1 >= P.")],
        hint="(B, T) bool: row b is True where prompt_lengths[b] <= j + 1 < lengths[b]")


# ---- 16.dpo_loss (implement): the DPO loss from sequence log-probabilities -----------------------------------

def _dpo_cases() -> list[tuple]:
    g = torch.Generator().manual_seed(1616)
    cases = []
    for b, beta in ((4, 0.1), (8, 0.5), (1, 2.0), (16, 0.05)):
        pc, pr, rc, rr = (-30 + 10 * torch.randn(b, generator=g, dtype=torch.float64) for _ in range(4))
        cases.append((pc, pr, rc, rr, beta))
    big = torch.tensor([400.0, -400.0], dtype=torch.float64)  # a margin that overflows a naive exp
    cases.append((big, torch.zeros(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64),
                  torch.zeros(2, dtype=torch.float64), 1.0))
    return cases


def _dpo(pc: torch.Tensor, pr: torch.Tensor, rc: torch.Tensor, rr: torch.Tensor, beta: float) -> torch.Tensor:
    return AL.dpo_loss(pc, pr, rc, rr, beta).loss


def _dpo_no_reference(pc, pr, rc, rr, beta):
    return F.softplus(-beta * (pc - pr)).mean()


def _dpo_sign(pc, pr, rc, rr, beta):
    return F.softplus(beta * ((pc - rc) - (pr - rr))).mean()


def _dpo_sum(pc, pr, rc, rr, beta):
    return F.softplus(-beta * ((pc - rc) - (pr - rr))).sum()


def _dpo_no_beta(pc, pr, rc, rr, beta):
    return F.softplus(-((pc - rc) - (pr - rr))).mean()


def _dpo_not_negated(pc, pr, rc, rr, beta):
    return F.logsigmoid(beta * ((pc - rc) - (pr - rr))).mean()


_DPO_WRONG: list[tuple[Any, str]] = [(_dpo_no_reference, "reference"), (_dpo_sign, "rejected"),
                                     (_dpo_sum, "mean"), (_dpo_no_beta, "β"), (_dpo_not_negated, "negative")]


def _run_dpo_loss(answer: Any) -> bool:
    return ex.check_function(
        "16.dpo_loss", copying(answer), _dpo, _dpo_cases(), atol=1e-6, rtol=1e-6,
        mistakes=[(_dpo_no_reference, "The reference is missing: the implicit reward is β·(log π − log π_ref), so "
                                      "subtract ref_chosen and ref_rejected."),
                  (_dpo_sign, "The sign is flipped: that loss is small when the *rejected* reply wins."),
                  (_dpo_sum, "Average over the pairs (mean), do not sum: the loss must not grow with the batch."),
                  (_dpo_no_beta, "β is missing: the margin is β times the difference of the log-ratios."),
                  (_dpo_not_negated, "That is log σ(margin), a log-likelihood: the loss is its negative.")],
        hint="−log σ(x) = softplus(−x) stays finite for a margin of ±400; torch.log(torch.sigmoid(x)) does not")


# ---- 16.bradley_terry (derive): the probability of a preference ----------------------------------------------

_BT_CASES = [(1.0, 0.0), (0.0, 0.0), (-2.0, 1.0), (3.5, 3.0), (10.0, -10.0)]


def _bt(r_a: float, r_b: float) -> float:
    return 1.0 / (1.0 + math.exp(-(r_a - r_b)))


def _bt_ratio(a, b):
    return a / (a + b) if a + b else 0.5


def _bt_exp_ratio(a, b):
    return 1.0 / (1.0 + math.exp(a - b))


def _bt_sigmoid_a(a, b):
    return 1.0 / (1.0 + math.exp(-a))


_BT_WRONG: list[tuple[Any, str]] = [(_bt_exp_ratio, "Upside down"), (_bt_sigmoid_a, "difference"),
                                    (_bt_ratio, "exponentiated")]


def _run_bt(answer: Any) -> bool:
    return ex.check_function(
        "16.bradley_terry", answer, _bt, _BT_CASES,
        mistakes=[(_bt_exp_ratio, "Upside down: that is the probability that b is preferred."),
                  (_bt_sigmoid_a, "Only the difference of the two rewards matters: σ(r_a − r_b)."),
                  (_bt_ratio, "The rewards are exponentiated first: e^{r_a} / (e^{r_a} + e^{r_b}).")],
        hint="exp(r_a) / (exp(r_a) + exp(r_b)) = σ(r_a − r_b)")


# ---- 16.best_of_n (experiment): the judge as a re-ranker, no training -----------------------------------------

BEST_OF_N_BAND = 0.02


def _best_of_n(model: torch.nn.Module, vocab: Any, examples: Sequence[I.Example], n: int,
               seed: int) -> dict[str, float]:
    """Sample ``n`` replies per prompt (``AL.replies`` at temperature 1, seeds ``seed … seed + n − 1``) and keep
    the first the judge calls correct: the share of prompts answered correctly, and the figures of the wrong
    readings (one sample, the mean over the n samples, the greedy reply)."""
    prompts = [e.prompt for e in examples]
    ok = np.array([[I.judge_note(r, e).correct for r, e in
                    zip(AL.replies(model, vocab, prompts, temperature=1.0, seed=seed + k), examples)]
                   for k in range(n)])  # (n, N)
    greedy = AL.replies(model, vocab, prompts, temperature=0.0)
    return {"best": float(ok.any(0).mean()), "one": float(ok[0].mean()), "mean": float(ok.mean()),
            "greedy": float(np.mean([I.judge_note(r, e).correct for r, e in zip(greedy, examples)]))}


def _best_wrong(model: torch.nn.Module, vocab: Any, examples: Sequence[I.Example], n: int,
                seed: int) -> list[tuple[float, str]]:
    f = _best_of_n(model, vocab, examples, n, seed)
    return [(f["one"], "one sample"), (f["mean"], "mean correct rate"), (f["greedy"], "greedy")]


def _run_best_of_n(answer: Any, *, model: torch.nn.Module, vocab: Any, examples: Sequence[I.Example], n: int,
                   seed: int) -> bool:
    f = _best_of_n(model, vocab, examples, n, seed)
    mistakes = [(f["one"], "That is one sample per prompt: keep the first of the n samples that the judge calls "
                           "correct."),
                (f["mean"], "That is the mean correct rate over all n samples: best-of-n keeps the *best* one per "
                            "prompt, so a prompt counts once if any of its samples is correct."),
                (f["greedy"], "That is the greedy reply: sample at temperature 1 (n different replies).")]
    close = [m for m in mistakes if abs(m[0] - f["best"]) > 2 * BEST_OF_N_BAND]
    return ex.check_value("16.best_of_n", answer, f["best"], atol=BEST_OF_N_BAND, rtol=0.0, mistakes=close,
                          hint=f"accepted within ±{BEST_OF_N_BAND} of the best-of-{n} correct rate")


def test_context() -> dict[str, object]:
    """A tiny GPT fine-tuned for a few seconds on twelve one-sentence notes, so that its samples are sometimes
    right and sometimes not (the four figures of the check then differ), and those notes as the examples."""
    from ..models import lm

    torch.manual_seed(0)
    vocab = lm.CharVocab(I.ALPHABET)
    model = lm.GPT(lm.GPTConfig(len(vocab), 96, n_layer=1, n_head=2, n_embd=32, positions="rope"))
    examples = []
    for k in range(12):
        s = f"It costs £{k + 2}.99."
        examples.append(I.Example("note", f"Note: {s}\nA: ", s + "\n", {"note": s, "original": s}))
    AL.train_sft(model, vocab, [e.prompt for e in examples], [e.response for e in examples], steps=120,
                 batch_size=12, lr=1e-2, seed=0, log_every=150)
    return {"model": model.eval(), "vocab": vocab, "examples": examples, "n": 3, "seed": 0}


# ---- 16.implicit_reward (derive) and 16.loss_tokens (concept) ------------------------------------------------

_REWARD_CASES = [(-12.0, -15.0, 0.1), (-40.0, -38.0, 0.5), (-5.0, -5.0, 1.0), (-80.0, -20.0, 0.05)]


def _reward(logp_policy: float, logp_reference: float, beta: float) -> float:
    return beta * (logp_policy - logp_reference)


def _reward_no_beta(p, r, b):
    return p - r


def _reward_swapped(p, r, b):
    return b * (r - p)


def _reward_ratio(p, r, b):
    return b * p / r


_REWARD_WRONG: list[tuple[Any, str]] = [(_reward_no_beta, "β"), (_reward_swapped, "other way"),
                                        (_reward_ratio, "log-probabilities")]


def _run_reward(answer: Any) -> bool:
    return ex.check_function(
        "16.implicit_reward", answer, _reward, _REWARD_CASES,
        mistakes=[(_reward_no_beta, "Multiply by β: r = β·log(π/π_ref)."),
                  (_reward_swapped, "The other way round: a reply the policy likes *more* than the reference has a "
                                    "positive reward."),
                  (_reward_ratio, "These are log-probabilities: their ratio is a difference, log π − log π_ref.")],
        hint="β · (log π(y|x) − log π_ref(y|x))")


def _run_loss_tokens(answer: Any) -> bool:
    return ex.check_choice(
        "16.loss_tokens", answer, "response",
        mistakes={"prompt": "The prompt is given at inference; learning to write prompts wastes the model's capacity "
                            "on the instructions' wording.",
                  "all": "Counting the prompt makes the model learn to write prompts (and, with long prompts, "
                         "spends most of the loss on them).",
                  "padding": "Padding is not text at all: it is masked out with the prompt."},
        hint="\"prompt\", \"response\" or \"all\"")


EXERCISES: list[Exercise] = [
    Exercise("16.response_mask", "implement", 2, "which targets the SFT loss counts", _run_response_mask,
             lambda: _mask,
             hint="j = torch.arange(T) indexes the targets; target j predicts token j + 1. Compare j + 1 with "
                  "prompt_lengths[:, None] (>=) and lengths[:, None] (<).", wrong=_MASK_WRONG),
    Exercise("16.dpo_loss", "implement", 2, "the DPO loss from sequence log-probabilities", _run_dpo_loss,
             lambda: _dpo,
             hint="margin = β·((pc − rc) − (pr − rr)); the loss is the mean of −log σ(margin) = "
                  "F.softplus(−margin).mean().", wrong=_DPO_WRONG),
    Exercise("16.bradley_terry", "derive", 1, "the probability of a preference", _run_bt, lambda: _bt,
             hint="Bradley–Terry: p(a ≻ b) = exp(r_a) / (exp(r_a) + exp(r_b)); divide through by exp(r_a).",
             wrong=_BT_WRONG),
    Exercise("16.implicit_reward", "derive", 1, "DPO's implicit reward", _run_reward, lambda: _reward,
             hint="Solve π* = π_ref·exp(r/β)/Z for r and drop log Z (it cancels in a pair).", wrong=_REWARD_WRONG),
    Exercise("16.best_of_n", "experiment", 2, "the judge as a re-ranker", _run_best_of_n,
             lambda model, vocab, examples, n, seed: _best_of_n(model, vocab, examples, n, seed)["best"],
             hint="For k in range(n): AL.replies(sft, vocab, prompts, temperature=1.0, seed=hp.seed + k); a prompt "
                  "is answered correctly if any of its n replies passes I.judge_note(reply, example).correct.",
             wrong=_best_wrong),
    Exercise("16.loss_tokens", "concept", 1, "which tokens SFT learns", _run_loss_tokens, lambda: "response",
             hint="What is given at inference and what must the model produce?",
             wrong=[("prompt", "given at inference"), ("all", "learn to write prompts"), ("padding", "not text")]),
]
