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


# --------------------------------------------------------------------------------------------
# Image GANs for 28×28 MNIST digits (chapter 04)
# --------------------------------------------------------------------------------------------
# Images are (N, 1, 28, 28) in [-1, 1]: generators end in tanh, discriminators return logits (N, 1).
# Every image model takes ``labels`` (N,) int64 as an optional second argument so one training step
# serves all of them; an unconditional model refuses labels, a conditional one requires them.
IMAGE_SHAPE = (1, 28, 28)


def _check_labels(labels: torch.Tensor | None, num_classes: int, n: int) -> None:
    if num_classes == 0 and labels is not None:
        raise ValueError("this model is unconditional: call it without labels")
    if num_classes > 0:
        if labels is None:
            raise ValueError(f"this model is conditional on {num_classes} classes: pass labels (N,)")
        if labels.shape != (n,):
            raise ValueError(f"labels must have shape ({n},); got {tuple(labels.shape)}")


class _ImageGenerator(nn.Module):
    latent_dim: int
    num_classes: int

    def sample(self, n: int, labels: torch.Tensor | None = None, *, generator: torch.Generator | None = None,
               batch: int = 500) -> torch.Tensor:
        """``n`` images ``(n, 1, 28, 28)`` in [-1, 1] from fresh noise, in eval mode, without gradients.

        Conditional models take ``labels`` ``(n,)``; ``generator`` makes the draw reproducible.
        """
        device = next(self.parameters()).device
        z = sample_latent(n, self.latent_dim, generator=generator)
        was_training = self.training
        self.eval()
        with torch.no_grad():
            out = torch.cat([
                self(z[i: i + batch].to(device), None if labels is None else labels[i: i + batch].to(device)).cpu()
                for i in range(0, n, batch)
            ])
        self.train(was_training)
        return out


class MLPImageGenerator(_ImageGenerator):
    """Fully connected generator: ``z`` ``(N, latent_dim)`` → ``hidden`` layers (LeakyReLU) → 784 → tanh →
    images ``(N, 1, 28, 28)`` in [-1, 1].

    >>> MLPImageGenerator(latent_dim=64)(torch.randn(5, 64)).shape
    torch.Size([5, 1, 28, 28])
    """

    def __init__(self, latent_dim: int = 64, *, hidden: int = 256, depth: int = 2):
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, 0
        self.net = nn.Sequential(mlp(latent_dim, 28 * 28, hidden=hidden, depth=depth), nn.Tanh())

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        _check_labels(labels, 0, len(z))
        return self.net(z).view(-1, *IMAGE_SHAPE)


class MLPImageDiscriminator(nn.Module):
    """Fully connected discriminator: images ``(N, 1, 28, 28)`` → flatten 784 → ``hidden`` layers
    (LeakyReLU) → logit ``(N, 1)``.

    >>> MLPImageDiscriminator()(torch.randn(5, 1, 28, 28)).shape
    torch.Size([5, 1])
    """

    def __init__(self, *, hidden: int = 256, depth: int = 2):
        super().__init__()
        self.num_classes = 0
        self.net = mlp(28 * 28, 1, hidden=hidden, depth=depth)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        _check_labels(labels, 0, len(x))
        return self.net(x.flatten(1))


class DCGenerator(_ImageGenerator):
    """DCGAN generator for 28×28 digits, optionally class-conditional.

    ``z`` ``(N, latent_dim)`` [+ label embedding ``(N, embed_dim)``, concatenated] → Linear →
    ``(N, 2c, 7, 7)`` → BN/ReLU → ConvTranspose(2c→c, 4, 2, 1) → ``(N, c, 14, 14)`` → BN/ReLU →
    ConvTranspose(c→1, 4, 2, 1) → ``(N, 1, 28, 28)`` → tanh. With ``num_classes=0`` it is unconditional.

    >>> DCGenerator(latent_dim=64, channels=64)(torch.randn(5, 64)).shape
    torch.Size([5, 1, 28, 28])
    >>> DCGenerator(num_classes=10)(torch.randn(5, 64), torch.arange(5)).shape
    torch.Size([5, 1, 28, 28])
    """

    def __init__(self, latent_dim: int = 64, *, channels: int = 64, num_classes: int = 0, embed_dim: int = 16):
        super().__init__()
        self.latent_dim, self.num_classes, self.channels = latent_dim, num_classes, channels
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        c = channels
        self.project = nn.Linear(latent_dim + (embed_dim if num_classes else 0), 2 * c * 7 * 7, bias=False)
        self.net = nn.Sequential(
            nn.BatchNorm2d(2 * c), nn.ReLU(),
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1, bias=False),  # 7 → 14
            nn.BatchNorm2d(c), nn.ReLU(),
            nn.ConvTranspose2d(c, 1, 4, 2, 1),  # 14 → 28
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        _check_labels(labels, self.num_classes, len(z))
        if self.embed is not None:
            z = torch.cat([z, self.embed(labels)], dim=1)
        return self.net(self.project(z).view(-1, 2 * self.channels, 7, 7))


