"""Smoke test of the schematic diagram of chapter 11 (aigc_course.diagrams.assistant)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from aigc_course.diagrams import assistant


def test_pipeline_diagram_names_every_stage():
    fig = assistant.assistant_pipeline(show=False)
    assert isinstance(fig, Figure)
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    for stage in ("intent scores", "slots", "confidence", "hand over", "template", "checker"):
        assert stage in texts
    fig.canvas.draw()
    plt.close(fig)
