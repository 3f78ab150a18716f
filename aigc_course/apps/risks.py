"""Chapter 14's plumbing: adversarial examples, a robust classifier, detectors of generated digits,
name-bias probes, memorisation of training text, and interpretability (saliency, attention maps).

The ideas are written out in ``notebooks/14_responsible_aigc.ipynb``; this module holds the loops.
The text watermark lives in :mod:`aigc_course.apps.watermark`.

Images are float ``(N, 1, 28, 28)`` in [0, 1] and labels int64 ``(N,)`` unless a docstring says
otherwise; every attack keeps its output inside [0, 1] (a valid image).

References: Goodfellow, Shlens & Szegedy 2015 (FGSM); Madry et al. 2018 (PGD, adversarial training);
Wang et al. 2020 ("CNN-generated images are surprisingly easy to spot ... for now"); Carlini et al. 2021,
2023 (extracting and quantifying memorisation); Simonyan, Vedaldi & Zisserman 2014 (saliency maps);
Sundararajan, Taly & Yan 2017 (integrated gradients).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..core import config, training
from ..datasets import load_mnist
from ..metrics.image import MNISTClassifier, predict, to_unit
from ..models import lm
from ..models.diffusion import NoiseSchedule, UNet
from ..models.gan import DCDiscriminator, DCGenerator, MLPImageDiscriminator, MLPImageGenerator
from ..models.gan import training_config as gan_training_config
from ..models.lm import GPT
from ..models.vae import ConvVAE


def _check_images(x: torch.Tensor, y: torch.Tensor | None = None) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1:] != (1, 28, 28):
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"images must be a float tensor (N, 1, 28, 28) in [0, 1]; got {shape}")
    if x.min() < 0 or x.max() > 1:
        raise ValueError("images must lie in [0, 1] (use metrics.image.to_unit to convert)")
    if y is not None and (y.ndim != 1 or len(y) != len(x)):
        raise ValueError(f"labels must have shape ({len(x)},); got {tuple(y.shape)}")


def _check_eps(eps: float) -> None:
    if not eps >= 0:
        raise ValueError(f"eps must be >= 0 (a radius in pixel units of [0, 1]); got {eps}")


# --------------------------------------------------------------------------------------------
# Attacks
# --------------------------------------------------------------------------------------------
def input_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``∇_x`` of the summed cross-entropy of ``model`` (eval mode) at images ``x`` ``(N, 1, 28, 28)``,
    labels ``y`` ``(N,)`` → ``(N, 1, 28, 28)``. The sum (not the mean) keeps each row's gradient
    independent of the batch size."""
    model.eval()
    device = next(model.parameters()).device
    x = x.detach().to(device).requires_grad_(True)
    with torch.enable_grad():
        loss = F.cross_entropy(model(x), y.to(device), reduction="sum")
        (grad,) = torch.autograd.grad(loss, x)
    return grad


