"""reveal.js and MathJax for offline slides and the course site, from the npm registry.

The versions are pinned in ``aigc_course/web/package.json`` and ``package-lock.json``. ``npm ci``
installs them once into a cache folder (``AIGC_COURSE_WEB``, else ``~/.cache/aigc-course/web``);
every deck or site then gets its own copy under ``_static/``, so the output folder works from a USB
stick, without internet and without a CDN.

``python -m aigc_course.delivery.web`` (what ``make web`` runs) installs them and prints the folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import platformdirs

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "web"
"""The committed ``package.json`` / ``package-lock.json``."""

REVEAL_THEME = "white"
STATIC = "_static"
"""Folder (relative to a deck or page) that holds the copied assets."""
REVEAL_PREFIX = f"{STATIC}/reveal.js"
MATHJAX_URL = f"{STATIC}/mathjax/tex-chtml-full.js"


class WebAssetsError(RuntimeError):
    """The npm assets are missing and cannot be installed here."""


def cache_dir() -> Path:
    """Where ``npm ci`` installs the pinned packages (not created here)."""
    value = os.environ.get("AIGC_COURSE_WEB", "").strip()
    return Path(value).expanduser() if value else Path(platformdirs.user_cache_dir("aigc-course")) / "web"


def pinned_versions() -> dict[str, str]:
    """``{"reveal.js": "5.2.1", "mathjax": "3.2.2"}`` from the committed package.json."""
    return json.loads((PACKAGE_DIR / "package.json").read_text(encoding="utf-8"))["dependencies"]


def _lock_id() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((PACKAGE_DIR / name).read_bytes())
    return digest.hexdigest()[:16]


def _installed(modules: Path) -> bool:
    for name, version in pinned_versions().items():
        meta = modules / name / "package.json"
        if not meta.is_file() or json.loads(meta.read_text(encoding="utf-8")).get("version") != version:
            return False
    return (modules / "reveal.js" / "dist" / "reveal.js").is_file() and \
        (modules / "mathjax" / "es5" / "tex-chtml-full.js").is_file()


def ensure_assets(quiet: bool = False) -> Path:
    """The ``node_modules`` folder with the pinned reveal.js and MathJax, installed if needed."""
    root = cache_dir()
    modules = root / "node_modules"
    stamp = root / ".aigc-course-lock"
    if _installed(modules) and stamp.is_file() and stamp.read_text().strip() == _lock_id():
        return modules
    npm = shutil.which("npm")
    if npm is None:
        raise WebAssetsError(
            "slides and the course site need reveal.js and MathJax from npm, and npm is not installed: "
            "install Node.js (Debian/Ubuntu: apt-get install -y npm), then run `make web` "
            f"(or python -m aigc_course.delivery.web); they go to {root}"
        )
    root.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(PACKAGE_DIR / name, root / name)
    if not quiet:
        print(f"installing {', '.join(f'{k}@{v}' for k, v in pinned_versions().items())} into {root} (npm ci)")
    result = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=root,
                            capture_output=True, text=True)
    if result.returncode != 0 or not _installed(modules):
        raise WebAssetsError(f"npm ci failed in {root}:\n{result.stdout}\n{result.stderr}".strip())
    stamp.write_text(_lock_id() + "\n")
    return modules


def _copy_tree(src: Path, dst: Path, ignore: tuple[str, ...] = ()) -> None:
    shutil.copytree(src, dst, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*ignore) if ignore else None)


def _fresh(dest: Path) -> bool:
    stamp = dest / ".aigc-course-lock"
    return stamp.is_file() and stamp.read_text().strip() == _lock_id()


def copy_reveal(static: Path, theme: str = REVEAL_THEME) -> Path:
    """Copy reveal.js (core, one theme and its fonts, the notes plugin) to ``static/reveal.js``."""
    src = ensure_assets(quiet=True) / "reveal.js"
    dest = static / "reveal.js"
    if _fresh(dest) and (dest / "dist" / "theme" / f"{theme}.css").is_file():
        return dest
    (dest / "dist" / "theme").mkdir(parents=True, exist_ok=True)
    for name in ("reveal.js", "reveal.css", "reset.css"):
        shutil.copyfile(src / "dist" / name, dest / "dist" / name)
    shutil.copyfile(src / "dist" / "theme" / f"{theme}.css", dest / "dist" / "theme" / f"{theme}.css")
    _copy_tree(src / "dist" / "theme" / "fonts", dest / "dist" / "theme" / "fonts")
    _copy_tree(src / "plugin" / "notes", dest / "plugin" / "notes", ignore=("*.esm.js", "*.map"))
    shutil.copyfile(src / "LICENSE", dest / "LICENSE")
    (dest / ".aigc-course-lock").write_text(_lock_id() + "\n")
    return dest


def copy_mathjax(static: Path) -> Path:
    """Copy MathJax 3 (the ``tex-chtml-full`` component, its fonts and lazy-loaded parts) to ``static/mathjax``."""
    src = ensure_assets(quiet=True) / "mathjax" / "es5"
    dest = static / "mathjax"
    if _fresh(dest):
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / "tex-chtml-full.js", dest / "tex-chtml-full.js")
    _copy_tree(src / "output" / "chtml", dest / "output" / "chtml")
    for sub in ("a11y", "ui", "sre", "adaptors"):
        if (src / sub).is_dir():
            _copy_tree(src / sub, dest / sub)
    shutil.copyfile(src.parent / "LICENSE", dest / "LICENSE")
    (dest / ".aigc-course-lock").write_text(_lock_id() + "\n")
    return dest


def mathjax_head(url: str = MATHJAX_URL) -> str:
    """``<script>`` tags that configure and load a local MathJax 3 (``$…$``, ``$$…$$``, ``\\(…\\)``, ``\\[…\\]``)."""
    return f"""<script>
