"""Data-parallel training of the course's mini-GPT across processes with HF Accelerate (chapter 15).

Every process holds a full copy of the model. At each optimizer step all processes draw the **same**
global batch ``(B, T)``; process ``r`` of ``N`` keeps rows ``r·B/N … (r+1)·B/N − 1`` (its shard),
optionally splits them into ``k`` micro-batches (gradient accumulation), and runs forward and
backward. During the backward pass DistributedDataParallel all-reduces the gradients in buckets and
divides by ``N``, so every process applies the gradient of the whole global batch and the replicas
stay identical. With ``N = 1`` the same code trains on the whole batch in one process, which makes
the two loss curves comparable step by step (they differ only by float32 rounding).

Ways to start it (the worker is :func:`train_worker` in every case):

* from Python or a notebook: :func:`run_data_parallel` (``accelerate.notebook_launcher``, which
  forks the processes, on CPU; a ``torchrun`` subprocess when the workers use CUDA);
* from a shell: ``python -m aigc_course.apps.distributed --nproc 2 --steps 50`` starts ``torchrun`` for you;
  or yourself: ``torchrun --nproc_per_node 2 -m aigc_course.apps.distributed --steps 50`` (CPU: gloo) and
  ``accelerate launch --multi_gpu --num_processes 2 -m aigc_course.apps.distributed --gpu`` (GPUs: NCCL).

Safety: every worker has a deadline (``deadline_s``, after which it prints its stack and exits), a
process-group timeout (``timeout_s``: a collective or a rendezvous that waits longer fails), dies
with its parent (Linux), and the subprocess launcher kills its whole process group on timeout.

Shapes: ``B`` global batch, ``N`` processes, ``k`` micro-batches per process, ``T`` block size,
``V`` vocabulary size, ``P`` number of parameters.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import faulthandler
import io
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..core.training import warmup_cosine_lr
from ..models import lm

MIXED_PRECISIONS = ("no", "bf16", "fp16", "auto")


class LaunchError(RuntimeError):
    """A multi-process run failed, timed out or produced no result."""


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------
@dataclass
class DPConfig:
    """One data-parallel training run. Plain data: it travels to the workers as JSON.

    The model is a :class:`~aigc_course.models.lm.GPT` (``n_layer``, ``n_head``, ``n_embd``,
    ``block_size``, ``dropout``) on character ids of ``text`` (Tiny Shakespeare when ``None``; first
    90 % train, last 10 % validation). Training: ``steps`` AdamW steps on global batches of
    ``global_batch`` windows, learning rate warm-up + cosine (:func:`~aigc_course.core.training.warmup_cosine_lr`),
    ``grad_accum`` micro-batches per process and step, ``mixed_precision`` in ``"no"``, ``"bf16"``,
    ``"fp16"`` (GPU only) or ``"auto"`` (bf16 where the GPU supports it, else fp16; ``"no"`` on CPU).
    """

    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    block_size: int = 32
    dropout: float = 0.0
    global_batch: int = 32
    steps: int = 50
    stop_after: int | None = None  # train only the first steps of the `steps`-long schedule (comparisons)
    lr: float = 3e-3
    warmup: int = 10
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    grad_accum: int = 1
    mixed_precision: str = "no"
    cpu: bool = True
    seed: int = 0
    threads_per_process: int = 1
    text: str | None = None
    eval_windows: int = 50  # validation windows evaluated at the end (0: skip)
    timing_warmup: int = 3  # first steps left out of the throughput figure
    comm_sizes: list[int] = field(default_factory=list)  # float32 element counts to time all_reduce on (+ P)
    comm_repeats: int = 5
    probe_every: int = 10  # every this many steps, time forward+backward and a gradient all-reduce (0: never)
    bucket_cap_mb: float = 25.0
    timeout_s: float = 60.0  # process-group timeout: a rendezvous or collective that waits longer fails
    deadline_s: float = 900.0  # a worker that runs longer prints its stack and exits
    fail_rank: int | None = None  # for tests: this rank raises at its first step
    out: str | None = None  # where rank 0 writes its result (JSON)

    def validate(self, num_processes: int) -> None:
        """Raise ``ValueError`` with a clear message for settings that cannot work on ``num_processes``."""
        if num_processes < 1:
            raise ValueError(f"num_processes must be at least 1, not {num_processes}")
        if self.steps < 1 or self.global_batch < 1 or self.grad_accum < 1:
            raise ValueError("steps, global_batch and grad_accum must all be at least 1")
        per = num_processes * self.grad_accum
        if self.global_batch % per:
            lo, hi = (self.global_batch // per) * per, (self.global_batch // per + 1) * per
            raise ValueError(
                f"global batch {self.global_batch} cannot be split evenly over {num_processes} process(es) × "
                f"{self.grad_accum} micro-batch(es): it must be a multiple of {per} (e.g. {lo or hi} or {hi}). "
                "Unequal shards would weigh some examples more than others, and the averaged gradient would no "
                "longer be the full-batch gradient."
            )
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd {self.n_embd} must be a multiple of n_head {self.n_head}")
        if self.mixed_precision not in MIXED_PRECISIONS:
            raise ValueError(f"mixed_precision must be one of {MIXED_PRECISIONS}, not {self.mixed_precision!r}")
        if self.cpu and self.mixed_precision == "fp16":
            raise ValueError("fp16 mixed precision needs a GPU; on CPU use 'no' (or 'bf16')")
        if self.timeout_s <= 0 or self.deadline_s <= 0:
            raise ValueError("timeout_s and deadline_s must be positive")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> DPConfig:
        return cls(**json.loads(text))


@dataclass
class DPResult:
    """What rank 0 of a run reports.

    ``losses[s]``: the loss of the global batch of step ``s`` before its update (mean over all ``B·T``
    predicted characters, averaged across processes); ``step_seconds[s]``: wall time of step ``s``;
    ``val_loss``: nats/char on ``eval_windows`` validation windows after training; ``replica_max_diff``:
    the largest difference of any parameter between processes at the end (0.0 when in sync);
    ``comm_bytes``/``comm_seconds``: timed all-reduces of float32 tensors (median of repeats);
    ``compute_seconds``: one process's forward+backward over its shard without communication and
    ``comm_grad_seconds``: an all-reduce of one gradient (medians of the probes taken during training);
    ``optimizer_seconds``: mean optimizer-step time (clipping included).
    """

    num_processes: int
    device: str
    mixed_precision: str
    global_batch: int
    grad_accum: int
    num_params: int
    losses: list[float]
    step_seconds: list[float]
    val_loss: float | None
    replica_max_diff: float
    comm_bytes: list[int]
    comm_seconds: list[float]
    compute_seconds: float | None
    comm_grad_seconds: float | None
    optimizer_seconds: float
    timing_warmup: int
    threads_per_process: int
    launcher: str = ""

    @property
    def final_loss(self) -> float:
        return self.losses[-1]

    @property
    def grad_bytes(self) -> int:
        """Bytes of one full float32 gradient (``4·P``)."""
        return 4 * self.num_params

    @property
    def seconds_per_step(self) -> float:
        """Mean wall time of a training step after the first ``timing_warmup`` steps."""
        timed = self.step_seconds[self.timing_warmup:] or self.step_seconds
        return sum(timed) / len(timed)

    @property
    def samples_per_second(self) -> float:
        """Training windows (of ``T`` characters) per second, all processes together."""
        return self.global_batch / self.seconds_per_step

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DPResult:
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d})


# --------------------------------------------------------------------------------------------
# Data: one global batch per step, the same on every process, and its shards
# --------------------------------------------------------------------------------------------
def load_ids(cfg: DPConfig) -> tuple[torch.Tensor, torch.Tensor, int]:
    """``(train (N_train,), val (N_val,), V)``: character ids of ``cfg.text`` (90/10 split) or of
    Tiny Shakespeare (the course's split and 65-character vocabulary)."""
    if cfg.text is None:
        data = lm.shakespeare_data()
        return data.train, data.val, len(data.vocab)
    vocab = lm.CharVocab.from_text(cfg.text)
    ids = vocab.encode(cfg.text)
    cut = int(0.9 * len(ids))
    if cut <= cfg.block_size + 1 or len(ids) - cut <= cfg.block_size + 1:
        raise ValueError(f"text of {len(ids)} characters is too short for block_size {cfg.block_size}")
    return ids[:cut], ids[cut:], len(vocab)


def global_batch(train: torch.Tensor, cfg: DPConfig, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)``, both ``(B, T)``: the global batch of ``step``. It depends only on ``cfg.seed`` and
    ``step`` — not on the number of processes — so every process (and a 1-process run) sees the same one."""
    gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
    return lm.random_batch(train, cfg.block_size, cfg.global_batch, gen)


def shard(batch: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """Rows ``rank·B/world … (rank+1)·B/world − 1`` of ``batch`` ``(B, ...)`` → ``(B/world, ...)``.

    Raises ``ValueError`` when ``B`` is not a multiple of ``world`` (unequal shards would break the
    equality of the averaged and the full-batch gradient)."""
    if not 0 <= rank < world:
        raise ValueError(f"rank {rank} is outside 0 … {world - 1}")
    if batch.shape[0] % world:
        raise ValueError(f"a batch of {batch.shape[0]} rows cannot be split evenly over {world} processes")
    per = batch.shape[0] // world
    return batch[rank * per:(rank + 1) * per]


# --------------------------------------------------------------------------------------------
# The communication pattern, simulated: ring all-reduce
# --------------------------------------------------------------------------------------------
def ring_allreduce(tensors: Sequence[torch.Tensor]) -> tuple[list[torch.Tensor], list[int]]:
    """Simulate ring all-reduce (sum) among ``N = len(tensors)`` ranks, each holding a 1-D tensor of ``S``
    elements. Returns ``(results, elements_sent)``: every rank's result (all equal to the sum) and how
    many elements each rank sent.

    Each tensor is cut into ``N`` chunks. **Reduce-scatter**: in ``N − 1`` rounds rank ``r`` sends chunk
    ``(r − t) mod N`` to rank ``r + 1``, which adds it to its own; afterwards rank ``r`` holds the full sum
    of chunk ``(r + 1) mod N``. **All-gather**: in ``N − 1`` more rounds the finished chunks travel once
    around the ring. Each rank sends ``2(N − 1)`` chunks of ``S/N`` elements: ``2(N − 1)/N · S`` in all,
    almost independent of ``N``."""
    n = len(tensors)
    if n == 0:
        raise ValueError("need at least one rank")
    size = tensors[0].numel()
    if any(t.dim() != 1 or t.numel() != size for t in tensors):
        raise ValueError("every rank must hold a 1-D tensor of the same length")
    bounds = [round(i * size / n) for i in range(n + 1)]
    chunks = [[t[bounds[c]:bounds[c + 1]].clone() for c in range(n)] for t in tensors]  # chunks[rank][chunk]
    sent = [0] * n
    for t in range(n - 1):  # reduce-scatter
        msgs = [(r, (r - t) % n, chunks[r][(r - t) % n].clone()) for r in range(n)]  # all send at once
        for r, c, payload in msgs:
            chunks[(r + 1) % n][c] += payload
            sent[r] += payload.numel()
    for t in range(n - 1):  # all-gather: rank r owns the finished chunk (r + 1 - t) mod n
        msgs = [(r, (r + 1 - t) % n, chunks[r][(r + 1 - t) % n].clone()) for r in range(n)]
        for r, c, payload in msgs:
            chunks[(r + 1) % n][c] = payload
            sent[r] += payload.numel()
    return [torch.cat(ch) for ch in chunks], sent


def ring_allreduce_bytes(size_bytes: float, n: int) -> float:
    """Bytes each rank sends (and receives) in a ring all-reduce of ``size_bytes``: ``2(n−1)/n · size``."""
    return 2 * (n - 1) / n * size_bytes


def fit_comm_model(nbytes: Sequence[float], seconds: Sequence[float]) -> tuple[float, float]:
    """Fit ``seconds ≈ latency + nbytes / bandwidth`` by least squares on *relative* errors (sizes span
    orders of magnitude: a plain fit would ignore the small messages that set the latency). Returns
    ``(latency_s, bandwidth_bytes_per_s)``; both are kept non-negative."""
    x = torch.tensor(nbytes, dtype=torch.float64)
    y = torch.tensor(seconds, dtype=torch.float64)
    if len(x) < 2 or bool((y <= 0).any()):
        raise ValueError("need at least two sizes with positive times")
    A = torch.stack([torch.ones_like(x), x], dim=1) / y[:, None]  # each row divided by its time
    latency, slope = torch.linalg.lstsq(A, torch.ones_like(y)[:, None]).solution[:, 0].tolist()
    if latency < 0:  # the data say "no measurable latency": refit the slope alone
        latency, slope = 0.0, float((x * y / y**2).sum() / (x**2 / y**2).sum())
    if slope <= 0:  # no measurable size effect
        return float((1 / y).sum() / (1 / y**2).sum()), math.inf
    return latency, 1.0 / slope


# --------------------------------------------------------------------------------------------
# The worker: what every process runs
# --------------------------------------------------------------------------------------------
def _die_with_parent() -> None:
    """Linux: ask the kernel to kill this process when its parent dies (no orphaned workers)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1


def _real_stderr() -> Any:
    """A stderr with a file descriptor (faulthandler needs one; a notebook's sys.stderr may have none)."""
    for stream in (sys.stderr, sys.__stderr__):
        try:
            stream.fileno()
            return stream
        except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
            continue
    return open(os.devnull, "w")  # lives as long as the worker


def _resolve_precision(cfg: DPConfig) -> str:
    if cfg.mixed_precision != "auto":
        return cfg.mixed_precision
    if cfg.cpu or not torch.cuda.is_available():
        return "no"
    return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp16"


def _median(values: Sequence[float]) -> float:
    return float(torch.tensor(list(values), dtype=torch.float64).median())


def train_worker(cfg: DPConfig | dict[str, Any] | str, in_child: bool = True) -> DPResult | None:
    """Train ``cfg`` as one process of a data-parallel group; rank 0 returns (and writes to ``cfg.out``)
    the :class:`DPResult`, the other ranks return ``None``.

    The group comes from the environment (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT`` as set
    by ``torchrun``, ``accelerate launch`` or ``notebook_launcher``); without it this is a 1-process run.
    ``in_child=False`` (a run inside the calling process) skips the deadline watchdog, which would
    end the caller."""
    from datetime import timedelta

    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState
    from accelerate.utils import DistributedDataParallelKwargs, InitProcessGroupKwargs

    if isinstance(cfg, str):
        cfg = DPConfig.from_json(cfg)
    elif isinstance(cfg, dict):
        cfg = DPConfig(**cfg)
    if in_child:
        _die_with_parent()
        faulthandler.dump_traceback_later(cfg.deadline_s, exit=True, file=_real_stderr())
    os.environ["OMP_NUM_THREADS"] = str(cfg.threads_per_process)  # accelerate would otherwise pick its own
    threads_before = torch.get_num_threads()
    torch.set_num_threads(cfg.threads_per_process)
    try:
        precision = _resolve_precision(cfg)
        accelerator = Accelerator(
            cpu=cfg.cpu,
            mixed_precision=precision,
            gradient_accumulation_steps=cfg.grad_accum,
            kwargs_handlers=[
                InitProcessGroupKwargs(backend=None, timeout=timedelta(seconds=cfg.timeout_s)),
                DistributedDataParallelKwargs(bucket_cap_mb=cfg.bucket_cap_mb),
            ],
        )
        result = train_loop(cfg, accelerator, precision)
        # all ranks got here (train_loop ends with a barrier): close the connections in order. A process that
        # exits with its group alive can abort (SIGABRT) when its peer closes first. On an error we do not:
        # exiting at once makes the peers' pending collectives fail fast instead of waiting for the timeout.
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        return result
    finally:
        if in_child:
            faulthandler.cancel_dump_traceback_later()
        else:  # leave the caller as it was: no Accelerate state, its thread count
            AcceleratorState._reset_state(reset_partial_state=True)
            GradientState._reset_state()
            torch.set_num_threads(threads_before)


def _probe(accelerator: Any, model: torch.nn.Module, opt: Any, xs: torch.Tensor, ys: torch.Tensor, k: int,
           vocab_size: int, num_params: int, fb_times: list[float], comm_times: list[float]) -> None:
    """Time, between two training steps, this process's forward + backward over its shard ``xs`` ``(B/N, T)``
    without communication (``no_sync``), then an all-reduce of a gradient-sized float32 buffer ``(P,)``. The
    gradients are discarded; the parameters do not change. Probing during training (not before it) makes the
    times see the same machine load as the steps they are compared with."""
    cuda = xs.device.type == "cuda"
    t0 = time.perf_counter()
    with accelerator.no_sync(model):
        for xm, ym in zip(xs.chunk(k), ys.chunk(k)):
            with accelerator.autocast():
                logits = model(xm)
            F.cross_entropy(logits.float().reshape(-1, vocab_size), ym.reshape(-1)).backward()
    if cuda:
        torch.cuda.synchronize()
    fb_times.append(time.perf_counter() - t0)
    opt.zero_grad(set_to_none=True)
    if accelerator.num_processes > 1:
        buf = torch.ones(num_params, device=xs.device)
        accelerator.wait_for_everyone()
        t0 = time.perf_counter()
        torch.distributed.all_reduce(buf)
        if cuda:
            torch.cuda.synchronize()
        comm_times.append(time.perf_counter() - t0)


def train_loop(cfg: DPConfig, accelerator: Any, precision: str) -> DPResult | None:
    """The training loop of one process (called by :func:`train_worker` with its ``Accelerator``)."""
    rank, world, device = accelerator.process_index, accelerator.num_processes, accelerator.device
    cfg.validate(world)
    train, val, vocab_size = load_ids(cfg)
    torch.manual_seed(cfg.seed)  # the same initial weights on every process (DDP also broadcasts rank 0's)
    model = lm.GPT(lm.GPTConfig(vocab_size, cfg.block_size, cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.dropout))
    num_params = model.num_params()
    opt = lm.make_optimizer(model, cfg.lr, cfg.weight_decay)
    model, opt = accelerator.prepare(model, opt)

    # 1. communication alone: all-reduce float32 tensors of several sizes, including one full gradient
    comm_bytes, comm_seconds = [], []
    if world > 1:
        for numel in sorted(set(cfg.comm_sizes) | {num_params}):
            buf = torch.ones(numel, device=device)
            times = []
            for _ in range(cfg.comm_repeats + 1):  # the first call sets up the connection pairs: not timed
                accelerator.wait_for_everyone()
                t0 = time.perf_counter()
                torch.distributed.all_reduce(buf)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - t0)
            comm_bytes.append(4 * numel)
            comm_seconds.append(_median(times[1:]))

    # 2. training
    losses, step_seconds, opt_seconds, probe_fb, probe_comm = [], [], [], [], []
    model.train()
    for step in range(cfg.steps if cfg.stop_after is None else min(cfg.steps, cfg.stop_after)):
        if cfg.fail_rank == rank:
            raise RuntimeError(f"rank {rank} fails on purpose (fail_rank={cfg.fail_rank})")
        x, y = global_batch(train, cfg, step)  # (B, T), identical on every process
        xs, ys = shard(x, rank, world).to(device), shard(y, rank, world).to(device)  # (B/N, T): mine
        if cfg.probe_every and step % cfg.probe_every == cfg.probe_every - 1:  # timing only, not training
            _probe(accelerator, model, opt, xs, ys, cfg.grad_accum, vocab_size, num_params, probe_fb, probe_comm)
        t0 = time.perf_counter()
        for group in opt.param_groups:
            group["lr"] = warmup_cosine_lr(step, cfg.steps, cfg.lr, cfg.warmup)
        step_loss = torch.zeros((), device=device)
        for xm, ym in zip(xs.chunk(cfg.grad_accum), ys.chunk(cfg.grad_accum)):  # k × (B/(N·k), T)
            with accelerator.accumulate(model):  # no all-reduce until the last micro-batch
                logits = model(xm)  # (B/(N·k), T, V); autocast applied by Accelerate when mixed
                loss = F.cross_entropy(logits.float().reshape(-1, vocab_size), ym.reshape(-1))
                accelerator.backward(loss)  # divides by k; DDP all-reduces (averages) on the last micro-batch
                if accelerator.sync_gradients:
                    t_opt = time.perf_counter()
                    if cfg.grad_clip:
                        accelerator.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                opt.step()  # skipped by Accelerate until the gradients are synchronised
                opt.zero_grad(set_to_none=True)
                if accelerator.sync_gradients:
                    opt_seconds.append(time.perf_counter() - t_opt)
            step_loss += loss.detach() / cfg.grad_accum
        losses.append(accelerator.reduce(step_loss, "mean").item())  # the global batch's loss
        step_seconds.append(time.perf_counter() - t0)

    # 3. the replicas must be identical: compare every parameter across processes
    flat = torch.cat([p.detach().float().reshape(-1) for p in accelerator.unwrap_model(model).parameters()])
    hi, lo = flat.clone(), flat.clone()
    if world > 1:
        torch.distributed.all_reduce(hi, torch.distributed.ReduceOp.MAX)
        torch.distributed.all_reduce(lo, torch.distributed.ReduceOp.MIN)
    replica_max_diff = float((hi - lo).max())

    val_loss = None
    if accelerator.is_main_process and cfg.eval_windows:
        val_loss = lm.evaluate_lm(accelerator.unwrap_model(model), val.to(device), cfg.block_size,
                                  max_windows=cfg.eval_windows)
    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:
        return None
    result = DPResult(
        num_processes=world, device=str(device), mixed_precision=precision, global_batch=cfg.global_batch,
        grad_accum=cfg.grad_accum, num_params=num_params, losses=losses, step_seconds=step_seconds,
        val_loss=val_loss, replica_max_diff=replica_max_diff, comm_bytes=comm_bytes, comm_seconds=comm_seconds,
        compute_seconds=_median(probe_fb) if probe_fb else None,
        comm_grad_seconds=_median(probe_comm) if probe_comm else None,
        optimizer_seconds=sum(opt_seconds) / max(len(opt_seconds), 1),
        timing_warmup=min(cfg.timing_warmup, len(losses) - 1), threads_per_process=cfg.threads_per_process,
    )
    if cfg.out:
        tmp = Path(cfg.out).with_suffix(".tmp")
        tmp.write_text(json.dumps(dataclasses.asdict(result)), encoding="utf-8")
        os.replace(tmp, cfg.out)
    return result


