"""Chapter 00 (welcome): the exercises' references, known mistakes and hints."""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch

from ..core.config import resolve_profile
from . import Exercise, copying, nan_as_inf
from . import checkers as ex

# ---- 00.profile_order (concept): which profile runs when both the parameter and the variable are set -------

_AUTO = ("The automatic choice is the last resort, used only when neither the parameter nor the variable is set; "
         "here both are set. Which of the two does ac.setup read first?")
_PROFILE_WRONG: list[tuple[Any, str]] = [
    ("smoke", "The environment variable is only read when the notebook's PROFILE parameter is None."),
    ("full", "Automatic choice (full with CUDA) happens only when neither the parameter nor the variable is set."),
    ("automatic", _AUTO),
    ("auto", _AUTO),
    ("environment", "The environment variable is only read when the notebook's PROFILE parameter is None; answer "
                    "with a profile name (smoke, fast or full)."),
]


def _run_profile_order(answer: Any) -> bool:
    return ex.check_choice("00.profile_order", answer, resolve_profile("fast"), mistakes=dict(_PROFILE_WRONG),
                           hint="Answer with a profile name: smoke, fast or full.")


# ---- 00.mle_std (implement): the maximum-likelihood standard deviation ---------------------------------------


def _mle_std(x: torch.Tensor) -> torch.Tensor:
    return x.std(unbiased=False)


def _mle_std_cases() -> list[tuple[torch.Tensor]]:
    """Random data with a large offset (a mean far from 0 catches a forgotten centring), a hand-checkable
    case, a constant vector (σ = 0) and a single point."""
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(50, generator=g) * 2 + 1,), (torch.randn(7, generator=g) + 30,),
            (torch.tensor([1.0, 2.0, 4.0]),), (torch.full((5,), 3.0),), (torch.tensor([2.5]),)]


def _std_n_minus_1(x: torch.Tensor) -> torch.Tensor:
    with warnings.catch_warnings():  # one point: N − 1 = 0, torch warns and returns NaN
        warnings.simplefilter("ignore", UserWarning)
        return x.std()


_MLE_STD_WRONG: list[tuple[Any, str]] = [
    (_std_n_minus_1, "divided by N − 1"),
    (lambda x: x.var(unbiased=False), "That is the variance"),
    (lambda x: (x ** 2).mean().sqrt(), "Subtract the mean first"),
]


def _run_mle_std(answer: Any) -> bool:
    return ex.check_function(
        "00.mle_std", nan_as_inf(copying(answer)), _mle_std, _mle_std_cases(),
        mistakes=[(nan_as_inf(_MLE_STD_WRONG[0][0]),
                   "You divided by N − 1 (the unbiased estimate); maximum likelihood divides by N."),
                  (_MLE_STD_WRONG[1][0], "That is the variance σ²; take its square root."),
                  (_MLE_STD_WRONG[2][0], "Subtract the mean first: σ² is the mean squared *deviation*.")],
        hint="σ̂ = sqrt(mean((x − mean(x))²)); do not call x.std.")


# ---- 00.log_density (implement): the Gaussian log-density, elementwise ---------------------------------------


