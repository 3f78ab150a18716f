"""GAN building blocks: small MLP generators and discriminators for toy 1-D / 2-D data.

Chapter 03 trains these on a 1-D mixture and on a ring of Gaussians; chapter 04 adds image GANs
to this module. The training *step* (discriminator step, generator step, ``detach``,
``zero_grad``) is deliberately not here: each chapter writes it out where the student reads it.

Conventions:

- a generator maps latent noise ``z`` ``(N, latent_dim)`` to samples ``(N, data_dim)``;
- a discriminator maps samples ``(N, data_dim)`` to **logits** ``(N, 1)``; ``D(x) = sigmoid(logit)``
  is the probability that ``x`` is real. Returning logits lets the losses use the numerically
  stable ``binary_cross_entropy_with_logits``.
"""

from __future__ import annotations

import torch
from torch import nn

_ACTIVATIONS = {
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "none": None,
}


def mlp(in_dim: int, out_dim: int, *, hidden: int = 128, depth: int = 3, activation: str = "leaky_relu"
        ) -> nn.Sequential:
    """``depth`` hidden layers of width ``hidden`` with ``activation`` between them, then a linear output.

    ``activation="none"`` builds a stack of ``nn.Linear`` layers with nothing in between — which
    collapses to a single affine map (chapter 03, "anatomy of a broken GAN").
    Input ``(N, in_dim)`` → output ``(N, out_dim)``.
    """
    if activation not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(_ACTIVATIONS)}")
    if depth < 0 or hidden < 1:
        raise ValueError(f"need depth >= 0 and hidden >= 1; got depth={depth}, hidden={hidden}")
    make_act = _ACTIVATIONS[activation]
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(depth):
        layers.append(nn.Linear(width, hidden))
        if make_act is not None:
            layers.append(make_act())
        width = hidden
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """Toy generator ``G``: latent ``z`` ``(N, latent_dim)`` → sample ``(N, data_dim)``.

    >>> G = MLPGenerator(latent_dim=2, data_dim=2)
    >>> G(torch.randn(5, 2)).shape
    torch.Size([5, 2])
    """

    def __init__(self, latent_dim: int = 2, data_dim: int = 2, *, hidden: int = 128, depth: int = 3,
                 activation: str = "leaky_relu"):
        super().__init__()
        self.latent_dim = latent_dim
        self.data_dim = data_dim
        self.net = mlp(latent_dim, data_dim, hidden=hidden, depth=depth, activation=activation)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` samples ``(n, data_dim)`` from fresh Gaussian noise, without gradients."""
        device = next(self.parameters()).device
        z = sample_latent(n, self.latent_dim, generator=generator).to(device)
        with torch.no_grad():
            return self(z)


class MLPDiscriminator(nn.Module):
    """Toy discriminator ``D``: sample ``(N, data_dim)`` → logit ``(N, 1)``; ``sigmoid(logit)`` = P(real).

    >>> D = MLPDiscriminator(data_dim=2)
    >>> D(torch.randn(5, 2)).shape
    torch.Size([5, 1])
    """

    def __init__(self, data_dim: int = 2, *, hidden: int = 128, depth: int = 3, activation: str = "leaky_relu"):
        super().__init__()
        self.data_dim = data_dim
        self.net = mlp(data_dim, 1, hidden=hidden, depth=depth, activation=activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def prob(self, x: torch.Tensor) -> torch.Tensor:
        """``D(x)`` as a probability ``(N,)`` (no gradients) — handy for plotting the curve."""
        with torch.no_grad():
            return torch.sigmoid(self(x)).squeeze(1)


def sample_latent(n: int, latent_dim: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard Gaussian noise ``z`` ``(n, latent_dim)`` (CPU; move it with ``.to(device)``)."""
    return torch.randn(n, latent_dim, generator=generator)


def affine_equivalent(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Collapse a stack of ``nn.Linear`` layers (no activations) into one affine map ``x ↦ x A^T + b``.

    Returns ``A`` ``(out_dim, in_dim)`` and ``b`` ``(out_dim,)``. Raises ``TypeError`` if the model
    contains anything other than ``nn.Linear`` (a non-linearity breaks the collapse).
    """
    linears = [m for m in model.modules() if not isinstance(m, (nn.Sequential, MLPGenerator, MLPDiscriminator))]
    if not linears or not all(isinstance(m, nn.Linear) for m in linears):
        kinds = sorted({type(m).__name__ for m in linears if not isinstance(m, nn.Linear)})
        raise TypeError(f"not a pure stack of nn.Linear layers (also contains {', '.join(kinds) or 'nothing'})")
    with torch.no_grad():
        first = linears[0]
        A = first.weight.clone()
        b = first.bias.clone() if first.bias is not None else torch.zeros(first.out_features)
        for layer in linears[1:]:
            A = layer.weight @ A
            b = layer.weight @ b + (layer.bias if layer.bias is not None else 0.0)
    return A, b
