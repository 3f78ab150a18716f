"""Adapting the course's pretrained mini-GPT to a new style: Tang poetry (chapter 08).

The char-GPT of :func:`aigc_course.models.lm.shakespeare_lm` knows the 65 characters of Tiny
Shakespeare; Tang poems are written with thousands of Chinese characters. The Transformer body
(positions, attention, MLPs) can be reused; the vocabulary cannot. So every fine-tuned model here
gets a **new token embedding and output head** over a poetry vocabulary (the ``max_vocab - 1`` most
frequent characters of the training poems plus one ``unk`` stand-in for the rest), and then one of

* ``"lora"``: the body is frozen and low-rank adapters (:mod:`peft`'s LoRA) are trained on its linear
  layers, together with the new embedding and head;
* ``"full"``: every weight is trained (full fine-tuning);
* ``"scratch"``: the same architecture from a random start (what the pretraining is worth).

Shapes: ``V`` vocabulary size, ``C`` embedding width, ``r`` LoRA rank.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..core import training
from ..core.training import count_parameters as trainable_parameters  # noqa: F401  (chapter 08's name)
from . import lm

UNK = "□"
"""Stand-in for characters outside the poetry vocabulary (a white square: it reads as "missing")."""

LORA_TARGETS: tuple[str, ...] = ("c_attn", "c_proj", "c_fc")
"""The GPT's linear layers that get adapters: the q/k/v projection, both output projections, the MLP's expansion."""


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------
@dataclass
class PoetryData:
    """Poems as one string per poem (lines joined), the vocabulary, and the ids of both splits.

    ``train`` / ``val`` are 1-D int64 ids of the poems joined by newlines (one poem per line).
    ``coverage`` is the share of validation characters the vocabulary knows (the rest became ``unk``).
    """

    vocab: lm.CharVocab
    train: torch.Tensor
    val: torch.Tensor
    train_poems: list[str]
    val_poems: list[str]
    coverage: float


def poem_text(poem: Mapping[str, Any]) -> str:
    """The lines of one poem joined into a single string (punctuation kept, no newlines). The
    editors' brackets around restored characters (``[汀]``) are dropped, the characters kept; the
    collection's own mark for a lost character is ``□``, the same as our :data:`UNK`."""
    text = "".join(line.strip() for line in poem["paragraphs"])
    return text.replace("\n", "").replace("[", "").replace("]", "")


def poetry_data(
    collection: str = "tang", max_vocab: int = 2000, unk: str = UNK, val_fraction: float = 0.1, seed: int = 0
) -> PoetryData:
    """Poems of the chinese-poetry ``collection`` split by **poem** (duplicates removed, a seeded
    shuffle, the last ``val_fraction`` held out), with a capped character vocabulary built from the
    training poems only."""
    from ..datasets.text import load_chinese_poetry

    poems = list(dict.fromkeys(t for t in (poem_text(p) for p in load_chinese_poetry(collection)) if t))
    order = torch.randperm(len(poems), generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = max(1, round(len(poems) * val_fraction))
    train_poems = [poems[i] for i in order[:-n_val]]
    val_poems = [poems[i] for i in order[-n_val:]]
    train_text, val_text = "\n".join(train_poems) + "\n", "\n".join(val_poems) + "\n"
    vocab = lm.CharVocab.from_text(train_text, max_size=max_vocab, unk=unk)
    known = sum(c in vocab.stoi and c != unk for c in val_text) / len(val_text)
    return PoetryData(vocab, vocab.encode(train_text), vocab.encode(val_text), train_poems, val_poems, known)


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------
def with_new_vocabulary(base: lm.GPT, vocab_size: int, seed: int = 0) -> lm.GPT:
    """A copy of ``base`` whose token embedding ``(V, C)`` and head ``(C → V)`` are new and random
    (GPT-2 initialisation, seeded) for ``vocab_size`` tokens; positions and blocks are ``base``'s."""
    model = copy.deepcopy(base)
    model.cfg = dataclasses.replace(base.cfg, vocab_size=vocab_size)
    model.config = dataclasses.asdict(model.cfg)
    gen = torch.Generator().manual_seed(seed)
    device = base.wte.weight.device
    model.wte = nn.Embedding(vocab_size, base.cfg.n_embd, device=device)
    model.lm_head = nn.Linear(base.cfg.n_embd, vocab_size, bias=False, device=device)
    with torch.no_grad():
        for weight in (model.wte.weight, model.lm_head.weight):
            weight.copy_(torch.randn(weight.shape, generator=gen) * 0.02)
    return model


def add_lora(model: lm.GPT, r: int = 8, alpha: float = 16.0, dropout: float = 0.0,
             targets: Sequence[str] = LORA_TARGETS, train_vocabulary: bool = True) -> nn.Module:
    """Wrap ``model`` with :mod:`peft` LoRA adapters on the linear layers named ``targets``:
    ``W x`` becomes ``W x + (alpha / r) · B A x`` with ``A`` ``(r, in)`` random and ``B`` ``(out, r)``
    zero, so the wrapped model starts out computing exactly what ``model`` computes. Only ``A``, ``B``
    and (``train_vocabulary``) the token embedding and head are trainable.

    The result is a ``peft.PeftModel``: call it like the GPT, use it with :func:`lm.generate`, and
    :func:`merged` folds the adapters back into a plain :class:`~aigc_course.models.lm.GPT`."""
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=list(targets),
                     modules_to_save=["wte", "lm_head"] if train_vocabulary else None)
    return get_peft_model(model, cfg)


