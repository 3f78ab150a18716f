"""Training plumbing: the course's one resumable step loop (:func:`run_steps`) and ``load_or_train`` checkpoints.

Checkpoints are keyed by a hash of the configuration, so a changed config never loads a stale
file; they are written atomically (temporary file + ``os.replace``) and loaded with
``weights_only=True``. A training interrupted by ``KeyboardInterrupt`` or a kernel restart
resumes from its last saved epoch the next time the same ``load_or_train`` call runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
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


def weights_digest(model: torch.nn.Module) -> str:
    """A short hash of ``model``'s state dict (names, dtypes, shapes and values): put it in the config of a model
    derived from ``model`` (a fine-tuned copy), so that a retrained base never brings back a copy made from the old
    one. The same weights give the same digest on any machine."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()[:12]


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

    Two processes asking for the same checkpoint (two notebooks of ``aigc-course run --jobs 2``) do not both train
    it: the one that trains holds ``<checkpoint>.lock`` (:func:`checkpoint_lock`) and the other waits, then loads.
    """
    final = checkpoint_path(name, config, folder)
    wanted = config_json({"name": name, **dict(config)})
    model = build(config)
    if device is not None:
        model.to(device)
    if not retrain:
        loaded = _load_final(name, final, model, wanted)
        if loaded is not None:
            return loaded
    ensure_writable(final.parent)  # before any training: a run must not end with nowhere to save it
    with checkpoint_lock(final):
        if not retrain:  # another process may have trained it while this one waited for the lock
            loaded = _load_final(name, final, model, wanted)
            if loaded is not None:
                return loaded
        return _train_and_save(name, final, model, wanted, train, retrain)


def use_bf16(asked: bool, device: torch.device | str) -> bool:
    """Whether a chapter's ``bf16`` setting turns bfloat16 autocast on for ``device``: when ``asked``, on the CPU
    and CUDA, whose autocast covers convolutions and matrix products (not on MPS). Part of a checkpoint's key."""
    return bool(asked) and torch.device(device).type in ("cpu", "cuda")


def fused_ok(device: torch.device | str) -> bool:
    """Whether to ask Adam / AdamW for their fused kernel on ``device`` (``fused=fused_ok(device)``): on the CPU and
    CUDA, where PyTorch (>= 2.4) has it. The fused step updates every tensor in one pass over memory instead of a
    chain of per-operation passes: the same arithmetic (chapter 05's VAE trains to the same negative ELBO to the
    last printed digit), less time per step. Not asked on other devices, where older PyTorch versions lack it."""
    return torch.device(device).type in ("cpu", "cuda")


