"""Smoke tests of the schematic diagrams of chapter 10 (aigc_course.viz.diagrams.speech)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

from aigc_course.viz.diagrams import speech


@pytest.mark.parametrize("draw", [speech.tacotron, speech.tts_pipeline])
def test_each_diagram_returns_a_figure_with_text(draw):
    fig = draw(show=False)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.texts and ax.patches
    fig.canvas.draw()
    plt.close(fig)
