"""Colab support: the guarded install cell, the package floors against Colab's packages, ipywidgets 7.7.1.

* The install cell is executed in a subprocess with a stub ``google.colab`` module and ``subprocess.run``
  intercepted (nothing is installed): it installs the course from the repository, never asks pip for
  torch / torchvision / torchaudio, pins Colab's own copies through a constraints file, and says
  "restart" exactly when pip changed a package this session had already imported.
* Colab's preinstalled versions (below) satisfy every floor of ``pyproject.toml``, so pip leaves them alone.
* The package is imported and every widget it offers is built (and driven) under ipywidgets 7.7.1, Colab's
  version, installed with ``pip install --target`` into ``~/.cache/aigc-course/ipywidgets7`` once.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the dev extra installs tomli
    import tomli as tomllib
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from aigc_course.core.config import RELEASE, REPO_SLUG
from aigc_course.core.paths import notebooks_dir, project_root
from aigc_course.delivery.conventions import (
    COLAB_INSTALL,
    COLAB_INSTALL_METADATA,
    COLAB_KEEP,
    check_notebook,
    install_cell_index,
)

ROOT = project_root()
NOTEBOOKS = sorted(notebooks_dir().glob("*.ipynb"))
REPO_REQUIREMENT = f"aigc-course @ git+https://github.com/{REPO_SLUG}@{RELEASE}"
TORCH_FAMILY = ("torch", "torchvision", "torchaudio")

# Colab's GPU runtime, from https://github.com/googlecolab/backend-info (pip-freeze.gpu.txt, commit 4647a1d,
# early 2026; Python 3.12 wheels): the versions of the packages our metadata names. papermill is not there
# (pip installs it). Update this table when Colab moves on; the floors test below then says what to change.
COLAB_PYTHON = "3.12"
COLAB_VERSIONS = {
    "torch": "2.10.0+cu128", "torchvision": "0.25.0+cu128", "torchaudio": "2.10.0+cu128",
    "numpy": "2.0.2", "matplotlib": "3.10.0", "ipywidgets": "7.7.1", "ipython": "7.34.0", "ipykernel": "6.17.1",
    "tqdm": "4.67.3", "pooch": "1.9.0", "soundfile": "0.13.1", "pandas": "2.2.2", "scikit-learn": "1.6.1",
    "nbformat": "5.10.4", "nbconvert": "7.17.0", "platformdirs": "4.9.2", "peft": "0.18.1",
    "accelerate": "1.12.0", "transformers": "5.0.0", "traitlets": "5.7.1",
}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def colab_freeze_versions(text: str) -> dict[str, str]:
    """``name == version`` lines of a ``pip freeze`` (Colab's backend-info file) → {normalised name: version}."""
    out = {}
    for line in text.splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("==", 1)
            out[_norm(name.strip())] = version.strip()
    return out


if os.environ.get("AIGC_COURSE_COLAB_FREEZE"):  # the scheduled CI job: Colab's *current* versions replace the table
    _current = colab_freeze_versions(Path(os.environ["AIGC_COURSE_COLAB_FREEZE"]).read_text(encoding="utf-8"))
    COLAB_VERSIONS.update({name: _current[name] for name in COLAB_VERSIONS if name in _current})


# --------------------------------------------------------------------------------------------
# (a) the install cell, run as on Colab with pip intercepted
# --------------------------------------------------------------------------------------------
HARNESS = r'''
import importlib.metadata, importlib.util, json, subprocess, sys, types

scenario = json.loads(sys.argv[1])
state = {"dists": scenario["before"]}
calls = []


class FakeDist:
    def __init__(self, name, version):
        self.metadata = {"Name": name}
        self.version = version


def fake_run(argv, *args, **kwargs):
    call = {"argv": [str(a) for a in argv], "kwargs": sorted(kwargs)}
    if "--constraint" in call["argv"]:
        with open(call["argv"][call["argv"].index("--constraint") + 1]) as f:
            call["constraints"] = f.read()
    calls.append(call)
    if scenario["pip_fails"]:
        return subprocess.CompletedProcess(argv, 1, "", "ERROR: ResolutionImpossible: torch==2.10.0+cu128\n")
    state["dists"] = scenario["after"]  # what pip would have left behind
    return subprocess.CompletedProcess(argv, 0, "", "")


real_find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: (
    (real_find_spec("json") if scenario["course_installed"] else None) if name == "aigc_course"
    else real_find_spec(name, *a))
importlib.metadata.distributions = lambda: [FakeDist(n, v) for n, v in state["dists"].items()]
importlib.metadata.packages_distributions = lambda: scenario["owners"]
subprocess.run = fake_run
for name in scenario["imported"]:
    sys.modules.setdefault(name, types.ModuleType(name))
if scenario["colab"]:
    sys.modules["google.colab"] = types.ModuleType("google.colab")
try:
    exec(compile(scenario["source"], "<install cell>", "exec"), {"__name__": "__main__"})
finally:
    print("CALLS=" + json.dumps(calls))
'''

COLAB_BEFORE = {"torch": "2.10.0+cu128", "torchvision": "0.25.0+cu128", "torchaudio": "2.10.0+cu128",
                "ipython": "7.34.0", "ipykernel": "6.17.1", "ipywidgets": "7.7.1", "numpy": "2.0.2",
                "PyYAML": "6.0.3", "nbclient": "0.10.4"}
NEW = {"aigc-course": "0.1.0", "papermill": "2.7.0"}
OWNERS = {"torch": ["torch"], "numpy": ["numpy"], "yaml": ["PyYAML"], "nbclient": ["nbclient"]}


def _run_cell(tmp_path: Path, *, colab: bool = True, course_installed: bool = False, pip_fails: bool = False,
              after: dict[str, str] | None = None, imported: tuple[str, ...] = (),
              python: str = sys.executable) -> tuple[str, list[dict]]:
    scenario = {"source": COLAB_INSTALL, "colab": colab, "course_installed": course_installed,
                "pip_fails": pip_fails, "before": COLAB_BEFORE,
                "after": after if after is not None else {**COLAB_BEFORE, **NEW},
                "owners": OWNERS, "imported": list(imported)}
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.run([python, "-c", HARNESS, json.dumps(scenario)], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)
    assert (proc.returncode != 0) == pip_fails, proc.stderr
    if pip_fails:
        assert "RuntimeError: pip could not install aigc-course" in proc.stderr
    out, _, calls = proc.stdout.rpartition("CALLS=")
    return out, json.loads(calls)


def _other_pythons() -> dict[str, str]:
    """Interpreters of other Python versions on this machine (PATH, or pyenv's folders), by version."""
    found = {}
    for version in ("3.10", "3.12", "3.13"):
        candidates = [shutil.which(f"python{version}"),
                      *sorted(glob.glob(str(Path.home() / ".pyenv" / "versions" / f"{version}.*" / "bin" /
                                            f"python{version}")))]
        for exe in filter(None, candidates):
            if subprocess.run([exe, "-c", "pass"], capture_output=True).returncode == 0:
                found[version] = exe
                break
    return found


OTHER_PYTHONS = _other_pythons()


@pytest.mark.parametrize("version", ["current", "3.10", "3.12", "3.13"])
def test_install_cell_installs_the_course_from_the_repository_and_pins_colabs_torch(tmp_path, version):
    if version != "current" and version not in OTHER_PYTHONS:
        pytest.skip(f"no Python {version} on this machine")
    python = sys.executable if version == "current" else OTHER_PYTHONS[version]
    out, calls = _run_cell(tmp_path, python=python)
    assert len(calls) == 1
    argv = calls[0]["argv"]
    assert argv[:4] == [python, "-m", "pip", "install"]
    assert {"capture_output", "text"} <= set(calls[0]["kwargs"])  # pip's output is shown in the cell on failure
    constraints_path = argv[argv.index("--constraint") + 1]
    requested = [a for a in argv[4:] if not a.startswith("-") and a != constraints_path]
    assert requested == [REPO_REQUIREMENT]
    assert not {"-U", "--upgrade", "--force-reinstall", "--ignore-installed", "-I"} & set(argv)
    for arg in argv[4:]:
        assert not any(re.match(rf"{name}\b", arg) for name in TORCH_FAMILY), f"pip is asked for {arg!r}"
    pins = set(calls[0]["constraints"].split())
    expected = {f"{name}=={COLAB_BEFORE[name]}" for name in COLAB_KEEP}
    assert pins == expected
    assert {f"{name}=={COLAB_BEFORE[name]}" for name in TORCH_FAMILY} <= pins
    assert "no restart needed" in out and "RESTART" not in out


def test_install_cell_asks_for_a_restart_only_when_an_imported_package_changed(tmp_path):
    # numpy and PyYAML (module ``yaml``) upgraded, both already imported: restart, naming both
    upgraded = {**COLAB_BEFORE, **NEW, "numpy": "2.3.0", "PyYAML": "6.1.0"}
    out, calls = _run_cell(tmp_path, after=upgraded, imported=("numpy", "yaml"))
    assert len(calls) == 1
    assert "RESTART NEEDED" in out and "Restart session" in out
    assert "numpy 2.0.2 -> 2.3.0" in out and "pyyaml 6.0.3 -> 6.1.0" in out
    # nbclient upgraded but never imported, papermill new: no restart
    out, _ = _run_cell(tmp_path, after={**COLAB_BEFORE, **NEW, "nbclient": "0.11.0"}, imported=("numpy",))
    assert "RESTART" not in out and "no restart needed" in out


def test_install_cell_shows_pips_message_and_stops_when_pip_fails(tmp_path):
    out, calls = _run_cell(tmp_path, pip_fails=True)
    assert len(calls) == 1 and "ResolutionImpossible" in out
    assert "installed" not in out.replace("Installing", "") and "RESTART" not in out


def test_install_cell_does_nothing_when_installed_or_off_colab(tmp_path):
    out, calls = _run_cell(tmp_path, course_installed=True)
    assert calls == [] and out.strip() == ""
    out, calls = _run_cell(tmp_path, colab=False)
    assert calls == [] and out.strip() == ""


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_the_current_install_cell(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    index = install_cell_index(nb)
    assert index is not None and index == next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code")
    assert "".join(nb["cells"][index]["source"]) == COLAB_INSTALL, (
        f"{path.name}: run `python -m aigc_course.delivery.conventions install-cell` to refresh the Colab cell")
    assert check_notebook(path) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_install_cell_is_collapsed_to_its_title_and_pins_the_release(path):
    """On Colab a student sees one line (a form's title), not fifty lines of pip plumbing; the package comes
    from the release tag, never from a moving branch."""
    cell = json.loads(path.read_text(encoding="utf-8"))["cells"][1]
    source = "".join(cell["source"])
    title = source.splitlines()[0]
    assert re.fullmatch(r'# @title [^{}]+ \{ display-mode: "form" \}', title), title
    assert RELEASE in title
    assert {k: cell["metadata"].get(k) for k in COLAB_INSTALL_METADATA} == COLAB_INSTALL_METADATA
    assert f"@{RELEASE}\"" in source and "/blob/main" not in source


# --------------------------------------------------------------------------------------------
# Floors and Python versions
# --------------------------------------------------------------------------------------------
def _metadata() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_colabs_packages_meet_every_floor_so_pip_keeps_them():
    for text in _metadata()["dependencies"]:
        req = Requirement(text)
        version = COLAB_VERSIONS.get(_norm(req.name))
        if version is None:
            assert _norm(req.name) not in COLAB_KEEP
            continue  # not on Colab: pip installs it
        assert req.specifier.contains(version, prereleases=True), (
            f"Colab has {req.name} {version}, which does not satisfy {text!r}: pip would replace Colab's copy "
            "(the install cell's constraints make that an error for " + ", ".join(COLAB_KEEP) + ")")


def test_requires_python_admits_colab_and_current_pythons():
    spec = SpecifierSet(_metadata()["requires-python"])
    for version in ("3.10", "3.11", COLAB_PYTHON, "3.12", "3.13"):
        assert spec.contains(version), f"requires-python {spec} excludes {version}"


_REMOVED_IN_312_313 = ("distutils", "imp", "asynchat", "asyncore", "smtpd", "audioop", "aifc", "sunau", "sndhdr",
                       "imghdr", "cgi", "cgitb", "chunk", "crypt", "mailcap", "nntplib", "pipes", "telnetlib", "uu",
                       "xdrlib", "lib2to3", "pkg_resources")


COMPILE_ALL = r'''
import json, pathlib, sys, warnings
warnings.simplefilter("error")  # an invalid escape sequence is a SyntaxWarning from 3.12 on
root, bad, n = pathlib.Path(sys.argv[1]), [], 0
sources = [(str(p), p.read_text(encoding="utf-8")) for p in sorted((root / "aigc_course").rglob("*.py"))]
for book in sorted((root / "notebooks").glob("*.ipynb")):
    for i, cell in enumerate(json.loads(book.read_text(encoding="utf-8"))["cells"]):
        if cell["cell_type"] == "code":
            lines = "".join(cell["source"]).splitlines()
            sources.append((f"{book.name}[{i}]", "\n".join("pass" if l.lstrip()[:1] in "%!" and l.strip() else l
                                                           for l in lines)))
for name, text in sources:
    try:
        compile(text, name, "exec")
    except (SyntaxError, SyntaxWarning) as exc:
        bad.append(f"{name}: {exc!r}")
print(json.dumps(bad))
'''


@pytest.mark.parametrize("version", ["3.12", "3.13"])
def test_package_and_notebooks_compile_cleanly_under_python(version):
    if version not in OTHER_PYTHONS:
        pytest.skip(f"no Python {version} on this machine")
    proc = subprocess.run([OTHER_PYTHONS[version], "-c", COMPILE_ALL, str(ROOT)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_package_avoids_modules_removed_in_python_312_and_313():
    pattern = re.compile(rf"^\s*(?:import|from)\s+({'|'.join(_REMOVED_IN_312_313)})\b", re.M)
    hits = [f"{p.relative_to(ROOT)}: {m.group(0).strip()}" for p in (ROOT / "aigc_course").rglob("*.py")
            for m in pattern.finditer(p.read_text(encoding="utf-8"))]
    assert hits == []


# --------------------------------------------------------------------------------------------
# (b) every widget under ipywidgets 7.7.1
# --------------------------------------------------------------------------------------------
IPYWIDGETS7 = (
    "ipywidgets==7.7.1", "ipython_genutils==0.2.0", "widgetsnbextension==3.6.10", "jupyterlab_widgets==1.1.*",
)


@pytest.fixture(scope="module")
def ipywidgets7() -> Path:
    """A folder holding ipywidgets 7.7.1 (and its pure-Python companions), installed once and cached."""
    cache = Path(os.environ.get("AIGC_COURSE_IPYWIDGETS7",
                                Path.home() / ".cache" / "aigc-course" / "ipywidgets7"))
    if (cache / "ipywidgets-7.7.1.dist-info").is_dir():
        return cache
    staging = cache.with_name(cache.name + f".partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                           "--no-deps", "--target", str(staging), *IPYWIDGETS7],
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        pytest.skip(f"could not install ipywidgets 7.7.1 (offline?): {proc.stderr.strip()[-300:]}")
    shutil.rmtree(cache, ignore_errors=True)
    staging.rename(cache)
    return cache


WIDGETS_UNDER_7 = r'''
import logging
import sys
from pathlib import Path

import ipywidgets
import torch

assert ipywidgets.__version__ == "7.7.1", ipywidgets.__version__
assert Path(ipywidgets.__file__).is_relative_to(sys.argv[1]), ipywidgets.__file__

import aigc_course as ac
from aigc_course import widgets
from aigc_course.apps import assistant as A
from aigc_course.models import audio
from aigc_course.widgets import tts as tts_widgets
from aigc_course.widgets.assistant import chat_widget
from aigc_course.models import lm, tts, vae


class Keep(logging.Handler):
    """ipywidgets 7 logs (rather than raises) an exception in a callback outside a kernel: keep them."""

    records = []

    def emit(self, record):
        self.records.append(record)


logging.getLogger().addHandler(Keep(logging.WARNING))
calls = {}


def spy(module, name):
    """Record every call of ``module.name`` (what the widgets' callbacks call)."""
    real = getattr(module, name)

    def wrapper(*args, **kwargs):
        result = real(*args, **kwargs)
        calls.setdefault(name, []).append(result)
        return result

    setattr(module, name, wrapper)


def called(name):
    """The results of every call of the spied ``name`` (at least one, else say what ipywidgets logged)."""
    assert calls.get(name), f"{name} never ran; logged: {[r.getMessage() for r in Keep.records]}"
    return calls[name]


for module, name in ((widgets, "pg_update"), (widgets, "vae_latent_update"), (widgets, "decoding_update"),
                     (tts_widgets, "show_synthesis")):
    spy(module, name)
built = []

# chapter 03: p_g sliders; moving a slider redraws (the callback runs)
ui = widgets.pg_slider(0.0, 1.0)
ui.children[0].value = 1.5
assert abs(called("pg_update")[-1]["identity_gap"]) < 1e-6
built.append("pg_slider")

# chapter 04 (in the notebook): digit dropdown + seed slider through interactive
demo = ipywidgets.interactive(
    lambda digit=7, seed=0: None,
    digit=ipywidgets.Dropdown(options=list(range(10)), value=7, description="digit"),
    seed=ipywidgets.IntSlider(value=0, min=0, max=99, step=1, description="seed", continuous_update=False))
demo.children[0].value = 3
built.append("interactive_dropdown")

# chapter 05: latent sliders
torch.manual_seed(0)
model = vae.ConvVAE(3, channels=4, hidden=8)
ui = widgets.vae_latent_sliders(model, base_z=[0.1, 0.2, 0.3], dims=(0, 2))
assert [c.description for c in ui.children if hasattr(c, "min")] == ["z[0]", "z[2]"]
ui.children[0].value = 1.0
assert tuple(called("vae_latent_update")[-1].shape) == (28, 28)
built.append("vae_latent_sliders")

# chapter 07: decoding playground (manual mode: a "generate" button)
vocab = lm.CharVocab.from_text("the cat sat on the mat. the dog sat on the log.")
ui = widgets.decoding_playground(lm.CharLSTM(len(vocab), embed=8, hidden=16), vocab, prompt="the ", length=20)
buttons = [c for c in ui.children if isinstance(c, ipywidgets.Button)]
assert [b.description for b in buttons] == ["generate"], [type(c).__name__ for c in ui.children]
buttons[0].click()
assert len(called("decoding_update")) == 1 and called("decoding_update")[0].startswith("the ")
assert not called("decoding_update")[0].startswith("error")
built.append("decoding_playground")

# chapter 10: text-to-speech demo; pressing Speak synthesises into the output area
ui = tts_widgets.tts_demo(tts.DurationTTS(32, -2.0, 3.0, dim=16), audio.MelConfig(n_mels=32, floor=1e-4),
                          griffin_lim_iters=2)
text_box, _, speak = ui.children[0].children
text_box.value = "7"
speak.click()
assert called("show_synthesis") == [None]  # synthesised, drawn and played
built.append("tts_demo")

# chapter 11: the chat box (Enter submits under ipywidgets 7)
kb = A.load_kb()
texts = [q for intent in kb.intents for q in intent.train]
labels = [k for k, intent in enumerate(kb.intents) for _ in intent.train]
matcher = A.IntentMatcher(A.Tfidf().fit(texts), None, texts, labels, len(kb.intents))
ui = chat_widget(A.Conversation(A.Assistant(kb, matcher, A.PlattCalibrator(), 0.0)))
assert isinstance(ui.widget, ipywidgets.VBox)
ui.box.value = "Where is my order IB-111222?"
ui.button.click()
assert ui.box.value == "" and len(ui.conversation.history) == 1 and "IB-111222" in ui.log.value
ui.box.value = "What are your opening hours?"
ui.box._submission_callbacks(ui.box)  # what pressing Enter does in ipywidgets 7
assert ui.box.value == "" and len(ui.conversation.history) == 2
built.append("chat_widget")

# every chapter's progress bars: tqdm.auto picks tqdm.notebook in a Colab kernel
from tqdm.notebook import tqdm

bar = tqdm(total=3, desc="progress")
bar.update(3)
bar.close()
built.append("tqdm_notebook")

failures = [r.getMessage() for r in Keep.records if r.exc_info]
assert not failures, failures
print("BUILT=" + ",".join(built))
'''


def test_every_widget_builds_under_ipywidgets_7(ipywidgets7, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ipywidgets7), str(ROOT)]), "MPLBACKEND": "Agg",
           "AIGC_COURSE_BUILD": str(tmp_path / "build"), "AIGC_COURSE_CHECKPOINTS": str(tmp_path / "ckpt")}
    proc = subprocess.run([sys.executable, "-c", WIDGETS_UNDER_7, str(ipywidgets7)], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    built = proc.stdout.rpartition("BUILT=")[2].split()[0].split(",")
    assert built == ["pg_slider", "interactive_dropdown", "vae_latent_sliders", "decoding_playground", "tts_demo",
                     "chat_widget", "tqdm_notebook"]


def test_the_widget_check_covers_every_widget_module():
    """A new module that uses ipywidgets must be added to the 7.7.1 check above."""
    package = ROOT / "aigc_course"
    users = sorted(p.relative_to(package).as_posix() for p in package.rglob("*.py")
                   if re.search(r"^\s*(import ipywidgets|from ipywidgets)", p.read_text(encoding="utf-8"), re.M))
    assert users == ["widgets/__init__.py", "widgets/assistant.py", "widgets/tts.py"], users


def test_a_colab_freeze_file_is_read_as_name_version_pairs():
    text = "# Colab\ntorch==2.11.0+cu128\nscikit_learn==1.7.0\nsome-pkg @ file:///x\n"
    assert colab_freeze_versions(text) == {"torch": "2.11.0+cu128", "scikit-learn": "1.7.0"}
