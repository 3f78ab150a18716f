"""``ac.components.get``: the shared trained models behind one call."""

from __future__ import annotations

import pytest
import torch

import aigc_course as ac
from aigc_course.apps import components
from aigc_course.core import config


def test_every_shared_model_has_its_profile_table_row_and_chapter():
    assert components.names() == ["char_gpt", "char_lstm", "digit_judge", "mnist_judge", "sentiment_model"]
    for c in components.REGISTRY.values():
        assert c.row in config.COMPONENTS, c
        assert c.made_in in config.CHAPTERS, c
    assert set(config.COMPONENTS) == {c.row for c in components.REGISTRY.values()}, "a row no name serves"
    assert ac.components is components


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(config.ConfigError, match="no shared model 'mnist'; known: char_gpt, char_lstm"):
        components.get("mnist")


def test_get_passes_profile_device_and_options_and_memoises(monkeypatch):
    calls = []

    def load(profile, device, **options):
        calls.append((profile, device, options))
        return object()

    monkeypatch.setitem(components.REGISTRY, "probe", components.Component("probe", "char_gpt", "08", load))
    monkeypatch.setattr(components, "_CACHE", {})
    first = components.get("probe", "smoke", device="cpu", progress=False)
    assert components.get("probe", "smoke", device="cpu", progress=False) is first  # loaded once
    other = components.get("probe", "fast", device="cpu", progress=False)
    assert other is not first
    assert calls == [("smoke", torch.device("cpu"), {"progress": False}), ("fast", torch.device("cpu"),
                                                                            {"progress": False})]
    components.forget()
    assert components.get("probe", "smoke", device="cpu", progress=False) is not first


def test_get_trains_then_loads_the_shared_gpt(with_mirror, monkeypatch):
    monkeypatch.setattr(components, "_CACHE", {})
    trained, data = components.get("char_gpt", "smoke", device="cpu", progress=False)
    assert not trained.loaded and trained.extra["steps"] > 0 and len(data.vocab.chars) > 30
    components.forget()
    again, _ = components.get("char_gpt", "smoke", device="cpu", progress=False)
    assert again.loaded and again.path == trained.path
    for a, b in zip(trained.model.parameters(), again.model.parameters()):
        assert torch.equal(a, b)
