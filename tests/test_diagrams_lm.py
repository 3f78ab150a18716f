"""Smoke tests of the schematic diagrams of chapters 07-08 (aigc_course.viz.diagrams.lm)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

from aigc_course.viz.diagrams import lm as lm_diagrams


@pytest.mark.parametrize("draw", [lm_diagrams.lstm_cell, lm_diagrams.causal_attention, lm_diagrams.gpt_block,
                                  lm_diagrams.kv_cache, lm_diagrams.lora])
def test_each_diagram_returns_a_figure_with_text(draw):
    fig = draw(show=False)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.texts and ax.patches  # labels and shapes were drawn
    fig.canvas.draw()  # renders (mathtext included) without error
    plt.close(fig)


def test_causal_attention_masks_the_upper_triangle():
    fig = lm_diagrams.causal_attention(T=4, show=False)
    masked = [t for t in fig.axes[0].texts if t.get_text() == "−∞"]
    assert len(masked) == 4 * 3 // 2
    plt.close(fig)