window.MathJax = {{
  tex: {{
    inlineMath: [['$', '$'], ['\\\\(', '\\\\)']],
    displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']],
    processEscapes: true,
    processEnvironments: true,
    tags: 'ams'
  }},
  options: {{ignoreHtmlClass: 'tex2jax_ignore', processHtmlClass: 'tex2jax_process'}},
  chtml: {{displayAlign: 'center'}}
}};
</script>
<script id="MathJax-script" src="{url}"></script>"""


COLAB_BADGE_URL = "https://colab.research.google.com/assets/colab-badge.svg"
COLAB_BADGE_SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="117" height="20" role="img"
 aria-label="Open in Colab">
<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>
<stop offset="1" stop-opacity=".1"/></linearGradient>
<rect width="117" height="20" rx="3" fill="#555"/><rect x="27" width="90" height="20" rx="3" fill="#f9ab00"/>
<rect x="27" width="4" height="20" fill="#f9ab00"/><rect width="117" height="20" rx="3" fill="url(#s)"/>
<circle cx="10" cy="10" r="5" fill="none" stroke="#f9ab00" stroke-width="3"/>
<circle cx="17" cy="10" r="5" fill="none" stroke="#e8710a" stroke-width="3"/>
<text x="72" y="14" fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11"
 text-anchor="middle">Open in Colab</text></svg>
"""
"""A local stand-in for Colab's badge image, so that an offline page shows it (the link stays)."""


def write_badge(static: Path) -> str:
    """Write the badge under ``static`` and return its file name."""
    static.mkdir(parents=True, exist_ok=True)
    (static / "colab-badge.svg").write_text(COLAB_BADGE_SVG, encoding="utf-8")
    return "colab-badge.svg"


def main() -> int:
    try:
        modules = ensure_assets()
    except WebAssetsError as exc:
        print(f"aigc-course web: {exc}", file=sys.stderr)
        return 1
    versions = ", ".join(f"{k} {v}" for k, v in pinned_versions().items())
    print(f"web assets ready ({versions}): {modules}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
