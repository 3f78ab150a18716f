"""Rotary position embeddings (aigc_course.models.lm: rope_tables, apply_rope, GPTConfig(positions="rope")):
scores depend only on the offset between query and key, the rotation keeps norms, and a RoPE GPT agrees with
itself through the KV cache and runs past its training context."""

from __future__ import annotations

import pytest
import torch

from aigc_course.models import lm


def _rotated(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    cos, sin = lm.rope_tables(x.shape[-1], positions)
    return lm.apply_rope(x, cos, sin)


def test_scores_depend_only_on_the_offset():
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, 64, generator=g, dtype=torch.float64).float()
    worst = 0.0
    for m, n in [(0, 0), (3, 1), (10, 40), (100, 7), (500, 499)]:
        base = (_rotated(q[None], torch.tensor([m])) @ _rotated(k[None], torch.tensor([n])).T).item()
        for shift in (1, 17, 1000):
            moved = (_rotated(q[None], torch.tensor([m + shift])) @ _rotated(k[None], torch.tensor([n + shift])).T)
            worst = max(worst, abs(moved.item() - base) / max(1.0, abs(base)))
    assert worst < 1e-5


def test_the_rotation_keeps_norms_and_position_zero_is_the_identity():
    x = torch.randn(2, 3, 5, 16)
    y = _rotated(x, torch.arange(5))
    assert torch.allclose(y.norm(dim=-1), x.norm(dim=-1), atol=1e-5)
    assert torch.equal(_rotated(x[..., :1, :], torch.tensor([0])), x[..., :1, :])


def test_pairs_turn_by_the_documented_angle():
    x = torch.zeros(1, 4)
    x[0, 2] = 1.0  # pair i = 1 of a 4-dim head: angle m · base^(-2/4) = m / 100
    y = _rotated(x, torch.tensor([3]))
    assert torch.allclose(y[0, 2:], torch.tensor([torch.cos(torch.tensor(0.03)), torch.sin(torch.tensor(0.03))]))


def test_the_complex_product_is_the_pairwise_rotation_bit_for_bit_and_other_dtypes_take_the_real_path():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 4, 9, 32, generator=g).transpose(1, 2)  # non-contiguous, as the attention's heads are
    cos, sin = lm.rope_tables(32, torch.arange(4))
    x1, x2 = x[..., 0::2], x[..., 1::2]  # the rotation of each pair, written out
    by_pairs = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)
    assert torch.equal(lm.apply_rope(x, cos, sin), by_pairs)
    half = lm.apply_rope(x.bfloat16(), cos, sin)  # no complex bfloat16: the real formula, in bfloat16
    assert half.dtype == torch.bfloat16 and torch.allclose(half.float(), by_pairs, atol=0.05)


def test_odd_head_dimension_is_refused():
    with pytest.raises(ValueError, match="even"):
        lm.rope_tables(5, torch.arange(3))


def test_a_rope_gpt_has_no_position_table_and_runs_past_its_context():
    rope = lm.GPT(lm.GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16, positions="rope"))
    learned = lm.GPT(lm.GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16))
    assert rope.wpe is None and rope.num_params() == learned.num_params() - 8 * 16
    idx = torch.randint(0, 11, (2, 20))
    assert rope(idx).shape == (2, 20, 11)
    with pytest.raises(ValueError, match="block_size"):
        learned(idx)
    with pytest.raises(ValueError, match="positions"):
        lm.GPTConfig(vocab_size=3, positions="sinusoidal")


def test_a_rope_gpt_gives_the_same_logits_through_the_kv_cache():
    torch.manual_seed(0)
    model = lm.GPT(lm.GPTConfig(vocab_size=13, block_size=16, n_layer=2, n_head=2, n_embd=16, positions="rope")).eval()
    seqs = torch.randint(0, 13, (3, 16))
    max_diff, agreement = lm.compare_kv_cache(model, seqs, prompt_len=5)
    assert max_diff < 1e-4 and agreement == 1.0



def test_tables_first_made_in_inference_mode_still_train():
    torch.manual_seed(2)
    model = lm.GPT(lm.GPTConfig(vocab_size=5, block_size=9, n_layer=1, n_head=1, n_embd=8, positions="rope"))
    idx = torch.randint(0, 5, (2, 9))
    lm._rope_span.cache_clear()
    with torch.inference_mode():
        model(idx)  # the (0, 9) span is cached here
    loss = model(idx).logsumexp(-1).mean()
    loss.backward()
    assert model.wte.weight.grad is not None


def test_loss_by_position_averages_evaluate_lm_and_runs_past_the_context_with_rope():
    torch.manual_seed(3)
    data = torch.randint(0, 6, (400,))
    learned = lm.GPT(lm.GPTConfig(vocab_size=6, block_size=10, n_layer=1, n_head=1, n_embd=8))
    per_position = lm.loss_by_position(learned, data, 10)
    assert per_position.shape == (10,)
    assert abs(per_position.mean().item() - lm.evaluate_lm(learned, data, 10)) < 1e-5
    rope = lm.GPT(lm.GPTConfig(vocab_size=6, block_size=10, n_layer=1, n_head=1, n_embd=8, positions="rope"))
    assert lm.loss_by_position(rope, data, 25).shape == (25,)  # 2.5 × its training context
    with pytest.raises(ValueError, match="block_size"):
        lm.loss_by_position(learned, data, 25)


def test_bits_per_char_converts_per_token_losses():
    import math

    # a uniform model over 4 characters, one token per character: 2 bits per character
    assert abs(lm.bits_per_char(math.log(4), 100, 100) - 2.0) < 1e-12
    # the same text in half as many tokens at twice the loss per token: the same bits per character
    assert abs(lm.bits_per_char(2 * math.log(4), 50, 100) - 2.0) < 1e-12
