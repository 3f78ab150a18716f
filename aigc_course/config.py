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

    def hparams(self, profile: str) -> HParams:
        check_profile(profile)
        values = dict(self.base)
        values.update(self.profiles.get(profile, {}))
        return HParams(values)

    def targets_for(self, profile: str) -> dict[str, str]:
        check_profile(profile)
        return dict(self.targets.get(profile, {}))


# --------------------------------------------------------------------------------------------
# The profile table. One row per notebook; keys are the notebook file stems.
# --------------------------------------------------------------------------------------------
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
    """Add a chapter row to :data:`CHAPTERS` (checked: profiles and target syntax)."""
    for profile in list(spec.profiles) + list(spec.targets):
        check_profile(profile)
    for targets in spec.targets.values():
        for condition in targets.values():
            parse_condition(condition)  # raises on a malformed target
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
) -> Run:
    """Resolve profile and device, seed everything, and print what this run uses.

    Call it once at the top of a notebook: ``run = ac.setup("01_neural_networks", PROFILE)``.
    """
    global _CURRENT
    spec = chapter(stem)
    prof = resolve_profile(profile)
    dev = resolve_device(device)
    seed_everything(seed)
    if "torch_threads" in spec.base or any("torch_threads" in p for p in spec.profiles.values()):
        torch.set_num_threads(int(spec.hparams(prof)["torch_threads"]))  # tiny models: fewer threads, less overhead
    run = Run(stem, prof, dev, seed, spec.hparams(prof), spec.targets_for(prof))
    _CURRENT = run
    from . import claims  # the claims of a previous setup() in this process belong to another run

    claims.reset()
    if not quiet:
        import aigc_course

        print(f"aigc-course {aigc_course.__version__} · chapter {stem} · profile {prof} · device {dev}")
        print(
            f"python {sys.version.split()[0]} · torch {torch.__version__} · numpy {np.__version__} · seed {seed}"
            f" · CPU threads {torch.get_num_threads()}"
        )
    return run


COMPONENTS["mnist_classifier"] = ChapterSpec(
    stem="mnist_classifier",
    title="MNIST classifier used as the feature extractor of the image metrics (chapters 04-06)",
    base={"channels": 16, "features": 128, "epochs": 3, "batch_size": 128, "lr": 3e-3, "train_limit": None,
          "eval_samples": 2000, "k": 3},
    profiles={"smoke": {"epochs": 1, "train_limit": 4000, "eval_samples": 300},
              "full": {"epochs": 6, "eval_samples": 10000}},
)

_CHAR_LM_TRAIN = {"batch_size": 32, "block_size": 128, "lr": 3e-3, "min_lr_frac": 0.1, "warmup": 50,
                  "max_steps": 1_000_000, "seconds": 95.0, "weight_decay": 0.1, "grad_clip": 1.0,
                  "eval_every": 50, "eval_windows": 200, "bf16": False, "seed": 0}

COMPONENTS["char_lstm"] = ChapterSpec(
    stem="char_lstm",
    title="Character-level LSTM on Tiny Shakespeare (chapters 07, 08)",
    # fast (2-core CPU, 120 s): in a short wall-clock budget many small steps beat few big ones. Measured on one
    # busy core (val nats/char after 120 s): 512 units batch 64 lr 3e-3 1.83; 384/32/5e-3 1.66; 384/32/8e-3 1.61;
    # 512/16/5e-3 1.57; 384/8/5e-3 1.54; 384/16/5e-3 1.55; 384/16/8e-3 1.52 (chosen; alone: 1.471). bf16: ~1.6x faster.
    # full (GPU, fixed steps): two layers of 512 with dropout, ~25 passes over the text.
    base={**_CHAR_LM_TRAIN, "embed": 64, "hidden": 384, "layers": 1, "dropout": 0.0, "batch_size": 16,
          "lr": 8e-3, "seconds": 120.0, "eval_every": 100, "bf16": True},
    profiles={"smoke": {"hidden": 64, "seconds": 3.0, "eval_every": 20, "eval_windows": 20},
              "full": {"hidden": 512, "layers": 2, "dropout": 0.2, "seconds": None, "max_steps": 3000,
                       "batch_size": 64, "lr": 3e-3, "warmup": 100, "eval_every": 250, "eval_windows": None,
                       "bf16": False}},
)

COMPONENTS["char_gpt"] = ChapterSpec(
    stem="char_gpt",
    title="Character-level mini-GPT on Tiny Shakespeare (chapters 08, 14, 15)",
    # fast (2-core CPU, 95 s): at a fixed time a shallow model that sees more characters wins. Tuned by steps
    # (1 thread, converted to 2-thread time): full-val loss L2/C128/B16 1.650, L3/C96 1.675, L3/C128 1.708,
    # L2/C160 1.688, L4/C128/B16 1.756, L4/C96/B32 1.726, L2/C192 1.737; nanoGPT's CPU config 1.8857 in 94.3 s here.
    base={**_CHAR_LM_TRAIN, "n_layer": 2, "n_head": 4, "n_embd": 128, "dropout": 0.0, "block_size": 64,
          "batch_size": 16, "lr": 4e-3, "eval_every": 250},
    profiles={"smoke": {"n_layer": 2, "n_embd": 32, "block_size": 32, "seconds": 3.0, "eval_every": 20,
                        "eval_windows": 20},
              # nanoGPT's shakespeare_char GPU configuration (val loss 1.47 in its README)
              "full": {"n_layer": 6, "n_head": 6, "n_embd": 384, "block_size": 256, "batch_size": 64,
                       "dropout": 0.2, "lr": 1e-3, "seconds": None, "max_steps": 5000, "warmup": 100,
                       "eval_every": 250, "eval_windows": None, "bf16": True}},
)


# --------------------------------------------------------------------------------------------
# The profile table: one row per notebook (hyper-parameters per profile and quality targets).
# --------------------------------------------------------------------------------------------
register(
    ChapterSpec(
        stem="00_welcome",
        title="Welcome & setup",
        base={"demo_points": 2000, "mle_lr": 0.05, "mle_steps": 600, "gap_halfwidth": 0.8},
        profiles={"smoke": {"demo_points": 200, "mle_steps": 300}},
        targets={
            profile: {"mle_abs_err": "< 1e-3", "heldout_ll_gaussian": "< heldout_ll_true_mixture"}
            for profile in ("fast", "full")
        },
        datasets=(),
        minutes={"smoke": 0.2, "fast": 0.3, "full": 0.3},
    )
)


register(
    ChapterSpec(
        stem="01_neural_networks",
        title="Neural networks from scratch",
        base={
            "torch_threads": 1,  # tiny tensors: one CPU thread is fastest and immune to a busy machine
            "hidden": 32, "n_train": 1000, "n_test": 1000, "moons_noise": 0.15, "circles_noise": 0.08,
            "circles_factor": 0.5, "test_seed_offset": 1000,
            "check_n": 8, "check_d": 3, "check_m": 5, "check_k": 4, "fd_eps": 1e-6,
            "manual_lr": 0.5, "manual_steps": 300,
            "batch_size": 64, "race_steps": 600, "lr_sgd": 0.1, "lr_momentum": 0.1, "momentum": 0.9,
            "lr_adam": 0.01, "fit_steps": 1500, "fit_lr": 0.01, "grid_resolution": 200,
        },
        profiles={
            "smoke": {"n_train": 200, "n_test": 200, "manual_steps": 20, "race_steps": 30, "fit_steps": 40,
                      "grid_resolution": 60},
            "full": {"race_steps": 1500, "fit_steps": 3000},
        },
        targets={
            profile: {
                "manual_vs_autograd_max_rel_err": "< 1e-6",
                "finite_diff_max_rel_err": "< 1e-6",
                "optimizer_rules_max_err": "< 1e-6",
                "moons_test_accuracy": ">= 0.97",
                "circles_test_accuracy": ">= 0.95",
                "moons_linear_test_accuracy": "< moons_test_accuracy",
            }
            for profile in ("fast", "full")
        },
        datasets=(),
        minutes={"smoke": 0.2, "fast": 0.5, "full": 0.5},
    )
)

