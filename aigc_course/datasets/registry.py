"""The dataset registry: what each dataset is, where it comes from, and how it is found and checked.

Lookup order for a dataset (all its files must be present and match their sha256):

1. read-only mirrors in ``AIGC_COURSE_DATA`` (``os.pathsep``-separated; never written to),
2. the writable cache (``AIGC_COURSE_CACHE``, default ``data/`` of the checkout),
3. a download from the canonical URL into the cache with :mod:`pooch`, verified by sha256;
   a file whose hash does not match is deleted and reported. ``AIGC_COURSE_OFFLINE=1`` skips
   this step (a classroom without internet gets the clear message at once).

Every file's sha256 comes from ``manifest.sha256`` beside this module (the same list as the
classroom mirror's ``MANIFEST.sha256``), so ``verify`` can name every bad or missing file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..core import paths

MANIFEST = Path(__file__).with_name("manifest.sha256")


class DatasetError(RuntimeError):
    """Base class for dataset problems; the message names the dataset and the fix."""


class DatasetNotFoundError(DatasetError):
    """Not in any mirror or the cache, and the download failed (offline, say)."""


class DatasetIntegrityError(DatasetError):
    """A downloaded file did not match its sha256 (it was deleted)."""


@dataclass(frozen=True)
class Archive:
    """A zip whose members map onto the dataset's files: ``member = prefix + (path - folder)``."""

    url: str
    member_prefix: str


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset. ``folder`` is its path relative to a data root (mirror or cache).

    Files are downloaded one by one with ``file_url(relpath)``, or taken from ``archive``;
    files listed in ``mirror_only`` have no canonical download (they are derived) and are
    optional outside a mirror.
    """

    name: str
    title: str
    folder: str
    homepage: str
    license: str
    size_bytes: int
    file_url: Callable[[str], str] | None = None
    archive: Archive | None = None
    dir_digests: dict[str, str] = field(default_factory=dict)
    mirror_only: tuple[str, ...] = ()

    @property
    def used_in(self) -> tuple[str, ...]:
        """The chapters (``"04"``, …) whose profile-table row lists this dataset: the rows are the only source."""
        from ..core import config

        return tuple(stem[:2] for stem, spec in sorted(config.CHAPTERS.items()) if self.name in spec.datasets)

    @property
    def files(self) -> dict[str, str]:
        """``{relpath: sha256}`` for every file of this dataset (relpath from the data root)."""
        prefix = self.folder.rstrip("/") + "/"
        return {p: h for p, h in manifest().items() if p.startswith(prefix)}

    @property
    def required(self) -> dict[str, str]:
        return {p: h for p, h in self.files.items() if p not in self.mirror_only}

    def url_for(self, relpath: str) -> str:
        if self.archive is not None:
            return self.archive.url
        if self.file_url is None:
            return self.homepage
        return self.file_url(relpath)


@lru_cache(maxsize=1)
def manifest() -> dict[str, str]:
    """``{relpath: sha256}`` parsed from ``manifest.sha256`` (``sha256sum`` format)."""
    entries = {}
    for line in MANIFEST.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, relpath = line.split(maxsplit=1)
            entries[relpath.lstrip("*")] = digest
    return entries


def _under(base: str, folder: str) -> Callable[[str], str]:
    """URL = base + (relpath without its first ``folder/`` part), percent-encoded."""
    return lambda rel: base + urllib.parse.quote(rel[len(folder) + 1:])


_MNIST = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_POETRY = "https://raw.githubusercontent.com/chinese-poetry/chinese-poetry/99ebbef7e1345c0985c44b9fd96a3f9e776f117b/"
_TTS = "https://raw.githubusercontent.com/coqui-ai/TTS/"
_TTS_WAVS = _TTS + "dbf1a08a0d4e47fdad6172e433eeb34bc6b13b4e/tests/data/ljspeech/wavs/"
_TTS_META = _TTS + "f82f1970b8847185783dcf2a1a295260c2863616/tests/data/ljspeech/metadata.csv"
_FIN = "https://huggingface.co/datasets/zeroshot/twitter-financial-news-sentiment/resolve/main/"


def _ljspeech_url(rel: str) -> str:
    name = rel.rsplit("/", 1)[-1]
    return _TTS_META if name == "metadata.csv" else _TTS_WAVS + name


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="mnist",
            title="MNIST handwritten digits (IDX, gzip)",
            folder="MNIST/raw",
            homepage="http://yann.lecun.com/exdb/mnist/",
            license="CC BY-SA 3.0 (as commonly stated)",
            size_bytes=11_594_722,
            file_url=_under(_MNIST, "MNIST/raw"),
        ),
        DatasetSpec(
            name="tinyshakespeare",
            title="Tiny Shakespeare (char-rnn)",
            folder="tinyshakespeare",
            homepage="https://github.com/karpathy/char-rnn",
            license="public-domain text; char-rnn repository MIT",
            size_bytes=1_115_394,
            file_url=lambda rel: "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/" + rel,
        ),
        DatasetSpec(
            name="fsdd",
            title="Free Spoken Digit Dataset v1.0.10 (8 kHz)",
            folder="fsdd",
            homepage="https://github.com/Jakobovski/free-spoken-digit-dataset",
            license="CC BY-SA 4.0",
            size_bytes=21_133_399,
            archive=Archive(
                "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/"
                "26eb9aaf76e81b692f806f9140c2d2777410d7a1.zip",
                "free-spoken-digit-dataset-26eb9aaf76e81b692f806f9140c2d2777410d7a1/",
            ),
            dir_digests={"fsdd/recordings": "1801eae019c063377d98f831d3f93574f259475df7332bb0e3d1b080fb5e6959"},
            mirror_only=("fsdd/speakers_metadata.json",),
        ),
        DatasetSpec(
            name="ljspeech-sample",
            title="LJSpeech 1.1, 32-clip sample (22.05 kHz)",
            folder="ljspeech-sample",
            homepage="https://keithito.com/LJ-Speech-Dataset/",
            license="public domain",
            size_bytes=9_787_479,
            file_url=_ljspeech_url,
            dir_digests={
                "ljspeech-sample/wavs": "06107819bcbfc39724a32e27e05e0af57f84ac49b40f977c1872f5738938c50c"
            },
        ),
        DatasetSpec(
            name="financial-tweets",
            title="Twitter financial news sentiment (bearish / bullish / neutral)",
            folder="financial_sentiment",
            homepage="https://huggingface.co/datasets/zeroshot/twitter-financial-news-sentiment",
            license="MIT",
            size_bytes=1_087_956,
            file_url=_under(_FIN, "financial_sentiment"),
        ),
        DatasetSpec(
            name="movielens-small",
            title="MovieLens ml-latest-small (2018-09-26)",
            folder="movielens-small",
            homepage="https://grouplens.org/datasets/movielens/",
            license="GroupLens usage licence (research, non-commercial)",
            size_bytes=3_303_135,
            archive=Archive(
                "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip", "ml-latest-small/"
            ),
        ),
        DatasetSpec(
            name="chinese-poetry",
            title="chinese-poetry subset (全唐诗 5,000 poems, 唐诗三百首, 诗经)",
            folder="chinese-poetry",
            homepage="https://github.com/chinese-poetry/chinese-poetry",
            license="MIT",
            size_bytes=3_438_733,
            file_url=_under(_POETRY, "chinese-poetry"),
        ),
    )
}


def get(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}") from None


# --------------------------------------------------------------------------------------------
# Hashing
# --------------------------------------------------------------------------------------------
def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def _cached_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _HASH_CACHE:
        _HASH_CACHE[key] = sha256_file(path)
    return _HASH_CACHE[key]


def directory_digest(folder: Path) -> str:
    """The manifest's directory digest: sha256 of the sorted ``sha256sum`` lines of its files."""
    files = sorted(
        (p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()),
        key=lambda s: s.encode("utf-8"),
    )
    lines = "".join(f"{sha256_file(folder / rel)}  {rel}\n" for rel in files)
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def check_files(spec: DatasetSpec, root: Path, *, include_optional: bool = True) -> dict[str, str]:
    """``{relpath: problem}`` for every missing or bad file of ``spec`` under ``root`` (empty = good)."""
    problems = {}
    expected = spec.files if include_optional else spec.required
    for rel, digest in expected.items():
        path = root / rel
        if not path.is_file():
            problems[rel] = "missing"
        elif _cached_sha256(path) != digest:
            problems[rel] = "sha256 mismatch"
    return problems


