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


def test_fit_learns_and_resumes_with_a_session(tmp_path):
    x, y = _data()
    loader = [(x[i: i + 16], y[i: i + 16]) for i in range(0, 64, 16)]
    model = _build({"width": 3})
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    loss_fn = lambda m, batch: nn.functional.mse_loss(m(batch[0]), batch[1])
    session = training.TrainingSession(tmp_path / "p.pt", model)
    history = training.fit(model, loader, loss_fn, opt, 30, session=session, progress=False,
                           evaluate=lambda m: {"val": nn.functional.mse_loss(m(x), y).item()},
                           logdir=tmp_path / "tb")
    assert history["loss"][-1] < 0.05 * history["loss"][0]
    assert len(history["val"]) == 30 and session.start_epoch == 30
    assert list((tmp_path / "tb").glob("events.out.tfevents.*")), "TensorBoard scalars were written"
    assert training.load_checkpoint(tmp_path / "p.pt")["epoch"] == 30


def test_config_hash_is_order_independent():
    assert training.config_hash({"a": 1, "b": 2}) == training.config_hash({"b": 2, "a": 1})
    assert training.config_hash({"a": 1}) != training.config_hash({"a": 2})


def test_warmup_cosine_lr_ramps_then_decays():
    lrs = [training.warmup_cosine_lr(s, 100, 1.0, warmup=10) for s in range(100)]
    assert lrs[0] < lrs[5] < lrs[9] and lrs[9] > 0.97
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:])) and lrs[-1] < 1e-3
    assert training.warmup_cosine_lr(0, 100, 2.0, warmup=0) == 2.0
