"""Chapter 03 (GAN theory): the exercises' references, known mistakes and hints."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from .. import widgets
from ..datasets import ring_centers
from ..metrics import modes
from . import Exercise, copying, nan_as_inf
from . import checkers as ex

# ---- 03.optimal_d (derive): D* = p_data / (p_data + p_g) pointwise -------------------------------------------

def _optimal_d_cases() -> list[tuple[np.ndarray, np.ndarray]]:
    x = np.linspace(-6, 6, 61)
    return [(widgets.mixture_pdf(x), widgets.gaussian_pdf(x, 0.0, 1.0)),
            (np.array([1.0, 0.2, 3.0]), np.array([1.0, 0.6, 1e-3]))]


_OPTIMAL_D_WRONG: list[tuple[Any, str]] = [
    (lambda pd, pg: pg / (pd + pg), "That is 1 - D*"),
    (lambda pd, pg: pd / pg, "unbounded"),
    (lambda pd, pg: pd / (pd + pg) > 0.5, "hard real/fake decision"),
]


def _run_optimal_d(answer: Any) -> bool:
    return ex.check_function(
        "03.optimal_d", copying(answer), widgets.optimal_discriminator, _optimal_d_cases(),
        mistakes=[(_OPTIMAL_D_WRONG[0][0], "That is 1 - D*: the probability of *fake*. D(x) is P(real)."),
                  (_OPTIMAL_D_WRONG[1][0], "The density ratio p_data/p_g is unbounded; D* divides by the sum."),
                  (_OPTIMAL_D_WRONG[2][0], "D* is a probability, not a hard real/fake decision.")],
        hint="maximise p_data log D + p_g log(1 - D) at each x separately")


# ---- 03.value_at_optimum (derive): V(D*, G) when p_g = p_data -------------------------------------------------

def _value_at_optimum() -> float:
    x = np.linspace(-8, 8, 4001)
    p = widgets.mixture_pdf(x)
    return widgets.value_at_optimum(p, p, x)


_VALUE_OPT_WRONG: list[tuple[Any, str]] = [
    (0.0, "That is the JSD at the optimum"),
    (-math.log(2), "*each* of the two expectations"),
    (math.log(4), "Check the sign"),
    (0.5, "1/2 is the value of D*"),
]


def _run_value_at_optimum(answer: Any) -> bool:
    return ex.check_value(
        "03.value_at_optimum", answer, _value_at_optimum(), atol=1e-4,
        mistakes=[(0.0, "That is the JSD at the optimum; V(D*, G) = -log 4 + 2 JSD."),
                  (-math.log(2), "D* = 1/2 everywhere, and *each* of the two expectations contributes log(1/2)."),
                  (math.log(4), "Check the sign: log D* = log(1/2) is negative."),
                  (0.5, "1/2 is the value of D*, not of V.")])


# ---- 03.value_estimate (implement): V(D, G) estimated from a batch of logits ---------------------------------

def _value_estimate(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """Monte Carlo estimate of V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))] from D's logits.

    ``logits_real`` ``(N, 1)`` or ``(N,)``: D's logits on real samples; ``logits_fake`` ``(M, 1)`` or ``(M,)`` on
    generated ones (M may differ from N). With D = σ(a): log D = log σ(a), log(1 − D) = log σ(−a), both computed
    stably. Returns a 0-dim tensor (≤ 0)."""
    return F.logsigmoid(logits_real).mean() + F.logsigmoid(-logits_fake).mean()


def _value_cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Random logits with N = M and N ≠ M, a batch of one, and a very confident discriminator (|a| = 120 in
    float32), where σ(a) rounds to exactly 1 and σ(−a) to 0."""
    g = torch.Generator().manual_seed(303)
    cases = [(torch.randn(6, 1, generator=g), torch.randn(6, 1, generator=g)),
             (2 * torch.randn(10, 1, generator=g) + 1, 2 * torch.randn(4, 1, generator=g) - 1),
             (torch.tensor([[0.3]]), torch.randn(7, 1, generator=g)),
             (torch.tensor([[-120.0], [2.0], [0.5]]), torch.tensor([[120.0], [-1.0]]))]
    return cases


def _value_naive_log(logits_real, logits_fake):
    return torch.log(torch.sigmoid(logits_real)).mean() + torch.log(1 - torch.sigmoid(logits_fake)).mean()


def _value_fake_sign(logits_real, logits_fake):
    return F.logsigmoid(logits_real).mean() + F.logsigmoid(logits_fake).mean()


