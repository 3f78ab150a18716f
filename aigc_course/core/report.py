"""``record(metrics)``: the last cell of every notebook writes its figures for the course runner.

The file ``<build>/metrics/<notebook>.json`` holds ``{"notebook", "profile", "device", "metrics",
"targets", "missed", "claims", "recorded"}`` (``claims``: the sentences the notebook checked with
:func:`aigc_course.claim`). The runner reads it back into ``build/report.json``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import claims, config, paths


def _plain(value: Any) -> Any:
    """Turn numpy / torch scalars and containers into JSON-ready Python values."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise TypeError(f"record() takes scalars; got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    raise TypeError(f"record() cannot store a {type(value).__name__}; give numbers, bools or strings")


class Record(dict):
    """What :func:`record` returns: the written entry (a plain ``dict``) whose echo under a notebook's last cell is
    one line, not the whole JSON (``print(entry)`` or ``dict(entry)`` shows everything)."""

    def __repr__(self) -> str:
        claims = self.get("claims") or []
        held = sum(bool(c.get("holds")) for c in claims)
        return (f"<record of {len(self.get('metrics', {}))} figures for {self.get('notebook')} "
                f"({self.get('profile')}); missed targets: {', '.join(self.get('missed', [])) or 'none'}; "
                f"{held} of {len(claims)} claims held>")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython's display of a cell's last value
        printer.text(repr(self))


def record(
    metrics: Mapping[str, Any],
    *,
    notebook: str | None = None,
    profile: str | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    quiet: bool = False,
) -> Record:
    """Write this notebook's figures, compare them with the chapter's targets, and print a table.

    ``notebook`` and ``profile`` default to the last :func:`aigc_course.setup` call; the runner
    also sets ``AIGC_COURSE_NOTEBOOK``. Returns the record written.
    """
    run = config.current_run()
    name = notebook or os.environ.get("AIGC_COURSE_NOTEBOOK") or (run.chapter if run else None)
    if not name:
        raise ValueError("record() does not know the notebook: call ac.setup(...) first or pass notebook=")
    prof = profile or (run.profile if run else config.resolve_profile())
    values = {str(k): _plain(v) for k, v in metrics.items()}
    targets = config.chapter(name).targets_for(prof) if name in config.CHAPTERS else {}
    missed = config.missed_targets(values, targets)
    entry = {
        "notebook": name,
        "profile": prof,
        "device": str(run.device) if run else str(config.resolve_device()),
        "metrics": values,
        "targets": targets,
        "missed": missed,
        "claims": claims.claims(),
        "recorded": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    folder = Path(out_dir) if out_dir else paths.build_dir() / "metrics"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.json"
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(entry, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, target)
    if not quiet:
        checked = entry["claims"]
        print(f"recorded {len(values)} figures for {name} ({prof}) → {target}"
              + (f"; {sum(c['holds'] for c in checked)} of {len(checked)} claims held" if checked else ""))
        for key, value in values.items():
            mark = ""
            if key in targets:
                mark = f"   target {targets[key]}: " + ("MISSED" if key in missed else "met")
            print(f"  {key:<36} {value!s:<14}{mark}")
    return Record(entry)


def read_record(name: str, folder: str | os.PathLike[str] | None = None) -> dict[str, Any] | None:
    """The record a notebook wrote, or ``None`` if there is none."""
    path = Path(folder) if folder else paths.build_dir() / "metrics"
    path = path / f"{name}.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def artifact_dir(name: str | None = None) -> Path:
    """``<build>/artifacts/<notebook>/`` (created) for samples graders and instructors look at."""
    run = config.current_run()
    stem = name or os.environ.get("AIGC_COURSE_NOTEBOOK") or (run.chapter if run else "misc")
    folder = paths.build_dir() / "artifacts" / stem
    folder.mkdir(parents=True, exist_ok=True)
    return folder
