"""Chapters 01 and 02: the classifier plots in ``viz.classify`` and the two profile-table rows."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch

from aigc_course.core import config
from aigc_course.core.paths import project_root
from aigc_course.delivery.conventions import check_notebook
from aigc_course.viz.classify import curves_side_by_side, decision_boundary, grid_points, plot_limits


def test_plot_limits_widen_the_bounding_box():
    x = torch.tensor([[0.0, -1.0], [2.0, 3.0], [1.0, 1.0]])
    assert plot_limits(x, margin=0.5) == pytest.approx((-0.5, 2.5, -1.5, 3.5))
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plot_limits(torch.zeros(4, 3))


def test_grid_points_shapes_and_row_order():
    points, xx, yy = grid_points((-1.0, 1.0, 0.0, 4.0), resolution=5)
    assert points.shape == (25, 2) and xx.shape == yy.shape == (5, 5)
    assert points.dtype == torch.float32
    # points[i * resolution + j] is (xx[i, j], yy[i, j]): x varies along a row, y down the rows
    assert torch.equal(points[7], torch.stack([xx[1, 2], yy[1, 2]]))
    assert xx[0].tolist() == pytest.approx([-1.0, -0.5, 0.0, 0.5, 1.0])
    assert yy[:, 0].tolist() == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError):
        grid_points((0, 1, 0, 1), resolution=1)


def test_decision_boundary_evaluates_the_grid_once_and_returns_a_figure():
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    y = torch.tensor([0, 1, 0, 1])
    calls = []

    def prob_fn(pts: torch.Tensor) -> torch.Tensor:
        calls.append(pts.shape)
        assert not torch.is_grad_enabled()
        return torch.sigmoid(4 * (pts[:, 0] - 0.5))

    fig = decision_boundary(prob_fn, x, y, resolution=30, title="t", show=False)
    try:
        assert calls == [torch.Size([900, 2])]
        ax = fig.axes[0]
        assert ax.get_title() == "t"
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["class 0", "class 1"]
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="labels"):
        decision_boundary(prob_fn, x, y[:3], show=False)


def test_decision_boundary_draws_into_a_given_axes():
    fig, axes = plt.subplots(1, 2)
    try:
        x, y = torch.randn(20, 2), torch.arange(20) % 2
        out = decision_boundary(lambda p: torch.full((len(p),), 0.3), x, y, ax=axes[1], resolution=10, show=False)
        assert out is fig
        assert len(axes[1].collections) > 0 and len(axes[0].collections) == 0
    finally:
        plt.close(fig)


def test_curves_side_by_side_one_panel_per_entry():
    fig = curves_side_by_side({"a": {"s1": [3, 2, 1], "s2": [1, 1, 1]}, "b": {"s1": [1, 2]}}, logy=True, show=False)
    try:
        assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
        assert len(fig.axes[0].lines) == 2 and fig.axes[0].get_yscale() == "log"
        assert fig.axes[0].lines[0].get_xdata().tolist() == [1, 2, 3]
    finally:
        plt.close(fig)
    with pytest.raises(ValueError):
        curves_side_by_side({}, show=False)


@pytest.mark.parametrize("stem", ["01_neural_networks", "02_losses"])
def test_profile_rows(stem):
    spec = config.chapter(stem)
    assert spec.targets_for("smoke") == {}, "smoke checks the pipeline only: no targets"
    fast, full = spec.targets_for("fast"), spec.targets_for("full")
    assert fast and fast.keys() == full.keys()
    for condition in fast.values():
        config.parse_condition(condition)
    smoke, fast_hp = spec.hparams("smoke"), spec.hparams("fast")
    overridden = spec.profiles["smoke"]
    assert overridden and all(smoke[k] < fast_hp[k] for k in overridden), "smoke only shrinks the work"
    assert set(spec.minutes) == set(config.PROFILES) and spec.minutes["smoke"] <= spec.minutes["fast"]


def test_chapter_targets_named_in_the_issues():
    t01 = config.chapter("01_neural_networks").targets_for("fast")
    assert t01["manual_vs_autograd_max_rel_err"] == "< 1e-6" and t01["moons_test_accuracy"] == ">= 0.97"
    t02 = config.chapter("02_losses").targets_for("fast")
    assert t02["logsumexp_naive_overflows"] == "== True"
    assert {"softmax_ce_grad_max_err", "mse_equals_gaussian_nll_gap", "stable_ce_max_err"} <= t02.keys()


@pytest.mark.parametrize("name", ["01_neural_networks.ipynb", "02_losses.ipynb"])
def test_notebooks_follow_the_conventions(name):
    root = project_root()
    if root is None or not (root / "notebooks" / name).is_file():
        pytest.skip("needs the checkout's notebooks/")
    assert check_notebook(root / "notebooks" / name) == []
