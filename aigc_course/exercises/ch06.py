"""Chapter 06 (diffusion and flow matching): the exercises' references, known mistakes and hints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from . import Exercise, copying
from . import checkers as ex

# ---- 06.alpha_bars (derive): the cumulative signal share from the β's --------------------------------------


def _alpha_bars(betas: torch.Tensor) -> torch.Tensor:
    """ᾱ_t = Π_{s ≤ t} (1 − β_s): (T,) -> (T,)."""
    return torch.cumprod(1 - betas, dim=0)


def _alpha_bar_cases() -> list[tuple[torch.Tensor]]:
    return [(torch.linspace(1e-4, 0.02, 50),), (torch.tensor([0.1, 0.2, 0.5]),), (torch.tensor([0.3]),),
            (torch.linspace(0.01, 0.3, 12).flip(0),)]


def _ab_sum(b):
    return 1 - torch.cumsum(b, dim=0)


def _ab_beta_product(b):
    return torch.cumprod(b, dim=0)


def _ab_one_step(b):
    return 1 - b


_AB_MISTAKES = [
    (_ab_sum, "That subtracts the sum of the β's; the signal shares multiply: ᾱ_t = ∏ (1 − β_s)."),
    (_ab_beta_product, "That multiplies the β's (noise shares); multiply α_s = 1 − β_s."),
    (_ab_one_step, "That is α_t for one step; ᾱ_t is the product over all steps up to t."),
]
_AB_WRONG = [(_ab_sum, "signal shares multiply"), (_ab_beta_product, "noise shares"), (_ab_one_step, "one step")]


def _run_alpha_bars(answer: Any) -> bool:
    return ex.check_function("06.alpha_bars", copying(answer), _alpha_bars, _alpha_bar_cases(), mistakes=_AB_MISTAKES,
                             hint="use torch.cumprod")


# ---- 06.predict_x0 (derive): the clean-image estimate from x_t and ε̂ ---------------------------------------


def _predict_x0(x_t: torch.Tensor, eps: torch.Tensor, a_bar: torch.Tensor) -> torch.Tensor:
    """x̂_0 = (x_t − √(1 − ᾱ) ε̂) / √ᾱ; a_bar broadcasts against x_t (N, ...)."""
    return (x_t - (1 - a_bar).sqrt() * eps) / a_bar.sqrt()


def _x0_cases() -> list[tuple[torch.Tensor, ...]]:
    g = torch.Generator().manual_seed(601)
    return [(torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g), torch.tensor(a)) for a in (0.9, 0.5, 0.01)]


def _x0_variance(x, e, a):
    return (x - (1 - a) * e) / a.sqrt()


def _x0_no_rescale(x, e, a):
    return x - (1 - a).sqrt() * e


def _x0_divide_abar(x, e, a):
    return (x - (1 - a).sqrt() * e) / a


def _x0_plain(x, e, a):
    return x - e


_X0_MISTAKES = [
    (_x0_variance, "The noise is scaled by the standard deviation √(1 − ᾱ_t), not the variance 1 − ᾱ_t."),
    (_x0_no_rescale, "You removed the noise but forgot to undo the shrinking: divide by √ᾱ_t."),
    (_x0_divide_abar, "Divide by √ᾱ_t (the factor in front of x_0), not by ᾱ_t."),
    (_x0_plain, "x_t is not x_0 + ε: solve x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε for x_0."),
]
_X0_WRONG = [(_x0_variance, "standard deviation"), (_x0_no_rescale, "undo the shrinking"),
             (_x0_divide_abar, "not by ᾱ_t"), (_x0_plain, "is not x_0 + ε")]


def _run_predict_x0(answer: Any) -> bool:
    return ex.check_function("06.predict_x0", copying(answer), _predict_x0, _x0_cases(), mistakes=_X0_MISTAKES,
                             hint="solve x_t = √ᾱ x_0 + √(1 − ᾱ) ε for x_0")


# ---- 06.from_v (derive): x̂_0 and ε̂ from x_t and a predicted velocity v̂ -----------------------------------


def _from_v(x_t: torch.Tensor, v: torch.Tensor, a_bar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(x̂_0, ε̂) = (√ᾱ x_t − √(1 − ᾱ) v̂, √(1 − ᾱ) x_t + √ᾱ v̂); a_bar broadcasts against x_t (N, ...)."""
    a, b = a_bar.sqrt(), (1 - a_bar).sqrt()
    return a * x_t - b * v, b * x_t + a * v


