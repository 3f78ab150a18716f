"""Mode coverage and sample quality for generators of a known mixture (e.g. a ring of Gaussians).

When the data are a mixture of ``K`` isotropic Gaussians with known centres and standard
deviation ``std``, two numbers summarise a generator well (as in Metz et al. 2017, "Unrolled
GANs", and Srivastava et al. 2017, "VEEGAN"):

- **high-quality fraction**: the share of generated samples that land within ``n_sigma · std`` of
  their nearest centre;
- **modes covered**: how many centres receive a reasonable share of the samples. Here a mode is
  covered when at least ``min_share`` of its *fair share* ``N / K`` of the ``N`` samples lands
  near it (within ``n_sigma · std``). With ``N = 2000``, ``K = 8`` and ``min_share = 1/4`` a mode
  needs 63 high-quality samples: a generator that sprinkles a handful of lucky samples on a mode
  does not get credit for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ModeCoverage:
    """What :func:`mode_coverage` returns."""

    modes_covered: int
    """Number of centres that received at least ``min_share · N / K`` high-quality samples."""
    high_quality_frac: float
    """Share of all samples within ``n_sigma · std`` of their nearest centre (0..1)."""
    counts: torch.Tensor
    """High-quality samples per centre ``(K,)`` int64."""
    threshold: float
    """Samples a centre needs to count as covered (``min_share · N / K``)."""

    def summary(self) -> str:
        k = len(self.counts)
        return (f"{self.modes_covered}/{k} modes covered · {self.high_quality_frac:.1%} high-quality samples · "
                f"per mode {self.counts.tolist()} (covered when >= {math.ceil(self.threshold)})")


def nearest_centre(samples: torch.Tensor, centres: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Index ``(N,)`` of the nearest centre of each sample and the Euclidean distance to it ``(N,)``.

    ``samples`` ``(N, d)``, ``centres`` ``(K, d)``.
    """
    if samples.ndim != 2 or centres.ndim != 2 or samples.shape[1] != centres.shape[1]:
        raise ValueError(f"need samples (N, d) and centres (K, d); got {tuple(samples.shape)} and "
                         f"{tuple(centres.shape)}")
    dist = torch.cdist(samples.double(), centres.double().to(samples.device))  # (N, K)
    best, idx = dist.min(dim=1)
    return idx, best.float()


def mode_coverage(samples: torch.Tensor, centres: torch.Tensor, std: float, *, n_sigma: float = 3.0,
                  min_share: float = 0.25) -> ModeCoverage:
    """Modes covered and high-quality fraction of ``samples`` ``(N, d)`` for mixture ``centres`` ``(K, d)``.

    A sample is high-quality when its distance to the nearest centre is at most ``n_sigma · std``.
    A centre is covered when it gets at least ``min_share · N / K`` high-quality samples.
    Non-finite samples (a diverged generator) count as low-quality.
    """
    if samples.shape[0] == 0:
        raise ValueError("mode_coverage needs at least one sample")
    samples = samples.detach()
    finite = torch.isfinite(samples).all(dim=1)
    idx, dist = nearest_centre(torch.where(finite[:, None], samples, torch.zeros_like(samples)), centres)
    good = finite & (dist <= n_sigma * std)
    k = centres.shape[0]
    counts = torch.bincount(idx[good].cpu(), minlength=k)
    threshold = min_share * samples.shape[0] / k
    return ModeCoverage(
        modes_covered=int((counts >= threshold).sum()),
        high_quality_frac=float(good.float().mean()),
        counts=counts,
        threshold=float(threshold),
    )
