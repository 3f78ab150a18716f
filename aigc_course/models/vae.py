"""A convolutional variational autoencoder for 28×28 images (chapter 05; reused for comparisons in 06).

The model is the pair of networks only:

- the **encoder** ``q_φ(z | x) = N(μ_φ(x), diag σ²_φ(x))`` maps an image ``(N, 1, 28, 28)`` in [0, 1] to
  ``mu`` and ``logvar`` (``log σ²``), each ``(N, latent_dim)``;
- the **decoder** ``p_θ(x | z)`` maps a latent ``z`` ``(N, latent_dim)`` to **logits** ``(N, 1, 28, 28)`` of
  independent Bernoulli pixels; ``sigmoid(logits)`` are the pixel probabilities (the "mean image").

Returning logits lets the loss use the numerically stable ``binary_cross_entropy_with_logits``. The
objective (the ELBO) and the reparameterisation trick are written out in chapter 05's notebook, where the
student reads them; :func:`reparameterize` here is the same one line, so that :meth:`ConvVAE.forward` is
usable on its own.

Shapes, with ``c = channels``: 28 → Conv(4, stride 2) → 14 → Conv(4, stride 2) → 7, i.e. ``(N, 2c, 7, 7)``
→ flatten ``2c·49`` → ``hidden`` → ``2·latent_dim``; the decoder mirrors it with transposed convolutions. With
``pixel_bias=True`` the decoder's logits get one learned bias per pixel ``(1, 1, 28, 28)``, which
:meth:`ConvVAE.start_at_mean` sets to the logits of the training set's mean image.
"""

from __future__ import annotations

import torch
from torch import nn


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, *, generator: torch.Generator | None = None
                   ) -> torch.Tensor:
    """``z = μ + σ ⊙ ε`` with ``σ = exp(½ logvar)`` and ``ε ~ N(0, I)``: a sample of ``N(μ, diag σ²)`` that is a
    differentiable function of ``μ`` and ``logvar``. All tensors ``(N, latent_dim)``."""
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype).to(mu.device)
    return mu + torch.exp(0.5 * logvar) * eps


ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "silu": nn.SiLU}
"""The hidden layers' nonlinearity. Chapter 05 uses SiLU (``x · sigmoid(x)``), chosen on a validation split (trained
on MNIST train[:50000], scored on train[50000:]; fast profile's sizes, 10 epochs, negative ELBO in nats): at the
learning rate 4e-3 SiLU 96.3 and 96.0 (seeds 0, 1), GELU 96.0, ELU 97.7 and 98.0, ReLU 98.4; the former setting,
ReLU at 2e-3, 99.0 and 99.0."""


