"""Chapter 01 (neural networks from scratch): the exercises' references, known mistakes and hints."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from . import Exercise, copying
from . import checkers as ex

# ---- 01.relu_backward (implement): step 3 of backprop with ReLU instead of tanh ---------------------------


def _relu_backward(G_H: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """G_A = G_H ⊙ 1[A > 0]: G_H, A (N, M) -> (N, M) (the slope at a = 0 is taken to be 0)."""
    return G_H * (A > 0).to(G_H.dtype)


def _relu_cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Random (N, M) pairs in float64 with all sizes different, plus edge cases: pre-activations exactly 0 (where
    the slope convention decides), a row that is all negative, and a single example (1, M)."""
    g = torch.Generator().manual_seed(101)
    cases = [(torch.randn(n, m, generator=g, dtype=torch.float64), torch.randn(n, m, generator=g, dtype=torch.float64))
             for n, m in ((4, 3), (6, 5), (2, 7))]
    zeros = torch.tensor([[0.0, 1.5, -2.0], [0.0, 0.0, 0.3]], dtype=torch.float64)
    cases.append((torch.tensor([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]], dtype=torch.float64), zeros))
    cases.append((torch.randn(3, 4, generator=g, dtype=torch.float64), -torch.rand(3, 4, generator=g,
                                                                                     dtype=torch.float64) - 0.1))
    cases.append((torch.randn(1, 6, generator=g, dtype=torch.float64), torch.randn(1, 6, generator=g,
                                                                                     dtype=torch.float64)))
    return cases


def _relu_value(G, A):
    return G * torch.relu(A)


def _relu_identity(G, A):
    return G


def _relu_reversed(G, A):
    return G * (A < 0).to(G.dtype)


def _relu_slope_one_at_zero(G, A):
    return G * (A >= 0).to(G.dtype)


_RELU_WRONG: list[tuple[Any, str]] = [
    (_relu_value, "activation's value"),
    (_relu_identity, "must be blocked"),
    (_relu_reversed, "reversed"),
    (_relu_slope_one_at_zero, "a = 0"),
]


def _run_relu(answer: Any) -> bool:
    return ex.check_function(
        "01.relu_backward", copying(answer), _relu_backward, _relu_cases(), atol=0, rtol=0,
        mistakes=[(_relu_value, "You multiplied by ReLU(A), the activation's value; the chain rule needs its slope, "
                                "which is 1 where A > 0 and 0 elsewhere."),
                  (_relu_identity, "The gradient must be blocked (set to 0) where A <= 0: ReLU is flat there, so "
                                   "nothing upstream reaches those units."),
                  (_relu_reversed, "The slope is reversed: ReLU passes gradient where A > 0 and blocks it where "
                                   "A < 0."),
                  (_relu_slope_one_at_zero, "At a = 0 exactly the statement asks for slope 0 (PyTorch's choice): "
                                            "use A > 0, not A >= 0. The check has pre-activations that are exactly "
                                            "0.")],
        hint="G_A = G_H * (A > 0), with the boolean mask turned into G_H's dtype")


# ---- 01.adam (implement): T Adam steps from the update rule of §4 -----------------------------------------


def _adam_reference(theta0: torch.Tensor, grads: torch.Tensor, lr: float) -> torch.Tensor:
    """``torch.optim.Adam`` (β = (0.9, 0.999), ε = 1e-8) fed the rows of ``grads`` (T, P) one step each, starting at
    ``theta0`` (P,); returns the final parameters (P,)."""
    p = theta0.clone().requires_grad_(True)
    opt = torch.optim.Adam([p], lr=lr)
    for grad in grads:
        p.grad = grad.clone()
        opt.step()
    theta_final = p.detach()
    return theta_final


def _adam_cases() -> list[tuple[torch.Tensor, torch.Tensor, float]]:
    """Random runs of 5 steps (gradients of scale 1 and 1e-3, where ε's place matters), one single step (Adam's first
    step is lr · sign(g)), and a run whose gradients stay 0 in some coordinates."""
    g = torch.Generator().manual_seed(102)
    theta0 = torch.randn(6, generator=g, dtype=torch.float64)
    grads = torch.randn(5, 6, generator=g, dtype=torch.float64)
    sparse = torch.randn(4, 3, generator=g, dtype=torch.float64)
    sparse[:, 1] = 0.0
    return [(theta0, grads, 0.1), (theta0, 1e-3 * grads, 0.01), (theta0[:4], grads[:1, :4], 0.05),
            (torch.randn(3, generator=g, dtype=torch.float64), sparse, 0.1)]


