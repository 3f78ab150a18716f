"""Pictures for 2-D classifiers: evaluation grids, decision boundaries, side-by-side loss curves.

Like :mod:`aigc_course.viz`, a plotting function displays its figure and returns ``None`` by
default (``show=True``); with ``show=False`` it returns the :class:`~matplotlib.figure.Figure`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from . import _finish, _numpy


def plot_limits(x: torch.Tensor | np.ndarray, margin: float = 0.5) -> tuple[float, float, float, float]:
    """``(x_min, x_max, y_min, y_max)`` of points ``x`` ``(N, 2)``, widened by ``margin`` on each side."""
    p = _numpy(x)
    if p.ndim != 2 or p.shape[1] != 2 or len(p) == 0:
        raise ValueError(f"x must be a non-empty (N, 2) array; got shape {tuple(p.shape)}")
    lo, hi = p.min(axis=0) - margin, p.max(axis=0) + margin
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def grid_points(limits: tuple[float, float, float, float], resolution: int = 200
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A regular grid over ``limits`` = ``(x_min, x_max, y_min, y_max)``.

    Returns ``(points, xx, yy)``: ``points`` ``(resolution**2, 2)`` float32, ready to feed a model,
    and the mesh coordinates ``xx``, ``yy`` ``(resolution, resolution)``; ``points[i * resolution + j]``
    is ``(xx[i, j], yy[i, j])``.
    """
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2; got {resolution}")
    x_min, x_max, y_min, y_max = limits
    xs = torch.linspace(x_min, x_max, resolution)
    ys = torch.linspace(y_min, y_max, resolution)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    points = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)
    return points, xx, yy


def decision_boundary(
    prob_fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor | np.ndarray,
    y: torch.Tensor | np.ndarray,
    *,
    title: str | None = None,
    resolution: int = 200,
    margin: float = 0.5,
    ax: plt.Axes | None = None,
    show: bool = True,
) -> Figure | None:
    """Shade a binary classifier's probability of class 1 over the plane, and draw the points on top.

    ``prob_fn`` maps a batch of points ``(M, 2)`` float32 to probabilities ``(M,)`` of class 1; it is
    called once on the whole grid under ``torch.no_grad()``. ``x`` ``(N, 2)`` and labels ``y`` ``(N,)``
    (0/1) are drawn as dots; the line where the probability is 0.5 is the decision boundary.
    """
    p = _numpy(x)
    labels = _numpy(y).astype(int).reshape(-1)
    if len(labels) != len(p):
        raise ValueError(f"x has {len(p)} points but y has {len(labels)} labels")
    points, xx, yy = grid_points(plot_limits(p, margin), resolution)
    with torch.no_grad():
        prob = _numpy(prob_fn(points)).reshape(resolution, resolution)
    fig = ax.figure if ax is not None else plt.figure(figsize=(4.5, 4))
    ax = ax or fig.add_subplot()
    shade = ax.contourf(_numpy(xx), _numpy(yy), prob, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
    ax.contour(_numpy(xx), _numpy(yy), prob, levels=[0.5], colors="black", linewidths=1.5)
    for label, colour in ((0, "tab:blue"), (1, "tab:red")):
        keep = labels == label
        ax.scatter(p[keep, 0], p[keep, 1], s=8, c=colour, edgecolors="white", linewidths=0.3,
                   label=f"class {label}")
    fig.colorbar(shade, ax=ax, label="P(class 1)")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7, framealpha=0.8)
    if title:
        ax.set_title(title, fontsize=10)
    if show:
        fig.tight_layout()
        plt.show()
        return None
    return fig