class ConvVAE(nn.Module):
    """Convolutional VAE with a diagonal-Gaussian encoder and a Bernoulli decoder.

    >>> vae = ConvVAE(latent_dim=16)
    >>> mu, logvar = vae.encode(torch.rand(5, 1, 28, 28))
    >>> mu.shape, logvar.shape
    (torch.Size([5, 16]), torch.Size([5, 16]))
    >>> vae.decode(mu).shape
    torch.Size([5, 1, 28, 28])
    """

    def __init__(self, latent_dim: int = 16, *, channels: int = 32, hidden: int = 256, activation: str = "relu",
                 pixel_bias: bool = False):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, not {activation!r}")
        self.latent_dim = latent_dim
        c, act = channels, ACTIVATIONS[activation]
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c, 4, stride=2, padding=1), act(),  # (N, c, 14, 14)
            nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), act(),  # (N, 2c, 7, 7)
            nn.Flatten(), nn.Linear(2 * c * 49, hidden), act(),
            nn.Linear(hidden, 2 * latent_dim),  # μ and log σ² side by side
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden), act(),
            nn.Linear(hidden, 2 * c * 49), act(),
            nn.Unflatten(1, (2 * c, 7, 7)),
            nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1), act(),  # (N, c, 14, 14)
            nn.ConvTranspose2d(c, 1, 4, stride=2, padding=1),  # (N, 1, 28, 28) logits
        )
        # one bias per pixel, added to the logits: the decoder then only has to learn how a digit differs from it
        self.pixel_bias = nn.Parameter(torch.zeros(1, 1, 28, 28)) if pixel_bias else None

    @torch.no_grad()
    def start_at_mean(self, images: torch.Tensor, *, eps: float = 1e-3) -> torch.Tensor:
        """Set the per-pixel bias to ``logit(mean image)`` of ``images`` ``(N, 1, 28, 28)`` in [0, 1] (clamped to
        ``[eps, 1 - eps]``: pixels that are always 0 get a large negative logit, not −∞) and return it
        ``(1, 1, 28, 28)``. Before training, when the rest of the decoder's output is close to 0, every decoded
        image is then close to the mean digit. Needs ``pixel_bias=True``."""
        if self.pixel_bias is None:
            raise ValueError("this ConvVAE has no per-pixel bias: build it with ConvVAE(..., pixel_bias=True)")
        if images.dim() != 4 or images.shape[1:] != self.pixel_bias.shape[1:]:
            raise ValueError(f"images must be (N, 1, 28, 28) in [0, 1]; got {tuple(images.shape)}")
        mean = images.float().mean(0, keepdim=True).clamp(eps, 1 - eps)
        self.pixel_bias.copy_(torch.logit(mean).to(self.pixel_bias.device))
        return self.pixel_bias.detach().clone()

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images ``(N, 1, 28, 28)`` in [0, 1] → ``(mu, logvar)``, each ``(N, latent_dim)``."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents ``(N, latent_dim)`` → Bernoulli **logits** ``(N, 1, 28, 28)``."""
        logits = self.decoder(z)
        return logits if self.pixel_bias is None else logits + self.pixel_bias

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode, draw one reparameterised ``z``, decode: → ``(logits (N, 1, 28, 28), mu, logvar)``."""
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar)), mu, logvar

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` images from the prior: ``z ~ N(0, I)`` → pixel probabilities ``(n, 1, 28, 28)`` in [0, 1].

        Like most VAE papers we show the Bernoulli *means* ``sigmoid(logits)``, not binary draws from them.
        """
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator).to(device)
        return torch.sigmoid(self.decode(z))


def latent_grid(n: int, *, quantile: float = 0.95) -> torch.Tensor:
    """An ``n × n`` grid of 2-D latents ``(n·n, 2)``, evenly spaced in *probability* under N(0, 1) per axis.

    Points sit at the standard-normal quantiles ``(1 - quantile)/2 … (1 + quantile)/2`` so that the grid
    covers where the prior puts its mass (Kingma & Welling 2014, fig. 4). Row-major: row ``i`` holds
    ``z₂ = grid[i]`` from top (large) to bottom (small) and ``z₁`` from left to right.
    """
    if n < 2 or not 0 < quantile < 1:
        raise ValueError(f"need n >= 2 and 0 < quantile < 1; got n={n}, quantile={quantile}")
    probs = torch.linspace((1 - quantile) / 2, (1 + quantile) / 2, n, dtype=torch.float64)
    values = torch.distributions.Normal(0.0, 1.0).icdf(probs).float()
    z1, z2 = torch.meshgrid(values, values.flip(0), indexing="xy")
    return torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)


def slerp(a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    """Spherical interpolation between latents ``a`` and ``b`` ``(D,)`` → ``(steps, D)`` (ends included).

    Under a Gaussian prior, straight lines pass through the low-norm middle where few codes live;
    slerp keeps the norm typical. Falls back to a straight line when ``a`` and ``b`` are parallel.
    """
    t = torch.linspace(0, 1, steps, dtype=a.dtype, device=a.device)[:, None]
    cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp(min=1e-12)
    omega = torch.arccos(cos.clamp(-1, 1))
    if omega.abs() < 1e-4:
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)
