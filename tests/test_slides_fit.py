"""Slide layout of the reveal.js decks: speaker notes from the prose, long outputs on sub-slides, and a
fit check in headless Chromium at the deck's 1280×720.

The fit check loads a deck with a probe that waits for MathJax and the images, walks every slide with
reveal's API (``Reveal.getSlides()`` / ``Reveal.slide(h, v)``), and records each slide's content
height and width against the configured slide size, and what its ``<aside class="notes">`` hold.
A slide overflows when its content is more than :data:`OVERFLOW_SLACK` larger than the slide; at most
:data:`MAX_OVERFLOW_FRACTION` of a deck's slides may. Measured when this was written (1280×720):
source 05 and 08 0 %, executed 10, 11, 12, 13 0 % (before the layout, at nbconvert's 960×700:
48 %, 56 %, 70 %, 62 %, 62 %, 58 %).
"""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from test_delivery import _assert_offline, _web_assets, chromium_command

from aigc_course.core.paths import notebooks_dir
from aigc_course.delivery import slide_layout, slides

OVERFLOW_SLACK = 1.05
MAX_OVERFLOW_FRACTION = 0.10

ZEBRA = "moving this paragraph into the speaker notes is the point of the test (marker ZEBRA)"
GIRAFFE = "Another paragraph of prose that a presenter says rather than shows (marker GIRAFFE)"


def _figure_png(width_in: float = 10, height_in: float = 6, dpi: int = 100) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width_in, height_in))
    ax.plot([0, 1, 2, 3], [1, 0, 2, 1])
    ax.set_title("a figure")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _slide(kind: str) -> dict:
    return {"slideshow": {"slide_type": kind}}