def _from_v_cases() -> list[tuple[torch.Tensor, ...]]:
    g = torch.Generator().manual_seed(603)
    cases = [(torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g), torch.tensor(a))
             for a in (0.9, 0.3, 0.01)]
    a_bar = torch.tensor([0.95, 0.5, 0.05]).view(3, 1, 1, 1)  # one level per image, as in the samplers
    return [*cases, (torch.randn(3, 1, 2, 2, generator=g), torch.randn(3, 1, 2, 2, generator=g), a_bar)]


def _fv_signs(x, v, a_bar):
    a, b = a_bar.sqrt(), (1 - a_bar).sqrt()
    return a * x + b * v, b * x - a * v


def _fv_roles(x, v, a_bar):
    a, b = a_bar.sqrt(), (1 - a_bar).sqrt()
    return b * x - a * v, a * x + b * v


def _fv_variances(x, v, a_bar):
    return a_bar * x - (1 - a_bar) * v, (1 - a_bar) * x + a_bar * v


def _fv_order(x, v, a_bar):
    return tuple(reversed(_from_v(x, v, a_bar)))


_FV_MISTAKES = [
    (_fv_signs, "The signs are off: with v = √ᾱ ε − √(1 − ᾱ) x_0, x_0 comes out as √ᾱ x_t *minus* √(1 − ᾱ) v̂ and ε "
                "as √(1 − ᾱ) x_t *plus* √ᾱ v̂."),
    (_fv_roles, "√ᾱ and √(1 − ᾱ) have swapped roles: x̂_0 takes √ᾱ x_t (the signal's coefficient), ε̂ takes "
                "√(1 − ᾱ) x_t."),
    (_fv_variances, "Use the standard deviations √ᾱ and √(1 − ᾱ), not the variances ᾱ and 1 − ᾱ."),
    (_fv_order, "Both estimates are right but in the wrong order: return (x̂_0, ε̂)."),
]
_FV_WRONG = [(_fv_signs, "signs"), (_fv_roles, "swapped roles"), (_fv_variances, "standard deviations"),
             (_fv_order, "wrong order")]


def _run_from_v(answer: Any) -> bool:
    return ex.check_function("06.from_v", copying(answer), _from_v, _from_v_cases(), mistakes=_FV_MISTAKES,
                             hint="return a pair; combine √ᾱ x_t and √(1 − ᾱ) v̂ (using √ᾱ² + √(1 − ᾱ)² = 1)")


# ---- 06.guidance (derive): the classifier-free-guidance combination ---------------------------------------


def _guided(eps_cond: torch.Tensor, eps_uncond: torch.Tensor, w: float) -> torch.Tensor:
    """(1 + w) ε(x, c) − w ε(x, ∅): two (N, ...) tensors and a float -> (N, ...)."""
    return (1 + w) * eps_cond - w * eps_uncond


def _guided_cases() -> list[tuple[Any, ...]]:
    g = torch.Generator().manual_seed(602)
    return [(torch.randn(2, 3, generator=g), torch.randn(2, 3, generator=g), w) for w in (0.0, 1.0, 3.0)]


def _g_swapped(c, u, w):
    return (1 + w) * u - w * c


def _g_sum(c, u, w):
    return c + w * u


def _g_scale_convention(c, u, w):
    return u + w * (c - u)


_GUIDED_MISTAKES = [
    (_g_swapped, "The signs are swapped: that pushes the sample *away* from its class. Extrapolate from the "
                 "unconditional towards the conditional prediction."),
    (_g_sum, "Guidance uses the *difference* ε(x, c) − ε(x, ∅), scaled by w."),
    (_g_scale_convention, "That is the convention with scale s = w (s = 1: no guidance); here w = 0 means no "
                          "guidance, so the weight on ε(x, c) is 1 + w."),
]
_GUIDED_WRONG = [(_g_swapped, "swapped"), (_g_sum, "*difference*"), (_g_scale_convention, "convention")]


def _run_guidance(answer: Any) -> bool:
    return ex.check_function("06.guidance", copying(answer), _guided, _guided_cases(), mistakes=_GUIDED_MISTAKES,
                             hint="ε(x, c) + w (ε(x, c) − ε(x, ∅))")


# ---- 06.deterministic_sampler (concept) ---------------------------------------------------------------------

_ANCESTRAL = ("Ancestral sampling adds fresh noise √β̃_t · z at every step, so the same x_T gives different digits; "
              "DDIM's update has no noise term.")