register(
    ChapterSpec(
        stem="02_losses",
        title="Losses: cross-entropy, MSE and likelihood",
        base={
            "torch_threads": 1,  # tiny tensors: one CPU thread is fastest and immune to a busy machine
            "check_n": 64, "check_k": 5, "check_d": 3, "logit_scale": 3.0, "big_logit": 1000.0,
            "logit_range": 10.0, "smoothing": 0.1, "smoothing_steps": 2000, "smoothing_lr": 1.0,
            "blob_n": 500, "blob_shift": 2.0, "test_seed_offset": 1000, "wrong_logit": 10.0,
            "recovery_steps": 2000, "recovery_lr": 0.5,
            "kl_pairs": 1000, "kl_lr": 0.05, "kl_fit_steps": 1500, "kl_ring_std": 0.2, "kl_samples": 20000,
            "kl_fit_samples": 4000,
            "kl_mc": 200_000, "kl_grid": 561, "kl_grid_lim": 7.0,
        },
        profiles={
            "smoke": {"smoothing_steps": 100, "blob_n": 100, "recovery_steps": 20, "kl_fit_steps": 100,
                      "kl_samples": 2000, "kl_fit_samples": 1000, "kl_mc": 20000, "kl_grid": 241},
        },
        targets={
            profile: {
                "softmax_ce_grad_max_err": "< 1e-9",
                "mse_equals_gaussian_nll_gap": "< 1e-9",
                "bce_equals_bernoulli_nll_err": "< 1e-9",
                "logsumexp_naive_overflows": "== True",
                "stable_ce_max_err": "< 1e-9",
                "label_smoothing_max_err": "< 1e-9",
                "smoothing_gap_err": "< 1e-6",
                "mse_steps_to_90": "> bce_steps_to_90",
            }
            for profile in ("fast", "full")
        },
        datasets=(),
        minutes={"smoke": 0.2, "fast": 0.3, "full": 0.3},
    )
)

register(
    ChapterSpec(
        stem="03_gan_theory",
        title="GAN theory",
        base={
            "torch_threads": 1,  # tiny MLPs: one CPU thread is faster than several
            "grid_lim": 8.0, "grid_points": 4001,  # 1-D integration grid [-lim, lim]
            "pg_mean": 0.5, "pg_std": 1.5,  # the p_g of the numeric checks
            "dstar_lr": 0.1, "dstar_steps": 1000, "mass_floor": 1e-3,
            "batch": 256, "lr": 1e-3, "beta1": 0.5, "beta2": 0.999, "cosine_lr": True, "data_pool": 20000,
            "snapshot_fracs": (0.0, 0.05, 0.2, 1.0),
            "gan1d_latent": 1, "gan1d_hidden": 32, "gan1d_depth": 2, "gan1d_steps": 1500, "sat_demo_steps": 300,
            "ring_std": 0.05, "ring_latent": 2, "ring_hidden": 64, "ring_depth": 3, "ring_steps": 4000,
            "r1_gamma": 0.1,
            "eval_samples": 2000, "n_sigma": 3.0, "min_share": 0.25,
            "collapse_steps": 1000, "collapse_g_steps": 5, "collapse_seeds": 2,
            "linear_steps": 1500, "broken_steps": 300, "zero_grad_steps": 200, "zero_grad_lr": 0.1,
            "plot_ylim_1d": 1.3, "scan_std": 0.3, "scan_max_shift": 4.0, "scan_points": 41,
        },
        profiles={
            "smoke": {"grid_points": 1001, "dstar_steps": 200, "gan1d_steps": 60, "sat_demo_steps": 30,
                      "ring_steps": 150, "collapse_steps": 40, "collapse_seeds": 1, "linear_steps": 60,
                      "broken_steps": 30, "zero_grad_steps": 30, "eval_samples": 400},
            "full": {"gan1d_steps": 3000, "ring_steps": 8000, "collapse_steps": 2000, "linear_steps": 3000},
        },
        targets={
            profile: {
                "jsd_identity_abs_err": "< 1e-3",
                "optimal_d_max_err": "< 1e-2",
                "ns_over_sat_grad_ratio": "> 10",
                "ring_modes_covered": ">= 7",
                "ring_high_quality_frac": ">= 0.7",
                "linear_generator_modes_covered": "< ring_modes_covered",
                "collapsed_run_modes_covered": "< ring_modes_covered",
            }
            for profile in ("fast", "full")
        },
        datasets=(),
        minutes={"smoke": 0.5, "fast": 2, "full": 2},  # fast: 118 s alone, from empty checkpoints
    )
)

register(
    ChapterSpec(
        stem="06_diffusion",
        title="Diffusion and flow matching",
        base={
            "schedule": "cosine", "T": 400, "check_images": 256, "check_groups": 64,
            # the 2-D toy (§4, §5, §10): the ring of chapter 03
            "toy_T": 100, "toy_ring_std": 0.05, "toy_points": 20000, "toy_hidden": 128, "toy_depth": 3,
            "toy_lr": 2e-3, "toy_steps": 3000, "toy_batch": 512, "toy_eval": 2000, "toy_n_sigma": 3.0,
            "toy_quiver": 21, "toy_paths": 40, "toy_euler_steps": 10,
            # MNIST: one UNet on 2x2 pixel blocks, trained with the same budget for ε-prediction and flow matching
            "channels": (32, 64), "blocks": 1, "emb_dim": 128, "num_classes": 10, "patch": 2,
            "batch_size": 64, "lr": 2e-3, "warmup": 50, "train_steps": 900, "ckpt_every": 100,
            "p_uncond": 0.1, "ema_decay": 0.995, "train_limit": None,
            "ddim_steps": 10, "ddim_eta": 1.0, "guidance": 3.0, "sample_batch": 500, "n_save": 2000,
            "cfg_sweep": (0.0, 1.0, 3.0, 5.0), "sweep_n": 1000, "compare_steps": (5, 10, 20), "compare_n": 200,
            "ancestral_images": 6, "demo_steps": (5, 10, 20), "demo_guidance": (0.0, 1.0, 5.0),
        },
        profiles={
            "smoke": {"T": 50, "check_images": 16, "check_groups": 4, "toy_T": 20, "toy_points": 2000,
                      "toy_steps": 30, "toy_eval": 400, "toy_paths": 8, "toy_quiver": 9,
                      "channels": (8, 16), "emb_dim": 32, "batch_size": 16,
                      "train_steps": 10, "ckpt_every": 5, "warmup": 5, "train_limit": 2000, "ddim_steps": 3,
                      "n_save": 300, "ancestral_images": 4, "demo_steps": (2, 3), "demo_guidance": (0.0,),
                      "cfg_sweep": (0.0, 3.0), "sweep_n": 100, "compare_steps": (2, 3), "compare_n": 50},
            "full": {"T": 1000, "channels": (64, 128), "blocks": 2, "train_steps": 12000, "ckpt_every": 1000,
                     "batch_size": 128, "lr": 1e-3, "ema_decay": 0.999, "ddim_steps": 50, "guidance": 2.0,
                     "cfg_sweep": (0.0, 1.0, 2.0, 3.0, 5.0), "sweep_n": 2000, "compare_steps": (10, 25, 50),
                     "compare_n": 2000,
                     "n_save": 10000, "toy_steps": 5000},
        },
        targets={
            profile: {"forward_closed_form_max_err": "< 0.02", "forward_closed_form_max_z": "< 5",
                      "tweedie_max_err": "< 1e-9", "toy2d_modes_covered": ">= 7",
                      "diffusion_cond_accuracy": accuracy, "flow_matching_cond_accuracy": accuracy}
            for profile, accuracy in (("fast", ">= 0.85"), ("full", ">= 0.97"))
        },
        datasets=("mnist",),
        minutes={"smoke": 0.5, "fast": 6, "full": 10},  # fast: 321 s in a run of 00-06 from empty checkpoints
    )
)

register(
    ChapterSpec(
        stem="04_image_gans",
        title="GANs on images",
        base={
            # unconditional GANs: the generator 5x faster than D; the conditional GAN: the order of the two
            # time-scale update rule (Heusel et al. 2017), D twice as fast. Chosen on validation digits (test images
            # outside the judge's reference): with G 5x faster the conditional GAN collapsed within classes
            # (recall 0.31 vs 0.61 with TTUR's order), while the DCGAN scored FID 73 with G fast vs 91 with TTUR's.
            "latent_dim": 64, "batch": 64, "lr_g": 1e-3, "lr_d": 2e-4, "ttur_lr_g": 5e-4, "ttur_lr_d": 1e-3,
            "beta1": 0.5, "beta2": 0.999, "mismatch_n": 1000,
            "train_limit": None, "mlp_hidden": 256, "mlp_depth": 2, "mlp_steps": 1500, "broken_steps": 100,
            "channels": 32, "embed_dim": 16, "dcgan_steps": 1500, "cgan_steps": 1500,
            "chunk_steps": 100, "snapshot_fracs": (0.0, 0.1, 0.3, 1.0), "smooth": 25, "grid_n": 32,
            "interp_rows": 3, "interp_steps": 10, "norm_pairs": 1000, "style_cols": 8, "widget_samples": 8,
            "save_samples": 2000, "timing_repeats": 3, "ones_probe": 800,
        },
        profiles={
            "smoke": {"train_limit": 2000, "mlp_steps": 20, "broken_steps": 5, "channels": 8, "dcgan_steps": 20,
                      "cgan_steps": 20, "chunk_steps": 10, "smooth": 5, "save_samples": 1000},
            "full": {"channels": 64, "batch": 128, "mlp_steps": 8000, "dcgan_steps": 8000, "cgan_steps": 8000,
                     "chunk_steps": 500, "smooth": 100},
        },
        targets={
            "fast": {"mnist_classifier_test_acc": ">= 0.99", "dcgan_fid": "< mlp_gan_fid", "cgan_accuracy": ">= 0.90",
                     "cgan_recall": ">= 0.30"},
            "full": {"mnist_classifier_test_acc": ">= 0.99", "dcgan_fid": "< mlp_gan_fid", "cgan_accuracy": ">= 0.97",
                     "cgan_recall": ">= 0.5"},
        },
        datasets=("mnist",),
        minutes={"smoke": 0.6, "fast": 6.0, "full": 8.0},  # fast: 316 s, training the MNIST judge too
    )
)

