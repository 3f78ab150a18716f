"""Exercise checkers' messages and the plotting helpers (drawn off-screen)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from aigc_course import viz
from aigc_course.exercises import checkers as exercises


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.delenv("AIGC_COURSE_STRICT_EXERCISES", raising=False)


def test_check_value_explains_known_mistakes(capsys):
    assert exercises.check_value("e", 2.0, 2.0)
    assert not exercises.check_value("e", 3.0, 2.0, mistakes=[(3.0, "off by one")])
    assert "off by one" in capsys.readouterr().out
    assert not exercises.check_value("e", ..., 2.0)
    assert "replace the `...`" in capsys.readouterr().out
    assert not exercises.check_value("e", torch.ones(2), torch.ones(3))
    assert "shape" in capsys.readouterr().out


def test_check_function_matches_a_wrong_model(capsys):
    cases = [(torch.tensor([1.0, 2.0, 4.0]),)]
    assert exercises.check_function("f", lambda x: x.std(unbiased=False), lambda x: x.std(unbiased=False), cases)
    assert not exercises.check_function("f", lambda x: x.std(), lambda x: x.std(unbiased=False), cases,
                                        mistakes=[(lambda x: x.std(), "divided by N-1")])
    assert "divided by N-1" in capsys.readouterr().out

    def unfinished(x):
        raise NotImplementedError

    assert not exercises.check_function("f", unfinished, lambda x: x, cases)
    assert "not implemented" in capsys.readouterr().out


def test_check_choice_and_strict_mode(monkeypatch, capsys):
    assert exercises.check_choice("c", " Fast ", "fast")
    assert not exercises.check_choice("c", "smoke", "fast", mistakes={"smoke": "env only when None"})
    assert "env only when None" in capsys.readouterr().out
    monkeypatch.setenv("AIGC_COURSE_STRICT_EXERCISES", "1")
    with pytest.raises(exercises.ExerciseFailed, match="env only when None"):
        exercises.check_choice("c", "smoke", "fast", mistakes={"smoke": "env only when None"})


def test_plot_helpers_return_figures_when_asked():
    figs = [
        viz.image_grid(torch.rand(10, 1, 28, 28) * 2 - 1, nrow=5, show=False),
        viz.image_grid(torch.randint(0, 255, (4, 28, 28), dtype=torch.uint8), titles=list("abcd"), show=False),
        viz.curves({"train": [3, 2, 1], "val": [3, 2.5, 2]}, show=False),
        viz.density_2d(torch.randn(500, 2), reference=torch.zeros(1, 2), show=False),
        viz.spectrogram(torch.rand(64, 100), sample_rate=8000, hop_length=128, db=True, show=False),
        viz.attention_map(torch.softmax(torch.randn(4, 6), -1), queries=list("abcd"), keys=list("uvwxyz"),
                          show=False),
    ]
    assert all(isinstance(f, matplotlib.figure.Figure) for f in figs)
    assert len(figs[0].axes) == 10 and figs[0].axes[0].images[0].get_array().max() <= 1.0
    assert viz.curves({"a": [1]}) is None  # shown, nothing returned: a cell never shows it twice


def test_plot_helpers_reject_wrong_shapes():
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        viz.density_2d(torch.randn(5, 3), show=False)
    with pytest.raises(ValueError, match="images must be"):
        viz.image_grid(torch.rand(28, 28), show=False)


def test_show_source_renders_package_code():
    shown = viz.show_source(viz.curves)
    assert "def curves" in shown.data
    with pytest.raises(TypeError, match="cannot show"):
        viz.show_source(42)
