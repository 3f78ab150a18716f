"""Chinese glyphs in figures: find a CJK font and add it to matplotlib's fallback list.

Matplotlib draws a character its font lacks as an empty box. :func:`cjk_font` looks for a font with Chinese
glyphs — one matplotlib already knows, else a file the system has (``fc-list :lang=zh``, or the usual folders;
TrueType collections such as Debian's ``fonts-noto-cjk`` ``.ttc`` files are registered by hand, as matplotlib
does not index them) — and appends its family to ``font.family`` *after* the default family, so Latin text looks
as before and only the characters the default font lacks come from the CJK font (matplotlib's per-glyph
fallback). Without one it warns, naming the package to install (``make test`` installs it in CI).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import warnings
from functools import lru_cache

FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
    "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei", "PingFang SC", "Heiti SC",
    "Hiragino Sans GB", "Arial Unicode MS",
)
"""Families with Simplified Chinese glyphs, in order of preference."""
FONT_GLOBS: tuple[str, ...] = (
    "/usr/share/fonts/**/*CJK*", "/usr/share/fonts/**/wqy*", "/usr/local/share/fonts/**/*CJK*",
    os.path.expanduser("~/.local/share/fonts/**/*CJK*"), os.path.expanduser("~/Library/Fonts/*"),
    "/System/Library/Fonts/PingFang.ttc", "/System/Library/Fonts/STHeiti*", "C:/Windows/Fonts/msyh*",
    "C:/Windows/Fonts/simhei*",
)
INSTALL_HINT = ("install a font with Chinese glyphs (Debian/Ubuntu: sudo apt-get install fonts-noto-cjk; macOS and "
                "Windows have one; Colab: !apt-get install -y fonts-noto-cjk), then restart the kernel")


def _known() -> set[str]:
    from matplotlib import font_manager

    return {f.name for f in font_manager.fontManager.ttflist}


def _candidate_files() -> list[str]:
    files: list[str] = []
    if shutil.which("fc-list"):
        try:
            out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=20).stdout
            files += [line.split(":")[0].strip() for line in out.splitlines() if line.strip()]
        except (OSError, subprocess.SubprocessError):
            pass
    for pattern in FONT_GLOBS:
        files += glob.glob(pattern, recursive=True)
    sans = [f for f in files if "Serif" not in f]  # prefer sans-serif faces for figure labels
    return list(dict.fromkeys(sans + files))


def _install_on_colab() -> bool:
    """On Colab (root, a network, Debian packages), install ``fonts-noto-cjk`` once; elsewhere do nothing. Whether
    an install ran and succeeded."""
    import sys

    if "google.colab" not in sys.modules or not shutil.which("apt-get"):
        return False
    print("Chinese figure labels need a CJK font: installing fonts-noto-cjk (Colab, once per session, ~1 min)")
    try:
        done = subprocess.run(["apt-get", "install", "-y", "-qq", "fonts-noto-cjk"], capture_output=True,
                              timeout=600)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _register_first() -> str | None:
    """The first of :data:`FAMILIES` matplotlib knows, registering candidate files one by one until one gives it
    (one file is enough: this runs at import time)."""
    from matplotlib import font_manager

    family = next((f for f in FAMILIES if f in _known()), None)
    for path in _candidate_files() if family is None else []:
        try:
            font_manager.fontManager.addfont(path)
        except (OSError, RuntimeError, ValueError):
            continue
        family = next((f for f in FAMILIES if f in _known()), None)
        if family is not None:
            break
    return family


@lru_cache(maxsize=2)
def cjk_font(warn: bool = True) -> str | None:
    """The family used for Chinese glyphs (appended to matplotlib's ``font.family``), or ``None`` — with a
    warning that says how to install one — when this machine has none. When one is wanted (``warn``) on Colab,
    ``fonts-noto-cjk`` is installed first (the Chinese edition's figures then draw characters there too)."""
    import matplotlib

    family = _register_first()
    if family is None and warn and _install_on_colab():
        family = _register_first()
    if family is None:
        if warn:
            warnings.warn(f"no font with Chinese glyphs found: Chinese text in figures will show as boxes; "
                          f"{INSTALL_HINT}", stacklevel=2)
        return None
    families = list(matplotlib.rcParams["font.family"])
    if family not in families:  # a fallback: matplotlib takes each glyph from the first family that has it
        matplotlib.rcParams["font.family"] = families + [family]
    return family


def prefer_cjk(on: bool) -> None:
    """Put the CJK family first in ``font.family`` (``on``) or last (not ``on``; the English default).

    Per-glyph fallback does not reach text that mixes a formula with prose (``"可训练：$r(d_{in}+d_{out})$ 个参数"``):
    matplotlib's mathtext draws the prose outside ``$…$`` with the *first* family only. While the course speaks
    Chinese, that family is the CJK one (its Latin letters and digits are well formed); in English the default
    family stays first, so English figures look as they always did.
    """
    import matplotlib

    family = cjk_font(warn=on)
    if family is None:
        return
    others = [f for f in matplotlib.rcParams["font.family"] if f != family]
    matplotlib.rcParams["font.family"] = [family, *others] if on else [*others, family]


__all__ = ["FAMILIES", "INSTALL_HINT", "cjk_font", "prefer_cjk"]
