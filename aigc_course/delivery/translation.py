"""One source, two languages: the Chinese edition's translations, kept beside the notebooks and checked.

A notebook's translations live in ``notebooks/zh/<stem>.json``: for every markdown cell, keyed by the cell's id,
the translated ``text`` and ``en_sha256``, the first 12 hex digits of the SHA-256 of the English source it was
translated from. An English edit changes that hash, so the translation is reported **stale** until it is
translated again; a markdown cell without an entry is **missing**. Code cells are never translated: both
editions share them, so they run the same code.

:func:`check_text` guards what a translation must keep as it is: every formula (``$…$``, ``$$…$$``), every code
span (`` `…` ``), every link target and image, and the heading level of a heading.

From the shell::

    python -m aigc_course.delivery.translation status [NN ...]    # translated / missing / stale per notebook
    python -m aigc_course.delivery.translation extract NN         # add the missing and stale cells to the file,
                                                                  # each with its English text and an empty text
    python -m aigc_course.delivery.translation check NN           # every entry: current, non-empty, intact
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..core import paths
from ..core.i18n import LANGUAGES
from .conventions import colab_url, dumps
from .tag_solutions import source as _source


def translations_dir(lang: str = "zh") -> Path:
    """``notebooks/<lang>/`` of the checkout."""
    return paths.notebooks_dir() / lang


def source_hash(text: str) -> str:
    """The first 12 hex digits of the SHA-256 of a cell's English source (what a translation records)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def translations_path(stem: str, lang: str = "zh") -> Path:
    return translations_dir(lang) / f"{stem}.json"


def load(stem: str, lang: str = "zh") -> dict[str, dict[str, str]]:
    """``{cell id: {"en_sha256", "text"[, "en"]}}`` for a notebook (empty when nothing is translated yet)."""
    path = translations_path(stem, lang)
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data.get("cells", {})


def save(stem: str, cells: dict[str, dict[str, str]], lang: str = "zh") -> Path:
    path = translations_path(stem, lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps({"notebook": stem, "lang": lang, "cells": cells}), encoding="utf-8")
    return path


@dataclass
class Status:
    """How far a notebook's translation is: ids of the markdown cells in each state."""

    stem: str
    translated: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)  # entries whose cell is gone

    @property
    def total(self) -> int:
        return len(self.translated) + len(self.missing) + len(self.stale)

    @property
    def complete(self) -> bool:
        return not self.missing and not self.stale

    def line(self) -> str:
        return (f"{self.stem:<26} {len(self.translated):>4}/{self.total:<4} translated, "
                f"{len(self.missing):>3} missing, {len(self.stale):>3} stale"
                + (f", {len(self.orphans)} orphaned" if self.orphans else ""))


def markdown_cells(nb: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in nb.get("cells", []) if c.get("cell_type") == "markdown"]


def status(nb: dict[str, Any], stem: str, lang: str = "zh",
           cells: dict[str, dict[str, str]] | None = None) -> Status:
    """Each markdown cell of ``nb``: translated (entry with the current hash and a text), missing or stale."""
    cells = load(stem, lang) if cells is None else cells
    out = Status(stem)
    ids = set()
    for cell in markdown_cells(nb):
        cid = cell.get("id")
        if cid is None:
            raise ValueError(f"{stem}: a markdown cell has no id (nbformat 4.5 gives every cell one); "
                             "open and save the notebook with Jupyter, or run nbformat.validator.normalize")
        ids.add(cid)
        entry = cells.get(cid)
        if not entry or not entry.get("text", "").strip():
            out.missing.append(cid)
        elif entry.get("en_sha256") != source_hash(_source(cell)):
            out.stale.append(cid)
        else:
            out.translated.append(cid)
    out.orphans = sorted(set(cells) - ids)
    return out


