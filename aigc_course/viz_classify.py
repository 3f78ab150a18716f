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

from .viz import _numpy


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
