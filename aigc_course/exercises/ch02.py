"""Chapter 02 (losses as likelihoods): the exercises' references, known mistakes and hints."""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

from . import Exercise, copying
from . import checkers as ex

# ---- 02.logsumexp (implement): log Σ exp over the last dimension without overflow --------------------------


def _logsumexp(v: torch.Tensor) -> torch.Tensor:
    """log Σ_j exp(v_j) over the last dimension: v (..., K) -> (...)."""
    return torch.logsumexp(v, dim=-1)


def _lse_cases() -> list[tuple[torch.Tensor]]:
    """Moderate random logits (N, K), logits near +1000 and near −1000 (naive exp overflows / underflows), rows
    on very different scales in one matrix, and a 3-D batch (B, N, K)."""
    g = torch.Generator().manual_seed(201)
    big = torch.tensor([1000.0, 999.0, 998.0], dtype=torch.float64)
    return [(3.0 * torch.randn(6, 5, generator=g, dtype=torch.float64),), (big,), (-big,),
            (torch.tensor([[0.0, 1.0, 2.0], [800.0, 0.0, -800.0]], dtype=torch.float64),),
            (torch.randn(2, 3, 4, generator=g, dtype=torch.float64),)]


def _lse_naive(v):
    return v.exp().sum(dim=-1).log()


def _lse_no_add_back(v):
    return (v - v.max(dim=-1, keepdim=True).values).exp().sum(dim=-1).log()


def _lse_global_max(v):
    return v.max() + (v - v.max()).exp().sum(dim=-1).log()


def _lse_dim0(v):
    return torch.logsumexp(v, dim=0)


def _lse_mean(v):
    return torch.logsumexp(v, dim=-1) - torch.tensor(float(v.shape[-1]), dtype=v.dtype).log()


_LSE_WRONG: list[tuple[Any, str]] = [
    (_lse_naive, "naive formula"),
    (_lse_no_add_back, "add it back"),
    (_lse_global_max, "*whole* tensor"),
    (_lse_dim0, "Wrong axis"),
    (_lse_mean, "log K too small"),
]


def _run_logsumexp(answer: Any) -> bool:
    return ex.check_function(
        "02.logsumexp", copying(answer), _logsumexp, _lse_cases(), atol=1e-9, rtol=1e-9,
        mistakes=[(_lse_naive, "That is the naive formula: exp overflows to inf for logits above ~710 (float64) and "
                               "underflows to 0 (log → -inf) for very negative ones. Subtract the maximum first."),
                  (_lse_no_add_back, "You subtracted the maximum m but forgot to add it back: LSE(v) = m + log Σ "
                                     "exp(v − m)."),
                  (_lse_global_max, "You subtracted the maximum of the *whole* tensor: a row whose values are all "
                                    "far below it underflows to log 0 = -inf. Take the maximum of each row (dim=-1, "
                                    "keepdim=True)."),
                  (_lse_dim0, "Wrong axis: you reduced over dim 0 (the examples), giving one number per class. "
                              "Reduce over the last dimension, the classes."),
                  (_lse_mean, "You took the mean of the exponentials instead of their sum: the result is log K too "
                              "small.")],
        hint="Take the max over the last dimension with keepdim=True, so that it broadcasts against v.")


# ---- 02.bce (implement): binary cross-entropy from logits, stable for huge logits --------------------------


def _bce(s: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean BCE of logits s (N,) against 0/1 targets y (N,): a scalar."""
    return F.binary_cross_entropy_with_logits(s, y)


def _bce_cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Random logits of scale 3 with random targets, a small hand case, and confidently wrong logits of ±800,
    where σ(s) rounds to exactly 0 or 1 in float64 and log σ(s) to -inf."""
    g = torch.Generator().manual_seed(202)
    f64 = torch.float64
    return [(3.0 * torch.randn(16, generator=g, dtype=f64), torch.randint(2, (16,), generator=g).to(f64)),
            (torch.tensor([-2.0, 0.0, 3.0], dtype=f64), torch.tensor([1.0, 0.0, 1.0], dtype=f64)),
            (torch.tensor([-800.0, 800.0, 2.0, -1.0], dtype=f64), torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=f64))]


