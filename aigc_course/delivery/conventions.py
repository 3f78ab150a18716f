"""The notebook conventions: how a course notebook is laid out, how to build one, how to check one.

Every notebook in ``notebooks/`` has, in this order: a title cell with the "Open in Colab" badge,
learning objectives and prerequisites; the guarded Colab install cell; a ``parameters``-tagged cell
(``PROFILE = None``); the setup cell; the chapter's sections; ``## Summary``, ``## Exercises`` and
further reading; and a last cell that calls ``record``. Cells carry ``slideshow`` metadata, the
kernelspec is ``python3``, and source notebooks are committed with outputs stripped.

:func:`check_notebook` lists every deviation; the test-suite runs it on every notebook. From the shell
(and the pre-commit hooks): ``python -m aigc_course.delivery.conventions strip|check|install-cell [NOTEBOOK ...]``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..core.config import RELEASE, REPO_SLUG

SLIDE_TYPES = ("slide", "subslide", "fragment", "skip", "notes", "-")
REQUIRED_HEADINGS = {
    "learning objectives": r"^#+\s*learning objectives",
    "summary": r"^#+\s*summary",
    "exercises": r"^#+\s*exercises",
}
COLAB_GUARD = '"google.colab" in sys.modules'


STUDENT_DIR = "student"
"""Where the repository keeps the student edition (``aigc-course build --student --out student``)."""
STUDENT_DIRS: dict[str, str] = {"en": STUDENT_DIR, "zh": "student-zh"}
"""The student edition of each language (``aigc-course build --student --lang zh --out student-zh``)."""


def colab_url(stem: str, lang: str = "en") -> str:
    """The Colab link of notebook ``stem``: the **student edition** in ``lang`` at the pinned release
    :data:`RELEASE`."""
    return f"https://colab.research.google.com/github/{REPO_SLUG}/blob/{RELEASE}/{STUDENT_DIRS[lang]}/{stem}.ipynb"


def colab_badge(stem: str) -> str:
    """Markdown for the "Open in Colab" badge of notebook ``stem``."""
    return (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(stem)})"
    )


COLAB_KEEP: tuple[str, ...] = ("torch", "torchvision", "torchaudio", "ipython", "ipykernel", "ipywidgets")
"""Colab's own packages that the install cell pins to the versions already there (a pip constraints file):
torch and friends are large and built for Colab's CUDA; upgrading the kernel packages breaks the runtime."""

COLAB_INSTALL = f'''# @title Colab: install the course ({RELEASE}) — run me first {{ display-mode: "form" }}
# Colab only: install the course package at the pinned release {RELEASE}. Colab's own torch, torchvision,
# torchaudio, IPython, ipykernel and ipywidgets meet its requirements; a pip constraints file pins
# them to the installed versions so pip keeps them. Says when the session must be restarted.
import sys

if {COLAB_GUARD}:
    import importlib
    import importlib.metadata
    import importlib.util
    import re
    import subprocess
    import tempfile

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    def installed() -> dict[str, str]:
        """Installed distributions, normalised name -> version (the first one on sys.path wins)."""
        found: dict[str, str] = {{}}
        for dist in importlib.metadata.distributions():
            found.setdefault(norm(dist.metadata.get("Name") or ""), dist.version)
        return found

    if importlib.util.find_spec("aigc_course") is None:
        print("Installing aigc-course {RELEASE} from GitHub (about a minute) ...")
        before = installed()
        keep = ({", ".join(f'"{name}"' for name in COLAB_KEEP)})
        with tempfile.NamedTemporaryFile("w", suffix="-constraints.txt", delete=False) as pins:
            pins.write("".join(f"{{name}}=={{before[name]}}\\n" for name in keep if name in before))
        pip = subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--constraint", pins.name,
             "aigc-course @ git+https://github.com/{REPO_SLUG}@{RELEASE}"],
            capture_output=True, text=True,
        )
        if pip.returncode != 0:
            print(pip.stdout + pip.stderr)
            raise RuntimeError("pip could not install aigc-course: its message is above")
        importlib.invalidate_caches()
        after = installed()
        changed = {{name: f"{{old}} -> {{after[name]}}" for name, old in before.items() if after.get(name, old) != old}}
        stale = []
        if changed:  # a changed distribution whose modules are already imported needs a fresh process
            owners = importlib.metadata.packages_distributions()  # top-level module -> distributions
            imported = {{module.split(".")[0] for module in list(sys.modules)}}
            stale = sorted({{norm(d) for m in imported for d in owners.get(m, ()) if norm(d) in changed}})
        if stale:
            print("RESTART NEEDED: pip changed " + ", ".join(f"{{d}} {{changed[d]}}" for d in stale)
                  + ", already imported in this session. Use Runtime > Restart session, then run the notebook"
                  " again from the top (this cell will not install again).")
        else:
            print("aigc-course {RELEASE} installed; no restart needed.")'''

