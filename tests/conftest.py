"""Shared fixtures: the read-only dataset mirror and an isolated set of course folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config):
    """nbval's kernels run in ``notebooks/``: make a relative ``AIGC_COURSE_DATA=../shared/data`` (relative to where
    the tests were started) absolute before any kernel inherits it."""
    from aigc_course.core.paths import absolute_env

    absolute_env()


def _mirror() -> Path | None:
    for candidate in os.environ.get("AIGC_COURSE_DATA", "").split(os.pathsep):
        if candidate and (Path(candidate) / "MNIST").is_dir():
            return Path(candidate)
    beside = REPO.parent / "shared" / "data"
    return beside if (beside / "MNIST").is_dir() else None


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The read-only classroom mirror (``AIGC_COURSE_DATA``, else ``../shared/data``)."""
    found = _mirror()
    if found is None:
        pytest.skip("no dataset mirror: set AIGC_COURSE_DATA=../shared/data")
    return found


@pytest.fixture()
def isolated(tmp_path, monkeypatch) -> Path:
    """Empty cache / build / checkpoint folders and no mirror, for tests that must not touch the real ones."""
    for name, sub in (("AIGC_COURSE_CACHE", "cache"), ("AIGC_COURSE_BUILD", "build"),
                      ("AIGC_COURSE_CHECKPOINTS", "ckpt")):
        monkeypatch.setenv(name, str(tmp_path / sub))
    monkeypatch.delenv("AIGC_COURSE_DATA", raising=False)
    monkeypatch.delenv("AIGC_COURSE_OFFLINE", raising=False)
    return tmp_path


@pytest.fixture()
def with_mirror(mirror, isolated, monkeypatch) -> Path:
    """The mirror as the only data source, with an empty writable cache."""
    monkeypatch.setenv("AIGC_COURSE_DATA", str(mirror))
    return mirror


@pytest.fixture(autouse=True)
def _course_language(monkeypatch):
    """Each test starts in English and records no translation misses: ``make test`` sets
    ``AIGC_COURSE_I18N_MISSES`` for the Chinese notebooks it runs (their kernels read it), not for the tests."""
    from aigc_course.core import i18n

    monkeypatch.delenv(i18n.MISSES_ENV, raising=False)
    monkeypatch.delenv("AIGC_COURSE_LANG", raising=False)
    i18n.set_language(None)
    yield
    i18n.set_language(None)
