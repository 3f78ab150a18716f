"""Chapter 14 (risks and responsibility): the exercises' references, known mistakes and hints."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..apps import risks
from ..apps import watermark as wm
from . import Exercise, copying
from . import checkers as ex


def _images(g: torch.Generator, n: int) -> torch.Tensor:
    """``(n, 1, 28, 28)`` images in [0, 1] with exactly black and white pixels, like MNIST digits."""
    x = torch.rand(n, 1, 28, 28, generator=g)
    x[x < 0.4] = 0.0
    x[x > 0.9] = 1.0
    return x


def _victim(seed: int) -> nn.Module:
    """A small smooth classifier (tanh MLP, seeded) standing in for the MNIST classifier in the checks."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 24), nn.Tanh(), nn.Linear(24, 10)).eval()


# ---- 14.fgsm (derive): the FGSM image from a given gradient --------------------------------------------------


def _fgsm(x: torch.Tensor, grad: torch.Tensor, eps: float) -> torch.Tensor:
    """``clip(x + ε sign(grad), 0, 1)``: images and gradient ``(N, 1, 28, 28)`` → ``(N, 1, 28, 28)``."""
    return (x + eps * grad.sign()).clamp(0, 1)


def _fgsm_cases() -> list[tuple]:
    g = torch.Generator().manual_seed(14)
    return [(_images(g, 8), torch.randn(8, 1, 28, 28, generator=g), 0.1),
            (torch.rand(4, 1, 28, 28, generator=g), torch.randn(4, 1, 28, 28, generator=g), 0.3)]


def _fgsm_raw(x, g, e):
    return (x + e * g).clamp(0, 1)


def _fgsm_unclipped(x, g, e):
    return x + e * g.sign()


def _fgsm_down(x, g, e):
    return (x - e * g.sign()).clamp(0, 1)


_FGSM_WRONG: list[tuple[Any, str]] = [(_fgsm_raw, "sign of the gradient"), (_fgsm_unclipped, "Clip the result"),
                                      (_fgsm_down, "climbs the loss")]


def _run_fgsm(answer: Any) -> bool:
    return ex.check_function(
        "14.fgsm", copying(answer), _fgsm, _fgsm_cases(),
        mistakes=[(_fgsm_raw, "Use the sign of the gradient: every pixel moves by exactly ±eps, which maximises the "
                              "linear gain eps·||g||_1 in the L∞ ball."),
                  (_fgsm_unclipped, "Clip the result to [0, 1]: a pixel cannot be darker than black."),
                  (_fgsm_down, "That is a step *down* the loss (it makes the classifier more sure). The attack climbs "
                               "the loss.")],
        hint="clip(x + eps · sign(grad), 0, 1)")


# ---- 14.project (derive): the projection onto the eps-ball intersected with [0, 1] -------------------------


def _project_cases() -> list[tuple]:
    g = torch.Generator().manual_seed(1402)
    x = _images(g, 4)
    return [(x + 0.3 * torch.randn(4, 1, 28, 28, generator=g), x, 0.1),
            (torch.rand(3, 1, 28, 28, generator=g) * 3 - 1, torch.rand(3, 1, 28, 28, generator=g), 0.05)]


def _project_image_clip(a, x, e):
    return a.clamp(-e, e)


def _project_no_range(a, x, e):
    return x + (a - x).clamp(-e, e)


def _project_l2(a, x, e):
    return x + e * (a - x) / (a - x).flatten(1).norm(dim=1).clamp(min=1e-12).view(-1, 1, 1, 1)


_PROJECT_WRONG: list[tuple[Any, str]] = [(_project_image_clip, "*perturbation*"), (_project_no_range, "Also clip"),
                                         (_project_l2, "L2 sphere")]


def _run_project(answer: Any) -> bool:
    return ex.check_function(
        "14.project", copying(answer), risks.project_linf, _project_cases(),
        mistakes=[(_project_image_clip, "Clip the *perturbation* x_adv − x to [−eps, eps] and add it back to x; "
                                        "clipping the image itself throws the picture away."),
                  (_project_no_range, "Also clip to [0, 1]: near black or white pixels the ball sticks out of the "
                                      "valid range."),
                  (_project_l2, "That rescales onto an L2 sphere. The L∞ ball is a box: clip each pixel separately.")],
        hint="clip(x + clip(x_adv − x, −eps, eps), 0, 1)")


# ---- 14.pgd (implement): PGD from a given start ----------------------------------------------------------