register(
    ChapterSpec(
        stem="05_vae",
        title="Variational autoencoders",
        base={
            "kl_dim": 4, "kl_mc_samples": 2_000_000, "grad_var_dims": (1, 2, 4, 8, 16, 32, 64),
            "grad_var_samples": 20_000, "grad_var_shift": 1.0,
            "latent_dim": 16, "channels": 16, "hidden": 256, "batch_size": 64, "lr": 2e-3, "warmup_frac": 0.05,
            "epochs": 10, "train_limit": None, "test_limit": None,
            "latent2_epochs": 2, "manifold_n": 20, "interp_steps": 10,
            "betas": (0.25, 0.5, 1.0, 2.0, 4.0), "beta_epochs": 1, "beta_train_limit": 20_000, "beta_lr": 1e-3,
            "beta_samples": 8,
            "iwae_k": 50, "iwae_images": 500, "save_samples": 2000, "inactive_kl": 0.01,
        },
        profiles={
            "smoke": {"kl_mc_samples": 50_000, "grad_var_samples": 2000, "grad_var_dims": (1, 4, 16),
                      "epochs": 1, "train_limit": 2000, "test_limit": 500, "latent2_epochs": 1, "manifold_n": 8,
                      "betas": (0.5, 2.0), "beta_train_limit": 1000, "iwae_k": 5, "iwae_images": 100,
                      "save_samples": 1000},
            "full": {"channels": 32, "hidden": 512, "latent_dim": 32, "lr": 1e-3, "batch_size": 128, "epochs": 40,
                     "latent2_epochs": 20, "beta_epochs": 5, "beta_train_limit": None, "iwae_k": 500,
                     "iwae_images": 10_000, "save_samples": 10_000},
        },
        targets={
            "fast": {"vae_test_nelbo_nats": "<= 100", "kl_closed_form_mc_abs_err": "< 0.01",
                     "reparam_vs_score_variance_ratio": "> 10"},
            "full": {"vae_test_nelbo_nats": "<= 90", "kl_closed_form_mc_abs_err": "< 0.01",
                     "reparam_vs_score_variance_ratio": "> 10"},
        },
        datasets=("mnist",),
        minutes={"smoke": 0.6, "fast": 5.0, "full": 8.0},
    )
)


# ---- chapter 10 (text-to-speech) -----------------------------------------------------------
_TTS_MEL = {"sample_rate": 8000, "n_fft": 512, "win_length": 400, "hop_length": 100, "n_mels": 64, "mel_floor": 1e-4}

COMPONENTS["digit_recognizer"] = ChapterSpec(
    stem="digit_recognizer",
    title="CTC spoken-digit recogniser: the judge of synthesised speech (chapter 10)",
    base={**_TTS_MEL, "channels": 128, "dilations": (1, 2, 4, 8), "dropout": 0.1, "dyn_range": 8.0, "steps": 800,
          "steps_per_epoch": 100, "batch_size": 32, "lr": 3e-3, "max_digits": 4, "p_single": 0.4,
          "freq_mask": 8, "time_mask": 10, "seed": 0,
          "exclude_speakers": ("lucas",),  # chapter 10's TTS speaker: the judge must never have heard that voice
          # augmentations for an unseen voice: background noise at -60..-25 dB of the peak and a random spectral tilt
          # of up to ±1 nat. Accuracy on lucas's 450 train clips (never heard; fast profile, one seed each): none
          # 0.84, noise + tilt 0.84, + speed perturbation 0.9-1.1 0.83, + mel warp 0.88-1.12 0.76, speed alone 0.85-1.15
          # 0.76-0.80 (test clips). The judge's ceiling on this voice is about 0.85 whatever we tried.
          "speed_range": None, "noise_db": (-60.0, -25.0), "eq_nats": 1.0, "warp_range": None},
    profiles={"smoke": {"channels": 32, "steps": 20, "steps_per_epoch": 10},
              "full": {"channels": 256, "dilations": (1, 2, 4, 8, 1, 2, 4, 8), "steps": 3000, "steps_per_epoch": 500,
                       "batch_size": 64}},
)


# ---- chapter 09: text classification and sentiment (the sentiment model served to chapters 12 and 14) ----
COMPONENTS["sentiment_classifier"] = ChapterSpec(
    stem="sentiment_classifier",
    title="Financial-tweet sentiment classifiers; the best by validation macro-F1 is served (chapters 09, 12, 14)",
    base={
        "candidates": ("tfidf", "textcnn", "bilstm", "transformer"),
        "val_fraction": 0.15, "split_seed": 0, "train_limit": None, "class_weights": True, "seed": 0,
        "ece_bins": 15,
        "tfidf": {"ngrams": (1, 2), "min_df": 2, "C": (0.5, 2.0, 8.0), "solver": "saga", "tol": 1e-3,
                  "max_iter": 300},
        "min_freq": 2, "max_len": 48, "batch_size": 64, "weight_decay": 0.01, "warmup_frac": 0.1, "grad_clip": 1.0,
        "textcnn": {"embed_dim": 96, "kernel_sizes": (1, 2, 3), "channels": 96, "dropout": 0.5, "epochs": 8,
                    "lr": 3e-3},
        "bilstm": {"embed_dim": 64, "hidden": 64, "layers": 1, "dropout": 0.3, "epochs": 6, "lr": 3e-3},
        "transformer": {"d_model": 64, "heads": 4, "layers": 2, "ff": 128, "dropout": 0.1, "epochs": 8,
                        "lr": 2e-3},
    },
    profiles={
        "smoke": {
            "train_limit": 600,
            "tfidf": {"ngrams": (1, 2), "min_df": 2, "C": (2.0,), "solver": "saga", "tol": 1e-3, "max_iter": 100},
            "textcnn": {"embed_dim": 16, "kernel_sizes": (1, 2), "channels": 16, "dropout": 0.5, "epochs": 1,
                        "lr": 3e-3},
            "bilstm": {"embed_dim": 16, "hidden": 16, "layers": 1, "dropout": 0.3, "epochs": 1, "lr": 3e-3},
            "transformer": {"d_model": 16, "heads": 2, "layers": 1, "ff": 32, "dropout": 0.1, "epochs": 1,
                            "lr": 2e-3},
        },
        "full": {
            "tfidf": {"ngrams": (1, 2), "min_df": 2, "C": (0.5, 1.0, 2.0, 4.0, 8.0), "solver": "saga", "tol": 1e-3,
                      "max_iter": 1000},
            "textcnn": {"embed_dim": 128, "kernel_sizes": (1, 2, 3, 4), "channels": 128, "dropout": 0.5,
                        "epochs": 15, "lr": 2e-3},
            "bilstm": {"embed_dim": 128, "hidden": 128, "layers": 1, "dropout": 0.4, "epochs": 12, "lr": 2e-3},
            "transformer": {"d_model": 128, "heads": 4, "layers": 2, "ff": 256, "dropout": 0.1, "epochs": 20,
                            "lr": 1e-3},
        },
    },
)

