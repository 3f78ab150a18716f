"""Chapter 08: attention against PyTorch's kernel, the GPT's KV cache, and LoRA fine-tuning
(aigc_course.models.finetune)."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from aigc_course.models import finetune, lm


def _attention(q, k, v, mask=None):
    """Scaled dot-product attention written out (the notebook's version): softmax(q kᵀ / √d) v."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(-1) @ v


def _gpt(vocab=17, block=16, layers=2, heads=2, width=16, seed=0):
    torch.manual_seed(seed)
    return lm.GPT(lm.GPTConfig(vocab, block, layers, heads, width)).eval()


@pytest.mark.parametrize("causal", [False, True])
def test_attention_from_scratch_matches_sdpa(causal):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 7, 8, generator=g) for _ in range(3))
    mask = torch.ones(7, 7, dtype=torch.bool).tril() if causal else None
    ours = _attention(q, k, v, mask)
    assert torch.allclose(ours, F.scaled_dot_product_attention(q, k, v, is_causal=causal), atol=1e-6)


def test_causal_self_attention_is_multi_head_attention_with_its_weights():
    net = _gpt()
    attn = net.blocks[0].attn
    x = torch.randn(3, 9, 16)
    q, k, v = attn.c_attn(x).split(16, dim=2)
    heads = [t.view(3, 9, 2, 8).transpose(1, 2) for t in (q, k, v)]
    y = _attention(*heads, torch.ones(9, 9, dtype=torch.bool).tril()).transpose(1, 2).reshape(3, 9, 16)
    with torch.no_grad():
        assert torch.allclose(attn.c_proj(y), attn(x), atol=1e-5)


def test_the_future_does_not_change_the_past():
    net = _gpt()
    x = torch.randint(17, (1, 12))
    y = x.clone()
    y[0, 8:] = (y[0, 8:] + 1) % 17
    with torch.no_grad():
        assert torch.allclose(net(x)[0, :8], net(y)[0, :8], atol=1e-6)
        assert not torch.allclose(net(x)[0, 8:], net(y)[0, 8:])


def test_kv_cache_prefill_then_one_token_at_a_time_equals_the_full_pass():
    net = _gpt()
    x = torch.randint(17, (2, 16))
    cache = lm.KVCache(net.cfg.n_layer)
    with torch.no_grad():
        steps = [net(x[:, :4], cache)] + [net(x[:, t: t + 1], cache) for t in range(4, 16)]
        assert torch.allclose(torch.cat(steps, dim=1), net(x), atol=1e-5)
    assert cache.length == 16 and cache.k[1].shape == (2, 2, 16, 8)


@pytest.mark.parametrize("new_tokens", [10, 40])  # 40 runs past block_size 16: the window slides
def test_generate_is_identical_with_and_without_the_cache(new_tokens):
    net = _gpt()
    prompt = torch.randint(17, (5,))
    runs = [lm.generate(net, prompt, new_tokens, temperature=0.9, top_k=8, use_cache=c,
                        generator=torch.Generator().manual_seed(1)) for c in (True, False)]
    assert runs[0].shape == (5 + new_tokens,) and torch.equal(runs[0], runs[1])


def test_poetry_vocabulary_is_capped_and_built_from_training_poems(mirror, monkeypatch):
    monkeypatch.setenv("AIGC_COURSE_DATA", str(mirror))
    data = finetune.poetry_data("tang300", max_vocab=300, val_fraction=0.2)
    assert len(data.vocab) == 300 and finetune.UNK in data.vocab.chars and "\n" in data.vocab.chars
    assert set(data.train_poems).isdisjoint(data.val_poems)
    assert 0.5 < data.coverage < 1.0
    assert data.vocab.decode(data.val).count("\n") == len(data.val_poems)


def test_new_vocabulary_keeps_the_body_and_replaces_embedding_and_head():
    base = _gpt()
    model = finetune.with_new_vocabulary(base, 40)
    assert model.wte.weight.shape == (40, 16) and model.lm_head.weight.shape == (40, 16)
    assert model.cfg.vocab_size == 40 and base.cfg.vocab_size == 17
    assert torch.equal(model.blocks[1].mlp.c_fc.weight, base.blocks[1].mlp.c_fc.weight)
    assert model.blocks[1].mlp.c_fc.weight is not base.blocks[1].mlp.c_fc.weight
    assert model(torch.randint(40, (2, 5))).shape == (2, 5, 40)


