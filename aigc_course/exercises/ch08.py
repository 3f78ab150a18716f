"""Chapter 08 (Transformers and a mini-GPT): the exercises' references, known mistakes and hints."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ..models import lm
from . import Exercise, copying
from . import checkers as ex

# ---- 08.causal_mask (derive): the (T, T) mask of a language model ----------------------------------------


def _causal_mask(T: int) -> torch.Tensor:
    """(T, T) bool: True on and below the diagonal (key j ≤ query i)."""
    return torch.arange(T)[None, :] <= torch.arange(T)[:, None]


def _as_float(fn: Any) -> Any:
    if not callable(fn):
        return fn
    return lambda T: torch.as_tensor(fn(T)).float()


_MASK_WRONG: list[tuple[Any, str]] = [
    (lambda T: torch.ones(T, T).triu(), "upper triangle"),
    (lambda T: torch.ones(T, T).tril(-1), "diagonal is missing"),
    (lambda T: torch.ones(T, T), "No mask at all"),
]


def _run_causal_mask(answer: Any) -> bool:
    return ex.check_function(
        "08.causal_mask", _as_float(answer), _as_float(_causal_mask), [(1,), (4,), (7,)],
        mistakes=[(_as_float(_MASK_WRONG[0][0]), "That is the upper triangle: query i would see the *future* keys "
                                                 "j > i."),
                  (_as_float(_MASK_WRONG[1][0]), "The diagonal is missing: a position may attend to itself (and the "
                                                 "first position has nothing else)."),
                  (_as_float(_MASK_WRONG[2][0]), "No mask at all: every position sees the answer it is asked to "
                                                 "predict.")],
        hint="torch.ones(T, T, dtype=torch.bool).tril()")


# ---- 08.block_params (derive), 08.kv_cache_size (derive), 08.lora_params (derive) -------------------------

_C2 = 256


def _block_params() -> int:
    return sum(p.numel() for p in lm.Block(lm.GPTConfig(vocab_size=1, n_embd=_C2, n_head=4), 0).parameters())


_BLOCK_WRONG: list[tuple[Any, str]] = [
    (12 * _C2**2, "Only the weight matrices"), (12 * _C2**2 + 9 * _C2, "LayerNorms have a weight *and* a bias"),
    (4 * _C2**2 + 4 * _C2, "expands to 4C"), (8 * _C2**2 + 13 * _C2, "3C²"),
]


def _run_block_params(answer: Any) -> bool:
    return ex.check_value(
        "08.block_params", answer, _block_params(),
        mistakes=[(12 * _C2**2, "Only the weight matrices: add the biases (3C + C + 4C + C) and the LayerNorms "
                                "(2 × 2C)."),
                  (12 * _C2**2 + 9 * _C2, "The two LayerNorms have a weight *and* a bias of width C each: 4C more."),
                  (4 * _C2**2 + 4 * _C2, "The MLP expands to 4C and back: two matrices of 4C² each, plus attention's "
                                         "4C²."),
                  (8 * _C2**2 + 13 * _C2, "Count c_attn as 3C² (queries, keys and values), not C².")])


_L3, _CW3, _T3 = 32, 4096, 4096
_KV_WRONG: list[tuple[Any, str]] = [
    (_L3 * _CW3 * _T3, "Keys *and* values"), (2 * _CW3 * _T3, "Every layer"),
    (2 * _L3 * _CW3 * _T3 * _T3, "linearly in T"), (2 * _L3 * 32 * _CW3 * _T3, "split the width"),
]


def _run_kv_cache_size(answer: Any) -> bool:
    return ex.check_value(
        "08.kv_cache_size", answer, 2 * _L3 * _CW3 * _T3,
        mistakes=[(_L3 * _CW3 * _T3, "Keys *and* values are cached: twice that."),
                  (2 * _CW3 * _T3, "Every layer has its own keys and values: multiply by the number of layers."),
                  (2 * _L3 * _CW3 * _T3 * _T3, "The cache grows linearly in T (one key and one value per position), "
                                               "not T²."),
                  (2 * _L3 * 32 * _CW3 * _T3, "The heads split the width C; they do not multiply it.")],
        hint="keys and values, every layer, every position, C numbers each")


_LORA_WRONG: list[tuple[Any, str]] = [
    (4096 * 4096, "full weight matrix"), (8 * 4096 * 4096, "only A"), (8 * 4096, "Two matrices"),
]


def _run_lora_params(answer: Any) -> bool:
    return ex.check_value(
        "08.lora_params", answer, 8 * (4096 + 4096),
        mistakes=[(4096 * 4096, "That is the full weight matrix W, which LoRA freezes."),
                  (8 * 4096 * 4096, "B A has the shape of W, but only A (8 × 4096) and B (4096 × 8) are stored and "
                                    "trained."),
                  (8 * 4096, "Two matrices: A is r × d_in and B is d_out × r.")])


# ---- 08.layer_norm (implement): LayerNorm's forward pass ---------------------------------------------------


def _layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float) -> torch.Tensor:
    """LayerNorm over the last dimension. x: (..., C); weight, bias: (C,). Returns (..., C):
    (x − mean) / sqrt(var + eps) · weight + bias, with the biased variance (divide by C)."""
    return F.layer_norm(x, (x.shape[-1],), weight, bias, eps)


def _ln_cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]]:
    """(B, C) and (B, T, C) inputs with a non-trivial affine part, a small width (C = 3) where the unbiased
    variance differs most, a large eps, and a constant row (variance 0: the output is the bias)."""
    g = torch.Generator().manual_seed(801)
    cases = []
    for shape, eps in (((4, 8), 1e-5), ((2, 5, 6), 1e-5), ((3, 3), 1e-5), ((5, 4), 0.5)):
        c = shape[-1]
        cases.append((2.0 * torch.randn(*shape, generator=g) + 1.0, 1.0 + 0.5 * torch.randn(c, generator=g),
                      torch.randn(c, generator=g), eps))
    const = torch.tensor([[3.0, 3.0, 3.0, 3.0], [1.0, -2.0, 0.5, 4.0]])
    cases.append((const, torch.tensor([1.0, 2.0, 0.5, -1.0]), torch.tensor([0.1, 0.2, 0.3, 0.4]), 1e-5))
    return cases


def _ln_unbiased(x, weight, bias, eps):
    mu = x.mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(x.var(-1, keepdim=True) + eps) * weight + bias


def _ln_eps_outside(x, weight, bias, eps):
    mu = x.mean(-1, keepdim=True)
    std = (x - mu).pow(2).mean(-1, keepdim=True).sqrt()
    return (x - mu) / (std + eps) * weight + bias


def _ln_batch_dim(x, weight, bias, eps):
    mu = x.mean(0, keepdim=True)
    var = (x - mu).pow(2).mean(0, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * weight + bias


def _ln_no_affine(x, weight, bias, eps):
    return F.layer_norm(x, (x.shape[-1],), None, None, eps)


_LN_WRONG: list[tuple[Any, str]] = [
    (_ln_unbiased, "unbiased"), (_ln_eps_outside, "inside the square root"), (_ln_batch_dim, "BatchNorm"),
    (_ln_no_affine, "weight and bias"),
]


def _run_layer_norm(answer: Any) -> bool:
    return ex.check_function(
        "08.layer_norm", copying(answer), _layer_norm, _ln_cases(), atol=1e-5, rtol=1e-4,
        mistakes=[(_ln_unbiased, "x.var() is the unbiased variance (divides by C − 1); LayerNorm divides by C: use "
                                 "x.var(-1, unbiased=False, keepdim=True) or ((x − mean)²).mean(-1). It matters most "
                                 "for a small width."),
                  (_ln_eps_outside, "eps goes inside the square root: (x − mean) / sqrt(var + eps), not "
                                    "/ (std + eps) — the two differ when the variance is small or eps large."),
                  (_ln_batch_dim, "You normalised over dim 0, across the batch: that is BatchNorm's statistic. "
                                  "LayerNorm normalises each position over its own C features: mean and variance "
                                  "over the last dim (-1, keepdim=True)."),
                  (_ln_no_affine, "The learned weight and bias are missing: multiply the normalised x by weight "
                                  "and add bias (the layer can then undo the normalisation where it helps).")],
        hint="mean and biased variance over dim -1 (keepdim=True); (x − mean) / sqrt(var + eps) * weight + bias")


# ---- 08.lora_merge (implement): fold a LoRA adapter into its weight matrix ---------------------------------


def _lora_merge(W: torch.Tensor, A: torch.Tensor, B: torch.Tensor, alpha: float) -> torch.Tensor:
    """The merged weight W + (alpha / r) B A. W: (d_out, d_in); A: (r, d_in); B: (d_out, r); r = A.shape[0].
    Returns (d_out, d_in): a plain Linear with it computes what the adapted layer computes."""
    return W + (alpha / A.shape[0]) * (B @ A)


def _lora_cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]]:
    """Non-square layers with r = 1, 2, 4 and alpha ≠ r, a square layer, and B = 0 (a fresh adapter: the merge
    must give W back)."""
    g = torch.Generator().manual_seed(802)
    cases = []
    for d_out, d_in, r, alpha in ((6, 4, 2, 8.0), (3, 7, 1, 2.0), (5, 5, 4, 16.0), (8, 6, 4, 1.0)):
        cases.append((torch.randn(d_out, d_in, generator=g), torch.randn(r, d_in, generator=g),
                      torch.randn(d_out, r, generator=g), alpha))
    W, A, _, _ = cases[0]
    cases.append((W, A, torch.zeros(W.shape[0], A.shape[0]), 8.0))
    return cases


def _lora_no_scale(W, A, B, alpha):
    return W + B @ A


def _lora_scale_inverted(W, A, B, alpha):
    return W + (A.shape[0] / alpha) * (B @ A)


def _lora_alpha_only(W, A, B, alpha):
    return W + alpha * (B @ A)


def _lora_delta_only(W, A, B, alpha):
    return (alpha / A.shape[0]) * (B @ A)


_LORA_MERGE_WRONG: list[tuple[Any, str]] = [
    (_lora_no_scale, "scale"), (_lora_scale_inverted, "upside down"), (_lora_alpha_only, "divided by the rank"),
    (_lora_delta_only, "frozen W"),
]


def _run_lora_merge(answer: Any) -> bool:
    return ex.check_function(
        "08.lora_merge", copying(answer), _lora_merge, _lora_cases(), atol=1e-5, rtol=1e-4,
        mistakes=[(_lora_no_scale, "The scale is missing: the adapter's output is multiplied by alpha / r, so the "
                                   "merged update is (alpha / r) · B A."),
                  (_lora_scale_inverted, "The scale is upside down: alpha / r, not r / alpha (with alpha = 2r the "
                                         "update should be doubled; yours is halved)."),
                  (_lora_alpha_only, "alpha is divided by the rank: the scale is alpha / r with r = A.shape[0], so "
                                     "that changing r does not change the update's size."),
                  (_lora_delta_only, "You returned only the update: add it to the frozen W (W + (alpha / r) B A), "
                                     "or the merged layer forgets everything pretraining learned.")],
        hint="r = A.shape[0]; W + (alpha / r) * (B @ A) — B @ A has W's shape (d_out, d_in)")


# ---- 08.short_context (experiment): the trained GPT when it may see only 8 characters ----------------------

SHORT_CONTEXT = 8
SHORT_CHARS = 16_384  # predictions scored: the first SHORT_CHARS + 1 characters of a split
SHORT_BAND = 0.002


def _short_figures(model: nn.Module, val: torch.Tensor, train: torch.Tensor | None = None) -> dict[str, float]:
    def loss(ids: torch.Tensor, block: int) -> float:
        return lm.evaluate_lm(model, ids[: SHORT_CHARS + 1], block, batch_size=512)

    f = {"short": loss(val, SHORT_CONTEXT), "full": loss(val, model.cfg.block_size)}
    if train is not None:
        f["train"] = loss(train, SHORT_CONTEXT)
    return f


def _short_mistakes(f: dict[str, float], model: nn.Module) -> list[tuple[float, str]]:
    found = [(f["full"], f"That is the unchanged figure, with windows of the full context ({model.cfg.block_size} "
                         f"characters); evaluate with block_size={SHORT_CONTEXT}."),
             (math.exp(f["short"]), "That is the perplexity e^loss; report the loss in nats per character.")]
    if "train" in f:
        found.append((f["train"], "That is measured on the training split; report the validation split (sh.val)."))
    return [(v, m) for v, m in found if abs(v - f["short"]) > SHORT_BAND]


def _short_wrong(model: nn.Module, val: torch.Tensor, train: torch.Tensor) -> list[tuple[float, str]]:
    frags = ("unchanged figure", "perplexity", "training split")
    f = _short_figures(model, val, train)
    return [(v, next(fr for fr in frags if fr in m)) for v, m in _short_mistakes(f, model)]


def _run_short_context(answer: Any, *, model: nn.Module, val: torch.Tensor, train: torch.Tensor | None = None) -> bool:
    f = _short_figures(model, val, train)
    return ex.check_value(
        "08.short_context", answer, f["short"], atol=SHORT_BAND, rtol=0.0,
        mistakes=_short_mistakes(f, model),
        hint=f"lm.evaluate_lm(gpt, sh.val[:{SHORT_CHARS + 1}], {SHORT_CONTEXT}); accepted within ±{SHORT_BAND}")


def test_context() -> dict[str, object]:
    """What the experiment's check needs: a small seeded GPT and the splits. The check recomputes the figure
    from whatever model it is given, so an untrained one tests it as well as the notebook's, provided its
    predictions depend on the context: its weights are drawn far wider than GPT-2's initialisation."""
    data = lm.shakespeare_data()
    torch.manual_seed(0)
    model = lm.GPT(lm.GPTConfig(len(data.vocab), 32, 1, 2, 16)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.5)
    return {"model": model, "val": data.val, "train": data.train}