def _value_pooled(logits_real, logits_fake):
    return torch.cat([F.logsigmoid(logits_real).flatten(), F.logsigmoid(-logits_fake).flatten()]).mean()


def _value_d_loss(logits_real, logits_fake):
    return -_value_estimate(logits_real, logits_fake)


def _value_summed(logits_real, logits_fake):
    return F.logsigmoid(logits_real).sum() + F.logsigmoid(-logits_fake).sum()


_VALUE_EST_WRONG: list[tuple[Any, str]] = [
    (_value_naive_log, "underflows"),
    (_value_fake_sign, "log(1 − D) = log σ(−a)"),
    (_value_pooled, "its own mean"),
    (_value_d_loss, "discriminator's loss"),
    (_value_summed, "average"),
]


def _run_value_estimate(answer: Any) -> bool:
    return ex.check_function(
        "03.value_estimate", nan_as_inf(copying(answer)), _value_estimate, _value_cases(), atol=1e-5, rtol=1e-4,
        mistakes=[(nan_as_inf(_value_naive_log),
                   "log(sigmoid(a)) underflows: for a confident discriminator (a = ±120 in float32) σ(a) rounds to "
                   "0 or 1 and the log gives -inf. Use F.logsigmoid(a) for log D and F.logsigmoid(-a) for "
                   "log(1 - D): the same functions computed stably."),
                  (_value_fake_sign, "The fake term is log(1 − D) = log σ(−a), not log σ(a) = log D: D should be "
                                     "*low* on fakes, and V rewards that."),
                  (_value_pooled, "Each expectation is its own mean: E_x over the real batch plus E_z over the fake "
                                  "batch. Pooling both into one mean halves V (and weights the terms by batch size "
                                  "when N ≠ M)."),
                  (_value_d_loss, "That is −V, the discriminator's loss (BCE with labels 1 and 0). V itself is a "
                                  "sum of log-probabilities, so it is ≤ 0."),
                  (_value_summed, "An expectation is an average: take the mean over each batch, not the sum, so V "
                                  "does not grow with the batch size.")],
        hint="mean of F.logsigmoid(real) + mean of F.logsigmoid(-fake)")


# ---- 03.ns_grad (derive): d/da of -log σ(a) -------------------------------------------------------------------

def _ns_grad_autograd(a: torch.Tensor) -> torch.Tensor:
    a = a.clone().double().requires_grad_(True)
    grad, = torch.autograd.grad(-F.logsigmoid(a).sum(), a)
    return grad


_NS_GRAD_WRONG: list[tuple[Any, str]] = [
    (lambda a: 1 - torch.sigmoid(a), "Right size, wrong sign"),
    (lambda a: -torch.sigmoid(a), "*saturating* loss"),
    (lambda a: torch.sigmoid(a) * (1 - torch.sigmoid(a)), "That is dσ/da"),
]


def _run_ns_grad(answer: Any) -> bool:
    return ex.check_function(
        "03.ns_grad", copying(answer), _ns_grad_autograd,
        [(torch.linspace(-8, 8, 9),), (torch.tensor([-20.0, 0.0, 3.0]),)],
        mistakes=[(_NS_GRAD_WRONG[0][0], "Right size, wrong sign: the loss falls as the logit grows."),
                  (_NS_GRAD_WRONG[1][0], "That is the gradient of the *saturating* loss log(1 - D)."),
                  (_NS_GRAD_WRONG[2][0], "That is dσ/da; differentiate -log σ(a).")],
        hint="d/da log σ(a) = σ'(a)/σ(a) = 1 − σ(a)")


# ---- 03.jsd_grid (implement): the Jensen–Shannon divergence of two densities on a grid ------------------------