def _bce_summed(s, y):
    return F.binary_cross_entropy_with_logits(s, y, reduction="sum")


def _bce_half(s, y):
    return -(y * F.logsigmoid(s)).mean()


def _bce_sign(s, y):
    return (y * F.logsigmoid(s) + (1 - y) * F.logsigmoid(-s)).mean()


def _bce_naive(s, y):
    p = torch.sigmoid(s)
    return -(y * p.log() + (1 - y) * (1 - p).log()).mean()


def _bce_clamped(s, y):
    return F.binary_cross_entropy(torch.sigmoid(s), y)


_BCE_WRONG: list[tuple[Any, str]] = [
    (_bce_summed, "the mean"),
    (_bce_half, "(1 - y)"),
    (_bce_sign, "Wrong sign"),
    (_bce_naive, "rounds to exactly 0"),
    (_bce_clamped, "clamps"),
]


def _run_bce(answer: Any) -> bool:
    return ex.check_function(
        "02.bce", copying(answer), _bce, _bce_cases(), atol=1e-9, rtol=1e-9,
        mistakes=[(_bce_summed, "You summed over the examples; the loss is the mean (the 1/N in the formula)."),
                  (_bce_half, "The (1 - y) log(1 - σ(s)) term is missing: examples with y = 0 must count too."),
                  (_bce_sign, "Wrong sign: a log-probability is ≤ 0, so the loss is its *negative* mean."),
                  (_bce_naive, "log(sigmoid(s)) is not safe: for s = −800, σ(s) rounds to exactly 0 in float64 and "
                               "the loss becomes inf (the true value is 800/N for that term). Use F.logsigmoid(s), "
                               "and log(1 − σ(s)) = F.logsigmoid(−s)."),
                  (_bce_clamped, "F.binary_cross_entropy on σ(s) clamps each log at −100, so a term worth 800 counts "
                                 "as 100: confidently wrong examples are under-punished. Work from the logits "
                                 "(F.logsigmoid).")],
        hint="s holds logits, not probabilities: log σ(s) is F.logsigmoid(s) and log(1 − σ(s)) is F.logsigmoid(−s).")


# ---- 02.kl (implement): KL(p ‖ q) row by row, with the convention 0 · log 0 = 0 ---------------------------


def _kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """KL(p_i ‖ q_i) = Σ_k p_ik (log p_ik − log q_ik) for each row: p, q (N, K) probabilities -> (N,) nats; a term
    with p_ik = 0 is 0 whatever q_ik (q_ik > 0 wherever p_ik > 0)."""
    return (torch.xlogy(p, p) - torch.xlogy(p, q)).sum(dim=-1)


def _kl_cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Random softmax rows (N, K), equal rows (KL = 0), and rows of p with exact zeros (one-hot, and a
    distribution on two outcomes) where q too is 0 on some of p's zeros."""
    g = torch.Generator().manual_seed(203)
    f64 = torch.float64
    p = torch.softmax(2.0 * torch.randn(5, 4, generator=g, dtype=f64), dim=1)
    q = torch.softmax(2.0 * torch.randn(5, 4, generator=g, dtype=f64), dim=1)
    zeros_p = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 0.25, 0.75]], dtype=f64)
    zeros_q = torch.tensor([[0.5, 0.25, 0.25], [0.4, 0.6, 0.0], [0.2, 0.3, 0.5]], dtype=f64)
    return [(p, q), (q, q), (zeros_p, zeros_q)]


def _kl_reversed(p, q):
    return _kl(q, p)


def _kl_cross_entropy(p, q):
    return -torch.xlogy(p, q).sum(dim=-1)


def _kl_mean(p, q):
    return _kl(p, q) / p.shape[-1]


