"""Where the course reads and writes: the checkout, build output, data cache and checkpoints.

=========================  ==============================================================
variable                   meaning (default)
=========================  ==============================================================
``AIGC_COURSE_DATA``       read-only dataset mirrors, ``os.pathsep``-separated (none)
``AIGC_COURSE_CACHE``      writable dataset cache (``data/`` of the checkout, else the
                           platform cache dir)
``AIGC_COURSE_BUILD``      runner output: executed notebooks, metrics, artifacts
                           (``build/`` of the checkout, else ``./build``)
``AIGC_COURSE_CHECKPOINTS`` trained weights (``checkpoints/`` of the checkout, else the
                           platform cache dir)
=========================  ==============================================================
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

_MARKER = 'name = "aigc-course"'


def _is_checkout(folder: Path) -> bool:
    pyproject = folder / "pyproject.toml"
    try:
        return pyproject.is_file() and _MARKER in pyproject.read_text(encoding="utf-8")
    except OSError:
        return False


def project_root() -> Path | None:
    """The aigc-course checkout this package runs from (editable install) or the cwd is in."""
    here = Path(__file__).resolve().parent.parent
    if _is_checkout(here):
        return here
    cwd = Path.cwd().resolve()
    for folder in (cwd, *cwd.parents):
        if _is_checkout(folder):
            return folder
    return None


def _from_env(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


PATH_VARIABLES = ("AIGC_COURSE_DATA", "AIGC_COURSE_CACHE", "AIGC_COURSE_BUILD", "AIGC_COURSE_CHECKPOINTS")


def absolute_env() -> None:
    """Make the course's path variables absolute, resolved against the current folder, in ``os.environ``.

    ``AIGC_COURSE_DATA=../shared/data`` means "beside the folder I am in"; a notebook kernel runs in
    ``notebooks/`` and would read it from there. The runner and the test suite call this before they start
    kernels, so every kernel sees the folder the user meant. ``AIGC_COURSE_DATA`` may list several folders
    (``os.pathsep``)."""
    for name in PATH_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value:
            parts = [str(Path(p).expanduser().resolve()) if p.strip() else p for p in value.split(os.pathsep)]
            os.environ[name] = os.pathsep.join(parts)


def mirror_dirs() -> list[Path]:
    """Read-only dataset mirrors from ``AIGC_COURSE_DATA`` (may be empty)."""
    value = os.environ.get("AIGC_COURSE_DATA", "")
    return [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()]


def cache_dir() -> Path:
    """Writable dataset cache (not created here)."""
    root = project_root()
    return _from_env("AIGC_COURSE_CACHE") or (
        root / "data" if root else Path(platformdirs.user_cache_dir("aigc-course")) / "data"
    )


def build_dir(lang: str = "en") -> Path:
    """Runner and report output folder (not created here); another language's run has its own sub-folder
    (``build/zh``), so the two editions never overwrite each other."""
    root = project_root()
    base = _from_env("AIGC_COURSE_BUILD") or (root / "build" if root else Path.cwd() / "build")
    return base if lang == "en" else base / lang


def checkpoint_dir() -> Path:
    """Folder for trained weights (not created here)."""
    root = project_root()
    return _from_env("AIGC_COURSE_CHECKPOINTS") or (
        root / "checkpoints" if root else Path(platformdirs.user_cache_dir("aigc-course")) / "checkpoints"
    )


def notebooks_dir() -> Path:
    """The ``notebooks/`` folder of the checkout (the runner needs a checkout)."""
    root = project_root()
    if root is None:
        raise FileNotFoundError(
            "no aigc-course checkout found: run this from a clone of the repository "
            "(the runner executes its notebooks/ folder)"
        )
    return root / "notebooks"
