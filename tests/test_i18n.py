"""The language of what the code shows: figure text, widget labels and exercise feedback (core.i18n), the hook
that translates matplotlib's text, the catalogue's integrity and its coverage of the code's strings."""

from __future__ import annotations

import json
import re
import warnings

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from aigc_course.core import i18n  # noqa: E402
from aigc_course.delivery import code_strings, translation  # noqa: E402
from aigc_course.viz import language as viz_language  # noqa: E402

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def probe_catalogue(monkeypatch, tmp_path):
    """A small zh catalogue of known entries, in place of the real one."""
    folder = tmp_path / "zh"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps({"keep": ["Adam"], "strings": {
        "training step": "训练步数", "step {}": "第 {} 步", "train": "训练", "{} loss": "{}损失",
        "{} of {} characters": "{1} 个字符中的 {0} 个", "a review": "a review", "hello {name}": "你好 {name}",
    }}), encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.catalogue.cache_clear()
    i18n._translate.cache_clear()
    yield
    i18n.catalogue.cache_clear()
    i18n._translate.cache_clear()


def test_the_language_comes_from_the_argument_then_the_variable_then_english(monkeypatch):
    assert i18n.resolve_language() == "en"
    monkeypatch.setenv("AIGC_COURSE_LANG", "zh")
    assert i18n.resolve_language() == "zh" and i18n.language() == "zh"
    assert i18n.resolve_language("en") == "en"
    monkeypatch.setenv("AIGC_COURSE_LANG", "fr")
    with pytest.raises(ValueError, match="AIGC_COURSE_LANG='fr'.*en, zh"):
        i18n.resolve_language()
    with pytest.raises(ValueError, match="lang='de'"):
        i18n.set_language("de")
    monkeypatch.delenv("AIGC_COURSE_LANG")


def test_translate_exact_numbers_reordered_and_word_holes(probe_catalogue):
    t = lambda s: i18n.translate(s, "zh")  # noqa: E731
    assert t("training step") == "训练步数"
    assert t("step 150") == "第 150 步"  # numbers become holes
    assert t("  step 3 ") == "  第 3 步 "
    assert t("train loss") == "训练损失"  # a word hole is translated itself
    assert t("5 of 40 characters") == "40 个字符中的 5 个"  # {1} {0}: holes reordered
    assert t("training step\nstep 2") == "训练步数\n第 2 步"  # line by line
    assert t("a review") == "a review"  # data maps to itself
    assert t("x_t and 0.5") == "x_t and 0.5" and t("unknown words") == "unknown words"
    assert i18n.translate("training step", "en") == "training step"
    assert i18n.lookup("unknown words", "zh") is None and i18n.lookup("a review", "zh") == "a review"


def test_tr_fills_named_fields_in_either_language(probe_catalogue):
    assert i18n.tr("hello {name}", name="Ada") == "hello Ada"
    with i18n.using("zh"):
        assert i18n.tr("hello {name}", name="Ada") == "你好 Ada"
        assert i18n.tr("not in the catalogue {x}", x=1) == "not in the catalogue 1"
    assert i18n.language() == "en"


def test_untranslated_strings_are_recorded_only_when_asked(probe_catalogue, monkeypatch, tmp_path):
    record = tmp_path / "misses.jsonl"
    i18n.translate("never translated", "zh")
    assert not record.exists()
    monkeypatch.setenv(i18n.MISSES_ENV, str(record))
    i18n.translate("never translated", "zh")
    i18n.translate("step 7", "zh")  # found: not recorded
    i18n.translate("a review", "zh")  # data, found: not recorded
    rows = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
    assert [r["text"] for r in rows] == ["never translated"]
    assert code_strings.recorded_misses(record) == {str(rows[0]["chapter"]): ["never translated"]}
    assert code_strings.main(["misses", str(record)]) == 1
    assert code_strings.main(["misses", str(tmp_path / "none.jsonl")]) == 0


def test_untranslated_words_skip_formulas_code_acronyms_and_kept_names(probe_catalogue):
    assert i18n.untranslated_words("FID $p_{data}$ x_t nn.Linear GPT Adam 训练", "zh") == []
    assert i18n.untranslated_words("训练 loss", "zh") == ["loss"]


