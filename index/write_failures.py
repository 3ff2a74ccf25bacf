"""Failed writes to the index folder in words that say what to do, whichever library (Python, numpy,
FAISS, SQLite) met the failure and however it words it: a full disk, a file-size limit, a file where a
folder must go, a read-only folder, no permission."""

from __future__ import annotations

import errno
import os
import re
import resource
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from newsbot.index.errors import IndexWriteFailed

_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
_DISK_FULL_WORDS = ("no space left", "disk is full", "disk quota")  # the OS's and FAISS's words, SQLite's
_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")  # numpy's words: a short write
_SQLITE_WRITE_FAILED = "disk i/o error"  # SQLite's words when a write fails with EFBIG


@contextmanager
def writes_reported(index_dir: Path) -> Iterator[None]:
    """Turn the write failures an admin can fix into IndexWriteFailed saying what to do."""
    try:
        yield
    except (OSError, RuntimeError, sqlite3.Error) as error:
        problem = _write_problem(error, Path(index_dir))
        if problem is None:
            raise
        raise IndexWriteFailed(f"{problem}. The current index was not changed") from None


def _write_problem(error: Exception, index_dir: Path) -> str | None:
    """What went wrong with a failed write and what to do, in the words of whichever library met it;
    None when it is not something an admin can fix."""
    number = error.errno if isinstance(error, OSError) else None
    text = str(error).lower()
    short = isinstance(error, OSError) and number is None and bool(_SHORT_WRITE.search(text))
    limit = _file_size_limit()
    if number == errno.EFBIG or "file too large" in text or (
            limit is not None and (short or (isinstance(error, sqlite3.Error) and _SQLITE_WRITE_FAILED in text))):
        if limit is None:
            return (f"a file of the index in {index_dir} is too large for its file system; choose another index "
                    "folder and run `newsbot index` again")
        return (f"a file of the index in {index_dir} reached this process's file-size limit of {limit:,} bytes "
                "(`ulimit -f`); raise the limit and run `newsbot index` again")
    if number in _DISK_FULL or short or any(words in text for words in _DISK_FULL_WORDS):
        return (f"the disk holding {index_dir} is full (no space left on device); free some space and run "
                "`newsbot index` again")
    if number in (errno.ENOTDIR, errno.EEXIST) and (blocker := _not_a_folder(Path(error.filename or index_dir))):
        remedy = "remove it" if index_dir in blocker.parents else "choose another index folder (--index-dir)"
        return f"cannot write the index in {index_dir}: {blocker} is not a folder; {remedy} and run `newsbot index`"
    if number in (errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO):
        return f"cannot write the index in {index_dir}: {error.strerror} ({error.filename or index_dir})"
    return None


def _file_size_limit() -> int | None:
    """This process's limit on the size of a file it writes (`ulimit -f`), in bytes; None when unlimited."""
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else soft


def _not_a_folder(path: Path) -> Path | None:
    """The first existing one of `path` and its parents, if it is not a folder (it stands where one must go)."""
    existing = next((p for p in (path, *path.parents) if os.path.lexists(p)), None)
    return existing if existing is not None and not existing.is_dir() else None
