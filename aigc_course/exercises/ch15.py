"""Chapter 15 (scaling out: data-parallel training): the exercises' references, known mistakes and hints."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..apps import distributed as dp
from . import Exercise, copying
from . import checkers as ex

# ---- 15.ring_bytes (derive): bytes each rank sends in a ring all-reduce ------------------------------------

_RING_CASES = [(4e6, 2), (4e6, 4), (1000, 8), (1000, 1), (12, 3)]


def _ring_half(s, n):
    return (n - 1) / n * s


def _ring_whole_tensor(s, n):
    return 2 * (n - 1) * s


def _ring_two_s(s, n):
    return 2 * s


def _ring_per_float(s, n):
    return 2 * (n - 1) * s / n / 4


_RING_WRONG: list[tuple[Any, str]] = [(_ring_half, "reduce-scatter half"), (_ring_whole_tensor, "one chunk"),
                                      (_ring_two_s, "2(n−1)/n"), (_ring_per_float, "already in bytes")]


def _run_ring_bytes(answer: Any) -> bool:
    return ex.check_function(
        "15.ring_bytes", answer, dp.ring_allreduce_bytes, _RING_CASES,
        mistakes=[(_ring_half, "That is only the reduce-scatter half: the all-gather sends as much again."),
                  (_ring_whole_tensor, "Each round sends one chunk of size/n, not the whole tensor."),
                  (_ring_two_s, "Close for large n, but with n processes it is 2(n−1)/n of the size (0 for n = 1)."),
                  (_ring_per_float, "size_bytes is already in bytes: no division by 4.")],
        hint="2(n − 1) rounds, one chunk of size/n each")


# ---- 15.global_mean (derive): the loss of the global batch from unequal shards ------------------------------

_MEAN_CASES = [([2.0, 4.0], [16, 16]), ([2.0, 4.0], [1, 3]), ([1.5, 2.5, 3.5], [10, 20, 30]), ([3.0], [7])]


def _global_mean(losses: Sequence[float], sizes: Sequence[int]) -> float:
    """The mean over all examples of shards with mean losses ``losses`` and sizes ``sizes``: Σ n_r L_r / Σ n_r."""
    return float(np.dot(losses, sizes) / np.sum(sizes))


def _mean_plain(ls, ns):
    return float(np.mean(ls))


def _mean_total(ls, ns):
    return float(np.dot(ls, ns))


def _mean_summed(ls, ns):
    return float(np.sum(ls))


_MEAN_WRONG: list[tuple[Any, str]] = [(_mean_plain, "weigh each shard"), (_mean_total, "divide by their number"),
                                      (_mean_summed, "counts every shard as one example")]


def _run_global_mean(answer: Any) -> bool:
    return ex.check_function(
        "15.global_mean", answer, _global_mean, _MEAN_CASES,
        mistakes=[(_mean_plain, "A plain mean is right only for equal shards; weigh each shard by its size (the "
                                "number of examples it averaged)."),
                  (_mean_total, "That is the sum over all examples: divide by their number."),
                  (_mean_summed, "Summing the shard means counts every shard as one example.")],
        hint="Σ n_r L_r / Σ n_r")


# ---- 15.accumulate (implement): the gradient of a batch from k micro-batches ------------------------------


def _flat_grad(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


def _full_batch_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor, k: int) -> torch.Tensor:
    """The reference: the gradient (P,) of the mean cross-entropy over the whole batch ``x`` (B, D), ``y`` (B,),
    computed in one pass — what accumulation over ``k`` equal micro-batches must reproduce."""
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    return _flat_grad(model)


def _accum_cases() -> list[tuple]:
    """Seeded small classifiers whose ``.grad`` still holds a previous step's gradient, batches of several sizes;
    k = 1 (no accumulation) and k = B (micro-batches of one example) as edge cases."""
    g = torch.Generator().manual_seed(1503)
    cases = []
    for b, d, c, k, seed in ((8, 5, 3, 2, 1), (12, 6, 4, 3, 2), (6, 4, 3, 1, 3), (5, 3, 2, 5, 4)):
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(d, 7), nn.Tanh(), nn.Linear(7, c))
        for p in model.parameters():
            p.grad = torch.randn(p.shape, generator=g)  # stale: left over from the previous step
        cases.append((model, torch.randn(b, d, generator=g), torch.randint(0, c, (b,), generator=g), k))
    return cases


def _accum_no_scale(model, x, y, k):
    model.zero_grad()
    for xm, ym in zip(x.chunk(k), y.chunk(k)):
        F.cross_entropy(model(xm), ym).backward()
    return _flat_grad(model)


def _accum_zero_inside(model, x, y, k):
    for xm, ym in zip(x.chunk(k), y.chunk(k)):
        model.zero_grad()
        (F.cross_entropy(model(xm), ym) / k).backward()
    return _flat_grad(model)


def _accum_stale(model, x, y, k):
    for xm, ym in zip(x.chunk(k), y.chunk(k)):
        (F.cross_entropy(model(xm), ym) / k).backward()
    return _flat_grad(model)


def _accum_summed_loss(model, x, y, k):
    model.zero_grad()
    for xm, ym in zip(x.chunk(k), y.chunk(k)):
        (F.cross_entropy(model(xm), ym, reduction="sum") / k).backward()
    return _flat_grad(model)


_ACCUM_MISTAKES: list[tuple[Any, str]] = [
    (_accum_stale, "Your result still contains the gradient of the previous step: backward *adds* to .grad, so set "
                   "the gradients to zero (model.zero_grad()) once, before the first micro-batch."),
    (_accum_zero_inside, "You zero the gradients inside the loop, so only the last micro-batch's gradient (divided by "
                         "k) survives: zero once before the loop and let backward add the k gradients up."),
    (_accum_no_scale, "Your gradient is k times too large: backward adds the k micro-batch gradients, so divide each "
                      "micro-batch's loss by k (the mean of k means of equal size is the batch mean)."),
    (_accum_summed_loss, "Use the *mean* cross-entropy of each micro-batch (divided by k): a summed loss makes the "
                         "gradient B/k times too large and dependent on the batch size."),
]
_ACCUM_WRONG: list[tuple[Any, str]] = [(_accum_stale, "previous step"), (_accum_zero_inside, "only the last"),
                                       (_accum_no_scale, "k times too large"), (_accum_summed_loss, "*mean*")]


def _run_accumulate(answer: Any) -> bool:
    return ex.check_function(
        "15.accumulate", copying(answer), copying(_full_batch_grad), _accum_cases(), atol=1e-6, rtol=1e-5,
        mistakes=[(copying(f), text) for f, text in _ACCUM_MISTAKES],
        hint="model.zero_grad(); for each of x.chunk(k), y.chunk(k): (F.cross_entropy(model(xm), ym) / k).backward(); "
             "then concatenate the flattened p.grad")


# ---- 15.buckets (implement): DDP's gradient buckets ---------------------------------------------------------


def _buckets(sizes: Sequence[int], cap: int) -> list[list[int]]:
    """DDP's bucket assignment (one size limit): parameters ``0 … n−1`` with byte sizes ``sizes`` are visited in
    *reverse* order and appended to the open bucket; a bucket is closed as soon as it holds ``>= cap`` bytes. The
    last open bucket, if not empty, is kept. Returns the buckets as lists of parameter indices."""
    out, current, total = [], [], 0
    for i in reversed(range(len(sizes))):
        current.append(i)
        total += sizes[i]
        if total >= cap:
            out.append(current)
            current, total = [], 0
    return out + ([current] if current else [])  # the last, partly filled bucket


def _as_assignment(buckets: Any, n: int) -> np.ndarray:
    """A bucket list as the (n,) bucket number of every parameter, so that two answers compare as arrays: −1 for
    a parameter in no bucket, all NaN (matches nothing) when an index is out of range or in two buckets."""
    out = np.full(n, -1.0)
    for b, bucket in enumerate(buckets):
        for i in bucket:
            i = int(i)
            if not 0 <= i < n or out[i] >= 0:
                return np.full(n, np.nan)
            out[i] = b
    return out


def _assigning(fn: Any) -> Any:
    if not callable(fn):
        return fn

    def wrapped(sizes: list[int], cap: int) -> np.ndarray:
        return _as_assignment(fn(list(sizes), cap), len(sizes))
    return wrapped


def _bucket_cases() -> list[tuple[list[int], int]]:
    """Random parameter sizes (bytes) and caps, plus: a bucket that reaches the cap exactly, one parameter larger
    than the cap, everything in one bucket, and a model with no parameters."""
    rng = np.random.default_rng(1505)
    cases = [([int(s) for s in rng.integers(4, 600, n)], cap) for n, cap in ((9, 1000), (14, 700), (6, 2500))]
    cases += [([100, 300, 200, 500, 400], 900), ([40, 5000, 40, 40, 40], 100), ([10, 20, 30], 10_000), ([], 100)]
    return cases


def _buckets_forward(sizes, cap):
    return [[len(sizes) - 1 - i for i in b] for b in _buckets(list(reversed(sizes)), cap)]


def _buckets_fit_first(sizes, cap):
    out, current, total = [], [], 0
    for i in reversed(range(len(sizes))):
        if current and total + sizes[i] > cap:
            out.append(current)
            current, total = [], 0
        current.append(i)
        total += sizes[i]
    return out + ([current] if current else [])


def _buckets_strict(sizes, cap):
    out, current, total = [], [], 0
    for i in reversed(range(len(sizes))):
        current.append(i)
        total += sizes[i]
        if total > cap:
            out.append(current)
            current, total = [], 0
    return out + ([current] if current else [])


def _buckets_drop_last(sizes, cap):
    full = _buckets(sizes, cap)
    return full[:-1] if full and sum(sizes[i] for i in full[-1]) < cap else full


_BUCKET_MISTAKES: list[tuple[Any, str]] = [
    (_buckets_forward, "Fill the buckets in *reverse* order of the parameters (last layer first): backward produces "
                       "the last layers' gradients first, so their bucket can be all-reduced while backward goes on."),
    (_buckets_fit_first, "You close a bucket *before* a parameter that would overflow it. DDP appends the parameter "
                         "first and closes the bucket once it holds >= cap bytes (so a bucket may end above the cap)."),
    (_buckets_strict, "Close a bucket when it holds >= cap bytes, not only > cap: a bucket that reaches the cap "
                      "exactly is full."),
    (_buckets_drop_last, "Keep the last, partly filled bucket: its gradients must be all-reduced too (every "
                         "parameter is in exactly one bucket)."),
]
_BUCKET_WRONG: list[tuple[Any, str]] = [(_buckets_forward, "*reverse*"), (_buckets_fit_first, "*before*"),
                                        (_buckets_strict, "not only > cap"), (_buckets_drop_last, "last, partly")]


def _run_buckets(answer: Any) -> bool:
    return ex.check_function(
        "15.buckets", _assigning(answer), _assigning(_buckets), _bucket_cases(), atol=0.0, rtol=0.0,
        mistakes=[(_assigning(f), text) for f, text in _BUCKET_MISTAKES],
        hint="for i from n−1 down to 0: append i to the open bucket and add sizes[i]; when the bucket holds >= cap "
             "bytes, close it; keep the last open bucket if it is not empty")


# ---- 15.unequal_shards (experiment): a naive average of unequal shards ------------------------------------

UNEQUAL_BAND = 0.001  # the check accepts the relative error within ± this


def _grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The gradient (P,) of the mean cross-entropy of the GPT ``model`` on windows ``x`` (B, T), targets ``y``."""
    model.zero_grad()
    logits = model(x)
    F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).backward()
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


