"""Chapter 05 (variational autoencoders): the exercises' references, known mistakes and hints."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.nn import functional as F

from ..models import vae as vae_models
from . import Exercise, copying
from . import checkers as ex

# ---- 05.kl (derive): the closed-form KL of a diagonal Gaussian to N(0, I) ----------------------------------


def _kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) summed over the last dimension: (N, D), (N, D) -> (N,)."""
    per_dim = mu.square() + logvar.exp() - logvar - 1.0
    return per_dim.sum(dim=-1) / 2


def _kl_cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(5)
    return [(torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)),
            (torch.zeros(2, 5), torch.zeros(2, 5)), (torch.tensor([[1.0, -2.0]]), torch.tensor([[0.5, -1.0]]))]


def _kl_logvar_as_sigma(m, lv):
    return 0.5 * (m**2 + lv**2 - 1 - torch.log(lv**2)).sum(-1)


def _kl_no_half(m, lv):
    return (m**2 + lv.exp() - 1 - lv).sum(-1)


def _kl_log_sign(m, lv):
    return 0.5 * (m**2 + lv.exp() - 1 + lv).sum(-1)


def _kl_not_summed(m, lv):
    return 0.5 * (m**2 + lv.exp() - 1 - lv)


_KL_MISTAKES = [
    (_kl_logvar_as_sigma, "You treated logvar as σ. The encoder outputs log σ², so σ² = exp(logvar)."),
    (_kl_no_half, "Missing the factor 1/2."),
    (_kl_log_sign, "Sign of the log term: it is -log σ² (the KL is 0 at μ = 0, σ = 1 and positive elsewhere)."),
    (_kl_not_summed, "Sum over the latent dimensions: the KL of a diagonal Gaussian is a sum of per-dimension KLs."),
]
_KL_WRONG = [(fn, text[:20]) for fn, text in _KL_MISTAKES]


def _run_kl(answer: Any) -> bool:
    return ex.check_function("05.kl", copying(answer), _kl, _kl_cases(), mistakes=_KL_MISTAKES,
                             hint="½ Σ_d (μ² + σ² − 1 − log σ²) with σ² = exp(logvar), summed over the last dimension")


# ---- 05.reparam (derive): the reparameterised sample -------------------------------------------------------


