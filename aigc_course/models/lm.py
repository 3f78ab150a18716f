"""Character-level language models: the vocabulary, a char-LSTM, a mini-GPT with a KV cache,
decoding (greedy, temperature, top-k, top-p), evaluation in nats per character, and a training
loop with a wall-clock budget.

Shapes: ``B`` batch, ``T`` time steps (characters), ``V`` vocabulary size, ``C`` embedding width.
Chapters 07 (LSTM), 08 (GPT, KV cache, LoRA), 14 (memorisation, watermarking) and 15 (scaling out)
use these models; their chapters walk through this source with ``show_source``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..core.training import TrainingSession, warmup_cosine_lr
from .muon import muon_and_adamw


# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------
class UnknownCharactersError(ValueError):
    """A text contains characters the model's vocabulary does not have."""


class CharVocab:
    """A character vocabulary: ``encode`` maps a string to ids, ``decode`` maps ids back.

    ``unk``: optional stand-in character for characters outside the vocabulary. Without it (the
    default) :meth:`encode` raises :class:`UnknownCharactersError` naming every unknown character.
    """

    def __init__(self, chars: Iterable[str], unk: str | None = None) -> None:
        self.chars: list[str] = sorted(set(chars) | ({unk} if unk else set()))
        self.unk = unk
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str, max_size: int | None = None, unk: str | None = None) -> CharVocab:
        """The characters of ``text``; with ``max_size``, only the most frequent ones (needs ``unk``)."""
        if max_size is None:
            return cls(set(text), unk)
        if unk is None:
            raise ValueError("a vocabulary capped by max_size needs an unk character for the rest")
        counts: dict[str, int] = {}
        for ch in text:
            counts[ch] = counts.get(ch, 0) + 1
        keep = sorted(counts, key=lambda c: (-counts[c], c))[: max_size - 1]
        return cls(keep, unk)

    def __len__(self) -> int:
        return len(self.chars)

    def unknown(self, text: str) -> list[str]:
        """Characters of ``text`` that are not in the vocabulary (sorted, each once)."""
        return sorted({c for c in text if c not in self.stoi})

    def encode(self, text: str) -> torch.Tensor:
        """``(len(text),)`` int64 ids."""
        missing = self.unknown(text)
        if missing and self.unk is None:
            shown = ", ".join(repr(c) for c in missing[:20]) + (" …" if len(missing) > 20 else "")
            raise UnknownCharactersError(
                f"{len(missing)} character(s) are not in the model's vocabulary of {len(self)}: {shown}. "
                "Remove or replace them (the vocabulary is vocab.chars)."
            )
        if missing:
            u = self.stoi[self.unk]
            return torch.tensor([self.stoi.get(c, u) for c in text], dtype=torch.long)
        return torch.tensor([self.stoi[c] for c in text], dtype=torch.long)

    def decode(self, ids: torch.Tensor | Sequence[int]) -> str:
        """The string of a 1-D sequence of ids."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return "".join(self.chars[i] for i in ids)

    def to_dict(self) -> dict[str, Any]:
        return {"chars": "".join(self.chars), "unk": self.unk}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> CharVocab:
        return cls(state["chars"], state.get("unk"))


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------
def random_batch(
    data: torch.Tensor, block_size: int, batch_size: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)``, both ``(batch_size, block_size)``: random windows of ``data`` and the next characters."""
    starts = torch.randint(len(data) - block_size - 1, (batch_size,), generator=generator)
    offsets = torch.arange(block_size + 1)
    windows = data[starts[:, None] + offsets]
    return windows[:, :-1], windows[:, 1:]


def eval_windows(data: torch.Tensor, block_size: int, max_windows: int | None = None) -> torch.Tensor:
    """``(N, block_size + 1)`` non-overlapping windows covering ``data`` (every ``k``-th one when
    ``max_windows`` caps ``N``), the same windows on every call."""
    n = (len(data) - 1) // block_size
    idx = torch.arange(n)
    if max_windows is not None and n > max_windows:
        idx = torch.linspace(0, n - 1, max_windows).round().long()
    offsets = torch.arange(block_size + 1)
    return data[idx[:, None] * block_size + offsets]


def _logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = model(x)
    return out[0] if isinstance(out, tuple) else out


