"""The language of what the code shows: figure text, widget labels, exercise feedback.

The notebooks' prose is translated cell by cell (:mod:`aigc_course.delivery.translation`); the code cells are the
same in both editions, so the strings *they* draw — a title, an axis label, a legend entry, a widget's button, a
checker's message — are translated here, at the moment they are shown, from one catalogue per language: the
JSON files of ``aigc_course/core/locale/<lang>/`` merged (``figures-*.json`` for figure text, ``messages.json``
for widgets, the site and hints, ``feedback.json`` for the checkers, ``exercises-chNN.json`` per exercise bank):

``strings``
    English → translation, looked up in this order: the exact string; the string with its numbers as ``{}``
    holes (``"step 150"`` finds ``"step {}"`` → ``"第 {} 步"``); a key whose ``{}`` holes stand for any run of
    text, itself translated (``"{} loss"`` → ``"{}损失"`` and ``"train"`` → ``"训练"`` show ``"train loss"`` as
    ``"训练损失"``); line by line. Holes are filled in order, or by index (``{1}`` … ``{0}``) where the other
    language orders them differently. Data shown in a figure (a tweet, a generated line) maps to itself. Keys for
    :func:`tr` use named fields instead (``"{name} is not defined"``).
``keep``
    Words that may stay English in a translation (names); all-capital words (``GPT``, ``FID``), code
    (``nn.Linear``, ``x_t``) and formulas (``$…$``) count as untranslated-by-design without being listed.

The language is ``setup(..., lang=...)``'s, else ``AIGC_COURSE_LANG``, else English. Figure text is translated by
:mod:`aigc_course.viz.language`, which hooks matplotlib's ``Text.set_text`` while the language is not English. A
string the catalogue cannot translate is shown in English; with ``AIGC_COURSE_I18N_MISSES=<file>`` each one is
appended to that file (one JSON line: chapter, text), which is how ``make test`` proves the Chinese smoke run
drew no English label.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

LANGUAGES: tuple[str, ...] = ("en", "zh")
"""``en`` is the source; ``zh`` is Simplified Chinese."""
LOCALE_DIR = Path(__file__).with_name("locale")
MISSES_ENV = "AIGC_COURSE_I18N_MISSES"

_LANG: str | None = None
_LISTENERS: list[Callable[[str], None]] = []


def resolve_language(lang: str | None = None) -> str:
    """``lang``, else ``AIGC_COURSE_LANG``, else ``"en"`` — checked against :data:`LANGUAGES`."""
    value = lang if lang is not None else (os.environ.get("AIGC_COURSE_LANG") or "en")
    value = value.strip().lower()
    if value not in LANGUAGES:
        source = "lang" if lang is not None else "AIGC_COURSE_LANG"
        raise ValueError(f"{source}={value!r} is not a course language; choose one of {', '.join(LANGUAGES)}")
    return value


def language() -> str:
    """The language figures, widgets and feedback use now."""
    return _LANG if _LANG is not None else resolve_language()


def set_language(lang: str | None) -> str:
    """Switch the language (``None``: back to ``AIGC_COURSE_LANG`` / English) and tell the listeners."""
    global _LANG
    _LANG = None if lang is None else resolve_language(lang)
    now = language()
    for listener in list(_LISTENERS):
        listener(now)
    return now


@contextmanager
def using(lang: str | None) -> Iterator[str]:
    """Within the block, the language is ``lang`` (for a build that draws a figure in the edition's language)."""
    before = _LANG
    now = set_language(lang)
    try:
        yield now
    finally:
        set_language(before)


def on_change(listener: Callable[[str], None]) -> None:
    """Call ``listener(lang)`` on every :func:`set_language` (how :mod:`aigc_course.viz.language` hooks in)."""
    _LISTENERS.append(listener)


# ---------------------------------------------------------------------------------------------------------------
# The catalogue
# ---------------------------------------------------------------------------------------------------------------
_HOLE = re.compile(r"\{\}")
_FILL = re.compile(r"\{(\d?)\}")


@dataclass
class Catalogue:
    """One language's strings: exact keys, keys with ``{}`` holes, and the words kept as they are."""

    lang: str
    strings: dict[str, str]
    keep: frozenset[str]
    patterns: list[tuple[tuple[str, ...], re.Pattern[str], str]] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for key, value in self.strings.items():
            if "{}" not in key:
                continue
            chunks = tuple(c for c in _HOLE.split(key) if c.strip())
            regex = re.compile("".join("(.*?)" if p == "{}" else re.escape(p)
                                       for p in re.split(r"(\{\})", key) if p), re.S)
            self.patterns.append((chunks, regex, value))
        # longer keys first: "train loss {}" wins over "{} loss {}"
        self.patterns.sort(key=lambda p: -sum(len(c) for c in p[0]))


@cache
def catalogue(lang: str) -> Catalogue:
    """The catalogue of ``lang`` (empty for English)."""
    if lang == "en":
        return Catalogue("en", {}, frozenset())
    folder = LOCALE_DIR / lang
    files = sorted(folder.glob("*.json"))
    if not files:  # a broken install: show English rather than stop the notebook
        warnings.warn(f"no catalogue for language {lang!r} (expected JSON files in {folder}); figure text, widgets "
                      "and feedback stay in English — reinstall the course package", stacklevel=2)
    strings: dict[str, str] = {}
    keep: set[str] = set()
    conflicts: list[str] = []
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        for key, value in data.get("strings", {}).items():
            if strings.setdefault(key, value) != value:  # the first file (by name) wins; tests list these
                conflicts.append(f"{path.name}: {key!r} is translated differently in an earlier file")
        keep.update(data.get("keep", []))
    return Catalogue(lang, strings, frozenset(keep), conflicts=conflicts)


def _fill(template: str, parts: list[str]) -> str:
    order = iter(range(len(parts)))

    def one(match: re.Match[str]) -> str:
        index = int(match.group(1)) if match.group(1) else next(order, None)
        return parts[index] if index is not None and index < len(parts) else match.group(0)

    return _FILL.sub(one, template)


_NUMBER = re.compile(r"(?<![A-Za-z_\d.])\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![A-Za-z_\d])")
"""A number as a figure shows it (``150``, ``0.97``, ``1e-3``), not part of a name (``x0``, ``fp32``, ``W1``)."""


def number_key(text: str) -> str:
    """``text`` with every number replaced by a ``{}`` hole: ``"3 steps, w=0"`` → ``"{} steps, w={}"`` (how the
    catalogue stores strings whose numbers change from run to run)."""
    return _NUMBER.sub("{}", text)


@lru_cache(maxsize=65536)
def _translate(text: str, lang: str) -> tuple[str, bool]:
    """``(translation, found)``; ``found`` is False when no entry matched (the text comes back as it was)."""
    cat = catalogue(lang)
    if text in cat.strings:
        return cat.strings[text], True
    stripped = text.strip()
    if stripped != text and stripped:
        inner, found = _translate(stripped, lang)
        lead = text[: len(text) - len(text.lstrip())]
        return lead + inner + text[len(text.rstrip()):], found
    key = number_key(text)
    if key != text and key in cat.strings:
        return _fill(cat.strings[key], _NUMBER.findall(text)), True
    for chunks, regex, value in cat.patterns:
        if all(c in text for c in chunks):
            match = regex.fullmatch(text)
            if match:
                parts = [_translate(g, lang)[0] if _has_words(g) else g for g in match.groups()]
                return _fill(value, parts), True
    if "\n" in text:
        lines = [_translate(line, lang) if _has_words(line) else (line, True) for line in text.split("\n")]
        return "\n".join(t for t, _ in lines), all(found for _, found in lines)
    return text, False


_WORDS = re.compile(r"[A-Za-z]{2,}")


def _has_words(text: str) -> bool:
    return bool(_WORDS.search(text))


def translate(text: str, lang: str | None = None) -> str:
    """``text`` as shown in ``lang`` (default: the current language): figure text and labels. A string with no
    catalogue entry comes back unchanged (and is recorded as a miss when :data:`MISSES_ENV` names a file). An
    entry may map a string to itself: data shown in a figure (a review, a generated line) stays as it is."""
    lang = lang or language()
    if lang == "en" or not _has_words(text):
        return text
    out, found = _translate(text, lang)
    if not found and os.environ.get(MISSES_ENV) and untranslated_words(text, lang):  # not just math, code, acronyms
        _record_miss(text)
    return out


def lookup(text: str, lang: str) -> str | None:
    """The catalogue's translation of ``text`` in ``lang`` (numbers and holes filled), or ``None`` when no entry
    matches — what the tests use to prove a string is covered."""
    out, found = _translate(text, lang)
    return out if found else None


def tr(template: str, /, **fields: object) -> str:
    """A message of the package in the current language: ``tr("{name} is not defined", name=n)``. The key is the
    English template; its translation uses the same field names."""
    lang = language()
    text = template
    if lang != "en":
        text = catalogue(lang).strings.get(template, template)
        if template not in catalogue(lang).strings and os.environ.get(MISSES_ENV):
            _record_miss(template)
    return text.format(**fields) if fields else text


_MATH = re.compile(r"\$[^$]*\$")
_CODE = re.compile(r"`[^`]*`|\b\w+(?:[._]\w+)+(?:\(\))?|\b\w+\(\)")


def untranslated_words(text: str, lang: str | None = None) -> list[str]:
    """Latin-letter words of ``text`` that a reader of ``lang`` would see as English: not in formulas, not code
    (``a.b``, ``x_t``, ``f()``), not all capitals or with digits (``GPT``, ``x0``), not in the catalogue's
    ``keep`` list."""
    lang = lang or language()
    if lang == "en":
        return []
    keep = catalogue(lang).keep
    rest = _CODE.sub(" ", _MATH.sub(" ", text))
    words = re.findall(r"[A-Za-z][A-Za-z'-]*[A-Za-z]|[A-Za-z]", rest)
    return [w for w in words if len(w) > 1 and not w.isupper() and w not in keep
            and not any(ch.isdigit() for ch in w) and w.strip("-") not in keep
            and not (w[0].isupper() and w[1:].isupper())]


def _record_miss(text: str) -> None:
    path = os.environ.get(MISSES_ENV)
    if not path:
        return
    try:
        from .config import current_run

        run = current_run()
        row = {"chapter": run.chapter if run else None, "text": text}
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    except OSError:
        pass  # a record of misses never stops a notebook