def _sample(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """z = mu + exp(logvar / 2) * eps: all (N, D) -> (N, D)."""
    return mu + (0.5 * logvar).exp() * eps


def _sample_cases() -> list[tuple[torch.Tensor, ...]]:
    g = torch.Generator().manual_seed(6)
    return [tuple(torch.randn(3, 4, generator=g) for _ in range(3)),
            (torch.ones(2, 2), torch.zeros(2, 2), torch.tensor([[1.0, -1.0], [0.5, 2.0]])),
            (torch.zeros(1, 3), torch.tensor([[2.0, -2.0, 0.0]]), torch.ones(1, 3))]


def _sample_variance(m, lv, e):
    return m + lv.exp() * e


def _sample_logvar_as_sigma(m, lv, e):
    return m + lv * e


def _sample_swapped(m, lv, e):
    return m * e + (0.5 * lv).exp()


_SAMPLE_MISTAKES = [
    (_sample_variance, "exp(logvar) is the variance σ²; scale the noise by σ = exp(logvar/2)."),
    (_sample_logvar_as_sigma, "logvar is log σ², not σ: exponentiate half of it."),
    (_sample_swapped, "Swapped roles: μ shifts, σ scales the noise."),
]
_SAMPLE_WRONG = [(fn, text[:20]) for fn, text in _SAMPLE_MISTAKES]


def _run_reparam(answer: Any) -> bool:
    return ex.check_function("05.reparam", copying(answer), _sample, _sample_cases(), mistakes=_SAMPLE_MISTAKES,
                             hint="z = μ + σ ε with σ = exp(logvar / 2)")


# ---- 05.bits_per_pixel (derive) and 05.collapse (concept): kept from the first edition ---------------------


def _bits(nats: float) -> float:
    return nats / (784 * math.log(2))


def _bits_mistakes(nats: float) -> list[tuple[float, str]]:
    return [(nats / math.log(2), "That is bits per *image*: divide by the 784 pixels too."),
            (nats / 784, "That is nats per pixel: 1 bit = ln 2 nats, so also divide by ln 2."),
            (nats * math.log(2) / 784, "Upside down: bits = nats / ln 2 (a bit is the larger unit, ln 2 ≈ 0.69 nats)."),
            (nats / (784 * math.log(10)), "log 10 converts to *bans* (base 10); bits use log 2.")]


def _run_bits(answer: Any, *, nats: float) -> bool:
    return ex.check_value("05.bits_per_pixel", answer, _bits(nats), atol=0.0, rtol=1e-6, mistakes=_bits_mistakes(nats),
                          hint="bits per pixel = nats per image / (784 · ln 2)")


_BITS_EXAMPLE = 95.0  # the wrong answers of the tests are computed for this -ELBO; the notebook passes its own


def _bits_wrong(nats: float = _BITS_EXAMPLE) -> list[tuple[float, str]]:
    return [(value, text[:20]) for value, text in _bits_mistakes(nats)]


_RECON = "The decoder still has to model x (badly): its BCE stays large, not zero."
_COLLAPSE_MISTAKES = {
    "reconstruction": _RECON, "bce": _RECON, "recon": _RECON,
    "elbo": "The ELBO is still a (loose) bound on log p(x), which is negative for images: not zero.",
    "kl divergence": 'Right term — answer with the option\'s spelling: "reconstruction", "kl" or "elbo".',
}
_COLLAPSE_WRONG = [("reconstruction", "BCE stays large"), ("elbo", "loose"), ("kl divergence", "spelling")]


def _run_collapse(answer: Any) -> bool:
    return ex.check_choice("05.collapse", answer, "kl", mistakes=_COLLAPSE_MISTAKES,
                           hint="Look at the 'inactive' dimensions in §7: q(z|x) = p(z) for those.")


# ---- 05.bernoulli_loglik (implement): log p(x | z) of the Bernoulli decoder, from logits, stably ------------


def _bernoulli_loglik(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """log p(x | z) = Σ_j x_j log σ(ℓ_j) + (1 − x_j) log(1 − σ(ℓ_j)), summed over every dimension but the first:
    x, logits (N, ...) -> (N,). Computed as x·ℓ − softplus(ℓ), which never takes the log of 0."""
    return (x * logits - F.softplus(logits)).flatten(1).sum(1)


def _loglik_cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Grey-level images (N, 1, 5, 5) and flat (N, 7) inputs with random logits; a batch of one; and confident
    *wrong* pixels (x = 1 with logit −120, x = 0 with logit +120), where σ(ℓ) rounds to 0 or 1 in float32."""
    g = torch.Generator().manual_seed(501)
    cases = [(torch.rand(3, 1, 5, 5, generator=g), 3 * torch.randn(3, 1, 5, 5, generator=g)),
             ((torch.rand(4, 7, generator=g) > 0.5).float(), 2 * torch.randn(4, 7, generator=g)),
             (torch.full((1, 1, 2, 2), 0.5), torch.zeros(1, 1, 2, 2))]
    cases.append((torch.tensor([[1.0, 0.0, 0.3], [0.0, 1.0, 0.9]]),
                  torch.tensor([[-120.0, 120.0, 0.5], [2.0, -120.0, 1.0]])))
    return cases


def _loglik_naive(x, logits):
    p = torch.sigmoid(logits)
    return (x * torch.log(p) + (1 - x) * torch.log(1 - p)).flatten(1).sum(1)


def _loglik_mean(x, logits):
    return (x * logits - F.softplus(logits)).flatten(1).mean(1)


def _loglik_bce(x, logits):
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def _loglik_ones_only(x, logits):
    return (x * F.logsigmoid(logits)).flatten(1).sum(1)


def _loglik_batch_sum(x, logits):
    return (x * logits - F.softplus(logits)).sum()


_LOGLIK_MISTAKES = [
    (_loglik_naive, "log(sigmoid(ℓ)) underflows: for a confidently wrong pixel (x = 1, ℓ = −120) σ(ℓ) rounds to 0 in "
                    "float32 and the log-likelihood becomes −inf. Work with the logits: log σ(ℓ) = F.logsigmoid(ℓ) "
                    "and log(1 − σ(ℓ)) = F.logsigmoid(−ℓ), or x·ℓ − softplus(ℓ)."),
    (_loglik_mean, "You averaged over the pixels: log p(x|z) of an image is the *sum* of its 784 independent pixel "
                   "terms (nats per image, not per pixel)."),
    (_loglik_bce, "That is the binary cross-entropy, the *negative* log-likelihood: log p(x|z) = −BCE, a number ≤ 0 "
                  "for binary pixels."),
    (_loglik_ones_only, "Only the x log σ(ℓ) half: a pixel also contributes (1 − x) log(1 − σ(ℓ)), which is all "
                        "there is for a black pixel (x = 0)."),
    (_loglik_batch_sum, "You summed over the batch too: return one log-likelihood per image, shape (N,) — flatten "
                        "from dimension 1 and sum over it."),
]
_LOGLIK_WRONG = [(fn, key) for (fn, _), key in zip(_LOGLIK_MISTAKES, ("underflows", "*sum*", "*negative*",
                                                                     "(1 − x)", "(N,)"))]


def _run_loglik(answer: Any) -> bool:
    return ex.check_function("05.bernoulli_loglik", copying(answer), _bernoulli_loglik, _loglik_cases(),
                             atol=1e-4, rtol=1e-5, mistakes=_LOGLIK_MISTAKES,
                             hint="x·ℓ − softplus(ℓ) per pixel (= x log σ(ℓ) + (1 − x) log(1 − σ(ℓ))), summed over "
                                  "all but the first dimension")


# ---- 05.iwae (implement): the importance-weighted bound from K samples per image ---------------------------

_LOG_2PI = math.log(2 * math.pi)


def _log_weights(log_px_z: torch.Tensor, z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                 var_power: int = 1) -> torch.Tensor:
    """log w_k = log p(x|z_k) + log N(z_k; 0, I) − log N(z_k; mu, diag exp(logvar)): (N, K) (shapes of ``_iwae``)."""
    log_pz = (-0.5 * z.pow(2) - 0.5 * _LOG_2PI).sum(-1)
    m, lv = mu.unsqueeze(1), logvar.unsqueeze(1)
    log_qz = (-0.5 * (z - m).pow(2) / lv.exp().pow(var_power) - 0.5 * lv - 0.5 * _LOG_2PI).sum(-1)
    return log_px_z + log_pz - log_qz


def _iwae(log_px_z: torch.Tensor, z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """The importance-weighted bound per image, log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x).

    log_px_z (N, K): log p(x | z_k); z (N, K, D): the samples of q = N(mu, diag exp(logvar)); mu, logvar (N, D).
    Returns (N,), in nats; log-sum-exp keeps it finite when every weight underflows."""
    log_w = _log_weights(log_px_z, z, mu, logvar)
    return torch.logsumexp(log_w, dim=1) - math.log(log_w.shape[1])


def _iwae_case(n: int, k: int, d: int, g: torch.Generator, scale: float = 30.0) -> tuple[torch.Tensor, ...]:
    mu, logvar = torch.randn(n, d, generator=g), 0.5 * torch.randn(n, d, generator=g) - 1.0
    z = mu.unsqueeze(1) + (0.5 * logvar).exp().unsqueeze(1) * torch.randn(n, k, d, generator=g)
    log_px_z = -scale * (1 + torch.rand(n, k, generator=g))
    return log_px_z, z, mu, logvar


def _iwae_cases() -> list[tuple[torch.Tensor, ...]]:
    """Random encoders and samples for (N, K, D) = (3, 5, 4), (2, 20, 2), (4, 3, 6); K = 1 (the bound is the ELBO
    estimate itself); and log p(x|z) ≈ −1000 nats, where exp of a log weight is 0 in float32."""
    g = torch.Generator().manual_seed(502)
    cases = [_iwae_case(3, 5, 4, g), _iwae_case(2, 20, 2, g), _iwae_case(4, 3, 6, g), _iwae_case(3, 1, 3, g),
             _iwae_case(2, 6, 3, g, scale=1000.0)]
    return cases


def _iwae_elbo(log_px_z, z, mu, logvar):
    return _log_weights(log_px_z, z, mu, logvar).mean(1)


def _iwae_no_log_k(log_px_z, z, mu, logvar):
    return _iwae(log_px_z, z, mu, logvar) + math.log(z.shape[1])


def _iwae_naive(log_px_z, z, mu, logvar):
    return _log_weights(log_px_z, z, mu, logvar).exp().mean(1).log()


def _iwae_no_logsigma(log_px_z, z, mu, logvar):
    return _iwae(log_px_z, z, mu, logvar) - 0.5 * logvar.sum(-1)


def _iwae_sigma_as_variance(log_px_z, z, mu, logvar):
    log_w = _log_weights(log_px_z, z, mu, logvar, var_power=2)
    return torch.logsumexp(log_w, dim=1) - math.log(log_w.shape[1])


_IWAE_MISTAKES = [
    (_iwae_elbo, "You averaged the log weights: that is the ELBO estimated with K samples, not the IWAE bound. "
                 "Average the weights themselves, then take the log: log (1/K) Σ_k w_k."),
    (_iwae_no_log_k, "Missing − log K: log Σ_k w_k is the log of a *sum*; the bound takes the log of the *mean* "
                     "(1/K) Σ_k w_k."),
    (_iwae_naive, "exp(log w) underflows: with log p(x|z) ≈ −1000 nats every weight is 0 in float32 and the bound "
                  "becomes −inf. Use torch.logsumexp(log_w, dim=1) − log K, which subtracts the largest log weight "
                  "first."),
    (_iwae_no_logsigma, "log q(z|x) is missing its normaliser: the Gaussian density has −log σ = −½ logvar per "
                        "dimension (the −½ log 2π cancels against log p(z), this term does not)."),
    (_iwae_sigma_as_variance, "In log q(z|x) divide (z − μ)² by the variance σ² = exp(logvar), not by its square."),
]
_IWAE_WRONG = [(fn, key) for (fn, _), key in zip(_IWAE_MISTAKES, ("averaged the log weights", "Missing − log K",
                                                                 "underflows", "normaliser", "variance σ²"))]


def _run_iwae(answer: Any) -> bool:
    return ex.check_function("05.iwae", copying(answer), _iwae, _iwae_cases(), atol=1e-3, rtol=1e-5,
                             mistakes=_IWAE_MISTAKES,
                             hint="log w = log p(x|z) + log N(z; 0, I) − log N(z; μ, σ²), each log-density summed "
                                  "over D; then torch.logsumexp(log_w, 1) − log K")


# ---- 05.decode_mean (experiment): the reconstruction term with z = μ instead of a sample -------------------

DECODE_MEAN_BAND = 0.05  # nats per image
DECODE_MEAN_IMAGES = 500


@torch.no_grad()
def _recon_figures(model: torch.nn.Module, x_test: torch.Tensor, x_train: torch.Tensor) -> dict[str, float]:
    """Mean reconstruction BCE (nats per image) of the first DECODE_MEAN_IMAGES images: decoding μ (the answer),
    decoding one z per image as §6's evaluate does (seed 0), and distractors."""
    model.eval()
    device = next(model.parameters()).device

    def bce(x: torch.Tensor, z_of: Any) -> tuple[float, float]:
        x = x[:DECODE_MEAN_IMAGES].to(device)
        mu, logvar = model.encode(x)
        logits = model.decode(z_of(mu, logvar))
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)
        return recon.double().mean().item(), kl.double().mean().item()

    at_mu, kl = bce(x_test, lambda mu, logvar: mu)
    g = torch.Generator().manual_seed(0)
    sampled, _ = bce(x_test, lambda mu, logvar: vae_models.reparameterize(mu, logvar, generator=g))
    train_mu, _ = bce(x_train, lambda mu, logvar: mu)
    return {"mu": at_mu, "sampled": sampled, "nelbo_mu": at_mu + kl, "per_pixel": at_mu / 784, "train": train_mu}


