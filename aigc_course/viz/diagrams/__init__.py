"""Schematic diagrams for the notebooks, drawn with matplotlib and readable at slide size.

:mod:`aigc_course.viz.diagrams.draw` holds the primitives (a canvas, boxes, operator circles, arrows); each other
module of this package draws the pictures of one topic and exposes one function per diagram that returns the
figure (``show=True`` also displays it).
"""

from . import draw

__all__ = ["draw"]