def project_linf(x_adv: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    """Project ``x_adv`` onto the L∞ ball of radius ``eps`` around ``x`` intersected with [0, 1]:
    ``clamp(x + clamp(x_adv − x, −ε, ε), 0, 1)``. Both ``(N, 1, 28, 28)``."""
    _check_eps(eps)
    return (x + (x_adv - x).clamp(-eps, eps)).clamp(0, 1)


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """Fast gradient sign method: ``clamp(x + ε · sign(∇_x L(x, y)), 0, 1)`` → ``(N, 1, 28, 28)`` on ``x``'s device."""
    _check_images(x, y)
    _check_eps(eps)
    grad = input_gradient(model, x, y)
    return (x.to(grad.device) + eps * grad.sign()).clamp(0, 1).detach()


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int, alpha: float | None = None,
        *, random_start: bool = True, generator: torch.Generator | None = None) -> torch.Tensor:
    """Projected gradient descent on the loss (ascent, L∞; Madry et al. 2018): ``steps`` times
    ``x' ← Π(x' + α · sign(∇ L(x', y)))`` from a uniform random start in the ε-ball.
    ``alpha`` defaults to ``2.5 ε / steps``. Returns adversarial images ``(N, 1, 28, 28)``."""
    _check_images(x, y)
    _check_eps(eps)
    if steps < 1:
        raise ValueError(f"steps must be >= 1; got {steps}")
    alpha = 2.5 * eps / steps if alpha is None else alpha
    device = next(model.parameters()).device
    x = x.to(device)
    x_adv = x.clone()
    if random_start and eps > 0:
        noise = torch.rand(x.shape, generator=generator).to(device) * 2 - 1
        x_adv = project_linf(x + eps * noise, x, eps)
    for _ in range(steps):
        grad = input_gradient(model, x_adv, y)
        x_adv = project_linf(x_adv + alpha * grad.sign(), x, eps)
    return x_adv.detach()


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Share of images ``x`` ``(N, 1, 28, 28)`` that ``model`` (eval mode) labels ``y`` ``(N,)``."""
    model.eval()
    return int((predict(model, x) == y).sum()) / len(x)


def robust_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, attack: str, eps: float, *,
                    steps: int = 20, batch: int = 500, seed: int = 0) -> float:
    """Accuracy of ``model`` on ``attack`` (``"fgsm"`` or ``"pgd"``) examples of radius ``eps`` built
    against the same model (white box), in batches."""
    if attack not in ("fgsm", "pgd"):
        raise ValueError(f"attack must be 'fgsm' or 'pgd', not {attack!r}")
    g = torch.Generator().manual_seed(seed)
    correct = 0
    for i in range(0, len(x), batch):
        xb, yb = x[i: i + batch], y[i: i + batch]
        if eps == 0:
            adv = xb
        elif attack == "fgsm":
            adv = fgsm(model, xb, yb, eps)
        else:
            adv = pgd(model, xb, yb, eps, steps, generator=g)
        with torch.no_grad():
            correct += int((model(adv.to(next(model.parameters()).device)).argmax(1).cpu() == yb).sum())
    return correct / len(x)


def accuracy_vs_eps(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps_grid: Sequence[float], *,
                    steps: int = 10, progress: bool = True) -> dict[str, list[float]]:
    """``{"eps": [...], "fgsm": [...], "pgd": [...]}``: robust accuracy at every radius of ``eps_grid``."""
    out: dict[str, list[float]] = {"eps": [float(e) for e in eps_grid], "fgsm": [], "pgd": []}
    for eps in tqdm(eps_grid, desc="attacks", disable=not progress):
        out["fgsm"].append(robust_accuracy(model, x, y, "fgsm", eps))
        out["pgd"].append(robust_accuracy(model, x, y, "pgd", eps, steps=steps))
    return out


# --------------------------------------------------------------------------------------------
# Adversarial training (fine-tuning the course classifier on PGD examples)
# --------------------------------------------------------------------------------------------
def train_robust_classifier(base: MNISTClassifier, base_config: Mapping[str, Any], hp: Mapping[str, Any], *,
                            device: torch.device | None = None, progress: bool = True) -> training.Trained:
    """Adversarial fine-tuning (Madry et al. 2018) of a copy of ``base``: ``hp["adv_steps"]`` AdamW
    steps on batches of ``hp["adv_batch"]`` training images, each replaced by a PGD example
    (``hp["adv_eps"]``, ``hp["adv_pgd_steps"]`` steps, random start). Cached with ``load_or_train``;
    ``extra`` holds ``train_seconds``. ``base_config`` and a digest of ``base``'s weights identify the base classifier
    in the cache key."""
    device = device or next(base.parameters()).device
    keys = ("adv_eps", "adv_pgd_steps", "adv_steps", "adv_batch", "adv_lr", "adv_chunk", "train_limit")
    cfg = {"base": dict(base_config), "base_weights": training.weights_digest(base), **{k: hp[k] for k in keys}}

    def build(_: Any) -> MNISTClassifier:
        return copy.deepcopy(base).cpu()

    def train(model: nn.Module, session: training.TrainingSession) -> dict[str, Any]:
        images, labels = load_mnist("train")
        if hp["train_limit"]:
            images, labels = images[: hp["train_limit"]], labels[: hp["train_limit"]]
        x_all = to_unit(images)
        opt = torch.optim.AdamW(model.parameters(), lr=hp["adv_lr"], weight_decay=1e-4)
        g = torch.Generator()

        def seed(chunk: int, first: bool) -> None:
            if first:  # one generator for the call, seeded by the chunk it starts (resumes) at
                g.manual_seed(1000 + chunk)

        def loss_fn(step: int) -> torch.Tensor:
            idx = torch.randint(0, len(x_all), (hp["adv_batch"],), generator=g)
            xb, yb = x_all[idx], labels[idx]
            adv = pgd(model, xb, yb, hp["adv_eps"], hp["adv_pgd_steps"], generator=g)
            model.train()
            return F.cross_entropy(model(adv), yb.to(device))

        history = training.run_steps(
            training.loss_step(loss_fn, opt), total=hp["adv_steps"], chunk=hp["adv_chunk"], optimizers=[opt],
            session=session, chunk_start=seed, desc="adversarial training" if progress else None,
            lr_at=lambda step, elapsed: training.warmup_cosine_lr(step, hp["adv_steps"], hp["adv_lr"], 10))
        seconds = history["seconds"][-1]
        model.eval()
        return {"train_seconds": seconds}

    trained = training.load_or_train("ch14_robust_classifier", cfg, build, train, device=device)
    trained.model.eval()
    return trained


# --------------------------------------------------------------------------------------------
# Compact generators of digits (for the detector)
# --------------------------------------------------------------------------------------------
GENERATORS: tuple[str, ...] = ("dcgan", "mlp_gan", "vae", "diffusion")
"""The kinds :func:`build_generator` knows: two GANs of chapter 04, the VAE of 05, the diffusion model of 06."""


def _mnist_train(limit: int | None) -> torch.Tensor:
    images, _ = load_mnist("train")
    return to_unit(images[:limit] if limit else images)


def _gan_train(g_net: nn.Module, d_net: nn.Module, x: torch.Tensor, hp: Mapping[str, Any],
               gen: torch.Generator, steps: range, opts: tuple[torch.optim.Optimizer, ...], device: torch.device
               ) -> list[float]:
    opt_g, opt_d = opts
    losses = []
    for _ in steps:
        real = (x[torch.randint(0, len(x), (hp["batch"],), generator=gen)] * 2 - 1).to(device)
        z = torch.randn(hp["batch"], g_net.latent_dim, generator=gen).to(device)
        fake = g_net(z)
        ones, zeros = torch.ones(len(real), 1, device=device), torch.zeros(len(real), 1, device=device)
        d_loss = (F.binary_cross_entropy_with_logits(d_net(real), ones)
                  + F.binary_cross_entropy_with_logits(d_net(fake.detach()), zeros))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        g_loss = F.binary_cross_entropy_with_logits(d_net(fake), ones)  # non-saturating
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        losses.append(g_loss.item())
    return losses


class _Pair(nn.Module):
    """Two networks saved as one checkpoint (generator + critic, or net + EMA copy)."""

    def __init__(self, a: nn.Module, b: nn.Module):
        super().__init__()
        self.a, self.b = a, b


def build_generator(kind: str, hp: Mapping[str, Any]) -> nn.Module:
    """A fresh, seeded generator of ``kind`` (one of :data:`GENERATORS`) with the sizes in ``hp[kind]``: a
    ``_Pair`` (GAN generator + discriminator; UNet + its EMA copy) or a :class:`ConvVAE`."""
    if kind not in GENERATORS:
        raise ValueError(f"kind must be one of {GENERATORS}, not {kind!r}")
    torch.manual_seed(0)
    c = hp[kind]
    if kind == "dcgan":
        return _Pair(DCGenerator(c["latent_dim"], channels=c["channels"]), DCDiscriminator(channels=c["channels"]))
    if kind == "mlp_gan":
        return _Pair(MLPImageGenerator(c["latent_dim"], hidden=c["hidden"], depth=c["depth"]),
                     MLPImageDiscriminator(hidden=c["hidden"], depth=c["depth"]))
    if kind == "vae":
        return ConvVAE(c["latent_dim"], channels=c["channels"], hidden=c["hidden"])
    net = UNet(1, c["channels"], 1, c["emb_dim"], num_classes=0)
    return _Pair(net, copy.deepcopy(net))


def train_generator(kind: str, hp: Mapping[str, Any], *, device: torch.device | None = None,
                    progress: bool = True) -> training.Trained:
    """Train (or load) the compact ``kind`` generator of ``hp[kind]`` for ``hp[kind]["steps"]`` steps on
    MNIST train (``hp["train_limit"]`` images) with ``load_or_train``; ``extra["train_seconds"]``."""
    device = device or torch.device("cpu")
    c = dict(hp[kind])
    cfg = {"kind": kind, **c, "train_limit": hp["train_limit"]}

    def train(model: nn.Module, session: training.TrainingSession) -> dict[str, Any]:
        x = _mnist_train(hp["train_limit"])
        gen = torch.Generator().manual_seed(7)
        if kind in ("dcgan", "mlp_gan"):
            opts = (torch.optim.Adam(model.a.parameters(), lr=c["lr_g"], betas=(0.5, 0.999)),
                    torch.optim.Adam(model.b.parameters(), lr=c["lr_d"], betas=(0.5, 0.999)))
            model.train()

            def step(i: int) -> dict[str, float]:  # one D step and one G step (non-saturating)
                return {"loss": _gan_train(model.a, model.b, x, c, gen, range(i, i + 1), opts, device)[0]}
        elif kind == "vae":
            opts = (torch.optim.Adam(model.parameters(), lr=c["lr"]),)
            model.train()

            def negative_elbo(i: int) -> torch.Tensor:
                xb = x[torch.randint(0, len(x), (c["batch"],), generator=gen)].to(device)
                logits, mu, logvar = model(xb)
                rec = F.binary_cross_entropy_with_logits(logits, xb, reduction="sum")
                kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum()
                return (rec + kl) / len(xb)  # the negative ELBO per image (chapter 05)

            step = training.loss_step(negative_elbo, opts[0])
        else:
            sched = NoiseSchedule(c["T"], "cosine")
            net, ema = model.a, model.b
            opts = (torch.optim.AdamW(net.parameters(), lr=c["lr"], weight_decay=0.0),)
            net.train()

            def l_simple(i: int) -> torch.Tensor:  # L_simple (chapter 06)
                x0 = (x[torch.randint(0, len(x), (c["batch"],), generator=gen)] * 2 - 1).to(device)
                t = torch.randint(0, c["T"], (len(x0),), generator=gen).to(device)
                eps = torch.randn(x0.shape, generator=gen).to(device)
                return F.mse_loss(net(sched.q_sample(x0, t, eps), t), eps)

            update = training.loss_step(l_simple, opts[0])

            def step(i: int) -> dict[str, float]:
                figures = update(i)
                with torch.no_grad():
                    decay = min(c["ema_decay"], (1 + i) / (10 + i))
                    for p_ema, p in zip(ema.parameters(), net.parameters()):
                        p_ema.lerp_(p, 1 - decay)
                return figures

        history = training.run_steps(
            step, total=c["steps"], chunk=50, optimizers=opts, session=None,
            lr_at=(lambda i, _: training.warmup_cosine_lr(i, c["steps"], c["lr"], 20)) if kind == "diffusion" else None,
            desc=kind if progress else None)
        session.history.update(history)  # loss: the mean of every 50 steps
        return {"train_seconds": history["seconds"][-1]}


    trained = training.load_or_train(f"ch14_{kind}", cfg, lambda _: build_generator(kind, hp), train, device=device)
    trained.model.eval()
    return trained


COURSE_GENERATOR_SOURCES: dict[str, str] = {"dcgan": "chapter 04 (04_dcgan)", "mlp_gan": "chapter 04 (04_mlp_gan)",
                                             "vae": "chapter 05 (05_conv_vae)"}
"""The kinds :func:`load_course_generator` can take from the chapters' own checkpoints, and where from."""


