"""The index folder: immutable versions, a CURRENT pointer swapped atomically, one writer at a time.

    INDEX_DIR/
      CURRENT              name of the version readers use (replaced with an atomic rename)
      versions/<name>/     manifest.json, vectors.faiss, metadata.sqlite, ...; never changed once published;
                           checksums.json holds each file's size and SHA-256: required, checked at every open
      versions/.staging-*  a build in progress; removed by the next build if that build died
      cache/               embeddings per article, so rebuilds re-embed only what changed
      .lock                held by the one build that may write

A reader resolves CURRENT once and then reads only that version's files, so it never sees a
half-written index, and a build killed at any point leaves the previous version serving.

The folder's entries are not trusted: CURRENT is read only as a small regular file naming a version
(never a link, pipe or folder, which could point outside, block or never end, and its content is
never echoed), a version must be a real folder whose checksums.json covers every file a reader
loads, and each of those must be a regular file with its recorded size and SHA-256. A version that
fails any of this is damaged: readers refuse it, and the next build treats it as absent and rebuilds
(from the embedding cache); the build also replaces a CURRENT, versions/ or .lock that is not what
it writes, and never follows a link there.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from newsbot.index.errors import IndexBusy, IndexCorrupt, IndexNotFound, IndexProblem
from newsbot.index.manifest import READER_FILES
from newsbot.index.write_failures import writes_reported

CURRENT_FILE = "CURRENT"
VERSIONS_DIR = "versions"
CACHE_DIR = "cache"
LOCK_FILE = ".lock"
STAGING_PREFIX = ".staging-"
CHECKSUMS_FILE = "checksums.json"
KEEP_VERSIONS = 2
VERSION_NAME = re.compile(r"[0-9]{8}T[0-9]{12}-[0-9a-f]{6}")  # as `publish` names them: UTC time, random tag
POINTER_BYTES = 256  # CURRENT holds a 28-character name; anything longer is not ours
CHECKSUMS_BYTES = 64 * 1024  # checksums.json: about 120 bytes per file
_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")  # a file of the version itself, no path
_SHA256 = re.compile(r"[0-9a-f]{64}")


def current_version(index_dir: Path) -> Path:
    """The folder of the version readers should use, once its checksums hold (else IndexCorrupt)."""
    versions = Path(index_dir) / VERSIONS_DIR
    folder = versions / _pointer(Path(index_dir))
    if not (_is_folder(versions) and _is_folder(folder)):
        raise IndexCorrupt(f"{index_dir}/{CURRENT_FILE} names a version that is missing or not a folder of "
                           f"{versions}; run `newsbot index` to rebuild it")
    verify_version(folder)
    return folder


def current_version_name(index_dir: Path) -> str | None:
    """The name of the version CURRENT points at, unverified (a cheap check whether it has moved); None
    before the first build."""
    try:
        return _pointer(Path(index_dir))
    except IndexNotFound:
        return None


def verify_version(folder: Path) -> None:
    """Raise IndexCorrupt unless checksums.json covers every file a reader loads and each file it lists is a
    regular file (not a link) with the size and SHA-256 recorded when the version was published.

    Every call hashes the files again, before any of them is read: nothing is remembered between opens, so
    a file damaged or replaced after one open is refused at the next. Readers then open the files by name,
    so a file swapped in the moment between this check and its load is not caught.
    """
    for name, (size_written, sha256) in sorted(_checksums(folder).items()):
        path = folder / name
        try:
            handle = _open_regular(path)
        except FileNotFoundError:
            raise IndexCorrupt(f"the index file {path} is missing; run `newsbot index` to rebuild it") from None
        except OSError as error:
            raise IndexCorrupt(f"the index file {path} cannot be read ({error.strerror}); "
                               "run `newsbot index` to rebuild it") from None
        if handle is None:
            raise IndexCorrupt(f"the index file {path} is not a regular file (a link, pipe or folder); "
                               "run `newsbot index` to rebuild it")
        with handle:
            size = os.fstat(handle.fileno()).st_size
            if size != size_written:
                raise IndexCorrupt(f"the index file {path} has {size:,} bytes, {size_written:,} were written "
                                   "(truncated or damaged); run `newsbot index` to rebuild it")
            if _sha256(handle) != sha256:
                raise IndexCorrupt(f"the index file {path} is damaged (its checksum does not match); "
                                   "run `newsbot index` to rebuild it")


def _checksums(folder: Path) -> dict[str, tuple[int, str]]:
    """The version's recorded file name -> (bytes, SHA-256); IndexCorrupt unless it covers READER_FILES."""
    path = folder / CHECKSUMS_FILE
    try:
        content = _small_file(path, CHECKSUMS_BYTES)
    except FileNotFoundError:
        raise IndexCorrupt(f"the index at {folder} has no {CHECKSUMS_FILE}, so its files cannot be trusted; "
                           "run `newsbot index` to rebuild it") from None
    except OSError:
        content = None
    try:
        recorded = {name: (entry["bytes"], entry["sha256"]) for name, entry in json.loads(content or b"").items()}
    except (ValueError, TypeError, KeyError, AttributeError):
        recorded = None
    if recorded is None or not all(_FILE_NAME.fullmatch(name) and type(size) is int and isinstance(sha256, str)
                                   and _SHA256.fullmatch(sha256) for name, (size, sha256) in recorded.items()):
        raise IndexCorrupt(f"the checksums of the index at {folder} cannot be read; "
                           "run `newsbot index` to rebuild it")
    missing = [name for name in READER_FILES if name not in recorded]
    if missing:
        raise IndexCorrupt(f"the checksums of the index at {folder} do not cover {', '.join(missing)}, so it "
                           "cannot be trusted; run `newsbot index` to rebuild it")
    return recorded


