"""``aigc-course site``: a static, offline-browsable course site from a runner output folder.

From ``<build>/notebooks/*.ipynb`` (executed by ``aigc-course run``) and ``<build>/report.json`` it
writes ``<out>/index.html`` (the chapter map with links, the run's time and figures per chapter,
the course-map figure) and one page per executed chapter, with plots embedded and math typeset by
a local MathJax 3. Everything a page loads lies under ``<out>/_static/``: copy the folder anywhere
and open ``index.html``.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core import config, i18n, paths
from ..core.course import CHAPTER_MAP, ChapterInfo
from . import render, templates, translation, web
from .runner import format_value

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; }
.meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; width: 100%; margin: 1em 0 2em; font-size: 14px; }
th, td { border-bottom: 1px solid #ddd; padding: 6px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; white-space: nowrap; }
.ok { color: #1a7f37; font-weight: 600; }
.failed, .missed { color: #c62828; font-weight: 600; }
.none { color: #999; }
details summary { cursor: pointer; color: #555; }
img.map { max-width: 100%; border: 1px solid #eee; }
code { font-size: 13px; }
"""


def _flat(metrics: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows = []
    for key, value in metrics.items():
        if isinstance(value, Mapping):
            rows += _flat(value, f"{prefix}{key}.")
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


def _figures_cell(entry: Mapping[str, Any]) -> str:
    metrics, targets = entry.get("metrics", {}), entry.get("targets", {})
    missed = set(entry.get("missed", []))
    targeted = []
    for name, condition in targets.items():
        value = metrics.get(name, "—")
        cls = "missed" if name in missed else "ok"
        shown = html.escape(format_value(value))
        targeted.append(f'<code>{html.escape(name)}</code> = <span class="{cls}">{shown}</span>'
                        f" ({i18n.tr('target {condition}', condition=html.escape(str(condition)))})")
    others = [f"<code>{html.escape(k)}</code> = {html.escape(format_value(v))}"
              for k, v in _flat(metrics) if k not in targets]
    parts = ["<br>".join(targeted)] if targeted else []
    if others:
        summary = i18n.tr("{count} more figures", count=len(others))
        parts.append(f"<details><summary>{summary}</summary>{'<br>'.join(others)}</details>")
    return "".join(parts) or '<span class="none">—</span>'


def _executed(build: Path, info: ChapterInfo) -> Path | None:
    found = sorted((build / "notebooks").glob(f"{info.number}_*.ipynb"))
    return found[0] if found else None


def _course_map_png() -> str:
    """The course-map figure of chapter 00 as a base64 PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..core.course import draw_course_map

    fig = draw_course_map(show=False)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _nav(index: str, prev: tuple[str, str] | None, nxt: tuple[str, str] | None) -> str:
    links = [f'<a href="{index}">⌂ {i18n.tr("course index")}</a>']
    if prev:
        links.append(f'<a href="{prev[0]}">← {html.escape(prev[1])}</a>')
    if nxt:
        links.append(f'<a href="{nxt[0]}">{html.escape(nxt[1])} →</a>')
    return "".join(links)


def _image_root(notebook: Path) -> Path:
    """Markdown images are relative to the source notebook, not to the runner's executed copy."""
    try:
        source = paths.notebooks_dir()
    except FileNotFoundError:
        return notebook.parent
    return source if (source / notebook.name).is_file() else notebook.parent


def export_chapter(notebook: Path, target: Path, nav: str = "", lang: str = "en") -> Path:
    """One chapter page in ``lang`` (nbconvert's lab template, images embedded, local MathJax)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", embed_images=True, language_code=lang)
    exporter.raw_template = templates.lab_template()
    resources = {"aigc_nav": nav, "metadata": {"path": str(_image_root(notebook))}}
    body, _ = exporter.from_notebook_node(render.read_for_html(notebook, lang), resources=resources)
    target.write_text(render.localise_html(body, f"{web.STATIC}/colab-badge.svg"), encoding="utf-8")
    return target


def _index_html(report: Mapping[str, Any] | None, pages: dict[str, str], map_png: str | None,
                titles: Mapping[str, str] | None = None, lang: str = "en") -> str:
    """The index page, its words in ``lang`` (the current one of :mod:`~aigc_course.core.i18n` when called)."""
    tr = i18n.tr
    entries = {e["name"][:2]: e for e in (report or {}).get("notebooks", [])}
    rows = []
    for info in CHAPTER_MAP:
        entry = entries.get(info.number)
        title = html.escape((titles or {}).get(info.number, info.title))
        branch = html.escape(i18n.translate(info.branch))
        link = f'<a href="{pages[info.number]}">{title}</a>' if info.number in pages else title
        if entry:
            status = html.escape(entry.get("status", "?"))
            if entry.get("error"):
                status += f'<br><small>{html.escape(entry["error"].splitlines()[0][:200])}</small>'
            cls = "ok" if entry.get("status") == "ok" else "failed"
            missed = ", ".join(entry.get("missed", []))
            rows.append(
                f"<tr><td>{info.number}</td><td>{link}</td><td>{branch}</td>"
                f'<td class="{cls}">{status}</td><td class="num">{entry.get("seconds", 0):.1f}</td>'
                f"<td>{_figures_cell(entry)}</td>"
                f'<td class="{"missed" if missed else "none"}">{html.escape(missed) or "—"}</td></tr>'
            )
        else:
            rows.append(f"<tr><td>{info.number}</td><td>{link}</td><td>{branch}</td>"
                        f'<td class="none">{tr("not run")}</td><td></td><td></td><td></td></tr>')
    if report:
        total = sum(e.get("seconds", 0) for e in report.get("notebooks", []))
        meta = tr("Run report: profile {profile} · device {device} · torch {torch} · started {started} · "
                  "{count} chapters in {seconds} s",
                  profile=f"<b>{html.escape(str(report.get('profile')))}</b>",
                  device=html.escape(str(report.get("device"))), torch=html.escape(str(report.get("torch"))),
                  started=html.escape(str(report.get("started"))), count=len(entries), seconds=f"{total:.0f}")
    else:
        meta = tr("No report.json in the build folder: run {command} first.",
                  command="<code>aigc-course run</code>")
    alt = tr("course map: deep learning and its five branches")
    figure = (f'<h2>{tr("Course map")}</h2><img class="map" alt="{alt}" '
              f'src="data:image/png;base64,{map_png}">' if map_png else "")
    columns = ("chapter", "branch", "status", "seconds", "figures", "missed targets")
    heads = "".join(f"<th>{tr(h)}</th>" for h in columns)
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<title>aigc-course — {tr("AI-generated content from the math up")}</title>
<style>{CSS}</style>
</head>
<body>
<h1>aigc-course</h1>
<p class="meta">{tr("AI-generated content from the math up: neural networks, GANs, VAEs, diffusion, language "
                    "models, sentiment, speech, applications and risks.")}</p>
<p class="meta">{meta}</p>
<h2>{tr("Chapters")}</h2>
<table>
<thead><tr><th>#</th>{heads}</tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
{figure}
</body>
</html>
"""


def build_site(build: Path | None = None, out: Path | None = None, *, course_map: bool = True,
               lang: str | None = None) -> Path:
    """Write the site for ``build`` (default: the checkout's runner folder for ``lang``: ``build/`` or
    ``build/zh/``) into ``out`` (default ``<build>/site``); returns ``index.html``. ``lang`` (default
    ``AIGC_COURSE_LANG``, else English) is the language of the pages: the index's words, the chapter titles, the
    course map's labels and the chapters' markdown (an English run's notebooks are translated)."""
    lang = i18n.resolve_language(lang)
    with i18n.using(lang):
        return _build_site(Path(build) if build else paths.build_dir(lang), out, course_map, lang)


def _build_site(build: Path, out: Path | None, course_map: bool, lang: str) -> Path:
    out = Path(out) if out else build / "site"
    report_path = build / "report.json"
    report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.is_file() else None
    books = {info.number: nb for info in CHAPTER_MAP if (nb := _executed(build, info))}
    if not books and report is None:
        raise FileNotFoundError(f"{build} has no executed notebooks and no report.json: run `aigc-course run` "
                                "first (or pass --build)")
    out.mkdir(parents=True, exist_ok=True)
    static = out / web.STATIC
    web.copy_mathjax(static)
    web.write_badge(static)
    pages = {number: f"{nb.stem}.html" for number, nb in books.items()}
    order = list(books)
    stems = {stem[:2]: stem for stem in config.CHAPTERS}
    names = {info.number: translation.chapter_title(stems[info.number], lang) for info in CHAPTER_MAP}
    titles = {number: f"{number} {name}" for number, name in names.items()}
    for i, number in enumerate(order):
        prev = (pages[order[i - 1]], titles[order[i - 1]]) if i > 0 else None
        nxt = (pages[order[i + 1]], titles[order[i + 1]]) if i + 1 < len(order) else None
        export_chapter(books[number], out / pages[number], _nav("index.html", prev, nxt), lang)
    index = out / "index.html"
    index.write_text(_index_html(report, pages, _course_map_png() if course_map else None, names, lang),
                     encoding="utf-8")
    return index
