"""``aigc-course``: doctor, data (list / verify / fetch), run, build (student / instructor), exercises, config show,
slides, site."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .core import config, i18n, paths


def _cmd_doctor(args: argparse.Namespace) -> int:
    from .delivery.doctor import report

    text = report()
    print(text)
    return 1 if "PROBLEM:" in text else 0  # a bad setting is reported with the rest, then the exit status says so


def _cmd_data(args: argparse.Namespace) -> int:
    from .datasets import registry

    names = args.names or list(registry.DATASETS)
    for name in names:
        registry.get(name)  # unknown names fail before any work
    if args.action == "list":
        print(f"{'name':<18}{'files':>6}{'MiB':>8}  {'licence':<44} used in")
        for name in names:
            spec = registry.DATASETS[name]
            size = f"{spec.size_bytes / 2**20:.1f}"
            print(f"{name:<18}{len(spec.files):>6}{size:>8}  {spec.license:<44} {', '.join(spec.used_in)}")
            print(f"{'':<18}{spec.title} — {spec.homepage}")
        return 0
    if args.action == "verify":
        roots = [Path(args.root)] if args.root else (paths.mirror_dirs() or [paths.cache_dir()])
        ok = True
        for root in roots:
            result = registry.verify(root, names)
            count = sum(len(registry.get(n).files) for n in names)
            print(f"{root}: {'ok' if result.ok else 'PROBLEMS'} ({count} files checked)")
            for rel, problem in sorted(result.problems.items()):
                print(f"  {problem:<16} {rel}")
            for folder, good in result.digests.items():
                if not good:
                    print(f"  {'digest mismatch':<16} {folder}/")
            ok &= result.ok
        return 0 if ok else 1
    if args.action == "fetch":
        if not args.to:
            print("aigc-course data fetch needs --to DIR (the classroom mirror to create)", file=sys.stderr)
            return 2
        registry.fetch_to(Path(args.to), names)
        print(f"done; students use it with AIGC_COURSE_DATA={Path(args.to).resolve()}")
        return 0
    return 2


def _cmd_run(args: argparse.Namespace) -> int:
    from .delivery.runner import exit_status, run_course

    try:
        report = run_course(profile=args.profile, only=_only(args.only), out=args.out, timeout=args.timeout,
                            lang=args.lang, jobs=args.jobs)
    except ValueError as exc:
        print(f"aigc-course run: {exc}", file=sys.stderr)
        return 2
    default = paths.build_dir(args.lang)
    out = Path(args.out).resolve() if args.out else default.resolve()
    print(f"report: {out / 'report.md'}")
    return exit_status(report, strict=args.strict)


def _only(values: list[str] | None) -> list[str] | None:
    """The names of ``--only`` (or positional chapter names): ``None`` when none was given (meaning all); a given
    but empty list (``--only ,`` or ``--only ""``) is an error, not "everything"."""
    if values is None:
        return None
    names = [x.strip() for part in values for x in part.split(",") if x.strip()]
    if not names:
        raise ValueError(f"no notebook named in {values!r}: give numbers or stems such as 03,04 (or leave the option "
                         "out to mean all)")
    return names


def _cmd_build(args: argparse.Namespace) -> int:
    from .delivery.student import build

    kind = "student" if args.student else "instructor"
    try:
        written = build(kind, _only(args.only), out=Path(args.out) if args.out else None, force=args.force,
                        lang=args.lang)
    except ValueError as exc:
        print(f"aigc-course build: {exc}", file=sys.stderr)
        return 2
    folder = written[0].parent if written else args.out
    print(f"{len(written)} {kind} notebooks in {folder}")
    return 0


def _cmd_exercises(args: argparse.Namespace) -> int:
    from .exercises import exercise_table

    try:
        stems = _only(args.only) or []
    except ValueError as exc:
        print(f"aigc-course exercises: {exc}", file=sys.stderr)
        return 2
    notebooks = sorted(paths.notebooks_dir().glob("[0-9][0-9]_*.ipynb"))
    if stems:
        notebooks = [p for p in notebooks if any(p.stem == s or p.stem.startswith(f"{s}_") for s in stems)]
    if not notebooks:
        print(f"aigc-course exercises: no notebook matches {stems}", file=sys.stderr)
        return 2
    print(exercise_table(notebooks))
    return 0


def _cmd_slides(args: argparse.Namespace) -> int:
    from .delivery.slides import build_slides
    from .delivery.web import WebAssetsError

    if args.build and not Path(args.build).is_dir():
        print(f"aigc-course slides: --build {args.build} is not a folder: give the --out folder of an "
              "`aigc-course run`", file=sys.stderr)
        return 2
    try:
        decks = build_slides(_only(args.chapters or None) or [], out=Path(args.out) if args.out else None,
                             build=Path(args.build) if args.build else None, lang=args.lang)
    except (ValueError, WebAssetsError) as exc:
        print(f"aigc-course slides: {exc}", file=sys.stderr)
        return 2
    if decks:
        print(f"{len(decks)} decks; open {decks[0]} in a browser (no internet needed)")
    return 0


def _cmd_config(args: argparse.Namespace) -> int:
    if not args.chapters:
        for spec in sorted(config.CHAPTERS.values(), key=lambda c: c.stem):
            minutes = " · ".join(f"{p} {spec.minutes.get(p, '—')}" for p in config.PROFILES)
            print(f"{spec.stem:<28} {spec.title}  ({minutes} min)")
        return 0
    try:
        specs = [config.find_chapter(name) for name in _only(args.chapters) or []]
    except ValueError as exc:
        print(f"aigc-course config: {exc}", file=sys.stderr)
        return 2
    print("\n\n".join(config.describe(spec) for spec in specs))
    return 0


def _cmd_site(args: argparse.Namespace) -> int:
    from .delivery.site import build_site
    from .delivery.web import WebAssetsError

    try:
        index = build_site(Path(args.build) if args.build else None, Path(args.out) if args.out else None,
                           lang=args.lang)
    except (FileNotFoundError, WebAssetsError) as exc:
        print(f"aigc-course site: {exc}", file=sys.stderr)
        return 2
    print(f"site: {index} (open it in a browser; no internet needed)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aigc-course", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    doctor = sub.add_parser("doctor", help="versions, device, profile, datasets, disk (writes nothing)")
    doctor.set_defaults(func=_cmd_doctor)

    data = sub.add_parser("data", help="list, verify or pre-stage the datasets")
    data.add_argument("action", choices=("list", "verify", "fetch"))
    data.add_argument("names", nargs="*", help="dataset names (default: all)")
    data.add_argument("--root", help="verify: the folder to check (default: AIGC_COURSE_DATA, else the cache)")
    data.add_argument("--to", help="fetch: folder to fill as a classroom mirror")
    data.set_defaults(func=_cmd_data)

    run = sub.add_parser("run", help="execute the notebooks and write build/report.{json,md}")
    run.add_argument("--profile", choices=config.PROFILES, help="default: AIGC_COURSE_PROFILE, else automatic")
    run.add_argument("--only", action="append", help="notebook numbers or stems, comma-separated (e.g. 03,04)")
    run.add_argument("--out", help="output folder (default: build/ of the checkout)")
    run.add_argument("--timeout", type=int, help="per-cell timeout in seconds")
    run.add_argument("--jobs", type=int, default=None,
                     help="CPU cores the notebooks may keep busy at once: chapters on one torch thread run side by "
                          "side (default: one per core, at most 4, on a CPU; 1 on a GPU)")
    run.add_argument("--lang", choices=i18n.LANGUAGES, default=os.environ.get("AIGC_COURSE_LANG", "en"),
                     help="run the Chinese edition (markdown from notebooks/zh/, same code; default --out build/zh); "
                          "default: AIGC_COURSE_LANG, else en")
    run.add_argument("--strict", action="store_true", help="exit non-zero when a target is missed")
    run.set_defaults(func=_cmd_run)

    handout = sub.add_parser("build", help="student (solutions stubbed) or instructor copies of the notebooks")
    kind = handout.add_mutually_exclusive_group(required=True)
    kind.add_argument("--student", action="store_true", help="each solution cell becomes a stub to fill in")
    kind.add_argument("--instructor", action="store_true", help="solutions kept (tagged 'solution')")
    handout.add_argument("--only", action="append", help="notebook numbers or stems, comma-separated")
    handout.add_argument("--out", help="output folder (default: build/student or build/instructor, -zh in Chinese)")
    handout.add_argument("--lang", choices=i18n.LANGUAGES, default=os.environ.get("AIGC_COURSE_LANG", "en"),
                         help="language of the markdown cells (default: AIGC_COURSE_LANG, else en); zh reads the "
                              "translations in notebooks/zh/")
    handout.add_argument("--force", action="store_true",
                         help="overwrite notebooks in --out that differ from the new copies (default: refuse)")
    handout.set_defaults(func=_cmd_build)

    exe = sub.add_parser("exercises", help="exercise counts by kind per chapter")
    exe.add_argument("--only", action="append", help="notebook numbers or stems, comma-separated")
    exe.set_defaults(func=_cmd_exercises)

    slides = sub.add_parser("slides", help="offline reveal.js slides of the chapters")
    slides.add_argument("chapters", nargs="*", help="notebook numbers or stems (default: all)")
    slides.add_argument("--build", help="runner output whose executed notebooks to use (default: build/)")
    slides.add_argument("--out", help="output folder (default: <build>/slides)")
    slides.add_argument("--lang", choices=i18n.LANGUAGES, default=os.environ.get("AIGC_COURSE_LANG", "en"),
                        help="language of the decks (default: AIGC_COURSE_LANG, else en); --build then defaults to "
                             "build/<lang>/ for zh")
    slides.set_defaults(func=_cmd_slides)

    cfg = sub.add_parser("config", help="the profile table: a chapter's settings under smoke / fast / full")
    cfg.add_argument("action", choices=("show",))
    cfg.add_argument("chapters", nargs="*", help="notebook numbers or stems (none: list the chapters)")
    cfg.set_defaults(func=_cmd_config)

    site = sub.add_parser("site", help="offline course site from a runner output folder")
    site.add_argument("--build", help="runner output folder (default: build/)")
    site.add_argument("--out", help="output folder (default: <build>/site)")
    site.add_argument("--lang", choices=i18n.LANGUAGES, default=os.environ.get("AIGC_COURSE_LANG", "en"),
                      help="language of the pages (default: AIGC_COURSE_LANG, else en); --build then defaults to "
                           "build/<lang>/ for zh")
    site.set_defaults(func=_cmd_site)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # names may follow options (``data verify --root DIR mnist``, ``slides --out D 03``): argparse leaves them over
    target = {"data": "names", "slides": "chapters", "config": "chapters"}.get(args.command)
    if extra and (target is None or any(x.startswith("-") for x in extra)):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        setattr(args, target, list(getattr(args, target) or []) + extra)
    try:
        return args.func(args)
    except Exception as exc:
        from .datasets.registry import DatasetError

        if isinstance(exc, (DatasetError, config.ConfigError)):
            print(f"aigc-course: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
