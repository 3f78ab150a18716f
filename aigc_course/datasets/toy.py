"""Small synthetic datasets generated on the fly: two moons, circles, a ring of Gaussians, 1-D mixtures.

All generators take a ``torch.Generator`` or seed so results are reproducible, and return
float32 tensors.
"""

from __future__ import annotations

import math

import torch


def _gen(seed: int | torch.Generator | None) -> torch.Generator | None:
    if seed is None or isinstance(seed, torch.Generator):
        return seed
    return torch.Generator().manual_seed(int(seed))


def two_moons(n: int, *, noise: float = 0.1, seed: int | torch.Generator | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaved half circles: ``x`` ``(n, 2)`` float32 and labels ``y`` ``(n,)`` int64 (0/1)."""
    g = _gen(seed)
    y = torch.arange(n) % 2
    t = torch.rand(n, generator=g) * math.pi
    x = torch.stack([torch.cos(t), torch.sin(t)], dim=1)
    x[y == 1] = torch.stack([1 - torch.cos(t[y == 1]), 0.5 - torch.sin(t[y == 1])], dim=1)
    x = x + noise * torch.randn(n, 2, generator=g)
    perm = torch.randperm(n, generator=g)
    return x[perm].float(), y[perm].long()


def circles(n: int, *, noise: float = 0.05, factor: float = 0.5, seed: int | torch.Generator | None = None
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """An inner circle (label 1, radius ``factor``) inside an outer one (label 0, radius 1)."""
    g = _gen(seed)
    y = torch.arange(n) % 2
    t = torch.rand(n, generator=g) * 2 * math.pi
    r = torch.where(y == 1, torch.tensor(factor), torch.tensor(1.0))
    x = torch.stack([r * torch.cos(t), r * torch.sin(t)], dim=1) + noise * torch.randn(n, 2, generator=g)
    perm = torch.randperm(n, generator=g)
    return x[perm].float(), y[perm].long()


def ring_centers(modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """Centres of ``modes`` Gaussians evenly spaced on a circle: ``(modes, 2)``."""
    angles = torch.arange(modes) * (2 * math.pi / modes)
    return torch.stack([radius * torch.cos(angles), radius * torch.sin(angles)], dim=1)


def ring_of_gaussians(n: int, *, modes: int = 8, radius: float = 2.0, std: float = 0.05,
                      seed: int | torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples ``(n, 2)`` from an equal mixture of ``modes`` isotropic Gaussians (std ``std``) on a
    ring, and the mode index of each sample ``(n,)``."""
    g = _gen(seed)
    k = torch.randint(modes, (n,), generator=g)
    x = ring_centers(modes, radius)[k] + std * torch.randn(n, 2, generator=g)
    return x.float(), k.long()


def gaussian_mixture_1d(n: int, means: tuple[float, ...] = (-2.0, 2.0), stds: tuple[float, ...] = (0.5, 0.5),
                        weights: tuple[float, ...] | None = None,
                        seed: int | torch.Generator | None = None) -> torch.Tensor:
    """``n`` samples ``(n, 1)`` of a 1-D Gaussian mixture."""
    g = _gen(seed)
    w = torch.tensor(weights if weights is not None else [1.0] * len(means))
    k = torch.multinomial(w / w.sum(), n, replacement=True, generator=g)
    mu, sd = torch.tensor(means)[k], torch.tensor(stds)[k]
    return (mu + sd * torch.randn(n, generator=g)).unsqueeze(1).float()
