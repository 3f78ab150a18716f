"""What slides and the site share: which copy of a chapter to render, and making a notebook offline-safe."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import nbformat

from ..core import paths
from . import web

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = ('<p class="aigc-widget-note"><em>[interactive widget: open the notebook in Jupyter or Colab '
               "to use it]</em></p>")


def chapter_sources(only: list[str] | None, build: Path | None) -> list[tuple[Path, bool]]:
    """``(notebook, executed)`` per chapter in reading order: ``build/notebooks/<stem>.ipynb`` when the
    runner produced it, else the stripped source in ``notebooks/``."""
    from .runner import discover

    build = build if build is not None else paths.build_dir()
    chosen = []
    for source in discover(only or None):
        executed = build / "notebooks" / source.name
        chosen.append((executed, True) if executed.is_file() else (source, False))
    return chosen


def read_for_html(path: Path, lang: str = "en") -> nbformat.NotebookNode:
    """Read a notebook and make it render without a network: no widget state (its manager comes from a
    CDN), widget views replaced by a one-line note. With ``lang`` other than English, an English notebook's
    markdown is translated (an executed edition of that language is taken as it is)."""
    nb = nbformat.read(path, as_version=4)
    if lang != "en":
        from .translation import in_language

        nb = nbformat.reads(json.dumps(in_language(nb, path.stem, lang)), as_version=4)
    return offline_notebook(nb)


def offline_notebook(nb: Any) -> Any:
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data")
            if data and WIDGET_VIEW in data:
                del data[WIDGET_VIEW]
                data["text/html"] = WIDGET_NOTE
                data.pop("text/plain", None)
    return nb


def localise_html(html: str, badge: str) -> str:
    """Point the Colab badge image at the local copy ``badge`` (its link to Colab stays)."""
    return html.replace(web.COLAB_BADGE_URL, badge)