register(
    ChapterSpec(
        stem="09_sentiment",
        title="Text classification and sentiment analysis",
        base={
            "torch_threads": 1,  # small models, short batches: one thread each is fastest on a shared 2-core CPU
            "ablation_archs": ("tfidf", "textcnn"),  # retrained without class weights to show their effect
            "examples_per_class": 2, "top_ngrams": 8, "errors_shown": 12, "timing_texts": 2000,
            "check_n": 64,  # size of the random numeric checks (cross-entropy, weighted CE)
            "n_boot": 1000,  # paired bootstrap resamples of the test tweets for intervals of macro-F1 differences
        },
        profiles={"smoke": {"timing_texts": 200, "n_boot": 200}},
        targets={
            "fast": {
                "best_macro_f1": ">= 0.75", "best_accuracy": ">= 0.80", "expected_calibration_error": "<= 0.05",
                "macro_f1_sklearn_abs_err": "< 1e-12", "tfidf_sklearn_max_abs_err": "< 1e-9",
                "weighted_ce_abs_err": "< 1e-9", "ece_by_hand_abs_err": "< 1e-12",
                "temperature_keeps_predictions": "== True", "served_is_best": "== True",
                "prior_bias_val_mean_err": "< 1e-4",
            },
            "full": {
                "best_macro_f1": ">= 0.76", "best_accuracy": ">= 0.80", "expected_calibration_error": "<= 0.05",
                "macro_f1_sklearn_abs_err": "< 1e-12", "tfidf_sklearn_max_abs_err": "< 1e-9",
                "weighted_ce_abs_err": "< 1e-9", "ece_by_hand_abs_err": "< 1e-12",
                "temperature_keeps_predictions": "== True", "served_is_best": "== True",
                "prior_bias_val_mean_err": "< 1e-4",
            },
        },
        datasets=("financial-tweets",),
        minutes={"smoke": 0.5, "fast": 3.0, "full": 5.0},
    )
)

register(
    ChapterSpec(
        stem="07_language_models",
        title="Language models: n-grams, RNNs, LSTMs",
        # the char-LSTM itself is the shared COMPONENTS["char_lstm"] row (chapter 08 races it in short runs of its own)
        base={
            # smoke: one CPU thread (tiny models; on a busy machine two threads can be many times slower)
            "torch_threads": torch.get_num_threads(),
            "show_chars": 250, "min_count": 5,
            "addk_grid": (0.003, 0.01, 0.03, 0.1, 0.3, 1.0), "heldout_frac": 0.1, "max_order": 6,
            "heatmap_chars": " \netaoinsrhl.,:", "ngram_sample_chars": 300,
            "gate_check_input": 5, "gate_check_hidden": 8, "gate_check_batch": 3,
            "vg_steps": 100, "vg_embed": 32, "vg_hidden": 128, "vg_batch": 16, "vg_forget_bias": 3.0,
            "prompt": "ROMEO:\n", "probe_prompt": "ROMEO:\nI will ", "sample_chars": 400,
            "temperatures": (0.5, 1.0, 1.5), "top_k": 10, "top_p": 0.9,
            "diversity_excerpts": 4, "diversity_chars": 2000,
            "sgns_dim": 64, "sgns_window": 4, "sgns_negatives": 5, "sgns_subsample": 1e-3, "sgns_epochs": 3,
            "sgns_batch": 4096, "sgns_lr": 0.02, "sgns_train_limit": None,
            "neighbour_words": ("king", "queen", "romeo", "father", "death", "three", "york", "thou"),
            "wlm_hidden": 128, "wlm_steps": 300, "wlm_batch": 32, "wlm_block": 32, "wlm_lr": 3e-3,
            "wlm_eval_every": 50, "wlm_eval_windows": 200, "wlm_final_windows": None, "wlm_bf16": True,
            # byte-level BPE (§1): the plain trainer of the notebook is checked on a slice, the package's on the
            # whole training text (None) against Hugging Face tokenizers at bpe_vocab tokens
            "bpe_check_chars": 100_000, "bpe_check_merges": 40, "bpe_train_chars": None, "bpe_vocab": 1024,
            "bpe_sizes": (256, 512, 1024, 2048, 4096),
        },
        profiles={
            "smoke": {"torch_threads": 1, "addk_grid": (0.1, 1.0), "max_order": 3, "ngram_sample_chars": 60,
                      "bpe_check_chars": 20_000, "bpe_check_merges": 10, "bpe_train_chars": 200_000,
                      "bpe_vocab": 512, "bpe_sizes": (256, 512, 1024),
                      "vg_steps": 30, "vg_hidden": 32, "sample_chars": 80, "diversity_excerpts": 2,
                      "diversity_chars": 300,
                      "sgns_epochs": 1, "sgns_train_limit": 20_000, "wlm_hidden": 32, "wlm_steps": 10,
                      "wlm_eval_every": 5, "wlm_eval_windows": 20, "wlm_final_windows": 20},
            "full": {"max_order": 7, "sgns_epochs": 5, "wlm_hidden": 256, "wlm_steps": 1500, "wlm_eval_every": 150,
                     "wlm_bf16": False},
        },
        targets={
            "fast": {"lstm_val_loss": "<= 1.75", "trigram_val_loss": "< bigram_val_loss",
                     "lstm_val_loss_below_trigram": "== True", "lstm_cell_check_max_err": "< 1e-5",
                     "sample_distinct_2": "> greedy_distinct_2", "bpe_matches_tokenizers": "== 1.0",
                     "bpe_round_trip_exact": "== True", "bpe_plain_matches_package": "== True"},
            "full": {"lstm_val_loss": "<= 1.50", "trigram_val_loss": "< bigram_val_loss",
                     "lstm_val_loss_below_trigram": "== True", "lstm_cell_check_max_err": "< 1e-5",
                     "sample_distinct_2": "> greedy_distinct_2", "bpe_matches_tokenizers": "== 1.0",
                     "bpe_round_trip_exact": "== True", "bpe_plain_matches_package": "== True"},
        },
        datasets=("tinyshakespeare",),
        minutes={"smoke": 0.5, "fast": 4.0, "full": 6.0},
    )
)

register(
    ChapterSpec(
        stem="08_transformers_gpt",
        title="Attention, Transformers and a mini-GPT",
        base={
            "scale_check_dims": (4, 16, 64, 256), "attn_batch": 2, "attn_heads": 4, "attn_len": 12, "attn_dim": 16,
            # nanoGPT's CPU configuration (config/train_shakespeare_char.py with device=cpu, compile=False, n_layer=4,
            # n_head=4, n_embd=128, block_size=64, batch_size=12, max_iters=2000, lr_decay_iters=2000, dropout=0.0),
            # measured by the course on a 2-core CPU of this project's kind: val loss 1.8857 after 94.3 s of training.
            # (nanoGPT's README reports "about ~3 minutes" for "a loss of only 1.88" on the author's machine.)
            "reference_seconds": 95.0, "nanogpt_cpu_loss": 1.8857, "nanogpt_cpu_seconds": 94.3,
            # LSTM vs GPT race: same precision (fp32: bf16 autocast speeds the LSTM ~2x on this CPU and the GPT not
            # at all), same context in training and evaluation, same wall-clock budget, several seeds. The
            # per-seed budget is short (10 s; chapter 07's LSTM gets 120 s) so that the chapter stays within its time.
            "race_seconds": 10.0, "race_seeds": (0, 1, 2), "race_block": 64, "race_bf16": False,
            "race_eval_every": 50, "race_eval_windows": 100, "kv_check_sequences": 4,
            # §7, modern choices at the race's budget: RoPE on the race's seeds; a BPE GPT on bpe_block tokens
            # (about the race's 64 characters at ~2 characters per token), bpe_seeds seeds
            "rope_extrapolate": 2, "bpe_vocab": 512, "bpe_block": 32, "bpe_seeds": (0, 1),
            "sample_prompt": "JULIET:\n", "sample_chars": 500, "temperature": 0.8, "map_chars": 16, "kv_repeats": 5,
            # LoRA / full fine-tuning / from scratch on Tang poetry (aigc_course/finetune.py)
            # tuned on the fast mini-GPT (held-out loss after 500 steps: full 5.54, LoRA r=8 α=16 5.60, α=32 5.68,
            # r=16 α=64 5.72, scratch 5.77; a learning rate of 1e-2 was worse for every method, 1e-3 no better)
            "ft_collection": "tang", "ft_vocab": 2000, "ft_val_fraction": 0.1, "ft_batch": 16, "ft_steps": 100,
            "ft_warmup": 10, "ft_eval_every": 50, "ft_eval_windows": 100,
            # rank sweep, alpha = 2 r (the tuned r=8 alpha=16 ratio), each method with several seeds; 100 steps per run
            # (~19 steps/s on a quiet 2-core CPU) so that 15 runs fit the chapter's time (the 500-step figures above
            # are from the tuning runs). Fast run on a lightly shared 2-core machine: 363 s with 12-s races (GPT cell
            # 106 s, race 132 s, sweep 114 s); with 10-s races and no second race evaluation about 5.5 min alone
            "lora_r": 8, "lora_alpha": 16, "lora_ranks": (1, 4, 16), "lora_alpha_per_rank": 2.0, "ft_seeds": (0, 1, 2),
            "lora_lr": 3e-3, "full_lr": 3e-3, "scratch_lr": 3e-3,
            "poem_samples": 4, "poem_chars": 120, "poem_temperature": 0.8,
        },
        profiles={
            "smoke": {"scale_check_dims": (4, 64), "sample_chars": 100, "map_chars": 16, "kv_repeats": 1,
                      "race_seconds": 1.0, "race_block": 32, "race_eval_every": 10, "race_eval_windows": 10,
                      "kv_check_sequences": 2, "bpe_vocab": 300, "bpe_block": 16, "bpe_seeds": (0,),
                      "ft_collection": "tang300", "ft_vocab": 300, "ft_steps": 6, "ft_warmup": 2, "ft_eval_every": 3,
                      "ft_eval_windows": 10, "poem_samples": 2, "poem_chars": 40},
            "full": {"race_seconds": 60.0, "race_block": 256,
                     "ft_steps": 2000, "ft_batch": 32, "ft_warmup": 100, "ft_eval_every": 250, "ft_eval_windows": None,
                     "lora_lr": 1e-3, "full_lr": 1e-3, "scratch_lr": 1e-3, "sample_chars": 1000},
        },
        targets={
            "fast": {"attention_sdpa_max_err": "< 1e-5", "causal_sdpa_max_err": "< 1e-5", "mha_max_err": "< 1e-5",
                     "rope_relative_max_err": "< 1e-5",
                     # nanoGPT's CPU configuration measured on this project's 2-core CPU: 1.8857 after 94.3 s
                     "gpt_val_loss": "<= 1.70", "gpt_val_loss_at_95s": "< 1.8857", "kv_cache_max_logit_diff": "< 1e-3",
                     "kv_cache_argmax_agreement": ">= 0.99", "kv_cache_speedup": "> 1",
                     "lora_trainable_params": "< full_ft_trainable_params"},
            "full": {"attention_sdpa_max_err": "< 1e-5", "causal_sdpa_max_err": "< 1e-5", "mha_max_err": "< 1e-5",
                     "rope_relative_max_err": "< 1e-5",
                     "gpt_val_loss": "<= 1.47", "kv_cache_max_logit_diff": "< 1e-2",
                     "kv_cache_argmax_agreement": ">= 0.99", "kv_cache_speedup": "> 1",
                     "lora_trainable_params": "< full_ft_trainable_params"},
        },
        datasets=("tinyshakespeare", "chinese-poetry"),
        minutes={"smoke": 0.5, "fast": 6.0, "full": 8.0},
    )
)

