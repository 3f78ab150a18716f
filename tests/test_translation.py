"""The Chinese edition: translations keyed by cell id and English hash, checked for what they must keep."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aigc_course.core.paths import notebooks_dir
from aigc_course.delivery import student, translation
from aigc_course.delivery.conventions import colab_url

ROOT = Path(__file__).resolve().parents[1]


def _nb(stem: str = "99_probe") -> dict:
    def md(cid, text):
        return {"cell_type": "markdown", "id": cid, "metadata": {}, "source": text.splitlines(keepends=True)}

    return {"cells": [md("t", f"# 99 — Probe\n\n[![Open In Colab](https://colab.research.google.com/assets/"
                           f"colab-badge.svg)]({colab_url(stem)})\n"),
                      md("a", "## The loss\n\nThe loss is $L = -\\log p$ and `loss.backward()` computes it."),
                      {"cell_type": "code", "id": "c", "metadata": {}, "execution_count": None, "outputs": [],
                       "source": ["x = 1  # code is shared\n"]},
                      md("b", "See [the docs](https://example.org/docs).")],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture()
def zh_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(translation, "translations_dir", lambda lang="zh": tmp_path / lang)
    return tmp_path / "zh"


def _translate(nb, stem, texts):
    cells = translation.load(stem)
    by_id = {c["id"]: "".join(c["source"]) for c in translation.markdown_cells(nb)}
    for cid, text in texts.items():
        cells[cid] = {"en_sha256": translation.source_hash(by_id[cid]), "text": text}
    translation.save(stem, cells)


def test_status_tells_translated_missing_stale_and_orphaned(zh_dir):
    nb = _nb()
    assert translation.status(nb, "99_probe").missing == ["t", "a", "b"]
    _translate(nb, "99_probe", {"a": "## 损失\n\n损失是 $L = -\\log p$，`loss.backward()` 计算它。"})
    cells = translation.load("99_probe")
    cells["gone"] = {"en_sha256": "x", "text": "旧"}
    translation.save("99_probe", cells)
    st = translation.status(nb, "99_probe")
    assert (st.translated, st.missing, st.orphans) == (["a"], ["t", "b"], ["gone"])
    nb["cells"][1]["source"] = ["## The loss\n\nThe loss is $L = -\\log p(x)$ now."]  # an English edit
    assert translation.status(nb, "99_probe").stale == ["a"], "an English edit must make the translation stale"


def test_extract_lists_the_cells_to_translate_with_their_english(zh_dir):
    nb = _nb()
    _translate(nb, "99_probe", {"a": "## 损失\n\n损失是 $L = -\\log p$，`loss.backward()` 计算它。"})
    nb["cells"][1]["source"] = ["## The loss\n\nChanged: $L$ and `loss.backward()`."]
    path, n = translation.extract(nb, "99_probe")
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    assert n == 3 and list(cells) == ["t", "a", "b"]
    assert cells["a"]["en"].startswith("## The loss") and cells["a"]["text"] == ""
    assert cells["a"]["previous"].startswith("## 损失"), "a stale translation is kept as a starting point"
    assert cells["b"]["en_sha256"] == translation.source_hash("See [the docs](https://example.org/docs).")


@pytest.mark.parametrize(("zh", "problem"), [
    ("## 损失\n\n损失是 $L = -\\log p$，`loss.backward()` 计算它。", None),
    ("## 损失\n\n损失是 $L = \\log p$，`loss.backward()` 计算它。", "inline math lost or changed"),
    ("## 损失\n\n损失是 $L = -\\log p$，`backward()` 计算它。", "code lost or changed"),
    ("### 损失\n\n损失是 $L = -\\log p$，`loss.backward()` 计算它。", "heading levels"),
])
def test_check_text_guards_formulas_code_and_headings(zh, problem):
    problems = translation.check_text("## The loss\n\nThe loss is $L = -\\log p$ and `loss.backward()` computes it.",
                                      zh)
    assert (problem is None and not problems) or any(problem in p for p in problems), problems


def test_check_text_guards_link_targets_and_display_math():
    en = "Read [the paper](https://arxiv.org/abs/1) first.\n\n$$a = b$$"
    assert translation.check_text(en, "先读[论文](https://arxiv.org/abs/1)。\n\n$$a = b$$") == []
    assert any("links" in p for p in translation.check_text(en, "先读[论文](https://arxiv.org/abs/2)。\n\n$$a = b$$"))
    assert any("display math" in p for p in translation.check_text(en, "先读[论文](https://arxiv.org/abs/1)。"))
    assert translation.check_text("a $x +\n y$ b", "甲 $x + y$ 乙") == []  # re-wrapped formula: the same


def test_check_text_catches_bold_that_no_longer_renders():
    en = "**Numeric check.** The sum is $x$. *Predict first:* which is larger?"
    assert translation.check_text(en, "**数值验证**。和为 $x$。*先预测*：哪个更大？") == []
    problems = translation.check_text(en, "**数值验证。**和为 $x$。*先预测：*哪个更大？")
    assert any(p.startswith("bold: 1 spans in the English, 0 render") for p in problems), problems
    assert any(p.startswith("italic: 1 spans in the English, 0 render") for p in problems), problems


def test_line_breaks_between_chinese_characters_are_joined_outside_code():
    text = "在按时间划分之前，\n  先弄清含义：$x$\n是 `a`\n\n```text\n注释\n继续\n```\nEnglish\nline"
    joined = "在按时间划分之前，先弄清含义：$x$\n是 `a`\n\n```text\n注释\n继续\n```\nEnglish\nline"
    assert translation.join_cjk_lines(text) == joined


def test_the_chinese_notebook_keeps_code_and_opens_the_chinese_student_edition(zh_dir):
    nb = _nb()
    badge = "".join(nb["cells"][0]["source"])
    _translate(nb, "99_probe", {"t": badge.replace("Probe", "探针"),
                                "a": "## 损失\n\n$L = -\\log p$ `loss.backward()`"})
    zh = translation.translated_notebook(nb, "99_probe")
    title, loss, code, docs = ("".join(c["source"]) for c in zh["cells"])
    assert "探针" in title and colab_url("99_probe", "zh") in title and "/student-zh/99_probe.ipynb" in title
    assert loss.startswith("## 损失") and docs == "See [the docs](https://example.org/docs)."  # untranslated: English
    assert zh["cells"][2] == nb["cells"][2] and code == "x = 1  # code is shared\n"
    assert zh["metadata"]["language"] == "zh"
    with pytest.raises(ValueError, match="1 markdown cells not translated"):
        translation.translated_notebook(nb, "99_probe", strict=True)


def test_build_lang_zh_writes_chinese_markdown_and_the_same_code(zh_dir, tmp_path):
    books = tmp_path / "books"
    books.mkdir()
    nb = _nb()
    (books / "99_probe.ipynb").write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    _translate(nb, "99_probe", {"a": "## 损失\n\n$L = -\\log p$ `loss.backward()`"})
    with pytest.warns(UserWarning, match="2 markdown cells are not translated to zh"):
        (zh_path,) = student.build("student", notebooks=books, out=tmp_path / "zh", lang="zh")
    (en_path,) = student.build("student", notebooks=books, out=tmp_path / "en")
    zh, en = (json.loads(p.read_text(encoding="utf-8")) for p in (zh_path, en_path))
    assert [c["source"] for c in zh["cells"] if c["cell_type"] == "code"] == \
        [c["source"] for c in en["cells"] if c["cell_type"] == "code"]
    assert "".join(zh["cells"][1]["source"]).startswith("## 损失")
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        student.build("student", notebooks=books, out=tmp_path / "fr", lang="fr")


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks" / "zh").glob("*.json")), ids=lambda p: p.stem[:2])
def test_every_committed_translation_is_current_and_intact(path):
    """A translation file in the repository: no stale or orphaned entry, formulas / code / links kept. (Cells not
    translated yet are listed by `python -m aigc_course.delivery.translation status`.)"""
    nb = json.loads((notebooks_dir() / f"{path.stem}.ipynb").read_text(encoding="utf-8"))
    problems = [p for p in translation.check(nb, path.stem) if "not translated" not in p]
    assert not problems, problems[:10]


def test_glossary_terms_are_used_and_titles_code_and_quotes_are_not_counted():
    en = ("A **generative adversarial network** has a generator. See *Deep Learning* (2016), `generator=g` and the "
          'answer "attention"; the stop token ends the utterance.')
    good = ("**生成对抗网络**有一个生成器。参见 *Deep Learning*（2016）、`generator=g` 以及答案 \"attention\"；"
            "停止标记结束语句。")
    assert translation.glossary_misses(en, good) == []
    bad = good.replace("生成器", "产生器")
    assert translation.glossary_misses(en, bad) == ["glossary: 'generator' is 生成器 (not used in the translation)"]


@pytest.mark.parametrize("path", sorted(notebooks_dir().glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem[:2])
def test_every_markdown_cell_has_a_current_chinese_translation(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    st = translation.status(nb, path.stem)
    assert st.complete and not st.orphans, (
        f"{path.stem}: {len(st.missing)} missing, {len(st.stale)} stale — run `python -m aigc_course.delivery."
        f"translation extract {path.stem[:2]}` and translate them")


GLYPH_PROBE = r"""
<script>
window.addEventListener("load", () => setTimeout(() => {
  const ctx = document.createElement("canvas").getContext("2d");
  const heading = document.querySelector(".reveal section h1, .reveal section h2, h1") || document.body;
  ctx.font = getComputedStyle(heading).font;
  const out = {text: heading.textContent.slice(0, 40),
               cjk: ["变", "分", "自", "编"].map(c => ctx.measureText(c).width),
               tofu: ctx.measureText("\u{10FFFD}").width};
  const pre = document.createElement("script");
  pre.type = "application/json"; pre.id = "aigc-glyphs"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}, 1500));