class DCDiscriminator(nn.Module):
    """DCGAN discriminator for 28×28 digits, optionally class-conditional (projection discriminator).

    images ``(N, 1, 28, 28)`` → Conv(1→c, 4, 2, 1) → ``(N, c, 14, 14)`` → LeakyReLU(0.2) →
    Conv(c→2c, 4, 2, 1) → ``(N, 2c, 7, 7)`` → BN/LeakyReLU → flatten ``h`` ``(N, 2c·49)`` →
    logit ``(N, 1)`` = ``w·h + b`` [+ ``embed(label)·h`` when ``num_classes > 0``: the projection of
    Miyato & Koyama 2018, which asks "is this a real image *of this class*?"].

    ``spectral_norm=True`` divides the weight of every layer (both convolutions, the head and the class
    embedding) by an estimate of its largest singular value, refreshed by one power-iteration step per forward
    pass in training mode (Miyato et al. 2018), and drops the BatchNorm, whose rescaling would undo the bound.

    >>> DCDiscriminator(channels=64)(torch.randn(5, 1, 28, 28)).shape
    torch.Size([5, 1])
    >>> DCDiscriminator(channels=8, spectral_norm=True)(torch.randn(5, 1, 28, 28)).shape
    torch.Size([5, 1])
    """

    def __init__(self, *, channels: int = 64, num_classes: int = 0, spectral_norm: bool = False):
        super().__init__()
        self.num_classes = num_classes
        self.spectral_norm = spectral_norm
        sn = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda module: module)
        c = channels
        self.features = nn.Sequential(
            sn(nn.Conv2d(1, c, 4, 2, 1)), nn.LeakyReLU(0.2),  # 28 → 14
            sn(nn.Conv2d(c, 2 * c, 4, 2, 1, bias=spectral_norm)),  # 14 → 7
            nn.Identity() if spectral_norm else nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2),
            nn.Flatten(),
        )
        self.head = sn(nn.Linear(2 * c * 7 * 7, 1))
        self.embed = nn.Embedding(num_classes, 2 * c * 7 * 7) if num_classes else None
        if self.embed is not None:
            nn.init.normal_(self.embed.weight, std=0.02)
            self.embed = sn(self.embed)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        _check_labels(labels, self.num_classes, len(x))
        h = self.features(x)
        logit = self.head(h)
        if self.embed is not None:
            logit = logit + (self.embed(labels) * h).sum(dim=1, keepdim=True)
        return logit


def lloyd_step(x: torch.Tensor, centroids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One round of Lloyd's algorithm on rows ``x`` ``(N, D)`` and ``centroids`` ``(K, D)``: → ``(assign (N,) int64,
    new (K, D))``, ``assign`` the index of each row's nearest given centroid (Euclidean distance), ``new`` the mean
    of the rows assigned to each centroid; a centroid that gets no row stays where it was."""
    assign = torch.cdist(x, centroids).argmin(1)
    counts = torch.bincount(assign, minlength=len(centroids))
    sums = torch.zeros_like(centroids).index_add_(0, assign, x)
    return assign, torch.where((counts > 0)[:, None], sums / counts.clamp(min=1)[:, None], centroids)


def kmeans(x: torch.Tensor, k: int, *, iters: int = 20, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means on the rows of ``x`` ``(N, D)``: → ``(assignments (N,) int64, centroids (k, D))``.

    Chapter 04 uses it to give an unconditional GAN *pseudo-labels* (cluster ids of the pixels, no digit labels)
    to condition on — a simple form of the self-conditioned GAN of Liu et al. (2020), who cluster the
    discriminator's features instead. Starts from ``k`` distinct rows drawn with ``seed`` (reproducible), then
    repeats :func:`lloyd_step` ("assign every row to its nearest centroid, move every centroid to the mean of its
    rows") for ``iters`` rounds or until no assignment changes. The returned assignments are those of the returned
    centroids (nearest in Euclidean distance).
    """
    if x.dim() != 2:
        raise ValueError(f"x must be (N, D); got shape {tuple(x.shape)} (flatten images first: x.flatten(1))")
    if not 1 <= k <= len(x):
        raise ValueError(f"k must be between 1 and the number of rows ({len(x)}); got {k}")
    if iters < 1:
        raise ValueError(f"iters must be at least 1; got {iters}")
    x = x.float()
    start = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:k]
    assign, centroids = lloyd_step(x, x[start].clone())
    for _ in range(iters - 1):
        new, moved = lloyd_step(x, centroids)
        if torch.equal(new, assign):  # nothing changes any more: moved == centroids
            break
        assign, centroids = new, moved
    return torch.cdist(x, centroids).argmin(1), centroids


def training_config(steps: int, *, batch: int, lr_g: float, lr_d: float, betas: tuple[float, float],
                    chunk_steps: int, train_limit: int | None, seed: int, bf16: bool,
                    arch: dict[str, object]) -> dict[str, object]:
    """The settings chapter 04 trains an image GAN under, as the dict ``training.load_or_train`` keys the
    checkpoint by: ``steps`` of batch ``batch``, Adam at ``lr_g`` / ``lr_d`` with ``betas``, a checkpoint every
    ``chunk_steps``, ``arch`` (the networks' sizes), ``bf16`` (autocast on) and the layout of the history. Chapter 14
    finds chapter 04's GANs through the same function, so the two can never key the same model differently."""
    return {"steps": steps, "batch": batch, "lr_g": lr_g, "lr_d": lr_d, "betas": tuple(betas),
            "chunk_steps": chunk_steps, "train_limit": train_limit, "seed": seed, **arch, "bf16": bool(bf16),
            "history": "run_steps"}  # the history's layout (step, seconds): checkpoints of an older layout retrain