def _jsd_cases() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Overlapping densities, identical ones, densities with exact zeros (a uniform and a triangle), and two
    bumps with disjoint supports (JSD = log 2)."""
    x = np.linspace(-6, 6, 601)
    x2 = np.linspace(0, 10, 1001)
    uniform = np.where((x2 >= 1) & (x2 <= 4), 1 / 3, 0.0)
    triangle = np.clip(1 - np.abs(x2 - 3), 0, None)
    left = np.where(x2 <= 4, np.clip(1 - np.abs(x2 - 2), 0, None), 0.0)
    right = np.clip(1 - np.abs(x2 - 7), 0, None)
    return [(widgets.mixture_pdf(x), widgets.gaussian_pdf(x, 0.5, 1.2), x),
            (widgets.mixture_pdf(x), widgets.mixture_pdf(x), x),
            (uniform, triangle, x2),
            (left, right, x2)]


def _jsd_no_convention(p, q, x):
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 0.5 * (widgets.integrate(p * np.log(p / m), x) + widgets.integrate(q * np.log(q / m), x))


def _jsd_one_sided(p, q, x):
    m = 0.5 * (p + q)
    return widgets.integrate(widgets._xlogy(p, p) - widgets._xlogy(p, m), x)


def _jsd_no_half(p, q, x):
    return 2 * widgets.jsd(p, q, x)


def _jsd_bits(p, q, x):
    return widgets.jsd(p, q, x) / math.log(2)


_JSD_WRONG: list[tuple[Any, str]] = [
    (_jsd_no_convention, "0·log 0 = NaN"),
    (_jsd_one_sided, "both"),
    (_jsd_no_half, "2·JSD"),
    (_jsd_bits, "nats"),
]


def _run_jsd(answer: Any) -> bool:
    return ex.check_function(
        "03.jsd_grid", nan_as_inf(copying(answer)), widgets.jsd, _jsd_cases(), atol=1e-6, rtol=1e-5,
        mistakes=[(nan_as_inf(_jsd_no_convention),
                   "Where a density is exactly 0, p·log(p/m) is 0·log 0 = NaN in NumPy; the convention is 0·log 0 = "
                   "0 (the limit). Only sum the terms where p > 0 (np.where, or scipy.special.xlogy)."),
                  (_jsd_one_sided, "That is KL(p ‖ m) alone; the JSD averages both: ½ KL(p ‖ m) + ½ KL(q ‖ m), "
                                   "which makes it symmetric in p and q."),
                  (_jsd_no_half, "That is KL(p ‖ m) + KL(q ‖ m) = 2·JSD: average the two divergences (factor ½), "
                                 "so the JSD stays in [0, log 2]."),
                  (_jsd_bits, "That is in bits (log base 2); the chapter measures in nats (natural log), where "
                              "disjoint supports give log 2 ≈ 0.693.")],
        hint="m = (p + q)/2; integrate p log(p/m) and q log(q/m) with 0·log 0 = 0; average the two")


# ---- 03.missing_detach (concept) ------------------------------------------------------------------------------

_DETACH_WRONG = [("zero_grad", "accumulates"), ("step", "unchanged"), ("nonlinearity", "Gaussian")]


def _run_missing_detach(answer: Any) -> bool:
    return ex.check_choice(
        "03.missing_detach", answer, "detach",
        mistakes={"zero_grad": "A missing zero_grad() silently accumulates gradients; it raises no error (§8.5).",
                  "step": "A missing step() leaves the weights unchanged without any error (§8.2).",
                  "nonlinearity": "A linear-only generator trains without errors; it just can only make a Gaussian "
                                  "(§8.1)."},
        hint="Which bug lets the discriminator's backward() free the generator's part of the graph? (§8.4)")


# ---- 03.quality_2sigma (experiment): the ring GAN's high-quality fraction at 2σ instead of 3σ -------------------

QUALITY_BAND = 0.002  # the check accepts the figure within ± this of the recomputed one
N_SIGMA_EXPERIMENT = 2.0


def _quality_figures(G: Any, hp: Any, seed: int, n_sigma: float) -> Any:
    device = next(G.parameters()).device
    samples = G.sample(hp.eval_samples, generator=torch.Generator().manual_seed(seed)).to(device)
    return modes.mode_coverage(samples, ring_centers().to(device), hp.ring_std, n_sigma=n_sigma,
                               min_share=hp.min_share)


def _quality_wrong(*, G: Any, hp: Any, seed: int) -> list[tuple[float, str]]:
    at2, at3 = _quality_figures(G, hp, seed, N_SIGMA_EXPERIMENT), _quality_figures(G, hp, seed, hp.n_sigma)
    return [(at3.high_quality_frac, "unchanged"), (100 * at2.high_quality_frac, "fraction"),
            (1 - math.exp(-N_SIGMA_EXPERIMENT**2 / 2), "perfect generator"), (1 - at2.high_quality_frac, "outside")]


def _run_quality(answer: Any, *, G: Any, hp: Any, seed: int) -> bool:
    truth = _quality_figures(G, hp, seed, N_SIGMA_EXPERIMENT).high_quality_frac
    hint = f"accepted within ±{QUALITY_BAND} of what n_sigma = {N_SIGMA_EXPERIMENT:g} gives on these samples"
    if answer is None or answer is Ellipsis or ex._close(answer, truth, QUALITY_BAND, 0.0):  # no mistakes needed
        return ex.check_value("03.quality_2sigma", answer, truth, atol=QUALITY_BAND, rtol=0.0)
    wrong = dict(zip(("three", "percent", "data", "outside"), (w for w, _ in _quality_wrong(G=G, hp=hp, seed=seed))))
    return ex.check_value(
        "03.quality_2sigma", answer, truth, atol=QUALITY_BAND, rtol=0.0,
        mistakes=[(wrong["three"], f"That is the unchanged figure at n_sigma = {hp.n_sigma:g} (§6); pass "
                                   f"n_sigma={N_SIGMA_EXPERIMENT:g} to modes.mode_coverage."),
                  (wrong["percent"], "Report the high-quality *fraction* (0..1), not a percentage."),
                  (wrong["data"], "1 − e^(−2) ≈ 0.865 is what a perfect generator (the data themselves) would "
                                  "score at 2σ; measure the trained G_ring on its samples."),
                  (wrong["outside"], "That is the share *outside* 2σ; report the share within 2σ of the nearest "
                                     "centre.")],
        hint=hint)


class _SpreadRing(torch.nn.Module):
    """A stand-in for a trained ring generator (for the tests): samples of the ring with its modes widened to
    1.5 σ, plus a tenth of the samples spread uniformly over the plane."""

    latent_dim = 2

    def __init__(self, std: float) -> None:
        super().__init__()
        self.std = torch.nn.Parameter(torch.tensor(std), requires_grad=False)

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        k = torch.randint(8, (n,), generator=generator)
        x = ring_centers()[k] + 1.5 * self.std * torch.randn(n, 2, generator=generator)
        stray = torch.rand(n, generator=generator) < 0.1
        return torch.where(stray[:, None], 5 * torch.rand(n, 2, generator=generator) - 2.5, x)


def test_context() -> dict[str, object]:
    """The keyword arguments the chapter's experiment check needs (for the test suite): a stand-in generator with
    the ring's hyperparameters of the fast profile (training the real one takes a minute)."""
    from ..core import config

    hp = config.chapter("03_gan_theory").hparams("fast")
    return {"G": _SpreadRing(hp.ring_std), "hp": hp, "seed": 1}