def _unequal_figures(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, unchanged: bool = True
                     ) -> dict[str, float]:
    """The experiment's figure (``"quarter"``) and those of the usual slips; ``unchanged=False`` skips the two
    backward passes of §2's unchanged split (``"one"``), which only a wrong answer needs."""
    model = copy.deepcopy(model)
    full = _grad(model, x, y)
    out: dict[str, float] = {}
    for name, cut in (("quarter", len(x) // 4), ("one", 1))[: 2 if unchanged else 1]:
        a, b = _grad(model, x[:cut], y[:cut]), _grad(model, x[cut:], y[cut:])
        naive = (a + b) / 2
        out[name] = ((naive - full).norm() / full.norm()).item()
        if name == "quarter":
            out["max_abs"] = (naive - full).abs().max().item()
            out["weighted"] = (((cut * a + (len(x) - cut) * b) / len(x) - full).norm() / full.norm()).item()
            out["swapped"] = ((naive - full).norm() / naive.norm()).item()
    return out


def _unequal_mistakes(f: dict[str, float]) -> list[tuple[float, str]]:
    unchanged = [(f["one"], "That is the unchanged split of §2 (1 and B − 1 windows); cut the batch after B/4 "
                            "windows.")] if "one" in f else []
    return [*unchanged,
            (f["weighted"], "That is the size-weighted average, which is right (≈ 0); the experiment measures the "
                            "*plain* average (g_1 + g_2)/2 of the two shard gradients."),
            (f["max_abs"], "That is the largest absolute difference; report the relative error ‖g_naive − ∇L‖ / ‖∇L‖."),
            (f["swapped"], "Divide by the norm of the full-batch gradient ‖∇L‖, not by that of the naive average.")]


def _unequal_wrong(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[tuple[float, str]]:
    f = _unequal_figures(model, x, y)
    fragments = ["unchanged split", "size-weighted", "largest absolute", "not by that of the naive"]
    return [(value, frag) for (value, _), frag in zip(_unequal_mistakes(f), fragments)
            if abs(value - f["quarter"]) > UNEQUAL_BAND]


def _run_unequal(answer: Any, *, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> bool:
    f = _unequal_figures(model, x, y, unchanged=False)
    if not ex._close(answer, f["quarter"], UNEQUAL_BAND, 0.0):  # a wrong answer: the unchanged split too
        f = _unequal_figures(model, x, y)
    return ex.check_value(
        "15.unequal_shards", answer, f["quarter"], atol=UNEQUAL_BAND, rtol=0.0, mistakes=_unequal_mistakes(f),
        hint=f"accepted within ±{UNEQUAL_BAND} of what the chapter's check batch gives")


def test_context() -> dict[str, object]:
    """What ``15.unequal_shards``'s check needs, built as §2 of the notebook builds it (``fast`` sizes)."""
    from ..core import config
    from ..models import lm

    hp = config.chapter("15_scaling_out").hparams("fast")
    torch.manual_seed(0)
    sh = lm.shakespeare_data()
    model = lm.GPT(lm.GPTConfig(len(sh.vocab), hp.block_size, hp.n_layer, hp.n_head, hp.n_embd))
    x, y = dp.global_batch(sh.train, dp.DPConfig(block_size=hp.block_size, global_batch=hp.check_batch, seed=0), 0)
    return {"model": model, "x": x, "y": y}


# ---- 15.speedup (derive): the cost model's speed-up ---------------------------------------------------------

_SPEEDUP_CASES = [(0.1, 0.01, 0.005, 2), (0.1, 0.01, 0.005, 1), (1.0, 0.1, 0.02, 8), (0.01, 0.002, 0.02, 4)]


def _speedup(t_fb: float, t_opt: float, t_comm: float, n: int) -> float:
    """Step time of 1 process over that of ``n``: (t_fb + t_opt) / (t_fb/n + t_opt + t_comm·1[n > 1])."""
    return (t_fb + t_opt) / (t_fb / n + t_opt + (t_comm if n > 1 else 0.0))


def _speedup_ideal(a, o, c, n):
    return float(n)


def _speedup_opt_shrinks(a, o, c, n):
    return (a + o) / (a / n + o / n + (c if n > 1 else 0.0))


def _speedup_comm_always(a, o, c, n):
    return (a + o) / (a / n + o + c)


def _speedup_inverted(a, o, c, n):
    return (a / n + o + (c if n > 1 else 0.0)) / (a + o)


_SPEEDUP_WRONG: list[tuple[Any, str]] = [(_speedup_ideal, "ideal speed-up"), (_speedup_opt_shrinks, "optimizer step"),
                                         (_speedup_comm_always, "nothing to all-reduce"), (_speedup_inverted, "Upside")]


def _run_speedup(answer: Any) -> bool:
    return ex.check_function(
        "15.speedup", answer, _speedup, _SPEEDUP_CASES,
        mistakes=[(_speedup_ideal, "That is the ideal speed-up: communication and the optimizer step do not shrink "
                                   "with n."),
                  (_speedup_opt_shrinks, "Every process updates all parameters: the optimizer step does not get "
                                         "shorter with n."),
                  (_speedup_comm_always, "With one process there is nothing to all-reduce."),
                  (_speedup_inverted, "Upside down: 1-process time over n-process time.")],
        hint="(t_fb + t_opt) / (t_fb/n + t_opt + t_comm), with no t_comm for n = 1")


EXERCISES: list[Exercise] = [
    Exercise("15.ring_bytes", "derive", 1, "bytes sent per rank in a ring all-reduce", _run_ring_bytes,
             lambda: dp.ring_allreduce_bytes,
             hint="Count the rounds (reduce-scatter, then all-gather) and the size of the chunk sent in each.",
             wrong=_RING_WRONG),
    Exercise("15.global_mean", "derive", 1, "the loss of the global batch from unequal shards", _run_global_mean,
             lambda: _global_mean, hint="A shard's mean loss times its size is its summed loss.", wrong=_MEAN_WRONG),
    Exercise("15.accumulate", "implement", 2, "the gradient of a batch from k micro-batches", _run_accumulate,
             lambda: _full_batch_grad,
             hint="backward adds to .grad. Zero the gradients once, then for each of the k equal micro-batches "
                  "(x.chunk(k), y.chunk(k)) run backward on its mean cross-entropy divided by k; finally concatenate "
                  "the flattened p.grad of model.parameters().", wrong=_ACCUM_WRONG),
    Exercise("15.unequal_shards", "experiment", 2, "a plain average of shards of B/4 and 3B/4 windows", _run_unequal,
             lambda model, x, y: _unequal_figures(model, x, y, unchanged=False)["quarter"],
             hint="cut = len(x) // 4; g_naive = (flat_grad(check_model, x[:cut], y[:cut]) + "
                  "flat_grad(check_model, x[cut:], y[cut:])) / 2; report ‖g_naive − full‖ / ‖full‖.",
             wrong=_unequal_wrong),
    Exercise("15.buckets", "implement", 2, "DDP's gradient buckets", _run_buckets, lambda: _buckets,
             hint="Walk the parameters from the last to the first. Append each to the open bucket and add its bytes; "
                  "as soon as the bucket holds >= cap bytes, close it and open a new one. Keep the last bucket if it "
                  "is not empty.", wrong=_BUCKET_WRONG),
    Exercise("15.speedup", "derive", 2, "the cost model's predicted speed-up", _run_speedup, lambda: _speedup,
             hint="Only forward + backward is split over the n processes; the optimizer step is not, and the "
                  "all-reduce is added when n > 1.", wrong=_SPEEDUP_WRONG),
]
