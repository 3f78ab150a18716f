"""Figure text in the course language: matplotlib's ``Text.set_text`` translated through the catalogue.

Every title, axis label, legend entry, tick label and annotation matplotlib draws passes through
``Text.set_text``. While the language (:mod:`aigc_course.core.i18n`) is not English, this module wraps that method
so the string is looked up in the language's catalogue first; the notebooks' code stays the same in both
editions. Switching back to English removes the wrapper.
"""

from __future__ import annotations

from typing import Any

from matplotlib.text import Text

from ..core import i18n

_ORIGINAL = Text.set_text


def _set_text(self: Text, s: Any) -> None:
    if isinstance(s, str) and s:
        s = i18n.translate(s)
    _ORIGINAL(self, s)


def apply(lang: str) -> None:
    """Translate figure text from now on when ``lang`` is not English; draw it as written when it is."""
    Text.set_text = _ORIGINAL if lang == "en" else _set_text  # type: ignore[method-assign]


def active() -> bool:
    """Whether figure text is being translated."""
    return Text.set_text is _set_text


i18n.on_change(apply)
apply(i18n.language())
