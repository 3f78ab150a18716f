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

from collections.abc import Sequence
from dataclasses import dataclass

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


__all__ = ["DPOOutput", "dpo_loss", "model_logprobs", "response_mask", "sequence_logprobs", "sft_loss"]
