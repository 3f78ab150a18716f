"""The strings the code shows, found by reading it: what the language catalogue (:mod:`aigc_course.core.i18n`)
must translate.

Two kinds, both read with :mod:`ast` (nothing is run):

* **figure text** — the string (or f-string, its fields as ``{}`` holes) given to a plotting call
  (``set_title``, ``xlabel``, ``text``, ``annotate``, …) or to a ``label=`` / ``title=`` / ``xlabel=`` … keyword,
  in the notebooks' code cells and the package's plotting modules;
* **labels** — the key of every ``tr("…")`` call (widgets, the site, a notebook's own widget);
* **exercise feedback** — every message of the exercise bank (``exercises/chNN.py``) and its checkers: the string
  literals and f-strings of two or more words, docstrings excepted.

From the shell (for a maintainer who added a label or a hint)::

    python -m aigc_course.delivery.code_strings missing [--lang zh]    # strings without a catalogue entry
    python -m aigc_course.delivery.code_strings misses FILE            # what a run recorded as untranslated

Reading the code finds the strings written in it; a string built at run time (a label from a list, a model's
name in a title) is only seen when shown. ``make test`` runs the Chinese edition with
``AIGC_COURSE_I18N_MISSES=FILE`` (every shown string without a catalogue entry is recorded there) and then
``misses FILE``, which fails when the run showed any English label or message.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from ..core import i18n, paths

PLOT_CALLS: frozenset[str] = frozenset({
    "set_title", "set_xlabel", "set_ylabel", "suptitle", "supxlabel", "supylabel", "title", "xlabel", "ylabel",
    "text", "annotate", "set_text", "figtext",
})
"""Calls whose first positional arguments are drawn text."""
LABEL_KEYWORDS: frozenset[str] = frozenset({"label", "title", "xlabel", "ylabel", "titles", "labels"})
"""Keywords whose value (a string, or a list or tuple of them) is drawn text."""
PLOT_MODULES: tuple[str, ...] = ("viz", "widgets")
"""Package folders whose figure text is the package's own (the rest draws nothing)."""

_WORDS = re.compile(r"[A-Za-z]{2,}")


def template(node: ast.AST) -> str | None:
    """A string literal as it is; an f-string with each field as a ``{}`` hole; anything else ``None``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def _parse(source: str) -> ast.AST | None:
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]  # IPython magics
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def figure_text(source: str) -> list[str]:
    """The figure text of a piece of Python source (templates with ``{}`` holes), without repeats."""
    tree = _parse(source)
    found: list[str] = []
    for node in ast.walk(tree) if tree is not None else ():
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if name in PLOT_CALLS:
            found += [t for a in node.args[:3] if (t := template(a)) is not None]
        for kw in node.keywords:
            if kw.arg in LABEL_KEYWORDS:
                if (t := template(kw.value)) is not None:
                    found.append(t)
                elif isinstance(kw.value, (ast.List, ast.Tuple)):
                    found += [t for e in kw.value.elts if (t := template(e)) is not None]
    return list(dict.fromkeys(t for t in found if _WORDS.search(t)))


def tr_keys(source: str) -> list[str]:
    """The keys of the ``tr("…")`` / ``i18n.tr("…")`` / ``ac.tr("…")`` calls of a piece of source (labels a module or
    a notebook puts on widgets and pages), without repeats."""
    tree = _parse(source)
    found = []
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
            if name == "tr" and (t := template(node.args[0])) is not None:
                found.append(t)
    return list(dict.fromkeys(found))


def messages(source: str) -> list[str]:
    """The messages of an exercise-bank module: string literals and f-string templates of two or more words (a
    space between them), not docstrings, not the pieces of an f-string."""
    tree = _parse(source)
    if tree is None:
        return []
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and body \
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            skip.add(id(body[0].value))
        if isinstance(node, ast.JoinedStr):
            skip.update(id(v) for v in node.values)
    found = [t for node in ast.walk(tree) if id(node) not in skip and (t := template(node)) is not None
             and len(_WORDS.findall(t)) >= 2 and " " in t.strip()]
    return list(dict.fromkeys(found))


def _notebook_code(path: Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return "\n\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                       for c in nb["cells"] if c["cell_type"] == "code")


def package_dir() -> Path:
    return Path(__file__).resolve().parents[1]


def sources() -> dict[str, list[str]]:
    """``{where: strings}`` for every notebook (figure text), plotting module (figure text) and exercise-bank
    module (messages) — ``where`` relative to the checkout."""
    out: dict[str, list[str]] = {}
    for path in sorted(paths.notebooks_dir().glob("[0-9][0-9]_*.ipynb")):
        code = _notebook_code(path)
        out[f"notebooks/{path.name}"] = list(dict.fromkeys(figure_text(code) + tr_keys(code)))
    pkg = package_dir()
    for folder in PLOT_MODULES:
        for path in sorted((pkg / folder).rglob("*.py")):
            out[f"aigc_course/{path.relative_to(pkg)}"] = figure_text(path.read_text(encoding="utf-8"))
    for path in sorted(pkg.rglob("*.py")):
        if keys := tr_keys(path.read_text(encoding="utf-8")):
            where = f"aigc_course/{path.relative_to(pkg)}"
            out[where] = list(dict.fromkeys(out.get(where, []) + keys))
    for path in sorted((pkg / "exercises").glob("*.py")):
        if path.name != "__init__.py":
            out[f"aigc_course/exercises/{path.name}"] = messages(path.read_text(encoding="utf-8"))
    return {k: v for k, v in out.items() if v}


def missing(lang: str = "zh", found: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """The strings of :func:`sources` that the ``lang`` catalogue does not translate."""
    found = sources() if found is None else found
    return {where: gaps for where, strings in found.items()
            if (gaps := [s for s in strings if i18n.lookup(s, lang) is None])}


def recorded_misses(path: Path) -> dict[str, list[str]]:
    """``{chapter: texts}`` of a run's record (:data:`aigc_course.core.i18n.MISSES_ENV`); no file means none."""
    out: dict[str, list[str]] = {}
    if not Path(path).is_file():
        return out
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            texts = out.setdefault(str(row.get("chapter")), [])
            if row["text"] not in texts:
                texts.append(row["text"])
    return out


def _report(groups: dict[str, list[str]], what: str, hint: str) -> int:
    """Print each group's strings and the total; the exit status is 1 when there is any."""
    for where, strings in groups.items():
        print(f"{where}: {len(strings)}")
        for text in strings:
            print(f"  {text!r}")
    total = sum(len(v) for v in groups.values())
    print(f"{total} {what}" + (f" — {hint}" if total else ""))
    return 1 if total else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    lang = args[args.index("--lang") + 1] if "--lang" in args else "zh"
    if args[:1] == ["misses"] and len(args) >= 2:
        return _report(recorded_misses(Path(args[1])), "strings shown untranslated",
                       "add them to aigc_course/core/locale/<lang>/*.json (data that stays English maps to itself)")
    if args[:1] == ["missing"]:
        return _report(missing(lang), f"strings without a {lang} translation",
                       f"add them to aigc_course/core/locale/{lang}/*.json")
    print(__doc__)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
