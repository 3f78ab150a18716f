"""``aigc-course``: doctor, data (list / verify / fetch), run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import config, paths


def _cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import report

    print(report())
    return 0


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
    from .runner import exit_status, run_course

    only = [x for part in (args.only or []) for x in part.split(",")]
    try:
        report = run_course(profile=args.profile, only=only or None, out=args.out, timeout=args.timeout)
    except ValueError as exc:
        print(f"aigc-course run: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out).resolve() if args.out else paths.build_dir().resolve()
    print(f"report: {out / 'report.md'}")
    return exit_status(report, strict=args.strict)


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
    run.add_argument("--strict", action="store_true", help="exit non-zero when a target is missed")
    run.set_defaults(func=_cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