def _pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, alpha: float, steps: int,
         x_start: torch.Tensor) -> torch.Tensor:
    """``steps`` PGD steps ``x' ← Π_S(x' + α sign(∇_x' L(x', y)))`` from ``x_start`` (already in S), S = the
    L∞ ball of radius ``eps`` around ``x`` within [0, 1]. ``x``, ``x_start`` ``(N, 1, 28, 28)``, ``y`` ``(N,)``
    → ``(N, 1, 28, 28)``."""
    x_adv = x_start
    for _ in range(steps):
        x_adv = risks.project_linf(x_adv + alpha * risks.input_gradient(model, x_adv, y).sign(), x, eps)
    return x_adv.detach()


def _pgd_cases() -> list[tuple]:
    """Three random batches (a fresh seeded classifier each, start uniform in the ball), a step larger than the
    radius (the projection binds at once), one step (PGD-1 from the start) and eps = 0 (nothing may move)."""
    g = torch.Generator().manual_seed(1403)
    cases = []
    for n, eps, alpha, steps, seed in ((4, 0.1, 0.03, 6, 1), (3, 0.2, 0.05, 8, 2), (5, 0.05, 0.08, 3, 3),
                                       (2, 0.1, 0.04, 1, 4), (2, 0.0, 0.05, 3, 5)):
        x = _images(g, n)
        start = risks.project_linf(x + eps * (torch.rand(x.shape, generator=g) * 2 - 1), x, eps)
        cases.append((_victim(seed), x, torch.randint(0, 10, (n,), generator=g), eps, alpha, steps, start))
    return cases


def _pgd_no_sign(model, x, y, eps, alpha, steps, x_start):
    x_adv = x_start
    for _ in range(steps):
        x_adv = risks.project_linf(x_adv + alpha * risks.input_gradient(model, x_adv, y), x, eps)
    return x_adv


def _pgd_no_ball(model, x, y, eps, alpha, steps, x_start):
    x_adv = x_start
    for _ in range(steps):
        x_adv = (x_adv + alpha * risks.input_gradient(model, x_adv, y).sign()).clamp(0, 1)
    return x_adv


def _pgd_project_at_end(model, x, y, eps, alpha, steps, x_start):
    x_adv = x_start
    for _ in range(steps):
        x_adv = x_adv + alpha * risks.input_gradient(model, x_adv, y).sign()
    return risks.project_linf(x_adv, x, eps)


def _pgd_one_gradient(model, x, y, eps, alpha, steps, x_start):
    direction = risks.input_gradient(model, x_start, y).sign()
    x_adv = x_start
    for _ in range(steps):
        x_adv = risks.project_linf(x_adv + alpha * direction, x, eps)
    return x_adv


def _pgd_descent(model, x, y, eps, alpha, steps, x_start):
    x_adv = x_start
    for _ in range(steps):
        x_adv = risks.project_linf(x_adv - alpha * risks.input_gradient(model, x_adv, y).sign(), x, eps)
    return x_adv


def _pgd_from_clean(model, x, y, eps, alpha, steps, x_start):
    return _pgd(model, x, y, eps, alpha, steps, x)


_PGD_MISTAKES: list[tuple[Any, str]] = [
    (_pgd_no_sign, "Step along the *sign* of the gradient, α·sign(∇L): the raw gradient's entries are small and "
                   "uneven, so most pixels barely move. Each step is an FGSM step that moves every pixel by α."),
    (_pgd_no_ball, "Your iterates leave the ε-ball: after every step project back onto S around the *clean* image "
                   "x — x' = clip(x + clip(x' − x, −ε, ε), 0, 1) — not only onto [0, 1] (and not around the previous "
                   "iterate)."),
    (_pgd_project_at_end, "Project after *every* step, not once at the end: the gradient must be read at a point "
                          "inside S, and clipping the sum of steps is not the same path."),
    (_pgd_one_gradient, "Re-read the gradient at every iterate: with the sign of the starting point's gradient "
                        "reused, PGD is just one long FGSM step and cannot follow the loss where it curves."),
    (_pgd_descent, "That walks *down* the loss (+ → −): the attack climbs it, x' + α·sign(∇L)."),
    (_pgd_from_clean, "Start from x_start (the random start in the ball), not from the clean image x."),
]
_PGD_WRONG: list[tuple[Any, str]] = [(_pgd_no_sign, "sign"), (_pgd_no_ball, "leave the ε-ball"),
                                     (_pgd_project_at_end, "every* step"), (_pgd_one_gradient, "Re-read"),
                                     (_pgd_descent, "climbs"), (_pgd_from_clean, "x_start")]