def _kl_bits(p, q):
    return _kl(p, q) / torch.log(torch.tensor(2.0, dtype=p.dtype))


def _kl_naive(p, q):
    return (p * (p / q).log()).sum(dim=-1)


_KL_MISTAKES: list[tuple[Any, str]] = [
    (_kl_reversed, "That is KL(q ‖ p), the other direction: KL is not symmetric. Weight by p: Σ p (log p − log q)."),
    (_kl_cross_entropy, "That is the cross-entropy H(p, q) = −Σ p log q; KL subtracts the entropy H(p): "
                        "KL(p ‖ q) = H(p, q) − H(p)."),
    (_kl_mean, "You averaged over the K outcomes; KL sums them (it is an expectation under p, and p already "
               "weights the terms)."),
    (_kl_bits, "That is in bits (log base 2); the course measures in nats (natural log)."),
]
_NAN_EXPLANATION = ("Your result has nan where p has zeros: 0 · log(0/q) is 0 · (−inf) = nan in floating point. "
                    "By convention (the limit of x log x as x → 0) such a term is 0: use torch.xlogy(p, p) − "
                    "torch.xlogy(p, q), or torch.where(p > 0, …, 0).")
_KL_WRONG: list[tuple[Any, str]] = [(_kl_reversed, "other direction"), (_kl_cross_entropy, "subtracts the entropy"),
                                    (_kl_mean, "KL sums them"), (_kl_bits, "in bits"), (_kl_naive, "0 · log(0/q)")]


def _run_kl(answer: Any) -> bool:
    if callable(answer):
        zeros_case = _kl_cases()[-1]
        try:
            out = copying(answer)(*zeros_case)
            has_nan = isinstance(out, torch.Tensor) and bool(torch.isnan(out).any())
        except Exception:  # check_function reports what the code raised
            has_nan = False
        if has_nan:
            return ex.check_true("02.kl", False, failure=_NAN_EXPLANATION)
    return ex.check_function("02.kl", copying(answer), _kl, _kl_cases(), atol=1e-9, rtol=1e-9,
                             mistakes=_KL_MISTAKES,
                             hint="KL(p ‖ q) = Σ_k p_k (log p_k − log q_k) per row; a term with p_k = 0 counts 0.")


# ---- 02.smooth_targets and 02.ce_gradient (derive): kept from the chapter's first edition -----------------


def _smooth(y: torch.Tensor, K: int, eps: float) -> torch.Tensor:
    """q = (1 − ε) one_hot(y) + ε/K: y (N,) int -> (N, K) float64."""
    return (1 - eps) * F.one_hot(y, K).double() + eps / K


_SMOOTH_CASES = [(torch.tensor([1, 0, 4, 2]), 5, 0.1), (torch.tensor([2, 0]), 3, 0.3)]


def _smooth_other_convention(y, K, e):
    one_hot = F.one_hot(y, K).double()
    return (1 - e) * one_hot + e / (K - 1) * (1 - one_hot)


_SMOOTH_WRONG: list[tuple[Any, str]] = [
    (_smooth_other_convention, "other common convention"),
    (lambda y, K, e: (1 - e) * F.one_hot(y, K).double() + e, "rows sum to"),
    (lambda y, K, e: (1 - e) * F.one_hot(y, K).double(), "uniform part"),
]


def _run_smooth(answer: Any) -> bool:
    return ex.check_function(
        "02.smooth_targets", answer, _smooth, _SMOOTH_CASES,
        mistakes=[(_SMOOTH_WRONG[0][0], "That is the other common convention (1 - ε on the true class, ε/(K-1) on "
                                        "each other one); PyTorch and this chapter spread ε/K over *all* K classes, "
                                        "the true one included."),
                  (_SMOOTH_WRONG[1][0], "Your rows sum to 1 + (K-1)ε: the ε must be shared among the K classes "
                                        "(ε/K each)."),
                  (_SMOOTH_WRONG[2][0], "You forgot to add the uniform part ε/K.")],
        hint="F.one_hot(y, K) gives Y; scale it by 1 − ε and add ε/K everywhere.")


