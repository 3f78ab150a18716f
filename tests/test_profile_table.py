"""The profile table: one file per chapter, overrides merged key by key, and the rows as the only source of a
chapter's title, summary, branch and datasets (the README table, the course map and the dataset registry)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from aigc_course.core import config, course
from aigc_course.core.config import ChapterSpec, ConfigError, deep_merge
from aigc_course.core.paths import notebooks_dir
from aigc_course.datasets.registry import DATASETS
from aigc_course.delivery.conventions import colab_url

ROOT = Path(__file__).resolve().parents[1]
PROFILES = ROOT / "aigc_course" / "core" / "profiles"


def test_deep_merge_merges_nested_settings_and_changes_nothing():
    base = {"lr": 1e-3, "sft": {"steps": 100, "lr": 3e-4}, "sizes": (1, 2)}
    override = {"sft": {"steps": 20}, "sizes": (3,)}
    assert deep_merge(base, override) == {"lr": 1e-3, "sft": {"steps": 20, "lr": 3e-4}, "sizes": (3,)}
    assert base == {"lr": 1e-3, "sft": {"steps": 100, "lr": 3e-4}, "sizes": (1, 2)}
    assert deep_merge({"a": {"b": 1}}, {"a": None}) == {"a": None}  # a plain value replaces a mapping
    assert deep_merge({"a": 1}, {"a": {"b": 2}}) == {"a": {"b": 2}}


def test_a_profile_overrides_one_nested_setting():
    spec = ChapterSpec(stem="zz", title="t", base={"dpo": {"beta": 0.1, "steps": 60}},
                       profiles={"smoke": {"dpo": {"steps": 6}}})
    assert spec.hparams("smoke")["dpo"] == {"beta": 0.1, "steps": 6}
    assert spec.hparams("fast")["dpo"] == {"beta": 0.1, "steps": 60}


def test_one_row_file_per_chapter():
    files = sorted(p.stem for p in PROFILES.glob("*.py") if p.stem != "__init__")
    assert files == sorted(["components"] + [f"ch{stem[:2]}" for stem in config.CHAPTERS])
    for stem in config.CHAPTERS:
        text = (PROFILES / f"ch{stem[:2]}.py").read_text(encoding="utf-8")
        assert f'stem="{stem}"' in text and text.count("register(") == 1, stem


@pytest.mark.parametrize(("change", "message"), [({"branch": "poetry"}, "branch 'poetry'"),
                                                 ({"summary": ""}, "one-line summary")])
def test_a_row_without_its_metadata_is_refused(change, message):
    row = {"stem": "zz_probe", "title": "Probe", "branch": "NLP", "summary": "what it teaches"} | change
    with pytest.raises(ConfigError, match=message):
        config.register(ChapterSpec(**row))
    assert "zz_probe" not in config.CHAPTERS


def test_the_course_map_is_read_from_the_rows():
    assert [(c.number, c.title, c.branch) for c in course.CHAPTER_MAP] == [
        (stem[:2], spec.title, spec.branch) for stem, spec in sorted(config.CHAPTERS.items())]


@pytest.mark.parametrize("stem", sorted(config.CHAPTERS))
def test_the_notebook_title_is_the_rows(stem):
    first = "".join(json.loads((notebooks_dir() / f"{stem}.ipynb").read_text(encoding="utf-8"))["cells"][0]["source"])
    assert first.splitlines()[0] == f"# {stem[:2]} — {config.CHAPTERS[stem].title}"


def test_the_readme_chapter_table_is_the_rows():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = [line for line in readme.splitlines() if re.match(r"\| \d\d \| ", line)]
    badge = "https://colab.research.google.com/assets/colab-badge.svg"
    wanted = [f"| {stem[:2]} | {spec.title} — {spec.summary} | [![Open In Colab]({badge})]({colab_url(stem)}) | "
              f"[![在 Colab 中打开]({badge})]({colab_url(stem, 'zh')}) |"
              for stem, spec in sorted(config.CHAPTERS.items())]
    assert table == wanted, ("README's chapter table must be the rows' title — summary (aigc_course/core/profiles), "
                             "with the English and the Chinese student edition's badges")


def test_the_dataset_registry_reads_its_chapters_from_the_rows():
    named = {name for spec in config.CHAPTERS.values() for name in spec.datasets}
    assert named <= set(DATASETS), f"rows name datasets the registry lacks: {named - set(DATASETS)}"
    for name, spec in DATASETS.items():
        assert spec.used_in == tuple(s[:2] for s, row in sorted(config.CHAPTERS.items()) if name in row.datasets)
        assert spec.used_in, f"{name} is in the registry but no chapter row uses it"