_SAMPLER_MISTAKES = {
    "ddpm": _ANCESTRAL, "ancestral": _ANCESTRAL,
    "both": "Only one of them is deterministic: ancestral (DDPM) sampling adds fresh noise √β̃_t · z at every step, "
            "DDIM with η = 0 adds none.",
    "neither": "With η = 0 one of the samplers adds no noise after x_T: its output is a fixed function of x_T.",
}
_SAMPLER_WRONG = [("ddpm", "fresh noise"), ("both", "Only one"), ("neither", "fixed function")]


def _run_sampler(answer: Any) -> bool:
    return ex.check_choice("06.deterministic_sampler", answer, "ddim", mistakes=_SAMPLER_MISTAKES,
                           hint="answer 'ddpm' or 'ddim'")


# ---- 06.ddim_step (implement): one DDIM(η) step from level t to an earlier level s ---------------------------


def _ddim_step(x_t: torch.Tensor, eps: torch.Tensor, a_bar_t: torch.Tensor, a_bar_s: torch.Tensor, eta: float,
               z: torch.Tensor) -> torch.Tensor:
    """One DDIM step without clipping: x_t, eps (predicted noise) and z (fresh noise) (N, ...); a_bar_t < a_bar_s
    0-dim tensors (a_bar_s = 1 at the last step); eta in [0, 1]. Returns x_s (N, ...):

    x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t,  σ = η √((1−ᾱ_s)/(1−ᾱ_t)) √(1 − ᾱ_t/ᾱ_s),
    x_s = √ᾱ_s x̂_0 + √(1 − ᾱ_s − σ²) ε̂ + σ z."""
    x0 = (x_t - (1 - a_bar_t).sqrt() * eps) / a_bar_t.sqrt()
    sigma = eta * ((1 - a_bar_s) / (1 - a_bar_t)).sqrt() * (1 - a_bar_t / a_bar_s).sqrt()
    return a_bar_s.sqrt() * x0 + (1 - a_bar_s - sigma**2).clamp(min=0).sqrt() * eps + sigma * z


def _ddim_cases() -> list[tuple[Any, ...]]:
    """Random (N, 1, 3, 3) images and (N, 5) vectors at η = 0, 1 and 0.5 between several pairs of levels, and the
    last step (ᾱ_s = 1), where the step must return x̂_0 whatever η is."""
    g = torch.Generator().manual_seed(603)
    cases = []
    for shape, a_t, a_s, eta in (((2, 1, 3, 3), 0.3, 0.6, 0.0), ((3, 5), 0.05, 0.4, 1.0), ((2, 5), 0.5, 0.9, 0.5),
                                 ((4, 1, 3, 3), 0.01, 0.2, 1.0), ((2, 5), 0.7, 1.0, 1.0), ((3, 4), 0.2, 0.25, 0.0)):
        cases.append((torch.randn(*shape, generator=g), torch.randn(*shape, generator=g), torch.tensor(a_t),
                      torch.tensor(a_s), eta, torch.randn(*shape, generator=g)))
    return cases


def _ddim_eps_ignores_sigma(x_t, eps, a_t, a_s, eta, z):
    x0 = (x_t - (1 - a_t).sqrt() * eps) / a_t.sqrt()
    sigma = eta * ((1 - a_s) / (1 - a_t)).sqrt() * (1 - a_t / a_s).sqrt()
    return a_s.sqrt() * x0 + (1 - a_s).sqrt() * eps + sigma * z


def _ddim_no_fresh_noise(x_t, eps, a_t, a_s, eta, z):
    return _ddim_step(x_t, eps, a_t, a_s, eta, torch.zeros_like(z))


def _ddim_no_sqrt(x_t, eps, a_t, a_s, eta, z):
    x0 = (x_t - (1 - a_t).sqrt() * eps) / a_t.sqrt()
    sigma = eta * ((1 - a_s) / (1 - a_t)).sqrt() * (1 - a_t / a_s).sqrt()
    return a_s * x0 + (1 - a_s - sigma**2).clamp(min=0) * eps + sigma * z


def _ddim_renoise_at_t(x_t, eps, a_t, a_s, eta, z):
    return _ddim_step(x_t, eps, a_t, a_t, eta, z)


def _ddim_sigma_without_eta(x_t, eps, a_t, a_s, eta, z):
    return _ddim_step(x_t, eps, a_t, a_s, 1.0, z)


