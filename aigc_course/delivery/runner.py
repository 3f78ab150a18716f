"""The course runner: execute every notebook with papermill and report time and quality.

``aigc-course run [--profile P] [--only 03,04] [--out build] [--jobs N] [--strict]`` writes, under ``out``:

- ``notebooks/<stem>.ipynb`` — the executed notebooks (also for a failed one, up to its error),
- ``html/<stem>.html`` — an HTML copy of each,
- ``metrics/<stem>.json`` — what each notebook's last cell recorded,
- ``artifacts/<stem>/`` — samples that generative chapters save,
- ``report.json`` and ``report.md`` — the summary (schema in :func:`run_course`).

A failed notebook does not stop the others; the exit status is non-zero when one failed (and,
with ``--strict``, when a target was missed).

Notebooks run side by side when the CPU has room (``--jobs``, default: one per core on a CPU machine, one on a
GPU): most chapters train small models on **one** torch thread (their ``torch_threads`` in the profile table), so
on two cores two of them run at once, while a chapter that uses every core runs alone. Those that use every core
start first, then the longest (:func:`start_order`); a chapter that loads another's model starts after that one
(its ``needs``), and two that need the same shared model do not both train it
(:func:`~aigc_course.core.training.checkpoint_lock`). With one job, notebooks run in reading order.
"""

from __future__ import annotations

import contextlib
import functools
import json
import multiprocessing
import os
import platform
import time
import traceback
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from ..core import config, paths
from ..core.report import read_record

DEFAULT_TIMEOUT = {"smoke": 300, "fast": 900, "full": 1800}
"""Per-cell execution timeout (seconds) for each profile."""


def discover(only: Sequence[str] | None = None, folder: Path | None = None) -> list[Path]:
    """Notebooks in reading order (``NN_name.ipynb``); ``only`` keeps those whose number or
    stem is listed (``["03", "04_image_gans"]``). An unknown entry is an error."""
    folder = folder or paths.notebooks_dir()
    books = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if not only:
        return books
    wanted = [w.strip() for w in only if w.strip()]
    chosen = [p for p in books if any(p.stem == w or p.stem.split("_", 1)[0] == w.zfill(2) for w in wanted)]
    unknown = [w for w in wanted if not any(p.stem == w or p.stem.split("_", 1)[0] == w.zfill(2) for p in books)]
    if unknown:
        names = ", ".join(p.stem for p in books)
        raise ValueError(f"no notebook matches {', '.join(unknown)}; the course has: {names}")
    return chosen


@contextlib.contextmanager
def _environ(**values: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _error_summary(exc: BaseException) -> str:
    ename = getattr(exc, "ename", None)
    if ename:
        return f"{ename}: {getattr(exc, 'evalue', '')}".strip()
    return f"{type(exc).__name__}: {exc}".strip()


def _export_html(executed: Path, target: Path) -> None:
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(executed, as_version=4)
    body, _ = HTMLExporter().from_notebook_node(nb)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body, encoding="utf-8")


SAVE_EVERY_SECONDS = 20.0
"""While a notebook runs, its executed copy is rewritten at most this often (and always at its end)."""