def _pointer(index_dir: Path) -> str:
    """The version name CURRENT holds; its content is checked against the pattern and never echoed."""
    path = index_dir / CURRENT_FILE
    try:
        content = _small_file(path, POINTER_BYTES)
    except (FileNotFoundError, NotADirectoryError):
        raise IndexNotFound(f"no index has been built in {index_dir} yet; run `newsbot index`") from None
    except OSError as error:
        raise IndexCorrupt(f"cannot read {path} ({error.strerror}); check the index folder") from None
    if content is None:
        raise IndexCorrupt(f"{path} is not a small regular file (a link, pipe, folder or large file); "
                           "run `newsbot index` to replace it")
    name = content.decode("ascii", errors="replace").strip()
    if not VERSION_NAME.fullmatch(name):
        raise IndexCorrupt(f"{path} does not hold the name of an index version; run `newsbot index` to replace it")
    return name


def _small_file(path: Path, limit: int) -> bytes | None:
    """The content of a regular file of at most `limit` bytes; None when `path` is anything else."""
    handle = _open_regular(path)
    if handle is None:
        return None
    with handle:
        content = handle.read(limit + 1)
    return content if len(content) <= limit else None


def _open_regular(path: Path) -> BinaryIO | None:
    """`path` opened for reading if it is a regular file itself, else None: a link is not followed (it may
    lead out of the folder or to /dev/zero), a pipe is opened without waiting for a writer and never read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return None
        raise
    if stat.S_ISREG(os.fstat(fd).st_mode):
        return open(fd, "rb")
    os.close(fd)
    return None


def _is_folder(path: Path) -> bool:
    """Whether `path` is a folder itself, not a link to one."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False


def _remove_entry(path: Path) -> None:
    """Delete whatever is at `path` (file, link, pipe or folder) without following a link."""
    try:
        if _is_folder(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass


@contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """Hold the one-writer lock for a build; a second build is refused rather than queued.

    A write that fails inside (disk full, a file-size limit, read-only folder, no permission, a file where a
    folder should be) leaves as IndexWriteFailed naming the cause, whichever library (Python, FAISS, SQLite)
    met it; the current version is untouched.
    """
    with writes_reported(index_dir):
        Path(index_dir).mkdir(parents=True, exist_ok=True)
        fd = _lock_file(Path(index_dir) / LOCK_FILE)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusy("another index build is running; try again when it has finished") from None
        try:
            with writes_reported(index_dir):
                yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _lock_file(path: Path) -> int:
    """The lock file, opened; anything else in its place (a link, pipe or folder) is replaced, never followed."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as error:
        if error.errno not in (errno.ELOOP, errno.EISDIR):
            raise
    else:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return fd
        os.close(fd)
    _remove_entry(path)
    return os.open(path, flags | os.O_EXCL, 0o644)


def new_staging_dir(index_dir: Path) -> Path:
    """A fresh folder for a build; call with the writer lock held. A `versions` that is not a folder (a link
    out of the index folder, a file) is replaced first."""
    versions = Path(index_dir) / VERSIONS_DIR
    if not _is_folder(versions):
        _remove_entry(versions)
        versions.mkdir()
    folder = versions / f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
    folder.mkdir()
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
    pointer = index_dir / f"{CURRENT_FILE}.tmp"
    try:
        _fsync(version.parent)
        _remove_entry(pointer)  # a killed build's, or anything else: written afresh, never through a link or pipe
        with open(os.open(pointer, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644),
                  "w", encoding="utf-8") as handle:
            handle.write(name + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        if _is_folder(index_dir / CURRENT_FILE):  # a rename cannot put a file in a folder's place
            _remove_entry(index_dir / CURRENT_FILE)
        os.replace(pointer, index_dir / CURRENT_FILE)
    except BaseException:  # not swapped in: the old version stays current, and nothing of this one is left
        pointer.unlink(missing_ok=True)
        shutil.rmtree(version, ignore_errors=True)
        raise
    _fsync(index_dir)
    remove_stale(index_dir)
    return version


def write_checksums(folder: Path) -> None:
    """Record the size and SHA-256 of every file of a finished version, for verify_version."""
    checksums = {}
    for file in sorted(folder.iterdir()):
        if file.name != CHECKSUMS_FILE:
            with open(file, "rb") as handle:
                checksums[file.name] = {"bytes": os.fstat(handle.fileno()).st_size, "sha256": _sha256(handle)}
    (folder / CHECKSUMS_FILE).write_text(json.dumps(checksums, indent=1) + "\n", encoding="utf-8")


def remove_stale(index_dir: Path) -> None:
    """Delete dead builds' staging folders, versions older than the last KEEP_VERSIONS and anything else in
    `versions` (links are removed, never followed); call with the lock held.

    The previous version is kept so a reader that resolved CURRENT just before a swap can still open it.
    """
    versions = Path(index_dir) / VERSIONS_DIR
    if not _is_folder(versions):
        return
    try:
        current = _pointer(Path(index_dir))
    except IndexProblem:
        current = None
    entries = list(versions.iterdir())
    published = sorted(p.name for p in entries if VERSION_NAME.fullmatch(p.name) and _is_folder(p))
    keep = {*published[-KEEP_VERSIONS:], current}
    for entry in entries:
        if entry.name not in keep or not _is_folder(entry):
            with suppress(OSError):  # tidying up: what cannot be removed now is tried again by the next build
                _remove_entry(entry)


def _sha256(handle: BinaryIO) -> str:
    return hashlib.file_digest(handle, "sha256").hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
