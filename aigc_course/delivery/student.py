"""``aigc-course build --student | --instructor``: hand-out copies of the notebooks.

The student copy replaces every cell tagged ``solution`` (see :mod:`.tag_solutions`) by a stub that
keeps the names its checking cell reads, clearly to be filled in:

- a top-level ``def`` keeps its decorators, signature and docstring; its body becomes
  ``# your code here`` and ``raise NotImplementedError(...)``, which the checkers report as
  "not attempted yet". When the checking cell calls the function itself, outside the checker
  (``got = [my_tickers(t) for t in cases]``), the stub returns ``None`` instead, so that the check
  fails with its own message rather than the cell with a traceback;
- an assignment becomes ``name = None  # your answer here`` (the checkers say "not attempted yet");
- imports stay; every other statement goes.

Every other cell is kept as it is, and the file keeps the source notebooks' JSON layout, so a diff
against ``notebooks/`` shows only the exercises. The instructor copy keeps the solutions (tagged).
"""

from __future__ import annotations

import ast
import copy
import io
import json
import tokenize
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core import paths
from .tag_solutions import TAG, _dump, _stored_names, find_solution_cells, is_check_cell, layout_of, source

TODO = "# your code here"
ANSWER = "# your answer here"


def _lines(text: str, start: int, end: int) -> str:
    """Lines ``start``..``end`` (1-based, inclusive) of ``text``."""
    return "".join(text.splitlines(keepends=True)[start - 1:end])


def _header(text: str, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> str:
    """Decorators and header of ``node`` up to its ``:`` (a signature may span lines; whatever
    follows the colon on its line, a one-line body or a comment, is left out)."""
    start = min([d.lineno for d in node.decorator_list] + [node.lineno])
    depth, seen_name = 0, False
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.start[0] < node.lineno:
            continue
        if tok.type == tokenize.NAME and tok.string == node.name:
            seen_name = True
        elif tok.type == tokenize.OP and seen_name:
            if tok.string in "([{":
                depth += 1
            elif tok.string in ")]}":
                depth -= 1
            elif tok.string == ":" and depth == 0:
                line, col = tok.start
                return _lines(text, start, line - 1) + text.splitlines()[line - 1][: col + 1] + "\n"
    raise ValueError(f"cannot find the end of the header of {node.name}")


def _docstring(text: str, node: ast.AST) -> str:
    body = getattr(node, "body", [])
    first = body[0] if body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return _lines(text, first.lineno, first.end_lineno)
    return ""


def _stub_def(text: str, node: ast.FunctionDef | ast.AsyncFunctionDef, indent: str,
              returning: frozenset[str] = frozenset()) -> str:
    inner = indent + "    "
    if node.name in returning:
        body = f"{inner}{TODO}\n{inner}return None\n"
    else:
        body = f"{inner}{TODO}\n{inner}raise NotImplementedError(\"{node.name}: not written yet\")\n"
    return _header(text, node) + _docstring(text, node) + body


def _stub_class(text: str, node: ast.ClassDef, indent: str) -> str:
    out = _header(text, node) + _docstring(text, node)
    inner = indent + "    "
    methods = [m for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for m in methods:
        out += "\n" + _stub_def(text, m, inner)
    if not methods:
        out += f"{inner}{TODO}\n{inner}pass\n"
    return out


def called_outside_checks(check_source: str) -> frozenset[str]:
    """Names a checking cell calls directly: not inside an ``exercises.check_*(...)`` call, a
    ``lambda`` or a ``def`` (where a raised ``NotImplementedError`` would reach the cell)."""
    try:
        tree = ast.parse(check_source)
    except SyntaxError:
        return frozenset()
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef)):
            return
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and node.func.attr.startswith("check_"):
                return
            if isinstance(node.func, ast.Name):
                found.add(node.func.id)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return frozenset(found)


def stub_source(text: str, returning: frozenset[str] = frozenset()) -> str:
    """The student's version of a solution cell's source (see the module docstring); functions
    named in ``returning`` return ``None`` instead of raising ``NotImplementedError``."""
    tree = ast.parse(text)
    parts: list[str] = []
    assigned: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            parts.append(_lines(text, node.lineno, node.end_lineno))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            parts.append(_stub_def(text, node, "", returning))
        elif isinstance(node, ast.ClassDef):
            parts.append(_stub_class(text, node, ""))
        else:
            names = _stored_names(node)
            ordered = [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in names]
            for name in dict.fromkeys(ordered):
                if name not in assigned:
                    assigned.append(name)
                    parts.append(f"{name} = None  {ANSWER}\n")
    # blank lines as ruff/PEP 8 want them: two around definitions, none between plain lines
    out = ""
    for i, part in enumerate(parts):
        if i:
            is_def = part.lstrip().startswith(("def ", "async def ", "class ", "@"))
            was_def = parts[i - 1].lstrip().startswith(("def ", "async def ", "class ", "@"))
            was_import = parts[i - 1].startswith(("import ", "from "))
            is_import = part.startswith(("import ", "from "))
            if is_def or was_def:
                out += "\n\n"
            elif was_import and not is_import:
                out += "\n"
        out += part
    return out.rstrip("\n")


