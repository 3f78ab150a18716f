"""``aigc-course doctor``: what this machine brings to the course. Reads only; writes nothing."""

from __future__ import annotations

import importlib.metadata as md
import platform
import shutil
from pathlib import Path

import torch

from ..core import config, paths
from ..datasets import registry

PACKAGES = ("torch", "torchvision", "torchaudio", "numpy", "matplotlib", "ipywidgets", "pooch",
            "papermill", "soundfile", "pandas", "scikit-learn", "tqdm")


def _version(name: str) -> str:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return "not installed"


def _free_gib(folder: Path) -> str:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return f"{shutil.disk_usage(probe).free / 2**30:.1f} GiB free at {probe}"


def dataset_status(name: str) -> str:
    """Where dataset ``name`` would be read from right now (no download, no writes)."""
    spec = registry.get(name)
    for mirror in paths.mirror_dirs():
        if not registry.check_files(spec, mirror, include_optional=False):
            return f"ok (mirror {mirror})"
    cache = paths.cache_dir()
    if not registry.check_files(spec, cache, include_optional=False):
        return f"ok (cache {cache})"
    return f"not found locally; would download from {spec.url_for(sorted(spec.required)[0])}"


def report() -> str:
    """The doctor's report as text."""
    lines = ["aigc-course doctor", ""]
    lines.append(f"python      {platform.python_version()} ({platform.platform()})")
    for name in PACKAGES:
        lines.append(f"{name:<14}{_version(name)}")
    try:  # a bad setting is reported, not fatal: the doctor is what one runs when something is wrong
        device = config.resolve_device()
        detail = torch.cuda.get_device_name(0) if device.type == "cuda" else platform.processor() or "cpu"
        device_line = f"{device} ({detail}); torch threads {torch.get_num_threads()}"
    except config.ConfigError as exc:
        device_line = f"PROBLEM: {exc}"
    try:
        profile_line = f"{config.resolve_profile()} (AIGC_COURSE_PROFILE, else full with CUDA / fast without)"
    except config.ConfigError as exc:
        profile_line = f"PROBLEM: {exc}"
    lines += ["", f"device      {device_line}", f"profile     {profile_line}", "", "datasets:"]
    for name in registry.DATASETS:
        lines.append(f"  {name:<18}{dataset_status(name)}")
    mirrors = paths.mirror_dirs()
    lines += [
        "",
        f"mirrors     {', '.join(map(str, mirrors)) or '(none: set AIGC_COURSE_DATA)'}",
        f"cache       {paths.cache_dir()}",
        f"build       {paths.build_dir()}",
        f"checkpoints {paths.checkpoint_dir()}",
        f"disk        {_free_gib(paths.cache_dir())}",
    ]
    return "\n".join(lines)