def curves_side_by_side(
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    xlabel: str = "step",
    ylabel: str = "loss",
    logy: bool = False,
    show: bool = True,
) -> Figure | None:
    """One panel per entry of ``panels`` (title → ``{series name: values}``), sharing the y axis.

    Every series is drawn against ``1, 2, …, len(values)``; every panel has a legend, so each can
    be read on its own.
    """
    if not panels:
        raise ValueError("panels is empty: give at least one {title: {name: values}} entry")
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.4), sharey=True, squeeze=False)
    for ax, (panel_title, series) in zip(axes[0], panels.items()):
        for name, values in series.items():
            ax.plot(np.arange(1, len(values) + 1), list(values), label=name)
        ax.set_title(panel_title, fontsize=10)
        ax.set_xlabel(xlabel)
        if logy:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0, 0].set_ylabel(ylabel)
    fig.tight_layout()
    if show:
        plt.show()
        return None
    return fig


# --------------------------------------------------------------------------------------------
# Text classification (chapter 09): confusion matrices and reliability diagrams
# --------------------------------------------------------------------------------------------
def confusion_matrix_plot(
    counts: np.ndarray,
    labels: Sequence[str],
    *,
    normalize: bool = True,
    title: str | None = None,
    ax: plt.Axes | None = None,
    show: bool = True,
) -> Figure | None:
    """Draw a confusion matrix ``counts`` ``(K, K)`` (row = true class, column = predicted class).

    With ``normalize`` each row is divided by its total, so the diagonal reads as per-class recall;
    every cell shows the share and the raw count.
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] != len(labels):
        raise ValueError(f"counts must be (K, K) with K = len(labels) = {len(labels)}; got shape {c.shape}")
    totals = c.sum(1, keepdims=True)
    shown = np.divide(c, totals, out=np.zeros_like(c), where=totals > 0) if normalize else c
    fig = ax.figure if ax is not None else plt.figure(figsize=(4.2, 3.8))
    caller_ax = ax
    ax = ax or fig.add_subplot()
    image = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    top = shown.max() if shown.size else 1.0
    for i in range(c.shape[0]):
        for j in range(c.shape[1]):
            text = f"{shown[i, j]:.2f}\n({int(c[i, j])})" if normalize else f"{int(c[i, j])}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if shown[i, j] > 0.6 * top else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the row" if normalize else "count")
    return _finish(fig, show, caller_ax)


def reliability_diagram(
    bins: Mapping[str, object] | object,
    *,
    title: str | None = None,
    ax: plt.Axes | None = None,
    show: bool = True,
) -> Figure | None:
    """Accuracy against confidence per bin, for one or more models.

    ``bins`` is a :class:`~aigc_course.metrics.classification.ReliabilityBins` or a mapping
    ``{name: ReliabilityBins}``. Each model's bins are drawn as a line through (mean confidence,
    accuracy) with marker areas proportional to the bin counts; the diagonal is perfect calibration,
    and points below it are over-confident. The legend gives each model's ECE.
    """
    series = bins if isinstance(bins, Mapping) else {"model": bins}
    if not series:
        raise ValueError("bins is empty")
    fig = ax.figure if ax is not None else plt.figure(figsize=(4.6, 4.2))
    caller_ax = ax
    ax = ax or fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="gray", ls="--", lw=1, label="perfect calibration")
    for name, b in series.items():
        full = b.count > 0
        sizes = 300 * b.count[full] / b.count.sum()
        (line,) = ax.plot(b.confidence[full], b.accuracy[full], "-", lw=1.2, label=f"{name} (ECE {b.ece:.3f})")
        ax.scatter(b.confidence[full], b.accuracy[full], s=np.maximum(sizes, 6), color=line.get_color(),
                   alpha=0.7, edgecolors="white", linewidths=0.5)
    lo = min(float(np.nanmin(b.edges[:-1][b.count > 0])) for b in series.values())
    ax.set_xlim(max(0.0, lo - 0.02), 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("confidence (mean top-class probability in the bin)")
    ax.set_ylabel("accuracy in the bin")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    if title:
        ax.set_title(title, fontsize=10)
    return _finish(fig, show, caller_ax)