register(
    ChapterSpec(
        stem="10_text_to_speech",
        title="Text-to-speech",
        base={
            "torch_threads": 1,  # small sequential models: one thread is fastest, and robust on a busy machine
            **_TTS_MEL, "speaker": "lucas", "trim_db": 35.0, "gap_frames": (6, 10), "tail_frames": 3, "max_digits": 4,
            "heldout_texts": 40, "heldout_lengths": (2, 3, 4), "heldout_seed": 10, "stats_utterances": 200,
            "gl_iters": 32, "gl_momentum": 0.99, "gl_iter_scan": (1, 4, 16, 32, 64), "mel_scan": (40, 64, 80),
            "scan_clips": 10, "ctc_toy_steps": 6, "diag_band": 0.2, "steps_per_epoch": 50,
            # duration model (FastSpeech-style)
            "dur_dim": 128, "dur_layers": 3, "dur_steps": 200, "dur_batch": 16, "dur_lr": 2e-3,
            # Tacotron
            "r": 2, "enc_dim": 128, "prenet_dim": 64, "rnn_dim": 128, "attn_dim": 128, "loc_filters": 16,
            "loc_kernel": 15, "postnet_dim": 128, "postnet_layers": 3, "taco_steps": 700, "taco_batch": 16,
            "taco_lr": 2e-3, "warmup": 50, "ga_weight": 2.0, "ga_g": 0.2, "stop_pos_weight": 5.0, "grad_clip": 1.0,
            "snapshot_fracs": (0.0, 0.1, 0.2, 0.4, 1.0), "max_decoder_steps": 250, "demo_max_steps": 10,
            # vocoder (HiFi-GAN-style)
            "voc_channels": 128, "voc_upsample": (5, 5, 4), "voc_periods": (2, 3, 5), "voc_scales": 2,
            "voc_disc_channels": (16, 32, 64), "voc_steps": 800, "voc_adv_from": 700, "voc_batch": 16,
            "voc_segment": 16, "voc_lr": 2e-3, "voc_stft_weight": 2.5, "voc_fm_weight": 2.0,
            "demo_text": "2 0 2 4",
        },
        profiles={
            "smoke": {"heldout_texts": 4, "stats_utterances": 20, "gl_iters": 4, "gl_iter_scan": (1, 4),
                      "mel_scan": (40, 64), "scan_clips": 2, "steps_per_epoch": 5,
                      "dur_dim": 16, "dur_steps": 5, "dur_batch": 4,
                      "enc_dim": 16, "prenet_dim": 16, "rnn_dim": 32, "attn_dim": 16, "loc_filters": 4,
                      "postnet_dim": 16, "taco_steps": 4, "taco_batch": 4, "warmup": 2, "max_decoder_steps": 30,
                      "voc_channels": 16, "voc_disc_channels": (4, 8, 8), "voc_steps": 4, "voc_adv_from": 2,
                      "voc_batch": 4},
            "full": {"heldout_texts": 100, "stats_utterances": 500, "gl_iters": 64, "scan_clips": 20,
                     "steps_per_epoch": 250, "dur_dim": 256, "dur_steps": 1500, "dur_batch": 32, "dur_lr": 1e-3,
                     "enc_dim": 256, "prenet_dim": 128, "rnn_dim": 512, "attn_dim": 128, "loc_filters": 32,
                     "loc_kernel": 31, "postnet_dim": 256, "postnet_layers": 5, "taco_steps": 2000,
                     "taco_batch": 32, "taco_lr": 1e-3, "warmup": 200, "voc_channels": 256,
                     "voc_disc_channels": (32, 64, 128), "voc_steps": 4000, "voc_adv_from": 1000, "voc_batch": 32,
                     "voc_segment": 24, "voc_lr": 5e-4},
        },
        targets={
            "fast": {"recognizer_real_test_acc": ">= 0.97", "recognizer_unseen_speaker_acc": ">= 0.80",
                     "griffinlim_real_der": "<= 0.05", "duration_model_der": "<= 0.1", "tacotron_der": "<= 0.25",
                     "tacotron_alignment_diagonality": ">= 0.8", "mel_formula_max_err": "< 1e-4",
                     "ctc_brute_force_abs_err": "< 1e-9", "attention_energy_max_err": "< 1e-5",
                     "saved_wavs_der": "<= 0.25"},
            "full": {"recognizer_real_test_acc": ">= 0.97", "recognizer_unseen_speaker_acc": ">= 0.80",
                     "griffinlim_real_der": "<= 0.05", "duration_model_der": "<= 0.05", "tacotron_der": "<= 0.1",
                     "tacotron_alignment_diagonality": ">= 0.9", "mel_formula_max_err": "< 1e-4",
                     "ctc_brute_force_abs_err": "< 1e-9", "attention_energy_max_err": "< 1e-5",
                     "vocoder_der": "<= 0.1", "saved_wavs_der": "<= 0.1"},
        },
        datasets=("fsdd", "ljspeech-sample"),
        minutes={"smoke": 0.7, "fast": 7.5, "full": 10.0},  # fast alone, empty checkpoints: 421 s (limit 8)
    )
)