def _run_pgd(answer: Any) -> bool:
    return ex.check_function(
        "14.pgd", copying(answer), copying(_pgd), _pgd_cases(), atol=1e-5, rtol=0.0,
        mistakes=[(copying(f), text) for f, text in _PGD_MISTAKES],
        hint="x' = x_start; repeat steps times: g = risks.input_gradient(model, x', y); x' = Π_S(x' + α sign(g)) with "
             "Π_S(u) = clip(x + clip(u − x, −ε, ε), 0, 1)")


# ---- 14.integrated_gradients (implement): IG with the midpoint rule and a black baseline ------------------


def _integrated_gradients(model: nn.Module, x: torch.Tensor, target: torch.Tensor, steps: int) -> torch.Tensor:
    """Integrated gradients of the ``target`` logit from a black baseline, midpoint rule on ``steps`` points:
    ``x ⊙ (1/m) Σ_k ∇f_c((k + ½)/m · x)``. ``x`` ``(N, 1, 28, 28)``, ``target`` ``(N,)`` → ``(N, 1, 28, 28)``."""
    return risks.integrated_gradients(model, x, target, steps=steps)


def _ig_cases() -> list[tuple]:
    """Random images with a fresh seeded classifier each, few points (where the quadrature rule shows), one
    point, and an all-black image (every attribution is 0)."""
    g = torch.Generator().manual_seed(1404)
    cases = []
    for n, steps, seed in ((3, 4, 11), (2, 7, 12), (4, 1, 13)):
        cases.append((_victim(seed), _images(g, n), torch.randint(0, 10, (n,), generator=g), steps))
    cases.append((_victim(14), torch.zeros(2, 1, 28, 28), torch.tensor([3, 7]), 5))
    return cases


def _ig_no_input(model, x, t, steps):
    return sum(risks.saliency(model, (k + 0.5) / steps * x, t) for k in range(steps)) / steps


def _ig_left(model, x, t, steps):
    return x * sum(risks.saliency(model, k / steps * x, t) for k in range(steps)) / steps


def _ig_right(model, x, t, steps):
    return x * sum(risks.saliency(model, (k + 1) / steps * x, t) for k in range(steps)) / steps


def _ig_summed(model, x, t, steps):
    return x * sum(risks.saliency(model, (k + 0.5) / steps * x, t) for k in range(steps))


def _ig_grad_times_input(model, x, t, steps):
    return x * risks.saliency(model, x, t)


def _ig_of_loss(model, x, t, steps):
    return x * sum(risks.input_gradient(model, (k + 0.5) / steps * x, t) for k in range(steps)) / steps


_IG_MISTAKES: list[tuple[Any, str]] = [
    (_ig_grad_times_input, "That is gradient × input, the gradient read at x only: IG averages the gradient along "
                           "the straight path from the black image to x (at the points (k + ½)/m · x)."),
    (_ig_no_input, "You return the average gradient along the path; IG multiplies it by (x − x̄) = x, so that the "
                   "attributions add up to f_c(x) − f_c(black)."),
    (_ig_left, "Those are the left end points k/m (k = 0 … m−1): the chapter uses the midpoint rule, t_k = (k + ½)/m, "
               "more accurate for the same number of gradients."),
    (_ig_right, "Those are the right end points (k + 1)/m: the chapter uses the midpoint rule, t_k = (k + ½)/m."),
    (_ig_summed, "Average the m gradients (divide by m): the integral over [0, 1] is the mean, not the sum."),
    (_ig_of_loss, "IG attributes the target class *logit* f_c (risks.saliency), not the cross-entropy loss "
                  "(risks.input_gradient): the signs flip and the softmax reweights every pixel."),
]
_IG_WRONG: list[tuple[Any, str]] = [(_ig_grad_times_input, "gradient × input"), (_ig_no_input, "multiplies it"),
                                    (_ig_left, "left end points"), (_ig_right, "right end points"),
                                    (_ig_summed, "not the sum"), (_ig_of_loss, "*logit*")]


def _run_ig(answer: Any) -> bool:
    return ex.check_function(
        "14.integrated_gradients", copying(answer), copying(_integrated_gradients), _ig_cases(), atol=1e-5,
        rtol=1e-4, mistakes=[(copying(f), text) for f, text in _IG_MISTAKES],
        hint="x ⊙ mean over k = 0 … m−1 of risks.saliency(model, (k + 0.5)/m · x, target)")


# ---- 14.z_score (derive): the watermark z-score ------------------------------------------------------------




_Z_CASES = [(130, 200, 0.5), (60, 200, 0.25), (32, 65, 32 / 65), (10, 100, 0.5)]


def _z_variance(s, n, g):
    return (s - g * n) / (n * g * (1 - g))


