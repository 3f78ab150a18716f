"""The command line: doctor writes nothing, data list, run's argument errors."""

from __future__ import annotations

import subprocess
import sys

from aigc_course.cli import main


def _snapshot(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_doctor_reports_and_writes_nothing(with_mirror, isolated, capsys):
    before = _snapshot(isolated)
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for needle in ("torch", "device", "profile", "mnist", "ok (mirror", "GiB free"):
        assert needle in out
    assert _snapshot(isolated) == before


def test_doctor_says_where_a_missing_dataset_would_come_from(isolated, capsys):
    assert main(["doctor"]) == 0
    assert "would download from https://ossci-datasets" in capsys.readouterr().out


def test_data_list_names_licences_and_sizes(capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "movielens-small" in out and "non-commercial" in out and "11.1" in out


def test_run_with_an_unknown_notebook_is_a_clear_error(capsys):
    assert main(["run", "--only", "77"]) == 2
    assert "no notebook matches 77" in capsys.readouterr().err


def test_loader_offline_without_mirror_ends_with_the_dataset_message(isolated):
    """What a student sees with no mirror and no network: one message, no urllib traceback."""
    code = "import aigc_course as ac\nac.datasets.load_mnist('test')"
    env = {**__import__("os").environ, "AIGC_COURSE_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1
    assert "DatasetNotFoundError: Dataset 'mnist'" in done.stderr
    assert "AIGC_COURSE_DATA" in done.stderr and "t10k-images-idx3-ubyte.gz" in done.stderr
    assert "urllib" not in done.stderr and "requests" not in done.stderr


def test_cli_data_fetch_without_network_or_mirror_fails_cleanly(isolated, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AIGC_COURSE_OFFLINE", "1")
    assert main(["data", "fetch", "tinyshakespeare", "--to", str(tmp_path / "room")]) == 1
    assert "Dataset 'tinyshakespeare'" in capsys.readouterr().err