# --------------------------------------------------------------------------------------------
# Launching
# --------------------------------------------------------------------------------------------
def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _result_file() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="aigc-dp-") as folder:
        yield Path(folder) / "result.json"


def _read_result(path: Path, launcher: str) -> DPResult:
    if not path.is_file():
        raise LaunchError(f"the {launcher} run ended without a result from rank 0 (see the workers' output above)")
    result = DPResult.from_dict(json.loads(path.read_text(encoding="utf-8")))
    result.launcher = launcher
    return result


def run_data_parallel(
    cfg: DPConfig, num_processes: int = 2, *, launcher: str = "auto", timeout_s: float | None = None
) -> DPResult:
    """Train ``cfg`` on ``num_processes`` processes and return rank 0's :class:`DPResult`.

    ``launcher``: ``"notebook"`` — :func:`accelerate.notebook_launcher` (forks the workers from this
    process; needs that nothing here has initialised CUDA); ``"subprocess"`` — ``torchrun`` in a child
    process group (CUDA-safe; the group is killed after ``timeout_s``); ``"auto"`` — ``"notebook"`` on CPU,
    ``"subprocess"`` for GPU workers and on Colab (where ``notebook_launcher`` runs a single process unless
    there are several GPUs). One process with ``"notebook"`` runs in this process.

    The settings are checked before anything starts (e.g. a global batch that does not split evenly).
    """
    cfg.validate(num_processes)
    if launcher == "auto":
        launcher = "notebook" if cfg.cpu else "subprocess"
    if launcher not in ("notebook", "subprocess"):
        raise ValueError(f"launcher must be 'auto', 'notebook' or 'subprocess', not {launcher!r}")
    if launcher == "notebook" and num_processes > 1 and "google.colab" in sys.modules:
        # on Colab without several GPUs notebook_launcher runs the function once, in the notebook: not N processes
        launcher = "subprocess"
    timeout_s = timeout_s if timeout_s is not None else cfg.deadline_s + 60
    with _result_file() as out:
        run_cfg = dataclasses.replace(cfg, out=str(out))
        if launcher == "notebook":
            _launch_notebook(run_cfg, num_processes)
        else:
            _launch_subprocess(run_cfg, num_processes, timeout_s)
        return _read_result(out, launcher)