def fit_notebook() -> nbformat.NotebookNode:
    """A small executed-looking chapter: a long markdown cell with math, a long text output, a figure,
    long code, a fragment and a table."""
    lead = ("Multiply and divide by $q_\\phi(z\\mid x)$ inside the integral, then use Jensen's inequality. "
            "This second sentence of the lead paragraph goes to the notes with the rest of the paragraph, "
            "which keeps going for a while, e.g. about $\\log\\mathbb{E}[Y] \\ge \\mathbb{E}[\\log Y]$, so that "
            "it is clearly not a short paragraph any more.")
    long_md = "\n\n".join([
        "## 1 · The evidence lower bound",
        lead,
        "$$\\log p(x) \\ge \\mathbb{E}_{q}\\left[\\log \\frac{p(x, z)}{q(z)}\\right] =: \\mathrm{ELBO}(x)$$",
        "The gap is the Kullback–Leibler divergence $\\mathrm{KL}(q\\,\\|\\,p(z\\mid x))$ between the encoder and "
        f"the true posterior, and {ZEBRA}. It goes on a little, as textbook prose does, to make the point.",
        "- the reconstruction term $\\mathbb{E}_q[\\log p(x\\mid z)]$\n- the rate $\\mathrm{KL}(q\\,\\|\\,p(z))$",
        f"{GIRAFFE}: the bound is tight when $q$ is the posterior, and every VAE maximises it over both "
        "networks at once, which is why the encoder improves while the decoder fits the data.",
        "**Numeric check.** In a linear-Gaussian model everything is tractable, so we can compare the Monte "
        "Carlo estimate with the closed form. The table below lists a few values of the bound as the mean of "
        "$q$ moves away from the posterior mean, and the gap grows quadratically.",
        "| mean | ELBO | gap |\n| --- | --- | --- |\n| 0.0 | -1.20 | 0.00 |\n| 0.5 | -1.32 | 0.12 |\n"
        "| 1.0 | -1.70 | 0.50 |",
    ])
    long_text = "".join(f"epoch {i:3d}: loss {1 / (i + 1):.4f}\n" for i in range(60))
    long_source = "\n".join(f"value_{i} = {i} * 2  # line {i} of a long cell" for i in range(40))
    return new_notebook(cells=[
        new_markdown_cell("# 99 — Fit check\n\nA deck built by the test: math, notes, long outputs.",
                          metadata=_slide("slide")),
        new_markdown_cell(long_md, metadata=_slide("slide")),
        new_code_cell("for i in range(60):\n    print(f'epoch {i:3d}: loss {1 / (i + 1):.4f}')", execution_count=1,
                      metadata=_slide("-"), outputs=[new_output("stream", name="stdout", text=long_text)]),
        new_code_cell("plt.plot([0, 1, 2, 3], [1, 0, 2, 1])", execution_count=2, metadata=_slide("-"), outputs=[
            new_output("display_data", data={"image/png": _figure_png(), "text/plain": "<Figure>"})]),
        new_markdown_cell("The figure shows the **bound** $\\mathcal{L}(\\mu)$ against the mean.",
                          metadata=_slide("fragment")),
        new_markdown_cell("## 2 · Long code", metadata=_slide("slide")),
        new_code_cell(long_source, execution_count=3, metadata=_slide("-"), outputs=[]),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


# --------------------------------------------------------------------------------------------
# The layout (no browser)
# --------------------------------------------------------------------------------------------
def test_lead_keeps_the_first_sentence_and_respects_math_and_abbreviations():
    text = ("We use e.g. the value $p = 0.5. $ of a coin, i.e. a fair one. The second sentence "
            "explains more than a slide needs, with many words that the presenter says instead, "
            "and a third sentence follows it here.")
    head, rest = slide_layout.lead(text)
    assert head == "We use e.g. the value $p = 0.5. $ of a coin, i.e. a fair one."
    assert rest.startswith("The second sentence")
    head, rest = slide_layout.lead("**Intuition.** An autoencoder squeezes an image through a code. " + rest)
    assert head == "**Intuition.** An autoencoder squeezes an image through a code."
    assert slide_layout.lead("A short paragraph stays whole. Even with two sentences.")[1] == ""


def test_blocks_of_a_markdown_cell():
    source = ("## Title\n\nProse line one\nline two.\n$$a = b$$\n\n- item\n  continued\n- item 2\n\n"
              "| a | b |\n| - | - |\n\n```python\nx = 1\n\ny = 2\n```\n\n$$\n\\frac{1}{2}\n\n$$")
    kinds = [b.kind for b in slide_layout.split_blocks(source)]
    assert kinds == ["heading", "paragraph", "math", "list", "table", "code", "math"]


def test_lay_out_moves_prose_to_notes_and_gives_long_outputs_sub_slides():
    nb = fit_notebook()
    before = json.dumps(nb, sort_keys=True)
    out = slide_layout.lay_out(nb)
    assert json.dumps(nb, sort_keys=True) == before, "lay_out changed its input"
    kinds = [slide_layout.slide_type(c) for c in out.cells]
    notes = [c for c in out.cells if slide_layout.slide_type(c) == "notes"]
    shown = "\n".join(c.source for c in out.cells if c.cell_type == "markdown" and c not in notes)
    noted = "\n".join(c.source for c in notes)
    assert ZEBRA in noted and GIRAFFE in noted and ZEBRA not in shown and GIRAFFE not in shown
    assert "Jensen's inequality." in shown and "This second sentence" in noted
    assert "\\log p(x) \\ge" in shown and "| mean | ELBO | gap |" in shown and "- the rate" in shown
    assert "**Numeric check.** In a linear-Gaussian model" in shown  # a new idea starts with its first sentence
    # every notes cell follows the visible part it belongs to
    for i, cell in enumerate(out.cells):
        if slide_layout.slide_type(cell) == "notes":
            assert out.cells[i - 1].cell_type == "markdown" and slide_layout.slide_type(out.cells[i - 1]) != "notes"
    # the long text output: its own sub-slide, cut with a note
    stream_cell = next(c for c in out.cells if c.cell_type == "code" and c.get("outputs")
                       and c.outputs[0].output_type == "stream")
    assert slide_layout.slide_type(stream_cell) == "subslide"
    text = stream_cell.outputs[0].text
    assert "epoch   0" in text and "epoch  59" not in text
    assert re.search(r"… \(\d+ more lines in the notebook\)", text)
    # the figure: a sub-slide of its own; the long source: cut into parts that each start a sub-slide
    figure_cell = next(c for c in out.cells if c.cell_type == "code" and "plt.plot" in c.source)
    assert slide_layout.slide_type(figure_cell) == "subslide"
    parts = [c for c in out.cells if c.cell_type == "code" and "value_" in c.source]
    assert len(parts) == 2 and all(slide_layout.slide_type(c) == "subslide" for c in parts)
    assert "\n".join(c.source for c in parts).count("value_") == 40
    assert kinds[0] == "slide" and kinds.count("slide") == 3
    nbformat.validate(out)


# --------------------------------------------------------------------------------------------
# The fit check in headless Chromium
# --------------------------------------------------------------------------------------------
FIT_PROBE = r"""
<script>
(function () {
  function report(result) {
    var s = document.createElement('script');
    s.type = 'application/json'; s.id = 'aigc-fit'; s.textContent = JSON.stringify(result);
    document.body.appendChild(s);
  }
  function run() {
    var ready = (window.MathJax && MathJax.startup && MathJax.startup.promise) || Promise.resolve();
    ready.then(function () {
      var config = Reveal.getConfig(), rows = [];
      Reveal.getSlides().forEach(function (s) {
        var at = Reveal.getIndices(s);
        Reveal.slide(at.h, at.v);
        var visible = s.cloneNode(true);
        visible.querySelectorAll('aside.notes').forEach(function (a) { a.remove(); });
        var notes = Array.from(s.querySelectorAll('aside.notes'));
        rows.push({h: at.h, v: at.v || 0, height: s.scrollHeight, width: s.scrollWidth,
                   text: visible.textContent.replace(/\s+/g, ' ').trim().slice(0, 4000),
                   math: visible.querySelectorAll('mjx-container').length,
                   notes: notes.map(function (a) { return a.textContent.replace(/\s+/g, ' ').trim(); }).join('\n'),
                   notesMath: s.querySelectorAll('aside.notes math').length,
                   images: Array.from(s.querySelectorAll('img')).map(function (i) { return i.naturalWidth; })});
      });
      report({width: config.width, height: config.height, slides: rows,
              plugins: Object.keys(Reveal.getPlugins ? Reveal.getPlugins() : {})});
    }, function (e) { report({failed: String(e)}); });
  }
  if (document.readyState === 'complete') { run(); } else { window.addEventListener('load', run); }
})();
</script>
"""


def measure_deck(deck: Path, profile: Path) -> dict:
    """Every slide's content size and notes, from headless Chromium at 1280×720."""
    probe = deck.with_name(f"_fit_{deck.name}")
    probe.write_text(deck.read_text(encoding="utf-8").replace("</html>", FIT_PROBE + "</html>"), encoding="utf-8")
    try:
        dom = subprocess.run([*chromium_command(profile, "1280,720", 20000), "--dump-dom", probe.as_uri()],
                             capture_output=True, text=True, timeout=240).stdout
    finally:
        probe.unlink()
    found = re.search(r'<script type="application/json" id="aigc-fit">(.*?)</script>', dom, re.S)
    assert found, f"the fit probe did not report for {deck.name}: {dom[-500:]}"
    result = json.loads(found.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
    assert "failed" not in result, result
    return result


def overflowing(result: dict) -> list[dict]:
    return [s for s in result["slides"] if s["height"] > OVERFLOW_SLACK * result["height"]
            or s["width"] > OVERFLOW_SLACK * result["width"]]


def _report(name: str, result: dict) -> str:
    over = overflowing(result)
    return (f"{name}: {len(over)}/{len(result['slides'])} slides overflow "
            + ", ".join(f"{s['h']}/{s['v']} ({s['height']}px: {s['text'][:40]!r})" for s in over))


@pytest.fixture(scope="module")
def fit_deck(tmp_path_factory):
    _web_assets()
    root = tmp_path_factory.mktemp("fit")
    source = root / "99_fit_check.ipynb"
    nbformat.write(fit_notebook(), source)
    deck = slides.export_deck(source, root / "slides")
    return deck, measure_deck(deck, root / "profile")


def test_fit_deck_fits_and_has_notes(fit_deck, tmp_path):
    deck, result = fit_deck
    _assert_offline(deck)
    assert (result["width"], result["height"]) == (slide_layout.SLIDE_WIDTH, slide_layout.SLIDE_HEIGHT)
    assert "notes" in result["plugins"], result["plugins"]  # the notes plugin, from the local reveal.js copy
    assert 'src="_static/reveal.js/plugin/notes/notes.js"' in deck.read_text(encoding="utf-8")
    fraction = len(overflowing(result)) / len(result["slides"])
    assert fraction <= MAX_OVERFLOW_FRACTION, _report(deck.name, result)
    by_marker = {m: [s for s in result["slides"] if m in s["notes"]] for m in ("ZEBRA", "GIRAFFE")}
    assert all(len(found) == 1 for found in by_marker.values()), "a moved paragraph is not in one slide's notes"
    ebo = by_marker["ZEBRA"][0]
    assert "ZEBRA" not in " ".join(s["text"] for s in result["slides"])
    assert "The evidence lower bound".upper() in ebo["text"].upper() and ebo["math"] > 0
    assert ebo["notesMath"] > 0, "the inline math of the notes did not become MathML"
    assert "$" not in ebo["notes"], ebo["notes"]  # no raw TeX left in the speaker notes
    figure = [s for s in result["slides"] if s["images"]]
    assert figure and all(w > 0 for s in figure for w in s["images"])
    assert any("more lines in the notebook" in s["text"] for s in result["slides"])
    # a screenshot of the slide with the equation and the notes
    shot = tmp_path / "elbo.png"
    subprocess.run([*chromium_command(tmp_path / "profile", "1280,720"), f"--screenshot={shot}",
                    f"{deck.as_uri()}#/{ebo['h']}/{ebo['v']}"], capture_output=True, timeout=240)
    assert shot.is_file() and shot.stat().st_size > 5000


def test_a_source_chapter_fits(tmp_path):
    """Chapter 05 from its source (no outputs): prose, derivations and code."""
    _web_assets()
    deck = slides.export_deck(notebooks_dir() / "05_vae.ipynb", tmp_path / "slides")
    result = measure_deck(deck, tmp_path / "profile")
    assert len(overflowing(result)) / len(result["slides"]) <= MAX_OVERFLOW_FRACTION, _report(deck.name, result)
    with_notes = [s for s in result["slides"] if s["notes"]]
    assert len(with_notes) >= 10 and sum(s["notesMath"] for s in with_notes) > 0
    words = sorted(len(s["text"].split()) for s in result["slides"])
    assert words[len(words) // 2] < 120, f"the median slide has {words[len(words) // 2]} words"