@functools.cache
def _engine_name() -> str:
    """Register (once) and name the papermill engine the runner executes with: papermill's own nbclient engine,
    except that it rewrites the executed copy at most every :data:`SAVE_EVERY_SECONDS` while cells run, and always at
    the start, after a failure and at the end. Papermill rewrites it twice per cell, which for a chapter with 80
    cells and megabytes of figures took about a sixth of a ``smoke`` notebook's time (5.6 of 31.8 s for chapter 04,
    measured 2026-12-06)."""
    from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

    class SparseSaves(NotebookExecutionManager):
        _deferred = False

        def save(self, **kwargs: Any) -> None:
            if not self._deferred:
                super().save(**kwargs)

        def _without_save(self, step: Callable[..., None], *args: Any, **kwargs: Any) -> None:
            self._deferred = True
            try:
                step(*args, **kwargs)
            finally:
                self._deferred = False
            self.autosave_cell()  # saves when the last save is older than autosave_cell_every

        def cell_start(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
            self._without_save(super().cell_start, cell, cell_index, **kwargs)

        def cell_complete(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
            if cell.metadata.papermill.get("status") == self.FAILED:
                super().cell_complete(cell, cell_index, **kwargs)  # a failure is saved at once
            else:
                self._without_save(super().cell_complete, cell, cell_index, **kwargs)

    class Engine(NBClientEngine):
        # papermill's Engine.execute_notebook (2.7) with SparseSaves in place of its manager, which it names directly
        @classmethod
        def execute_notebook(cls, nb: Any, kernel_name: str, output_path: str | None = None,
                             progress_bar: bool = True, log_output: bool = False,
                             autosave_cell_every: float = SAVE_EVERY_SECONDS, **kwargs: Any) -> Any:
            manager = SparseSaves(nb, output_path=output_path, progress_bar=progress_bar, log_output=log_output,
                                  autosave_cell_every=autosave_cell_every)
            manager.notebook_start()
            try:
                cls.execute_managed_notebook(manager, kernel_name, log_output=log_output, **kwargs)
            finally:
                manager.cleanup_pbar()
                manager.notebook_complete()
            return manager.nb

    papermill_engines.register("aigc-course", Engine)
    return "aigc-course"


def run_notebook(path: Path, profile: str, out: Path, *, timeout: int | None = None) -> dict[str, Any]:
    """Execute one notebook; returns its entry of ``report.json`` (never raises for its errors)."""
    import papermill as pm

    from ..core.paths import absolute_env

    absolute_env()  # the kernel runs in notebooks/: a relative AIGC_COURSE_DATA must not move with it
    stem = path.stem
    executed = out / "notebooks" / path.name
    executed.parent.mkdir(parents=True, exist_ok=True)
    metrics_dir = out / "metrics"
    (metrics_dir / f"{stem}.json").unlink(missing_ok=True)
    status, error = "ok", None
    start = time.perf_counter()
    with _environ(
        AIGC_COURSE_NOTEBOOK=stem,
        AIGC_COURSE_BUILD=str(out),
        AIGC_COURSE_PROFILE=profile,
        AIGC_COURSE_STRICT_EXERCISES="1",
        MPLBACKEND="module://matplotlib_inline.backend_inline",
    ):
        try:
            pm.execute_notebook(
                str(path),
                str(executed),
                parameters={"PROFILE": profile},
                cwd=str(path.parent),
                kernel_name="python3",
                engine_name=_engine_name(),
                progress_bar=False,
                execution_timeout=timeout or DEFAULT_TIMEOUT[profile],
            )
        except Exception as exc:  # papermill raises PapermillExecutionError, but also kernel deaths
            status, error = "failed", _error_summary(exc)
    seconds = round(time.perf_counter() - start, 1)
    record = read_record(stem, metrics_dir)
    if status == "ok" and record is None:
        status, error = "failed", "the notebook ran but recorded no figures (its last cell must call record)"
    metrics = record["metrics"] if record else {}
    targets = config.chapter(stem).targets_for(profile) if stem in config.CHAPTERS else {}
    entry: dict[str, Any] = {
        "name": stem,
        "status": status,
        "seconds": seconds,
        "metrics": metrics,
        "targets": targets,
        "missed": config.missed_targets(metrics, targets) if status == "ok" else sorted(targets),
    }
    if error:
        entry["error"] = error
    if executed.is_file():
        try:
            _export_html(executed, out / "html" / f"{stem}.html")
        except Exception as exc:  # HTML is a convenience; never lose the report over it
            entry.setdefault("warnings", []).append(f"HTML export failed: {_error_summary(exc)}")
    return entry


def guard_output(out_dir: Path, books: Sequence[Path]) -> None:
    """Refuse an output folder whose executed copies (``<out>/notebooks/*.ipynb``) or reports would land on the
    source notebooks: ``--out .`` in the checkout, ``--out notebooks`` (or a folder inside it), or the same through
    ``AIGC_COURSE_BUILD``. Raises ``ValueError`` naming the folder, before anything runs."""
    sources = {p.parent.resolve() for p in books}
    out_dir = out_dir.resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"the output folder {out_dir} is a file: give a folder to --out (or AIGC_COURSE_BUILD)")
    if (out_dir / "notebooks") in sources or any(out_dir == s or s in out_dir.parents for s in sources):
        raise ValueError(f"the output folder {out_dir} would put executed notebooks over the source notebooks in "
                         f"{', '.join(map(str, sorted(sources)))}: use --out build (or AIGC_COURSE_BUILD) outside "
                         "them")


def cpu_threads(stem: str, profile: str, cores: int) -> int:
    """How many CPU cores notebook ``stem`` keeps busy in ``profile``: the largest thread count its profile row sets
    (``torch_threads`` and any other ``…threads`` entry, nested ones included; ``None`` means all cores), or all
    ``cores`` when the row sets no ``torch_threads`` (torch then uses every core). At least 1, at most ``cores``."""
    if stem not in config.CHAPTERS:
        return cores
    hp = config.chapter(stem).hparams(profile)
    if not hp.get("torch_threads"):
        return cores

    def counts(row: Mapping[str, Any]) -> Iterator[int]:
        for key, value in row.items():
            if isinstance(value, Mapping):
                yield from counts(value)
            elif key == "threads" or key.endswith("_threads"):
                yield cores if value is None else int(value)

    return max(1, min(cores, max(counts(hp))))


def default_jobs() -> int:
    """Notebooks run at once by default: one per CPU core (at most 4, for memory) on a CPU machine, one on a GPU
    (its kernels would queue on the one device anyway)."""
    if config.resolve_device().type != "cpu":
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4))


