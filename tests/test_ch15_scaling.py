"""Chapter 15 (aigc_course/apps/distributed.py): data-parallel training across processes.

The central test: with the same global batch and seed, two gloo processes produce the loss curve of
one process, step by step, within float32 rounding (the gradients are summed in a different order),
tolerance 1e-5 relative. A tiny GPT on a short built-in text keeps the whole file to seconds.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
import torch.nn.functional as F

from aigc_course.apps import distributed as dp
from aigc_course.models import lm

TEXT = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
    "First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. resolved.\n\n"
) * 25
TINY = dp.DPConfig(n_layer=1, n_head=2, n_embd=32, block_size=16, global_batch=8, steps=6, lr=1e-2, warmup=2,
                   text=TEXT, eval_windows=4, comm_sizes=[256], comm_repeats=1, probe_every=2, timeout_s=20,
                   deadline_s=120)
REL_TOL = 1e-5  # float32 reduction order: relative differences of a few 1e-7 are expected


def _children() -> list[psutil.Process]:
    return [c for c in psutil.Process().children(recursive=True) if c.is_running()
            and c.status() != psutil.STATUS_ZOMBIE]


@pytest.fixture(scope="module")
def one_proc() -> dp.DPResult:
    return dp.run_data_parallel(TINY, 1)


@pytest.fixture(scope="module")
def two_proc() -> dp.DPResult:
    return dp.run_data_parallel(TINY, 2)


def test_two_gloo_processes_reproduce_the_one_process_curve(one_proc, two_proc):
    assert (one_proc.num_processes, two_proc.num_processes) == (1, 2)
    assert len(one_proc.losses) == len(two_proc.losses) == TINY.steps
    gap = dp.curve_gap(two_proc.losses, one_proc.losses)
    assert gap["max_rel"] < REL_TOL, gap
    assert two_proc.losses[-1] < two_proc.losses[0]  # it learns
    assert two_proc.replica_max_diff == 0.0  # every process holds the same weights
    assert two_proc.val_loss == pytest.approx(one_proc.val_loss, rel=REL_TOL)
    assert two_proc.comm_bytes and len(two_proc.comm_bytes) == len(two_proc.comm_seconds)
    assert two_proc.samples_per_second > 0 and one_proc.compute_seconds > 0 and two_proc.comm_grad_seconds > 0
    assert one_proc.comm_grad_seconds is None  # nothing to all-reduce in one process
    assert not _children(), "workers left behind"


def test_gradient_accumulation_keeps_the_curve(one_proc):
    accum = dp.run_data_parallel(dataclasses.replace(TINY, grad_accum=2), 2)
    assert accum.grad_accum == 2
    assert dp.curve_gap(accum.losses, one_proc.losses)["max_rel"] < REL_TOL


def test_bf16_autocast_with_accumulation_runs_and_stays_close(one_proc):
    # the mixed-precision + accumulation code path the GPU run takes, exercised on CPU (bf16 autocast)
    mixed = dp.run_data_parallel(dataclasses.replace(TINY, mixed_precision="bf16", grad_accum=2), 2)
    assert mixed.mixed_precision == "bf16"
    assert dp.curve_gap(mixed.losses, one_proc.losses)["max_rel"] < 1e-2  # bf16 rounding, not float32's
    assert mixed.replica_max_diff == 0.0
    assert dp.run_data_parallel(dataclasses.replace(TINY, mixed_precision="auto", steps=1), 1).mixed_precision == "no"


def test_uneven_global_batch_is_refused_before_anything_starts():
    with pytest.raises(ValueError, match="multiple of 4"):
        dp.run_data_parallel(dataclasses.replace(TINY, global_batch=6), 4)
    with pytest.raises(ValueError, match="multiple of 4"):
        dp.DPConfig(global_batch=6, grad_accum=2).validate(2)  # 2 processes × 2 micro-batches
    with pytest.raises(ValueError, match="GPU"):
        dp.DPConfig(mixed_precision="fp16").validate(1)
    with pytest.raises(ValueError, match="split evenly"):
        dp.shard(torch.zeros(5, 3), 0, 2)
    assert not _children()


def test_a_failing_worker_ends_the_run_and_leaves_no_process():
    start = time.perf_counter()
    with pytest.raises(dp.LaunchError, match="fails on purpose|failed"):
        dp.run_data_parallel(dataclasses.replace(TINY, fail_rank=1), 2)
    assert time.perf_counter() - start < 60
    time.sleep(0.5)
    assert not _children(), "workers left behind"


def test_a_launcher_that_overruns_is_killed_with_its_whole_process_group():
    marker = f"aigc-dp-test-{os.getpid()}"
    child = f"import time; time.sleep(60)  # {marker}"
    parent = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {child!r}]); time.sleep(60)"
    start = time.perf_counter()
    with pytest.raises(dp.LaunchError, match="did not finish within 2 s"):
        dp.run_command([sys.executable, "-c", parent], timeout_s=2)
    assert time.perf_counter() - start < 15
    time.sleep(0.5)
    left = [p for p in psutil.process_iter(["cmdline"]) if marker in " ".join(p.info["cmdline"] or [])]
    assert not left, "a worker of the killed launcher survived"


def _lonely_rank0(cfg_json: str, port: int) -> None:
    os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="2", LOCAL_WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    dp.train_worker(cfg_json)


def test_a_rendezvous_that_never_completes_times_out():
    cfg = dataclasses.replace(TINY, timeout_s=3, deadline_s=30)
    proc = multiprocessing.get_context("fork").Process(target=_lonely_rank0, args=(cfg.to_json(), dp.free_port()))
    start = time.perf_counter()
    proc.start()
    proc.join(45)
    alive = proc.is_alive()
    if alive:
        proc.kill()
        proc.join()
    assert not alive, "rank 0 waited for a missing rank 1 forever"
    assert proc.exitcode != 0
    assert time.perf_counter() - start < 45


def test_command_line_under_torchrun_matches_the_notebook_launcher(two_proc, tmp_path):
    cfg_file, out = tmp_path / "cfg.json", tmp_path / "out.json"
    cfg_file.write_text(TINY.to_json())
    repo = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "aigc_course.apps.distributed", "--nproc", "2",
                           "--config", str(cfg_file), "--out", str(out)],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 process(es)" in done.stdout
    cli = dp.DPResult.from_dict(json.loads(out.read_text()))
    assert cli.num_processes == 2
    assert dp.curve_gap(cli.losses, two_proc.losses)["max_rel"] < REL_TOL


def test_averaged_shard_gradients_equal_the_full_batch_gradient():
    torch.manual_seed(0)
    model = lm.GPT(lm.GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16))
    x = torch.randint(11, (8, 8))
    y = torch.randint(11, (8, 8))

    def grads(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        model.zero_grad()
        F.cross_entropy(model(xb).reshape(-1, 11), yb.reshape(-1)).backward()
        return torch.cat([p.grad.reshape(-1) for p in model.parameters()])

    full = grads(x, y)
    for world in (2, 4):
        avg = sum(grads(dp.shard(x, r, world), dp.shard(y, r, world)) for r in range(world)) / world
        assert torch.allclose(avg, full, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_ring_allreduce_sums_and_sends_2_n_minus_1_over_n_of_the_data(n):
    size = 60
    g = torch.Generator().manual_seed(n)
    tensors = [torch.randn(size, generator=g, dtype=torch.float64) for _ in range(n)]
    results, sent = dp.ring_allreduce(tensors)
    total = torch.stack(tensors).sum(0)
    for r in results:
        assert torch.allclose(r, total)
    assert sent == [dp.ring_allreduce_bytes(size, n)] * n


def test_global_batch_depends_on_seed_and_step_only():
    train = torch.arange(500)
    a = dp.global_batch(train, TINY, 3)
    b = dp.global_batch(train, dataclasses.replace(TINY, grad_accum=2), 3)
    assert torch.equal(a[0], b[0]) and a[0].shape == (TINY.global_batch, TINY.block_size)
    assert not torch.equal(a[0], dp.global_batch(train, TINY, 4)[0])
    assert torch.equal(torch.cat([dp.shard(a[0], r, 4) for r in range(4)]), a[0])


def test_comm_model_fit_recovers_latency_and_bandwidth():
    nbytes = [1e3, 1e5, 1e6, 4e6]
    latency, bandwidth = dp.fit_comm_model(nbytes, [2e-5 + b / 1e9 for b in nbytes])
    assert latency == pytest.approx(2e-5, rel=1e-6) and bandwidth == pytest.approx(1e9, rel=1e-6)
