"""Run profiles, devices, seeding and the one table of per-chapter hyper-parameters and targets.

Every number a notebook trains with comes from :data:`CHAPTERS`. A chapter's row gives ``base``
hyper-parameters shared by all profiles, per-profile overrides, and per-profile quality targets.

Profile resolution (first that is set wins):

1. the papermill parameter ``PROFILE`` passed to :func:`setup`,
2. the environment variable ``AIGC_COURSE_PROFILE``,
3. automatic: ``full`` when CUDA is available, else ``fast``.

Device: ``AIGC_COURSE_DEVICE`` if set, else cuda > mps > cpu.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import random
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

PROFILES: tuple[str, ...] = ("smoke", "fast", "full")
PROFILE_HELP: dict[str, str] = {
    "smoke": "CI and `make test`: well under a minute per notebook, checks the pipeline only",
    "fast": "default without CUDA (a student's laptop): <= 6 min per notebook, meets the fast targets",
    "full": "default with CUDA (one GPU, Colab T4): <= 10 min per notebook, meets the full targets",
}
DEFAULT_SEED = 1234
REPO_SLUG = "aigc-course/aigc-course"
"""GitHub ``owner/name`` the Colab badges and the Colab install cell point at."""
RELEASE = "v0.2.0"
"""The release (git tag ``v`` + the version in pyproject.toml) that the Colab badges open (its ``student/``
notebooks) and that the Colab install cell installs: a pinned pair, so a notebook never meets a newer or older
package than the one it was written for. docs/releasing.md says how to cut the next one."""


def package_version() -> str:
    """The installed distribution's version, or ``"0.2.0+local"`` when running from a checkout without installing."""
    try:
        return importlib.metadata.version("aigc-course")
    except importlib.metadata.PackageNotFoundError:
        return "0.2.0+local"


class ConfigError(ValueError):
    """A profile, device or chapter name that does not exist."""


class HParams(Mapping[str, Any]):
    """Read-only hyper-parameters with attribute access: ``hp.epochs`` or ``hp["epochs"]``."""

    def __init__(self, values: Mapping[str, Any]):
        self._values = dict(values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(
                f"no hyper-parameter {name!r}; this chapter has: {', '.join(sorted(self._values))}"
            ) from None

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"HParams({inner})"

    def to_dict(self) -> dict[str, Any]:
        return dict(self._values)


@dataclass(frozen=True)
class ChapterSpec:
    """One row of the profile table.

    ``targets[profile]`` maps a metric name to a condition string such as ``">= 0.97"``,
    ``"< 1e-6"``, ``"== True"`` or ``"< other_metric"`` (compared with another recorded metric).
    """

    stem: str
    title: str
    base: dict[str, Any] = field(default_factory=dict)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    targets: dict[str, dict[str, str]] = field(default_factory=dict)
    datasets: tuple[str, ...] = ()
    minutes: dict[str, float] = field(default_factory=dict)
    """The time budget per profile, in minutes (the notebook's header shows it); the runner starts the longer
    one-thread notebooks first by it (:func:`~aigc_course.delivery.runner.start_order`)."""
    branch: str = ""
    """Where the chapter sits on the course map (one of :data:`CHAPTER_BRANCHES`); empty for a shared component."""
    summary: str = ""
    """One line on what the chapter teaches: the README's chapter table is this row's title and summary."""
    needs: tuple[str, ...] = ()
    """Chapters (stems) whose trained models this one loads — a shared component or a checkpoint. When both run in
    one ``aigc-course run``, this one starts after they finish, so it loads their models instead of training
    stand-ins (the runner's :func:`~aigc_course.delivery.runner.next_to_start`)."""

    def hparams(self, profile: str) -> HParams:
        """``base`` with the profile's overrides merged in, nested settings key by key (:func:`deep_merge`)."""
        check_profile(profile)
        return HParams(deep_merge(self.base, self.profiles.get(profile, {})))

    def targets_for(self, profile: str) -> dict[str, str]:
        check_profile(profile)
        return dict(self.targets.get(profile, {}))


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``override``; where both hold a mapping under the same key the two are merged the same
    way, so a profile overrides ``{"sft": {"steps": 20}}`` without restating the other ``sft`` settings.
    Neither argument is changed."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


# --------------------------------------------------------------------------------------------
# The profile table: one row per notebook, keyed by the notebook's file stem. The rows live one file per chapter
# in ``profiles/chNN.py`` (and ``profiles/components.py`` for the shared models); they are loaded at the end of
# this module. A row is the only place a chapter's title, summary, branch and datasets are written.
# --------------------------------------------------------------------------------------------
CHAPTER_BRANCHES: tuple[str, ...] = (
    "foundations", "neural networks", "GAN", "image generation", "NLP", "TTS", "applications",
)
"""The places a chapter can sit on the course map (``ChapterSpec.branch``)."""

CHAPTERS: dict[str, ChapterSpec] = {}


COMPONENTS: dict[str, ChapterSpec] = {}
"""Rows for models that several chapters share (e.g. the MNIST classifier that judges generated
digits in chapters 04–06). Same shape as a chapter row; ``stem`` is the component's name."""


def component(name: str, profile: str) -> HParams:
    """Hyper-parameters of shared component ``name`` for ``profile``."""
    try:
        return COMPONENTS[name].hparams(profile)
    except KeyError:
        raise ConfigError(f"no component {name!r}; known: {', '.join(sorted(COMPONENTS))}") from None


def register(spec: ChapterSpec) -> ChapterSpec:
    """Add a chapter row to :data:`CHAPTERS` (checked: profiles, target syntax, branch and summary)."""
    for profile in list(spec.profiles) + list(spec.targets):
        check_profile(profile)
    for targets in spec.targets.values():
        for condition in targets.values():
            parse_condition(condition)  # raises on a malformed target
    if spec.branch not in CHAPTER_BRANCHES:
        raise ConfigError(f"chapter {spec.stem}: branch {spec.branch!r} is not one of {', '.join(CHAPTER_BRANCHES)}")
    if not spec.summary:
        raise ConfigError(f"chapter {spec.stem}: give it a one-line summary (the README's chapter table shows it)")
    CHAPTERS[spec.stem] = spec
    return spec


# --------------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------------
_OPS = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
}


