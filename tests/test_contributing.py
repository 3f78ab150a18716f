"""The contributor path: CONTRIBUTING.md, the offline pre-commit hooks and the notebook command line.

The hooks are run here the way pre-commit runs them (the entry, then the file names), with ``python`` meaning
this interpreter; the ``pre-commit`` package itself is not needed.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aigc_course.core.paths import project_root
from aigc_course.delivery import conventions
from aigc_course.delivery.conventions import check_notebook, code, md, opening_cells, write_notebook

ROOT = project_root()


def _config() -> dict:
    return yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))


def _hooks() -> dict[str, dict]:
    return {hook["id"]: hook for repo in _config()["repos"] for hook in repo["hooks"]}


def _run_hook(hook_id: str, files: list[Path], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    argv = shlex.split(_hooks()[hook_id]["entry"])
    assert argv[0] == "python", "hooks run the environment's python, so they work wherever the venv is active"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, *argv[1:], *map(str, files)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def _notebook(folder: Path, stem: str = "42_example") -> Path:
    cells = opening_cells(stem, "Example", "intro", ["one"], "none", {"fast": 1})
    cells += [md("## Summary"), md("## Exercises"), code("import math\n\nprint(math.pi)"),
              code("ac.record({'x': 1})")]
    return write_notebook(folder / f"{stem}.ipynb", cells)


def _with_outputs(path: Path) -> Path:
    nb = json.loads(path.read_text(encoding="utf-8"))
    cell = nb["cells"][-2]
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["3.14159\n"]}]
    cell["execution_count"] = 7
    cell["metadata"]["execution"] = {"iopub.execute_input": "2026-01-01T00:00:00Z"}
    cell["metadata"]["tags"] = ["solution"]
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# .pre-commit-config.yaml
# --------------------------------------------------------------------------------------------
def test_precommit_config_is_local_and_offline():
    config = _config()
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    hooks = _hooks()
    assert set(hooks) == {"ruff", "strip-notebook-outputs", "notebook-conventions", "student-edition",
                          "student-edition-zh", "translations"}
    for hook in hooks.values():
        assert hook["language"] == "system" and hook["name"] and hook["entry"].startswith("python ")
    assert "jupyter" in hooks["ruff"]["types_or"] and "python" in hooks["ruff"]["types_or"]
    assert hooks["strip-notebook-outputs"]["types"] == ["jupyter"]
    order = list(hooks)
    assert order.index("strip-notebook-outputs") < order.index("notebook-conventions")  # strip, then check
    # a changed notebook regenerates the committed student edition (what the Colab badges open), from stripped files
    student = hooks["student-edition"]
    assert order.index("strip-notebook-outputs") < order.index("student-edition")
    assert student["files"].startswith("^notebooks/") and student["pass_filenames"] is False
    assert "build --student --out student" in student["entry"]


def test_ruff_hook_lints_code_and_notebooks(tmp_path):
    clean = tmp_path / "clean.py"
    clean.write_text('"""A clean module."""\n\nVALUE = 1\n')
    assert _run_hook("ruff", [clean]).returncode == 0
    dirty = _notebook(tmp_path)
    nb = json.loads(dirty.read_text(encoding="utf-8"))
    nb["cells"][-2]["source"] = ["import os\n", "\n", "print(1)"]  # an unused import in a notebook cell
    dirty.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    result = _run_hook("ruff", [clean, dirty])
    assert result.returncode == 1 and "F401" in result.stdout and "clean.py" not in result.stdout


def test_strip_hook_strips_outputs_and_leaves_a_stripped_notebook_alone(tmp_path):
    messy = _with_outputs(_notebook(tmp_path))
    tidy = _notebook(tmp_path, "43_tidy")
    tidy_bytes, tidy_mtime = tidy.read_bytes(), tidy.stat().st_mtime_ns
    assert check_notebook(messy) != []
    result = _run_hook("strip-notebook-outputs", [messy, tidy])
    assert result.returncode == 0, result.stderr
    assert "42_example" in result.stdout and "43_tidy" not in result.stdout
    nb = json.loads(messy.read_text(encoding="utf-8"))
    cell = nb["cells"][-2]
    assert cell["outputs"] == [] and cell["execution_count"] is None and "execution" not in cell["metadata"]
    assert cell["metadata"]["tags"] == ["solution"] and "widgets" not in nb["metadata"]
    assert check_notebook(messy) == []
    assert tidy.read_bytes() == tidy_bytes and tidy.stat().st_mtime_ns == tidy_mtime
    stripped = messy.read_bytes()
    assert conventions.main(["strip", str(messy)]) == 0 and messy.read_bytes() == stripped  # idempotent


def test_strip_check_mode_reports_without_writing(tmp_path, capsys):
    messy = _with_outputs(_notebook(tmp_path))
    before = messy.read_bytes()
    assert conventions.main(["strip", "--check", str(messy)]) == 1
    assert "would change" in capsys.readouterr().out and messy.read_bytes() == before
    assert conventions.main(["strip", str(messy)]) == 0
    assert conventions.main(["strip", "--check", str(messy)]) == 0


def test_conventions_hook_names_what_is_wrong(tmp_path):
    good = _notebook(tmp_path)
    bad = _notebook(tmp_path, "44_bad")
    nb = json.loads(bad.read_text(encoding="utf-8"))
    nb["cells"].pop(1)  # no Colab install cell
    bad.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    result = _run_hook("notebook-conventions", [good, bad])
    assert result.returncode == 1
    assert "44_bad.ipynb: no guarded Colab install cell" in result.stdout and "42_example" not in result.stdout
    assert conventions.main(["check", str(good)]) == 0


def test_install_cell_command_only_touches_that_cell(tmp_path):
    path = _notebook(tmp_path)
    nb = json.loads(path.read_text(encoding="utf-8"))
    index = conventions.install_cell_index(nb)
    nb["cells"][index]["source"] = ["import sys\n", 'if "google.colab" in sys.modules:\n', "    pass  # old pip cell"]
    path.write_text(conventions.dumps(nb), encoding="utf-8")
    old = json.loads(path.read_text(encoding="utf-8"))
    assert conventions.main(["install-cell", "--check", str(path)]) == 1
    assert conventions.main(["install-cell", str(path)]) == 0
    new = json.loads(path.read_text(encoding="utf-8"))
    assert "".join(new["cells"][index]["source"]) == conventions.COLAB_INSTALL
    new["cells"][index]["source"] = old["cells"][index]["source"]
    assert new == old  # nothing else changed
    assert conventions.main(["install-cell", "--check", str(path)]) == 0


def test_install_cell_command_refuses_a_foreign_layout(tmp_path):
    path = _notebook(tmp_path)
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb["cells"][1]["source"] = ["# old\n", "import sys\n", 'if "google.colab" in sys.modules:\n', "    pass  # pip"]
    path.write_text(json.dumps(nb, indent=2, sort_keys=True), encoding="utf-8")
    with pytest.raises(ValueError, match="layout"):
        conventions.update_install_cell(path)


# --------------------------------------------------------------------------------------------
# CONTRIBUTING.md
# --------------------------------------------------------------------------------------------
def test_contributing_covers_the_contributor_path():
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    for needle in ("opening_cells", "write_notebook", "register(", "ChapterSpec(", "COMPONENTS", "load_or_train",
                   "targets", "minutes", "tests/test_notebook_conventions.py", "aigc-course run --profile",
                   "--only", "smoke", "fast", "full", "AIGC_COURSE_DATA", "manifest.sha256", "DatasetSpec",
                   "ruff check", "pre-commit install", ".pre-commit-config.yaml",
                   "python -m aigc_course.delivery.conventions",
                   "held-out", "atomic", "type hints", "shape"):
        assert needle.lower() in text.lower(), f"CONTRIBUTING.md does not mention {needle!r}"
    for command in ("strip", "check", "install-cell"):
        assert f"aigc_course.delivery.conventions {command}" in text