def extract(nb: dict[str, Any], stem: str, lang: str = "zh") -> tuple[Path, int]:
    """Add every missing or stale markdown cell to the translations file, with its English text (``en``), its hash
    and an empty ``text`` (a stale one keeps its old ``text`` as ``previous``); drops orphans. Returns the path and
    the number of cells to translate."""
    cells = load(stem, lang)
    st = status(nb, stem, lang, cells)
    by_id = {c["id"]: c for c in markdown_cells(nb)}
    for cid in st.missing + st.stale:
        old = cells.get(cid, {})
        entry = {"en_sha256": source_hash(_source(by_id[cid])), "en": _source(by_id[cid]), "text": ""}
        if old.get("text"):
            entry["previous"] = old["text"]
        cells[cid] = entry
    for cid in st.orphans:
        del cells[cid]
    ordered = {c["id"]: cells[c["id"]] for c in markdown_cells(nb) if c["id"] in cells}
    return save(stem, ordered, lang), len(st.missing) + len(st.stale)


# --------------------------------------------------------------------------------------------
# What a translation keeps as it is
# --------------------------------------------------------------------------------------------
_DISPLAY_MATH = re.compile(r"\$\$.+?\$\$", re.S)
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$)(.+?)(?<![\\$])\$", re.S)  # a formula may wrap onto a new line
_CODE = re.compile(r"``(?:(?!``)[^\n]|\n(?!\n))+``|`(?:[^`\n]|\n(?!\n))+`")
"""A code span: ``double`` ones first (they may hold a backtick); either may wrap onto the next line."""
_LINK_TARGET = re.compile(r"\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^(#{1,6}) ", re.M)


def protected_parts(text: str) -> dict[str, list[str]]:
    """The parts of a markdown text a translation must keep: formulas (white space squeezed), code spans, link
    targets, heading levels."""
    display = [_squeeze(m) for m in _DISPLAY_MATH.findall(text)]
    rest = _DISPLAY_MATH.sub(" ", text)
    code = [_squeeze(m) for m in _CODE.findall(rest)]
    rest = _CODE.sub(" ", rest)
    return {"display math": display, "inline math": [_squeeze(m.group(0)) for m in _INLINE_MATH.finditer(rest)],
            "code": code, "links": _LINK_TARGET.findall(text), "headings": _HEADING.findall(text)}


def _squeeze(formula: str) -> str:
    """A formula with every run of white space made one space: re-wrapping a line does not change it."""
    return re.sub(r"\s+", " ", formula)


def check_text(english: str, translated: str) -> list[str]:
    """What the translation lost or changed of :func:`protected_parts` (empty when it kept all of them). Formulas,
    code spans and links are compared as multisets (their order may change with the sentence); heading levels
    in order."""
    problems = []
    en, zh = protected_parts(english), protected_parts(translated)
    for kind in ("display math", "inline math", "code", "links"):
        missing = list(en[kind])
        for part in zh[kind]:
            if part in missing:
                missing.remove(part)
        extra = list(zh[kind])
        for part in en[kind]:
            if part in extra:
                extra.remove(part)
        if missing:
            problems.append(f"{kind} lost or changed: {missing[:3]}")
        if extra:
            problems.append(f"{kind} not in the English: {extra[:3]}")
    if en["headings"] != zh["headings"]:
        problems.append(f"heading levels {en['headings']} became {zh['headings']}")
    for tag, name in (("strong", "bold"), ("em", "italic")):
        want, got = _emphasis(english, tag), _emphasis(translated, tag)
        if got < want:
            problems.append(f"{name}: {want} spans in the English, {got} render in the translation (CommonMark does "
                            f"not close `**`/`*` after Chinese punctuation when a character follows: put the "
                            f"punctuation outside the markers, `**标题**。正文`)")
    return problems