_CE_GRAD = torch.tensor([-0.3, 0.2, 0.1])
_CE_GRAD_WRONG: list[tuple[Any, str]] = [
    (torch.tensor([0.3, -0.2, -0.1]), "Sign flipped"),
    (torch.tensor([-1 / 0.7, 0.0, 0.0]), "with respect to the probabilities"),
    (torch.tensor([0.7, 0.2, 0.1]), "subtract the one-hot"),
]


def _run_ce_gradient(answer: Any) -> bool:
    return ex.check_value(
        "02.ce_gradient", answer, _CE_GRAD,
        mistakes=[(_CE_GRAD_WRONG[0][0], "Sign flipped: that is y - p, the *descent* direction. The gradient is "
                                         "p - y, so the true class's entry is negative (raising its logit lowers "
                                         "the loss)."),
                  (_CE_GRAD_WRONG[1][0], "That is the gradient with respect to the probabilities p. Through the "
                                         "softmax, the gradient with respect to the logits is p - y."),
                  (_CE_GRAD_WRONG[2][0], "You forgot to subtract the one-hot target.")],
        hint="∂L/∂z = p − y for one example (N = 1).")


# ---- 02.mild_start (experiment): §6's recovery race from a less confidently wrong start ---------------------

MILD_LOGIT = 4.0  # the changed start: blob centres at logits ∓4 instead of ∓hp.wrong_logit
MILD_BUDGET = 200  # steps the experiment may take


def _steps_to_90(loss_name: str, wrong_logit: float, budget: int, hp: Any, train: tuple, test: tuple) -> int | None:
    """§6's gradient descent on a logistic regression started at w = (−wrong_logit/blob_shift, 0), c = 0: the first
    step (counted from 1) after which the held-out accuracy is ≥ 0.9, or None within ``budget`` steps."""
    x, y = train
    xt, yt = test
    w = torch.tensor([-wrong_logit / hp.blob_shift, 0.0], dtype=torch.float64, requires_grad=True)
    c = torch.zeros((), dtype=torch.float64, requires_grad=True)
    for step in range(1, budget + 1):
        logit = x @ w + c
        if loss_name == "BCE":
            loss = F.binary_cross_entropy_with_logits(logit, y)
        else:
            loss = ((torch.sigmoid(logit) - y) ** 2).mean()
        grad_w, grad_c = torch.autograd.grad(loss, [w, c])
        with torch.no_grad():
            w -= hp.recovery_lr * grad_w
            c -= hp.recovery_lr * grad_c
            if ((xt @ w + c > 0).double() == yt).double().mean().item() >= 0.9:
                return step
    return None


def _mild_figures(hp: Any, train: tuple, test: tuple) -> dict[str, int | None]:
    return {"mse": _steps_to_90("MSE", MILD_LOGIT, MILD_BUDGET, hp, train, test),
            "bce": _steps_to_90("BCE", MILD_LOGIT, MILD_BUDGET, hp, train, test),
            "mse_unchanged": _steps_to_90("MSE", hp.wrong_logit, hp.recovery_steps, hp, train, test),
            "bce_unchanged": _steps_to_90("BCE", hp.wrong_logit, hp.recovery_steps, hp, train, test)}


def _mild_mistakes(f: dict[str, int | None]) -> list[tuple[int, str]]:
    out = [(f["mse_unchanged"], f"That is the unchanged run of §6 (start at logits ∓{{wl}}); start at ∓{MILD_LOGIT:g}: "
                                "w = (−4/hp.blob_shift, 0)."),
           (f["bce"], "That is BCE's count from the mild start; the experiment asks for sigmoid + MSE."),
           (f["bce_unchanged"], "That is BCE's count in the unchanged run of §6; the experiment asks for sigmoid + MSE "
                                f"from the start at ∓{MILD_LOGIT:g}."),
           ((f["mse"] or 0) - 1, "Off by one: count steps from 1 (the first update is step 1), as steps_to_90 does.")]
    return [(v, text) for v, text in out if v is not None and v != f["mse"] and v > 0]