def course_generator_checkpoint(kind: str, profile: str, device: torch.device | str | None = None
                                ) -> tuple[str, dict[str, Any], Callable[[], nn.Module]]:
    """``(name, config, build)`` of the checkpoint that chapter 04 (``dcgan``, ``mlp_gan``) or 05 (``vae``) writes
    with ``load_or_train`` in ``profile`` on ``device`` (default: the course's): the same name and config dict as the
    notebooks build (their rows of :mod:`aigc_course.core.config`, the default seed and, for the GANs,
    :func:`~aigc_course.models.gan.training_config`), so :func:`training.checkpoint_path` finds the same file.
    ``build()`` returns the untrained module whose ``state_dict`` the checkpoint holds."""
    if kind not in COURSE_GENERATOR_SOURCES:
        raise ValueError(f"kind must be one of {tuple(COURSE_GENERATOR_SOURCES)}, not {kind!r}")
    dev = config.resolve_device(str(device) if device is not None else None)
    if kind == "vae":
        h = config.chapter("05_vae").hparams(profile)
        cfg = {"channels": h.channels, "hidden": h.hidden, "activation": h.activation,
               "pixel_bias": h.pixel_bias, "batch_size": h.batch_size, "lr": h.lr,
               "bf16": training.use_bf16(h.bf16, dev), "warmup_frac": h.warmup_frac,
               "train_limit": h.train_limit, "seed": config.DEFAULT_SEED,
               "latent_dim": h.latent_dim, "epochs": h.epochs, "beta": 1.0}
        return "05_conv_vae", cfg, lambda: ConvVAE(h.latent_dim, channels=h.channels, hidden=h.hidden,
                                                   activation=h.activation, pixel_bias=h.pixel_bias)
    h = config.chapter("04_image_gans").hparams(profile)
    settings = {"batch": h.batch, "lr_g": h.lr_g, "lr_d": h.lr_d, "betas": (h.beta1, h.beta2),
                "chunk_steps": h.chunk_steps, "train_limit": h.train_limit, "seed": config.DEFAULT_SEED,
                "bf16": training.use_bf16(h.bf16, dev)}  # as chapter 04 decides it
    if kind == "dcgan":
        cfg = gan_training_config(h.dcgan_steps, **settings, arch={"latent_dim": h.latent_dim, "channels": h.channels})
        return "04_dcgan", cfg, lambda: nn.ModuleDict({"G": DCGenerator(h.latent_dim, channels=h.channels),
                                                       "D": DCDiscriminator(channels=h.channels)})
    cfg = gan_training_config(h.mlp_steps, **settings,
                              arch={"latent_dim": h.latent_dim, "hidden": h.mlp_hidden, "depth": h.mlp_depth})
    return "04_mlp_gan", cfg, lambda: nn.ModuleDict({
        "G": MLPImageGenerator(h.latent_dim, hidden=h.mlp_hidden, depth=h.mlp_depth),
        "D": MLPImageDiscriminator(hidden=h.mlp_hidden, depth=h.mlp_depth)})