def evaluate_lm(
    model: nn.Module, data: torch.Tensor, block_size: int, batch_size: int = 64, max_windows: int | None = None
) -> float:
    """Mean cross-entropy in **nats per character** of ``model`` on ``data`` (1-D ids), over the
    non-overlapping windows of :func:`eval_windows` (every position predicts its next character
    from the earlier ones in its window, as in training): the mean of :func:`loss_by_position`."""
    return float(loss_by_position(model, data, block_size, batch_size, max_windows).double().mean())


@torch.no_grad()
def loss_by_position(model: nn.Module, data: torch.Tensor, length: int, batch_size: int = 64,
                     max_windows: int | None = None) -> torch.Tensor:
    """``(length,)`` float64: mean cross-entropy (nats) at each position ``0 … length − 1`` of the non-overlapping
    windows of ``length + 1`` tokens of ``data``. Position ``t`` predicts token ``t + 1`` from ``t + 1`` tokens of
    context, so beyond a model's training ``block_size`` it shows whether the model *extrapolates* to longer
    contexts (RoPE models can run there; learned positions have no embedding for them)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count = torch.zeros(length, dtype=torch.float64), 0
    for chunk in eval_windows(data, length, max_windows).split(batch_size):
        chunk = chunk.to(device)
        logits = _logits(model, chunk[:, :-1]).float()  # (B, length, V)
        ce = F.cross_entropy(logits.transpose(1, 2), chunk[:, 1:], reduction="none")  # (B, length)
        total += ce.sum(0).double().cpu()
        count += chunk.shape[0]
    model.train(was_training)
    return total / max(count, 1)


def bits_per_char(nats_per_token: float, n_tokens: int, n_chars: int) -> float:
    """Convert a loss in nats per token into bits per **character** of the same text (``n_tokens`` tokens spelling
    ``n_chars`` characters): the only unit in which models with different tokenisers can be compared."""
    return nats_per_token * n_tokens / (n_chars * math.log(2))


# --------------------------------------------------------------------------------------------
# Char-LSTM
# --------------------------------------------------------------------------------------------
class CharLSTM(nn.Module):
    """Embedding → ``layers``-layer LSTM → linear head over the vocabulary.

    ``forward(idx (B, T), state=None) -> (logits (B, T, V), state)``; ``state`` is ``(h, c)``, each
    ``(layers, B, hidden)``, so text can be continued one character at a time.
    """

    def __init__(self, vocab_size: int, embed: int = 64, hidden: int = 512, layers: int = 1, dropout: float = 0.0):
        super().__init__()
        self.config = {"vocab_size": vocab_size, "embed": embed, "hidden": hidden, "layers": layers, "dropout": dropout}
        self.embed = nn.Embedding(vocab_size, embed)
        self.lstm = nn.LSTM(embed, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(
        self, idx: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        out, state = self.lstm(self.embed(idx), state)
        return self.head(self.drop(out)), state

    # the decoding interface shared with GPT (see `generate`)
    def prefill(self, idx: torch.Tensor, use_cache: bool = True) -> tuple[torch.Tensor, Any]:
        logits, state = self(idx)
        return logits[:, -1], state

    def extend(self, idx: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        logits, state = self(idx[:, -1:], state)
        return logits[:, -1], state


# --------------------------------------------------------------------------------------------
# Mini-GPT
# --------------------------------------------------------------------------------------------
@dataclass
class GPTConfig:
    """Sizes of a :class:`GPT`. ``block_size`` is the training context. ``positions``: ``"learned"`` (GPT-2: one
    learned vector per position, added to the token embedding; no position beyond ``block_size`` exists) or
    ``"rope"`` (rotary position embeddings, :func:`apply_rope`, applied to the queries and keys of every layer; no
    parameters, and any length runs). ``token_shift``: add to each position's token embedding the previous token's,
    scaled channel by channel by a learned gate that starts at zero (:meth:`GPT.embed`; the token shift of RWKV,
    Peng et al. 2023), so that even the first attention layer sees each character's predecessor without looking
    for it."""

    vocab_size: int
    block_size: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    positions: str = "learned"
    rope_base: float = 10000.0
    token_shift: bool = False

    def __post_init__(self) -> None:
        if self.positions not in ("learned", "rope"):
            raise ValueError(f"positions must be 'learned' or 'rope', not {self.positions!r}")


def rope_tables(head_dim: int, positions: torch.Tensor, base: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``cos`` and ``sin`` of the rotary angles, each ``(T, head_dim // 2)``: pair ``i`` of the channels of a
    vector at position ``m`` turns by the angle ``m · base^(−2i / head_dim)`` (Su et al. 2021, RoFormer)."""
    if head_dim % 2:
        raise ValueError(f"RoPE rotates channel pairs: head_dim must be even, not {head_dim}")
    # angles in float64: at position 1000 a float32 angle is off by ~1e-4 rad, which would break the "only the
    # offset counts" property at the 1e-5 level; the tables are small, so the precision is free
    # (computed on the CPU: some accelerators, Apple's MPS among them, have no float64)
    inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = positions.detach().cpu().to(torch.float64)[:, None] * inv_freq[None, :]  # (T, head_dim / 2)
    return angles.cos().float().to(positions.device), angles.sin().float().to(positions.device)


