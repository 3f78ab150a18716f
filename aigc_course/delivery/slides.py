"""``aigc-course slides``: reveal.js decks of the chapters that work offline.

Each cell's ``metadata.slideshow.slide_type`` decides where it goes (``slide``, ``subslide``,
``fragment``, ``skip``, ``notes``). The deck is rendered from the executed notebook in the build
folder when there is one (so plots and numbers show), else from the stripped source. reveal.js and
MathJax are copied from the pinned npm packages into ``<out>/_static/``: the folder needs no internet.

Before nbconvert sees it, a copy of the notebook is laid out for 1280×720 slides by
:mod:`.slide_layout`: the prose beyond each cell's first sentence goes to speaker notes (``s`` opens
reveal's speaker view), long outputs and long code get sub-slides of their own, long text outputs are
cut. ``layout=False`` exports the cells as they are.

``lang="zh"`` builds the Chinese decks: from the Chinese run's executed notebooks (``aigc-course run --lang zh``),
else from the source with its markdown translated (``<html lang="zh">``, so browsers pick a Chinese font).
"""

from __future__ import annotations

from pathlib import Path

from ..core import i18n, paths
from . import render, slide_layout, templates, web


def export_deck(notebook: Path, out: Path, *, layout: bool = True, lang: str = "en") -> Path:
    """Write ``out/<stem>.slides.html`` (assets in ``out/_static/``) in ``lang``; returns its path."""
    from nbconvert import SlidesExporter

    static = out / web.STATIC
    web.copy_reveal(static)
    web.copy_mathjax(static)
    badge = web.write_badge(static)
    exporter = SlidesExporter(
        template_name="reveal",
        reveal_url_prefix=web.REVEAL_PREFIX,
        reveal_theme=web.REVEAL_THEME,
        reveal_scroll=True,
        reveal_width=str(slide_layout.SLIDE_WIDTH),
        reveal_height=str(slide_layout.SLIDE_HEIGHT),
        language_code=lang,
    )
    exporter.raw_template = templates.reveal_template()
    nb = render.read_for_html(notebook, lang)
    if layout:
        nb = slide_layout.lay_out(nb)
    body, _ = exporter.from_notebook_node(nb)
    target = out / f"{notebook.stem}.slides.html"
    target.write_text(render.localise_html(body, f"{web.STATIC}/{badge}"), encoding="utf-8")
    return target


def build_slides(only: list[str] | None = None, *, out: Path | None = None,
                 build: Path | None = None, lang: str | None = None) -> list[Path]:
    """Decks for the chapters in ``only`` (numbers or stems; default all) into ``out``
    (default ``<build>/slides``) in ``lang`` (default ``AIGC_COURSE_LANG``, else English; the build folder
    defaults to the runner's for that language: ``build/`` or ``build/zh/``); returns their paths."""
    lang = i18n.resolve_language(lang)
    build = Path(build) if build else paths.build_dir(lang)
    out = Path(out) if out else build / "slides"
    out.mkdir(parents=True, exist_ok=True)
    decks = []
    for notebook, executed in render.chapter_sources(only, build):
        deck = export_deck(notebook, out, lang=lang)
        print(f"{deck}  ({'executed' if executed else 'source, no outputs'}: {notebook})")
        decks.append(deck)
    return decks