_DDIM_MISTAKES = [
    (_ddim_eps_ignores_sigma, "The fresh noise σz takes its variance from the ε̂ term: scale ε̂ by √(1 − ᾱ_s − σ²), "
                              "not √(1 − ᾱ_s), or x_s has too much noise whenever η > 0."),
    (_ddim_no_fresh_noise, "For η > 0 the step adds fresh noise: + σ z with σ = η √((1−ᾱ_s)/(1−ᾱ_t)) √(1 − ᾱ_t/ᾱ_s). "
                           "Only η = 0 is deterministic."),
    (_ddim_no_sqrt, "The closed form scales by square roots: x_s = √ᾱ_s x̂_0 + √(1 − ᾱ_s − σ²) ε̂ + σ z (ᾱ is a "
                    "*variance* share)."),
    (_ddim_renoise_at_t, "You re-noised x̂_0 back to level t (that returns x_t): the step goes to the *earlier* level "
                         "s, so use ᾱ_s in front of x̂_0 and ε̂."),
    (_ddim_sigma_without_eta, "σ is scaled by η: η = 0 must give the deterministic DDIM step (σ = 0), η = 1 the "
                              "ancestral one."),
]
_DDIM_WRONG = [(fn, key) for (fn, _), key in zip(_DDIM_MISTAKES, ("√(1 − ᾱ_s − σ²)", "fresh noise", "square roots",
                                                                 "*earlier*", "scaled by η"))]


def _run_ddim_step(answer: Any) -> bool:
    return ex.check_function("06.ddim_step", copying(answer), _ddim_step, _ddim_cases(), atol=1e-5, rtol=1e-4,
                             mistakes=_DDIM_MISTAKES,
                             hint="x̂_0 first (exercise 2), then σ from η, then √ᾱ_s x̂_0 + √(1 − ᾱ_s − σ²) ε̂ + σ z")


# ---- 06.heun_step (implement): one Heun step of the flow-matching ODE -------------------------------------


def _heun_step(velocity: Callable[[torch.Tensor, float], torch.Tensor], x: torch.Tensor, s: float,
               s_next: float) -> torch.Tensor:
    """One Heun step of dx/ds = v(x, s) from time s to s_next (s_next < s when sampling): x (N, ...) -> (N, ...).

    v₁ = v(x, s); x' = x + (s_next − s) v₁ (the Euler step); v₂ = v(x', s_next);
    x_next = x + (s_next − s)(v₁ + v₂)/2."""
    ds = s_next - s
    v1 = velocity(x, s)
    v2 = velocity(x + ds * v1, s_next)
    return x + ds * 0.5 * (v1 + v2)


def _field_linear(x: torch.Tensor, s: float) -> torch.Tensor:
    return 1.5 * x - 0.5


def _field_curved(x: torch.Tensor, s: float) -> torch.Tensor:
    return torch.sin(3 * x) * (1 + s) + s * s


def _field_rotation(x: torch.Tensor, s: float) -> torch.Tensor:
    return torch.stack([-x[:, 1], x[:, 0]], dim=1) * (2 - s) + x.pow(2)


def _heun_cases() -> list[tuple[Any, ...]]:
    """Three velocity fields (affine, curved and time-dependent, a 2-D swirl), steps of different sizes down from
    s = 1, one step going up, and a zero step (s_next = s), which must return x unchanged."""
    g = torch.Generator().manual_seed(604)
    return [(_field_linear, torch.randn(4, 3, generator=g), 1.0, 0.5),
            (_field_curved, torch.randn(3, 1, 2, 2, generator=g), 1.0, 0.8),
            (_field_curved, torch.randn(5, 2, generator=g), 0.6, 0.1),
            (_field_rotation, torch.randn(6, 2, generator=g), 0.9, 0.6),
            (_field_rotation, torch.randn(3, 2, generator=g), 0.2, 0.45),
            (_field_curved, torch.randn(2, 3, generator=g), 0.5, 0.5)]


def _heun_euler(velocity, x, s, s_next):
    return x + (s_next - s) * velocity(x, s)


def _heun_same_point(velocity, x, s, s_next):
    return x + (s_next - s) * 0.5 * (velocity(x, s) + velocity(x, s_next))


def _heun_old_time(velocity, x, s, s_next):
    ds = s_next - s
    v1 = velocity(x, s)
    return x + ds * 0.5 * (v1 + velocity(x + ds * v1, s))


def _heun_sign(velocity, x, s, s_next):
    ds = s - s_next
    v1 = velocity(x, s)
    return x + ds * 0.5 * (v1 + velocity(x + ds * v1, s_next))


