"""Chinese text in figures: a CJK font is found and used as a fallback, so characters are drawn, not boxes."""

from __future__ import annotations

import os
import warnings

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from aigc_course.viz import fonts  # noqa: E402


def _draw(text: str) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.set_title(text)
        fig.canvas.draw()
        plt.close(fig)
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_chinese_labels_are_drawn_with_a_cjk_font_and_latin_ones_keep_theirs():
    family = fonts.cjk_font(warn=False)
    if family is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI has no CJK font: `make test` installs fonts-noto-cjk in CI ({fonts.INSTALL_HINT})")
        pytest.skip(f"no CJK font on this machine: {fonts.INSTALL_HINT}")
    assert family in fonts.FAMILIES and matplotlib.rcParams["font.family"][-1] == family
    assert matplotlib.rcParams["font.family"][0] != family, "Latin text must keep the default font"
    assert _draw("唐诗 · 困惑度 perplexity 1.5") == []


def test_without_a_cjk_font_the_warning_says_what_to_install(monkeypatch):
    monkeypatch.setattr(fonts, "_known", lambda: {"DejaVu Sans"})
    monkeypatch.setattr(fonts, "_candidate_files", lambda: [])
    fonts.cjk_font.cache_clear()
    try:
        with pytest.warns(UserWarning, match="fonts-noto-cjk"):
            assert fonts.cjk_font() is None
    finally:
        fonts.cjk_font.cache_clear()
        monkeypatch.undo()
        fonts.cjk_font(warn=False)


def test_on_colab_a_missing_cjk_font_is_installed_then_used(monkeypatch):
    """Colab lacks a CJK font: the Chinese edition installs fonts-noto-cjk (apt-get) and registers it."""
    import subprocess
    import sys
    import types

    calls = []
    installed = {"done": False}
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(fonts.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(fonts, "_known",
                        lambda: {"DejaVu Sans"} | ({"Noto Sans CJK SC"} if installed["done"] else set()))
    monkeypatch.setattr(fonts, "_candidate_files", lambda: [])

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        installed["done"] = True
        return subprocess.CompletedProcess(cmd, 0, b"", b"")

    monkeypatch.setattr(fonts.subprocess, "run", fake_run)
    family_before = list(matplotlib.rcParams["font.family"])
    fonts.cjk_font.cache_clear()
    try:
        assert fonts.cjk_font(warn=True) == "Noto Sans CJK SC"
        assert calls == [["apt-get", "install", "-y", "-qq", "fonts-noto-cjk"]]
    finally:
        matplotlib.rcParams["font.family"] = family_before
        fonts.cjk_font.cache_clear()
        monkeypatch.undo()
        fonts.cjk_font(warn=False)
