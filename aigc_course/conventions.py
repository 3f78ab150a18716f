"""The notebook conventions: how a course notebook is laid out, how to build one, how to check one.

Every notebook in ``notebooks/`` has, in this order: a title cell with the "Open in Colab" badge,
learning objectives and prerequisites; the guarded Colab install cell; a ``parameters``-tagged cell
(``PROFILE = None``); the setup cell; the chapter's sections; ``## Summary``, ``## Exercises`` and
further reading; and a last cell that calls ``record``. Cells carry ``slideshow`` metadata, the
kernelspec is ``python3``, and source notebooks are committed with outputs stripped.

:func:`check_notebook` lists every deviation; the test-suite runs it on every notebook.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .config import REPO_SLUG

SLIDE_TYPES = ("slide", "subslide", "fragment", "skip", "notes", "-")
REQUIRED_HEADINGS = {
    "learning objectives": r"^#+\s*learning objectives",
    "summary": r"^#+\s*summary",
    "exercises": r"^#+\s*exercises",
}
COLAB_GUARD = '"google.colab" in sys.modules'


def colab_url(stem: str) -> str:
    return f"https://colab.research.google.com/github/{REPO_SLUG}/blob/main/notebooks/{stem}.ipynb"


def colab_badge(stem: str) -> str:
    """Markdown for the "Open in Colab" badge of notebook ``stem``."""
    return (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(stem)})"
    )


COLAB_INSTALL = f'''# Colab only: install the course package from the repository. Colab's own torch,
# torchvision, torchaudio and ipywidgets already satisfy its requirements and are never reinstalled.
import sys

if {COLAB_GUARD}:
    import importlib.util
    import subprocess

    if importlib.util.find_spec("aigc_course") is None:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "aigc-course @ git+https://github.com/{REPO_SLUG}"],
            check=True,
        )'''

PARAMETERS = "PROFILE = None  # smoke, fast or full; None means AIGC_COURSE_PROFILE, else automatic"


def setup_source(stem: str) -> str:
    return f'import aigc_course as ac\n\nrun = ac.setup("{stem}", PROFILE)\nhp = run.hp'


# --------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------
def md(text: str, slide: str = "-") -> dict[str, Any]:
    """A markdown cell (``slide`` = ``slideshow.slide_type``)."""
    return _cell("markdown", text, slide, ())


def code(text: str, slide: str = "-", tags: Sequence[str] = ()) -> dict[str, Any]:
    """A code cell with stripped outputs."""
    return _cell("code", text, slide, tags)


def _cell(kind: str, text: str, slide: str, tags: Sequence[str]) -> dict[str, Any]:
    if slide not in SLIDE_TYPES:
        raise ValueError(f"slide type {slide!r} is not one of {SLIDE_TYPES}")
    text = text.strip("\n")
    cell: dict[str, Any] = {
        "cell_type": kind,
        "metadata": {"slideshow": {"slide_type": slide}, **({"tags": list(tags)} if tags else {})},
        "source": text.splitlines(keepends=True),
    }
    if kind == "code":
        cell["execution_count"] = None
        cell["outputs"] = []
    return cell


def opening_cells(stem: str, title: str, intro: str, objectives: Sequence[str], prerequisites: str,
                  minutes: dict[str, float]) -> list[dict[str, Any]]:
    """Title, badge, objectives, prerequisites, time; Colab cell; parameters; setup."""
    times = " · ".join(f"`{p}` ≈ {m:g} min" for p, m in minutes.items())
    header = "\n".join([
        f"# {stem[:2]} — {title}",
        "",
        colab_badge(stem),
        "",
        intro.strip(),
        "",
        "## Learning objectives",
        "",
        *[f"- {o}" for o in objectives],
        "",
        f"**Prerequisites:** {prerequisites}",
        "",
        f"**Time** (2-core laptop CPU for smoke/fast, one GPU for full): {times}",
    ])
    return [
        md(header, "slide"),
        code(COLAB_INSTALL, "skip"),
        code(PARAMETERS, "skip", tags=["parameters"]),
        code(setup_source(stem), "-"),
    ]


def write_notebook(path: str | Path, cells: Iterable[dict[str, Any]]) -> Path:
    """Write a stripped notebook (nbformat 4.5, python3 kernelspec) with stable cell ids."""
    cells = list(cells)
    stem = Path(path).stem
    for i, cell in enumerate(cells):
        cell["id"] = f"{stem[:2]}-{i:03d}"
    nb = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
            "colab": {"provenance": []},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = Path(path)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def strip_outputs(nb: dict[str, Any]) -> bool:
    """Remove outputs and execution counts in place; returns whether anything changed."""
    changed = False
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            if cell.get("outputs") or cell.get("execution_count") is not None:
                changed = True
            cell["outputs"] = []
            cell["execution_count"] = None
    return changed


# --------------------------------------------------------------------------------------------
# Checking
# --------------------------------------------------------------------------------------------
def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def check_notebook(path: str | Path) -> list[str]:
    """Every way the notebook at ``path`` breaks the conventions (empty list = conforming)."""
    path = Path(path)
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = nb.get("cells", [])
    problems = []
    if not cells:
        return ["the notebook has no cells"]
    if nb.get("metadata", {}).get("kernelspec", {}).get("name") != "python3":
        problems.append("kernelspec is not python3")
    for i, cell in enumerate(cells):
        if cell.get("cell_type") == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            problems.append(f"cell {i} has outputs or an execution count (strip them)")
        if cell.get("metadata", {}).get("slideshow", {}).get("slide_type") not in SLIDE_TYPES:
            problems.append(f"cell {i} has no slideshow slide_type metadata")
    first = _source(cells[0])
    if cells[0].get("cell_type") != "markdown" or not first.lstrip().startswith("# "):
        problems.append("the first cell is not a markdown title (# ...)")
    if colab_url(path.stem) not in first or "colab-badge.svg" not in first:
        problems.append(f"the title cell lacks the Open in Colab badge for {path.stem}")
    codes = [c for c in cells if c.get("cell_type") == "code"]
    if not any(COLAB_GUARD in _source(c) and "pip" in _source(c) for c in codes[:2]):
        problems.append("no guarded Colab install cell among the first code cells")
    params = [c for c in codes if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(params) != 1:
        problems.append(f"expected one cell tagged 'parameters', found {len(params)}")
    elif not re.search(r"^PROFILE\s*=\s*None", _source(params[0]), re.M):
        problems.append("the parameters cell does not set PROFILE = None")
    if not any(f'ac.setup("{path.stem}"' in _source(c) for c in codes):
        problems.append(f'no ac.setup("{path.stem}", PROFILE) call')
    text = "\n".join(_source(c) for c in cells if c.get("cell_type") == "markdown")
    for name, pattern in REQUIRED_HEADINGS.items():
        if not re.search(pattern, text, re.I | re.M):
            problems.append(f"no '{name}' heading")
    if cells[-1].get("cell_type") != "code" or "record(" not in _source(cells[-1]):
        problems.append("the last cell does not call ac.record(...)")
    return problems