@functools.lru_cache(maxsize=64)
def _rope_span(head_dim: int, start: int, length: int, base: float, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`rope_tables` for positions ``start … start + length − 1`` on ``device``, kept: every layer and every
    training step asks for the same span. Built outside inference mode, so that tables first made while evaluating
    under ``torch.inference_mode()`` can still be saved for a later backward pass."""
    with torch.inference_mode(False), torch.no_grad():
        return rope_tables(head_dim, torch.arange(start, start + length, device=device), base)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each channel pair ``(x[2i], x[2i+1])`` of ``x (..., T, d)`` by its angle (``cos``, ``sin``:
    ``(T, d / 2)``). A query at position ``m`` and a key at ``n`` then score ``q·R(m)ᵀR(n)·k = q·R(n − m)·k``:
    only the offset ``n − m`` enters."""
    if x.dtype in (torch.float32, torch.float64) and x.device.type in ("cpu", "cuda"):
        # the same products as below, with the pair (x[2i], x[2i+1]) read as the complex number x[2i] + i·x[2i+1]
        # and turned by e^{iθ} = cos θ + i sin θ: one complex product instead of strided slices, four real
        # products and a stack (~3× faster forward and backward on a CPU, bit-identical)
        turn = torch.complex(cos.to(x.dtype), sin.to(x.dtype))
        return torch.view_as_real(torch.view_as_complex(x.unflatten(-1, (-1, 2)).contiguous()) * turn).flatten(-2)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)


class KVCache:
    """Keys and values of every layer for the tokens seen so far: ``k[l]``, ``v[l]`` are
    ``(B, n_head, L, head_dim)``, ``L`` = :attr:`length`. A GPT with a token shift also keeps ``last_token``
    ``(B, 1, C)``, the token embedding of the last cached position, which the next position's shift reads."""

    def __init__(self, n_layer: int) -> None:
        self.k: list[torch.Tensor | None] = [None] * n_layer
        self.v: list[torch.Tensor | None] = [None] * n_layer
        self.last_token: torch.Tensor | None = None

    @property
    def length(self) -> int:
        """Number of cached positions (of layer 0, which is filled first)."""
        return self.layer_length(0)

    def layer_length(self, layer: int) -> int:
        return 0 if self.k[layer] is None else self.k[layer].shape[2]

    def reset(self) -> None:
        self.k = [None] * len(self.k)
        self.v = [None] * len(self.v)
        self.last_token = None

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.k[layer] is not None:
            k = torch.cat([self.k[layer], k], dim=2)
            v = torch.cat([self.v[layer], v], dim=2)
        self.k[layer], self.v[layer] = k, v
        return k, v


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention. ``forward(x (B, T, C)) -> (B, T, C)``; with a
    :class:`KVCache` the new keys/values are appended and the queries attend to all cached ones."""

    def __init__(self, cfg: GPTConfig, layer: int) -> None:
        super().__init__()
        assert cfg.n_embd % cfg.n_head == 0, "n_embd must be a multiple of n_head"
        self.n_head, self.layer, self.dropout = cfg.n_head, layer, cfg.dropout
        self.rope_base = cfg.rope_base if cfg.positions == "rope" else None
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)  # queries, keys, values in one matmul
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.resid_drop = nn.Dropout(cfg.dropout)

    def heads(self, x: torch.Tensor, past: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries, keys and values of ``x`` ``(B, T, C)``, each ``(B, n_head, T, head_dim)``; with RoPE the queries
        and keys are rotated by their positions ``past … past + T − 1``."""
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        if self.rope_base is not None:
            cos, sin = _rope_span(C // self.n_head, past, T, self.rope_base, str(x.device))
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        return q, k, v

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        B, T, C = x.shape
        past = 0 if cache is None else cache.layer_length(self.layer)
        q, k, v = self.heads(x, past)  # (B, h, T, d)
        if cache is not None:
            k, v = cache.append(self.layer, k, v)  # (B, h, past + T, d)
        drop = self.dropout if self.training else 0.0
        if past == 0:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=drop)
        else:  # query i sits at position past + i and may see keys 0 … past + i
            mask = torch.ones(T, past + T, dtype=torch.bool, device=x.device).tril(diagonal=past)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop)
        y = y.transpose(1, 2).reshape(B, T, C)
        return self.resid_drop(self.c_proj(y))


