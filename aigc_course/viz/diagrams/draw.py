"""Drawing primitives for schematic diagrams: a canvas in data units, boxes, operator circles and arrows.

Coordinates are plain numbers on a canvas ``width × height`` (default 16 × 9, the shape of a slide), so a diagram
is written as a list of ``box``/``op``/``arrow`` calls with readable positions. Text is at least 11 pt, so a
figure stays legible when a slide shows it at full width.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

PALETTE = {"input": "#55A868", "param": "#8172B3", "op": "#4C72B0", "output": "#C44E52", "memory": "#DD8452",
           "neutral": "#7F7F7F"}
"""Colours by role: data coming in, learned parameters, operations, outputs, state carried across steps."""


@dataclass(frozen=True)
class Node:
    """A drawn element: its centre and half-sizes, for attaching arrows to its border."""

    x: float
    y: float
    half_w: float
    half_h: float

    def side(self, where: str) -> tuple[float, float]:
        """A point on the border: ``"left"``, ``"right"``, ``"top"``, ``"bottom"`` or ``"center"``."""
        dx = {"left": -self.half_w, "right": self.half_w}.get(where, 0.0)
        dy = {"bottom": -self.half_h, "top": self.half_h}.get(where, 0.0)
        if where not in ("left", "right", "top", "bottom", "center"):
            raise ValueError(f"unknown side {where!r}; use left, right, top, bottom or center")
        return self.x + dx, self.y + dy


def canvas(width: float = 16.0, height: float = 9.0, *, title: str | None = None,
           inches: float = 11.0) -> tuple[Figure, Axes]:
    """A blank figure whose axes run over ``[0, width] × [0, height]`` with equal scale, ``inches`` wide."""
    fig, ax = plt.subplots(figsize=(inches, inches * height / width))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=14)
    return fig, ax


def box(ax: Axes, x: float, y: float, text: str, *, w: float = 2.4, h: float = 1.0, role: str = "op",
        fontsize: float = 12, color: str | None = None, text_color: str = "white") -> Node:
    """A rounded box centred at ``(x, y)`` with ``text``; ``role`` picks the colour from :data:`PALETTE`."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.15",
                                fc=color or PALETTE[role], ec="none"))
    ax.text(x, y, text, ha="center", va="center", color=text_color, fontsize=fontsize)
    return Node(x, y, w / 2, h / 2)


def op(ax: Axes, x: float, y: float, symbol: str, *, r: float = 0.35, role: str = "op", fontsize: float = 14) -> Node:
    """An operator circle (``"+"``, ``"×"``, ``"σ"``, ``"tanh"`` ...) centred at ``(x, y)``."""
    ax.add_patch(Circle((x, y), r, fc="white", ec=PALETTE[role], lw=2))
    ax.text(x, y, symbol, ha="center", va="center", fontsize=fontsize, color=PALETTE[role])
    return Node(x, y, r, r)


def label(ax: Axes, x: float, y: float, text: str, *, fontsize: float = 11, color: str = "0.2", **kwargs) -> None:
    """Plain text at ``(x, y)`` (centred unless ``ha``/``va`` say otherwise)."""
    ax.text(x, y, text, ha=kwargs.pop("ha", "center"), va=kwargs.pop("va", "center"), fontsize=fontsize,
            color=color, **kwargs)


def arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], *, text: str | None = None,
          color: str = "0.3", rad: float = 0.0, lw: float = 1.6, style: str = "-|>", dashed: bool = False,
          fontsize: float = 11) -> None:
    """An arrow from ``start`` to ``end`` (points, e.g. ``node.side("right")``), optionally labelled at its middle;
    ``rad`` bends it (positive: counter-clockwise)."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=16, color=color, lw=lw,
                                 connectionstyle=f"arc3,rad={rad}", linestyle="--" if dashed else "-"))
    if text:
        mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
        ax.text(mx, my, text, ha="center", va="center", fontsize=fontsize, color=color,
                bbox=dict(fc="white", ec="none", pad=0.5))


def finish(fig: Figure, show: bool = True) -> Figure | None:
    """Tight layout; display and return ``None`` with ``show``, else return the figure (tests, saving)."""
    fig.tight_layout()
    if show:
        plt.show()
        return None
    return fig
