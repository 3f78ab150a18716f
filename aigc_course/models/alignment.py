"""Instruction tuning and preference optimisation for a decoder-only language model: the losses.

A training example is one token sequence ``prompt + response`` (ids ``(L,)``), with the prompt's length ``P``. A
decoder predicts token ``t + 1`` from tokens ``0 … t``, so with inputs ``x = seq[:-1]`` and targets
``y = seq[1:]`` the target at index ``j`` is token ``j + 1``: it belongs to the response when ``j + 1 >= P``.

- **Supervised fine-tuning (SFT)** maximises the likelihood of the response given the prompt: the cross-entropy of
  the response targets only (:func:`response_mask`, :func:`sft_loss`) — the prompt is given, not learned.
- **Direct preference optimisation (DPO**, Rafailov et al. 2023) learns from pairs ``(x, y_w, y_l)`` where ``y_w``
  is preferred. Under the Bradley–Terry model ``p(y_w ≻ y_l | x) = σ(r(x, y_w) − r(x, y_l))``, and the policy that
  maximises ``E[r] − β·KL(π ‖ π_ref)`` is ``π*(y|x) = π_ref(y|x)·exp(r(x, y)/β) / Z(x)``; solving for ``r`` gives
  ``r = β·log(π/π_ref) + β·log Z(x)``. ``Z(x)`` cancels in the difference, so the preference likelihood becomes a
  loss on the policy itself (:func:`dpo_loss`):
  ``−log σ(β·[(log π(y_w|x) − log π_ref(y_w|x)) − (log π(y_l|x) − log π_ref(y_l|x))])``.

Shapes: ``logits (B, T, V)``, ``targets`` and ``mask (B, T)``; per-sequence log-probabilities ``(B,)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def response_mask(prompt_lengths: Sequence[int] | torch.Tensor, lengths: Sequence[int] | torch.Tensor,
                  T: int) -> torch.Tensor:
    """``(B, T)`` bool: which targets (``y[j]`` = token ``j + 1``) are response tokens of each sequence.

    Sequence ``b`` has ``lengths[b]`` real tokens (the rest is padding) and a prompt of ``prompt_lengths[b]``;
    target ``j`` counts when ``prompt_lengths[b] <= j + 1 < lengths[b]``."""
    p = torch.as_tensor(prompt_lengths).view(-1, 1)
    n = torch.as_tensor(lengths).view(-1, 1)
    if (p < 1).any() or (p >= n).any():
        raise ValueError("every prompt needs at least one token and every response at least one token "
                         f"(prompt lengths {p.view(-1).tolist()}, lengths {n.view(-1).tolist()})")
    nxt = torch.arange(1, T + 1).view(1, -1)  # the token each target index predicts
    return (nxt >= p) & (nxt < n)


def sft_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (nats per token) over the response targets only: ``Σ mask·CE / Σ mask``."""
    ce = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none").view_as(targets)
    m = mask.to(ce.dtype)
    return (ce * m).sum() / m.sum().clamp_min(1.0)


def sequence_logprobs(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(B,)``: ``log π(response | prompt)`` of each sequence, the sum of its response targets' log-probabilities."""
    logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (B, T)
    return (logp * mask.to(logp.dtype)).sum(-1)


def model_logprobs(model: nn.Module, seqs: torch.Tensor, prompt_lengths: Sequence[int] | torch.Tensor,
                   lengths: Sequence[int] | torch.Tensor) -> torch.Tensor:
    """``(B,)`` response log-probabilities under ``model`` of padded sequences ``seqs (B, L)``."""
    x, y = seqs[:, :-1], seqs[:, 1:]
    mask = response_mask(prompt_lengths, lengths, x.shape[1]).to(seqs.device)
    return sequence_logprobs(model(x), y, mask)


@dataclass
class DPOOutput:
    """``loss`` (scalar); per pair ``(B,)``: the implicit rewards ``β·log(π/π_ref)`` of the chosen and the rejected
    response, and ``margin`` = their difference (the loss is ``−log σ(margin)``)."""

    loss: torch.Tensor
    chosen_reward: torch.Tensor
    rejected_reward: torch.Tensor

    @property
    def margin(self) -> torch.Tensor:
        return self.chosen_reward - self.rejected_reward

    @property
    def accuracy(self) -> float:
        """Share of pairs whose chosen response has the larger implicit reward."""
        return float((self.margin > 0).float().mean())


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
             ref_rejected: torch.Tensor, beta: float) -> DPOOutput:
    """The DPO loss of a batch of pairs from the sequence log-probabilities ``(B,)`` of the policy and the frozen
    reference: ``mean(−log σ(β·[(π_w − ref_w) − (π_l − ref_l)]))``, computed stably as ``softplus(−margin)``."""
    if beta <= 0:
        raise ValueError(f"beta must be positive, not {beta}")
    chosen = beta * (policy_chosen - ref_chosen)
    rejected = beta * (policy_rejected - ref_rejected)
    loss = F.softplus(-(chosen - rejected)).mean()
    return DPOOutput(loss, chosen.detach(), rejected.detach())