def _log_density(x: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    return torch.distributions.Normal(mu, sigma).log_prob(x)


def _log_density_cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Random points with scalar μ, σ; σ ≠ 1 and σ < 1 (a slip in σ vs σ² shows); broadcasting of a vector σ;
    a point far in the tail, where exp() would underflow (the log-density must stay finite)."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, generator=g) * 2 + 1
    return [(x, torch.tensor(1.0), torch.tensor(2.0)), (x, torch.tensor(-0.5), torch.tensor(0.3)),
            (torch.tensor([0.0, 1.0, 2.0]), torch.tensor(0.0), torch.tensor([0.5, 1.0, 4.0])),
            (torch.tensor([40.0]), torch.tensor(0.0), torch.tensor(1.0))]


_LOG_DENSITY_WRONG: list[tuple[Any, str]] = [
    (lambda x, mu, s: -torch.log(s) - (x - mu) ** 2 / (2 * s ** 2), "dropped the constant"),
    (lambda x, mu, s: -0.5 * math.log(2 * math.pi) - torch.log(s) - (x - mu) ** 2 / (2 * s), "not 2σ"),
    (lambda x, mu, s: -0.5 * math.log(2 * math.pi) - (x - mu) ** 2 / (2 * s ** 2), "−log σ"),
    (lambda x, mu, s: torch.log(torch.exp(-(x - mu) ** 2 / (2 * s ** 2)) / (math.sqrt(2 * math.pi) * s)),
     "underflows"),
]


def _run_log_density(answer: Any) -> bool:
    return ex.check_function(
        "00.log_density", copying(answer), _log_density, _log_density_cases(),
        mistakes=[(_LOG_DENSITY_WRONG[0][0], "You dropped the constant −½·log(2π)."),
                  (_LOG_DENSITY_WRONG[1][0], "The quadratic term divides by 2σ², not 2σ."),
                  (_LOG_DENSITY_WRONG[2][0], "You forgot the −log σ normalisation term."),
                  (_LOG_DENSITY_WRONG[3][0], "Taking the log of the density underflows: at x = 40 the density is "
                                             "exp(−800) = 0 in float32 and its log is −inf. Write the log-density "
                                             "directly, term by term.")],
        hint="log p = −½·log(2π) − log σ − (x − μ)² / (2σ²), term by term (never log(exp(…))).")


# ---- 00.small_sample (experiment): the same fit on ten training points ---------------------------------------


def _small_sample_ll(x_train: torch.Tensor, x_test: torch.Tensor, n: int = 10) -> float:
    """Held-out average log-likelihood of the Gaussian fitted by maximum likelihood to ``x_train[:n]``."""
    sub = x_train[:n]
    return _log_density(x_test, sub.mean(), sub.std(unbiased=False)).mean().item()


def _small_sample_wrong(*, x_train: torch.Tensor, x_test: torch.Tensor) -> list[tuple[float, str]]:
    full = _log_density(x_test, x_train.mean(), x_train.std(unbiased=False)).mean().item()
    sub = x_train[:10]
    on_train = _log_density(sub, sub.mean(), sub.std(unbiased=False)).mean().item()
    unbiased = _log_density(x_test, sub.mean(), _std_n_minus_1(sub)).mean().item()
    return [(full, "all the training points"), (on_train, "training points"), (unbiased, "N − 1")]


def _run_small_sample(answer: Any, *, x_train: torch.Tensor, x_test: torch.Tensor) -> bool:
    if answer is None or answer is Ellipsis:
        return ex.check_value("00.small_sample", answer, 0.0)
    want = _small_sample_ll(x_train, x_test)
    full, on_train, unbiased = (v for v, _ in _small_sample_wrong(x_train=x_train, x_test=x_test))
    return ex.check_value(
        "00.small_sample", float(answer), want, atol=2e-3, rtol=0,
        mistakes=[(full, "That is the fit on all the training points (the figure printed in the chapter); refit "
                         "μ̂ and σ̂ on the first 10 points only."),
                  (on_train, "That is measured on the 10 training points themselves; a model is judged on the "
                             "held-out x_test."),
                  (unbiased, "You used the N − 1 standard deviation; the maximum-likelihood fit divides by N.")],
        hint="sub = x_train[:10]; fit μ̂, σ̂ on sub; average the log-density of x_test under them.")


def test_context() -> dict[str, object]:
    """What the experiment's check needs, built the way the chapter builds it (fast-profile sizes)."""
    from .. import datasets

    data = datasets.gaussian_mixture_1d(4000, means=(-2.0, 2.0), stds=(0.6, 0.6), seed=0)
    return {"x_train": data[:2000, 0], "x_test": data[2000:, 0]}


EXERCISES: list[Exercise] = [
    Exercise("00.profile_order", "concept", 1, "which profile runs", _run_profile_order, lambda: "fast",
             hint="The order is: the notebook's PROFILE parameter, then AIGC_COURSE_PROFILE, then automatic.",
             wrong=_PROFILE_WRONG[:3]),
    Exercise("00.mle_std", "implement", 1, "the maximum-likelihood standard deviation", _run_mle_std,
             lambda: _mle_std, hint="Centre first (x − x.mean()), square, average over the N points, square root.",
             wrong=_MLE_STD_WRONG),
    Exercise("00.log_density", "implement", 1, "the Gaussian log-density", _run_log_density,
             lambda: _log_density,
             hint="Three terms: −½·log(2π) (a Python float: math.log), −torch.log(sigma), −(x − mu)² / (2·sigma²). "
                  "Do not take the log of the density: it underflows in the tails.",
             wrong=_LOG_DENSITY_WRONG),
    Exercise("00.small_sample", "experiment", 1, "the same Gaussian fitted on ten points", _run_small_sample,
             _small_sample_ll,
             hint="Slice the first ten training points, refit the two closed-form estimates, and score x_test.",
             wrong=_small_sample_wrong),
]
