"""Smoke test of the schematic diagram of chapter 12 (aigc_course.diagrams.apps)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from aigc_course.diagrams import apps


def test_monitoring_diagram_names_every_stage():
    fig = apps.monitoring_pipeline(show=False)
    assert isinstance(fig, Figure)
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    for stage in ("decoy", "burst", "classifier", "bearish mass", "tweet count", "volume alerts"):
        assert stage in texts
    fig.canvas.draw()
    plt.close(fig)