def _heun_second_only(velocity, x, s, s_next):
    ds = s_next - s
    return x + ds * velocity(x + ds * velocity(x, s), s_next)


_HEUN_MISTAKES = [
    (_heun_euler, "That is Euler's step, with the first velocity only. Heun also evaluates v at the Euler point "
                  "x' = x + Δs v₁ (time s_next) and steps with the average (v₁ + v₂)/2."),
    (_heun_same_point, "The second velocity must be evaluated where the Euler step lands, v(x + Δs v₁, s_next), "
                       "not at the starting point x."),
    (_heun_old_time, "The second velocity belongs to the end of the step: evaluate it at time s_next, not s."),
    (_heun_sign, "Wrong direction: Δs = s_next − s (negative when sampling from s = 1 down to 0), as in `euler`: "
                 "x + (s_next − s) v."),
    (_heun_second_only, "You stepped with v₂ alone: Heun averages the two slopes, x + Δs (v₁ + v₂)/2."),
]
_HEUN_WRONG = [(fn, key) for (fn, _), key in zip(_HEUN_MISTAKES, ("Euler's step", "where the Euler step lands",
                                                                 "time s_next", "Wrong direction", "averages"))]


def _run_heun_step(answer: Any) -> bool:
    return ex.check_function("06.heun_step", copying(answer), _heun_step, _heun_cases(), atol=1e-5, rtol=1e-4,
                             mistakes=_HEUN_MISTAKES,
                             hint="ds = s_next − s; v1 = velocity(x, s); v2 = velocity(x + ds·v1, s_next); "
                                  "x + ds·(v1 + v2)/2")


# ---- 06.fm_two_steps (experiment): the toy flow-matching sampler with two Euler steps ---------------------

FM_STEPS_BAND = 0.005  # the check accepts the figure within ± this
FM_POINTS, FM_SEED, FM_STEPS = 2000, 0, 2


@torch.no_grad()
def _euler_points(net: nn.Module, n_steps: int) -> torch.Tensor:
    """The notebook's toy_euler: FM_POINTS points from N(0, I) (seed FM_SEED), n_steps Euler steps s: 1 -> 0."""
    x = torch.randn(FM_POINTS, 2, generator=torch.Generator().manual_seed(FM_SEED))
    s_grid = torch.linspace(1, 0, n_steps + 1)
    for s, s_next in zip(s_grid[:-1], s_grid[1:]):
        x = x + (s_next - s) * net(x, torch.full((FM_POINTS,), 1000 * s.item()))
    return x


def _mode_distance(x: torch.Tensor, centres: torch.Tensor) -> float:
    """Mean over points of the distance to the nearest mode centre: x (n, 2), centres (8, 2)."""
    return (x.double()[:, None, :] - centres.double()[None]).norm(dim=-1).min(1).values.mean().item()


def _fm_figures(net: nn.Module, centres: torch.Tensor, steps: int) -> dict[str, float]:
    two = _euler_points(net, FM_STEPS)
    radius = centres.double().norm(dim=1).mean().item()
    return {"two": _mode_distance(two, centres), "unchanged": _mode_distance(_euler_points(net, steps), centres),
            "one": _mode_distance(_euler_points(net, 1), centres),
            "ring": (two.double().norm(dim=1) - radius).abs().mean().item()}


def _fm_mistakes(f: dict[str, float], steps: int) -> list[tuple[float, str]]:
    return [(f["unchanged"], f"That is the unchanged sampler's figure ({steps} Euler steps); run toy_euler with "
                             f"n_steps = {FM_STEPS}."),
            (f["one"], f"That is one Euler step: n_steps counts the steps (the time grid has n_steps + 1 points); use "
                       f"{FM_STEPS}."),
            (f["ring"], "That is the distance to the ring's circle; report the distance to the nearest of the eight "
                        "mode centres.")]


def _fm_wrong(net, centres, steps) -> list[tuple[float, str]]:
    return [(v, key) for (v, _), key in zip(_fm_mistakes(_fm_figures(net, centres, steps), steps),
                                            ("unchanged", "one Euler step", "circle"))]


def _run_fm_two_steps(answer: Any, *, net: nn.Module, centres: torch.Tensor, steps: int) -> bool:
    f = _fm_figures(net, centres, steps)
    return ex.check_value("06.fm_two_steps", answer, f["two"], atol=FM_STEPS_BAND, rtol=0.0,
                          mistakes=_fm_mistakes(f, steps),
                          hint=f"accepted within ±{FM_STEPS_BAND} of what this network gives with {FM_STEPS} steps")