def test_figure_text_is_translated_while_the_language_is_chinese(probe_catalogue):
    fig, ax = plt.subplots()
    ax.set_title("training step")
    assert ax.get_title() == "training step" and not viz_language.active()
    i18n.set_language("zh")
    assert viz_language.active()
    ax.set_title("training step")
    ax.plot([0, 1], label="train loss")
    ax.set_xlabel("step 40")
    legend = ax.legend()
    assert ax.get_title() == "训练步数" and ax.get_xlabel() == "第 40 步"
    assert [t.get_text() for t in legend.get_texts()] == ["训练损失"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph warns ("Glyph … missing from font")
        fig.canvas.draw()
    i18n.set_language("en")
    ax.set_title("training step")
    assert ax.get_title() == "training step" and not viz_language.active()
    plt.close(fig)


def test_setup_takes_the_language_and_says_it(capsys):
    from aigc_course.core.config import setup

    setup("00_welcome", "smoke", lang="zh")
    assert "language zh" in capsys.readouterr().out and i18n.language() == "zh" and viz_language.active()
    setup("00_welcome", "smoke")
    assert i18n.language() == "en"


def test_the_chinese_catalogue_is_whole_and_keeps_what_must_not_change():
    cat = i18n.catalogue("zh")
    assert not cat.conflicts, cat.conflicts[:5]
    problems = []
    for key, value in cat.strings.items():
        if not value.strip():
            problems.append(f"empty: {key!r}")
            continue
        holes = len(re.findall(r"\{\}", key))
        named = set(re.findall(r"\{([A-Za-z_]\w*)(?:[:!][^}]*)?\}", key))
        if holes:
            used = [int(i) if i else None for i in re.findall(r"\{(\d?)\}", value)]
            if sum(i is None for i in used) > holes or any(i is not None and i >= holes for i in used):
                problems.append(f"holes: {key!r} → {value!r}")
        if named != set(re.findall(r"\{([A-Za-z_]\w*)(?:[:!][^}]*)?\}", value)):
            problems.append(f"fields: {key!r} → {value!r}")
        problems += [f"{p}: {key!r}" for p in translation.check_text(key, value)
                     if not p.startswith("links")]
    assert not problems, "\n".join(problems[:20])


def test_every_string_the_code_shows_has_a_chinese_translation():
    found = code_strings.sources()
    assert sum(len(v) for v in found.values()) > 1200  # figure text of 17 notebooks + 18 bank modules
    gaps = code_strings.missing("zh", found)
    assert not gaps, "run `python -m aigc_course.delivery.code_strings missing`:\n" + json.dumps(gaps, indent=1)[:3000]


def test_code_strings_finds_labels_f_strings_and_messages():
    src = ('ax.set_title(f"step {s}: loss {l:.2f}")\nplt.plot(x, label="train")\nax.set(xlabel="epoch")\n'
           'fig.suptitle("x")\nprint("not a label")\n')
    assert code_strings.figure_text(src) == ["step {}: loss {}", "train", "epoch"]
    assert code_strings.tr_keys('w.Button(description=i18n.tr("Send"))\nac.tr(f"{n} more")\n') == ["{} more", "Send"]
    bank = '"""Doc string here."""\nHINT = "Sum over the last dim."\nx = f"got {a}, not right"\nk = "kl"\n'
    assert code_strings.messages(bank) == ["Sum over the last dim.", "got {}, not right"]


def test_exercise_feedback_and_hints_speak_the_course_language(capsys):
    from aigc_course import exercises
    from aigc_course.exercises import checkers

    with i18n.using("zh"):
        checkers.check_value("probe", 3.0, 3.0)
        exercises.hint("05.kl")
    out = capsys.readouterr().out
    assert "✅ probe: " in out and CJK.search(out.splitlines()[0])
    assert "的提示" in out.splitlines()[1] and CJK.search(out.splitlines()[1].split("：", 1)[1])


def test_widgets_label_their_controls_in_the_course_language():
    pytest.importorskip("ipywidgets")
    from aigc_course.widgets import tts as tts_widgets

    assert i18n.tr("Speak") == "Speak"
    with i18n.using("zh"):
        assert i18n.tr("Speak") == "朗读" and CJK.search(i18n.tr("Type a question and press Enter"))
    assert "Speak" in open(tts_widgets.__file__, encoding="utf-8").read()


def _missing_glyphs(caplog, text: str) -> list[str]:
    fig, ax = plt.subplots()
    ax.text(0.1, 0.5, text)
    caplog.clear()
    with caplog.at_level("WARNING"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.canvas.draw()
    plt.close(fig)
    return [r.getMessage() for r in caplog.records if "glyph" in r.getMessage().lower()] + \
        [str(w.message) for w in caught if "glyph" in str(w.message).lower()]


def test_chinese_prose_around_a_formula_draws_without_missing_glyphs(caplog):
    """Mathtext draws the prose outside ``$…$`` with the first font family only: in Chinese that is the CJK one
    (in English order, the same text loses its Chinese characters)."""
    import matplotlib as mpl

    from aigc_course.viz import fonts

    if fonts.cjk_font(warn=False) is None:
        pytest.skip("no CJK font on this machine (make fonts installs one)")
    mixed = r"可训练：$r\,(d_{in}+d_{out})$ 个参数"
    default_first = mpl.rcParams["font.family"][0]
    assert _missing_glyphs(caplog, mixed)  # English order: the CJK font is only a per-glyph fallback
    with i18n.using("zh"):
        assert mpl.rcParams["font.family"][0] == fonts.cjk_font(warn=False)
        assert _missing_glyphs(caplog, mixed) == []
        assert _missing_glyphs(caplog, "训练损失 ε ↓ ᾱ") == []  # plain text: every glyph from some family
    assert mpl.rcParams["font.family"][0] == default_first