register(
    ChapterSpec(
        stem="12_sentiment_monitoring",
        title="App: financial sentiment monitoring",
        base={
            "torch_threads": 1,  # the served classifier is small; one thread is fastest on a shared CPU
            # calibration streams replay chapter 09's validation subset, evaluation streams the test split
            "calibration_seeds": (1, 2, 3), "evaluation_seeds": tuple(range(11, 21)), "n_boot": 2000,
            "days": 3, "n_bursts": 8, "n_decoys": 8, "event_tweets": 6, "burst_minutes": 60, "burst_gap_min": 180,
            "burst_bearish_share": 0.75, "rate_per_hour": 1.0, "min_pool_bearish": 2, "min_pool_other": 4,
            # companies by name; no investment bank: "target cut at Deutsche Bank" is about another company
            "ticker_names": {"TSLA": ("Tesla",), "UBER": ("Uber",), "AMZN": ("Amazon",), "BA": ("Boeing",),
                             "F": ("Ford Motor", "Ford"), "MSFT": ("Microsoft",), "HD": ("Home Depot",),
                             "AAPL": ("Apple",), "T": ("AT&T",), "FB": ("Facebook",), "ZM": ("Zoom Video",),
                             "NFLX": ("Netflix",), "DIS": ("Disney",), "GE": ("General Electric",)},
            "bin_minutes": 10, "index_window_bins": 6, "z_window_bins": 6, "baseline_bins": 144, "sigma_floor": 0.5,
            "cusum_k": 0.3, "match_tolerance_min": 60,
            "z_grid": (1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 7.0, 8.0),
            "cusum_grid": (0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0),
            "detector": "zscore", "dashboard_tickers": 3, "check_bins": 40,
        },
        profiles={"smoke": {"days": 1, "n_bursts": 3, "n_decoys": 3, "calibration_seeds": (1,),
                            "evaluation_seeds": (11, 12)}},
        targets={
            "fast": {"alert_f1_gain_over_volume": "> 0", "zscore_by_hand_max_err": "< 1e-9",
                     "cusum_by_hand_max_err": "< 1e-9", "index_by_hand_max_err": "< 1e-9"},
            "full": {"alert_f1_gain_over_volume": "> 0", "zscore_by_hand_max_err": "< 1e-9",
                     "cusum_by_hand_max_err": "< 1e-9", "index_by_hand_max_err": "< 1e-9"},
        },
        datasets=("financial-tweets",),
        minutes={"smoke": 0.5, "fast": 1.0, "full": 2.0},
    )
)

register(
    ChapterSpec(
        stem="13_recommendation",
        title="App: personalised recommendation",
        base={
            "torch_threads": 1,  # embedding look-ups in small batches: one thread is fastest on a shared CPU
            "k": 10, "cold_max_ratings": 10,  # cold-start slice: test items with at most this many training ratings
            "split_seed": 13, "session_gap_min": 30, "n_boot": 2000,  # random per-user hold-out; bootstrap over users
            # MF: dim and BPR-Opt's λ ("reg") are chosen on validation NDCG@10 from this grid
            "mf_grid": {"dim": (32, 64), "reg": (0.0, 1e-3)},
            "mf": {"dim": 64, "epochs": 15, "batch_size": 1024, "lr": 5e-3, "weight_decay": 0.0, "patience": 3},
            "text": {"dim": 64, "epochs": 12, "batch_size": 1024, "lr": 5e-3, "weight_decay": 0.0, "patience": 3},
            "history": 20, "decay": 0.8, "svd_dim": 64, "min_df": 2,
            "space_items": 1500, "space_labels": 12, "show_users": 3,
            "space_genres": ("Animation", "Horror", "Documentary", "Romance", "Sci-Fi", "War"),
        },
        profiles={
            "smoke": {"mf": {"dim": 16, "epochs": 1, "batch_size": 2048, "lr": 5e-3, "weight_decay": 0.0,
                             "patience": 1},
                      "text": {"dim": 16, "epochs": 1, "batch_size": 2048, "lr": 5e-3, "weight_decay": 0.0,
                               "patience": 1},
                      "svd_dim": 16, "space_items": 300, "mf_grid": {"dim": (16,), "reg": (0.0, 1e-3)}},
            "full": {"mf": {"dim": 128, "epochs": 40, "batch_size": 1024, "lr": 3e-3, "weight_decay": 0.0,
                            "patience": 5},
                     "text": {"dim": 128, "epochs": 30, "batch_size": 1024, "lr": 3e-3, "weight_decay": 0.0,
                              "patience": 5},
                     "svd_dim": 128},
        },
        targets={
            "fast": {"text_vs_popularity_ndcg10": ">= 1.2", "text_vs_popularity_hr10": ">= 1.2",
                     "ndcg_by_hand_abs_err": "< 1e-12", "bpr_grad_max_err": "< 1e-9"},
            "full": {"text_vs_popularity_ndcg10": ">= 1.2", "text_vs_popularity_hr10": ">= 1.2",
                     "ndcg_by_hand_abs_err": "< 1e-12", "bpr_grad_max_err": "< 1e-9"},
        },
        datasets=("movielens-small",),
        minutes={"smoke": 0.7, "fast": 3.0, "full": 5.0},
    )
)

register(
    ChapterSpec(
        stem="11_customer_service",
        title="App: customer-service assistant",
        base={
            "torch_threads": 1,  # tiny matrices and a small GPT: one thread is fastest on a shared CPU
            "seed": 0, "test_seed": 1,  # slot values filled into the train / held-out question templates
            "char_ngrams": (3, 5), "answers_as_documents": True, "cv_folds": 5, "cv_refit_vectors": True,
            "tfidf_weight_grid": (1.0, 0.85, 0.7, 0.5, 0.3, 0.0),  # chosen by cross-validation on train
            "mix_grid": (0.0, 0.25, 0.5, 0.75, 1.0),  # classifier share of the score, chosen the same way
            "clf_c": 10.0, "word_ngrams": (1, 2), "clf_char_ngrams": (2, 5),
            "platt_l2": 1e-2, "threshold_grid": tuple(round(0.05 * i, 2) for i in range(1, 20)),
            "w2v_dim": 64, "w2v_window": 4, "w2v_epochs": 5, "w2v_min_count": 2, "w2v_repeats": 20,
            # the generator (grounding.py): chapter 08's GPT with RoPE on chapter 07's byte-level BPE (512 tokens,
            # ~2.3 characters per token on these rows), trained from scratch on ungrounded and grounded rows, half
            # each; a character model of the same size needed 600 steps for the ungrounded rows alone and did not
            # learn to use a passage in 300 steps of both (2026-12-04 spike)
            "generate": True, "dialogue_repeats": 3, "changed_passage_share": 0.5, "bpe_vocab": 512,
            "dialogue_threads": 2,
            "dialogue_gpt": {"n_layer": 2, "n_head": 4, "n_embd": 128, "block_size": 256, "dropout": 0.0,
                             "positions": "rope"},
            "dialogue_train": {"steps": 900, "batch_size": 16, "lr": 3e-3, "warmup": 20, "weight_decay": 0.01,
                               "log_every": 100},
            "gen_questions": 203, "gen_max_tokens": 120, "eval_samples": 4,  # sampled replies per held-out question
            # grounded + DPO: on-policy pairs on train questions judged by the checker
            # (160 prompts, 40 steps at lr 3e-5: 49 pairs, sampled-reply reduction 0.014, interval -0.010 to 0.038)
            "grounding_dpo": {"prompts": 320, "samples": 4, "beta": 0.1, "steps": 60, "batch_size": 16, "lr": 5e-5,
                              "seed": 0, "threads": 2},
            "checker_min_cosine": 0.5,  # a reply is on intent only this close (TF-IDF cosine) to its reference
            "curve_sizes": (2, 4, 8, 16, 32),  # train paraphrases per intent in the learning curve (32 = all)
        },
        profiles={
            "smoke": {"w2v_epochs": 1, "w2v_repeats": 3, "dialogue_repeats": 1, "gen_questions": 4, "cv_folds": 3,
                      "gen_max_tokens": 30, "curve_sizes": (2, 8), "bpe_vocab": 300, "eval_samples": 2,
                      "dialogue_gpt": {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 640, "dropout": 0.0,
                                       "positions": "rope"},
                      "dialogue_train": {"steps": 20, "batch_size": 8, "lr": 3e-3, "warmup": 5, "weight_decay": 0.01,
                                         "log_every": 10},
                      "grounding_dpo": {"prompts": 8, "samples": 2, "beta": 0.1, "steps": 3, "batch_size": 4,
                                        "lr": 1e-4, "seed": 0, "threads": 2}},
            "full": {"w2v_epochs": 10, "dialogue_repeats": 6, "gen_questions": 203,
                     "dialogue_gpt": {"n_layer": 4, "n_head": 4, "n_embd": 256, "block_size": 256, "dropout": 0.1,
                                      "positions": "rope"},
                     "dialogue_train": {"steps": 2000, "batch_size": 32, "lr": 1e-3, "warmup": 100,
                                        "weight_decay": 0.01, "log_every": 250},
                     "grounding_dpo": {"prompts": 640, "samples": 4, "beta": 0.1, "steps": 120, "batch_size": 16,
                                       "lr": 5e-5, "seed": 0, "threads": None}},
        },
        targets={
            "fast": {"intent_top1_acc": ">= 0.90", "out_of_scope_handover_recall": ">= 0.80",
                     "slot_case_accuracy": ">= 1.0", "grounded_unsupported_fact_rate": "<= 0.05"},
            "full": {"intent_top1_acc": ">= 0.90", "out_of_scope_handover_recall": ">= 0.80",
                     "slot_case_accuracy": ">= 1.0", "grounded_unsupported_fact_rate": "<= 0.05"},
        },
        datasets=(),
        minutes={"smoke": 0.7, "fast": 6.0, "full": 5.0},
    )
)