def test_lora_trains_only_adapters_and_vocabulary_and_starts_at_the_base_model():
    pytest.importorskip("peft")
    base = finetune.with_new_vocabulary(_gpt(), 40)
    x = torch.randint(40, (2, 9))
    with torch.no_grad():
        reference = base(x)
    model = finetune.add_lora(copy.deepcopy(base), r=4, alpha=8)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n or "modules_to_save" in n for n in names)
    assert any("wte.modules_to_save" in n for n in names) and any("lm_head.modules_to_save" in n for n in names)
    per_layer = 4 * (16 + 48) + 4 * (16 + 16) + 4 * (16 + 64) + 4 * (64 + 16)  # r (in + out) per adapted Linear
    assert finetune.trainable_parameters(model) == 2 * per_layer + 2 * 40 * 16
    with torch.no_grad():  # B = 0 at the start: the adapted model computes what the base computes
        assert torch.allclose(model(x), reference, atol=1e-6)


def test_merging_the_adapters_gives_the_same_function():
    pytest.importorskip("peft")
    model = finetune.add_lora(finetune.with_new_vocabulary(_gpt(), 40), r=4, alpha=8)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.1)  # as if trained
        x = torch.randint(40, (2, 9))
        plain = finetune.merged(model)
        assert isinstance(plain, lm.GPT)
        assert torch.allclose(plain(x), model(x), atol=1e-5)
        assert not any("lora" in n for n, _ in plain.named_parameters())
    prompt = torch.randint(40, (3,))  # the merged GPT keeps the KV-cache decoding
    runs = [lm.generate(m, prompt, 20, use_cache=c, generator=torch.Generator().manual_seed(0))
            for m, c in ((plain, True), (model, False))]
    assert torch.equal(runs[0], runs[1])


def test_a_tiny_lora_fine_tune_lowers_the_loss():
    pytest.importorskip("peft")
    torch.set_num_threads(1)
    base = _gpt(vocab=5, block=8, layers=1, heads=1, width=16)
    data = torch.tensor([0, 1, 2, 3, 4, 4, 3, 2, 1]).repeat(60)  # a new "style": up and down again
    model = finetune.add_lora(finetune.with_new_vocabulary(base, 5, seed=1), r=4, alpha=8)
    before = lm.evaluate_lm(model, data, 8)
    cfg = lm.LMTrainConfig(batch_size=16, block_size=8, lr=1e-2, warmup=5, max_steps=80, eval_every=40, eval_windows=8)
    lm.train_lm(model, data, data, cfg)
    assert lm.evaluate_lm(model, data, 8) < 0.5 * before
    frozen = model.base_model.model.blocks[0].attn.c_attn.base_layer.weight
    assert torch.equal(frozen, base.blocks[0].attn.c_attn.weight)  # the body did not move


def test_finetune_methods_build_the_right_models():
    pytest.importorskip("peft")
    base = _gpt()
    hp = {"lora_r": 2, "lora_alpha": 4, "seed": 0}
    lora = finetune.build_for("lora", base, 30, hp)
    full = finetune.build_for("full", base, 30, hp)
    scratch = finetune.build_for("scratch", base, 30, hp)
    assert finetune.trainable_parameters(lora) < finetune.trainable_parameters(full)
    assert finetune.trainable_parameters(full) == finetune.trainable_parameters(scratch) == full.num_params()
    assert torch.equal(full.blocks[0].attn.c_attn.weight, base.blocks[0].attn.c_attn.weight)
    assert not torch.equal(scratch.blocks[0].attn.c_attn.weight, base.blocks[0].attn.c_attn.weight)
    with pytest.raises(ValueError, match="lora, full, scratch"):
        finetune.build_for("adapters", base, 30, hp)


def test_banned_tokens_are_never_generated():
    net = _gpt(vocab=6, block=8)
    banned = finetune.BannedTokens(net, [0, 3])
    out = lm.generate(banned, torch.tensor([1, 2]), 50, temperature=2.0, generator=torch.Generator().manual_seed(0))
    assert not ((out[2:] == 0) | (out[2:] == 3)).any()
    x = torch.randint(6, (2, 5))
    logits = banned(x)
    assert torch.isinf(logits[..., [0, 3]]).all()
    assert torch.equal(logits[..., [1, 2, 4, 5]], net(x)[..., [1, 2, 4, 5]])


def test_fine_tune_cache_key_names_the_base_weights():
    base = _gpt()
    same = copy.deepcopy(base)
    assert finetune.weights_fingerprint(base) == finetune.weights_fingerprint(same)
    with torch.no_grad():
        same.blocks[0].attn.c_attn.weight[0, 0] += 1e-3  # a retrained base keeps its file name, not its weights
    assert finetune.weights_fingerprint(base) != finetune.weights_fingerprint(same)


def test_fine_tuning_windows_longer_than_the_base_context_are_refused():
    from types import SimpleNamespace

    base = SimpleNamespace(model=_gpt(block=16))  # learned positions 0 … 15
    with pytest.raises(ValueError, match="longer than the base model's context 16"):
        finetune.finetune("full", base, None, {"block_size": 32, "max_steps": 1}, progress=False)