def _mild_wrong(hp: Any, train: tuple, test: tuple) -> list[tuple[int, str]]:
    f = _mild_figures(hp, train, test)
    return [(v, text.split(";")[0].split(":")[0][:25]) for v, text in _mild_mistakes(f)]


def _run_mild_start(answer: Any, *, hp: Any, train: tuple, test: tuple) -> bool:
    if answer is None or answer is Ellipsis:
        return ex.check_value("02.mild_start", answer, 0)
    f = _mild_figures(hp, train, test)
    mistakes = [(v, text.replace("{wl}", f"{hp.wrong_logit:g}")) for v, text in _mild_mistakes(f)]
    return ex.check_value("02.mild_start", answer, f["mse"] if f["mse"] is not None else float("nan"), atol=0.5,
                          rtol=0.0, mistakes=mistakes,
                          hint=f"an integer: the first step (from 1) with held-out accuracy ≥ 0.9, sigmoid + MSE, "
                               f"start at ∓{MILD_LOGIT:g}, at most {MILD_BUDGET} steps; accepted exactly")


def test_context() -> dict[str, object]:
    """The keyword arguments the chapter's experiment check needs, rebuilt as the notebook builds them in the fast
    profile (for the test suite)."""
    from ..core import config

    hp = config.chapter("02_losses").hparams("fast")

    def blobs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        gen = torch.Generator().manual_seed(seed)
        labels = (torch.arange(n) % 2).double()
        points = torch.randn(n, 2, generator=gen, dtype=torch.float64)
        points[:, 0] += (2 * labels - 1) * hp.blob_shift
        return points, labels

    seed = config.DEFAULT_SEED
    return {"hp": hp, "train": blobs(hp.blob_n, seed), "test": blobs(hp.blob_n, seed + hp.test_seed_offset)}


EXERCISES: list[Exercise] = [
    Exercise("02.logsumexp", "implement", 2, "stable log-sum-exp", _run_logsumexp, lambda: _logsumexp,
             hint="m = v.max(dim=-1, keepdim=True).values; LSE = m + log Σ exp(v − m), then drop the kept dimension.",
             wrong=_LSE_WRONG),
    Exercise("02.bce", "implement", 2, "binary cross-entropy from logits", _run_bce, lambda: _bce,
             hint="−mean(y·log σ(s) + (1 − y)·log(1 − σ(s))), with F.logsigmoid(s) and F.logsigmoid(−s) for the two "
                  "logs.", wrong=_BCE_WRONG),
    Exercise("02.kl", "implement", 2, "KL divergence with zero probabilities", _run_kl, lambda: _kl,
             hint="torch.xlogy(a, b) computes a·log b and gives 0 when a = 0: KL = Σ (xlogy(p, p) − xlogy(p, q)) over "
                  "the last dimension.", wrong=_KL_WRONG),
    Exercise("02.smooth_targets", "derive", 1, "smoothed targets", _run_smooth, lambda: _smooth,
             hint="q = (1 − ε)·Y + ε/K, with Y the one-hot matrix.", wrong=_SMOOTH_WRONG),
    Exercise("02.ce_gradient", "derive", 1, "a cross-entropy gradient by hand", _run_ce_gradient, lambda: _CE_GRAD,
             hint="Section 5: the gradient with respect to the logits is p − y.", wrong=_CE_GRAD_WRONG),
    Exercise("02.mild_start", "experiment", 2, "sigmoid + MSE from a mildly wrong start", _run_mild_start,
             lambda hp, train, test: _mild_figures(hp, train, test)["mse"],
             hint=f"Copy §6's loop for the sigmoid + MSE loss only, start at w = (−{MILD_LOGIT:g}/hp.blob_shift, 0), "
                  "and stop at the first step whose held-out accuracy reaches 0.9.", wrong=_mild_wrong),
]