def _run_guarded(book: Path, profile: str, out: Path, timeout: int | None, lang: str) -> dict[str, Any]:
    """One notebook's report entry, in this process or in a worker of the parallel runner; never raises."""
    try:
        with _environ(AIGC_COURSE_LANG=lang):
            return run_notebook(book, profile, out, timeout=timeout)
    except Exception as exc:  # a runner bug on one notebook must not lose the others
        return _runner_failure(book.stem, exc)


def _runner_failure(stem: str, exc: BaseException) -> dict[str, Any]:
    return {"name": stem, "status": "failed", "seconds": 0.0, "metrics": {}, "targets": {}, "missed": [],
            "error": f"runner: {_error_summary(exc)}", "traceback": "".join(traceback.format_exception(exc, limit=5))}


def run_course(
    *,
    profile: str | None = None,
    only: Sequence[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    timeout: int | None = None,
    progress: bool = True,
    notebooks: str | os.PathLike[str] | None = None,
    lang: str = "en",
    jobs: int | None = None,
) -> dict[str, Any]:
    """Run the notebooks and write ``report.json`` / ``report.md``; returns the report.
    With ``lang="zh"`` the Chinese edition runs: the notebooks are first built with their translations
    (:mod:`.translation`; same code cells) into ``<out>/source-zh/``, and the kernels see ``AIGC_COURSE_LANG``.

    Schema: ``{"profile", "device", "torch", "started", "notebooks": [{"name", "status",
    "seconds", "metrics", "targets", "missed"}]}`` (a failed entry also has ``"error"``).
    ``notebooks`` is the folder to run (default: ``notebooks/`` of the checkout). ``jobs`` is how many CPU cores
    the notebooks running at once may keep busy (default :func:`default_jobs`; each notebook counts
    :func:`cpu_threads`); the report's ``wall_seconds`` is the run's time from first start to last finish.
    """
    prof = config.resolve_profile(profile)
    default = paths.build_dir(lang)  # an edition never overwrites the other
    out_dir = Path(out).resolve() if out else default.resolve()
    books = discover(only, Path(notebooks) if notebooks else None)
    guard_output(out_dir, books)
    if lang != "en":
        import warnings

        from .student import build

        with warnings.catch_warnings():  # cells not translated yet stay English; `translation status` lists them
            warnings.simplefilter("ignore")
            build("instructor", [b.stem for b in books], out=out_dir / f"source-{lang}",
                  notebooks=books[0].parent if books else None, force=True, lang=lang)
        books = discover(only, out_dir / f"source-{lang}")
    report: dict[str, Any] = {
        "profile": prof,
        "lang": lang,
        "device": str(config.resolve_device()),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "notebooks": [],
    }
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create the output folder {out_dir} ({exc.strerror or exc}): give a writable "
                         "folder to --out (or AIGC_COURSE_BUILD)") from None
    earlier = earlier_entries(out_dir, prof)
    jobs = default_jobs() if jobs is None else int(jobs)
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, not {jobs}")
    report["jobs"] = jobs
    bar = tqdm(total=len(books), desc=f"course ({prof})", unit="notebook", disable=not progress)
    start = time.perf_counter()

    def finished(entry: dict[str, Any]) -> None:
        report["notebooks"].append(entry)
        report["wall_seconds"] = round(time.perf_counter() - start, 1)
        bar.update(1)
        tqdm.write(_one_line(entry))
        write_report(merged(report, earlier), out_dir)  # after each notebook, so a crash keeps what is done

    if jobs == 1 or len(books) == 1:
        for book in books:
            bar.set_postfix_str(book.stem)
            finished(_run_guarded(book, prof, out_dir, timeout, lang))
    else:
        _run_side_by_side(books, prof, out_dir, timeout, lang, jobs, finished)
    bar.close()
    report["notebooks"].sort(key=lambda e: e["name"])  # side by side, they finish in any order
    return report