class MLP(nn.Module):
    """Position-wise feed-forward network ``C → 4C → C`` with GELU. ``(B, T, C) -> (B, T, C)``."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd)
        self.c_proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.c_proj(F.gelu(self.c_fc(x))))


class Block(nn.Module):
    """A pre-norm Transformer block: ``x + attn(LN(x))`` then ``x + mlp(LN(x))``."""

    def __init__(self, cfg: GPTConfig, layer: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg, layer)
        self.ln_2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """A decoder-only Transformer over characters (the shape of GPT-2, scaled down).

    ``forward(idx (B, T), cache=None) -> logits (B, T, V)``. With a cache, ``idx`` holds only the new
    tokens; their positions continue after the cached ones.
    """

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.config = asdict(cfg)
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)  # token embeddings
        # learned position embeddings (GPT-2); with RoPE the attention layers rotate queries and keys instead
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd) if cfg.positions == "learned" else None
        # token shift: one gate per channel for the previous token's embedding, zero at the start (a plain GPT)
        self.shift_gate = nn.Parameter(torch.zeros(cfg.n_embd)) if cfg.token_shift else None
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg, i) for i in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2: scale residual projections by depth
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, 0.0, 0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_params(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def embed(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """The input of the first block, ``(B, T, C)``, for token ids ``idx`` ``(B, T)``: the token embedding
        ``e_t = wte[c_t]``, plus ``g ⊙ e_{t−1}`` with a token shift (``e_{−1} = 0`` at the start of a window; with a
        cache, the last cached token's embedding), plus ``wpe[t]`` with learned positions (RoPE adds nothing here)."""
        T = idx.shape[1]
        past = 0 if cache is None else cache.length
        if self.wpe is not None and past + T > self.cfg.block_size:  # checked first: the cache stays untouched
            raise ValueError(
                f"context of {past + T} tokens is longer than block_size {self.cfg.block_size}; "
                "crop it to the last block_size tokens (generate() does this)"
            )
        tok = self.wte(idx)
        x = tok
        if self.shift_gate is not None:
            before = tok.new_zeros(tok.shape[0], 1, tok.shape[2]) if cache is None or cache.last_token is None \
                else cache.last_token
            x = tok + self.shift_gate * torch.cat([before, tok[:, :-1]], dim=1)
            if cache is not None:
                cache.last_token = tok[:, -1:]
        if self.wpe is not None:
            x = x + self.wpe(torch.arange(past, past + T, device=idx.device))
        return self.drop(x)

    def forward(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        x = self.embed(idx, cache)
        for block in self.blocks:
            x = block(x, cache)
        return self.lm_head(self.ln_f(x))

    # the decoding interface shared with CharLSTM (see `generate`)
    def prefill(self, idx: torch.Tensor, use_cache: bool = True) -> tuple[torch.Tensor, KVCache | None]:
        cache = KVCache(self.cfg.n_layer) if use_cache else None
        return self(idx[:, -self.cfg.block_size :], cache)[:, -1], cache

    def extend(self, idx: torch.Tensor, cache: KVCache | None) -> tuple[torch.Tensor, KVCache | None]:
        """Logits for the token after ``idx`` (B, T), reusing the cache while it has room."""
        if cache is None:  # no cache: recompute the whole (cropped) context
            return self(idx[:, -self.cfg.block_size :])[:, -1], None
        if cache.length < self.cfg.block_size:
            return self(idx[:, -1:], cache)[:, -1], cache
        # the window slides: every position changes, so the cached keys are stale. Rebuild.
        cache.reset()
        return self(idx[:, -self.cfg.block_size :], cache)[:, -1], cache


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------
def filter_logits(
    logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> torch.Tensor:
    """``(B, V)`` logits divided by ``temperature``, with everything outside the ``top_k`` most likely
    tokens and outside the smallest set of total probability ≥ ``top_p`` (the nucleus) set to −∞."""
    if temperature <= 0:
        raise ValueError("temperature must be > 0 (use temperature=0 in sample_next for greedy decoding)")
    logits = logits / temperature
    if top_k is not None:
        kth = torch.topk(logits, min(top_k, logits.size(-1)), dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must lie in (0, 1], not {top_p}")
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = sorted_logits.softmax(-1)
        before = probs.cumsum(-1) - probs  # probability mass strictly before each token
        drop_sorted = before >= top_p  # keep a token while the mass before it is < top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_next(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``(B, 1)`` next-token ids from ``(B, V)`` logits; ``temperature=0`` is greedy (argmax)."""
    if temperature == 0:
        return logits.argmax(-1, keepdim=True)
    probs = filter_logits(logits.float(), temperature, top_k, top_p).softmax(-1)
    return torch.multinomial(probs, 1, generator=generator)


@torch.no_grad()
def generate(
    model: nn.Module,
    idx: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
    stop: int | None = None,
) -> torch.Tensor:
    """Continue the prompt ``idx`` (``(T,)`` or ``(B, T)`` ids) by ``max_new_tokens`` sampled tokens;
    returns the prompt plus the new tokens, same number of dimensions as ``idx``. With a ``stop`` id, generation
    ends early once every row has produced it (rows that stopped first go on sampling until then: cut them at
    their first ``stop``).

    Works for any model with ``prefill(idx, use_cache)`` and ``extend(idx, state)`` (both models above).
    """
    if idx.numel() == 0:
        raise ValueError("the prompt is empty: give at least one character")
    squeeze = idx.dim() == 1
    idx = idx[None] if squeeze else idx
    was_training = model.training
    model.eval()
    idx = idx.to(next(model.parameters()).device)
    logits, state = model.prefill(idx, use_cache)
    done = torch.zeros(idx.shape[0], dtype=torch.bool, device=idx.device)
    for step in range(max_new_tokens):
        nxt = sample_next(logits, temperature, top_k, top_p, generator)
        idx = torch.cat([idx, nxt.to(idx.device)], dim=1)
        if stop is not None:
            done |= idx[:, -1] == stop
            if bool(done.all()):
                break
        if step + 1 < max_new_tokens:  # the logits after the last token are never used
            logits, state = model.extend(idx, state)
    model.train(was_training)
    return idx[0] if squeeze else idx


@torch.no_grad()
def compare_kv_cache(model: nn.Module, seqs: torch.Tensor, prompt_len: int) -> tuple[float, float]:
    """Teacher-forced check of a KV cache: for every sequence of ``seqs`` (``(B, T)`` ids) the logits for
    the tokens after position ``prompt_len - 1, …, T - 2`` are computed twice, by ``prefill`` / ``extend``
    with the cache and without it (recomputing the whole context), on the *same* tokens.

    Returns ``(max |Δlogit|, share of positions whose most likely token agrees)``. The two paths are the same
    mathematics but different matrix shapes and reduction orders, so they agree up to float rounding, not
    necessarily bit for bit."""
    was_training = model.training
    model.eval()
    seqs = seqs.to(next(model.parameters()).device)
    logits = {}
    for use_cache in (True, False):
        out, state = model.prefill(seqs[:, :prompt_len], use_cache)
        steps = [out.float()]
        for t in range(prompt_len + 1, seqs.size(1)):
            out, state = model.extend(seqs[:, :t], state)
            steps.append(out.float())
        logits[use_cache] = torch.stack(steps, dim=1)  # (B, T - prompt_len, V)
    model.train(was_training)
    max_diff = (logits[True] - logits[False]).abs().max().item()
    agree = (logits[True].argmax(-1) == logits[False].argmax(-1)).float().mean().item()
    return max_diff, agree


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------
@dataclass
class LMTrainConfig:
    """How :func:`train_lm` trains. Training stops at ``max_steps`` or after ``seconds`` of training
    time (evaluation excluded), whichever comes first. With a time budget the learning rate follows
    the warm-up + cosine schedule over the *fraction of the budget used*, so a run of any length
    ends with a decayed learning rate."""

    batch_size: int = 32
    block_size: int = 128
    lr: float = 3e-3
    min_lr_frac: float = 0.1
    warmup: int = 50
    max_steps: int = 10_000
    seconds: float | None = None
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_every: int = 100
    eval_windows: int | None = 200
    bf16: bool = False  # bfloat16 autocast for the forward pass (fast on CPUs with AVX512-BF16 and on GPUs)
    seed: int = 0
    optimizer: str = "adamw"  # "adamw", or "muon": Muon on the blocks' weight matrices, AdamW on the rest
    ns_steps: int = 5  # Newton–Schulz steps of Muon's orthogonalisation
    embed_lr_scale: float = 1.0  # with Muon: the embedding tables' learning rate over ``lr`` (muon_and_adamw)


def _autocast(device: torch.device, enabled: bool):
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)


def make_optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW that decays the weight matrices but not biases, norms or embeddings of size 1-D."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.99))


def make_optimizers(model: nn.Module, cfg: LMTrainConfig) -> list[torch.optim.Optimizer]:
    """The optimizers ``cfg.optimizer`` names: ``"adamw"`` → ``[make_optimizer(...)]``; ``"muon"`` →
    :func:`~aigc_course.models.muon.muon_and_adamw` (Muon for the Transformer blocks' 2-D weights, AdamW for
    embeddings — at ``cfg.embed_lr_scale`` times the rate — head, biases and norms)."""
    if cfg.optimizer == "adamw":
        if cfg.embed_lr_scale != 1.0:
            raise ValueError("embed_lr_scale is a setting of the 'muon' optimizer (muon_and_adamw); with 'adamw' "
                             "leave it at 1.0")
        return [make_optimizer(model, cfg.lr, cfg.weight_decay)]
    if cfg.optimizer == "muon":
        return muon_and_adamw(model, cfg.lr, cfg.weight_decay, ns_steps=cfg.ns_steps, embed_lr_scale=cfg.embed_lr_scale)
    raise ValueError(f"optimizer must be 'adamw' or 'muon', not {cfg.optimizer!r}")


def train_lm(
    model: nn.Module,
    train_data: torch.Tensor,
    val_data: torch.Tensor,
    cfg: LMTrainConfig,
    session: TrainingSession | None = None,
    progress: Callable[[int, dict[str, float]], None] | None = None,
) -> dict[str, list[float]]:
    """Train a language model on ``train_data`` (1-D ids) with ``cfg.optimizer`` and return its history:
    ``step``, ``seconds`` (training time so far), ``train_loss`` (mean over the interval) and
    ``val_loss`` (nats/char on up to ``cfg.eval_windows`` windows of ``val_data``), every
    ``cfg.eval_every`` steps and at the end. With a :class:`TrainingSession` (from
    ``load_or_train``) each interval is checkpointed and an interrupted run resumes."""
    from ..core import training

    device = next(model.parameters()).device
    opts = make_optimizers(model, cfg)
    gen = torch.Generator()
    budget = cfg.seconds

    def seed(chunk: int, first: bool) -> None:
        if first:  # one generator for the whole call, seeded by the chunk it starts (resumes) at
            gen.manual_seed(cfg.seed * 1000 + chunk)

    def lr_at(step: int, elapsed: float) -> float:
        if budget is None:
            return warmup_cosine_lr(step, cfg.max_steps, cfg.lr, cfg.warmup)
        if step < cfg.warmup:
            return cfg.lr * (step + 1) / cfg.warmup
        frac = min(elapsed / budget, 1.0)
        return cfg.lr * (cfg.min_lr_frac + (1 - cfg.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * frac)))

    def loss_fn(step: int) -> torch.Tensor:
        x, y = random_batch(train_data, cfg.block_size, cfg.batch_size, gen)
        x, y = x.to(device), y.to(device)
        with _autocast(device, cfg.bf16):
            logits = _logits(model, x)
        return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1))

    def evaluate() -> dict[str, float]:
        with _autocast(device, cfg.bf16):
            return {"val_loss": evaluate_lm(model, val_data, cfg.block_size, max_windows=cfg.eval_windows)}

    step = training.loss_step(loss_fn, opts, clip=cfg.grad_clip or None, params=model.parameters(), name="train_loss")
    model.train()
    return training.run_steps(step, total=cfg.max_steps, chunk=cfg.eval_every, optimizers=opts,
                              session=session, seconds=budget, lr_at=lr_at, chunk_start=seed, evaluate=evaluate,
                              on_chunk=progress)


