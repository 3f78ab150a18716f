"""Training plumbing: a small ``fit`` loop with progress bars, and ``load_or_train`` checkpoints.

Checkpoints are keyed by a hash of the configuration, so a changed config never loads a stale
file; they are written atomically (temporary file + ``os.replace``) and loaded with
``weights_only=True``. A training interrupted by ``KeyboardInterrupt`` or a kernel restart
resumes from its last saved epoch the next time the same ``load_or_train`` call runs.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from . import paths


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------
def atomic_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save`` to a temporary file in the same folder, then rename over ``path``.

    A crash mid-write leaves the old file (or none), never a truncated one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def config_json(config: Mapping[str, Any]) -> str:
    """The canonical JSON text of a config (keys sorted): what a checkpoint records and its hash is taken of."""
    return json.dumps(config, sort_keys=True, default=str)


def config_hash(config: Mapping[str, Any]) -> str:
    """A short, stable hash of a JSON-able config (keys sorted)."""
    return hashlib.sha256(config_json(config).encode("utf-8")).hexdigest()[:12]


def config_differences(recorded: str, wanted: str) -> list[str]:
    """The keys whose values differ between two :func:`config_json` texts (sorted)."""
    a, b = json.loads(recorded), json.loads(wanted)
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read (corrupted, or not ours)."""


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint dict with ``weights_only=True``; a clear error if it is unreadable."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, pickle errors, …
        raise CheckpointError(
            f"checkpoint {path} is unreadable ({type(exc).__name__}); delete it or pass retrain=True"
        ) from exc
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"checkpoint {path} has no 'model' entry; delete it or pass retrain=True")
    return state


# --------------------------------------------------------------------------------------------
# Resumable training sessions
# --------------------------------------------------------------------------------------------
@dataclass
class TrainingSession:
    """Handed to the ``train`` function of :func:`load_or_train` for epoch-level checkpoints.

    ``start_epoch`` is where training should continue (0 on a fresh start). Call
    :meth:`restore` once the optimizers exist, and :meth:`save` after every epoch.
    """

    path: Path | None
    model: nn.Module
    start_epoch: int = 0
    history: dict[str, list[float]] = field(default_factory=dict)
    _state: dict[str, Any] | None = None
    config_json: str | None = None  # the config it trains for, recorded in every partial checkpoint

    def restore(self, *optimizers: torch.optim.Optimizer) -> int:
        """Load the optimizers' state from the partial checkpoint; returns ``start_epoch``."""
        if self._state is not None:
            for opt, opt_state in zip(optimizers, self._state.get("optimizers", [])):
                opt.load_state_dict(opt_state)
            if "rng" in self._state:
                torch.set_rng_state(self._state["rng"])
        return self.start_epoch

    def save(self, epoch: int, *optimizers: torch.optim.Optimizer, **extra: Any) -> None:
        """Record that ``epoch`` (0-based) is finished; training resumes at ``epoch + 1``."""
        self.start_epoch = epoch + 1
        if self.path is None:
            return
        atomic_save(
            {
                "model": self.model.state_dict(),
                "optimizers": [opt.state_dict() for opt in optimizers],
                "epoch": epoch + 1,
                "history": self.history,
                "rng": torch.get_rng_state(),
                "extra": extra,
                "config_json": self.config_json,
            },
            self.path,
        )

    def log(self, **values: float) -> None:
        """Append scalars to ``history`` (kept in the checkpoint, so curves survive a resume)."""
        for key, value in values.items():
            self.history.setdefault(key, []).append(float(value))


@dataclass
class Trained:
    """What :func:`load_or_train` returns."""

    model: nn.Module
    history: dict[str, list[float]]
    path: Path
    loaded: bool  # True when the weights came from a finished checkpoint
    seconds: float  # training time of this call (0 when loaded)
    extra: dict[str, Any] = field(default_factory=dict)


def checkpoint_path(name: str, config: Mapping[str, Any], folder: str | os.PathLike[str] | None = None) -> Path:
    """Where :func:`load_or_train` keeps ``name``'s finished checkpoint for ``config``:
    ``<folder>/<name>-<config hash>.pt`` (folder: the checkpoint folder by default)."""
    folder = Path(folder) if folder else paths.checkpoint_dir()
    return folder / f"{name}-{config_hash({'name': name, **dict(config)})}.pt"


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (``requires_grad``: what the optimizer updates)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class OtherConfigError(CheckpointError):
    """A readable checkpoint recorded for another config (copied or renamed by hand): it is moved aside, not used."""


def _refuse_other_config(path: Path, state: Mapping[str, Any], wanted: str) -> None:
    """Raise :class:`OtherConfigError` (after moving ``path`` to ``<name>.other-config.pt``, so nothing is lost) when
    the checkpoint records a config other than ``wanted``; checkpoints from before configs were recorded pass."""
    recorded = state.get("config_json")
    if recorded is None or recorded == wanted:
        return
    aside = path.with_name(path.name.replace(".pt", ".other-config.pt"))
    path.replace(aside)
    raise OtherConfigError(f"checkpoint {path.name} was trained with another config (differs in "
                           f"{', '.join(config_differences(recorded, wanted)) or 'its text'}); kept as {aside.name}")


def ensure_writable(folder: Path) -> None:
    """Create ``folder`` if needed and check that a file can be written in it; raises :class:`CheckpointError`
    naming the folder and ``AIGC_COURSE_CHECKPOINTS`` otherwise."""
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise CheckpointError(f"cannot write checkpoints to {folder} ({exc.strerror or exc}): set "
                              "AIGC_COURSE_CHECKPOINTS to a writable folder") from None


