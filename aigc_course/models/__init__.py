"""Models that more than one chapter uses (each chapter walks through the source with show_source)."""

from . import diffusion, gan, vae

__all__ = ["diffusion", "gan", "vae"]
