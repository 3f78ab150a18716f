"""The drawing primitives of aigc_course.viz.diagrams."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest

from aigc_course.viz.diagrams import draw


def test_primitives_draw_on_a_slide_shaped_canvas_and_attach_arrows_to_borders():
    fig, ax = draw.canvas(title="demo")
    a = draw.box(ax, 3, 4.5, "input", role="input")
    b = draw.op(ax, 8, 4.5, "+")
    draw.arrow(ax, a.side("right"), b.side("left"), text="x")
    draw.label(ax, 8, 2, "a note")
    assert a.side("right") == (3 + 1.2, 4.5) and b.side("top") == (8, 4.5 + 0.35)
    assert ax.get_xlim() == (0, 16) and ax.get_ylim() == (0, 9)
    assert draw.finish(fig, show=False) is fig
    with pytest.raises(ValueError, match="unknown side"):
        a.side("middle")
