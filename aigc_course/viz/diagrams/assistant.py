"""Schematic diagram of chapter 11 (customer-service assistant): the message → intent → slots → calibrated
hand-over → reply pipeline, with the generated reply and its checker beside the template. One function per
figure on a 16 × 9 canvas (:mod:`aigc_course.viz.diagrams.draw`); ``show=True`` displays it."""

from __future__ import annotations

from matplotlib.figure import Figure

from .draw import arrow, box, canvas, finish, label


def assistant_pipeline(show: bool = True) -> Figure | None:
    """The assistant of chapter 11: a message is scored against every intent (TF-IDF retrieval mixed with a
    logistic-regression classifier), slots are extracted and validated, a calibrated confidence decides
    between answering and handing over; the answer is a template (or, for comparison, a generated reply that
    a checker audits against the KB)."""
    fig, ax = canvas(title="The customer-service assistant: every reply is either checked or handed over")
    msg = box(ax, 1.5, 6.6, "customer\nmessage", w=2.2, h=1.2, role="input")
    score = box(ax, 4.7, 6.6, "intent scores s_k\nretrieval + classifier", w=3.2, h=1.3)
    slots = box(ax, 4.7, 3.9, "slots: order number,\ndate (validated)", w=3.4, h=1.2)
    cal = box(ax, 8.9, 6.6, "calibrated confidence:\nlogistic regression on\ntop-1 score and margin",
              w=3.8, h=1.5, role="param")
    hand = box(ax, 14.0, 8.0, "hand over\nto a person", w=3.2, h=1.0, role="neutral")
    ask = box(ax, 14.0, 6.3, "ask for the\nmissing slot", w=3.2, h=1.0)
    templ = box(ax, 14.0, 4.6, "template answer\n(slots from\nthe message)", w=3.2, h=1.3, role="output")
    gen = box(ax, 8.8, 1.6, "generated reply\n(char GPT, sees the question)", w=4.0, h=1.2, role="param")
    check = box(ax, 13.6, 1.6, "checker: facts ⊆ KB + question?\nnearest template = intent?", w=4.4, h=1.2,
                role="memory")
    arrow(ax, msg.side("right"), score.side("left"))
    arrow(ax, msg.side("bottom"), slots.side("left"), rad=0.3)
    arrow(ax, score.side("right"), cal.side("left"), text="top-2")
    arrow(ax, cal.side("right"), hand.side("left"))
    label(ax, 11.7, 7.9, "< t")
    arrow(ax, cal.side("right"), ask.side("left"))
    arrow(ax, cal.side("right"), templ.side("left"))
    label(ax, 11.95, 5.75, "≥ t")
    arrow(ax, slots.side("right"), templ.side("left"))
    arrow(ax, msg.side("bottom"), gen.side("left"), rad=0.35, dashed=True)
    arrow(ax, gen.side("right"), check.side("left"), dashed=True)
    label(ax, 8.8, 0.45, "for comparison only: never the source of a fact", fontsize=11)
    label(ax, 8.9, 5.35, "fitted on calibration data;\nthreshold t chosen there", fontsize=10)
    return finish(fig, show)


__all__ = ["assistant_pipeline"]