def _decode_mean_mistakes(f: dict[str, float]) -> list[tuple[float, str]]:
    return [(f["sampled"], "That is the unchanged figure, decoding a sampled z = μ + σ ε (what evaluate does); "
                           "decode the encoder's mean μ itself."),
            (f["nelbo_mu"], "That adds the KL term: report the reconstruction term alone."),
            (f["per_pixel"], "That is per pixel; report nats per image (summed over the 784 pixels)."),
            (f["train"], "That is measured on training images; use the first test images, x_test[:500].")]


def _decode_mean_wrong(model, x_test, x_train) -> list[tuple[float, str]]:
    return [(v, key) for (v, _), key in zip(_decode_mean_mistakes(_recon_figures(model, x_test, x_train)),
                                            ("unchanged", "adds the KL", "per pixel", "training images"))]


def _run_decode_mean(answer: Any, *, model: torch.nn.Module, x_test: torch.Tensor, x_train: torch.Tensor) -> bool:
    f = _recon_figures(model, x_test, x_train)
    return ex.check_value("05.decode_mean", answer, f["mu"], atol=DECODE_MEAN_BAND, rtol=0.0,
                          mistakes=_decode_mean_mistakes(f),
                          hint=f"accepted within ±{DECODE_MEAN_BAND} nats of the figure this model gives")