def start_order(pending: Sequence[tuple[Path, int]], profile: str) -> list[tuple[Path, int]]:
    """The ``(notebook, cores)`` pairs in the order the runner tries to start them: those that use every core first
    (each runs alone, so nothing idles while they wait), then the longest first by the profile table's ``minutes``
    (two one-thread notebooks of similar length finish together), then reading order."""
    def key(item: tuple[Path, int]) -> tuple[int, float, str]:
        book, cores = item
        spec = config.CHAPTERS.get(book.stem)
        return -cores, -(spec.minutes.get(profile, 0.0) if spec else 0.0), book.stem

    return sorted(pending, key=key)


def next_to_start(pending: Sequence[tuple[Path, int]], busy: int, jobs: int, *, running: Collection[str],
                  profile: str) -> list[tuple[Path, int]]:
    """Which of the ``pending`` ``(notebook, cores)`` pairs to start now, with ``busy`` of ``jobs`` cores taken by the
    notebooks ``running`` (stems). In :func:`start_order`, each starts if its cores are free (or if nothing runs: a
    notebook that needs more cores than there are runs alone) — unless a chapter it ``needs`` (its row in the profile
    table: whose shared model or checkpoint it loads) is still pending or running: it must find that model trained
    by its own chapter, on that chapter's threads, not train a stand-in itself."""
    waiting = {book.stem for book, _ in pending} | set(running)
    order = start_order(pending, profile)
    chosen: list[tuple[Path, int]] = []
    for book, n in order:
        spec = config.CHAPTERS.get(book.stem)
        if spec is not None and waiting.intersection(spec.needs):
            continue
        if busy + n <= jobs or (not running and not chosen):
            chosen.append((book, n))
            busy += n
    if not running and not chosen and order:  # needs in a cycle (a table error): start one rather than hang
        chosen.append(order[0])
    return chosen


def _run_side_by_side(books: Sequence[Path], profile: str, out: Path, timeout: int | None, lang: str, jobs: int,
                      finished: Callable[[dict[str, Any]], None]) -> None:
    """Run ``books``, each in a worker process, as cores free up (:func:`next_to_start`); a notebook that needs more
    cores than ``jobs`` runs alone."""
    pending = [(book, cpu_threads(book.stem, profile, jobs)) for book in books]
    running: dict[Future[dict[str, Any]], tuple[Path, int]] = {}
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no torch threads or locks inherited
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        while pending or running:
            busy = sum(n for _, n in running.values())
            stems = {book.stem for book, _ in running.values()}
            for book, n in next_to_start(pending, busy, jobs, running=stems, profile=profile):
                pending.remove((book, n))
                running[pool.submit(_run_guarded, book, profile, out, timeout, lang)] = (book, n)
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: running[f][0].name):
                book, _ = running.pop(future)
                try:
                    entry = future.result()
                except Exception as exc:  # the worker process died (out of memory, a signal)
                    entry = _runner_failure(book.stem, exc)
                finished(entry)