EXERCISES: list[Exercise] = [
    Exercise("08.causal_mask", "derive", 1, "the causal mask", _run_causal_mask, lambda: _causal_mask,
             hint="Query i may see keys 0 … i: the lower triangle, diagonal included.", wrong=_MASK_WRONG),
    Exercise("08.block_params", "derive", 1, "the parameters of one GPT block", _run_block_params, _block_params,
             hint="c_attn 3C² + 3C, attention c_proj C² + C, MLP 4C² + 4C and 4C² + C, two LayerNorms 2C each.",
             wrong=_BLOCK_WRONG),
    Exercise("08.kv_cache_size", "derive", 1, "the size of a KV cache", _run_kv_cache_size,
             lambda: 2 * _L3 * _CW3 * _T3, hint="A key and a value of C numbers, per layer, per position.",
             wrong=_KV_WRONG),
    Exercise("08.lora_params", "derive", 1, "LoRA's trainable parameters", _run_lora_params,
             lambda: 8 * (4096 + 4096), hint="A is r × d_in, B is d_out × r; W is frozen.", wrong=_LORA_WRONG),
    Exercise("08.layer_norm", "implement", 2, "LayerNorm's forward pass", _run_layer_norm, lambda: _layer_norm,
             hint="mean = x.mean(-1, keepdim=True); var = ((x − mean) ** 2).mean(-1, keepdim=True) (divide by C, not "
                  "C − 1); return (x − mean) / torch.sqrt(var + eps) * weight + bias.", wrong=_LN_WRONG),
    Exercise("08.lora_merge", "implement", 1, "merging a LoRA adapter into its weight", _run_lora_merge,
             lambda: _lora_merge,
             hint="The adapted layer computes W x + (alpha / r) B A x = (W + (alpha / r) B A) x; r is A.shape[0].",
             wrong=_LORA_MERGE_WRONG),
    Exercise("08.short_context", "experiment", 2, "the GPT with a context of 8 characters", _run_short_context,
             lambda model, val, train=None: _short_figures(model, val)["short"],
             hint=f"lm.evaluate_lm(gpt, sh.val[:{SHORT_CHARS + 1}], {SHORT_CONTEXT}) — the windows of "
                  f"{SHORT_CONTEXT} characters start afresh, so no prediction sees more than {SHORT_CONTEXT}.",
             wrong=_short_wrong),
]