class _IdealRingVelocity(nn.Module):
    """The exact marginal velocity v*(x, s) = (x − E[x0 | x_s = x]) / s of flow matching on the ring (std 0.05),
    called like ToyNet: (x (N, 2), 1000 s (N,)) -> (N, 2). A trained network's stand-in for the tests."""

    def __init__(self, centres: torch.Tensor, std: float = 0.05):
        super().__init__()
        self.centres, self.std = centres.double(), std

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        s = (t.double() / 1000).clamp(min=1e-3)[:, None]
        a, x64 = 1 - s, x.double()
        var = a**2 * self.std**2 + s**2
        d2 = ((x64[:, None, :] - a[:, None] * self.centres) ** 2).sum(-1)
        resp = torch.softmax(-d2 / (2 * var), dim=1)
        means = self.centres + (a * self.std**2 / var)[:, None] * (x64[:, None, :] - a[:, None] * self.centres)
        x0 = (resp[..., None] * means).sum(1)
        return ((x64 - x0) / s).to(x.dtype)


def test_context() -> dict[str, object]:
    """What the experiment check needs: the exact ring velocity in place of the trained toy network (the check
    recomputes its figure from whatever network it is given), the ring's centres and the fast profile's steps."""
    from ..core import config
    from ..datasets import ring_centers

    centres = ring_centers().double()
    hp = config.chapter("06_diffusion").hparams("fast")
    return {"net": _IdealRingVelocity(centres, hp.toy_ring_std), "centres": centres, "steps": hp.toy_euler_steps}


EXERCISES: list[Exercise] = [
    Exercise("06.alpha_bars", "derive", 1, "ᾱ_t from the β's", _run_alpha_bars, lambda: _alpha_bars,
             hint="The signal shares α_s = 1 − β_s multiply: torch.cumprod.", wrong=_AB_WRONG),
    Exercise("06.predict_x0", "derive", 1, "the clean-image estimate from ε̂", _run_predict_x0, lambda: _predict_x0,
             hint="Solve x_t = √ᾱ x_0 + √(1 − ᾱ) ε for x_0.", wrong=_X0_WRONG),
    Exercise("06.from_v", "derive", 2, "x̂_0 and ε̂ from a predicted velocity v̂", _run_from_v, lambda: _from_v,
             hint="Write x_t = a x_0 + b ε and v = a ε − b x_0 with a = √ᾱ, b = √(1 − ᾱ), a² + b² = 1: then "
                  "a x_t − b v and b x_t + a v.", wrong=_FV_WRONG),
    Exercise("06.guidance", "derive", 1, "the classifier-free-guidance combination", _run_guidance, lambda: _guided,
             hint="Start at ε(x, c) and move w times the difference ε(x, c) − ε(x, ∅) further.", wrong=_GUIDED_WRONG),
    Exercise("06.deterministic_sampler", "concept", 1, "which sampler is deterministic", _run_sampler,
             lambda: "ddim", hint="Which update adds fresh noise z at every step?", wrong=_SAMPLER_WRONG),
    Exercise("06.ddim_step", "implement", 2, "one DDIM(η) step", _run_ddim_step, lambda: _ddim_step,
             hint="x0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t; σ = η·√((1−ᾱ_s)/(1−ᾱ_t))·√(1 − ᾱ_t/ᾱ_s); "
                  "x_s = √ᾱ_s·x0 + √(1 − ᾱ_s − σ²)·ε̂ + σ·z (clamp the square root's argument at 0).",
             wrong=_DDIM_WRONG),
    Exercise("06.heun_step", "implement", 2, "one Heun step of the flow-matching ODE", _run_heun_step,
             lambda: _heun_step,
             hint="Take the Euler step to x' with v₁ = v(x, s), evaluate v₂ = v(x', s_next) there, and step from x "
                  "with the average (v₁ + v₂)/2 over Δs = s_next − s.", wrong=_HEUN_WRONG),
    Exercise("06.fm_two_steps", "experiment", 2, "the toy flow-matching sampler with two Euler steps",
             _run_fm_two_steps, lambda net, centres, steps: _fm_figures(net, centres, steps)["two"],
             hint="x = toy_euler(toy_fm_net, 2000, torch.Generator().manual_seed(0), 2); for each point the distance "
                  "to the nearest of the 8 centres (torch.cdist(x.double(), centres).min(1).values), averaged.",
             wrong=_fm_wrong),
]