def merged(lora_model: nn.Module) -> lm.GPT:
    """A plain GPT with ``W + (alpha / r) B A`` in place of every adapted ``W`` (the LoRA model is left as is)."""
    return copy.deepcopy(lora_model).merge_and_unload()


class BannedTokens(nn.Module):
    """Decoding wrapper: ``model``'s next-token logits with the ``banned`` ids set to −∞, so that
    :func:`~aigc_course.models.lm.generate` never samples them. Used to keep the ``unk`` stand-in out of
    generated poems: it means "some rare character", not a character one can write.

    Has the ``prefill`` / ``extend`` decoding interface of the course's models; ``forward(idx)`` returns
    ``(B, T, V)`` logits with the banned columns at −∞."""

    def __init__(self, model: nn.Module, banned: Sequence[int]) -> None:
        super().__init__()
        self.model = model
        self.banned = list(banned)

    def _ban(self, logits: torch.Tensor) -> torch.Tensor:
        logits = logits.clone()
        logits[..., self.banned] = float("-inf")
        return logits

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        out = self.model(idx)
        return self._ban(out[0] if isinstance(out, tuple) else out)

    def prefill(self, idx: torch.Tensor, use_cache: bool = True) -> tuple[torch.Tensor, Any]:
        logits, state = self.model.prefill(idx, use_cache)
        return self._ban(logits), state

    def extend(self, idx: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        logits, state = self.model.extend(idx, state)
        return self._ban(logits), state




# --------------------------------------------------------------------------------------------
# Fine-tuning runs
# --------------------------------------------------------------------------------------------
METHODS: tuple[str, ...] = ("lora", "full", "scratch")


def build_for(method: str, base: lm.GPT, vocab_size: int, hp: Mapping[str, Any]) -> nn.Module:
    """The model a ``method`` trains: LoRA-wrapped, fully trainable, or fresh (all with the new vocabulary)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    seed = int(hp.get("seed", 0))
    if method == "scratch":
        torch.manual_seed(seed)
        return lm.GPT(dataclasses.replace(base.cfg, vocab_size=vocab_size)).to(base.wte.weight.device)
    model = with_new_vocabulary(base, vocab_size, seed)
    if method == "lora":
        torch.manual_seed(seed)  # the random A matrices
        return add_lora(model, hp["lora_r"], hp["lora_alpha"], hp.get("lora_dropout", 0.0))
    return model


def weights_fingerprint(model: nn.Module) -> str:
    """A short SHA-256 of every tensor in ``model.state_dict()`` (names and values): equal for equal weights,
    different as soon as one value differs. Names a fine-tune's base by its weights in the cache key."""
    digest = hashlib.sha256()
    for name, t in model.state_dict().items():
        digest.update(name.encode())
        digest.update(t.detach().cpu().float().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def finetune(
    method: str,
    base: training.Trained,
    data: PoetryData,
    hp: Mapping[str, Any],
    *,
    device: torch.device | str | None = None,
    retrain: bool = False,
    progress: bool = True,
) -> training.Trained:
    """Train ``method`` ("lora", "full" or "scratch") on ``data`` starting from the pretrained ``base``
    (its checkpoint names the cache entry), or load the cached result.

    ``hp`` holds the :class:`~aigc_course.models.lm.LMTrainConfig` fields (``lr`` is replaced by
    ``{method}_lr`` when present; ``block_size``, the training windows, defaults to the base model's context) and
    ``lora_r``, ``lora_alpha``. ``extra`` of the result has
    ``val_loss`` (nats/char on all validation windows), ``trainable_params``, ``train_seconds``, ``steps``."""
    base_model: lm.GPT = base.model
    device = torch.device(device) if device is not None else base_model.wte.weight.device
    hp = {**dict(hp), "lr": hp.get(f"{method}_lr", hp.get("lr"))}
    block = int(hp.get("block_size") or base_model.cfg.block_size)
    if block > base_model.cfg.block_size and base_model.cfg.positions == "learned":
        raise ValueError(f"block_size {block} is longer than the base model's context {base_model.cfg.block_size}: "
                         "its learned positions stop there; fine-tune on windows of at most that length")
    cfg = lm.train_config({**hp, "block_size": block})
    # which weights, not only which file name: a base retrained with the same config keeps its file name
    fingerprint = weights_fingerprint(base_model)
    key = {**{k: v for k, v in hp.items() if not k.endswith("_lr")}, "lr": cfg.lr, "method": method,
           "base": base.path.name, "base_weights": fingerprint, "vocab": "".join(data.vocab.chars),
           "n_train": len(data.train)}

    def build(_: Any) -> nn.Module:
        return build_for(method, base_model, len(data.vocab), hp)

    def train(model: nn.Module, session: training.TrainingSession) -> dict[str, Any]:
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=cfg.max_steps, desc=f"{method} fine-tuning", unit="step")

        def report(step: int, row: dict[str, float]) -> None:
            if bar is not None:
                bar.n = step
                bar.set_postfix(val_loss=f"{row['val_loss']:.3f}")
                bar.refresh()

        lm.train_lm(model, data.train.to(device), data.val.to(device), cfg, session, report)
        if bar is not None:
            bar.close()
        return {
            "val_loss": lm.evaluate_lm(model, data.val.to(device), cfg.block_size),
            "trainable_params": trainable_parameters(model),
            "train_seconds": float(session.history["seconds"][-1]),
            "steps": int(session.history["step"][-1]),
        }

    trained = training.load_or_train(f"08_poetry_{method}", key, build, train, retrain=retrain, device=device)
    trained.model.eval()
    return trained
