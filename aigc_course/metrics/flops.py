"""How well a training run uses the machine: model FLOPs utilisation (MFU).

MFU = (FLOPs the model's training needs per token) × (tokens per second) ÷ (the machine's peak FLOP/s). The FLOPs
per token of a decoder-only Transformer are ``6 N + 12 L C T`` (Chowdhery et al. 2022, *PaLM*, appendix B): ``N``
weights of matrix products (embedding look-ups, biases and norms are not products), each used once forward
(2 FLOPs per weight: a multiply and an add) and twice backward (gradients for the input and for the weight), plus
the attention scores and their weighted sum, ``2 · 2 · C · T`` per layer and token forward, times 3 with the
backward pass. The peak is *measured* (:func:`matmul_peak`), not read off a datasheet: on a laptop CPU the
datasheet number is rarely reached.
"""

from __future__ import annotations

import time

import torch


def matmul_peak(n: int = 1024, *, repeats: int = 10, rounds: int = 5, dtype: torch.dtype = torch.float32,
                device: torch.device | str = "cpu") -> float:
    """FLOP/s of the best of ``rounds`` timings of ``repeats`` products of two ``(n, n)`` matrices (``2 n³`` FLOPs
    each) in ``dtype``, with torch's current number of threads: the practical peak a well-shaped matmul reaches."""
    a = torch.randn(n, n, dtype=dtype, device=device)
    b = torch.randn(n, n, dtype=dtype, device=device)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    for _ in range(2):  # warm-up: thread pool, caches, clocks
        a @ b
    sync()
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(repeats):
            a @ b
        sync()
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 * repeats / best


def transformer_flops_per_token(n_params: int, n_layer: int, n_embd: int, block_size: int) -> int:
    """Training FLOPs per token of a decoder-only Transformer: ``6 N + 12 L C T`` (``N``: weights of matrix
    products, ``L`` layers of width ``C``, context ``T``; see the module docstring)."""
    return 6 * n_params + 12 * n_layer * n_embd * block_size


def mfu(flops_per_token: float, tokens_per_second: float, peak_flops: float) -> float:
    """Model FLOPs utilisation: the share of the peak that the model's own arithmetic uses."""
    if peak_flops <= 0:
        raise ValueError(f"peak_flops must be positive, got {peak_flops}")
    return flops_per_token * tokens_per_second / peak_flops