COLAB_INSTALL_METADATA: dict[str, Any] = {"cellView": "form", "jupyter": {"source_hidden": True}}
"""Cell metadata that collapses the install cell: Colab shows only its ``@title`` line (a form), JupyterLab hides
its source."""

PARAMETERS = ("PROFILE = None  # smoke, fast or full; None means AIGC_COURSE_PROFILE, else automatic\n"
              "LANG = None  # en or zh, for figures, widgets and feedback; None means AIGC_COURSE_LANG, else en")
"""The ``parameters`` cell. The Chinese edition sets ``LANG = "zh"`` (its only code difference)."""


def setup_source(stem: str) -> str:
    return f'import aigc_course as ac\n\nrun = ac.setup("{stem}", PROFILE, lang=LANG)\nhp = run.hp'


# --------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------
def md(text: str, slide: str = "-", aigc: dict[str, Any] | None = None) -> dict[str, Any]:
    """A markdown cell (``slide`` = ``slideshow.slide_type``); ``aigc`` goes to ``metadata["aigc"]`` (an exercise
    statement: ``{"exercise": {"id": "05.elbo", "kind": "implement", "difficulty": 2}}``)."""
    cell = _cell("markdown", text, slide, ())
    if aigc:
        cell["metadata"]["aigc"] = aigc
    return cell


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
    install = code(COLAB_INSTALL, "skip")
    install["metadata"].update(COLAB_INSTALL_METADATA)
    return [
        md(header, "slide"),
        install,
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
    path.write_text(dumps(nb), encoding="utf-8")
    return path


def dumps(nb: dict[str, Any]) -> str:
    """The notebook as the course stores it: JSON indented by one space, UTF-8 as is, a final newline
    (what Jupyter writes too, except that keys keep their order)."""
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


# Cell metadata that records one execution (papermill, JupyterLab's "record timing", collapsed / scrolled
# output state) and notebook metadata that stores live widget state: stripped with the outputs.
EXECUTION_CELL_METADATA = ("execution", "ExecuteTime", "papermill", "collapsed", "scrolled")
EXECUTION_NOTEBOOK_METADATA = ("widgets", "papermill")


def strip_notebook(nb: dict[str, Any]) -> bool:
    """Remove outputs, execution counts and the execution metadata above, in place, with nbstripout's
    ``strip_output`` (the tool Jupyter projects use for this); returns whether anything changed.
    Tags (``parameters``, ``solution``, ...), slide types and cell ids are kept."""
    import nbformat
    from nbstripout import strip_output

    before = dumps(nb)
    node = nbformat.from_dict(copy.deepcopy(nb))
    extra = [f"cell.metadata.{k}" for k in EXECUTION_CELL_METADATA]
    extra += [f"metadata.{k}" for k in EXECUTION_NOTEBOOK_METADATA]
    strip_output(node, keep_output=False, keep_count=False, keep_id=True, extra_keys=extra)
    stripped = json.loads(json.dumps(node))
    nb.clear()
    nb.update(stripped)
    return dumps(nb) != before


def strip_file(path: str | Path, *, check: bool = False) -> bool:
    """Strip the notebook at ``path`` in place (with ``check``: only report); returns whether it had
    anything to strip. A notebook that is already stripped is not rewritten, byte for byte."""
    path = Path(path)
    nb = json.loads(path.read_text(encoding="utf-8"))
    changed = strip_notebook(nb)
    if changed and not check:
        path.write_text(dumps(nb), encoding="utf-8")
    return changed


def install_cell_index(nb: dict[str, Any]) -> int | None:
    """Index of the guarded Colab install cell (the first code cell with the guard and ``pip``), if any."""
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") == "code" and COLAB_GUARD in _source(cell) and "pip" in _source(cell):
            return i
    return None


BADGE_LINK = re.compile(r"\(https://colab\.research\.google\.com/github/[^)\s]+\.ipynb\)")


def _colab_cells_wanted(nb: dict[str, Any], stem: str) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """(install cell index, the install cell as it should be, the title cell as it should be)."""
    index = install_cell_index(nb)
    if index is None:
        raise ValueError(f"{stem}: no guarded Colab install cell to update")
    install = copy.deepcopy(nb["cells"][index])
    install["source"] = COLAB_INSTALL.splitlines(keepends=True)
    install["metadata"].update(COLAB_INSTALL_METADATA)
    title = copy.deepcopy(nb["cells"][0])
    text = _source(title)
    fixed = BADGE_LINK.sub(f"({colab_url(stem)})", text)
    if fixed != text:
        title["source"] = fixed.splitlines(keepends=True)
    return index, install, title


def update_install_cell(path: str | Path, *, check: bool = False) -> bool:
    """Make the notebook's Colab install cell read :data:`COLAB_INSTALL`, collapsed
    (:data:`COLAB_INSTALL_METADATA`), and its title badge open :func:`colab_url` (with ``check``: only report);
    returns whether anything differed. Every other byte of the file stays as it was (the file must be in the
    course's JSON layout, :func:`dumps`)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    index, install, title = _colab_cells_wanted(nb, path.stem)
    if nb["cells"][index] == install and nb["cells"][0] == title:
        return False
    if check:
        return True
    if dumps(nb) != text:
        raise ValueError(f"{path}: not in the course's JSON layout; rebuild it or strip it first")
    nb["cells"][index], nb["cells"][0] = install, title
    path.write_text(dumps(nb), encoding="utf-8")
    return True


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
    else:
        install = next(c for c in codes[:2] if COLAB_GUARD in _source(c))
        if any(install.get("metadata", {}).get(k) != v for k, v in COLAB_INSTALL_METADATA.items()):
            problems.append("the Colab install cell is not collapsed (metadata cellView: form, source_hidden); run "
                            "`python -m aigc_course.delivery.conventions install-cell`")
    params = [c for c in codes if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(params) != 1:
        problems.append(f"expected one cell tagged 'parameters', found {len(params)}")
    elif not re.search(r"^PROFILE\s*=\s*None", _source(params[0]), re.M):
        problems.append("the parameters cell does not set PROFILE = None")
    elif not re.search(r"^LANG\s*=\s*None", _source(params[0]), re.M):
        problems.append("the parameters cell does not set LANG = None")
    if not any(f'ac.setup("{path.stem}", PROFILE, lang=LANG)' in _source(c) for c in codes):
        problems.append(f'no ac.setup("{path.stem}", PROFILE, lang=LANG) call')
    text = "\n".join(_source(c) for c in cells if c.get("cell_type") == "markdown")
    for name, pattern in REQUIRED_HEADINGS.items():
        if not re.search(pattern, text, re.I | re.M):
            problems.append(f"no '{name}' heading")
    if cells[-1].get("cell_type") != "code" or "record(" not in _source(cells[-1]):
        problems.append("the last cell does not call ac.record(...)")
    return problems


# --------------------------------------------------------------------------------------------
# Command line: python -m aigc_course.delivery.conventions {strip,check,install-cell} [--check] [NOTEBOOK ...]
# --------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """``strip``: remove outputs and execution metadata (``--check``: only list what would change);
    ``check``: list every convention a notebook breaks; ``install-cell``: rewrite each notebook's Colab
    install cell from :data:`COLAB_INSTALL` (collapsed) and point its badge at :func:`colab_url` (after a
    release bump, see docs/releasing.md). Without files: every notebook in ``notebooks/``. The exit
    status is 1 when a notebook breaks a convention or (with ``--check``) would change."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m aigc_course.delivery.conventions", description=main.__doc__)
    parser.add_argument("command", choices=("strip", "check", "install-cell"))
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks (default: notebooks/*.ipynb)")
    parser.add_argument("--check", action="store_true", help="report only; exit 1 if a file would change")
    args = parser.parse_intermixed_args(argv)
    files = list(args.notebooks)
    if not files:
        from ..core.paths import notebooks_dir

        files = sorted(notebooks_dir().glob("*.ipynb"))
    failed = False
    for path in files:
        if args.command == "check":
            for problem in check_notebook(path):
                print(f"{path}: {problem}")
                failed = True
            continue
        action = strip_file if args.command == "strip" else update_install_cell
        if action(path, check=args.check):
            verb = "would change" if args.check else ("stripped" if args.command == "strip" else "updated")
            print(f"{path}: {verb}")
            failed = failed or args.check
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