def test_context() -> dict[str, object]:
    """What the chapter's experiment check needs, rebuilt cheaply: a seeded, *untrained* conv VAE of the fast
    profile's size with its codes spread out (the check recomputes its figure from whatever model it is given) and
    MNIST scaled to [0, 1]."""
    from ..core import config
    from ..datasets import load_mnist

    hp = config.chapter("05_vae").hparams("fast")
    torch.manual_seed(0)
    model = vae_models.ConvVAE(hp.latent_dim, channels=hp.channels, hidden=hp.hidden, activation=hp.activation,
                               pixel_bias=hp.pixel_bias).eval()
    with torch.no_grad():  # spread the untrained encoder's codes, so that μ, a sample and the KL differ clearly
        model.encoder[-1].weight.mul_(30.0)
    x_test = load_mnist("test")[0][:DECODE_MEAN_IMAGES].float().div(255).unsqueeze(1)
    x_train = load_mnist("train")[0][:DECODE_MEAN_IMAGES].float().div(255).unsqueeze(1)
    return {"model": model, "x_test": x_test, "x_train": x_train}


EXERCISES: list[Exercise] = [
    Exercise("05.kl", "derive", 1, "the Gaussian KL in closed form", _run_kl, lambda: _kl,
             hint="Type the boxed formula of §3: ½ Σ_d (μ_d² + σ_d² − 1 − log σ_d²), with σ² = exp(logvar).",
             wrong=_KL_WRONG),
    Exercise("05.reparam", "derive", 1, "the reparameterised sample", _run_reparam, lambda: _sample,
             hint="σ = exp(logvar / 2); the sample is μ + σ ⊙ ε.", wrong=_SAMPLE_WRONG),
    Exercise("05.bits_per_pixel", "derive", 1, "nats per image to bits per pixel",
             lambda answer, nats=_BITS_EXAMPLE: _run_bits(answer, nats=nats),
             lambda nats=_BITS_EXAMPLE: _bits(nats),
             hint="1 bit = ln 2 nats, and an image has 784 pixels.", wrong=_bits_wrong),
    Exercise("05.collapse", "concept", 1, "which term posterior collapse zeroes", _run_collapse, lambda: "kl",
             hint="Look at the 'inactive' dimensions in §7: q(z|x) = p(z) for those.", wrong=_COLLAPSE_WRONG),
    Exercise("05.bernoulli_loglik", "implement", 2, "the Bernoulli decoder's log-likelihood from logits",
             _run_loglik, lambda: _bernoulli_loglik,
             hint="Per pixel, x log σ(ℓ) + (1 − x) log(1 − σ(ℓ)) = x·ℓ − softplus(ℓ); never take log(sigmoid(...)). "
                  "Sum over every dimension but the batch one (flatten(1).sum(1)).", wrong=_LOGLIK_WRONG),
    Exercise("05.iwae", "implement", 3, "the importance-weighted bound from K samples", _run_iwae, lambda: _iwae,
             hint="Broadcast μ and logvar to (N, 1, D); log N(z; m, σ²) = −½ (z − m)²/σ² − ½ log σ² − ½ log 2π per "
                  "dimension, summed over D; log w = log p(x|z) + log p(z) − log q(z|x) has shape (N, K); the bound "
                  "is torch.logsumexp(log_w, 1) − log K.", wrong=_IWAE_WRONG),
    Exercise("05.decode_mean", "experiment", 2, "reconstruct from μ instead of a sampled z", _run_decode_mean,
             lambda model, x_test, x_train: _recon_figures(model, x_test, x_train)["mu"],
             hint="mu, logvar = vae.encode(x); logits = vae.decode(mu); the BCE with logits summed over pixels, "
                  "averaged over the 500 images, under torch.no_grad().", wrong=_decode_mean_wrong),
]