# --------------------------------------------------------------------------------------------
# Batches of (prompt, response) texts
# --------------------------------------------------------------------------------------------
@dataclass
class Batch:
    """Padded token sequences ``seqs (B, L)`` of ``prompt + response`` with each prompt's and sequence's length."""

    seqs: torch.Tensor
    prompt_lengths: torch.Tensor
    lengths: torch.Tensor


def encode_pairs(vocab: Any, prompts: Sequence[str], responses: Sequence[str], pad: int = 0) -> Batch:
    """Encode ``prompt + response`` texts with ``vocab`` (a character vocabulary or a
    :class:`~aigc_course.models.bpe.TokenVocab`) and pad them (with ``pad``) to the longest. Prompt and response are
    encoded separately, as :func:`replies` encodes a prompt, so a subword token never straddles the boundary."""
    heads = [vocab.encode(p) for p in prompts]
    ids = [torch.cat([torch.as_tensor(h, dtype=torch.long), torch.as_tensor(vocab.encode(r), dtype=torch.long)])
           for h, r in zip(heads, responses)]
    seqs = torch.full((len(ids), max(len(x) for x in ids)), pad, dtype=torch.long)
    for b, x in enumerate(ids):
        seqs[b, : len(x)] = x
    return Batch(seqs, torch.tensor([len(h) for h in heads]), torch.tensor([len(x) for x in ids]))


def batch_logprobs(model: nn.Module, batch: Batch, device: torch.device | None = None) -> torch.Tensor:
    """``(B,)`` ``log π(response | prompt)`` of every sequence of ``batch`` under ``model``."""
    device = device or next(model.parameters()).device
    return model_logprobs(model, batch.seqs.to(device), batch.prompt_lengths, batch.lengths)


# --------------------------------------------------------------------------------------------
# Training loops
# --------------------------------------------------------------------------------------------
def _lr(step: int, steps: int, lr: float, warmup: int, min_frac: float = 0.1) -> float:
    if step < warmup:
        return lr * (step + 1) / warmup
    frac = (step - warmup) / max(1, steps - warmup)
    return lr * (min_frac + (1 - min_frac) * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))


def _train_steps(model: nn.Module, batch_loss: Callable[[np.ndarray], tuple[torch.Tensor, dict[str, float]]],
                 n_rows: int, *, steps: int, batch_size: int, lr_at: Callable[[int], float], weight_decay: float,
                 grad_clip: float, seed: int, log_every: int, session: Any = None) -> dict[str, list[float]]:
    """The loop SFT and DPO share: ``steps`` AdamW steps, each on ``batch_size`` random row indices of ``0..n_rows-1``
    (drawn from a generator seeded by ``(seed, chunk)``, so a resumed run draws the same rows); ``batch_loss(rows)``
    returns the loss and the figures to log; learning rate ``lr_at(step)``; gradients clipped to ``grad_clip``.
    Every ``log_every`` steps (a chunk) the history gets ``step``, ``seconds`` and the chunk's mean of each logged
    figure; with a :class:`~aigc_course.core.training.TrainingSession` each chunk is also a resumable checkpoint."""
    from ..core import training
    from . import lm

    opt = lm.make_optimizer(model, lr_at(0), weight_decay)
    rng = np.random.default_rng([seed, 0])

    def draw(chunk: int, first: bool) -> None:
        nonlocal rng
        rng = np.random.default_rng([seed, chunk])  # each chunk its own rows: a resumed run draws the same

    step = training.loss_step(lambda i: batch_loss(rng.integers(n_rows, size=batch_size)), opt, clip=grad_clip,
                              params=model.parameters())
    model.train()
    history = training.run_steps(step, total=steps, chunk=log_every, optimizers=[opt], session=session,
                                 lr_at=lambda i, elapsed: lr_at(i), chunk_start=draw)
    model.eval()
    return history


