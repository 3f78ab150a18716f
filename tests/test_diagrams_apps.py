"""Smoke tests of the application chapters' schematic diagrams: chapter 11's assistant pipeline
(aigc_course.viz.diagrams.assistant) and chapter 12's monitoring pipeline (aigc_course.viz.diagrams.apps)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

from aigc_course.viz.diagrams import apps, assistant


@pytest.mark.parametrize(("draw", "stages"), [
    (assistant.assistant_pipeline, ("intent scores", "slots", "confidence", "hand over", "template", "checker")),
    (apps.monitoring_pipeline, ("decoy", "burst", "classifier", "bearish mass", "tweet count", "volume alerts")),
], ids=["assistant", "monitoring"])
def test_pipeline_diagram_names_every_stage(draw, stages):
    fig = draw(show=False)
    assert isinstance(fig, Figure)
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    for stage in stages:
        assert stage in texts
    fig.canvas.draw()
    plt.close(fig)