# --------------------------------------------------------------------------------------------
# The course's shared Shakespeare models
# --------------------------------------------------------------------------------------------
@dataclass
class CharData:
    """Tiny Shakespeare as ids: the vocabulary and the nanoGPT split (first 90 % train, last 10 % val)."""

    vocab: CharVocab
    train: torch.Tensor  # (N_train,) int64
    val: torch.Tensor  # (N_val,) int64


def shakespeare_data() -> CharData:
    """Tiny Shakespeare encoded with its 65-character vocabulary (built from the whole text, as nanoGPT does)."""
    from ..datasets.text import load_tiny_shakespeare

    train, val = load_tiny_shakespeare()
    vocab = CharVocab.from_text(train + val)
    return CharData(vocab, vocab.encode(train), vocab.encode(val))


def train_config(hp: Any) -> LMTrainConfig:
    """The :class:`LMTrainConfig` part of a component's hyper-parameters."""
    fields = LMTrainConfig.__dataclass_fields__
    return LMTrainConfig(**{k: hp[k] for k in fields if k in hp})


def build_char_lm(kind: str, hp: Any, vocab_size: int) -> nn.Module:
    """A fresh ``"lstm"`` or ``"gpt"`` with the sizes in ``hp`` (seeded: same weights every run)."""
    torch.manual_seed(int(hp["seed"]))
    if kind == "lstm":
        return CharLSTM(vocab_size, hp["embed"], hp["hidden"], hp["layers"], hp["dropout"])
    if kind == "gpt":
        return GPT(GPTConfig(vocab_size, hp["block_size"], hp["n_layer"], hp["n_head"], hp["n_embd"], hp["dropout"],
                             positions=hp.get("positions", "learned"), token_shift=bool(hp.get("token_shift", False))))
    raise ValueError(f"kind must be 'lstm' or 'gpt', not {kind!r}")