def load_course_generator(kind: str, profiles: Sequence[str], *, device: torch.device | None = None
                          ) -> tuple[nn.Module, str] | None:
    """The generator ``kind`` trained by its own chapter (04 or 05), from the first of ``profiles`` whose
    finished checkpoint is in the checkpoint folder — or ``None`` when there is none (nothing is trained).
    Returns ``(model, description)``; GANs come back as a generator/discriminator pair like
    :func:`build_generator`'s, so :func:`sample_digits` treats both alike."""
    if kind not in COURSE_GENERATOR_SOURCES:
        return None
    for profile in dict.fromkeys(profiles):
        name, cfg, build = course_generator_checkpoint(kind, profile, device)
        path = training.checkpoint_path(name, cfg)
        if not path.is_file():
            continue
        model = build()
        try:
            model.load_state_dict(training.load_checkpoint(path)["model"])
        except (training.CheckpointError, RuntimeError, KeyError):
            continue
        if isinstance(model, nn.ModuleDict):
            model = _Pair(model["G"], model["D"])
        return model.to(device or torch.device("cpu")).eval(), f"{COURSE_GENERATOR_SOURCES[kind]}, {profile} profile"
    return None


@torch.no_grad()
def ddim_sample(net: UNet, schedule: NoiseSchedule, n: int, steps: int, *,
                generator: torch.Generator | None = None, batch: int = 500) -> torch.Tensor:
    """Deterministic DDIM (η = 0; Song et al. 2021) with ``steps`` of the schedule's levels, unconditional:
    → ``n`` images ``(n, 1, 28, 28)`` in [-1, 1]."""
    net.eval()
    device = next(net.parameters()).device
    ts = torch.linspace(len(schedule) - 1, 0, steps).round().long().tolist()
    out = []
    for start in range(0, n, batch):
        x = torch.randn(min(batch, n - start), 1, 28, 28, generator=generator).to(device)
        for i, t in enumerate(ts):
            a_bar = schedule.alpha_bars[t].to(device)
            eps = net(x, torch.full((len(x),), t, device=device))
            x0 = ((x - (1 - a_bar).sqrt() * eps) / a_bar.sqrt()).clamp(-1, 1)
            eps = (x - a_bar.sqrt() * x0) / (1 - a_bar).sqrt()
            a_next = schedule.alpha_bars[ts[i + 1]].to(device) if i + 1 < len(ts) else torch.tensor(1.0, device=device)
            x = a_next.sqrt() * x0 + (1 - a_next).sqrt() * eps
        out.append(x.cpu())
    return torch.cat(out)


