"""SFT masking and the DPO loss (aigc_course.models.alignment): the mask selects exactly the response targets, the SFT
loss ignores the prompt, and the DPO loss and its gradient agree with the Bradley–Terry closed form."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from aigc_course.models import alignment as al
from aigc_course.models import lm


def test_the_mask_marks_the_targets_that_are_response_tokens():
    # sequence of 6 tokens, prompt 2: targets j = 0 … 4 predict tokens 1 … 5; tokens 2 … 5 are the response
    mask = al.response_mask([2, 3], [6, 5], T=5)
    assert mask.tolist() == [[False, True, True, True, True], [False, False, True, True, False]]


@pytest.mark.parametrize(("prompt", "length"), [(0, 4), (4, 4), (5, 4)])
def test_a_sequence_without_prompt_or_response_is_refused(prompt, length):
    with pytest.raises(ValueError, match="prompt"):
        al.response_mask([prompt], [length], T=5)


def test_sft_loss_is_the_cross_entropy_of_the_response_only():
    g = torch.Generator().manual_seed(0)
    logits, targets = torch.randn(2, 5, 7, generator=g), torch.randint(0, 7, (2, 5), generator=g)
    mask = al.response_mask([2, 3], [6, 5], T=5)
    by_hand = torch.cat([F.cross_entropy(logits[b][mask[b]], targets[b][mask[b]], reduction="none") for b in (0, 1)])
    assert torch.allclose(al.sft_loss(logits, targets, mask), by_hand.mean())
    changed = logits.clone()
    changed[~mask] = torch.randn(int((~mask).sum()), 7, generator=g) * 10  # the prompt's predictions do not matter
    assert torch.allclose(al.sft_loss(changed, targets, mask), by_hand.mean())


def test_sequence_logprobs_add_up_the_response_tokens():
    g = torch.Generator().manual_seed(1)
    logits, targets = torch.randn(1, 4, 3, generator=g), torch.tensor([[0, 2, 1, 1]])
    mask = torch.tensor([[False, True, True, False]])
    logp = torch.log_softmax(logits, -1)
    assert torch.allclose(al.sequence_logprobs(logits, targets, mask), logp[0, 1, 2] + logp[0, 2, 1])


def test_model_logprobs_match_a_manual_forward():
    torch.manual_seed(2)
    model = lm.GPT(lm.GPTConfig(vocab_size=9, block_size=8, n_layer=1, n_head=1, n_embd=8)).eval()
    seqs = torch.randint(0, 9, (2, 8))
    got = al.model_logprobs(model, seqs, [3, 2], [8, 6])
    with torch.no_grad():
        logp = torch.log_softmax(model(seqs[:, :-1]), -1)
    want0 = sum(logp[0, j, seqs[0, j + 1]] for j in range(2, 7))
    want1 = sum(logp[1, j, seqs[1, j + 1]] for j in range(1, 5))
    assert torch.allclose(got.detach(), torch.stack([want0, want1]), atol=1e-5)


def test_dpo_is_the_bradley_terry_likelihood_of_the_implicit_rewards():
    g = torch.Generator().manual_seed(3)
    pw, pl, rw, rl = (torch.randn(16, generator=g, dtype=torch.float64) * 5 for _ in range(4))
    beta = 0.3
    out = al.dpo_loss(pw, pl, rw, rl, beta)
    reward_w, reward_l = beta * (pw - rw), beta * (pl - rl)
    closed = -torch.log(torch.sigmoid(reward_w - reward_l)).mean()
    assert abs(out.loss.item() - closed.item()) < 1e-12
    assert torch.equal(out.margin, reward_w - reward_l)
    assert out.accuracy == float(((reward_w - reward_l) > 0).double().mean())


def test_dpo_starts_at_log_2_and_its_gradient_is_the_closed_form():
    pw = torch.tensor([-3.0, -7.5], requires_grad=True)
    pl = torch.tensor([-4.0, -2.0], requires_grad=True)
    ref_w, ref_l = pw.detach().clone(), pl.detach().clone()
    out = al.dpo_loss(pw, pl, ref_w, ref_l, beta=0.5)
    assert abs(out.loss.item() - math.log(2)) < 1e-7  # policy = reference: every margin is 0
    out.loss.backward()
    # d/dπ_w of mean(softplus(−β·margin)) = −β·σ(−β·margin)/B: at margin 0, −β/(2B)
    assert torch.allclose(pw.grad, torch.full((2,), -0.5 / 4)) and torch.allclose(pl.grad, torch.full((2,), 0.5 / 4))


def test_dpo_is_stable_for_huge_margins_and_refuses_a_bad_beta():
    big = torch.tensor([1e4])
    assert al.dpo_loss(big, -big, torch.zeros(1), torch.zeros(1), 1.0).loss.item() == 0.0
    assert al.dpo_loss(-big, big, torch.zeros(1), torch.zeros(1), 1.0).loss.item() == pytest.approx(2e4)
    with pytest.raises(ValueError, match="beta"):
        al.dpo_loss(big, big, big, big, 0.0)
