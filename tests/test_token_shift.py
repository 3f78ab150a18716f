"""The GPT's token shift (aigc_course.models.lm: GPTConfig(token_shift=True), GPT.embed): a zero gate is a plain
GPT, the embedding is e_t + g ⊙ e_{t−1} exactly, the KV cache carries the last token's embedding (same logits
with and without the cache, also when the window slides), the gate is trained, and chapter 14's hand-written
forward pass (risks.gpt_attention) reproduces a RoPE + token-shift GPT."""

from __future__ import annotations

import pytest
import torch

from aigc_course.apps import risks
from aigc_course.models import lm, muon


def _gpt(positions: str = "rope", gate: float | None = 0.7, block: int = 12) -> lm.GPT:
    torch.manual_seed(0)
    model = lm.GPT(lm.GPTConfig(vocab_size=11, block_size=block, n_layer=2, n_head=2, n_embd=16,
                                positions=positions, token_shift=gate is not None)).eval()
    if gate is not None:
        with torch.no_grad():
            model.shift_gate.copy_(gate * torch.linspace(-1, 1, 16))
    return model


def test_a_zero_gate_is_the_plain_gpt():
    shifted, plain = _gpt("learned", gate=0.0), _gpt("learned", gate=None)
    missing = plain.load_state_dict(shifted.state_dict(), strict=False)
    assert missing.unexpected_keys == ["shift_gate"] and not missing.missing_keys
    idx = torch.randint(0, 11, (2, 12))
    assert torch.equal(shifted(idx), plain(idx))
    assert shifted.num_params() == plain.num_params() + 16


@pytest.mark.parametrize("positions", ["learned", "rope"])
def test_the_embedding_adds_the_gated_previous_token(positions):
    model = _gpt(positions)
    idx = torch.randint(0, 11, (3, 9))
    e = model.wte(idx)
    by_hand = e.clone()
    by_hand[:, 1:] += model.shift_gate * e[:, :-1]  # the first position has no predecessor in its window
    if positions == "learned":
        by_hand = by_hand + model.wpe(torch.arange(9))
    assert torch.allclose(model.embed(idx), by_hand, atol=1e-6)


@pytest.mark.parametrize("positions", ["learned", "rope"])
def test_the_kv_cache_carries_the_previous_token(positions):
    model = _gpt(positions)
    seqs = torch.randint(0, 11, (3, 12))
    max_diff, agreement = lm.compare_kv_cache(model, seqs, prompt_len=4)
    assert max_diff < 1e-4 and agreement == 1.0
    cache = lm.KVCache(model.cfg.n_layer)
    model(seqs[:, :4], cache)
    assert torch.equal(cache.last_token, model.wte(seqs[:, 3:4]))
    cache.reset()
    assert cache.last_token is None and cache.length == 0


def test_generation_with_and_without_the_cache_agree_past_the_window():
    model = _gpt("learned", block=8)
    prompt = torch.randint(0, 11, (2, 5))
    # past block_size the cached path rebuilds its window: the shift must see the same predecessors as the uncached
    with_cache = lm.generate(model, prompt, 20, use_cache=True, generator=torch.Generator().manual_seed(1))
    without = lm.generate(model, prompt, 20, use_cache=False, generator=torch.Generator().manual_seed(1))
    assert torch.equal(with_cache, without)


def test_the_gate_is_trained_by_adamw_without_decay():
    model = _gpt("rope", gate=0.0).train()
    adamw, mu = muon.muon_and_adamw(model, lr=1e-2, weight_decay=0.1)
    in_adamw = {id(p): g["weight_decay"] for g in adamw.param_groups for p in g["params"]}
    assert in_adamw[id(model.shift_gate)] == 0.0
    assert all(p is not model.shift_gate for g in mu.param_groups for p in g["params"])
    idx = torch.randint(0, 11, (4, 12))
    loss = torch.nn.functional.cross_entropy(model(idx[:, :-1]).flatten(0, 1), idx[:, 1:].flatten())
    loss.backward()
    assert model.shift_gate.grad is not None and model.shift_gate.grad.abs().sum() > 0
    before = model.shift_gate.detach().clone()
    adamw.step()
    assert not torch.equal(model.shift_gate.detach(), before)


def test_build_char_lm_reads_positions_and_token_shift():
    hp = {"seed": 0, "block_size": 16, "n_layer": 1, "n_head": 2, "n_embd": 8, "dropout": 0.0}
    plain = lm.build_char_lm("gpt", hp, 5)
    assert plain.cfg.positions == "learned" and plain.shift_gate is None
    modern = lm.build_char_lm("gpt", {**hp, "positions": "rope", "token_shift": True}, 5)
    assert modern.cfg.positions == "rope" and modern.wpe is None and modern.shift_gate.shape == (8,)


@pytest.mark.parametrize("positions", ["learned", "rope"])
def test_gpt_attention_reproduces_a_rope_and_token_shift_gpt(positions):
    model = _gpt(positions)
    idx = torch.randint(0, 11, (2, 10))
    weights, logits = risks.gpt_attention(model, idx)
    assert torch.allclose(logits, model(idx), atol=1e-5)
    assert weights.triu(1).abs().max() == 0
