"""The index folder: immutable versions, a CURRENT pointer swapped atomically, one writer at a time.

    INDEX_DIR/
      CURRENT              name of the version readers use (replaced with an atomic rename)
      versions/<name>/     manifest.json, vectors.faiss, metadata.sqlite, ...; never changed once published;
                           checksums.json holds each file's size and SHA-256, checked before the version is used
      versions/.staging-*  a build in progress; removed by the next build if that build died
      cache/               embeddings per article, so rebuilds re-embed only what changed
      .lock                held by the one build that may write

A reader resolves CURRENT once and then reads only that version's files, so it never sees a
half-written index, and a build killed at any point leaves the previous version serving.
A version whose files were truncated, damaged or deleted afterwards fails its checksums: readers
refuse it, and the next build treats it as absent and rebuilds (from the embedding cache) instead
of calling it up to date.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from index.errors import IndexBusy, IndexCorrupt, IndexNotFound, IndexWriteFailed

CURRENT_FILE = "CURRENT"
VERSIONS_DIR = "versions"
CACHE_DIR = "cache"
LOCK_FILE = ".lock"
STAGING_PREFIX = ".staging-"
CHECKSUMS_FILE = "checksums.json"
KEEP_VERSIONS = 2

_verified: dict[tuple[str, int, int, int], str] = {}  # (path, inode, size, mtime) -> SHA-256, per process


def current_version(index_dir: Path) -> Path:
    """The folder of the version readers should use."""
    try:
        name = (Path(index_dir) / CURRENT_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise IndexNotFound(f"no index has been built in {index_dir} yet; run `newsbot index`") from None
    except OSError as error:
        raise IndexCorrupt(f"cannot read {index_dir}/{CURRENT_FILE} ({error.strerror}); check the index folder") from None
    folder = Path(index_dir) / VERSIONS_DIR / name
    if not name or "/" in name or not folder.is_dir():
        raise IndexCorrupt(f"{index_dir}/{CURRENT_FILE} names a missing version {name!r}; run `newsbot index`")
    verify_version(folder)
    return folder


def verify_version(folder: Path) -> None:
    """Raise IndexCorrupt unless every file of the version has the size and SHA-256 recorded when it was
    published. A version from before checksums were recorded is accepted as it is."""
    try:
        recorded = json.loads((folder / CHECKSUMS_FILE).read_text(encoding="utf-8"))
        files = sorted((str(name), int(entry["bytes"]), str(entry["sha256"])) for name, entry in recorded.items())
    except FileNotFoundError:
        return
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        raise IndexCorrupt(f"the checksums of the index at {folder} cannot be read; "
                           "run `newsbot index` to rebuild it") from None
    for name, size_written, sha256 in files:
        path = folder / name
        try:
            size = path.stat().st_size
        except OSError:
            raise IndexCorrupt(f"the index file {path} is missing; run `newsbot index` to rebuild it") from None
        if size != size_written:
            raise IndexCorrupt(f"the index file {path} has {size:,} bytes, {size_written:,} were written "
                               "(truncated or damaged); run `newsbot index` to rebuild it")
        if _sha256(path) != sha256:
            raise IndexCorrupt(f"the index file {path} is damaged (its checksum does not match); "
                               "run `newsbot index` to rebuild it")


@contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """Hold the one-writer lock for a build; a second build is refused rather than queued.

    A write that fails inside (disk full, read-only folder, no permission) leaves as IndexWriteFailed
    naming the cause, whichever library (Python, FAISS, SQLite) met it; the current version is untouched.
    """
    with _writes_reported(index_dir):
        Path(index_dir).mkdir(parents=True, exist_ok=True)
        handle = open(Path(index_dir) / LOCK_FILE, "a+")
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusy("another index build is running; try again when it has finished") from None
        try:
            with _writes_reported(index_dir):
                yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
_DISK_FULL_WORDS = ("no space left", "disk is full", "disk quota")  # the OS's and FAISS's words, SQLite's
_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")  # numpy's words: a short write


@contextmanager
def _writes_reported(index_dir: Path) -> Iterator[None]:
    """Turn the write failures an admin can fix into IndexWriteFailed saying what to do."""
    try:
        yield
    except (OSError, RuntimeError, sqlite3.Error) as error:
        if _disk_full(error):
            raise IndexWriteFailed(f"the disk holding {index_dir} is full (no space left on device); free some "
                                   "space and run `newsbot index` again. The current index was not changed") from None
        if isinstance(error, OSError) and error.errno in (errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO):
            where = error.filename or index_dir
            raise IndexWriteFailed(f"cannot write the index in {index_dir}: {error.strerror} ({where}). "
                                   "The current index was not changed") from None
        raise


def new_staging_dir(index_dir: Path) -> Path:
    """A fresh folder for a build; call with the writer lock held."""
    folder = Path(index_dir) / VERSIONS_DIR / f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
    folder.mkdir(parents=True)
    return folder


def publish(index_dir: Path, staging: Path) -> Path:
    """Make a finished staging folder the current version: fsync, rename, swap CURRENT, tidy up."""
    index_dir = Path(index_dir)
    write_checksums(staging)
    for file in staging.iterdir():
        _fsync(file)
    name = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f") + "-" + uuid.uuid4().hex[:6]
    version = index_dir / VERSIONS_DIR / name
    os.rename(staging, version)
    _fsync(version.parent)
    pointer = index_dir / f"{CURRENT_FILE}.tmp"
    pointer.write_text(name + "\n", encoding="utf-8")
    _fsync(pointer)
    os.replace(pointer, index_dir / CURRENT_FILE)
    _fsync(index_dir)
    remove_stale(index_dir)
    return version


def write_checksums(folder: Path) -> None:
    """Record the size and SHA-256 of every file of a finished version, for verify_version."""
    checksums = {file.name: {"bytes": file.stat().st_size, "sha256": _sha256(file)}
                 for file in sorted(folder.iterdir()) if file.name != CHECKSUMS_FILE}
    (folder / CHECKSUMS_FILE).write_text(json.dumps(checksums, indent=1) + "\n", encoding="utf-8")


def remove_stale(index_dir: Path) -> None:
    """Delete dead builds' staging folders and versions older than the last KEEP_VERSIONS; call with the lock held.

    The previous version is kept so a reader that resolved CURRENT just before a swap can still open it.
    """
    versions = Path(index_dir) / VERSIONS_DIR
    if not versions.is_dir():
        return
    try:
        current = current_version(index_dir).name
    except (IndexNotFound, IndexCorrupt):
        current = None
    published = sorted((p for p in versions.iterdir() if not p.name.startswith(".")), key=lambda p: p.name)
    keep = {p.name for p in published[-KEEP_VERSIONS:]} | {current}
    for folder in versions.iterdir():
        if folder.name.startswith(STAGING_PREFIX) or folder.name not in keep:
            shutil.rmtree(folder, ignore_errors=True)


def _disk_full(error: Exception) -> bool:
    """Whether a failed write means a full disk, in the words of whichever library met it."""
    if isinstance(error, OSError) and error.errno in _DISK_FULL:
        return True
    text = str(error).lower()
    return any(words in text for words in _DISK_FULL_WORDS) or bool(
        isinstance(error, OSError) and error.errno is None and _SHORT_WRITE.search(text))


def _sha256(path: Path) -> str:
    """The file's SHA-256, remembered while the file is unchanged (published files never change)."""
    status = path.stat()
    key = (str(path), status.st_ino, status.st_size, status.st_mtime_ns)
    if key not in _verified:
        with open(path, "rb") as handle:
            _verified[key] = hashlib.file_digest(handle, "sha256").hexdigest()
    return _verified[key]


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