def parse_condition(condition: str) -> tuple[str, float | bool | str]:
    """Split ``">= 0.97"`` into ``(">=", 0.97)``; a non-numeric right side names another metric."""
    text = condition.strip()
    for op in (">=", "<=", "==", ">", "<"):
        if text.startswith(op):
            rhs = text[len(op):].strip()
            if not rhs:
                break
            if rhs in ("True", "False"):
                return op, rhs == "True"
            try:
                return op, float(rhs)
            except ValueError:
                if rhs.isidentifier():
                    return op, rhs
            break
    raise ConfigError(
        f"malformed target {condition!r}: write an operator (>=, <=, ==, >, <) and a number, "
        "True/False, or another metric's name, e.g. '>= 0.97'"
    )


def missed_targets(metrics: Mapping[str, Any], targets: Mapping[str, str]) -> list[str]:
    """Names of the targets the metrics miss (a missing or non-numeric metric counts as missed)."""
    missed = []
    for name, condition in targets.items():
        op, rhs = parse_condition(condition)
        value = metrics.get(name)
        if isinstance(rhs, str):
            rhs = metrics.get(rhs)
        try:
            ok = value is not None and rhs is not None and bool(_OPS[op](value, rhs))
        except TypeError:
            ok = False
        if not ok:
            missed.append(name)
    return missed


# --------------------------------------------------------------------------------------------
# Profile, device, seeding
# --------------------------------------------------------------------------------------------
def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    return profile


def resolve_profile(requested: str | None = None) -> str:
    """Parameter → ``AIGC_COURSE_PROFILE`` → ``full`` with CUDA, else ``fast``."""
    if requested:
        return check_profile(requested.strip().lower())
    env = os.environ.get("AIGC_COURSE_PROFILE")
    if env:
        try:
            return check_profile(env.strip().lower())
        except ConfigError:
            raise ConfigError(f"AIGC_COURSE_PROFILE is {env!r}: set it to one of {', '.join(PROFILES)}, or unset "
                              "it for the automatic choice") from None
    return "full" if torch.cuda.is_available() else "fast"