def _launch_notebook(cfg: DPConfig, num_processes: int) -> None:
    if num_processes == 1:
        with _without_launcher_env():
            train_worker(cfg, in_child=False)
        return
    from accelerate import notebook_launcher

    try:
        # notebook_launcher announces "Launching training on N CUDAs" even for CPU workers: say it right instead
        with _quiet_elastic(), contextlib.redirect_stdout(io.StringIO()):
            notebook_launcher(train_worker, args=(cfg,), num_processes=num_processes, use_port=str(free_port()))
    except Exception as exc:  # elastic's ChildFailedError names the failing rank and holds its traceback
        raise LaunchError(f"the {num_processes}-process run failed: {exc}") from exc


_LAUNCH_ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@contextlib.contextmanager
def _without_launcher_env() -> Iterator[None]:
    """Hide a launcher's environment so that an in-process run is a plain 1-process run."""
    saved = {k: os.environ.pop(k) for k in _LAUNCH_ENV if k in os.environ}
    saved_omp = os.environ.get("OMP_NUM_THREADS")
    try:
        yield
    finally:
        os.environ.update(saved)
        if saved_omp is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = saved_omp


@contextlib.contextmanager
def _quiet_elastic() -> Iterator[None]:
    """torch.distributed.elastic logs every worker start at INFO/WARNING; keep only errors."""
    import logging

    loggers = [logging.getLogger(n) for n in ("torch.distributed.elastic", "torch.distributed.launcher")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def torchrun_command(num_processes: int, port: int, args: Sequence[str] = ()) -> list[str]:
    """The ``torchrun`` command line (as ``python -m torch.distributed.run``) that starts ``num_processes``
    workers of this module on this machine."""
    return [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", str(num_processes),
            "--master_addr", "127.0.0.1", "--master_port", str(port), "-m", "aigc_course.apps.distributed", *args]


def run_command(cmd: Sequence[str], timeout_s: float, threads_per_process: int = 1) -> str:
    """Run a launcher command line (e.g. :func:`torchrun_command`) in its own process group and return its
    output (stdout and stderr). After ``timeout_s`` seconds, or when interrupted, the whole group —
    launcher and workers — is killed. A non-zero exit status raises :class:`LaunchError` with the output's tail."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads_per_process), "PYTHONUNBUFFERED": "1"}
    for key in _LAUNCH_ENV:
        env.pop(key, None)
    proc = subprocess.Popen(list(cmd), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # its own process group: we can end all of it
    try:
        output, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise LaunchError(f"{' '.join(cmd[:6])} … did not finish within {timeout_s:g} s; "
                          "all its processes were killed") from None
    except BaseException:  # e.g. KeyboardInterrupt in a notebook: never leave workers behind
        _kill_group(proc)
        raise
    if proc.returncode != 0:
        raise LaunchError(f"{' '.join(cmd[:6])} … failed (exit status {proc.returncode}):\n{output[-4000:]}")
    return output


def _launch_subprocess(cfg: DPConfig, num_processes: int, timeout_s: float) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write(cfg.to_json())
        cfg_path = f.name
    if num_processes == 1:
        cmd = [sys.executable, "-m", "aigc_course.apps.distributed", "--config", cfg_path]
    else:
        cmd = torchrun_command(num_processes, free_port(), ["--config", cfg_path])
    try:
        run_command(cmd, timeout_s, cfg.threads_per_process)
    finally:
        os.unlink(cfg_path)


def _kill_group(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


# --------------------------------------------------------------------------------------------
# Comparing runs
# --------------------------------------------------------------------------------------------
def curve_gap(a: Sequence[float], b: Sequence[float]) -> dict[str, float]:
    """Largest absolute and relative difference of two loss curves of the same length:
    ``max_abs = max_s |a_s − b_s|``, ``max_rel = max_s |a_s − b_s| / |b_s|``."""
    if len(a) != len(b):
        raise ValueError(f"curves of different lengths ({len(a)} and {len(b)}): same steps needed")
    ta, tb = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    diff = (ta - tb).abs()
    return {"max_abs": float(diff.max()), "max_rel": float((diff / tb.abs()).max())}


# --------------------------------------------------------------------------------------------
# Command line: python -m aigc_course.apps.distributed
# --------------------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m aigc_course.apps.distributed",
        description="Train the course's mini-GPT data-parallel. Run it under torchrun / accelerate launch, or "
                    "give --nproc N to have torchrun started for you. Rank 0 prints a summary.",
    )
    p.add_argument("--config", help="a DPConfig as JSON (a file); the flags below override it")
    p.add_argument("--nproc", type=int, help="start this many processes with torchrun (not under a launcher)")
    for name, kind in (("steps", int), ("global_batch", int), ("grad_accum", int), ("n_layer", int),
                       ("n_head", int), ("n_embd", int), ("block_size", int), ("lr", float), ("seed", int),
                       ("threads_per_process", int), ("eval_windows", int), ("timeout_s", float),
                       ("deadline_s", float)):
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind)
    p.add_argument("--mixed-precision", dest="mixed_precision", choices=MIXED_PRECISIONS)
    p.add_argument("--gpu", dest="cpu", action="store_false", default=None, help="train on GPUs (default: CPU)")
    p.add_argument("--text-file", help="train on this UTF-8 text instead of Tiny Shakespeare")
    p.add_argument("--out", help="write rank 0's result here (JSON)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    cfg = DPConfig.from_json(Path(args.config).read_text(encoding="utf-8")) if args.config else DPConfig()
    overrides = {k: v for k, v in vars(args).items()
                 if k not in ("config", "nproc", "text_file") and v is not None}
    if args.text_file:
        overrides["text"] = Path(args.text_file).read_text(encoding="utf-8")
    cfg = dataclasses.replace(cfg, **overrides)
    if args.nproc is not None and "LOCAL_RANK" not in os.environ:
        try:
            result = run_data_parallel(cfg, args.nproc, launcher="subprocess")
        except (ValueError, LaunchError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        if cfg.out:
            Path(cfg.out).write_text(json.dumps(dataclasses.asdict(result)), encoding="utf-8")
    else:
        try:
            result = train_worker(cfg)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    if result is not None:
        print(f"{result.num_processes} process(es) on {result.device} · {result.num_params:,} parameters · "
              f"final loss {result.final_loss:.4f} · {result.samples_per_second:.1f} samples/s · "
              f"replicas differ by {result.replica_max_diff:.1e}")
    if "LOCAL_RANK" in os.environ:
        # A worker under torchrun / accelerate launch, done and with its result written: leave without running
        # C++ static destructors. With gloo they occasionally abort at exit ("terminate called without an active
        # exception", SIGABRT), which would fail a run that succeeded. Forked workers already end this way.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