def earlier_entries(out_dir: Path, profile: str) -> list[dict[str, Any]]:
    """The notebook entries of an earlier run's ``report.json`` in ``out_dir`` with the same ``profile``, to be kept
    beside this run's (two runs sharing an output folder add up instead of the second dropping the first). A report
    of another profile is moved aside to ``report.<its profile>.json`` / ``.md``, not overwritten; an unreadable one
    to ``report.unreadable.json``."""
    path = out_dir / "report.json"
    if not path.is_file():
        return []
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
        entries, old_profile = list(old["notebooks"]), str(old["profile"])
    except (ValueError, KeyError, TypeError):
        path.replace(out_dir / "report.unreadable.json")
        return []
    if old_profile == profile:
        return entries
    for suffix in (".json", ".md"):
        if (out_dir / f"report{suffix}").is_file():
            (out_dir / f"report{suffix}").replace(out_dir / f"report.{old_profile}{suffix}")
    return []


def merged(report: dict[str, Any], earlier: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``report`` with the ``earlier`` entries of notebooks it did not run, in notebook order."""
    names = {e["name"] for e in report["notebooks"]}
    entries = [e for e in earlier if e["name"] not in names] + list(report["notebooks"])
    return {**report, "notebooks": sorted(entries, key=lambda e: e["name"])}


def _one_line(entry: dict[str, Any]) -> str:
    mark = "ok    " if entry["status"] == "ok" else "FAILED"
    missed = f" · missed: {', '.join(entry['missed'])}" if entry["missed"] else ""
    error = f" · {entry['error']}" if entry.get("error") else ""
    return f"{mark} {entry['name']:<28} {entry['seconds']:>7.1f} s{missed}{error}"


def format_value(value: Any) -> str:
    """A recorded figure as the reports show it (floats to 4 significant digits)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def write_report(report: dict[str, Any], out: Path) -> None:
    """Write ``report.json`` and the human-readable ``report.md`` into ``out``."""
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    lines = [
        "# aigc-course run report",
        "",
        f"profile **{report['profile']}** · device {report['device']} · torch {report['torch']} · "
        f"started {report['started']}",
        "",
        "| notebook | status | seconds | figures | missed targets |",
        "| --- | --- | ---: | --- | --- |",
    ]
    for nb in report["notebooks"]:
        figures = "<br>".join(
            f"{k} = {format_value(v)}" + (f" (target {nb['targets'][k]})" if k in nb["targets"] else "")
            for k, v in nb["metrics"].items()
        )
        status = nb["status"] + (f": {nb['error'].splitlines()[0]}" if nb.get("error") else "")
        lines.append(
            f"| {nb['name']} | {status} | {nb['seconds']:.1f} | {figures or '—'} | "
            f"{', '.join(nb['missed']) or '—'} |"
        )
    total = sum(nb["seconds"] for nb in report["notebooks"])
    lines += ["", f"Total: {total:.1f} s over {len(report['notebooks'])} notebooks."]
    if "wall_seconds" in report:
        lines.append(f"This run: {report['wall_seconds']:.1f} s of wall-clock time, its notebooks sharing "
                     f"{report.get('jobs', 1)} core(s) (--jobs).")
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def exit_status(report: dict[str, Any], *, strict: bool = False) -> int:
    """0 when all notebooks ran (and, with ``strict``, met their targets); 1 otherwise."""
    failed = any(nb["status"] != "ok" for nb in report["notebooks"])
    missed = any(nb["missed"] for nb in report["notebooks"])
    return 1 if failed or (strict and missed) else 0