def _adam_no_bias_correction(theta0, grads, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    theta, m, s = theta0.clone(), torch.zeros_like(theta0), torch.zeros_like(theta0)
    for grad in grads:
        m, s = beta1 * m + (1 - beta1) * grad, beta2 * s + (1 - beta2) * grad**2
        theta = theta - lr * m / (s.sqrt() + eps)
    return theta


def _adam_eps_inside(theta0, grads, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    theta, m, s = theta0.clone(), torch.zeros_like(theta0), torch.zeros_like(theta0)
    for t, grad in enumerate(grads, start=1):
        m, s = beta1 * m + (1 - beta1) * grad, beta2 * s + (1 - beta2) * grad**2
        theta = theta - lr * (m / (1 - beta1**t)) / (s / (1 - beta2**t) + eps).sqrt()
    return theta


def _adam_sgd(theta0, grads, lr):
    return theta0 - lr * grads.sum(dim=0)


def _adam_unsquared(theta0, grads, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    theta, m, s = theta0.clone(), torch.zeros_like(theta0), torch.zeros_like(theta0)
    for t, grad in enumerate(grads, start=1):
        m, s = beta1 * m + (1 - beta1) * grad, beta2 * s + (1 - beta2) * grad.abs()
        theta = theta - lr * (m / (1 - beta1**t)) / ((s / (1 - beta2**t)) + eps)
    return theta


_ADAM_WRONG: list[tuple[Any, str]] = [
    (_adam_no_bias_correction, "bias correction"),
    (_adam_eps_inside, "outside the square root"),
    (_adam_sgd, "plain SGD"),
    (_adam_unsquared, "squared gradient"),
]


def _run_adam(answer: Any) -> bool:
    return ex.check_function(
        "01.adam", copying(answer), _adam_reference, _adam_cases(), atol=1e-9, rtol=1e-7,
        mistakes=[(_adam_no_bias_correction, "You skipped the bias correction: divide m by (1 - beta1^t) and s by "
                                             "(1 - beta2^t), with t counting from 1. Without it the first steps are "
                                             "far too small (m and s start at 0)."),
                  (_adam_eps_inside, "epsilon goes outside the square root: sqrt(s_hat) + eps. Inside, it changes "
                                     "the step noticeably when the gradients are small (the 1e-3 case)."),
                  (_adam_sgd, "That is plain SGD, not Adam: keep the running averages m and s and step by "
                              "lr * m_hat / (sqrt(s_hat) + eps)."),
                  (_adam_unsquared, "s averages the squared gradient g², and the step divides by its square root; "
                                    "averaging |g| gives a different rule.")],
        hint="t starts at 1; m and s start at zero; the update uses the bias-corrected m_hat and s_hat.")


# ---- 01.backward_deep (implement): backprop through a network with two tanh hidden layers ------------------

_DEEP_KEYS = ("W1", "b1", "W2", "b2", "W3", "b3")


def _deep_reference(params: dict[str, torch.Tensor], X: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """Gradients of the mean cross-entropy of Z = tanh(tanh(X W1 + b1) W2 + b2) W3 + b3 against y, by autograd:
    X (N, D), y (N,) int, W1 (D, M1), W2 (M1, M2), W3 (M2, K), biases (M1,), (M2,), (K,); same shapes out."""
    leaves = {k: params[k].clone().requires_grad_(True) for k in _DEEP_KEYS}
    H1 = torch.tanh(X @ leaves["W1"] + leaves["b1"])
    H2 = torch.tanh(H1 @ leaves["W2"] + leaves["b2"])
    loss = F.cross_entropy(H2 @ leaves["W3"] + leaves["b3"], y)
    grads = torch.autograd.grad(loss, [leaves[k] for k in _DEEP_KEYS])
    return dict(zip(_DEEP_KEYS, grads))


def _deep_by_hand(params, X, y, *, tanh_slope2=True, mean=True, slope_of_a=False, bias_mean=False):
    """The chain rule written out; the keyword switches build the known mistakes."""
    A1 = X @ params["W1"] + params["b1"]
    H1 = torch.tanh(A1)
    A2 = H1 @ params["W2"] + params["b2"]
    H2 = torch.tanh(A2)
    Z = H2 @ params["W3"] + params["b3"]
    G_Z = torch.softmax(Z, dim=1) - F.one_hot(y, Z.shape[1]).to(Z.dtype)
    if mean:
        G_Z = G_Z / len(X)
    bias = (lambda G: G.mean(dim=0)) if bias_mean else (lambda G: G.sum(dim=0))
    slope = (lambda A, H: 1 - A * A) if slope_of_a else (lambda A, H: 1 - H * H)
    G_A2 = G_Z @ params["W3"].T * (slope(A2, H2) if tanh_slope2 else 1.0)
    G_A1 = G_A2 @ params["W2"].T * slope(A1, H1)
    return {"W1": X.T @ G_A1, "b1": bias(G_A1), "W2": H1.T @ G_A2, "b2": bias(G_A2), "W3": H2.T @ G_Z,
            "b3": bias(G_Z)}


def _deep_cases() -> list[tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]]:
    """Random float64 networks with all sizes different, a single example (N = 1), and a network whose first layer
    is saturated (large weights: tanh' ≈ 0 for many units)."""
    g = torch.Generator().manual_seed(103)
    cases = []
    for n, d, m1, m2, k, scale in ((6, 3, 4, 5, 2, 1.0), (8, 2, 5, 3, 4, 1.0), (1, 4, 3, 6, 3, 1.0),
                                   (5, 3, 4, 2, 3, 4.0)):
        shapes = {"W1": (d, m1), "b1": (m1,), "W2": (m1, m2), "b2": (m2,), "W3": (m2, k), "b3": (k,)}
        params = {key: torch.randn(*shape, generator=g, dtype=torch.float64) for key, shape in shapes.items()}
        params["W1"] = scale * params["W1"]
        cases.append((params, torch.randn(n, d, generator=g, dtype=torch.float64), torch.randint(k, (n,), generator=g)))
    return cases


def _flat_grads(fn: Any) -> Any:
    """``fn(params, X, y)`` -> its gradient dict flattened into one vector in the order W1, b1, …, b3 (a missing
    key or a wrong shape raises, and the check reports it), on copies of the inputs."""
    if not callable(fn):
        return fn

    def wrapped(params: dict[str, torch.Tensor], X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = fn({k: v.clone() for k, v in params.items()}, X.clone(), y.clone())
        for key in _DEEP_KEYS:
            if tuple(out[key].shape) != tuple(params[key].shape):
                raise ValueError(f"the gradient of {key} has shape {tuple(out[key].shape)}, but {key} has "
                                 f"{tuple(params[key].shape)}")
        return torch.cat([out[key].reshape(-1) for key in _DEEP_KEYS])
    return wrapped


def _deep_no_slope2(params, X, y):
    return _deep_by_hand(params, X, y, tanh_slope2=False)


def _deep_summed(params, X, y):
    return _deep_by_hand(params, X, y, mean=False)


def _deep_slope_of_a(params, X, y):
    return _deep_by_hand(params, X, y, slope_of_a=True)


def _deep_bias_mean(params, X, y):
    return _deep_by_hand(params, X, y, bias_mean=True)


_DEEP_WRONG: list[tuple[Any, str]] = [
    (_deep_no_slope2, "second hidden layer"),
    (_deep_summed, "mean"),
    (_deep_slope_of_a, "1 − H⊙H"),
    (_deep_bias_mean, "sums over the rows"),
]


def _run_backward_deep(answer: Any) -> bool:
    return ex.check_function(
        "01.backward_deep", _flat_grads(answer), _flat_grads(_deep_reference), _deep_cases(), atol=1e-10, rtol=1e-7,
        mistakes=[(_flat_grads(_deep_no_slope2), "The second hidden layer's tanh needs its slope too: "
                                                 "G_A2 = (G_Z W3ᵀ) ⊙ (1 − H2⊙H2), exactly as in step 3 for the "
                                                 "first layer."),
                  (_flat_grads(_deep_summed), "The loss is the mean over the N examples: G_Z = (P − Y)/N. Without "
                                              "the 1/N every gradient is N times too large."),
                  (_flat_grads(_deep_slope_of_a), "tanh'(a) = 1 − tanh(a)² = 1 − H⊙H, computed from the activation "
                                                  "H = tanh(A), not 1 − A⊙A from the pre-activation."),
                  (_flat_grads(_deep_bias_mean), "A bias is added to every row, so its gradient sums over the rows "
                                                 "(G.sum(dim=0)); the 1/N is already inside G_Z.")],
        hint="forward: A1, H1, A2, H2, Z; backward: G_Z = (P − Y)/N, then for each layer G_W = input.T @ G, "
             "G_b = G.sum(0), and G_input = G @ W.T ⊙ (1 − H⊙H) through each tanh.")


# ---- 01.n_params (derive) and 01.linear_boundary (concept): kept from the chapter's first edition ---------


def _n_params(D: int, M: int, K: int) -> int:
    return D * M + M + M * K + K


_N_PARAMS_CASES = [(2, 32, 2), (3, 5, 4), (784, 128, 10), (1, 1, 1)]
_N_PARAMS_WRONG: list[tuple[Any, str]] = [
    (lambda D, M, K: D * M + M * K, "forgot the biases"),
    (lambda D, M, K: D * M + M * K + M, "output layer has a bias"),
    (lambda D, M, K: D * M + D + M * K + M, "layer's *outputs*"),
]


def _run_n_params(answer: Any) -> bool:
    return ex.check_function(
        "01.n_params", answer,
        lambda D, M, K: sum(p.numel() for p in nn.Sequential(nn.Linear(D, M), nn.Tanh(), nn.Linear(M, K)).parameters()),
        _N_PARAMS_CASES, atol=0, rtol=0,
        mistakes=[(_N_PARAMS_WRONG[0][0], "You forgot the biases: one per unit of each layer (M + K)."),
                  (_N_PARAMS_WRONG[1][0], "The output layer has a bias too (K more numbers)."),
                  (_N_PARAMS_WRONG[2][0], "A bias belongs to a layer's *outputs*: b1 has M entries, b2 has K.")],
        hint="W1 is D×M, b1 has M entries, W2 is M×K, b2 has K.")


_LINE = "Width and depth do not help without a non-linearity: a product of matrices is one matrix, so the whole " \
        "stack is a single linear layer (section 5 checks this numerically)."
_CIRCLE = ("A circle needs a non-linear function of the input (such as x1² + x2²); a composition of linear maps has "
           "none.")
_LINEAR_WRONG = [("b", "product of matrices"), ("c", "circle needs"), ("only straight lines", "letter")]


def _run_linear_boundary(answer: Any) -> bool:
    return ex.check_choice(
        "01.linear_boundary", answer, "a",
        mistakes={"b": _LINE, "c": _CIRCLE, "any curve, given enough units": _LINE,
                  "straight lines and circles": _CIRCLE,
                  "only straight lines": 'Right idea — answer with the option\'s letter ("a", "b" or "c").'},
        hint='Answer "a", "b" or "c".')


# ---- 01.two_units (experiment): the moons MLP of §5 with two hidden units ----------------------------------

TWO_UNITS_BAND = 0.005  # accuracy, accepted within ± this


def _fit_moons(hidden: int, run: Any, train: tuple[torch.Tensor, torch.Tensor]) -> nn.Sequential:
    """The network of §5 (2 → hidden tanh units → 2) trained as ``fit_adam`` trains it: seeded with run.seed,
    full-batch Adam at hp.fit_lr for hp.fit_steps steps. The global torch RNG is left as it was."""
    x, y = train
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as ac.setup sets it for this chapter: tiny tensors, and immune to a busy machine
    try:
        with torch.random.fork_rng():
            torch.manual_seed(run.seed)
            net = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 2))
            opt = torch.optim.Adam(net.parameters(), lr=run.hp.fit_lr)
            for _ in range(run.hp.fit_steps):
                loss = F.cross_entropy(net(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
    finally:
        torch.set_num_threads(threads)
    return net


def _accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return (net(x).argmax(dim=1) == y).float().mean().item()


def _two_units_figures(run: Any, train: tuple, test: tuple, *, wide: bool = True) -> dict[str, float]:
    """The 2-unit network's test accuracy ("two") and the figures of the known mistakes; ``wide=False`` skips
    retraining the unchanged network (its "wide" figure is then nan)."""
    two = _fit_moons(2, run, train)
    acc = _accuracy(two, *test)
    return {"two": acc, "two_train": _accuracy(two, *train), "two_error": 1.0 - acc,
            "wide": _accuracy(_fit_moons(run.hp.hidden, run, train), *test) if wide else float("nan")}


def _two_units_mistakes(f: dict[str, float]) -> list[tuple[float, str]]:
    return [(f["wide"], "That is the unchanged network's test accuracy (hp.hidden tanh units, §5); train it again with "
                        "make_mlp(2)."),
            (f["two_train"], "That is measured on the training points; report the accuracy on the test set "
                             "(x_test32, y_test)."),
            (f["two_error"], "That is the error rate (1 − accuracy); report the accuracy.")]


def _two_units_wrong(run: Any, train: tuple, test: tuple) -> list[tuple[float, str]]:
    f = _two_units_figures(run, train, test)
    frags = ["unchanged network", "training points", "error rate"]
    return [(v, frag) for (v, _), frag in zip(_two_units_mistakes(f), frags) if abs(v - f["two"]) > TWO_UNITS_BAND]


def _run_two_units(answer: Any, *, run: Any, train: tuple, test: tuple) -> bool:
    if answer is None or answer is Ellipsis:
        return ex.check_value("01.two_units", answer, 0.0)
    f = _two_units_figures(run, train, test, wide=False)
    if not ex._close(answer, f["two"], TWO_UNITS_BAND, 0.0):  # a wrong answer: now the unchanged network too
        f["wide"] = _accuracy(_fit_moons(run.hp.hidden, run, train), *test)
    mistakes = [(v, text) for v, text in _two_units_mistakes(f) if abs(v - f["two"]) > TWO_UNITS_BAND]
    return ex.check_value("01.two_units", answer, f["two"], atol=TWO_UNITS_BAND, rtol=0.0, mistakes=mistakes,
                          hint=f"accepted within ±{TWO_UNITS_BAND} of the test accuracy two tanh units reach here")


def test_context() -> dict[str, object]:
    """The keyword arguments the chapter's experiment check needs, rebuilt as the notebook builds them in the fast
    profile (for the test suite)."""
    from types import SimpleNamespace

    from ..core import config
    from ..datasets import two_moons

    hp = config.chapter("01_neural_networks").hparams("fast")
    seed = config.DEFAULT_SEED
    x_train, y_train = two_moons(hp.n_train, noise=hp.moons_noise, seed=seed)
    x_test, y_test = two_moons(hp.n_test, noise=hp.moons_noise, seed=seed + hp.test_seed_offset)
    return {"run": SimpleNamespace(hp=hp, seed=seed), "train": (x_train.float(), y_train),
            "test": (x_test.float(), y_test)}


EXERCISES: list[Exercise] = [
    Exercise("01.relu_backward", "implement", 1, "backprop through ReLU", _run_relu, lambda: _relu_backward,
             hint="ReLU's slope is 1 where a > 0 and 0 elsewhere (0 at a = 0 too); the chain rule multiplies the "
                  "upstream gradient by it elementwise.", wrong=_RELU_WRONG),
    Exercise("01.adam", "implement", 2, "Adam by hand", _run_adam, lambda: _adam_reference,
             hint="m = β1·m + (1 − β1)·g; s = β2·s + (1 − β2)·g²; m̂ = m/(1 − β1^t), ŝ = s/(1 − β2^t) with t = 1, 2, …; "
                  "θ ← θ − lr·m̂/(√ŝ + ε).", wrong=_ADAM_WRONG),
    Exercise("01.backward_deep", "implement", 3, "backprop through two hidden layers", _run_backward_deep,
             lambda: _deep_by_hand,
             hint="Run the forward pass keeping A1, H1, A2, H2 and P = softmax(Z). Then G_Z = (P − Y)/N; "
                  "G_W3 = H2ᵀ G_Z, G_b3 = Σ rows of G_Z; G_A2 = G_Z W3ᵀ ⊙ (1 − H2⊙H2); the same two steps once more "
                  "for layer 2 (input H1) and layer 1 (input X).", wrong=_DEEP_WRONG),
    Exercise("01.n_params", "derive", 1, "counting parameters", _run_n_params, lambda: _n_params,
             hint="Every layer has a weight matrix (inputs × outputs) and one bias per output.", wrong=_N_PARAMS_WRONG),
    Exercise("01.linear_boundary", "concept", 1, "why the non-linearity", _run_linear_boundary, lambda: "a",
             hint="What is the product of ten matrices?", wrong=_LINEAR_WRONG),
    Exercise("01.two_units", "experiment", 2, "the moons network with two hidden units", _run_two_units,
             lambda run, train, test: _two_units_figures(run, train, test, wide=False)["two"],
             hint="torch.manual_seed(run.seed); make_mlp(2); train it with Adam(lr=hp.fit_lr) for hp.fit_steps "
                  "full-batch steps (what fit_adam does with hp.hidden); then accuracy(net, x_test32, y_test).",
             wrong=_two_units_wrong),
]