# --------------------------------------------------------------------------------------------
# Locating and fetching
# --------------------------------------------------------------------------------------------
def locate(name: str, *, download: bool = True) -> Path:
    """The data root holding every required file of dataset ``name``, fetching it if needed.

    Returns the root (mirror or cache), so the dataset lives at ``root / spec.folder``.
    Raises :class:`DatasetNotFoundError` with the dataset, the files, the URL and the two
    variables named when it is nowhere and cannot be downloaded.
    """
    spec = get(name)
    looked: list[str] = []
    for mirror in paths.mirror_dirs():
        problems = check_files(spec, mirror, include_optional=False)
        if not problems:
            return mirror
        looked.append(f"mirror {mirror}: {_summarise(problems)}")
    cache = paths.cache_dir()
    problems = check_files(spec, cache, include_optional=False)
    if not problems:
        return cache
    looked.append(f"cache {cache}: {_summarise(problems)}")
    if not download or os.environ.get("AIGC_COURSE_OFFLINE") == "1":
        why = "not attempted (AIGC_COURSE_OFFLINE=1)" if download else "not attempted"
        raise DatasetNotFoundError(_not_found_message(spec, looked, why))
    try:
        _download(spec, cache, sorted(problems))
    except DatasetIntegrityError:
        raise
    except Exception as exc:  # network errors come in many types (urllib, requests, OSError)
        raise DatasetNotFoundError(_not_found_message(spec, looked, "failed, " + _short(exc))) from None
    problems = check_files(spec, cache, include_optional=False)
    if problems:
        raise DatasetIntegrityError(
            f"dataset {name!r}: after the download these files are still bad: {_summarise(problems)}"
        )
    return cache