register(
    ChapterSpec(
        stem="15_scaling_out",
        title="Scaling out: data-parallel training",
        # The equivalence runs use chapter 08's fast mini-GPT sizes in every profile (2 gloo CPU processes, float32,
        # dropout 0); a machine with CUDA adds a run with chapter 08's full sizes on every GPU (mixed precision,
        # gradient accumulation), launched with torchrun.
        base={
            "n_layer": 2, "n_head": 4, "n_embd": 128, "block_size": 64, "global_batch": 32, "steps": 150,
            "lr": 4e-3, "warmup": 20, "weight_decay": 0.1, "grad_clip": 1.0, "eval_windows": 200,
            "threads_per_process": 1, "bucket_cap_mb": 25.0, "timeout_s": 120.0, "deadline_s": 600.0,
            "comm_sizes": (2**10, 2**13, 2**16, 2**18, 2**20, 2**22), "comm_repeats": 10, "probe_every": 10,
            "curve_tolerance": 1e-5,  # relative, per step: float32 reduction order gives ~1e-7 to 1e-6
            "check_batch": 8, "check_world_sizes": (2, 4), "accum_steps": 2, "accum_run_steps": 30,
            "ring_world_sizes": (2, 3, 4, 8), "ring_numel": 1200,
            "precision_samples": 100_000, "small_grad": 1e-8, "loss_scale_log2": 16,
            "gpu_n_layer": 6, "gpu_n_head": 6, "gpu_n_embd": 384, "gpu_block_size": 256, "gpu_global_batch": 64,
            "gpu_grad_accum": 2, "gpu_steps": 200, "gpu_lr": 1e-3, "gpu_warmup": 50, "gpu_mixed_precision": "auto",
        },
        profiles={
            "smoke": {"n_embd": 32, "block_size": 32, "global_batch": 8, "steps": 6, "warmup": 2, "eval_windows": 10,
                      "comm_sizes": (2**10, 2**16), "comm_repeats": 2, "probe_every": 2, "accum_run_steps": 4,
                      "deadline_s": 240.0, "precision_samples": 10_000, "gpu_n_layer": 2, "gpu_n_head": 4,
                      "gpu_n_embd": 128, "gpu_block_size": 64, "gpu_steps": 20, "gpu_warmup": 5},
            "full": {"steps": 200, "gpu_steps": 600},
        },
        targets={
            profile: {
                "max_curve_gap": "< 1e-5", "cli_vs_notebook_gap": "< 1e-5", "accum_curve_gap": "< 1e-5",
                "replica_max_diff": "== 0", "grad_avg_max_err": "< 1e-6", "accum_grad_max_err": "< 1e-6",
                "ring_bytes_formula_ok": "== True", "precision_bounds_ok": "== True",
                "two_proc_final_loss": "< 2.6",
            }
            for profile in ("fast", "full")
        },
        datasets=("tinyshakespeare",),
        minutes={"smoke": 0.8, "fast": 2.0, "full": 7.0},
    )
)


register(
    ChapterSpec(
        stem="14_responsible_aigc",
        title="Risks and responsibility",
        base={
            "torch_threads": 1,  # measured: on a busy 2-core machine two threads made the attacks ~5x slower
            # adversarial examples (pixels in [0, 1]); the recorded figures use eps = 0.1 and PGD-20
            "eps": 0.1, "eps_grid": (0.0, 0.05, 0.1, 0.15, 0.2, 0.3), "pgd_steps": 20, "attack_images": 500,
            "curve_pgd_steps": 10, "curve_images": 300, "check_images": 256, "linear_eps": 1e-5, "linear_jitter": 0.01,
            "show_attacks": 6,
            # adversarial fine-tuning of a copy of the course classifier (Madry et al. 2018)
            "adv_eps": 0.1, "adv_pgd_steps": 2, "adv_steps": 100, "adv_batch": 128, "adv_lr": 1e-3, "adv_chunk": 50,
            "train_limit": None,
            # interpretability
            "saliency_images": 6, "ig_steps": 64, "saliency_stat_images": 500,
            # compact generators and the detector of generated digits. A diffusion model worth detecting needs
            # minutes of CPU training (chapter 06; 300 steps gave noise), so only the GPU profile includes one.
            "generators": ("dcgan", "mlp_gan", "vae"),
            "course_generators": True,  # load chapters 04/05's checkpoints when present, else train compact ones
            "dcgan": {"latent_dim": 64, "channels": 16, "steps": 400, "batch": 64, "lr_g": 1e-3, "lr_d": 2e-4},
            # the MLP-GAN needs ~2000 steps before its samples are digits rather than speckle
            "mlp_gan": {"latent_dim": 64, "hidden": 256, "depth": 2, "steps": 2000, "batch": 64, "lr_g": 1e-3,
                        "lr_d": 2e-4},
            "vae": {"latent_dim": 16, "channels": 16, "hidden": 256, "steps": 300, "batch": 64, "lr": 2e-3},
            "diffusion": {"channels": (16, 32, 32), "emb_dim": 64, "T": 200, "steps": 400, "batch": 64, "lr": 2e-3,
                          "ema_decay": 0.99, "sample_steps": 10},
            "detector_train": 2000, "detector_test": 1000, "detector_channels": 16, "detector_steps": 300,
            "detector_batch": 128, "detector_lr": 2e-3, "seen_generator": "dcgan", "show_samples": 8,
            # bias probe: chapter 09's model (fast: the TF-IDF model, chapter 09's choice there; full: the best)
            "sentiment_arch": "tfidf",
            # memorisation
            "mem_prompts": 100, "mem_prompt_len": 32, "mem_new": 50, "mem_lengths": (10, 20, 30, 40, 50),
            "mem_examples": 2,
            # a copy of the mini-GPT trained to memorise: ~60 passes over 5,000 characters (fast)
            "overfit_chars": 5000, "overfit_steps": 300, "overfit_lr": 2e-3, "overfit_batch": 16,
            # green-list watermark (Kirchenbauer et al. 2023)
            "wm_key": 15485863, "wm_gamma": 0.5, "wm_delta": 2.0, "wm_texts": 60, "wm_tokens": 200,
            "wm_prompt_len": 16, "wm_fpr": 0.01, "wm_delta_grid": (1.0, 2.0, 4.0), "wm_grid_texts": 20,
            "wm_loss_windows": 100, "wm_edit_shares": (0.0, 0.1, 0.2, 0.3, 0.5), "wm_sim_trials": 20000,
            "wm_other_keys": 20, "wm_human_texts": 200,  # human windows for calibration, as many for evaluation
            # attention maps
            "attn_text": "ROMEO:\nBut soft, what light through yonder window breaks?", "attn_zoom": 16,
        },
        profiles={
            "smoke": {"eps_grid": (0.0, 0.1, 0.3), "pgd_steps": 5, "curve_pgd_steps": 3, "attack_images": 100,
                      "curve_images": 50,
                      "check_images": 32, "adv_steps": 10, "adv_batch": 32, "adv_chunk": 5, "train_limit": 4000,
                      "ig_steps": 16,
                      "dcgan": {"latent_dim": 16, "channels": 8, "steps": 20, "batch": 32, "lr_g": 1e-3,
                                "lr_d": 2e-4},
                      "mlp_gan": {"latent_dim": 16, "hidden": 32, "depth": 1, "steps": 20, "batch": 32, "lr_g": 1e-3,
                                  "lr_d": 2e-4},
                      "vae": {"latent_dim": 8, "channels": 8, "hidden": 64, "steps": 20, "batch": 32, "lr": 2e-3},
                      "diffusion": {"channels": (8, 16), "emb_dim": 32, "T": 50, "steps": 10, "batch": 16,
                                    "lr": 2e-3, "ema_decay": 0.99, "sample_steps": 3},
                      "generators": ("dcgan", "mlp_gan", "vae", "diffusion"), "detector_train": 300,
                      "detector_test": 200, "detector_channels": 8, "detector_steps": 20,
                      "mem_prompts": 20, "mem_new": 30, "mem_lengths": (10, 20, 30), "overfit_chars": 1000,
                      "overfit_steps": 10, "wm_other_keys": 3, "wm_human_texts": 40,
                      "wm_texts": 20, "wm_tokens": 60, "wm_delta_grid": (1.0, 4.0), "wm_grid_texts": 10,
                      "wm_loss_windows": 20, "wm_edit_shares": (0.0, 0.3), "wm_sim_trials": 2000},
            "full": {"attack_images": 10000, "curve_images": 2000, "adv_steps": 2000, "adv_pgd_steps": 7,
                     "generators": ("dcgan", "mlp_gan", "vae", "diffusion"),
                     "dcgan": {"latent_dim": 64, "channels": 64, "steps": 4000, "batch": 128, "lr_g": 1e-3,
                               "lr_d": 2e-4},
                     "mlp_gan": {"latent_dim": 64, "hidden": 512, "depth": 2, "steps": 4000, "batch": 128,
                                 "lr_g": 1e-3, "lr_d": 2e-4},
                     "vae": {"latent_dim": 16, "channels": 32, "hidden": 256, "steps": 4000, "batch": 128, "lr": 2e-3},
                     "diffusion": {"channels": (32, 64, 64), "emb_dim": 128, "T": 400, "steps": 4000, "batch": 128,
                                   "lr": 2e-3, "ema_decay": 0.995, "sample_steps": 20},
                     "detector_train": 10000, "detector_test": 2000, "detector_steps": 1500,
                     "sentiment_arch": None, "mem_prompts": 1000, "overfit_steps": 1000, "wm_texts": 500,
                     "wm_human_texts": 1000,
                     "wm_delta_grid": (0.5, 1.0, 2.0, 4.0), "wm_grid_texts": 100, "wm_loss_windows": None},
        },
        targets={
            profile: {
                "clean_acc": ">= 0.98",
                "fgsm_step_max_err": "< 1e-6",
                "linear_gain_rel_err": "< 0.01",
                "pgd_within_eps_ball": "== True",
                "pgd_acc_eps_0_1": "<= fgsm_acc_eps_0_1",
                "adv_trained_pgd_acc_eps_0_1": "> pgd_acc_eps_0_1",
                "adv_training_robust_gain": ">= 0.2",
                "ig_completeness_max_rel_err": "< 0.05",
                "attention_logits_max_err": "< 1e-4",
                # chapter 04's DCGAN (loaded when its checkpoint exists) is much harder to spot than the compact
                # one: 0.72 with the chapter's generators, >= 0.9 with the compact ones (fast, CPU)
                "detector_acc_seen": ">= 0.65",
                "watermark_z_null_sim_mean_abs": "< 0.05",
                "watermark_detect_tpr_at_fpr_1pct": ">= 0.9",
            }
            for profile in ("fast", "full")
        },
        datasets=("mnist", "tinyshakespeare", "financial-tweets"),
        minutes={"smoke": 0.7, "fast": 6.0, "full": 10.0},
    )
)


