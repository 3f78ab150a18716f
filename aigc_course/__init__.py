"""aigc-course: the helper package behind the AIGC course notebooks.

Notebooks start with ``import aigc_course as ac`` and ``run = ac.setup("NN_name", PROFILE)``.
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("aigc-course")
except PackageNotFoundError:  # running from a checkout without installing
    __version__ = "0.2.0+local"

from . import (
    claims,
    config,
    conventions,
    course,
    datasets,
    doctor,
    exercise_bank,
    exercises,
    metrics,
    models,
    paths,
    report,
    training,
    viz,
    viz_classify,
    widgets,
)
from .claims import claim
from .config import setup
from .exercise_bank import check, hint
from .report import record
from .viz import show_source

__all__ = [
    "check", "claim", "claims", "config", "conventions", "course", "datasets", "doctor", "exercise_bank", "exercises",
    "hint", "metrics", "models", "paths", "record",
    "report", "setup", "show_source", "training", "viz", "viz_classify", "widgets", "__version__",
]
