"""The course's Muon (aigc_course/models/muon.py): the Newton–Schulz iteration, the update rule, and agreement with
PyTorch's own torch.optim.Muon where the installed torch has it."""

import math

import pytest
import torch
from torch import nn

from aigc_course.models import lm
from aigc_course.models.muon import Muon, hidden_matrices, muon_and_adamw, newton_schulz


@pytest.mark.parametrize("shape", [(16, 48), (48, 16), (32, 32)])
def test_newton_schulz_brings_every_singular_value_near_one_and_keeps_the_singular_vectors(shape):
    gen = torch.Generator().manual_seed(0)
    k = min(shape)
    u, _ = torch.linalg.qr(torch.randn(shape[0], k, generator=gen, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(shape[1], k, generator=gen, dtype=torch.float64))
    sigma = torch.logspace(0, -1.5, k, dtype=torch.float64)  # an uneven spectrum: largest / smallest ≈ 32
    o = newton_schulz(u @ torch.diag(sigma) @ v.T, dtype=torch.float64)
    d = u.T @ o @ v  # in the input's singular vectors: diagonal iff U and V are kept
    assert torch.allclose(d, torch.diag(torch.diagonal(d)), atol=1e-9)
    assert torch.diagonal(d).min() > 0.5 and torch.diagonal(d).max() < 1.25  # the quintic's band around 1


def test_newton_schulz_rejects_a_vector():
    with pytest.raises(ValueError, match="matrix"):
        newton_schulz(torch.randn(5))


def test_muon_step_follows_its_formula():
    torch.manual_seed(0)
    w = nn.Parameter(torch.randn(8, 24))
    opt = Muon([w], lr=0.1, momentum=0.9, weight_decay=0.01)
    w0 = w.detach().clone()
    g = torch.randn(8, 24)
    w.grad = g.clone()
    opt.step()
    m = 0.1 * g  # M = μ·0 + (1 − μ) G
    u = 0.1 * g + 0.9 * m  # Nesterov: (1 − μ) G + μ M
    expected = w0 * (1 - 0.1 * 0.01) - 0.1 * 0.2 * math.sqrt(24) * newton_schulz(u).float()
    assert torch.allclose(w.detach(), expected, atol=1e-6)


def test_a_stack_is_orthogonalised_matrix_by_matrix_and_muon_batches_mixed_shapes_exactly():
    g = torch.Generator().manual_seed(2)
    stack = torch.randn(3, 6, 20, generator=g, dtype=torch.float64)
    alone = torch.stack([newton_schulz(m, dtype=torch.float64) for m in stack])
    assert torch.allclose(newton_schulz(stack, dtype=torch.float64), alone, atol=1e-12)
    assert torch.allclose(newton_schulz(stack.mT, dtype=torch.float64), alone.mT, atol=1e-12)  # tall stacks
    # Muon stacks (A, B) with (B, A) and keeps (A, A) apart: every matrix gets its own formula's step
    params = [nn.Parameter(torch.randn(s, generator=g)) for s in ((6, 20), (20, 6), (6, 6), (6, 20))]
    opt = Muon(params, lr=0.05, momentum=0.9, weight_decay=0.0)
    before = [p.detach().clone() for p in params]
    grads = [torch.randn(p.shape, generator=g) for p in params]
    for p, grad in zip(params, grads):
        p.grad = grad.clone()
    opt.step()
    for p, w0, grad in zip(params, before, grads):
        u = 0.1 * grad + 0.9 * (0.1 * grad)  # Nesterov on a fresh momentum
        expected = w0 - 0.05 * Muon.scale(p.shape, "match_rms_adamw") * newton_schulz(u).float()
        assert torch.allclose(p.detach(), expected, atol=1e-6)
    with pytest.raises(ValueError, match="stack"):
        newton_schulz(torch.randn(2, 2, 3, 4))


def test_muon_refuses_non_matrix_parameters():
    with pytest.raises(ValueError, match="2-D"):
        Muon([nn.Parameter(torch.zeros(4))])


@pytest.mark.skipif(not hasattr(torch.optim, "Muon"), reason="this torch has no torch.optim.Muon")
def test_muon_matches_pytorchs_muon_step_for_step():
    torch.manual_seed(0)
    a, b = nn.Parameter(torch.randn(12, 40)), nn.Parameter(torch.randn(40, 12))
    a2, b2 = (nn.Parameter(p.detach().clone()) for p in (a, b))
    ours = Muon([a, b], lr=0.02, weight_decay=0.1, ns_steps=5)
    theirs = torch.optim.Muon([a2, b2], lr=0.02, weight_decay=0.1, ns_steps=5, adjust_lr_fn="match_rms_adamw")
    for _ in range(5):
        for p, q in ((a, a2), (b, b2)):
            g = torch.randn_like(p)
            p.grad, q.grad = g.clone(), g.clone()
        ours.step()
        theirs.step()
    assert torch.equal(a, a2) and torch.equal(b, b2)


def test_muon_and_adamw_split_a_gpts_parameters():
    net = lm.GPT(lm.GPTConfig(11, 8, 2, 2, 16))
    adamw, muon = muon_and_adamw(net, 1e-3, 0.1)
    names = {id(p): n for n, p in net.named_parameters()}
    in_muon = {names[id(p)] for g in muon.param_groups for p in g["params"]}
    in_adamw = {names[id(p)] for g in adamw.param_groups for p in g["params"]}
    assert in_muon == set(hidden_matrices(net)) and in_muon.isdisjoint(in_adamw)
    assert in_muon | in_adamw == set(names.values())
    assert all(n.startswith("blocks.") and n.endswith(".weight") for n in in_muon)
    decayed = {names[id(p)] for p in adamw.param_groups[0]["params"]}
    assert decayed == {"lm_head.weight"}  # embeddings, biases and norms are not decayed


def test_the_embeddings_get_their_own_scaled_rate_and_the_schedule_keeps_it():
    from aigc_course.core import training

    net = lm.GPT(lm.GPTConfig(11, 8, 2, 2, 16, positions="learned"))
    names = {id(p): n for n, p in net.named_parameters()}
    adamw, muon = muon_and_adamw(net, 1e-3, 0.1, embed_lr_scale=5.0)
    tables = adamw.param_groups[2]
    assert {names[id(p)] for p in tables["params"]} == {"wte.weight", "wpe.weight"}
    assert tables["weight_decay"] == 0.0 and tables["lr"] == pytest.approx(5e-3) and tables["lr_scale"] == 5.0
    assert all(p.dim() < 2 for p in adamw.param_groups[1]["params"])  # biases, norms: the plain rate
    # run_steps sets every group to lr_at(...) times its lr_scale: the embeddings keep 5x through the schedule
    seen = []

    def step(i):
        seen.append([g["lr"] for o in (adamw, muon) for g in o.param_groups])
        return {"loss": 0.0}

    training.run_steps(step, total=2, chunk=2, optimizers=[adamw, muon], lr_at=lambda i, _: 1e-2 / (i + 1))
    assert seen == [[1e-2, 1e-2, 5e-2, 1e-2], [5e-3, 5e-3, 2.5e-2, 5e-3]]
    with pytest.raises(ValueError, match="embed_lr_scale must be positive"):
        muon_and_adamw(net, 1e-3, 0.1, embed_lr_scale=0.0)
    with pytest.raises(ValueError, match="setting of the 'muon' optimizer"):
        lm.make_optimizers(net, lm.LMTrainConfig(optimizer="adamw", embed_lr_scale=5.0))


def test_a_scale_of_one_trains_exactly_as_before():
    """embed_lr_scale = 1 is the plain rule: the same steps as one AdamW group for embeddings, biases and norms."""
    data = torch.arange(7).repeat(60)

    def trained(split):
        torch.manual_seed(0)
        net = lm.GPT(lm.GPTConfig(7, 8, 1, 1, 16))
        if split:
            opts = muon_and_adamw(net, 1e-2, 0.1, embed_lr_scale=1.0)
        else:
            hidden = set(hidden_matrices(net))
            named = list(net.named_parameters())
            emb = {"wte.weight", "wpe.weight"}
            rest = [(n, p) for n, p in named if n not in hidden]
            opts = [torch.optim.AdamW([{"params": [p for n, p in rest if n not in emb and p.dim() >= 2],
                                        "weight_decay": 0.1},
                                       {"params": [p for n, p in rest if n in emb or p.dim() < 2],
                                        "weight_decay": 0.0}], lr=1e-2, betas=(0.9, 0.99)),
                    Muon([p for n, p in named if n in hidden], lr=1e-2)]
        gen = torch.Generator().manual_seed(0)
        for _ in range(5):
            x, y = lm.random_batch(data, 8, 4, gen)
            loss = torch.nn.functional.cross_entropy(net(x).reshape(-1, 7), y.reshape(-1))
            for o in opts:
                o.zero_grad()
            loss.backward()
            for o in opts:
                o.step()
        return net.state_dict()

    a, b = trained(True), trained(False)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_train_lm_with_muon_learns_the_pattern():
    torch.manual_seed(0)
    data = torch.arange(5).repeat(400)
    net = lm.GPT(lm.GPTConfig(5, 8, 1, 1, 16))
    cfg = lm.LMTrainConfig(batch_size=8, block_size=8, lr=1e-2, warmup=5, max_steps=60, eval_every=20,
                           eval_windows=10, optimizer="muon")
    hist = lm.train_lm(net, data, data, cfg)
    assert hist["val_loss"][-1] < 0.1 * math.log(5)
    with pytest.raises(ValueError, match="optimizer must be"):
        lm.train_lm(net, data, data, lm.LMTrainConfig(optimizer="sgd", max_steps=1))
