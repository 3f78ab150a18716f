"""The profile table, one file per chapter: ``chNN.py`` registers chapter NN's row and ``components.py`` the
rows of the models several chapters share. :mod:`aigc_course.core.config` loads them all when it is imported."""

from __future__ import annotations

import importlib
import pkgutil


def load() -> list[str]:
    """Import every row file of this folder (components first); returns their names."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__))
    names.sort(key=lambda name: name != "components")
    for name in names:
        importlib.import_module(f"{__name__}.{name}")
    return names
