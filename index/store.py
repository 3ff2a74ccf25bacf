"""The index folder: immutable versions, a CURRENT pointer swapped atomically, one writer at a time.

    INDEX_DIR/
      CURRENT              name of the version readers use (replaced with an atomic rename)
      versions/<name>/     manifest.json, vectors.faiss, metadata.sqlite; never changed once published
      versions/.staging-*  a build in progress; removed by the next build if that build died
      cache/               embeddings per article, so rebuilds re-embed only what changed
      .lock                held by the one build that may write

A reader resolves CURRENT once and then reads only that version's files, so it never sees a
half-written index, and a build killed at any point leaves the previous version serving.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from index.errors import IndexBusy, IndexCorrupt, IndexNotFound

CURRENT_FILE = "CURRENT"
VERSIONS_DIR = "versions"
CACHE_DIR = "cache"
LOCK_FILE = ".lock"
STAGING_PREFIX = ".staging-"
KEEP_VERSIONS = 2


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
    return folder


@contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """Hold the one-writer lock; a second build is refused rather than queued."""
    Path(index_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(index_dir) / LOCK_FILE, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusy("another index build is running; try again when it has finished") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def new_staging_dir(index_dir: Path) -> Path:
    """A fresh folder for a build; call with the writer lock held."""
    folder = Path(index_dir) / VERSIONS_DIR / f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
    folder.mkdir(parents=True)
    return folder


def publish(index_dir: Path, staging: Path) -> Path:
    """Make a finished staging folder the current version: fsync, rename, swap CURRENT, tidy up."""
    index_dir = Path(index_dir)
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


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