def train_sft(model: nn.Module, vocab: Any, prompts: Sequence[str], responses: Sequence[str], *, steps: int,
              batch_size: int, lr: float, warmup: int = 20, weight_decay: float = 0.0, grad_clip: float = 1.0,
              seed: int = 0, log_every: int = 25, session: Any = None) -> dict[str, list[float]]:
    """Supervised fine-tuning: ``steps`` AdamW steps on random batches of (prompt, response) pairs, the loss on the
    response tokens only (:func:`sft_loss`), warm-up then cosine learning rate. Returns the history (``step``,
    ``seconds``, ``loss``: the mean over the last ``log_every`` steps). With a
    :class:`~aigc_course.core.training.TrainingSession`, every ``log_every`` steps are a resumable chunk."""
    device = next(model.parameters()).device

    def batch_loss(rows: np.ndarray) -> tuple[torch.Tensor, dict[str, float]]:
        b = encode_pairs(vocab, [prompts[i] for i in rows], [responses[i] for i in rows])
        x, y = b.seqs[:, :-1].to(device), b.seqs[:, 1:].to(device)
        loss = sft_loss(model(x), y, response_mask(b.prompt_lengths, b.lengths, x.shape[1]).to(device))
        return loss, {"loss": loss.item()}

    return _train_steps(model, batch_loss, len(prompts), steps=steps, batch_size=batch_size,
                        lr_at=lambda step: _lr(step, steps, lr, warmup), weight_decay=weight_decay,
                        grad_clip=grad_clip, seed=seed, log_every=log_every, session=session)


@dataclass
class Pairs:
    """Preference pairs: ``prompts``, preferred (``chosen``) and dispreferred (``rejected``) responses, and the
    frozen reference's log-probabilities of both ``(N,)`` (computed once, by :func:`reference_logprobs`)."""

    prompts: list[str]
    chosen: list[str]
    rejected: list[str]
    ref_chosen: torch.Tensor | None = None
    ref_rejected: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.prompts)


@torch.no_grad()
def reference_logprobs(reference: nn.Module, vocab: Any, pairs: Pairs, batch_size: int = 64) -> Pairs:
    """Fill ``pairs.ref_chosen`` / ``ref_rejected`` with the reference model's response log-probabilities."""
    reference.eval()
    out = {"chosen": [], "rejected": []}
    for i in range(0, len(pairs), batch_size):
        for side in out:
            b = encode_pairs(vocab, pairs.prompts[i: i + batch_size], getattr(pairs, side)[i: i + batch_size])
            out[side].append(batch_logprobs(reference, b).cpu())
    pairs.ref_chosen, pairs.ref_rejected = torch.cat(out["chosen"]), torch.cat(out["rejected"])
    return pairs


def train_dpo(policy: nn.Module, vocab: Any, pairs: Pairs, *, beta: float, steps: int, batch_size: int, lr: float,
              warmup: int = 10, grad_clip: float = 1.0, seed: int = 0, log_every: int = 10) -> dict[str, list[float]]:
    """DPO: ``steps`` AdamW steps on random batches of ``pairs`` (their reference log-probabilities already
    filled in) minimising :func:`dpo_loss` with ``beta``, after a linear warm-up of ``warmup`` steps. History every
    ``log_every`` steps: ``step``, ``seconds``, ``loss``, ``accuracy`` (chosen reward > rejected), ``margin``,
    ``chosen_reward`` and ``rejected_reward`` (means)."""
    if pairs.ref_chosen is None or pairs.ref_rejected is None:
        raise ValueError("the pairs have no reference log-probabilities: call reference_logprobs(reference, vocab, "
                         "pairs) first")
    device = next(policy.parameters()).device

    def batch_loss(rows: np.ndarray) -> tuple[torch.Tensor, dict[str, float]]:
        prompts = [pairs.prompts[i] for i in rows]
        both = encode_pairs(vocab, prompts + prompts, [pairs.chosen[i] for i in rows]
                            + [pairs.rejected[i] for i in rows])
        logp = batch_logprobs(policy, both, device)
        out = dpo_loss(logp[:batch_size], logp[batch_size:], pairs.ref_chosen[rows].to(device),
                       pairs.ref_rejected[rows].to(device), beta)
        return out.loss, {"loss": out.loss.item(), "accuracy": out.accuracy, "margin": float(out.margin.mean()),
                          "chosen_reward": float(out.chosen_reward.mean()),
                          "rejected_reward": float(out.rejected_reward.mean())}

    return _train_steps(policy, batch_loss, len(pairs), steps=steps, batch_size=batch_size,
                        lr_at=lambda step: lr * min(1.0, (step + 1) / warmup) if warmup else lr, weight_decay=0.0,
                        grad_clip=grad_clip, seed=seed, log_every=log_every)