</script>
"""


def test_a_chinese_slide_draws_chinese_characters_not_boxes(tmp_path):
    """The Chinese deck of chapter 05 (from the zh build of its source) in headless Chromium: the title's font
    draws 变分自编码器 with glyphs of their own (not the one empty-box width of a missing glyph), and a screenshot
    of the ELBO slide is taken."""
    import re
    import subprocess

    from test_delivery import _assert_offline, _web_assets, chromium_command

    from aigc_course.delivery import slides

    _web_assets()
    nb = json.loads((notebooks_dir() / "05_vae.ipynb").read_text(encoding="utf-8"))
    zh = tmp_path / "05_vae.ipynb"
    zh.write_text(json.dumps(translation.translated_notebook(nb, "05_vae", strict=True), ensure_ascii=False),
                  encoding="utf-8")
    deck = slides.export_deck(zh, tmp_path / "slides")
    _assert_offline(deck)
    assert "证据下界" in deck.read_text(encoding="utf-8")
    flags = chromium_command(tmp_path / "profile", "1280,720")
    probe = deck.with_name("_glyphs.html")
    probe.write_text(deck.read_text(encoding="utf-8").replace("</html>", GLYPH_PROBE + "</html>"), encoding="utf-8")
    dom = subprocess.run([*flags, "--dump-dom", probe.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    found = re.search(r'<script type="application/json" id="aigc-glyphs">(.*?)</script>', dom, re.S)
    assert found, dom[-300:]
    widths = json.loads(found.group(1))
    assert "变分自编码器" in widths["text"], widths
    assert all(w > 0 and abs(w - widths["tofu"]) > 0.5 for w in widths["cjk"]), widths
    shot = tmp_path / "zh.png"
    subprocess.run([*flags, f"--screenshot={shot}", deck.as_uri() + "#/2"], capture_output=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 5000


@pytest.mark.parametrize("path", sorted((ROOT / "student-zh").glob("*.ipynb")), ids=lambda p: p.stem[:2])
def test_the_chinese_edition_has_the_same_code_cells_as_the_english(path):
    zh = json.loads(path.read_text(encoding="utf-8"))
    en = json.loads((ROOT / "student" / path.name).read_text(encoding="utf-8"))
    code = [[c["id"], c["source"]] for c in zh["cells"] if c["cell_type"] == "code"]
    expected = [[c["id"], c["source"]] for c in en["cells"] if c["cell_type"] == "code"]
    differ = [i for i, (a, b) in enumerate(zip(code, expected)) if a != b]
    assert len(code) == len(expected) and len(differ) == 1  # the parameters cell, and in it only the language
    a, b = "".join(code[differ[0]][1]), "".join(expected[differ[0]][1])
    assert b.replace("LANG = None", 'LANG = "zh"') == a and 'LANG = "zh"' in a
    assert [c["id"] for c in zh["cells"]] == [c["id"] for c in en["cells"]]
    assert zh["metadata"]["language"] == "zh"


def _glyph_widths(page: Path, flags: list[str]) -> dict:
    """Load ``page`` with :data:`GLYPH_PROBE` in headless Chromium: its first heading's text and the widths its
    font gives four CJK characters and a character no font has (the empty box)."""
    import re
    import subprocess

    probe = page.with_name(f"_glyphs_{page.name}")
    probe.write_text(page.read_text(encoding="utf-8").replace("</html>", GLYPH_PROBE + "</html>"), encoding="utf-8")
    dom = subprocess.run([*flags, "--dump-dom", probe.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    found = re.search(r'<script type="application/json" id="aigc-glyphs">(.*?)</script>', dom, re.S)
    assert found, dom[-300:]
    return json.loads(found.group(1))


def test_the_chinese_site_and_slides_build_in_chinese_and_draw_chinese_characters(tmp_path, monkeypatch):
    """``build_site(lang="zh")`` over an English build folder: the index's words, the chapter titles and the course
    map are Chinese, the chapter page's markdown is translated (``<html lang="zh">``), and in headless Chromium
    the page's title font draws 变分自编码器 with glyphs, not boxes (a screenshot is taken); ``build_slides(lang=
    "zh")`` with no executed notebook translates the source."""
    import shutil
    import subprocess

    from test_delivery import _assert_offline, _web_assets, chromium_command

    from aigc_course.delivery import site, slides

    _web_assets()
    build = tmp_path / "build"
    (build / "notebooks").mkdir(parents=True)
    shutil.copy(notebooks_dir() / "05_vae.ipynb", build / "notebooks" / "05_vae.ipynb")
    report = {"profile": "smoke", "device": "cpu", "torch": "x", "started": "2026-01-01T00:00:00",
              "notebooks": [{"name": "05_vae", "status": "ok", "seconds": 9.5, "metrics": {"a": 1}, "targets": {},
                             "missed": []}]}
    (build / "report.json").write_text(json.dumps(report), encoding="utf-8")
    index = site.build_site(build, tmp_path / "site", lang="zh")
    home = index.read_text(encoding="utf-8")
    assert '<html lang="zh">' in home and "课程地图" in home and "变分自编码器" in home and "未运行" in home
    assert "运行报告" in home and "Run report" not in home
    page = tmp_path / "site" / "05_vae.html"
    text = page.read_text(encoding="utf-8")
    assert 'lang="zh"' in text and "证据下界" in text and "课程目录" in text
    _assert_offline(page)
    flags = chromium_command(tmp_path / "profile", "1280,900")
    widths = _glyph_widths(page, flags)
    assert "变分自编码器" in widths["text"], widths
    assert all(w > 0 and abs(w - widths["tofu"]) > 0.5 for w in widths["cjk"]), widths
    shot = tmp_path / "site-zh.png"
    subprocess.run([*flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 5000
    (deck,) = slides.build_slides(["05"], out=tmp_path / "slides", build=tmp_path / "empty", lang="zh")
    assert 'lang="zh"' in deck.read_text(encoding="utf-8") and "证据下界" in deck.read_text(encoding="utf-8")


DOC_PAIRS = [("README.md", "README.zh.md", {"docs/instructors.md"},
              {"README.md", "docs/instructors.zh.md"}),
             ("docs/instructors.md", "docs/instructors.zh.md", {"instructors.zh.md"}, {"instructors.md"})]


@pytest.mark.parametrize("en_name, zh_name, only_en, only_zh", DOC_PAIRS, ids=["README", "instructors"])
def test_the_chinese_readme_and_instructor_guide_mirror_the_english(en_name, zh_name, only_en, only_zh):
    """Same headings, formulas, code spans and fenced blocks, tables of the same shape with the same numbers; the
    links differ only by the language switch and the guide's own language."""
    import re

    en, zh = ((ROOT / name).read_text(encoding="utf-8") for name in (en_name, zh_name))
    problems = [p for p in translation.check_text(en, zh) if not p.startswith("links")]
    assert not problems and not translation.glossary_misses(en, zh), problems
    links = [re.findall(r"\]\(([^)\s]+)\)", text) for text in (en, zh)]
    assert set(links[0]) - set(links[1]) == only_en and set(links[1]) - set(links[0]) == only_zh
    fence = re.compile(r"^```.*?^```", re.M | re.S)
    assert fence.findall(en) == fence.findall(zh)
    rows = [[line for line in text.splitlines() if line.startswith("|")] for text in (en, zh)]
    assert [line.count("|") for line in rows[0]] == [line.count("|") for line in rows[1]]
    number = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")
    for a, b in zip(*rows):
        if "colab.research" not in a:  # the chapter rows are checked below
            assert sorted(number.findall(a)) == sorted(number.findall(b)), (a, b)
    assert "中文" in en.splitlines()[1] and "English" in zh.splitlines()[1]


def test_the_chinese_readme_table_opens_the_chinese_edition_under_each_chinese_title():
    readme = (ROOT / "README.zh.md").read_text(encoding="utf-8")
    rows = {line[2:4]: line for line in readme.splitlines() if line[:2] == "| " and line[2:4].isdigit()}
    stems = sorted(p.stem for p in notebooks_dir().glob("[0-9][0-9]_*.ipynb"))
    assert sorted(rows) == [s[:2] for s in stems]
    for stem in stems:
        row = rows[stem[:2]]
        assert row.startswith(f"| {stem[:2]} | {translation.chapter_title(stem)} — "), row[:80]
        zh, en = row.index(colab_url(stem, "zh")), row.index(colab_url(stem))
        assert zh < en  # the Chinese edition first