def _emphasis(text: str, tag: str) -> int:
    """How many ``<strong>`` / ``<em>`` spans a CommonMark renderer makes of ``text`` (formulas and code hidden)."""
    from markdown_it import MarkdownIt

    hidden = _CODE.sub("CODE", _INLINE_MATH.sub("MATH", _DISPLAY_MATH.sub("MATH", text)))
    return MarkdownIt("commonmark").render(hidden).count(f"<{tag}>")


GLOSSARY_EXCEPTIONS: dict[str, tuple[str, ...]] = {
    "token": ("stop token",),  # text-to-speech's end-of-utterance flag (停止标记), not a text token (词元)
}
"""English phrases in which a glossary term is not the glossary's concept."""


@lru_cache(maxsize=1)
def glossary_pairs() -> tuple[tuple[str, str], ...]:
    """(English, Chinese) pairs of the course glossary (:data:`aigc_course.core.course.GLOSSARY`), its
    ``a / b`` entries split and parenthesised abbreviations dropped."""
    from ..core.course import GLOSSARY

    pairs = []
    for en, zh in GLOSSARY.items():
        ens = [e.strip() for e in re.sub(r"\s*\([^)]*\)", "", en).split("/")]
        zhs = [z.strip() for z in re.sub(r"（[^）]*）", "", zh).split("/")]
        pairs += list(zip(ens, zhs))
    return tuple(pairs)


def glossary_misses(english: str, translated: str) -> list[str]:
    """Glossary terms of the English prose (formulas, code, quoted strings and italic titles aside) whose Chinese
    term the translation does not use."""
    prose = _CODE.sub(" ", _INLINE_MATH.sub(" ", _DISPLAY_MATH.sub(" ", english)))
    prose = re.sub(r'"[^"\n]*"|(?<![*\w])\*(?=\S)(?:[^*\n]|\n(?!\n))+?(?<=\S)\*(?!\*)', " ", prose)
    for phrases in GLOSSARY_EXCEPTIONS.values():
        for phrase in phrases:
            prose = re.sub(re.escape(phrase), " ", prose, flags=re.I)
    misses = []
    for en, zh in glossary_pairs():
        if re.search(r"(?<![\w-])" + re.escape(en) + r"(?![\w-])", prose, re.I) and zh not in translated:
            misses.append(f"glossary: '{en}' is {zh} (not used in the translation)")
    return misses


def check(nb: dict[str, Any], stem: str, lang: str = "zh") -> list[str]:
    """Every problem of a notebook's translations: missing, stale, orphaned, and :func:`check_text` per cell."""
    cells = load(stem, lang)
    st = status(nb, stem, lang, cells)
    problems = [f"cell {cid}: not translated" for cid in st.missing]
    problems += [f"cell {cid}: stale (the English changed since it was translated)" for cid in st.stale]
    problems += [f"entry {cid}: no such markdown cell" for cid in st.orphans]
    for cell in markdown_cells(nb):
        entry = cells.get(cell["id"])
        if entry and entry.get("text", "").strip():
            problems += [f"cell {cell['id']}: {p}" for p in check_text(_source(cell), entry["text"])]
            problems += [f"cell {cell['id']}: {p}" for p in glossary_misses(_source(cell), entry["text"])]
    return problems


# --------------------------------------------------------------------------------------------
# The Chinese notebook
# --------------------------------------------------------------------------------------------
_CJK = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
_CJK_BREAK = re.compile(f"(?<=[{_CJK}])\n[ \t]*(?=[{_CJK}])")
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def join_cjk_lines(text: str) -> str:
    """``text`` with each line break *between two Chinese characters* removed (with the next line's indent), outside
    fenced code: a browser shows a soft line break as a space, which Chinese does not put between characters.
    Formulas, code spans and links are untouched."""
    out, last = [], 0
    for fence in _FENCE.finditer(text):
        out += [_CJK_BREAK.sub("", text[last:fence.start()]), fence.group(0)]
        last = fence.end()
    out.append(_CJK_BREAK.sub("", text[last:]))
    return "".join(out)