def _z_one_token(s, n, g):
    return (s / n - g) / np.sqrt(g * (1 - g))


def _z_no_one_minus(s, n, g):
    return (s - g * n) / np.sqrt(n * g)


def _z_half(s, n, g):
    return (s - 0.5 * n) / np.sqrt(n * 0.25)


_Z_WRONG: list[tuple[Any, str]] = [(_z_variance, "not by the variance"), (_z_one_token, "single token"),
                                   (_z_no_one_minus, "n γ (1 − γ)"), (_z_half, "not 1/2")]


def _run_z(answer: Any) -> bool:
    return ex.check_function(
        "14.z_score", answer, wm.z_score, _Z_CASES,
        mistakes=[(_z_variance, "Divide by the standard deviation √(n γ (1−γ)), not by the variance."),
                  (_z_one_token, "That is the z of a single token: the standard error of a share of n tokens is "
                                 "√(γ(1−γ)/n)."),
                  (_z_no_one_minus, "The variance of a binomial count is n γ (1 − γ), not n γ."),
                  (_z_half, "Use the green share gamma of the scheme, not 1/2.")],
        hint="(green − γ n) / √(n γ (1 − γ))")


# ---- 14.attack (concept): which attack to ask for -----------------------------------------------------------

_NOISE = "Random sign patterns cancel out (§1, check 2): noise says almost nothing about the worst case."
_ATTACK_MISTAKES = {
    "fgsm": "One linear step can miss where the loss curves; models can even learn to mask FGSM's gradient. The "
            "curves of §2 show FGSM overestimating robustness.",
    "random noise": _NOISE, "noise": _NOISE, "random": _NOISE,
    "projected gradient descent": 'Right attack — answer with the listed word: "fgsm", "pgd" or "random noise".',
}
_ATTACK_WRONG = [("fgsm", "overestimating"), ("random noise", "cancel out"), ("noise", "cancel out"),
                 ("projected gradient descent", "listed word")]


def _run_attack(answer: Any) -> bool:
    return ex.check_choice("14.attack", answer, "pgd", mistakes=_ATTACK_MISTAKES,
                           hint="Think of §1: which attack found more adversarial examples?")


# ---- 14.wm_short (experiment): detecting the watermark in shorter texts ------------------------------------

WM_SHORT_CHARS = 25  # the experiment keeps the first this many characters of every watermarked text
WM_SHORT_BAND = 0.001  # a share of texts: the check is exact up to rounding


def _wm_figures(prompts: torch.Tensor, marked: torch.Tensor, green: torch.Tensor, threshold: float
                ) -> dict[str, float]:
    """The experiment's figure and the figures of the usual slips: ``prompts`` ``(B, P)``, ``marked`` ``(B, T)``."""
    short = marked[:, :WM_SHORT_CHARS]
    z_short = wm.z_scores(prompts[:, -1], short, green)[0]
    z_full = wm.z_scores(prompts[:, -1], marked, green)[0]
    z_repeats = wm.z_scores(prompts[:, -1], short, green, unique=False)[0]
    z_star = wm.threshold_for_fpr(0.01)
    return {"short": float(np.mean(z_short > threshold)), "full": float(np.mean(z_full > threshold)),
            "mean_z": float(z_short.mean()), "repeats": float(np.mean(z_repeats > threshold)),
            "z_star": float(np.mean(z_short > z_star))}


def _wm_mistakes(f: dict[str, float]) -> list[tuple[float, str]]:
    return [(f["full"], f"That is the detection rate of the full texts: keep only the first {WM_SHORT_CHARS} "
                        f"characters, marked[:, :{WM_SHORT_CHARS}], and score those."),
            (f["mean_z"], "That is the mean z of the short texts; report the share of texts flagged (z above the "
                          "threshold)."),
            (f["repeats"], "That counts every repeated (previous, character) pair again (unique=False); score each "
                           "distinct pair once, as wm.z_scores does by default."),
            (f["z_star"], "That uses the normal threshold z* ≈ 2.33; use the calibrated threshold det['threshold'] of "
                          "§7 (the one the full texts were flagged with).")]


def _wm_wrong(prompts: torch.Tensor, marked: torch.Tensor, green: torch.Tensor, threshold: float
              ) -> list[tuple[float, str]]:
    f = _wm_figures(prompts, marked, green, threshold)
    fragments = ["detection rate of the full", "mean z of the short", "repeated", "calibrated threshold"]
    return [(value, frag) for (value, _), frag in zip(_wm_mistakes(f), fragments)
            if abs(value - f["short"]) > WM_SHORT_BAND]