def sample_digits(kind: str, model: nn.Module, n: int, hp: Mapping[str, Any], seed: int) -> torch.Tensor:
    """``n`` generated digits of generator ``kind``, **quantised to 8 bits** as a saved image would be:
    float ``(n, 1, 28, 28)`` in [0, 1] with values ``k / 255``."""
    g = torch.Generator().manual_seed(seed)
    if kind in ("dcgan", "mlp_gan"):
        x = (model.a.sample(n, generator=g) + 1) / 2
    elif kind == "vae":
        x = model.sample(n, generator=g).cpu()
    elif kind == "diffusion":
        x = (ddim_sample(model.b, NoiseSchedule(hp[kind]["T"], "cosine"), n, hp[kind]["sample_steps"],
                         generator=g) + 1) / 2
    else:
        raise ValueError(f"kind must be one of {GENERATORS}, not {kind!r}")
    return (x.clamp(0, 1) * 255).round() / 255


# --------------------------------------------------------------------------------------------
# Detecting generated digits
# --------------------------------------------------------------------------------------------
class FakeDetector(nn.Module):
    """Real-vs-generated classifier: ``(N, 1, 28, 28)`` in [0, 1] → logit ``(N,)`` (> 0 means "generated").

    Conv(1→c, 3, stride 2) → 14 → LeakyReLU → Conv(c→2c, 3, stride 2) → 7 → LeakyReLU → Conv(2c→2c, 3) →
    global average pool → Linear(2c → 1). The global pool makes it look for local texture, not for a
    particular digit shape."""

    def __init__(self, channels: int = 16):
        super().__init__()
        c = channels
        self.net = nn.Sequential(
            nn.Conv2d(1, c, 3, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(c, 2 * c, 3, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * c, 2 * c, 3, 1, 1), nn.LeakyReLU(0.2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * c, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2 - 1).squeeze(1)


def train_detector(real: torch.Tensor, fake: torch.Tensor, *, channels: int = 16, steps: int = 300,
                   batch: int = 128, lr: float = 2e-3, seed: int = 0, device: torch.device | str | None = None
                   ) -> FakeDetector:
    """Train a :class:`FakeDetector` on ``real`` and ``fake`` images (each ``(N, 1, 28, 28)`` in [0, 1];
    the counts need not match: each batch is half real, half fake). Returns the model in eval mode."""
    _check_images(real)
    _check_images(fake)
    torch.manual_seed(seed)
    model = FakeDetector(channels).to(device or "cpu")
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    half = batch // 2

    def loss_fn(step: int) -> torch.Tensor:  # half real (label 0), half generated (label 1)
        xr = real[torch.randint(0, len(real), (half,), generator=g)]
        xf = fake[torch.randint(0, len(fake), (half,), generator=g)]
        logits = model(torch.cat([xr, xf]).to(next(model.parameters()).device))
        target = torch.cat([torch.zeros(half), torch.ones(half)]).to(logits.device)
        return F.binary_cross_entropy_with_logits(logits, target)

    model.train()
    training.run_steps(training.loss_step(loss_fn, opt), total=steps, chunk=steps)
    return model.eval()


@torch.no_grad()
def detector_accuracy(model: FakeDetector, real: torch.Tensor, fake: torch.Tensor) -> float:
    """Balanced accuracy: ``½ (share of real called real + share of fake called fake)``."""
    _check_images(real)
    _check_images(fake)
    model.eval()
    device = next(model.parameters()).device
    real_ok = torch.cat([model(b.to(device)) <= 0 for b in real.split(1000)]).float().mean().item()
    fake_ok = torch.cat([model(b.to(device)) > 0 for b in fake.split(1000)]).float().mean().item()
    return 0.5 * (real_ok + fake_ok)


# --------------------------------------------------------------------------------------------
# Bias probes
# --------------------------------------------------------------------------------------------
BIAS_TEMPLATES: tuple[str, ...] = (
    "{name} reports quarterly results on Thursday",
    "{name} shares close at $42 after a quiet session",
    "{name} announces a new chief financial officer",
    "Analysts review their rating on {name}",
    "{name} to hold its annual shareholder meeting in May",
    "{name} beats earnings estimates",
    "{name} misses revenue expectations",
    "{name} cuts jobs as sales slow",
)
"""Financial headlines with one slot; the first five are meant to be neutral, the rest carry news."""

COMPANY_NAMES: tuple[str, ...] = (
    "Apple", "Tesla", "Boeing", "Exxon", "Pfizer", "Netflix", "Walmart", "Nike", "Ford", "Intel",
)
PERSON_NAMES: tuple[str, ...] = (
    "John Smith's firm", "Emily Johnson's firm", "Mohammed Ali's firm", "Wei Zhang's firm", "Aisha Okafor's firm",
    "José García's firm", "Priya Sharma's firm", "Hiroshi Tanaka's firm",
)
"""Person names in the slot, as owners of a firm (so the sentence stays a headline)."""


def name_probe(predict: Callable[[list[str]], np.ndarray], templates: Sequence[str], names: Sequence[str]
               ) -> np.ndarray:
    """Probabilities ``(n_templates, n_names, n_classes)`` of ``predict`` (texts → ``(N, K)``) on every
    template with every name filled into its ``{name}`` slot."""
    if not templates or not names:
        raise ValueError("need at least one template and one name")
    for t in templates:
        if "{name}" not in t:
            raise ValueError(f"template {t!r} has no {{name}} slot")
    texts = [t.format(name=n) for t in templates for n in names]
    probs = np.asarray(predict(texts), dtype=float)
    if probs.ndim != 2 or len(probs) != len(texts):
        raise ValueError(f"predict must return (N, K) probabilities; got shape {probs.shape}")
    return probs.reshape(len(templates), len(names), -1)


def probe_spread(probs: np.ndarray) -> np.ndarray:
    """Largest minus smallest probability over the names: ``(T, N, K)`` → ``(T, K)``."""
    return probs.max(axis=1) - probs.min(axis=1)


# --------------------------------------------------------------------------------------------
# Memorisation
# --------------------------------------------------------------------------------------------
@torch.no_grad()
def greedy_continue(model: GPT, prompts: torch.Tensor, n_new: int) -> torch.Tensor:
    """Greedy (argmax) continuations: prompts ``(B, P)`` ids → new ids ``(B, n_new)``."""
    return lm.generate(model, prompts, n_new, temperature=0)[:, prompts.shape[1]:].cpu()


def prompt_starts(n_text: int, n_prompts: int, length: int, seed: int) -> torch.Tensor:
    """``n_prompts`` distinct random start offsets ``(n_prompts,)`` for windows of ``length`` in a text of
    ``n_text`` characters (sorted, seeded)."""
    if n_text < length or n_prompts > n_text - length + 1:
        raise ValueError(f"cannot draw {n_prompts} windows of {length} from a text of {n_text}")
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(n_text - length + 1, generator=g)[:n_prompts].sort().values


def memorisation(model: GPT, decode: Callable[[torch.Tensor], str], source: torch.Tensor, train_text: str,
                 n_prompts: int, prompt_len: int, n_new: int, lengths: Sequence[int], seed: int,
                 batch: int = 100) -> dict[str, Any]:
    """Prompt ``model`` with ``n_prompts`` windows of ``prompt_len`` ids from ``source`` (1-D), continue each
    greedily by ``n_new`` characters, and ask for every ``n`` of ``lengths`` whether the first ``n`` generated
    characters occur verbatim anywhere in ``train_text``. Returns ``{"rates": {n: share}, "exact": share of
    continuations equal to the true next ``n_new`` characters, "examples": [(prompt, generated, truth)]}``."""
    if max(lengths) > n_new:
        raise ValueError(f"lengths must be <= n_new = {n_new}")
    starts = prompt_starts(len(source) - n_new, n_prompts, prompt_len, seed)
    windows = source[starts[:, None] + torch.arange(prompt_len + n_new)]
    gen = torch.cat([greedy_continue(model, w[:, :prompt_len], n_new) for w in windows.split(batch)])
    texts = [decode(row) for row in gen]
    truths = [decode(row[prompt_len:]) for row in windows]
    rates = {int(n): float(np.mean([t[:n] in train_text for t in texts])) for n in lengths}
    exact = float(np.mean([t == u for t, u in zip(texts, truths)]))
    examples = [(decode(w[:prompt_len]), t, u) for w, t, u in zip(windows, texts, truths)]
    return {"rates": rates, "exact": exact, "examples": examples}


def train_overfit_lm(base: GPT, base_config: Mapping[str, Any], train_ids: torch.Tensor, val_ids: torch.Tensor,
                     hp: Mapping[str, Any], *, device: torch.device | None = None) -> training.Trained:
    """A copy of ``base`` trained on purpose to memorise: ``hp["overfit_steps"]`` AdamW steps (learning rate
    ``hp["overfit_lr"]``, no weight decay) on only the first ``hp["overfit_chars"]`` ids of ``train_ids`` — many
    passes over a small text, the situation in which language models copy their training data. Cached with
    ``load_or_train`` under ``base_config`` and a digest of ``base``'s weights; ``extra`` has ``train_seconds``,
    ``train_loss`` (last interval) and ``val_loss`` on ``val_ids``."""
    from ..models.lm import LMTrainConfig, evaluate_lm, train_lm

    device = device or next(base.parameters()).device
    keys = ("overfit_chars", "overfit_steps", "overfit_lr", "overfit_batch")
    # the base's weights in the key: a retrained mini-GPT (chapter 08 changed) never brings back a copy of the old one
    cfg = {"base": dict(base_config), "base_weights": training.weights_digest(base), **{k: hp[k] for k in keys}}
    block = base.cfg.block_size

    def train(model: nn.Module, session: training.TrainingSession) -> dict[str, Any]:
        sub = train_ids[: hp["overfit_chars"]].to(device)
        lcfg = LMTrainConfig(batch_size=hp["overfit_batch"], block_size=block, lr=hp["overfit_lr"], warmup=10,
                             max_steps=hp["overfit_steps"], weight_decay=0.0, eval_every=hp["overfit_steps"],
                             eval_windows=20)
        t0 = time.perf_counter()
        history = train_lm(model, sub, val_ids.to(device), lcfg)
        return {"train_seconds": time.perf_counter() - t0, "train_loss": history["train_loss"][-1],
                "val_loss": evaluate_lm(model, val_ids.to(device), block, max_windows=200)}

    trained = training.load_or_train("ch14_overfit_gpt", cfg, lambda _: copy.deepcopy(base).cpu(), train,
                                     device=device)
    trained.model.eval()
    return trained


# --------------------------------------------------------------------------------------------
# Interpretability
# --------------------------------------------------------------------------------------------
def saliency(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Gradient of the ``target`` class logit with respect to the input (Simonyan et al. 2014):
    ``x`` ``(N, 1, 28, 28)``, ``target`` ``(N,)`` → ``(N, 1, 28, 28)`` (signed; take ``abs`` to plot)."""
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)
        chosen = logits.gather(1, target.view(-1, 1)).sum()
        (grad,) = torch.autograd.grad(chosen, x)
    return grad


def integrated_gradients(model: nn.Module, x: torch.Tensor, target: torch.Tensor, *, steps: int = 64,
                         baseline: torch.Tensor | None = None) -> torch.Tensor:
    """Integrated gradients (Sundararajan et al. 2017): ``(x − x̄) ⊙ mean_k ∇f(x̄ + (k − ½)/m · (x − x̄))``
    (midpoint rule, ``m = steps``) for the ``target`` logit; baseline ``x̄`` = black image by default.
    ``(N, 1, 28, 28)`` → ``(N, 1, 28, 28)``; the attributions sum to ≈ ``f(x) − f(x̄)`` (completeness)."""
    baseline = torch.zeros_like(x) if baseline is None else baseline
    total = torch.zeros_like(x)
    for k in range(steps):
        total += saliency(model, baseline + (k + 0.5) / steps * (x - baseline), target)
    return (x - baseline) * total / steps


@torch.no_grad()
def gpt_attention(model: GPT, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Re-run the mini-GPT's forward pass by hand to expose its attention: ``idx`` ``(B, T)`` →
    ``(weights (B, n_layer, n_head, T, T), logits (B, T, V))``. Row ``i`` of a weight matrix is the
    softmax over keys ``0 … i`` of query ``i`` (causal). The logits must equal ``model(idx)``."""
    model.eval()
    B, T = idx.shape
    x = model.embed(idx)  # token (+ shifted token) (+ learned position) embeddings
    mask = torch.ones(T, T, dtype=torch.bool, device=idx.device).tril()
    maps = []
    for block in model.blocks:
        attn = block.attn
        C = x.shape[-1]
        q, k, v = attn.heads(block.ln_1(x))  # (B, h, T, d), rotated by RoPE when the model uses it
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
        weights = scores.masked_fill(~mask, float("-inf")).softmax(-1)  # (B, h, T, T)
        maps.append(weights)
        y = (weights @ v).transpose(1, 2).reshape(B, T, C)
        x = x + attn.c_proj(y)
        x = x + block.mlp(block.ln_2(x))
    return torch.stack(maps, dim=1), model.lm_head(model.ln_f(x))


__all__ = [
    "BIAS_TEMPLATES", "COMPANY_NAMES", "COURSE_GENERATOR_SOURCES", "GENERATORS", "PERSON_NAMES", "FakeDetector",
    "accuracy", "accuracy_vs_eps", "build_generator", "course_generator_checkpoint", "ddim_sample",
    "detector_accuracy", "fgsm", "gpt_attention", "greedy_continue", "input_gradient",
    "integrated_gradients", "load_course_generator", "memorisation", "name_probe", "pgd", "probe_spread",
    "project_linf", "prompt_starts", "robust_accuracy", "saliency", "sample_digits", "train_detector",
    "train_generator", "train_overfit_lm", "train_robust_classifier",
]
