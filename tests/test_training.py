"""Checkpoints: atomic writes, corrupted files, config changes, resuming after an interruption."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from aigc_course.core import training


def _build(config):
    torch.manual_seed(0)
    return nn.Linear(config["width"], 1)


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=g)
    return x, x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3


def _trainer(epochs: int, interrupt_at: int | None = None, seen: list | None = None):
    x, y = _data()

    def train(model, session):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for epoch in range(session.restore(opt), epochs):
            if seen is not None:
                seen.append(epoch)
            if epoch == interrupt_at:
                raise KeyboardInterrupt
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            session.log(loss=loss.item())
            session.save(epoch, opt)
        return {"final_loss": session.history["loss"][-1]}

    return train


def test_atomic_save_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "w.pt"
    training.atomic_save({"model": {"a": torch.ones(2)}}, path)

    def broken_save(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        training.atomic_save({"model": {"a": torch.zeros(2)}}, path)
    monkeypatch.undo()
    assert torch.equal(training.load_checkpoint(path)["model"]["a"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["w.pt"], "no temporary file may be left behind"


def test_second_call_loads_instead_of_training(tmp_path):
    first = training.load_or_train("lin", {"width": 3}, _build, _trainer(5), folder=tmp_path)
    assert not first.loaded and len(first.history["loss"]) == 5
    seen = []
    second = training.load_or_train("lin", {"width": 3}, _build, _trainer(5, seen=seen), folder=tmp_path)
    assert second.loaded and seen == [] and second.extra == first.extra
    for a, b in zip(first.model.parameters(), second.model.parameters()):
        assert torch.equal(a, b)


def test_config_change_never_loads_a_stale_file(tmp_path):
    training.load_or_train("lin", {"width": 3, "lr": 0.1}, _build, _trainer(2), folder=tmp_path)
    seen = []
    again = training.load_or_train("lin", {"width": 3, "lr": 0.2}, _build, _trainer(2, seen=seen), folder=tmp_path)
    assert not again.loaded and seen == [0, 1]
    assert len(list(tmp_path.glob("lin-*.pt"))) == 2


def test_corrupted_checkpoint_is_set_aside_and_retrained(tmp_path):
    done = training.load_or_train("lin", {"width": 3}, _build, _trainer(2), folder=tmp_path)
    done.path.write_bytes(b"not a zip file")
    with pytest.warns(UserWarning, match="unreadable"):
        again = training.load_or_train("lin", {"width": 3}, _build, _trainer(2), folder=tmp_path)
    assert not again.loaded and training.load_checkpoint(again.path)["model"]
    assert done.path.with_suffix(".corrupt").is_file()


def test_interrupted_training_resumes_from_its_last_epoch(tmp_path):
    seen = []
    with pytest.raises(KeyboardInterrupt):
        training.load_or_train("lin", {"width": 3}, _build, _trainer(6, interrupt_at=3, seen=seen), folder=tmp_path)
    assert seen == [0, 1, 2, 3]
    assert list(tmp_path.glob("*.partial.pt")), "the finished epochs must be on disk"
    resumed_seen = []
    resumed = training.load_or_train("lin", {"width": 3}, _build, _trainer(6, seen=resumed_seen), folder=tmp_path)
    assert resumed_seen == [3, 4, 5]
    assert len(resumed.history["loss"]) == 6, "the history of the first attempt is kept"
    assert not list(tmp_path.glob("*.partial.pt"))
    # The same run without interruption reaches the same weights: resuming loses nothing.
    straight = training.load_or_train("lin", {"width": 3}, _build, _trainer(6), folder=tmp_path / "b")
    for a, b in zip(resumed.model.parameters(), straight.model.parameters()):
        assert torch.allclose(a, b)


def test_weights_only_loading_refuses_arbitrary_objects(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "payload": os.getcwd}, path)  # a function: not allowed with weights_only
    with pytest.raises(training.CheckpointError, match="unreadable"):
        training.load_checkpoint(path)


def _regression_step(model, x, y, opt, gen_box, clip=None):
    def loss_fn(i):
        idx = torch.randint(0, len(x), (8,), generator=gen_box[0])
        return nn.functional.mse_loss(model(x[idx]), y[idx])

    return training.loss_step(loss_fn, opt, clip=clip)


def _reseed(gen_box, seed=0):
    def start(chunk, first):
        gen_box[0] = torch.Generator().manual_seed(seed * 1000 + chunk)  # data order per chunk: resumable

    return start


def _steps_trainer(total, chunk, interrupt_at=None, logdir=None):
    x, y = _data()

    def train(model, session):
        opt = torch.optim.Adam(model.parameters(), lr=0.05)
        gen_box = [None]
        step = _regression_step(model, x, y, opt, gen_box)

        def maybe_interrupt(i):
            if i == interrupt_at:
                raise KeyboardInterrupt
            return step(i)

        training.run_steps(maybe_interrupt, total=total, chunk=chunk, optimizers=[opt], session=session,
                           chunk_start=_reseed(gen_box),
                           lr_at=lambda i, t: training.warmup_cosine_lr(i, total, 0.2, 5),
                           evaluate=lambda: {"val": nn.functional.mse_loss(model(x), y).item()}, logdir=logdir)
        return {}

    return train


def test_run_steps_learns_logs_a_row_per_chunk_and_writes_tensorboard(tmp_path):
    done = training.load_or_train("steps", {"width": 3}, _build, _steps_trainer(60, 20, logdir=tmp_path / "tb"),
                                  folder=tmp_path)
    h = done.history
    assert h["step"] == [20, 40, 60] and len(h["loss"]) == len(h["val"]) == 3
    assert h["seconds"] == sorted(h["seconds"]) and h["seconds"][0] > 0
    assert h["val"][-1] < 0.2 * h["val"][0]
    assert list((tmp_path / "tb").glob("events.out.tfevents.*")), "TensorBoard scalars were written"


def test_run_steps_resumes_at_its_last_chunk_to_the_same_weights(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        training.load_or_train("steps", {"width": 3}, _build, _steps_trainer(60, 20, interrupt_at=45), folder=tmp_path)
    resumed = training.load_or_train("steps", {"width": 3}, _build, _steps_trainer(60, 20), folder=tmp_path)
    assert resumed.history["step"] == [20, 40, 60], "the first attempt's rows are kept, chunk 3 is redone"
    straight = training.load_or_train("steps", {"width": 3}, _build, _steps_trainer(60, 20), folder=tmp_path / "b")
    for a, b in zip(resumed.model.parameters(), straight.model.parameters()):
        assert torch.equal(a, b)
    assert resumed.history["loss"] == straight.history["loss"]


def test_run_steps_stops_on_its_time_budget_and_sets_every_optimizers_rate():
    import time

    a, b = (torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0) for _ in range(2))
    rates = []

    def step(i):
        rates.append((a.param_groups[0]["lr"], b.param_groups[0]["lr"]))
        time.sleep(0.01)
        return {"x": float(i)}

    history = training.run_steps(step, total=None, chunk=4, optimizers=[a, b], seconds=0.1,
                                 lr_at=lambda i, elapsed: 1.0 / (i + 1))
    n = len(rates)
    assert 8 <= n <= 13 and history["step"][-1] == n  # 0.1 s of 0.01 s steps (a slow machine: fewer)
    assert history["seconds"][-1] >= 0.1
    assert rates == [(1.0 / (i + 1), 1.0 / (i + 1)) for i in range(n)]
    assert history["x"][0] == 1.5  # the mean of the first chunk's steps 0..3


def test_run_steps_can_log_every_step_and_loss_step_clips():
    w = nn.Parameter(torch.tensor([10.0]))
    opt = torch.optim.SGD([w], lr=1.0)
    step = training.loss_step(lambda i: (100 * w).sum(), opt, clip=0.5)
    history = training.run_steps(step, total=3, chunk=2, optimizers=[opt], log_steps=True)
    assert history["loss"] == [1000.0, 950.0, 900.0]  # the gradient 100 clipped to norm 0.5: w falls by 0.5
    assert history["step"] == [2, 3] and "loss" in history


def test_config_hash_is_order_independent():
    assert training.config_hash({"a": 1, "b": 2}) == training.config_hash({"b": 2, "a": 1})
    assert training.config_hash({"a": 1}) != training.config_hash({"a": 2})


def test_warmup_cosine_lr_ramps_then_decays():
    lrs = [training.warmup_cosine_lr(s, 100, 1.0, warmup=10) for s in range(100)]
    assert lrs[0] < lrs[5] < lrs[9] and lrs[9] > 0.97
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:])) and lrs[-1] < 1e-3
    assert training.warmup_cosine_lr(0, 100, 2.0, warmup=0) == 2.0


_RACER = """
import sys, time, torch
from torch import nn
from aigc_course.core import training
folder, log = sys.argv[1], sys.argv[2]