@contextlib.contextmanager
def checkpoint_lock(final: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<final>.lock`` (POSIX ``flock``; the OS drops it if the process dies) for the
    ``with`` block, waiting while another process holds it. Where locks are not available (Windows, a file system
    without them) the block runs unlocked: two runs at once may then train the same model twice, nothing worse."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    try:
        handle = open(final.with_name(final.name + ".lock"), "a")  # noqa: SIM115 (closed by the with below)
    except OSError:
        yield
        return
    with handle:
        try:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another notebook is training this very model: say so, then wait for it
                print(f"another process is training {final.name}; waiting for it to finish, then loading it")
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        except OSError:
            locked = False
        else:
            locked = True
        try:
            yield
        finally:
            if locked:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _load_final(name: str, final: Path, model: nn.Module, wanted: str) -> Trained | None:
    """``final`` (a finished checkpoint) loaded into ``model``, or ``None`` when there is none; an unreadable one is
    moved aside to ``.corrupt`` with a warning."""
    if not final.is_file():
        return None
    try:
        state = load_checkpoint(final)
        _refuse_other_config(final, state, wanted)
        model.load_state_dict(state["model"])
        print(f"loaded {name} from {final}")
        return Trained(model, state.get("history", {}), final, True, 0.0, state.get("extra", {}))
    except (CheckpointError, RuntimeError) as exc:
        warnings.warn(f"{exc}; training {name} again", stacklevel=3)
        if final.is_file():  # unreadable (another config's checkpoint was already moved aside)
            final.replace(final.with_suffix(".corrupt"))
    return None


def _train_and_save(name: str, final: Path, model: nn.Module, wanted: str,
                    train: Callable[[nn.Module, TrainingSession], Mapping[str, Any] | None], retrain: bool) -> Trained:
    """Train ``model`` in place (resuming from ``<final>.partial.pt`` unless ``retrain``) and save it atomically to
    ``final``."""
    partial = final.with_suffix(".partial.pt")
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
            warnings.warn(f"{exc}; starting {name} from scratch", stacklevel=3)
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
# The course's one training loop
# --------------------------------------------------------------------------------------------
def run_steps(
    step: Callable[[int], Mapping[str, float]],
    *,
    total: int | None,
    chunk: int,
    optimizers: Sequence[torch.optim.Optimizer] = (),
    session: TrainingSession | None = None,
    seconds: float | None = None,
    lr_at: Callable[[int, float], float] | None = None,
    chunk_start: Callable[[int, bool], None] | None = None,
    evaluate: Callable[[], Mapping[str, float]] | None = None,
    on_chunk: Callable[[int, dict[str, float]], bool | None] | None = None,
    weight: str | None = None,
    log_steps: bool = False,
    desc: str | None = None,
    logdir: str | os.PathLike[str] | None = None,
) -> dict[str, list[float]]:
    """The resumable step loop every trainer of the course runs; the caller writes the step, the loop the rest.

    ``step(i)`` does update ``i`` (0-based) — draw a batch, compute the loss, ``backward``, the optimizer steps,
    an EMA — and returns the figures to log (floats); :func:`loss_step` writes the usual one-optimizer step from a
    loss function. Before each step the loop sets every parameter group of ``optimizers`` to
    ``lr_at(i, elapsed)`` (``elapsed``: seconds of training so far), times the group's ``lr_scale`` if it has one
    (a group that learns faster or slower than the rest: the embeddings of
    :func:`~aigc_course.models.muon.muon_and_adamw`). Steps come in chunks of ``chunk``; a chunk
    starts with ``chunk_start(c, first)`` (``first`` is true for the first chunk of this call: seed generators
    there) and ends with a history row ``step`` (steps done), ``seconds`` (training time, evaluation excluded),
    the chunk's mean of every figure (with ``log_steps``: every step's figures are logged instead) and
    ``evaluate()``'s figures; with a :class:`TrainingSession` the row goes to its history and
    ``session.save(c, *optimizers)`` checkpoints — so an interrupted run resumes at its last finished chunk with
    its history; then ``on_chunk(steps_done, row)``, which may return ``True`` to stop (early stopping). With
    ``weight``, the figure of that name (e.g. the batch size) weighs the chunk means and is not logged. Training
    stops after ``total`` steps or, with ``seconds``, once that much training time is spent (checked after every
    step). ``desc`` shows a progress bar; ``logdir`` also writes every row's figures as
    TensorBoard scalars there. Returns the history (``session.history`` when there is a session).
    """
    history: dict[str, list[float]] = session.history if session is not None else {}
    c = session.restore(*optimizers) if session is not None else 0
    done = int(history["step"][-1]) if history.get("step") else c * chunk
    elapsed = float(history["seconds"][-1]) if history.get("seconds") else 0.0
    bar = tqdm(total=total, initial=done, desc=desc, mininterval=2) if desc else None
    writer = _tensorboard(logdir)

    def finished() -> bool:
        return (total is not None and done >= total) or (seconds is not None and elapsed >= seconds)

    first = True
    while not finished():
        if chunk_start is not None:
            chunk_start(c, first)
        first = False
        t0, figures = time.perf_counter(), []
        for _ in range(chunk if total is None else min(chunk, total - done)):
            if lr_at is not None:
                lr = lr_at(done, elapsed + time.perf_counter() - t0)
                for opt in optimizers:
                    for group in opt.param_groups:
                        group["lr"] = lr * group.get("lr_scale", 1.0)
            values = {k: float(v) for k, v in step(done).items()}
            if log_steps and session is not None:
                session.log(**values)
            elif log_steps:
                for key, value in values.items():
                    history.setdefault(key, []).append(value)
            figures.append(values)
            done += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()}, refresh=False)
            if seconds is not None and elapsed + time.perf_counter() - t0 >= seconds:
                break
        elapsed += time.perf_counter() - t0
        row: dict[str, float] = {"step": done, "seconds": elapsed}
        if not log_steps and figures and weight is not None:
            n = sum(f[weight] for f in figures)
            row.update({k: sum(f[k] * f[weight] for f in figures) / n for k in figures[0] if k != weight})
        elif not log_steps and figures:
            row.update({k: float(np.mean([f[k] for f in figures])) for k in figures[0]})
        if evaluate is not None:
            row.update({k: float(v) for k, v in evaluate().items()})
        if session is not None:
            session.log(**row)
            session.save(c, *optimizers)
        else:
            for key, value in row.items():
                history.setdefault(key, []).append(float(value))
        if writer is not None:
            for key, value in row.items():
                if key != "step":
                    writer.add_scalar(f"{desc or 'train'}/{key}", value, done)
        c += 1
        if on_chunk is not None and on_chunk(done, row):
            break
    if bar is not None:
        bar.close()
    if writer is not None:
        writer.close()
    return history


def loss_step(
    loss_fn: Callable[[int], torch.Tensor | tuple[torch.Tensor, Mapping[str, float]]],
    optimizer: torch.optim.Optimizer | Sequence[torch.optim.Optimizer],
    *,
    clip: float | None = None,
    params: Iterable[nn.Parameter] | None = None,
    name: str = "loss",
) -> Callable[[int], dict[str, float]]:
    """The usual step for :func:`run_steps`: ``loss_fn(i)`` returns the loss (or ``(loss, figures)``), then
    ``zero_grad → backward → clip the gradient norm of params to clip → optimizer.step``; logs the loss as
    ``name`` (and the figures). ``optimizer`` may be a list (e.g. Muon for some parameters, AdamW for the rest):
    each steps its own parameters."""
    optimizers = list(optimizer) if isinstance(optimizer, (list, tuple)) else [optimizer]
    params = list(params) if params is not None else [p for o in optimizers for g in o.param_groups
                                                      for p in g["params"]]

    def step(i: int) -> dict[str, float]:
        out = loss_fn(i)
        loss, figures = out if isinstance(out, tuple) else (out, {})
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(params, clip)
        for opt in optimizers:
            opt.step()
        return {name: loss.item(), **figures}

    return step


def _tensorboard(logdir: str | os.PathLike[str] | None):
    if logdir is None:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional (not on Colab's minimal installs)
        warnings.warn("tensorboard is not installed; `pip install tensorboard` to log curves", stacklevel=3)
        return None
    return SummaryWriter(log_dir=str(logdir))