def resolve_device(requested: str | None = None) -> torch.device:
    """``requested`` → ``AIGC_COURSE_DEVICE`` → cuda > mps > cpu."""
    name = requested or os.environ.get("AIGC_COURSE_DEVICE")
    if name:
        source = "the requested device" if requested else "AIGC_COURSE_DEVICE"
        try:
            device = torch.device(name)
        except (RuntimeError, ValueError):
            raise ConfigError(f"{source} is {name!r}, which is not a device: use cpu, cuda, cuda:0 or mps, or "
                              "unset AIGC_COURSE_DEVICE for the automatic choice") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} asked for, but CUDA is not available; unset AIGC_COURSE_DEVICE")
        if device.type == "mps" and not _mps_available():
            raise ConfigError(f"device {name!r} asked for, but MPS is not available; unset AIGC_COURSE_DEVICE")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the ``with`` block with ``n`` CPU threads for torch (``None``: unchanged), restored afterwards. Chapters
    run on few threads (tiny tensors); token-by-token generation is fastest on one, a GPT's training batches use
    two."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def seed_everything(seed: int = DEFAULT_SEED) -> int:
    """Seed Python, NumPy and torch (all devices). Returns the seed."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return seed


def chapter(stem: str) -> ChapterSpec:
    try:
        return CHAPTERS[stem]
    except KeyError:
        raise ConfigError(
            f"no chapter {stem!r} in the profile table; known: {', '.join(sorted(CHAPTERS))}"
        ) from None


def find_chapter(name: str) -> ChapterSpec:
    """A chapter row by stem (``11_customer_service``) or number (``11``, ``7``)."""
    name = name.strip()
    if name in CHAPTERS:
        return CHAPTERS[name]
    matches = [s for s in CHAPTERS if name.isdigit() and s.startswith(f"{int(name):02d}_")]
    if len(matches) == 1:
        return CHAPTERS[matches[0]]
    raise ConfigError(f"no chapter {name!r} in the profile table; give a number or one of: "
                      f"{', '.join(sorted(CHAPTERS))}")


def _flat(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def describe(spec: ChapterSpec) -> str:
    """A chapter's settings side by side: every hyper-parameter (nested ones as ``a.b``) under smoke / fast / full,
    ``*`` marking those that differ between profiles, then the time budgets and the targets."""
    cols = {p: _flat(spec.hparams(p).to_dict()) for p in PROFILES}
    keys = sorted(set().union(*cols.values()))
    show = {p: {k: ("—" if k not in cols[p] else repr(cols[p][k])) for k in keys} for p in PROFILES}
    width = [max([len("setting")] + [len(k) + 2 for k in keys])]
    width += [max([len(p)] + [len(show[p][k]) for k in keys]) for p in PROFILES]
    width = [width[0]] + [min(w, 32) for w in width[1:]]

    def row(cells: list[str]) -> str:
        return "  ".join((c if len(c) <= w else c[: w - 1] + "…").ljust(w) for c, w in zip(cells, width)).rstrip()

    lines = [f"{spec.stem} — {spec.title}", "", row(["setting", *PROFILES]), row(["-" * w for w in width])]
    for k in keys:
        mark = "*" if len({show[p][k] for p in PROFILES}) > 1 else " "
        lines.append(row([f"{mark} {k}", *(show[p][k] for p in PROFILES)]))
    lines += ["", "minutes: " + ", ".join(f"{p} {spec.minutes.get(p, '—')}" for p in PROFILES), "targets:"]
    for p in PROFILES:
        targets = spec.targets.get(p, {})
        lines.append(f"  {p}: " + (", ".join(f"{m} {c}" for m, c in targets.items()) if targets else "none"))
    return "\n".join(lines)


@dataclass(frozen=True)
class Run:
    """What :func:`setup` returns: the chapter's settings for this run."""

    chapter: str
    profile: str
    device: torch.device
    seed: int
    hp: HParams
    targets: dict[str, str]

    @property
    def is_smoke(self) -> bool:
        return self.profile == "smoke"


_CURRENT: Run | None = None


def current_run() -> Run | None:
    """The :class:`Run` of the last :func:`setup` call in this process, if any."""
    return _CURRENT


def setup(
    stem: str,
    profile: str | None = None,
    *,
    seed: int = DEFAULT_SEED,
    device: str | None = None,
    quiet: bool = False,
    lang: str | None = None,
) -> Run:
    """Resolve profile, device and language, seed everything, and print what this run uses.

    Call it once at the top of a notebook: ``run = ac.setup("01_neural_networks", PROFILE, lang=LANG)``.
    ``lang`` (``en`` or ``zh``; ``None``: ``AIGC_COURSE_LANG``, else ``en``) is the language of figure text,
    widgets and exercise feedback (:mod:`aigc_course.core.i18n`).
    """
    global _CURRENT
    from . import i18n

    spec = chapter(stem)
    prof = resolve_profile(profile)
    i18n.set_language(lang)
    dev = resolve_device(device)
    seed_everything(seed)
    hp = spec.hparams(prof)
    if hp.get("torch_threads"):  # tiny models: fewer threads, less overhead (None: torch's default, every core)
        torch.set_num_threads(int(hp["torch_threads"]))
    run = Run(stem, prof, dev, seed, hp, spec.targets_for(prof))
    _CURRENT = run
    from . import claims  # the claims of a previous setup() in this process belong to another run

    claims.reset()
    if not quiet:
        print(f"aigc-course {package_version()} · chapter {stem} · profile {prof} · device {dev}"
              f" · language {i18n.language()}")
        print(
            f"python {sys.version.split()[0]} · torch {torch.__version__} · numpy {np.__version__} · seed {seed}"
            f" · CPU threads {torch.get_num_threads()}"
        )
    return run


from . import profiles  # noqa: E402  (registers every row; the row files import the names above)

profiles.load()
