"""The package's layout is its architecture: layers, each importing only from the layers before it.

core ← datasets ← models / metrics ← viz ← apps ← widgets ← exercises ← delivery ← cli (and the package's
``__init__``, which re-exports the names notebooks use). Imports inside functions count too: a lazy import is
still a dependency. See docs/architecture.md.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "aigc_course"
LAYERS = {"core": 0, "datasets": 1, "models": 2, "metrics": 2, "viz": 3, "apps": 4, "widgets": 5, "exercises": 6,
          "delivery": 7, "cli": 8, "": 9}
MAX_TOP_LEVEL_MODULES = 8


def module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    is_pkg = parts[-1] == "__init__"
    if is_pkg:
        parts = parts[:-1]
    return ".".join(parts), is_pkg


def layer_of(module: str) -> int:
    parts = module.split(".")
    return LAYERS[parts[1] if len(parts) > 1 else ""]


def imported_modules(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """(line, absolute module) for every aigc_course import in ``path`` (or in ``source`` placed at ``path``),
    relative ones resolved."""
    module, is_pkg = module_name(path)
    package = module if is_pkg else module.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(source if source is not None else path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "aigc_course" or target.startswith("aigc_course."):
                out += [(node.lineno, f"{target}.{a.name}" if target == "aigc_course" else target) for a in node.names]
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("aigc_course")]
    return out


def upward_imports(paths: list[Path], source: str | None = None) -> list[str]:
    problems = []
    for path in paths:
        module, _ = module_name(path)
        for line, target in imported_modules(path, source):
            if target.count(".") >= 1 and layer_of(target) > layer_of(module):
                problems.append(f"{path.relative_to(ROOT)}:{line} imports {target} from a higher layer")
    return problems


def test_every_package_folder_is_a_known_layer():
    folders = {p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders == set(LAYERS) - {"cli", ""}, folders


def test_top_level_holds_only_entry_points():
    modules = sorted(p.name for p in PKG.glob("*.py"))
    assert len(modules) <= MAX_TOP_LEVEL_MODULES, modules
    assert modules == ["__init__.py", "cli.py"], "a new module belongs in one of the layer folders"


def test_every_module_imports_only_from_its_own_layer_or_below():
    problems = upward_imports(sorted(PKG.rglob("*.py")))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("where", "source", "bad"), [
    ("core/x.py", "from ..apps import grounding\n", True),
    ("core/x.py", "def f():\n    from aigc_course.delivery import runner\n", True),  # a lazy import counts
    ("models/x.py", "from ..metrics import text\n", False),  # same layer
    ("apps/x.py", "from ..widgets import tts\n", True),
    ("widgets/x.py", "from ..apps import assistant\n", False),
])
def test_the_rule_tells_upward_from_downward(where, source, bad):
    assert bool(upward_imports([PKG / where], source)) == bad


def notebook_imports(path: Path) -> list[ast.ImportFrom | ast.Import]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        lines = "".join(cell["source"]).splitlines()
        source = "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))
        out += [n for n in ast.walk(ast.parse(source)) if isinstance(n, (ast.Import, ast.ImportFrom))]
    return out


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.stem[:2])
def test_notebooks_follow_the_import_rule(path):
    """``import aigc_course as ac``, then named modules: no one-letter aliases, an alias only to tell two modules
    of the same name apart (``from aigc_course.metrics import audio as audio_metrics``)."""
    problems = []
    for node in notebook_imports(path):
        names = node.names if isinstance(node, ast.Import) else node.names
        if isinstance(node, ast.Import):
            for a in names:
                if a.name.startswith("aigc_course") and (a.name != "aigc_course" or a.asname != "ac"):
                    problems.append(f"line {node.lineno}: import {a.name} as {a.asname}")
            continue
        if not (node.module or "").startswith("aigc_course"):
            continue
        for a in names:
            if a.asname and not a.asname.startswith(a.name + "_"):
                problems.append(f"line {node.lineno}: from {node.module} import {a.name} as {a.asname}")
    assert not problems, problems


def chapter_modules(path: Path) -> tuple[list[str], list[str]]:
    """The package modules a notebook imports by name (``from aigc_course.models import lm`` → ``models.lm``; a
    name that is not a module counts as its module) and the shared models it asks ``ac.components`` for."""
    import importlib
    import re

    modules, shared = set(), set()
    for node in notebook_imports(path):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aigc_course"):
            for a in node.names:
                try:
                    importlib.import_module(f"{node.module}.{a.name}")
                    modules.add(f"{node.module}.{a.name}")
                except ImportError:
                    modules.add(node.module)
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            shared |= set(re.findall(r'ac\.components\.get\("(\w+)"', "".join(cell["source"])))
    return sorted(m.removeprefix("aigc_course.") for m in modules if m != "aigc_course"), sorted(shared)


def test_the_architecture_doc_says_where_each_chapter_lives():
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = {}
    for line in doc.split("## Where each chapter's code lives", 1)[1].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].isdigit():
            table[cells[0]] = ([m for m in cells[1].split(", ") if m], [m for m in cells[2].split(", ") if m])
    books = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(table) == [p.stem[:2] for p in books]
    for path in books:
        assert table[path.stem[:2]] == chapter_modules(path), f"docs/architecture.md row {path.stem[:2]}"
    for layer in LAYERS:
        if layer not in ("", "cli"):
            assert f"`{layer}/`" in doc, f"docs/architecture.md does not describe {layer}/"
