"""Pictures: image grids, curves, 2-D densities, spectrograms, attention maps, and ``show_source``.

Each plotting function draws one figure. With ``show=True`` (the default) it is displayed and
``None`` is returned, so a notebook cell never shows the same picture twice; with ``show=False``
the :class:`~matplotlib.figure.Figure` is returned for further drawing or saving. Given ``ax=``,
a function draws into that panel of the caller's figure and leaves layout and display to the caller.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from ..core import i18n
from . import fonts, language  # noqa: F401  (language: figure text in the course language)

fonts.prefer_cjk(i18n.language() == "zh")  # a CJK fallback font: Chinese labels draw as characters, not boxes
i18n.on_change(lambda lang: fonts.prefer_cjk(lang == "zh"))


def _finish(fig: Figure, show: bool, ax: plt.Axes | None = None) -> Figure | None:
    """Lay out and show a figure this module created; one drawn into the caller's ``ax`` is left to the
    caller (no layout change, not shown) and returned."""
    if ax is not None:
        return fig
    fig.tight_layout()
    if show:
        plt.show()
        return None
    return fig


def _numpy(x: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().float().cpu().numpy()
    return np.asarray(x)


def image_grid(
    images: torch.Tensor | np.ndarray,
    *,
    nrow: int = 8,
    titles: Sequence[str] | None = None,
    title: str | None = None,
    value_range: tuple[float, float] | None = None,
    cmap: str = "gray",
    scale: float = 1.0,
    show: bool = True,
) -> Figure | None:
    """Show ``images`` — ``(N, H, W)``, ``(N, 1, H, W)`` or ``(N, 3, H, W)`` — in a grid.

    ``value_range`` (lo, hi) maps pixels to [0, 1]; by default uint8 is /255, [-1, 1] data is
    detected and rescaled, and anything else is shown as is.
    """
    x = _numpy(images)
    if x.ndim == 4 and x.shape[1] in (1, 3):
        x = np.moveaxis(x, 1, -1)
        if x.shape[-1] == 1:
            x = x[..., 0]
    if x.ndim not in (3, 4):
        raise ValueError(f"images must be (N, H, W) or (N, C, H, W); got shape {tuple(x.shape)}")
    if value_range is None:
        if x.dtype == np.uint8:
            value_range = (0, 255)
        elif x.min() < -0.01:
            value_range = (-1, 1)
        else:
            value_range = (0, 1)
    lo, hi = value_range
    x = np.clip((x.astype(np.float32) - lo) / (hi - lo), 0, 1)
    n = x.shape[0]
    ncol = min(nrow, n)
    nrows = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrows, ncol, figsize=(scale * 1.1 * ncol, scale * 1.2 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(x[i], cmap=cmap if x.ndim == 3 else None, vmin=0, vmax=1)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
    if title:
        fig.suptitle(title)
    return _finish(fig, show)


def curves(
    series: Mapping[str, Sequence[float]],
    *,
    xlabel: str = "epoch",
    ylabel: str = "loss",
    title: str | None = None,
    logy: bool = False,
    ax: plt.Axes | None = None,
    show: bool = True,
) -> Figure | None:
    """Line plot of named series (e.g. a training history ``{"train": [...], "val": [...]}``)."""
    fig = ax.figure if ax is not None else plt.figure(figsize=(6, 3.5))
    caller_ax = ax
    ax = ax or fig.add_subplot()
    for name, values in series.items():
        ax.plot(np.arange(1, len(values) + 1), list(values), label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    if len(series) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    return _finish(fig, show, caller_ax)


def density_2d(
    points: torch.Tensor | np.ndarray,
    *,
    reference: torch.Tensor | np.ndarray | None = None,
    bins: int = 100,
    lim: float | None = None,
    title: str | None = None,
    ax: plt.Axes | None = None,
    show: bool = True,
) -> Figure | None:
    """2-D histogram of ``points`` ``(N, 2)``; ``reference`` ``(M, 2)`` drawn as white dots on top."""
    p = _numpy(points)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"points must be (N, 2); got {tuple(p.shape)}")
    fig = ax.figure if ax is not None else plt.figure(figsize=(4, 4))
    caller_ax = ax
    ax = ax or fig.add_subplot()
    lim = lim or float(np.abs(p).max()) * 1.1
    ax.hist2d(p[:, 0], p[:, 1], bins=bins, range=[[-lim, lim], [-lim, lim]], cmap="magma")
    if reference is not None:
        r = _numpy(reference)
        ax.scatter(r[:, 0], r[:, 1], s=12, c="white", edgecolors="black", linewidths=0.5)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return _finish(fig, show, caller_ax)


def spectrogram(
    spec: torch.Tensor | np.ndarray,
    *,
    sample_rate: int | None = None,
    hop_length: int | None = None,
    title: str | None = None,
    ylabel: str = "frequency bin",
    db: bool = False,
    ax: plt.Axes | None = None,
    show: bool = True,
) -> Figure | None:
    """Show a spectrogram ``(freq, frames)``; ``db=True`` converts power to decibels first."""
    s = _numpy(spec)
    if s.ndim != 2:
        raise ValueError(f"spectrogram must be (freq, frames); got {tuple(s.shape)}")
    if db:
        s = 10 * np.log10(np.maximum(s, 1e-10))
    fig = ax.figure if ax is not None else plt.figure(figsize=(7, 3))
    caller_ax = ax
    ax = ax or fig.add_subplot()
    extent = None
    xlabel = "frame"
    if sample_rate and hop_length:
        extent = (0, s.shape[1] * hop_length / sample_rate, 0, s.shape[0])
        xlabel = "time (s)"
    im = ax.imshow(s, origin="lower", aspect="auto", cmap="magma", extent=extent)
    fig.colorbar(im, ax=ax, label="dB" if db else None)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return _finish(fig, show, caller_ax)


def attention_map(
    weights: torch.Tensor | np.ndarray,
    *,
    queries: Sequence[str] | None = None,
    keys: Sequence[str] | None = None,
    title: str | None = None,
    ax: plt.Axes | None = None,
    show: bool = True,
) -> Figure | None:
    """Heat map of attention ``weights`` ``(n_queries, n_keys)`` (rows sum to 1)."""
    w = _numpy(weights)
    if w.ndim != 2:
        raise ValueError(f"weights must be (n_queries, n_keys); got {tuple(w.shape)}")
    fig = ax.figure if ax is not None else plt.figure(figsize=(1 + 0.35 * w.shape[1], 1 + 0.35 * w.shape[0]))
    caller_ax = ax
    ax = ax or fig.add_subplot()
    im = ax.imshow(w, cmap="viridis", vmin=0, vmax=max(float(w.max()), 1e-9))
    if keys is not None:
        ax.set_xticks(range(len(keys)), list(keys), rotation=90)
    if queries is not None:
        ax.set_yticks(range(len(queries)), list(queries))
    ax.set_xlabel("key")
    ax.set_ylabel("query")
    fig.colorbar(im, ax=ax)
    if title:
        ax.set_title(title)
    return _finish(fig, show, caller_ax)


def show_source(obj: object):
    """Display the source code of a package function or class in the notebook (highlighted).

    Returns an ``IPython.display.Code`` object, which Jupyter renders; outside Jupyter its
    ``str()`` is the plain source.
    """
    from IPython.display import Code

    try:
        source = inspect.getsource(obj)
    except (TypeError, OSError) as exc:
        raise TypeError(f"cannot show the source of {obj!r}: {exc}") from None
    return Code(source, language="python")
