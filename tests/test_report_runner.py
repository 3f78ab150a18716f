"""report.record and the course runner (papermill over a folder of tiny notebooks)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from aigc_course.core import config, report
from aigc_course.delivery import runner
from aigc_course.delivery.conventions import code, md, write_notebook


def test_record_writes_json_with_targets_and_missed(isolated, capsys):
    config.setup("00_welcome", "fast", quiet=True)
    entry = report.record({"mle_abs_err": np.float32(0.5), "heldout_ll_gaussian": torch.tensor(-2.0),
                           "heldout_ll_true_mixture": -1.5, "note": "ok", "flag": np.bool_(True)})
    path = isolated / "build" / "metrics" / "00_welcome.json"
    saved = json.loads(path.read_text())
    assert saved == entry
    assert saved["metrics"]["mle_abs_err"] == 0.5 and saved["metrics"]["flag"] is True
    assert saved["missed"] == ["mle_abs_err"] and saved["profile"] == "fast"
    assert "MISSED" in capsys.readouterr().out


def test_record_rejects_what_json_cannot_hold(isolated):
    config.setup("00_welcome", "smoke", quiet=True)
    with pytest.raises(TypeError, match="scalars"):
        report.record({"x": torch.ones(3)})
    with pytest.raises(TypeError, match="numbers"):
        report.record({"x": object()})


def _books(folder):
    folder.mkdir()
    params = code("PROFILE = None", tags=["parameters"])
    write_notebook(folder / "01_good.ipynb", [
        md("# good"), params,
        code("import aigc_course as ac\nimport os\nac.record({'score': 0.9, 'profile_seen': PROFILE,"
             " 'strict': os.environ['AIGC_COURSE_STRICT_EXERCISES']})"),
    ])
    write_notebook(folder / "02_broken.ipynb", [md("# broken"), params, code("raise ValueError('boom')")])
    write_notebook(folder / "03_silent.ipynb", [md("# silent"), params, code("x = 1")])


def test_runner_keeps_going_and_reports_every_notebook(isolated, tmp_path):
    _books(tmp_path / "nbs")
    out = tmp_path / "out"
    result = runner.run_course(profile="smoke", out=out, notebooks=tmp_path / "nbs", progress=False)
    saved = json.loads((out / "report.json").read_text())
    assert saved == result
    assert {"profile", "device", "torch", "started", "notebooks"} <= set(saved)
    assert saved["profile"] == "smoke" and saved["torch"] == torch.__version__
    by_name = {nb["name"]: nb for nb in saved["notebooks"]}
    assert list(by_name) == ["01_good", "02_broken", "03_silent"]
    for nb in saved["notebooks"]:
        assert {"name", "status", "seconds", "metrics", "targets", "missed"} <= set(nb)
    good, broken, silent = by_name["01_good"], by_name["02_broken"], by_name["03_silent"]
    assert good["status"] == "ok" and good["metrics"] == {"score": 0.9, "profile_seen": "smoke", "strict": "1"}
    assert broken["status"] == "failed" and "ValueError: boom" in broken["error"]
    assert silent["status"] == "failed" and "recorded no figures" in silent["error"]
    for stem in by_name:
        assert (out / "notebooks" / f"{stem}.ipynb").is_file()
        assert (out / "html" / f"{stem}.html").read_text().lstrip().lower().startswith("<!doctype html")
    assert "| 02_broken | failed: ValueError: boom |" in (out / "report.md").read_text()
    assert runner.exit_status(result) == 1


def test_runner_rewrites_the_executed_copy_a_few_times_not_twice_per_cell(isolated, tmp_path, monkeypatch):
    import papermill.engines

    folder = tmp_path / "nbs"
    folder.mkdir()
    write_notebook(folder / "01_many.ipynb", [md("# many cells"), code("PROFILE = None", tags=["parameters"])]
                   + [code(f"print('cell {i}')") for i in range(30)]
                   + [code("import aigc_course as ac\nac.record({'cells': 30})")])
    writes = []
    real = papermill.engines.write_ipynb
    monkeypatch.setattr(papermill.engines, "write_ipynb", lambda nb, path: (writes.append(path), real(nb, path)))
    result = runner.run_course(profile="smoke", out=tmp_path / "out", notebooks=folder, progress=False, jobs=1)
    assert result["notebooks"][0]["status"] == "ok"
    assert 2 <= len(writes) <= 4, f"{len(writes)} rewrites (papermill's own engine: 2 per cell, 70 here)"
    executed = json.loads((tmp_path / "out" / "notebooks" / "01_many.ipynb").read_text())
    printed = ["".join(o.get("text", "")) for c in executed["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert [p for p in printed if p.startswith("cell ")] == [f"cell {i}\n" for i in range(30)]
    assert all(c["metadata"]["papermill"]["status"] == "completed" for c in executed["cells"])


def test_two_runs_sharing_an_output_folder_add_up(isolated, tmp_path):
    _books(tmp_path / "nbs")
    out = tmp_path / "out"
    first = runner.run_course(profile="smoke", only=["01", "02"], out=out, notebooks=tmp_path / "nbs", progress=False)
    second = runner.run_course(profile="smoke", only=["03", "01"], out=out, notebooks=tmp_path / "nbs",
                               progress=False)
    saved = json.loads((out / "report.json").read_text())
    assert [nb["name"] for nb in saved["notebooks"]] == ["01_good", "02_broken", "03_silent"]
    assert saved["notebooks"][1] == first["notebooks"][1]  # kept from the first run
    assert [nb["name"] for nb in second["notebooks"]] == ["01_good", "03_silent"]  # this run's, for the exit code
    assert "| 02_broken | failed" in (out / "report.md").read_text()
    runner.run_course(profile="fast", only=["03"], out=out, notebooks=tmp_path / "nbs", progress=False)
    moved = json.loads((out / "report.smoke.json").read_text())  # another profile: moved aside, not overwritten
    assert [nb["name"] for nb in moved["notebooks"]] == ["01_good", "02_broken", "03_silent"]
    assert [nb["name"] for nb in json.loads((out / "report.json").read_text())["notebooks"]] == ["03_silent"]
    (out / "report.json").write_text("{not json")
    assert runner.earlier_entries(out, "fast") == [] and (out / "report.unreadable.json").is_file()


def test_exit_status_strict_counts_missed_targets():
    ok = {"notebooks": [{"status": "ok", "missed": ["acc"]}]}
    assert runner.exit_status(ok) == 0 and runner.exit_status(ok, strict=True) == 1


def test_discover_filters_by_number_or_stem(tmp_path):
    _books(tmp_path / "nbs")
    pick = runner.discover(["2", "03_silent"], tmp_path / "nbs")
    assert [p.stem for p in pick] == ["02_broken", "03_silent"]
    with pytest.raises(ValueError, match="01_good, 02_broken, 03_silent"):
        runner.discover(["07"], tmp_path / "nbs")


def test_runner_without_data_or_network_reports_the_dataset_message(isolated, tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_COURSE_OFFLINE", "1")
    folder = tmp_path / "nbs"
    folder.mkdir()
    write_notebook(folder / "04_needs_mnist.ipynb", [
        md("# needs data"), code("PROFILE = None", tags=["parameters"]),
        code("import aigc_course as ac\nimages, labels = ac.datasets.load_mnist('train')"),
    ])
    result = runner.run_course(profile="smoke", out=tmp_path / "out", notebooks=folder, progress=False)
    entry = result["notebooks"][0]
    assert entry["status"] == "failed"
    assert entry["error"].startswith("DatasetNotFoundError: Dataset 'mnist'")
    assert "AIGC_COURSE_DATA" in entry["error"] and "train-images-idx3-ubyte.gz" in entry["error"]


def test_relative_course_paths_become_absolute_before_a_kernel_starts(tmp_path, monkeypatch):
    """``AIGC_COURSE_DATA=../shared/data`` is relative to where the user is, not to ``notebooks/`` where a kernel
    runs: the runner and the test suite resolve it first."""
    import os

    from aigc_course.core import paths

    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    monkeypatch.setenv("AIGC_COURSE_DATA", os.pathsep.join(["../mirror", str(tmp_path / "other")]))
    monkeypatch.setenv("AIGC_COURSE_CHECKPOINTS", "ck")
    paths.absolute_env()
    assert os.environ["AIGC_COURSE_DATA"].split(os.pathsep) == [str(tmp_path / "mirror"), str(tmp_path / "other")]
    assert os.environ["AIGC_COURSE_CHECKPOINTS"] == str(tmp_path / "here" / "ck")


def test_run_lang_zh_runs_the_chinese_edition_with_the_same_code(isolated, tmp_path, monkeypatch):
    from aigc_course.delivery import translation

    folder = tmp_path / "nbs"
    folder.mkdir()
    params = code("PROFILE = None", tags=["parameters"])
    write_notebook(folder / "01_lang.ipynb", [
        md("# The language"), params,
        code("import aigc_course as ac\nimport os\nac.record({'lang': os.environ.get('AIGC_COURSE_LANG')})"),
    ])
    nb = json.loads((folder / "01_lang.ipynb").read_text(encoding="utf-8"))
    title = nb["cells"][0]
    monkeypatch.setattr(translation, "translations_dir", lambda lang="zh": tmp_path / "zh")
    translation.save("01_lang", {title["id"]: {"en_sha256": translation.source_hash("".join(title["source"])),
                                               "text": "# 语言"}})
    out = tmp_path / "out"
    result = runner.run_course(profile="smoke", out=out, notebooks=folder, progress=False, lang="zh")
    (entry,) = result["notebooks"]
    assert result["lang"] == "zh" and entry["status"] == "ok", entry
    assert entry["metrics"]["lang"] == "zh", "the kernel sees AIGC_COURSE_LANG"
    built = json.loads((out / "source-zh" / "01_lang.ipynb").read_text(encoding="utf-8"))
    assert "".join(built["cells"][0]["source"]) == "# 语言"
    assert [c["source"] for c in built["cells"][1:]] == [c["source"] for c in nb["cells"][1:]]
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        runner.run_course(profile="smoke", out=tmp_path / "fr", notebooks=folder, progress=False, lang="fr")


def test_cpu_threads_reads_the_profile_table():
    assert runner.cpu_threads("01_neural_networks", "fast", 2) == 1  # torch_threads 1
    assert runner.cpu_threads("04_image_gans", "fast", 2) == 2  # no torch_threads: torch takes every core
    assert runner.cpu_threads("04_image_gans", "fast", 8) == 8
    assert runner.cpu_threads("04_image_gans", "smoke", 8) == 1
    hp = config.chapter("11_customer_service").hparams("fast")
    assert hp["torch_threads"] == 1 and hp["dialogue_threads"] == 2
    assert runner.cpu_threads("11_customer_service", "fast", 4) == 2  # a nested or named thread count counts too
    assert runner.cpu_threads("11_customer_service", "fast", 1) == 1  # never more than the cores given
    assert runner.cpu_threads("99_not_a_chapter", "fast", 3) == 3
    assert runner.cpu_threads("15_scaling_out", "fast", 2) == 2  # two worker processes


def _timed_books(folder, seconds):
    folder.mkdir()
    params = code("PROFILE = None", tags=["parameters"])
    for name, sleep in seconds.items():
        write_notebook(folder / f"{name}.ipynb", [md(f"# {name}"), params, code(
            f"import time\nimport aigc_course as ac\nt0 = time.time()\ntime.sleep({sleep})\n"
            "ac.record({'t0': t0, 't1': time.time()})")])


def test_runner_runs_one_thread_notebooks_side_by_side(isolated, tmp_path, monkeypatch):
    # 03_c, on both cores, runs first; then 01_a and 02_b side by side (long enough to overlap although the pool's
    # second worker process first has to start: a few seconds)
    _timed_books(tmp_path / "nbs", {"01_a": 10, "02_b": 10, "03_c": 2})
    monkeypatch.setattr(runner, "cpu_threads", lambda stem, profile, cores: 2 if stem == "03_c" else 1)
    out = tmp_path / "out"
    result = runner.run_course(profile="smoke", out=out, notebooks=tmp_path / "nbs", progress=False, jobs=2)
    assert [nb["status"] for nb in result["notebooks"]] == ["ok"] * 3
    assert [nb["name"] for nb in result["notebooks"]] == ["01_a", "02_b", "03_c"]
    a, b, c = (nb["metrics"] for nb in result["notebooks"])
    assert a["t0"] < b["t1"] and b["t0"] < a["t1"], "two one-thread notebooks must overlap"
    assert a["t0"] >= c["t1"] and b["t0"] >= c["t1"], "a notebook that uses both cores runs alone, and first"
    assert result["jobs"] == 2 and result["wall_seconds"] < sum(nb["seconds"] for nb in result["notebooks"])
    assert "2 core(s)" in (out / "report.md").read_text()
    with pytest.raises(ValueError, match="at least 1"):
        runner.run_course(profile="smoke", out=out, notebooks=tmp_path / "nbs", progress=False, jobs=0)


def _queue(*pairs):
    from pathlib import Path

    return [(Path(f"{stem}.ipynb"), n) for stem, n in pairs]


def _stems(chosen):
    return [p.stem for p, _ in chosen]


def test_next_to_start_runs_whole_cpu_notebooks_first_then_the_longest():
    queue = _queue(("00_welcome", 1), ("10_text_to_speech", 1), ("13_recommendation", 1), ("16_instruction_tuning", 2))
    assert _stems(runner.next_to_start(queue, 0, 2, running=(), profile="fast")) == ["16_instruction_tuning"]
    assert _stems(runner.next_to_start(queue, 2, 2, running={"16_instruction_tuning"}, profile="fast")) == []
    # one-thread notebooks by the table's minutes (fast: 7.5, 3.0, 0.3), so the long ones pair with each other
    rest = queue[:3]
    assert _stems(runner.next_to_start(rest, 0, 2, running=(), profile="fast")) == ["10_text_to_speech",
                                                                                     "13_recommendation"]
    assert _stems(runner.next_to_start(rest[:1], 1, 2, running={"10_text_to_speech"}, profile="fast")) == [
        "00_welcome"]
    # a notebook that needs more cores than there are runs alone
    assert _stems(runner.next_to_start(_queue(("16_instruction_tuning", 4), ("13_recommendation", 1)), 0, 2,
                                       running=(), profile="fast")) == ["16_instruction_tuning"]
    # notebooks outside the profile table keep reading order
    assert _stems(runner.next_to_start(_queue(("02_b", 1), ("01_a", 1), ("03_c", 1)), 0, 2, running=(),
                                       profile="fast")) == ["01_a", "02_b"]


def test_next_to_start_waits_for_the_chapters_a_notebook_needs():
    # chapter 14 loads chapter 08's char GPT (and 04's, 05's, 09's models): it must not start, and train stand-ins,
    # while 08 is pending or running, even with a core free
    queue = _queue(("08_transformers_gpt", 2), ("14_responsible_aigc", 1), ("13_recommendation", 1))
    assert _stems(runner.next_to_start(queue, 1, 2, running={"03_gan_theory"}, profile="fast")) == [
        "13_recommendation"]
    assert _stems(runner.next_to_start(queue[1:], 1, 2, running={"08_transformers_gpt"}, profile="smoke")) == [
        "13_recommendation"]
    ready = _queue(("14_responsible_aigc", 1), ("13_recommendation", 1))
    assert _stems(runner.next_to_start(ready, 0, 2, running=(), profile="fast")) == ["14_responsible_aigc",
                                                                                     "13_recommendation"]
    # a chapter needed counts only when it is in this run: `--only 14` starts at once
    assert _stems(runner.next_to_start(ready[:1], 0, 2, running=(), profile="fast")) == ["14_responsible_aigc"]


def test_next_to_start_never_hangs_on_needs_in_a_cycle(monkeypatch):
    rows = {s: config.ChapterSpec(stem=s, title=s, needs=(o,), minutes={"fast": 1.0})
            for s, o in (("01_a", "02_b"), ("02_b", "01_a"))}
    monkeypatch.setattr(config, "CHAPTERS", rows)
    assert _stems(runner.next_to_start(_queue(("01_a", 1), ("02_b", 1)), 0, 2, running=(), profile="fast")) == [
        "01_a"]


def test_every_chapter_needs_the_chapters_whose_models_its_notebook_loads():
    """The runner orders notebooks by ``needs``: a model a notebook loads from another chapter must be listed
    there, and needs point back in reading order (so the one-job runner, which keeps reading order, meets them)."""
    import re

    from aigc_course.apps import risks
    from aigc_course.apps.components import REGISTRY
    from aigc_course.core import paths

    stems = sorted(config.CHAPTERS)
    books = sorted(paths.notebooks_dir().glob("[0-9][0-9]_*.ipynb"))
    assert [b.stem for b in books] == stems
    for path in books:
        spec = config.chapter(path.stem)
        code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
                         if c["cell_type"] == "code")
        used = {REGISTRY[name].made_in for name in re.findall(r'components\.get\(\s*"([a-z_0-9]+)"', code)}
        if "train_classifier(" in code:  # the MNIST judge's classifier, cached by the chapter that makes the judge
            used.add(REGISTRY["mnist_judge"].made_in)
        if "load_course_generator" in code:  # chapter 04's GANs and 05's VAE, from their checkpoints
            used |= {next(s for s in stems if s.startswith(source.split()[1] + "_"))
                     for source in risks.COURSE_GENERATOR_SOURCES.values()}
        assert used - {path.stem} <= set(spec.needs), f"{path.stem}: needs {sorted(used - {path.stem})}"
        assert all(need in stems and need < path.stem for need in spec.needs), f"{path.stem}: {spec.needs}"
    assert config.chapter("14_responsible_aigc").needs == ("04_image_gans", "05_vae", "08_transformers_gpt",
                                                           "09_sentiment")