# --------------------------------------------------------------------------------------------
# Sampling replies and measuring the distance to the reference
# --------------------------------------------------------------------------------------------
@torch.no_grad()
def replies(model: nn.Module, vocab: Any, prompts: Sequence[str], *, temperature: float = 0.0, max_new: int = 100,
            seed: int = 0, batch_size: int = 64, stop: str = "\n") -> list[str]:
    """The model's reply to every prompt: sampled at ``temperature`` (0: greedy) until ``stop`` or ``max_new``
    tokens (the stop string is kept, so a reply that never stopped can be told apart). Prompts of equal
    token length are decoded together (:func:`~aigc_course.models.lm.generate` with a KV cache); the result does not
    depend on ``batch_size`` when greedy."""
    from . import lm

    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    stop_ids = vocab.encode(stop)
    if len(stop_ids) != 1:
        raise ValueError(f"the stop string {stop!r} is {len(stop_ids)} tokens of this vocabulary; it must be one")
    stop_id = int(stop_ids[0])
    out: list[str] = [""] * len(prompts)
    encoded = [torch.as_tensor(vocab.encode(p), dtype=torch.long) for p in prompts]
    by_length: dict[int, list[int]] = {}
    for i, ids in enumerate(encoded):
        by_length.setdefault(len(ids), []).append(i)
    for length in sorted(by_length):
        rows = by_length[length]
        for k in range(0, len(rows), batch_size):
            chunk = rows[k: k + batch_size]
            idx = torch.stack([encoded[i] for i in chunk])
            new = lm.generate(model, idx, max_new, temperature, generator=gen, stop=stop_id)[:, length:].cpu()
            for b, i in enumerate(chunk):
                text = vocab.decode(new[b].tolist())
                out[i] = text[: text.index(stop) + 1] if stop in text else text
    return out


@torch.no_grad()
def sequence_kl(policy: nn.Module, reference: nn.Module, vocab: Any, prompts: Sequence[str], *, samples: int = 1,
                max_new: int = 100, seed: int = 0, batch_size: int = 64) -> float:
    """Monte-Carlo estimate of ``KL(π ‖ π_ref)`` per prompt, in nats: the mean over replies ``y ~ π(·|x)`` (sampled
    at temperature 1, ``samples`` per prompt) of ``log π(y|x) − log π_ref(y|x)``. Unbiased for the sequence-level
    KL, which is what DPO's ``β`` trades against reward."""
    xs = [p for p in prompts for _ in range(samples)]
    ys = replies(policy, vocab, xs, temperature=1.0, max_new=max_new, seed=seed, batch_size=batch_size)
    diffs = []
    for i in range(0, len(xs), batch_size):
        b = encode_pairs(vocab, xs[i: i + batch_size], ys[i: i + batch_size])
        diffs.append(batch_logprobs(policy, b) - batch_logprobs(reference, b))
    return float(torch.cat(diffs).mean())


__all__ = ["Batch", "DPOOutput", "Pairs", "batch_logprobs", "dpo_loss", "encode_pairs", "model_logprobs",
           "reference_logprobs", "replies", "response_mask", "sequence_kl", "sequence_logprobs", "sft_loss",
           "train_dpo", "train_sft"]
