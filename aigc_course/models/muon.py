"""Muon: momentum whose update is *orthogonalised* before it is applied (Jordan et al. 2024, "Muon: an optimizer
for hidden layers in neural networks", kellerjordan.github.io/posts/muon; the learning-rate match to AdamW is from
Liu et al. 2025, "Muon is scalable for LLM training", arXiv:2502.16982).

For a weight matrix ``W (A, B)`` with momentum ``M``, Muon steps along ``O ≈ U Vᵀ`` where ``M = U S Vᵀ``: every
singular value of the step is (about) one, so directions the gradient rarely points along get as large a step as
the dominant ones. ``U Vᵀ`` is approximated without an SVD by a few Newton–Schulz iterations of an odd quintic
polynomial, which only multiplies matrices (cheap on any hardware). Only 2-D weight matrices of the hidden layers
go to Muon; embeddings, the output head, biases and norms stay with AdamW (:func:`muon_and_adamw`).

PyTorch ≥ 2.9 ships ``torch.optim.Muon``; this module is the course's own, short enough to read, and works with any
torch the course supports. ``tests/test_muon.py`` checks it step for step against PyTorch's where that exists.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import torch
from torch import nn

# the quintic's coefficients (a, b, c) in p(x) = a x + b x³ + c x⁵, chosen by Jordan et al. for a steep slope at 0
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def newton_schulz(g: torch.Tensor, steps: int = 5, coefficients: Sequence[float] = NS_COEFFICIENTS,
                  eps: float = 1e-7, dtype: torch.dtype = torch.bfloat16) -> torch.Tensor:
    """``(A, B)`` → ``(A, B)`` in ``dtype``: an approximate orthogonalisation ``≈ U Vᵀ`` of ``g = U S Vᵀ``; a stack
    ``(K, A, B)`` of matrices of one shape is orthogonalised matrix by matrix in batched products (the same result as
    one call per matrix, in fewer and larger products: :class:`Muon` stacks its matrices this way).

    ``g`` is scaled to Frobenius norm 1 (so every singular value is ≤ 1), then each step maps ``X ↦ a X + b (X Xᵀ) X
    + c (X Xᵀ)² X``, i.e. applies ``p(σ) = a σ + b σ³ + c σ⁵`` to every singular value ``σ`` while keeping ``U`` and
    ``V``. Five steps push the singular values into roughly [0.5, 1.2] (unless a matrix is very ill-conditioned:
    a σ far below the largest grows by at most a ≈ 3.4 per step), not exactly to 1:
    good enough for an update direction, and much cheaper than an SVD."""
    if g.dim() not in (2, 3):
        raise ValueError(f"newton_schulz orthogonalises a matrix (A, B) or a stack of them (K, A, B): got a tensor "
                         f"of shape {tuple(g.shape)}")
    a, b, c = coefficients
    x = g.to(dtype)
    tall = g.size(-2) > g.size(-1)
    if tall:  # iterate on the wide orientation: X Xᵀ is then the smaller Gram matrix
        x = x.mT
    x = x / torch.linalg.vector_norm(x, dim=(-2, -1), keepdim=True).clamp(min=eps)
    mul_add = torch.addmm if x.dim() == 2 else torch.baddbmm  # out = beta·input + alpha·(m1 @ m2)
    for _ in range(steps):
        gram = x @ x.mT
        poly = mul_add(gram, gram, gram, beta=b, alpha=c)  # b·G + c·G²
        x = mul_add(x, poly, x, beta=a)  # a·X + (b·G + c·G²)·X
    return x.mT if tall else x


class Muon(torch.optim.Optimizer):
    """Muon for 2-D parameters: Nesterov momentum ``μ``, the update orthogonalised by :func:`newton_schulz`,
    decoupled weight decay, and the step scaled by ``0.2·√max(A, B)`` so that its RMS matches a typical AdamW step
    (``match_rms_adamw``: the AdamW learning rate carries over) — or, with ``adjust="original"``, by
    ``√max(1, A/B)``.

    Per step, for ``W (A, B)`` with gradient ``G``: ``M ← μ M + (1 − μ) G``; ``U = (1 − μ) G + μ M`` (Nesterov);
    ``W ← (1 − lr·wd) W − lr·scale·NS(U)``."""

    def __init__(self, params: Iterable[nn.Parameter] | Iterable[dict], lr: float = 1e-3, *, momentum: float = 0.95,
                 weight_decay: float = 0.0, ns_steps: int = 5, adjust: str = "match_rms_adamw") -> None:
        if adjust not in ("match_rms_adamw", "original"):
            raise ValueError(f"adjust must be 'match_rms_adamw' or 'original', not {adjust!r}")
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay,
                                  "ns_steps": ns_steps, "adjust": adjust})
        for group in self.param_groups:
            for p in group["params"]:
                if p.dim() != 2:
                    raise ValueError(f"Muon updates 2-D weight matrices only; got a parameter of shape "
                                     f"{tuple(p.shape)} (give biases, norms and embeddings to AdamW)")

    @staticmethod
    def scale(shape: torch.Size, adjust: str) -> float:
        """The factor on the learning rate for a matrix of ``shape`` ``(A, B)``."""
        a, b = shape
        return 0.2 * math.sqrt(max(a, b)) if adjust == "match_rms_adamw" else math.sqrt(max(1.0, a / b))

    @torch.no_grad()
    def step(self, closure=None):  # noqa: ANN001, ANN201 (torch's Optimizer.step signature)
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, mu = group["lr"], group["momentum"]
            stacks: dict[tuple, list[tuple[nn.Parameter, torch.Tensor]]] = {}
            for p in group["params"]:
                if p.grad is None:
                    continue
                buf = self.state[p].setdefault("momentum_buffer", torch.zeros_like(p.grad))
                buf.lerp_(p.grad, 1 - mu)
                u = p.grad.lerp(buf, mu)  # Nesterov: (1 − μ) G + μ M
                tall = u.size(0) > u.size(1)  # (A, B) and (B, A) share one stack, the tall ones transposed
                wide = u.mT if tall else u
                stacks.setdefault((tuple(wide.shape), u.dtype, u.device), []).append((p, wide, tall))
            for members in stacks.values():  # one batched Newton–Schulz per shape: fewer, larger products
                ortho = newton_schulz(torch.stack([w for _, w, _ in members]), group["ns_steps"])
                for (p, _, tall), o in zip(members, ortho):
                    update = o.mT if tall else o
                    p.mul_(1 - lr * group["weight_decay"])
                    p.add_(update.to(p.dtype), alpha=-lr * self.scale(p.shape, group["adjust"]))
        return loss


def hidden_matrices(model: nn.Module, prefix: str = "blocks.") -> list[str]:
    """Names of the trainable 2-D parameters under ``prefix`` (a Transformer's hidden weight matrices)."""
    return [n for n, p in model.named_parameters() if p.requires_grad and p.dim() == 2 and n.startswith(prefix)]


def muon_and_adamw(model: nn.Module, lr: float, weight_decay: float, *, ns_steps: int = 5,
                   prefix: str = "blocks.", betas: tuple[float, float] = (0.9, 0.99),
                   embed_lr_scale: float = 1.0) -> list[torch.optim.Optimizer]:
    """``[AdamW, Muon]`` for ``model``: Muon (no weight decay) on :func:`hidden_matrices`; AdamW on the rest — other
    matrices (the output head) with ``weight_decay``, biases and norms without, and the embedding tables without
    decay at ``embed_lr_scale`` times the learning rate (their own group, third, with ``lr_scale``, which
    :func:`~aigc_course.core.training.run_steps` keeps when it schedules the rate). An embedding row only gets a
    gradient when its token is in the batch, and each row's step is one token's, so a larger rate pays there
    (the modded-nanoGPT speed-runs, Jordan et al. 2024, train the embedding with a far larger Adam rate than the
    head)."""
    if embed_lr_scale <= 0:
        raise ValueError(f"embed_lr_scale must be positive, not {embed_lr_scale}")
    hidden = set(hidden_matrices(model, prefix))
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    embeddings = {f"{m}.weight" for m, mod in model.named_modules() if isinstance(mod, nn.Embedding)}
    decay = [p for n, p in named if n not in hidden and n not in embeddings and p.dim() >= 2]
    no_decay = [p for n, p in named if n not in hidden and n not in embeddings and p.dim() < 2]
    tables = [p for n, p in named if n not in hidden and n in embeddings]
    adamw = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                               {"params": no_decay, "weight_decay": 0.0},
                               {"params": tables, "weight_decay": 0.0, "lr": lr * embed_lr_scale,
                                "lr_scale": embed_lr_scale}], lr=lr, betas=betas)
    muon = Muon([p for n, p in named if n in hidden], lr=lr, ns_steps=ns_steps)
    return [adamw, muon]
