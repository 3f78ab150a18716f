"""The data layer: mirror → cache → verified download, on a small fake dataset served locally."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import os
import stat
import threading
import zipfile
from pathlib import Path

import pytest

from aigc_course.datasets import registry
from aigc_course.datasets.registry import Archive, DatasetIntegrityError, DatasetNotFoundError, DatasetSpec

FILES = {"toyset/a.txt": b"alpha\n", "toyset/sub/b.bin": bytes(range(256))}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture()
def server(tmp_path):
    """A loopback HTTP server over ``tmp_path/www``; yields ``(base_url, root)``."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", root
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture()
def toyset(monkeypatch, isolated):
    """Register a two-file dataset 'toyset' whose URLs point at a closed port until a test changes them."""
    manifest = {rel: _sha(data) for rel, data in FILES.items()}
    monkeypatch.setattr(registry, "manifest", lambda: manifest)
    spec = DatasetSpec(name="toyset", title="toy set", folder="toyset", homepage="http://127.0.0.1:9/",
                       license="CC0", size_bytes=262,
                       file_url=lambda rel: "http://127.0.0.1:9/" + rel)
    monkeypatch.setitem(registry.DATASETS, "toyset", spec)
    return spec


def _write_tree(root: Path, files=FILES) -> None:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def test_good_mirror_is_used(toyset, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    _write_tree(mirror)
    monkeypatch.setenv("AIGC_COURSE_DATA", os.pathsep.join([str(tmp_path / "nowhere"), str(mirror)]))
    assert registry.dataset_dir("toyset") == mirror / "toyset"


def test_read_only_mirror_with_a_bad_file_is_skipped_and_left_untouched(toyset, tmp_path, monkeypatch, server):
    base, www = server
    _write_tree(www)
    mirror = tmp_path / "mirror"
    _write_tree(mirror, {**FILES, "toyset/a.txt": b"tampered\n"})
    for path in sorted(mirror.rglob("*"), reverse=True):
        path.chmod(stat.S_IREAD | stat.S_IEXEC if path.is_dir() else stat.S_IREAD)
    mirror.chmod(stat.S_IREAD | stat.S_IEXEC)
    before = {p: p.read_bytes() for p in mirror.rglob("*") if p.is_file()}
    monkeypatch.setenv("AIGC_COURSE_DATA", str(mirror))
    monkeypatch.setitem(registry.DATASETS, "toyset", _with_url(toyset, base))
    try:
        folder = registry.dataset_dir("toyset")
    finally:
        for path in [mirror, *mirror.rglob("*")]:
            path.chmod(stat.S_IRWXU)
    assert folder == Path(os.environ["AIGC_COURSE_CACHE"]) / "toyset"
    assert {p: p.read_bytes() for p in mirror.rglob("*") if p.is_file()} == before


def _with_url(spec: DatasetSpec, base: str) -> DatasetSpec:
    return DatasetSpec(**{**spec.__dict__, "file_url": lambda rel: base + rel})


def test_download_is_verified_and_cached(toyset, server, monkeypatch):
    base, www = server
    _write_tree(www)
    monkeypatch.setitem(registry.DATASETS, "toyset", _with_url(toyset, base))
    folder = registry.dataset_dir("toyset")
    assert (folder / "a.txt").read_bytes() == FILES["toyset/a.txt"]
    assert (folder / "sub" / "b.bin").read_bytes() == FILES["toyset/sub/b.bin"]
    (www / "toyset" / "a.txt").unlink()  # a second call must not need the network
    assert registry.dataset_dir("toyset") == folder


def test_hash_mismatch_on_download_deletes_the_file(toyset, server, monkeypatch):
    base, www = server
    _write_tree(www, {**FILES, "toyset/a.txt": b"corrupted in transit\n"})
    monkeypatch.setitem(registry.DATASETS, "toyset", _with_url(toyset, base))
    with pytest.raises(DatasetIntegrityError, match=r"toyset/a\.txt.*does not match its sha256"):
        registry.dataset_dir("toyset")
    assert not (Path(os.environ["AIGC_COURSE_CACHE"]) / "toyset" / "a.txt").exists()


def test_archive_download_extracts_checked_members(toyset, server, monkeypatch):
    base, www = server
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for rel, data in FILES.items():
            zf.writestr("toyset-v1/" + rel.split("/", 1)[1], data)
    (www / "toyset.zip").write_bytes(buffer.getvalue())
    spec = DatasetSpec(**{**toyset.__dict__, "file_url": None,
                          "archive": Archive(base + "toyset.zip", "toyset-v1/")})
    monkeypatch.setitem(registry.DATASETS, "toyset", spec)
    folder = registry.dataset_dir("toyset")
    assert (folder / "sub" / "b.bin").read_bytes() == FILES["toyset/sub/b.bin"]


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for rel, data in files.items():
            zf.writestr("toyset-v1/" + rel.split("/", 1)[1], data)
    return buffer.getvalue()


def _corrupt_member(data: bytes, payload: bytes) -> bytes:
    """The zip with one byte of a stored member's payload changed (its CRC no longer holds)."""
    at = data.index(payload)
    return data[:at] + bytes([payload[0] ^ 0xFF]) + data[at + 1:]


@pytest.mark.parametrize(("archive", "message"), [
    (lambda: b"<html>rate limited</html>", "is not a zip archive"),
    (lambda: _corrupt_member(_zip(FILES), FILES["toyset/sub/b.bin"]), "fails its CRC check"),
    (lambda: _zip({"toyset/a.txt": FILES["toyset/a.txt"]}), r"lacks toyset/sub/b\.bin"),
    (lambda: _zip({**FILES, "toyset/sub/b.bin": bytes(5000)}), "would unpack to 5,006 bytes"),
])
def test_a_bad_archive_is_refused_before_anything_is_extracted(toyset, server, monkeypatch, archive, message):
    base, www = server
    (www / "toyset.zip").write_bytes(archive())
    spec = DatasetSpec(**{**toyset.__dict__, "file_url": None, "size_bytes": 1000,
                          "archive": Archive(base + "toyset.zip", "toyset-v1/")})
    monkeypatch.setitem(registry.DATASETS, "toyset", spec)
    with pytest.raises(DatasetIntegrityError, match=message):
        registry.dataset_dir("toyset")
    assert not (Path(os.environ["AIGC_COURSE_CACHE"]) / "toyset").exists() or not any(
        (Path(os.environ["AIGC_COURSE_CACHE"]) / "toyset").rglob("*.*"))


def test_offline_and_missing_gives_one_clear_message(toyset):
    with pytest.raises(DatasetNotFoundError) as info:
        registry.dataset_dir("toyset")
    message = str(info.value)
    for needle in ("'toyset'", "toyset/a.txt", "http://127.0.0.1:9/", "AIGC_COURSE_DATA", "AIGC_COURSE_CACHE",
                   "failed"):
        assert needle in message
    assert "Traceback" not in message and info.value.__cause__ is None


def test_offline_switch_skips_the_download(toyset, monkeypatch):
    monkeypatch.setenv("AIGC_COURSE_OFFLINE", "1")
    with pytest.raises(DatasetNotFoundError, match="AIGC_COURSE_OFFLINE=1"):
        registry.dataset_dir("toyset")


def test_verify_names_every_bad_or_missing_file(toyset, tmp_path):
    root = tmp_path / "classroom"
    _write_tree(root, {"toyset/a.txt": b"changed\n"})
    result = registry.verify(root, ["toyset"])
    assert not result.ok
    assert result.problems == {"toyset/a.txt": "sha256 mismatch", "toyset/sub/b.bin": "missing"}


def test_unknown_dataset_lists_known_ones():
    with pytest.raises(registry.DatasetError, match="mnist"):
        registry.get("imagenet")


def test_registry_covers_the_manifest():
    names = {spec.folder.split("/")[0] for spec in registry.DATASETS.values()}
    assert {rel.split("/")[0] for rel in registry.manifest()} == names
    for spec in registry.DATASETS.values():
        assert spec.files, spec.name
        assert spec.license and spec.homepage.startswith("http") and spec.size_bytes > 0
        rel = sorted(spec.required)[0]
        assert spec.url_for(rel).startswith("https://")


# ---------------------------------------------------------------------------------------------
# Against the real read-only mirror
# ---------------------------------------------------------------------------------------------
def test_mirror_verifies_including_directory_digests(mirror):
    result = registry.verify(mirror)
    assert result.ok, result.problems
    assert result.digests == {"fsdd/recordings": True, "ljspeech-sample/wavs": True}


def test_cli_verify_fails_on_a_corrupted_copy_naming_the_file(mirror, tmp_path, capsys):
    from aigc_course.cli import main

    copy = tmp_path / "copy"
    for rel in registry.DATASETS["financial-tweets"].files:
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (copy / rel).write_bytes((mirror / rel).read_bytes())
    assert main(["data", "verify", "financial-tweets", "--root", str(copy)]) == 0
    bad = copy / "financial_sentiment" / "sent_valid.csv"
    bad.write_bytes(bad.read_bytes()[:-10])
    capsys.readouterr()
    assert main(["data", "verify", "financial-tweets", "--root", str(copy)]) == 1
    out = capsys.readouterr().out
    assert "sha256 mismatch" in out and "financial_sentiment/sent_valid.csv" in out
    assert "sent_train.csv" not in out


def test_fetch_stages_a_classroom_mirror(with_mirror, tmp_path):
    target = tmp_path / "classroom"
    registry.fetch_to(target, ["tinyshakespeare", "financial-tweets"], progress=lambda _: None)
    assert registry.verify(target, ["tinyshakespeare", "financial-tweets"]).ok
    listed = (target / "MANIFEST.sha256").read_text().splitlines()
    assert len(listed) == 3 and listed[0].endswith("financial_sentiment/sent_train.csv")


def test_fetch_refuses_to_write_into_a_mirror(with_mirror):
    with pytest.raises(registry.DatasetError, match="read-only mirror"):
        registry.fetch_to(with_mirror, ["tinyshakespeare"])
    with pytest.raises(registry.DatasetError, match="inside the read-only mirror"):
        registry.fetch_to(with_mirror / "classroom", ["tinyshakespeare"])
    assert not (with_mirror / "classroom").exists()


def test_fetch_keeps_what_a_folders_manifest_already_lists(with_mirror, tmp_path):
    target = tmp_path / "classroom"
    target.mkdir()
    foreign = "ab" * 32 + "  other_course/data.bin"
    (target / "MANIFEST.sha256").write_text(foreign + "\n")
    registry.fetch_to(target, ["tinyshakespeare"], progress=lambda _: None)
    listed = (target / "MANIFEST.sha256").read_text().splitlines()
    assert foreign in listed and any(line.endswith("input.txt") for line in listed)
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(registry.DatasetError, match="is a file"):
        registry.fetch_to(blocker, ["tinyshakespeare"])