EXERCISES: list[Exercise] = [
    Exercise("03.optimal_d", "derive", 1, "the optimal discriminator", _run_optimal_d,
             lambda: widgets.optimal_discriminator,
             hint="At each x, maximise p_data·log D + p_g·log(1 − D) over D in (0, 1): set the derivative to zero.",
             wrong=_OPTIMAL_D_WRONG),
    Exercise("03.value_at_optimum", "derive", 1, "the value at the optimum", _run_value_at_optimum,
             lambda: _value_at_optimum(),
             hint="With p_g = p_data, D* = 1/2 everywhere; each expectation of V is then log(1/2).",
             wrong=_VALUE_OPT_WRONG),
    Exercise("03.value_estimate", "implement", 2, "V(D, G) from a batch of logits", _run_value_estimate,
             lambda: _value_estimate,
             hint="log D = F.logsigmoid(a) and log(1 − D) = F.logsigmoid(−a); average each over its own batch and "
                  "add the two means.", wrong=_VALUE_EST_WRONG),
    Exercise("03.ns_grad", "derive", 2, "the non-saturating gradient", _run_ns_grad, lambda: _ns_grad_autograd,
             hint="−log σ(a) = softplus(−a); σ'(a) = σ(a)(1 − σ(a)).", wrong=_NS_GRAD_WRONG),
    Exercise("03.jsd_grid", "implement", 2, "the Jensen–Shannon divergence on a grid", _run_jsd,
             lambda: widgets.jsd,
             hint="m = (p + q) / 2; KL(p ‖ m) = ∫ p log(p / m) dx with the terms where p = 0 set to 0 "
                  "(widgets.integrate does the trapezoidal rule); JSD = ½ KL(p ‖ m) + ½ KL(q ‖ m).",
             wrong=_JSD_WRONG),
    Exercise("03.missing_detach", "concept", 1, "name the bug", _run_missing_detach, lambda: "detach",
             hint="Which bug lets the discriminator's backward() free the generator's part of the graph? (§8.4)",
             wrong=_DETACH_WRONG),
    Exercise("03.quality_2sigma", "experiment", 1, "the ring GAN's high-quality fraction at 2σ", _run_quality,
             lambda G, hp, seed: _quality_figures(G, hp, seed, N_SIGMA_EXPERIMENT).high_quality_frac,
             hint="Draw the samples as coverage() does (hp.eval_samples, seed run.seed + 1) and call "
                  "modes.mode_coverage with n_sigma=2.0; read .high_quality_frac.", wrong=_quality_wrong),
]