def _run_wm_short(answer: Any, *, prompts: torch.Tensor, marked: torch.Tensor, green: torch.Tensor,
                  threshold: float) -> bool:
    f = _wm_figures(prompts, marked, green, threshold)
    return ex.check_value(
        "14.wm_short", answer, f["short"], atol=WM_SHORT_BAND, rtol=0.0, mistakes=_wm_mistakes(f),
        hint=f"the share of the {len(marked)} texts whose first {WM_SHORT_CHARS} characters score z > the threshold")


def test_context() -> dict[str, object]:
    """What ``14.wm_short``'s check needs, rebuilt cheaply from the data mirror: instead of the chapter's mini-GPT
    (trained by chapter 08), a character bigram model of the Tiny Shakespeare training text generates the
    watermarked texts with the chapter's key, γ and δ; the threshold is calibrated on its unwatermarked texts."""
    from ..core import config
    from ..models import lm

    hp = config.chapter("14_responsible_aigc").hparams("fast")
    sh = lm.shakespeare_data()
    v = len(sh.vocab)
    counts = torch.ones(v, v)
    counts.index_put_((sh.train[:-1], sh.train[1:]), torch.ones(len(sh.train) - 1), accumulate=True)
    bigram_logits = counts.log()  # (V, V): row = previous character
    green = wm.green_lists(v, hp.wm_gamma, hp.wm_key)
    g = torch.Generator().manual_seed(14)
    starts = torch.randint(0, len(sh.val) - 1, (2 * hp.wm_texts,), generator=g)
    prev = sh.val[starts]

    def sample(first: torch.Tensor, delta: float) -> torch.Tensor:
        out, cur = [], first
        for _ in range(hp.wm_tokens):
            logits = wm.bias_logits(bigram_logits[cur], cur, green, delta)
            cur = torch.multinomial(logits.softmax(-1), 1, generator=g).squeeze(1)
            out.append(cur)
        return torch.stack(out, 1)

    marked = sample(prev[: hp.wm_texts], hp.wm_delta)
    plain = sample(prev[hp.wm_texts:], 0.0)
    threshold = wm.calibrate_threshold(wm.z_scores(prev[hp.wm_texts:], plain, green)[0], hp.wm_fpr)
    return {"prompts": prev[: hp.wm_texts, None], "marked": marked, "green": green, "threshold": threshold}


EXERCISES: list[Exercise] = [
    Exercise("14.fgsm", "derive", 1, "the FGSM image from a gradient", _run_fgsm, lambda: _fgsm,
             hint="Every pixel moves by ε in the direction of its gradient's sign; then clip to [0, 1].",
             wrong=_FGSM_WRONG),
    Exercise("14.project", "derive", 1, "the projection onto the ε-ball within [0, 1]", _run_project,
             lambda: risks.project_linf,
             hint="Clip the perturbation x_adv − x to [−ε, ε], add it back to x, then clip to [0, 1].",
             wrong=_PROJECT_WRONG),
    Exercise("14.pgd", "implement", 3, "PGD: repeated FGSM steps with a projection", _run_pgd, lambda: _pgd,
             hint="Start at x_start. Each step: read the gradient at the current iterate "
                  "(risks.input_gradient(model, x_adv, y)), step α along its sign, then project onto the ε-ball "
                  "around the clean x and onto [0, 1]. Return the last iterate.", wrong=_PGD_WRONG),
    Exercise("14.attack", "concept", 1, "which attack a robustness claim needs", _run_attack, lambda: "pgd",
             hint="Think of §1: which attack found more adversarial examples?", wrong=_ATTACK_WRONG),
    Exercise("14.integrated_gradients", "implement", 2, "integrated gradients with the midpoint rule", _run_ig,
             lambda: _integrated_gradients,
             hint="With a black baseline the path is t·x. Read the logit gradient (risks.saliency) at t_k = (k + ½)/m "
                  "for k = 0 … m−1, average the m gradients and multiply by x.", wrong=_IG_WRONG),
    Exercise("14.z_score", "derive", 1, "the watermark z-score", _run_z, lambda: wm.z_score,
             hint="The green count is Binomial(n, γ) without a watermark: mean γn, variance nγ(1−γ).",
             wrong=_Z_WRONG),
    Exercise("14.wm_short", "experiment", 2, "detecting the watermark in 25-character texts", _run_wm_short,
             lambda prompts, marked, green, threshold: _wm_figures(prompts, marked, green, threshold)["short"],
             hint=f"short = marked[:, :{WM_SHORT_CHARS}]; z = wm.z_scores(prompts[:, -1], short, green)[0]; report "
                  "the share of z above det['threshold'].", wrong=_wm_wrong),
]