register(
    ChapterSpec(
        stem="16_instruction_tuning",
        title="Instruction tuning and preferences",
        # Stage 1 pretrains chapter 08's GPT (RoPE, 2 layers of 128) on raw text; stage 2 fine-tunes it on the
        # course-made instructions (loss on the responses only); stage 3 is DPO on pairs of the model's own lines
        # ranked by a program (instruct.judge_voice), in rounds. Tuned without the held-out speakers: pairs from 3
        # of the DPO speakers, win rate on the 4th (fresh samples). One round of 100 steps: 0.77-0.80 for lr 5e-5 /
        # beta 0.1; more steps or a larger lr fitted the pairs better (train accuracy 0.95-1.0) and did not help
        # (0.71-0.77, KL 10-25 nats); rounds of fresh pairs did: 0.77 -> 0.83 -> 0.89 after three. The lenient
        # judge's rounds (same sizes, lr 1e-4) were tried once, on the held-out speakers, to see that the hack shows:
        # full-judge win rate 0.63 -> 0.35 while the lenient judge's rose 0.90 -> 0.96.
        base={
            "seed": 0,
            "speakers": ("ROMEO", "JULIET", "GLOUCESTER", "MENENIUS", "CORIOLANUS", "LEONTES", "ISABELLA", "LUCIO"),
            "dpo_speakers": ("ROMEO", "JULIET", "GLOUCESTER", "MENENIUS"),  # the pairs come from these prompts only
            "n_tweet": 200, "n_voice": 160, "n_tweet_heldout": 90, "n_voice_heldout": 40, "voice_train_share": 0.85,
            "note_copies": 3, "note_copies_heldout": 1,
            "gpt": {"n_layer": 2, "n_head": 4, "n_embd": 128, "block_size": 352, "dropout": 0.0, "positions": "rope"},
            # a fixed number of steps, not a time budget: a 40 s budget gave 300-344 steps from run to run, and the
            # reward-hacking figures moved with the base model (full judge 0.54 -> 0.31 in one run, 0.75 -> 0.72 in
            # another); 350 steps take ~41 s here and are the full profile's recipe
            "pretrain": {"batch_size": 16, "block_size": 256, "lr": 4e-3, "min_lr_frac": 0.1, "warmup": 50,
                         "max_steps": 350, "seconds": None, "weight_decay": 0.1, "grad_clip": 1.0,
                         "eval_every": 100, "eval_windows": 50, "seed": 0},
            "kb_repeats": 20,  # the bookshop FAQ (original figures) is repeated in the pretraining text
            "sft": {"steps": 500, "batch_size": 16, "lr": 3e-3, "warmup": 20, "weight_decay": 0.0, "log_every": 50},
            "max_new": 100,
            # per DPO speaker: prompts x samples (128: 160 took 352 s in one fast run, 128 took 300 s, same claims)
            "pair_prompts": 128, "pair_samples": 4, "pair_min_gap": 0.1,
            "dpo": {"beta": 0.1, "steps": 100, "batch_size": 16, "lr": 5e-5, "log_every": 25},
            "dpo_rounds": 3,  # fresh pairs from the current policy, which becomes the next round's reference
            # reward hacking: rounds on pairs ranked by a lenient judge (known-word share only), scored by the full one
            "hack": {"rounds": 3, "steps": 100, "lr": 1e-4},
            "beta_grid": (0.03, 0.1, 1.0),
            "eval_samples": 40,  # sampled lines per held-out speaker for the win rate
            "kl_samples": 10, "show": 4, "best_of_n": 4,
        },
        profiles={
            "smoke": {"n_tweet": 30, "n_voice": 24, "n_tweet_heldout": 12, "n_voice_heldout": 8, "note_copies": 1,
                      "note_copies_heldout": 1,
                      "gpt": {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 352, "dropout": 0.0,
                              "positions": "rope"},
                      "pretrain": {"batch_size": 8, "block_size": 128, "lr": 4e-3, "min_lr_frac": 0.1, "warmup": 5,
                                   "max_steps": 30, "seconds": 3.0, "weight_decay": 0.1, "grad_clip": 1.0,
                                   "eval_every": 10, "eval_windows": 5, "seed": 0},
                      "kb_repeats": 1,
                      "sft": {"steps": 20, "batch_size": 8, "lr": 3e-3, "warmup": 5, "weight_decay": 0.0,
                              "log_every": 10},
                      "max_new": 40, "pair_prompts": 6, "dpo": {"beta": 0.1, "steps": 6, "batch_size": 4, "lr": 5e-5,
                                                               "log_every": 3},
                      "dpo_rounds": 2, "hack": {"rounds": 1, "steps": 6, "lr": 1e-4}, "beta_grid": (0.1, 1.0),
                      "eval_samples": 4, "kl_samples": 2, "show": 2,
                      "best_of_n": 2},
            # full: the fast recipe with a fixed number of pretraining steps instead of a time budget (the same
            # models on any machine). Chapter 08's full sizes were tried on one H200 (4 layers of 256, 3,000
            # pretraining and 1,500 SFT steps): the SFT lines were real lines (known-word share 0.96, 40 % of them
            # distinct: memorised), so the judge had no headroom, and DPO at these settings lost to SFT (round 1:
            # KL 51 nats, win rate 0.33; round 3: 0.53). A stronger model needs a judge that asks for more.
            "full": {"pretrain": {"batch_size": 16, "block_size": 256, "lr": 4e-3, "min_lr_frac": 0.1, "warmup": 50,
                                  "max_steps": 350, "seconds": None, "weight_decay": 0.1, "grad_clip": 1.0,
                                  "eval_every": 100, "eval_windows": 50, "seed": 0}},
        },
        targets={
            profile: {
                "sft_mask_max_err": "< 1e-6",
                "dpo_closed_form_max_err": "< 1e-9",
                "dpo_reward_identity_max_err": "< 1e-9",
                "dpo_heldout_win_rate": ">= 0.8",
                "sft_tweet_label_rate": ">= 0.9",
            }
            for profile in ("fast", "full")
        },
        datasets=("tinyshakespeare", "financial-tweets"),
        minutes={"smoke": 0.5, "fast": 6.0, "full": 3.0},
    )
)
