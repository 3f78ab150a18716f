"""Packaging promises: floors in the metadata, exact pins in the lock, README and layout in step."""

from __future__ import annotations

import re
import subprocess

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the dev extra installs tomli
    import tomli as tomllib

from aigc_course.core.config import RELEASE
from aigc_course.core.paths import notebooks_dir, project_root
from aigc_course.delivery.conventions import colab_url

ROOT = project_root()
PINS = {"torch": "2.11.0", "torchvision": "0.26.0", "torchaudio": "2.11.0"}


def _lock() -> dict[str, str]:
    lines = (ROOT / "requirements-lock.txt").read_text().splitlines()
    return dict(line.split("==", 1) for line in lines if "==" in line and not line.startswith("#"))


def test_metadata_uses_floors_not_pins():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in meta["dependencies"]:
        assert "==" not in requirement and "<" not in requirement, requirement
    names = {re.split(r"[<>=!\[ ]", r)[0] for r in meta["dependencies"]}
    assert {"torch", "torchvision", "torchaudio", "ipywidgets", "matplotlib", "papermill", "pooch"} <= names
    assert meta["requires-python"] == ">=3.10"
    assert meta["scripts"]["aigc-course"] == "aigc_course.cli:main"
    assert {"nbval", "jupyterlab"} <= {re.split(r"[<>=]", r)[0] for r in meta["optional-dependencies"]["dev"]}


def test_lock_pins_the_colab_torch_and_everything_else():
    lock = _lock()
    for name, version in PINS.items():
        assert lock[name] == version
    for name in ("jupyterlab", "ipywidgets", "matplotlib", "nbval", "papermill", "pooch", "ruff", "pytest"):
        assert name in lock, f"{name} missing from the lock file"


def test_environment_yml_has_the_same_versions():
    text = (ROOT / "environment.yml").read_text()
    for name, version in PINS.items():
        assert f"{name}=={version}" in text
    assert "-r requirements-lock.txt" in text


def test_readme_has_the_two_commands_and_a_badge_per_notebook():
    readme = (ROOT / "README.md").read_text()
    assert "make course" in readme and "make test" in readme
    for book in notebooks_dir().glob("*.ipynb"):
        assert colab_url(book.stem) in readme, f"README lacks the Colab badge of {book.stem}"


def test_the_release_tag_is_the_package_version():
    """The badges and the Colab install cell point at tag ``RELEASE``: it must name this version, so that cutting
    the release (docs/releasing.md) tags the commit whose notebooks point at it."""
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert RELEASE == f"v{version}", f"config.RELEASE is {RELEASE} but pyproject.toml says {version}"
    assert "/blob/main/" not in colab_url("05_vae") and f"/blob/{RELEASE}/student/05_vae.ipynb" in colab_url("05_vae")
    steps = (ROOT / "docs" / "releasing.md").read_text()
    assert "git tag" in steps and "make student" in steps and "install-cell" in steps


def test_ci_runs_the_readme_test_command_with_an_outside_venv():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci and "VENV=" in ci and "AIGC_COURSE_DATA" in ci


def test_no_dataset_files_are_committed():
    ignore = (ROOT / ".gitignore").read_text().splitlines()
    assert "data/*" in ignore and "!data/README.md" in ignore
    if (ROOT / ".git").exists():
        tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
        files = tracked.stdout.splitlines()
        assert [f for f in files if f.startswith("data/")] == ["data/README.md"]
        data_like = [f for f in files if re.search(r"\.(gz|wav|npz|pt|pth|ckpt|csv|zip)$", f)]
        assert data_like == []


def test_every_third_party_import_of_the_package_is_a_declared_dependency():
    """A module the package imports must be installed by ``pip install aigc-course`` itself (scipy was only there
    through scikit-learn)."""
    import ast
    import sys

    dist = {"sklearn": "scikit-learn", "IPython": "ipython", "PIL": "pillow", "markdown_it": "markdown-it-py"}
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[<>=!;\[ ]", r)[0].lower() for r in meta["dependencies"]}
    missing = {}
    for path in (ROOT / "aigc_course").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module.split(".")[0]]
            else:
                continue
            for name in names:
                if name in sys.stdlib_module_names or name == "aigc_course":
                    continue
                if dist.get(name, name).lower().replace("_", "-") not in declared:
                    missing.setdefault(name, path.relative_to(ROOT).as_posix())
    assert not missing, f"imported but not in pyproject's dependencies: {missing}"
