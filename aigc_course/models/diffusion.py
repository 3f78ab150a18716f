"""Diffusion building blocks: the noise schedule of DDPM and a small class-conditional UNet.

Chapter 06 trains :class:`UNet` to predict the noise ``ε`` that the forward process added (and, for flow
matching, a velocity), and writes the training steps and the samplers (ancestral DDPM, DDIM, Euler,
classifier-free guidance) in the notebook,
where the student reads the update equations. This module holds only the reusable parts:

- :class:`NoiseSchedule` — ``β_t``, ``α_t = 1 − β_t`` and ``ᾱ_t = ∏_{s≤t} α_s`` for ``t = 0 … T−1``
  (0-based: index ``t`` is the paper's step ``t + 1``), with the closed-form forward sample
  ``x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε``;
- :func:`timestep_embedding` — the sinusoidal embedding of the (integer or real) time step;
- :class:`UNet` — an encoder/decoder with skip connections (28 → 14 → 7, or 14 → 7 after folding 2 × 2 pixel
  blocks into channels), GroupNorm + SiLU residual blocks, and the time embedding plus a class embedding (with an
  extra *null* class for classifier-free guidance) added inside every block;
- :class:`ToyNet` — the same idea as an MLP for 2-D toy data.

Images are ``(N, C, H, W)`` scaled to [-1, 1]; ``H`` and ``W`` must be divisible by
``patch · 2 ** (len(channels) - 1)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..core.training import count_parameters  # noqa: F401  (re-exported: chapter 06 calls diffusion.count_parameters)


# --------------------------------------------------------------------------------------------
# The noise schedule
# --------------------------------------------------------------------------------------------
def linear_betas(steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """DDPM's linear schedule (Ho et al. 2020, for ``T = 1000``), rescaled to ``steps``: ``(steps,)``."""
    scale = 1000 / steps
    return torch.linspace(scale * beta_start, scale * beta_end, steps, dtype=torch.float64)