def shakespeare_lm(
    kind: str,
    profile: str | None = None,
    *,
    device: torch.device | str | None = None,
    retrain: bool = False,
    progress: bool = True,
    **overrides: Any,
):
    """The course's char-``"lstm"`` or char-``"gpt"`` on Tiny Shakespeare: loaded from its checkpoint,
    or trained (within the component's time budget) and cached. Returns ``(trained, data)``: a
    :class:`~aigc_course.core.training.Trained` (``.model``, ``.history`` with ``step``/``seconds``/
    ``train_loss``/``val_loss``, ``.extra``) and the :class:`CharData`.

    Hyper-parameters come from the ``char_lstm`` / ``char_gpt`` rows of the profile table;
    ``overrides`` change single entries (a different cache key, so a separate checkpoint)."""
    from ..core import config, training

    prof = config.resolve_profile(profile)
    hp = {**dict(config.component(f"char_{kind}", prof)), **overrides}
    device = torch.device(device) if device is not None else config.resolve_device()
    data = shakespeare_data()
    cfg = train_config(hp)

    def build(_: Any) -> nn.Module:
        return build_char_lm(kind, hp, len(data.vocab))

    def train(model: nn.Module, session: TrainingSession) -> dict[str, Any]:
        bar = None
        if progress:
            from tqdm.auto import tqdm

            total = cfg.seconds if cfg.seconds is not None else cfg.max_steps
            fmt = "{l_bar}{bar}| {n:.0f}/{total:.0f} s of training{postfix}" if cfg.seconds is not None else None
            bar = tqdm(total=total, desc=f"char-{kind}", unit="step", bar_format=fmt)

        def report(step: int, row: dict[str, float]) -> None:
            if bar is not None:
                # clamp: tqdm drops `total` (→ a format error in bar_format) once n > total + 0.5, and the
                # last step may overshoot the time budget by more than that on a slow or busy machine
                bar.n = min(round(row["seconds"], 1), cfg.seconds) if cfg.seconds is not None else step
                bar.set_postfix(val_loss=f"{row['val_loss']:.3f}")
                bar.refresh()

        train_lm(model, data.train.to(device), data.val.to(device), cfg, session, report)
        if bar is not None:
            bar.close()
        model.eval()
        return {
            "val_loss": evaluate_lm(model, data.val.to(device), cfg.block_size),
            "steps": int(session.history["step"][-1]),
            "train_seconds": float(session.history["seconds"][-1]),
            "device": str(device),
        }

    trained = training.load_or_train(f"char_{kind}", {**hp, "kind": kind, "vocab": "".join(data.vocab.chars)},
                                     build, train, retrain=retrain, device=device)
    trained.model.eval()
    return trained, data
