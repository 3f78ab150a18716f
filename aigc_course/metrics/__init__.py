"""Metrics computed on held-out data: one module per domain."""

from . import image, modes

__all__ = ["image", "modes"]