def _as_source_list(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def student_notebook(nb: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``nb`` with every solution cell stubbed (tags found afresh, so an untagged
    solution is stubbed too); outputs of stubbed cells are cleared."""
    nb = copy.deepcopy(nb)
    cells = nb.get("cells", [])
    wanted = set(find_solution_cells(cells)) | {
        i for i, c in enumerate(cells) if c.get("cell_type") == "code" and TAG in c.get("metadata", {}).get("tags", [])
    }
    for i in sorted(wanted):
        cell = cells[i]
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if TAG not in tags:
            tags.append(TAG)
        after = next((c for c in cells[i + 1:] if is_check_cell(c)), None)
        returning = called_outside_checks(source(after)) if after else frozenset()
        cell["source"] = _as_source_list(stub_source(source(cell), returning))
        cell["outputs"] = []
        cell["execution_count"] = None
    return nb


def instructor_notebook(nb: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``nb`` with the solutions kept and every solution cell tagged."""
    nb = copy.deepcopy(nb)
    cells = nb.get("cells", [])
    for i in find_solution_cells(cells):
        tags = cells[i].setdefault("metadata", {}).setdefault("tags", [])
        if TAG not in tags:
            tags.append(TAG)
    return nb


def build(kind: str, only: Sequence[str] | None = None, *, out: Path | None = None,
          notebooks: Path | None = None, force: bool = False, lang: str = "en") -> list[Path]:
    """Write the ``student`` or ``instructor`` copies of the notebooks in ``only`` (default all)
    into ``out`` (default ``<build>/<kind>``, ``<build>/<kind>-zh`` in Chinese); returns the written paths.
    With ``lang="zh"`` the markdown cells are the Chinese translations (:mod:`.translation`; a cell not yet
    translated, or whose English changed since, stays in English and is counted in a warning).

    Loses nothing: ``out`` may not be the folder of the source notebooks, and an existing notebook in ``out`` that
    differs from its new copy (a student's work, perhaps) is overwritten only with ``force``; both are refused
    before anything is written."""
    from .runner import discover

    if kind not in ("student", "instructor"):
        raise ValueError(f"kind must be 'student' or 'instructor', not {kind!r}")
    from . import translation

    transform = student_notebook if kind == "student" else instructor_notebook
    if lang not in translation.LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose one of {', '.join(translation.LANGUAGES)}")
    out = Path(out) if out else paths.build_dir() / (kind if lang == "en" else f"{kind}-{lang}")
    sources = discover(only or None, Path(notebooks) if notebooks else None)
    if any(out.resolve() == p.parent.resolve() for p in sources):
        raise ValueError(f"--out {out} is the folder of the source notebooks: the {kind} copies would overwrite "
                         "them; choose another folder")
    copies, english = {}, 0
    for path in sources:
        text = path.read_text(encoding="utf-8")
        nb = json.loads(text)
        if lang != "en":
            st = translation.status(nb, path.stem, lang)
            english += len(st.missing) + len(st.stale)
            nb = translation.translated_notebook(nb, path.stem, lang)
        copies[out / path.name] = _dump(transform(nb), layout_of(text))
    if english:
        warnings.warn(f"{english} markdown cells are not translated to {lang} yet (or changed since) and stay in "
                      "English; `python -m aigc_course.delivery.translation status` lists them", stacklevel=2)
    changed = [t for t, text in copies.items() if t.is_file() and t.read_text(encoding="utf-8") != text]
    if changed and not force:
        names = ", ".join(t.name for t in changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
        raise ValueError(f"{out} already holds {names}, different from the new {kind} copy (work in progress?); "
                         "nothing was written: pass --force to overwrite, or choose another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create the output folder {out} ({exc.strerror or exc}): give a writable folder "
                         "to --out") from None
    for target, text in copies.items():
        target.write_text(text, encoding="utf-8")
    return list(copies)