def cosine_betas(steps: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """The cosine schedule (Nichol & Dhariwal 2021): ``ᾱ(t) ∝ cos²((t/T + s)/(1 + s) · π/2)``.

    Returns ``β`` ``(steps,)`` with ``β_t = 1 − ᾱ_{t+1}/ᾱ_t``, clipped at ``max_beta``.
    """
    t = torch.arange(steps + 1, dtype=torch.float64) / steps
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    return (1 - f[1:] / f[:-1]).clamp(max=max_beta)


class NoiseSchedule:
    """``T`` noise levels of the forward process ``q(x_t | x_{t−1}) = N(√α_t x_{t−1}, β_t I)``.

    Attributes (float32 tensors of shape ``(T,)``): ``betas``, ``alphas = 1 − betas``,
    ``alpha_bars = cumprod(alphas)``. Index ``t`` runs over ``0 … T−1``; ``alpha_bars[t]`` is the share
    of the signal's *variance* left after ``t + 1`` noising steps.

    >>> sched = NoiseSchedule(400, "cosine")
    >>> x_t = sched.q_sample(torch.zeros(8, 1, 28, 28), torch.full((8,), 399), torch.randn(8, 1, 28, 28))
    """

    def __init__(self, steps: int = 1000, kind: str = "cosine"):
        if kind == "cosine":
            betas = cosine_betas(steps)
        elif kind == "linear":
            betas = linear_betas(steps)
        else:
            raise ValueError(f"schedule kind must be 'cosine' or 'linear', not {kind!r}")
        self.steps = steps
        self.kind = kind
        self.betas = betas.float()
        self.alphas = (1 - betas).float()
        self.alpha_bars = torch.cumprod(1 - betas, dim=0).float()

    def __len__(self) -> int:
        return self.steps

    def __repr__(self) -> str:
        return f"NoiseSchedule(steps={self.steps}, kind={self.kind!r})"

    def at(self, values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """``values[t]`` for a batch of steps ``t`` ``(N,)``, shaped ``(N, 1, 1, 1)`` to broadcast with ``like``."""
        return values.to(like.device)[t.to(values.device).long()].view(-1, *([1] * (like.ndim - 1))).to(like.dtype)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """The closed form ``x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε``: ``x0``, ``noise`` ``(N, C, H, W)``,
        ``t`` ``(N,)`` → ``(N, C, H, W)``."""
        a_bar = self.at(self.alpha_bars, t, x0)
        return a_bar.sqrt() * x0 + (1 - a_bar).sqrt() * noise

    def predict_x0(self, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """Invert the closed form for ``x_0`` given a noise estimate: ``(x_t − √(1 − ᾱ_t) ε) / √ᾱ_t``."""
        a_bar = self.at(self.alpha_bars, t, x_t)
        return (x_t - (1 - a_bar).sqrt() * eps) / a_bar.sqrt()


# --------------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------------
def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding (as in the Transformer): ``t`` ``(N,)`` → ``(N, dim)``,
    ``[cos(t ω_k), sin(t ω_k)]`` with ``ω_k = max_period^{−k/(dim/2)}``."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


def _groups(channels: int) -> int:
    return math.gcd(8, channels)


class ResBlock(nn.Module):
    """GroupNorm → SiLU → Conv3×3, add the projected embedding, GroupNorm → SiLU → Conv3×3, plus a skip.

    ``x`` ``(N, c_in, H, W)`` and ``emb`` ``(N, emb_dim)`` → ``(N, c_out, H, W)``.
    """

    def __init__(self, c_in: int, c_out: int, emb_dim: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2 = nn.GroupNorm(_groups(c_out), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)  # each block starts as its skip path (the identity when c_in == c_out)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class UNet(nn.Module):
    """A small class-conditional UNet that predicts noise: ``(x_t, t, y) → ε̂``, same shape as ``x_t``.

    ``channels[i]`` is the width at resolution ``H / 2**i`` (default 28 → 14 → 7); ``blocks`` residual
    blocks per level on the way down and ``blocks`` on the way up (each fed the matching skip). The
    embedding ``MLP(sinusoid(t)) + class_embedding(y)`` is added in every block.

    - ``x`` ``(N, in_channels, H, W)``, ``t`` ``(N,)`` integer or real time steps, ``y`` ``(N,)`` class
      indices in ``0 … num_classes``; the extra index ``num_classes`` (also used when ``y is None``) is the
      *null* class of classifier-free guidance. Returns ``(N, in_channels, H, W)``.
    - ``patch`` > 1 folds each ``patch × patch`` block of pixels into channels first (``pixel_unshuffle``:
      ``(N, C, H, W) → (N, C·patch², H/patch, W/patch)``) and unfolds the output at the end, so the network works
      at a lower resolution: with ``patch=2`` a 28 × 28 digit becomes 14 × 14 × 4, and every level costs a quarter.
    """

    def __init__(self, in_channels: int = 1, channels: Sequence[int] = (32, 64, 64), blocks: int = 1,
                 emb_dim: int = 128, num_classes: int = 10, patch: int = 1):
        super().__init__()
        channels = tuple(channels)
        self.patch = patch
        in_channels = in_channels * patch * patch
        self.num_classes = num_classes
        self.emb_dim = emb_dim
        self.time_mlp = nn.Sequential(nn.Linear(emb_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.class_emb = nn.Embedding(num_classes + 1, emb_dim)  # index num_classes = "no label"
        self.conv_in = nn.Conv2d(in_channels, channels[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        skips = []
        width = channels[0]
        for i, c in enumerate(channels):
            for _ in range(blocks):
                self.down.append(ResBlock(width, c, emb_dim))
                width = c
                skips.append(c)
            if i < len(channels) - 1:
                self.downsample.append(nn.Conv2d(width, width, 3, stride=2, padding=1))
        self.mid = ResBlock(width, width, emb_dim)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i, c in reversed(list(enumerate(channels))):
            for _ in range(blocks):
                self.up.append(ResBlock(width + skips.pop(), c, emb_dim))
                width = c
            if i > 0:
                self.upsample.append(nn.ConvTranspose2d(width, width, 2, stride=2))  # cheap 2× upsampling
        self.levels = len(channels)
        self.blocks = blocks
        self.norm_out = nn.GroupNorm(_groups(width), width)
        self.conv_out = nn.Conv2d(width, in_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def embed(self, t: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """Time plus class embedding ``(N, emb_dim)``; ``y=None`` means the null class for every row."""
        if y is None:
            y = torch.full((len(t),), self.num_classes, dtype=torch.long, device=t.device)
        return self.time_mlp(timestep_embedding(t, self.emb_dim)) + self.class_emb(y.long())

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        emb = self.embed(t, y)
        if self.patch > 1:
            x = F.pixel_unshuffle(x, self.patch)
        h = self.conv_in(x)
        skips = []
        blocks = iter(self.down)
        for i in range(self.levels):
            for _ in range(self.blocks):
                h = next(blocks)(h, emb)
                skips.append(h)
            if i < self.levels - 1:
                h = self.downsample[i](h)
        h = self.mid(h, emb)
        blocks = iter(self.up)
        for i in range(self.levels):
            for _ in range(self.blocks):
                h = next(blocks)(torch.cat([h, skips.pop()], dim=1), emb)
            if i < self.levels - 1:
                h = self.upsample[i](h)
        out = self.conv_out(F.silu(self.norm_out(h)))
        return F.pixel_shuffle(out, self.patch) if self.patch > 1 else out


class ToyNet(nn.Module):
    """A small MLP for 2-D toy data (chapter 06's ring of Gaussians): ``(x_t, t) → ``(N, dim)`` output
    (a noise, score or velocity estimate, whatever the loss asks for).

    ``x`` ``(N, dim)`` and the sinusoidal embedding of ``t`` ``(N,)`` (integer steps or ``1000 · s`` for a
    continuous time ``s``) are concatenated and pushed through ``depth`` SiLU layers of width ``hidden``.
    """

    def __init__(self, dim: int = 2, hidden: int = 128, depth: int = 3, emb_dim: int = 32):
        super().__init__()
        self.emb_dim = emb_dim
        layers: list[nn.Module] = []
        width = dim + emb_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        layers.append(nn.Linear(width, dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, timestep_embedding(t, self.emb_dim)], dim=1))