def train(model, session):
    with open(log, "a") as f:
        f.write("trained\\n")
    time.sleep(2.0)  # long enough for the other process to arrive while this one trains
    session.log(loss=1.0)
    return {}

trained = training.load_or_train("race", {"width": 3}, lambda c: nn.Linear(c["width"], 1), train, folder=folder)
print("loaded" if trained.loaded else "trained")
"""


def test_two_processes_train_a_checkpoint_once(tmp_path):
    """`aigc-course run --jobs 2` may start two notebooks that need the same shared model: one trains it while the
    other waits on the checkpoint's lock, then loads what the first saved."""
    import subprocess
    import sys

    log = tmp_path / "log.txt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(training.__file__).parents[2]),
                                                         os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen([sys.executable, "-c", _RACER, str(tmp_path), str(log)], stdout=subprocess.PIPE,
                              text=True, env=env) for _ in range(2)]
    waiting = [p.communicate(timeout=120)[0] for p in procs]
    outs = sorted(text.split()[-1] for text in waiting)
    assert [p.returncode for p in procs] == [0, 0]
    assert log.read_text().splitlines() == ["trained"], "the second process must wait and load, not train again"
    assert outs == ["loaded", "trained"]
    assert "waiting for it to finish" in waiting[0] + waiting[1]
    assert len(list(tmp_path.glob("race-*.pt"))) == 1


def test_fused_adam_where_pytorch_has_it_with_the_same_steps():
    assert training.fused_ok("cpu") and training.fused_ok(torch.device("cuda", 0))
    assert not training.fused_ok("mps") and not training.fused_ok("meta")
    torch.manual_seed(0)
    models = [nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3)) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    opts = [torch.optim.Adam(models[0].parameters(), lr=1e-2),
            torch.optim.Adam(models[1].parameters(), lr=1e-2, fused=training.fused_ok("cpu"))]
    x, y = torch.randn(32, 6), torch.randn(32, 3)
    for _ in range(50):
        for model, opt in zip(models, opts):
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
    for a, b in zip(*(m.parameters() for m in models)):  # the fused kernel takes the same steps
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)


def test_use_bf16_only_where_autocast_covers_the_layers():
    assert training.use_bf16(True, "cpu") and training.use_bf16(True, torch.device("cuda"))
    assert not training.use_bf16(False, "cpu") and not training.use_bf16(True, "mps")
