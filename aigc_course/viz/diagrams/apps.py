"""Schematic diagram of chapter 12 (financial sentiment monitoring): how the test stream is built and what the
sentiment detector and the volume baseline each see. One function per figure on a 16 × 9 canvas
(:mod:`aigc_course.viz.diagrams.draw`); ``show=True`` displays it."""

from __future__ import annotations

from matplotlib.figure import Figure

from .draw import arrow, box, canvas, finish, label


def monitoring_pipeline(show: bool = True) -> Figure | None:
    """Chapter 12's pipeline: held-out tweets, equal-volume bursts and decoys → company mentions → chapter 09's
    classifier → per-ticker bearish mass x (and tweet count n for the baseline) → z-score / CUSUM → alerts,
    scored against the bursts only (an alert on a decoy is false)."""
    fig, ax = canvas(title="Sentiment monitoring: the same detector on bearish mass or on tweet counts")
    real = box(ax, 2.0, 7.3, "held-out tweets\n(real texts, labels)", w=3.4, h=1.2, role="input")
    burst = box(ax, 2.0, 5.4, "burst: +k tweets\nmostly bearish", w=3.4, h=1.2, role="output")
    decoy = box(ax, 2.0, 3.5, "decoy: +k tweets\nnever bearish", w=3.4, h=1.2, role="neutral")
    stream = box(ax, 6.1, 5.4, "timestamped\nstream", w=2.6, h=1.2, role="memory")
    tick = box(ax, 6.1, 2.7, "company mentions\n$TSLA or “Tesla”", w=3.2, h=1.2)
    clf = box(ax, 10.0, 6.9, "chapter 09 classifier:\np(bearish), prior-corrected", w=4.6, h=1.2, role="param")
    mass = box(ax, 10.0, 4.6, "bearish mass x\nper ticker, per bin", w=3.4, h=1.2)
    count = box(ax, 10.0, 2.2, "tweet count n\nper ticker, per bin", w=3.4, h=1.2, role="neutral")
    det = box(ax, 13.9, 4.6, "z-score / CUSUM\n→ sentiment alerts", w=3.4, h=1.2, role="output")
    base = box(ax, 13.9, 2.2, "z-score / CUSUM\n→ volume alerts", w=3.4, h=1.2, role="neutral")
    for src in (real, burst, decoy):
        arrow(ax, src.side("right"), stream.side("left"))
    arrow(ax, stream.side("bottom"), tick.side("top"))
    arrow(ax, stream.side("right"), clf.side("left"), rad=-0.15)
    arrow(ax, clf.side("bottom"), mass.side("top"))
    arrow(ax, tick.side("right"), mass.side("left"))
    arrow(ax, tick.side("right"), count.side("left"))
    arrow(ax, mass.side("right"), det.side("left"))
    arrow(ax, count.side("right"), base.side("left"))
    label(ax, 8.0, 0.8, "both are scored against the bursts only (an alert on a decoy is a false alarm);\n"
          "each threshold is chosen on calibration streams", fontsize=11)
    return finish(fig, show)


__all__ = ["monitoring_pipeline"]