def load_or_train(
    name: str,
    config: Mapping[str, Any],
    build: Callable[[Mapping[str, Any]], nn.Module],
    train: Callable[[nn.Module, TrainingSession], Mapping[str, Any] | None],
    *,
    folder: str | os.PathLike[str] | None = None,
    retrain: bool = False,
    device: torch.device | str | None = None,
) -> Trained:
    """Load ``name``'s finished checkpoint for this exact ``config``, or train (resuming if possible).

    ``build(config)`` returns a fresh model; ``train(model, session)`` trains it in place, calls
    ``session.save(epoch, *optimizers)`` after each epoch and may return extra JSON-able
    information to store. The checkpoint file is ``<folder>/<name>-<config hash>.pt``.
    """
    final = checkpoint_path(name, config, folder)
    partial = final.with_suffix(".partial.pt")
    wanted = config_json({"name": name, **dict(config)})
    model = build(config)
    if device is not None:
        model.to(device)
    if final.is_file() and not retrain:
        try:
            state = load_checkpoint(final)
            _refuse_other_config(final, state, wanted)
            model.load_state_dict(state["model"])
            print(f"loaded {name} from {final}")
            return Trained(model, state.get("history", {}), final, True, 0.0, state.get("extra", {}))
        except (CheckpointError, RuntimeError) as exc:
            warnings.warn(f"{exc}; training {name} again", stacklevel=2)
            if final.is_file():  # unreadable (another config's checkpoint was already moved aside)
                final.replace(final.with_suffix(".corrupt"))
    ensure_writable(final.parent)  # before any training: a run must not end with nowhere to save it
    session = TrainingSession(partial, model, config_json=wanted)
    if partial.is_file() and not retrain:
        try:
            state = load_checkpoint(partial)
            _refuse_other_config(partial, state, wanted)
            model.load_state_dict(state["model"])
            session.start_epoch = int(state.get("epoch", 0))
            session.history = {k: list(v) for k, v in state.get("history", {}).items()}
            session._state = state
            print(f"resuming {name} from epoch {session.start_epoch} ({partial})")
        except (CheckpointError, RuntimeError) as exc:
            warnings.warn(f"{exc}; starting {name} from scratch", stacklevel=2)
            partial.unlink(missing_ok=True)
    start = time.perf_counter()
    extra = train(model, session) or {}
    seconds = time.perf_counter() - start
    atomic_save({"model": model.state_dict(), "history": session.history, "extra": dict(extra), "config_json": wanted},
                final)
    partial.unlink(missing_ok=True)
    return Trained(model, session.history, final, False, seconds, dict(extra))


def warmup_cosine_lr(step: int, total: int, peak: float, warmup: int) -> float:
    """Learning rate at ``step`` (0-based) of ``total``: linear warm-up over ``warmup`` steps to ``peak``,
    multiplied by a cosine decay from ``peak`` towards 0 at ``total``."""
    ramp = min(1.0, (step + 1) / max(1, warmup))
    return peak * ramp * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))


# --------------------------------------------------------------------------------------------
# A small fit loop
# --------------------------------------------------------------------------------------------
def _to(batch: Any, device: torch.device | str | None) -> Any:
    if device is None:
        return batch
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to(b, device) for b in batch)
    return batch


def fit(
    model: nn.Module,
    loader: Iterable[Any],
    loss_fn: Callable[[nn.Module, Any], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    epochs: int,
    *,
    session: TrainingSession | None = None,
    evaluate: Callable[[nn.Module], Mapping[str, float]] | None = None,
    device: torch.device | str | None = None,
    logdir: str | os.PathLike[str] | None = None,
    desc: str = "train",
    progress: bool = True,
) -> dict[str, list[float]]:
    """Train ``model`` for ``epochs`` epochs; returns the history (``loss`` per epoch, plus eval).

    ``loss_fn(model, batch)`` returns the scalar loss of one batch; the loop does the classic
    ``zero_grad → backward → step``. ``evaluate(model)`` (optional) runs after each epoch in
    ``eval`` mode without gradients. With ``session`` the loop resumes and checkpoints per epoch;
    with ``logdir`` it also writes TensorBoard scalars there.
    """
    history = session.history if session is not None else {}
    start = session.restore(optimizer) if session is not None else 0
    writer = _tensorboard(logdir)
    bar = tqdm(range(start, epochs), desc=desc, initial=start, total=epochs, disable=not progress)
    for epoch in bar:
        model.train()
        total, count = 0.0, 0
        for batch in loader:
            batch = _to(batch, device)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model, batch)
            loss.backward()
            optimizer.step()
            total += loss.item()
            count += 1
        values = {"loss": total / max(count, 1)}
        if evaluate is not None:
            model.eval()
            with torch.no_grad():
                values.update({k: float(v) for k, v in evaluate(model).items()})
        for key, value in values.items():
            history.setdefault(key, []).append(value)
            if writer is not None:
                writer.add_scalar(f"{desc}/{key}", value, epoch)
        bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()})
        if session is not None:
            session.save(epoch, optimizer)
    if writer is not None:
        writer.close()
    return history


def _tensorboard(logdir: str | os.PathLike[str] | None):
    if logdir is None:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional (not on Colab's minimal installs)
        warnings.warn("tensorboard is not installed; `pip install tensorboard` to log curves", stacklevel=3)
        return None
    return SummaryWriter(log_dir=str(logdir))