def dataset_dir(name: str, *, download: bool = True) -> Path:
    """The folder of dataset ``name`` (``root / spec.folder``), fetched if needed."""
    spec = get(name)
    return locate(name, download=download) / spec.folder


def _summarise(problems: dict[str, str], limit: int = 3) -> str:
    items = [f"{rel} ({why})" for rel, why in sorted(problems.items())]
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}"


def _not_found_message(spec: DatasetSpec, looked: list[str], reason: str) -> str:
    files = sorted(spec.required)
    shown = ", ".join(files[:4]) + (f" … ({len(files)} files)" if len(files) > 4 else "")
    source = spec.archive.url if spec.archive else spec.url_for(files[0])
    where = "\n".join(f"    - {line}" for line in looked) or "    - (nowhere)"
    return (
        f"Dataset {spec.name!r} ({spec.title}) is not available.\n"
        f"  files expected: {shown}\n"
        f"  looked in:\n{where}\n"
        f"  download from {source}: {reason}\n"
        "  Fix: set AIGC_COURSE_DATA to a folder (a classroom mirror) that holds these files,\n"
        "       or connect to the internet so they can be downloaded into AIGC_COURSE_CACHE\n"
        f"       (now {paths.cache_dir()}); see `aigc-course data list` and `aigc-course data fetch`."
    )


def _download(spec: DatasetSpec, cache: Path, wanted: Iterable[str]) -> None:
    import pooch

    wanted = list(wanted)
    if spec.archive is None:
        for rel in wanted:
            target = cache / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                pooch.retrieve(
                    spec.url_for(rel),
                    known_hash=f"sha256:{spec.files[rel]}",
                    fname=target.name,
                    path=target.parent,
                    progressbar=False,
                )
            except ValueError as exc:  # pooch's hash mismatch; it deletes the bad download
                target.unlink(missing_ok=True)
                raise DatasetIntegrityError(
                    f"dataset {spec.name!r}: {rel} downloaded from {spec.url_for(rel)} does not match its "
                    f"sha256 and was deleted ({_short(exc)})"
                ) from None
        return
    with tempfile.TemporaryDirectory(prefix=f"aigc-{spec.name}-") as tmp:
        archive = pooch.retrieve(spec.archive.url, known_hash=None, path=tmp, progressbar=False)
        _extract(spec, Path(archive), cache, wanted)


MAX_EXPANSION = 4
"""An archive may unpack the wanted members to at most this many times the dataset's ``size_bytes``."""


def check_archive(spec: DatasetSpec, archive: Path, wanted: list[str]) -> dict[str, str]:
    """Check a downloaded zip *before* anything is extracted: it is a zip (not, say, an error page), every
    member's CRC holds, every wanted file is in it, and the wanted members do not unpack to more than
    :data:`MAX_EXPANSION` × the dataset's size (a zip bomb). Returns ``{relpath: member}``; raises
    :class:`DatasetIntegrityError` naming what is wrong. (Each member is checked against its sha256 as it is
    extracted: :func:`_extract`.)"""
    import zipfile

    source = spec.archive.url if spec.archive else str(archive)
    if not zipfile.is_zipfile(archive):
        head = archive.read_bytes()[:60]
        raise DatasetIntegrityError(f"dataset {spec.name!r}: {source} is not a zip archive (it starts with "
                                    f"{head!r}); nothing was extracted. Download it again or use a mirror.")
    folder = spec.folder.rstrip("/") + "/"
    with zipfile.ZipFile(archive) as zf:
        broken = zf.testzip()
        if broken is not None:
            raise DatasetIntegrityError(f"dataset {spec.name!r}: member {broken} of {source} fails its CRC check "
                                        "(a damaged download); nothing was extracted. Download it again.")
        infos = {info.filename: info for info in zf.infolist()}
        members = {rel: spec.archive.member_prefix + rel[len(folder):] for rel in wanted}
        missing = [rel for rel, member in members.items() if member not in infos]
        if missing:
            raise DatasetIntegrityError(f"dataset {spec.name!r}: {source} lacks " + ", ".join(missing[:5])
                                        + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
                                        + "; nothing was extracted.")
        unpacked = sum(infos[m].file_size for m in members.values())
        if unpacked > MAX_EXPANSION * spec.size_bytes:
            raise DatasetIntegrityError(f"dataset {spec.name!r}: {source} would unpack to {unpacked:,} bytes, more "
                                        f"than {MAX_EXPANSION} × the dataset's {spec.size_bytes:,}; not extracted.")
    return members


