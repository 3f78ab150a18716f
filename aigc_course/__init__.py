"""aigc-course: the helper package behind the AIGC course notebooks.

Notebooks start with ``import aigc_course as ac`` and ``run = ac.setup("NN_name", PROFILE, lang=LANG)``, and
import the named modules they teach with, e.g. ``from aigc_course.apps import grounding`` (no one-letter aliases).
``ac.tr("seed")`` is a label in the course language (a widget a notebook builds itself).

The layers, each importing only from the ones before it (``tests/test_architecture.py``; see
``docs/architecture.md``): ``core`` ← ``datasets`` ← ``models`` / ``metrics`` ← ``viz`` ← ``apps`` / ``widgets``
← ``exercises`` ← ``delivery`` ← ``cli``.
"""

from . import apps, core, datasets, exercises, metrics, models, viz, widgets
from .apps import components
from .core import claims, config, course, i18n, paths, report, training
from .core.claims import claim
from .core.config import setup
from .core.i18n import tr
from .core.report import record
from .exercises import check, hint
from .viz import classify as _classify  # noqa: F401  (makes ``ac.viz.classify`` available)
from .viz import show_source

__version__ = config.package_version()

__all__ = [
    "apps", "check", "claim", "claims", "components", "config", "core", "course", "datasets", "exercises", "hint",
    "i18n", "metrics", "models", "paths", "record", "report", "setup", "show_source", "tr", "training", "viz",
    "widgets",
    "__version__",
]