def chapter_title(stem: str, lang: str = "zh") -> str:
    """The chapter's title in ``lang``: the ``# NN — title`` line of its translated title cell, else the English
    title of its profile row."""
    from ..core.config import chapter

    english = chapter(stem).title
    if lang == "en":
        return english
    for entry in load(stem, lang).values():
        match = re.match(rf"#\s*{stem[:2]}\s*—\s*(.+)", entry.get("text", ""))
        if match:
            return match.group(1).strip()
    return english


def in_language(nb: dict[str, Any], stem: str, lang: str) -> dict[str, Any]:
    """``nb`` in ``lang``: as it is when it already is (an executed Chinese edition records its language), else
    its markdown translated (:func:`translated_notebook`)."""
    if nb.get("metadata", {}).get("language", "en") == lang:
        return nb
    return translated_notebook(nb, stem, lang)


_LANG_LINE = re.compile(r"^LANG\s*=\s*None\b", re.M)


def set_lang_line(source: str, lang: str) -> str:
    """The parameters cell's source with ``LANG = None`` set to ``LANG = "<lang>"`` (the comment kept)."""
    return _LANG_LINE.sub(f'LANG = "{lang}"', source, count=1)


def translated_notebook(nb: dict[str, Any], stem: str, lang: str = "zh", *, strict: bool = False) -> dict[str, Any]:
    """A copy of ``nb`` with every markdown cell in ``lang`` where a current translation exists (the English
    stays where none does, unless ``strict``, which raises). Code cells are untouched but one line: the
    ``parameters`` cell's ``LANG = None`` becomes ``LANG = "<lang>"``, so figures, widgets and feedback speak the
    edition's language wherever it is opened (Colab included). The notebook's metadata records the language."""
    if lang == "en":
        return copy.deepcopy(nb)
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    cells = load(stem, lang)
    st = status(nb, stem, lang, cells)
    if strict and not st.complete:
        raise ValueError(f"{stem}: {len(st.missing)} markdown cells not translated and {len(st.stale)} stale; "
                         f"run `python -m aigc_course.delivery.translation extract {stem[:2]}` and translate them")
    current = set(st.translated)
    out = copy.deepcopy(nb)
    for cell in markdown_cells(out):
        if cell["id"] in current:
            cell["source"] = join_cjk_lines(cells[cell["id"]]["text"]).splitlines(keepends=True)
    for cell in out.get("cells", []):
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            cell["source"] = set_lang_line(_source(cell), lang).splitlines(keepends=True)
    for cell in out.get("cells", [])[:1]:  # the title cell's badge opens this language's student edition
        cell["source"] = _source(cell).replace(colab_url(stem), colab_url(stem, lang)).splitlines(keepends=True)
    out.setdefault("metadata", {})["language"] = lang
    return out


def _stems(names: Sequence[str]) -> list[str]:
    books = sorted(p.stem for p in paths.notebooks_dir().glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return books
    chosen = [b for b in books if any(b.startswith(n) for n in names)]
    unknown = [n for n in names if not any(b.startswith(n) for b in books)]
    if unknown:
        raise SystemExit(f"no notebook starts with {', '.join(unknown)}; choose from {', '.join(b[:2] for b in books)}")
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("status", "extract", "check"):
        print(__doc__)
        return 2
    command, names = argv[0], argv[1:]
    bad = 0
    for stem in _stems(names):
        nb = json.loads((paths.notebooks_dir() / f"{stem}.ipynb").read_text(encoding="utf-8"))
        if command == "status":
            print(status(nb, stem).line())
        elif command == "extract":
            path, n = extract(nb, stem)
            print(f"{stem}: {n} cells to translate in {path}")
        else:
            problems = check(nb, stem)
            bad += bool(problems)
            print(f"{stem}: " + ("ok" if not problems else f"{len(problems)} problems"))
            for p in problems[:40]:
                print("  " + p)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