def _extract(spec: DatasetSpec, archive: Path, cache: Path, wanted: list[str]) -> None:
    """Copy the wanted members of a zip into the cache once :func:`check_archive` passed, each checked
    against its sha256 (a mismatching file is deleted)."""
    import zipfile

    members = check_archive(spec, archive, wanted)
    bad = []
    with zipfile.ZipFile(archive) as zf:
        for rel, member in members.items():
            target = cache / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".part")
            with zf.open(member) as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
            if sha256_file(tmp) != spec.files[rel]:
                tmp.unlink()
                bad.append(f"{rel} (sha256 mismatch, deleted)")
                continue
            os.replace(tmp, target)
    if bad:
        raise DatasetIntegrityError(
            f"dataset {spec.name!r} from {spec.archive.url}: " + ", ".join(bad[:5])
            + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        )


# --------------------------------------------------------------------------------------------
# Classroom mirror tools (used by `aigc-course data ...`)
# --------------------------------------------------------------------------------------------
@dataclass
class VerifyResult:
    root: Path
    problems: dict[str, str]  # relpath -> problem, over all datasets checked
    digests: dict[str, bool]  # directory -> digest matches

    @property
    def ok(self) -> bool:
        return not self.problems and all(self.digests.values())


def verify(root: Path, names: Iterable[str] | None = None) -> VerifyResult:
    """Check every file (and directory digest) of the named datasets under ``root``."""
    problems: dict[str, str] = {}
    digests: dict[str, bool] = {}
    for name in names or DATASETS:
        spec = get(name)
        problems.update(check_files(spec, root))
        for folder, digest in spec.dir_digests.items():
            if (root / folder).is_dir() and not any(p.startswith(folder + "/") for p in problems):
                digests[folder] = directory_digest(root / folder) == digest
    return VerifyResult(root, problems, digests)


def fetch_to(target: Path, names: Iterable[str] | None = None, *, progress: Callable[[str], None] = print) -> None:
    """Copy (or download, then copy) the named datasets into ``target`` with the mirror layout."""
    target = target.resolve()
    if target.exists() and not target.is_dir():
        raise DatasetError(f"--to {target} is a file: give a folder to fill as the mirror")
    for mirror in paths.mirror_dirs():
        if mirror.resolve() == target or mirror.resolve() in target.parents:
            raise DatasetError(f"{target} is {'inside ' if mirror.resolve() != target else ''}the read-only mirror "
                               f"{mirror} (AIGC_COURSE_DATA); fetch into a folder outside it")
    for name in names or DATASETS:
        spec = get(name)
        root = locate(name)
        for rel in spec.files:
            src = root / rel
            if not src.is_file():
                continue  # a derived, mirror-only file the source does not have
            dst = target / rel
            if dst.is_file() and _cached_sha256(dst) == spec.files[rel]:
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(dst.name + ".part")
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
        progress(f"{name}: {len(spec.files)} files → {target / spec.folder}")
    # the folder's manifest keeps what it already lists (a mirror may hold files this course does not know), with
    # this course's entries for the files now present; written atomically
    entries = {}
    existing = target / "MANIFEST.sha256"
    if existing.is_file():
        for line in existing.read_text(encoding="utf-8").splitlines():
            digest, _, rel = line.partition("  ")
            if rel:
                entries[rel] = digest
    entries.update({rel: h for rel, h in manifest().items() if (target / rel).is_file()})
    tmp = existing.with_name(existing.name + ".part")
    tmp.write_text("".join(f"{h}  {rel}\n" for rel, h in sorted(entries.items(), key=lambda kv: kv[0].encode())),
                   encoding="utf-8")
    os.replace(tmp, existing)
