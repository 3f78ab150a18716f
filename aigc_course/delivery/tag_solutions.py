"""Tag each exercise's solution cell ``solution`` in the source notebooks (idempotent).

A course notebook ends with exercises: a code cell with the student's answer (``def my_kl(...)``,
``answer_3 = "kl"``) followed by a checking cell that calls ``ac.exercises.checkers.check_*`` or, for an exercise of
the answer bank, ``ac.check("NN.name", answer)``. For every
checking cell, the solution cells are the code cells just before it (back to the previous markdown
or checking cell) that define a name the checking cell reads. Those get the tag; nothing else in
the notebook changes, and the file keeps its JSON layout (it is rewritten only when a tag was added).

``python -m aigc_course.delivery.tag_solutions [NOTEBOOK ...]`` tags the given notebooks (default:
every ``notebooks/NN_*.ipynb``) and lists each solution cell it found; ``--check`` only reports
(exit status 1 when a tag is missing).
"""

from __future__ import annotations

import argparse
import ast
import builtins
import json
import sys
from pathlib import Path
from typing import Any

TAG = "solution"
CHECK_CALL = "exercises.checkers.check_"
BANK_CHECK_CALL = "ac.check("  # a one-line check against the answer bank (aigc_course.exercises)


def source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def is_check_cell(cell: dict[str, Any]) -> bool:
    return cell.get("cell_type") == "code" and (CHECK_CALL in source(cell) or BANK_CHECK_CALL in source(cell))


def _parse(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except SyntaxError:  # IPython magics and the like: such a cell is never a solution
        return None


def defined_names(tree: ast.Module) -> set[str]:
    """Names a cell binds at top level: functions, classes, assignment targets, imports."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            continue  # an import is scaffolding, not an answer
        else:
            names |= _stored_names(node)
    return names


def _stored_names(node: ast.AST) -> set[str]:
    """Names bound by ``node`` in the enclosing (module) scope, not inside nested functions."""
    found: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Name) and isinstance(current.ctx, ast.Store):
            found.add(current.id)
        for child in ast.iter_child_nodes(current):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda,
                                      ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                stack.append(child)
    return found


def read_names(tree: ast.Module) -> set[str]:
    """Names a cell reads (any scope) that it does not bind itself and that are not builtins."""
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    bound = defined_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            bound |= {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
    return loaded - bound - set(dir(builtins))


def find_solution_cells(cells: list[dict[str, Any]]) -> list[int]:
    """Indices of the solution cells of every checking cell in ``cells`` (sorted, unique)."""
    found: set[int] = set()
    for i, cell in enumerate(cells):
        if not is_check_cell(cell):
            continue
        tree = _parse(source(cell))
        if tree is None:
            continue
        wanted = read_names(tree)
        j = i - 1
        while j >= 0 and wanted:
            prev = cells[j]
            if prev.get("cell_type") != "code" or is_check_cell(prev):
                break
            prev_tree = _parse(source(prev))
            hit = defined_names(prev_tree) & wanted if prev_tree else set()
            if hit:
                found.add(j)
                wanted -= hit
            j -= 1
    return sorted(found)


def _dump(nb: dict[str, Any], layout: tuple[bool, bool, str] = (False, False, "\n")) -> str:
    sort_keys, ensure_ascii, end = layout
    return json.dumps(nb, indent=1, ensure_ascii=ensure_ascii, sort_keys=sort_keys) + end


def layout_of(text: str) -> tuple[bool, bool, str]:
    """``(sort_keys, ensure_ascii, ending)`` that reproduce ``text`` with ``json.dumps(indent=1)``:
    the layout of :func:`aigc_course.delivery.conventions.write_notebook` (file key order), nbformat's (sorted
    keys) and their variants; the conventions' layout when none matches."""
    nb = json.loads(text)
    for layout in ((False, False, "\n"), (True, False, "\n"), (False, True, "\n"), (True, True, "\n"),
                   (False, False, ""), (True, False, "")):
        if _dump(nb, layout) == text:
            return layout
    return (False, False, "\n")


def tag_notebook(path: Path, *, write: bool = True) -> tuple[list[int], list[int]]:
    """Tag the solution cells of ``path``; returns ``(solution cells, cells newly tagged)``.

    The file is rewritten only when a tag was added, in the JSON layout it had (:func:`layout_of`).
    """
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    cells = nb.get("cells", [])
    solutions = find_solution_cells(cells)
    added = []
    for i in solutions:
        tags = cells[i].setdefault("metadata", {}).setdefault("tags", [])
        if TAG not in tags:
            tags.append(TAG)
            added.append(i)
    if added and write:
        path.write_text(_dump(nb, layout_of(text)), encoding="utf-8")
    return solutions, added


def main(argv: list[str] | None = None) -> int:
    from ..core.paths import notebooks_dir

    parser = argparse.ArgumentParser(prog="python -m aigc_course.delivery.tag_solutions", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true", help="report only; exit 1 when a tag is missing")
    parser.add_argument("--show", action="store_true", help="print each solution cell's source")
    args = parser.parse_args(argv)
    books = args.notebooks or sorted(notebooks_dir().glob("[0-9][0-9]_*.ipynb"))
    missing = False
    for path in books:
        solutions, added = tag_notebook(path, write=not args.check)
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        checks = sum(is_check_cell(c) for c in cells)
        verb = "missing" if args.check else "tagged now"
        print(f"{path.name}: {checks} checks, {len(solutions)} solution cells {solutions}"
              + (f", {verb}: {added}" if added else ""))
        missing |= bool(added)
        if args.show:
            for i in solutions:
                print(f"  --- cell {i}\n" + "\n".join("  " + line for line in source(cells[i]).splitlines()))
    return 1 if (args.check and missing) else 0


if __name__ == "__main__":
    sys.exit(main())
