"""Read the corpus folder: every article file becomes Articles or a Problem naming the file.

One bad file never stops the rest: it is reported by name and skipped.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from corpus.article import Article
from corpus.parse import ArticleFormatError, article_from_record, parse_article

ARTICLE_SUFFIXES = (".txt",)
BULK_SUFFIXES = (".jsonl",)
MAX_ARTICLE_BYTES = 5_000_000
MAX_BULK_BYTES = 2_000_000_000


@dataclass(frozen=True)
class Problem:
    """A file (or one line of a bulk file) that was skipped, and why, in words for an admin."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def read_corpus(directory: Path) -> Iterator[Article | Problem]:
    """Yield each article of the folder in a stable order, and a Problem for each file that fails."""
    directory = Path(directory)
    if not directory.is_dir():
        yield Problem(str(directory), "the corpus folder does not exist")
        return
    root = directory.resolve()
    for path in _article_files(root):
        name = path.relative_to(root).as_posix()
        if path.is_symlink() and not _is_inside(path.resolve(), root):
            yield Problem(name, "skipped: a link to a file outside the corpus folder")
        elif path.suffix.lower() in BULK_SUFFIXES:
            yield from _read_bulk(path, name)
        else:
            yield _read_article(path, name)


def _article_files(root: Path) -> Iterator[Path]:
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for file in sorted(files):
            path = Path(folder, file)
            if not file.startswith(".") and path.suffix.lower() in ARTICLE_SUFFIXES + BULK_SUFFIXES:
                yield path


def _read_article(path: Path, name: str) -> Article | Problem:
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):  # a named pipe or a device would block the read or never end
            return Problem(name, "skipped: not a regular file")
        if status.st_size > MAX_ARTICLE_BYTES:
            return Problem(name, f"skipped: larger than {MAX_ARTICLE_BYTES // 1_000_000} MB")
        data = path.read_bytes()
        return parse_article(name, _decode(data))
    except (ArticleFormatError, OSError) as error:
        return Problem(name, f"skipped: {_describe(error)}")


def _read_bulk(path: Path, name: str) -> Iterator[Article | Problem]:
    """A JSON Lines file: one article per line; a bad line is reported as `file:line`."""
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):
            yield Problem(name, "skipped: not a regular file")
            return
        if status.st_size > MAX_BULK_BYTES:
            yield Problem(name, f"skipped: larger than {MAX_BULK_BYTES // 1_000_000} MB")
            return
        with path.open("rb") as lines:
            for number, raw in enumerate(lines, start=1):
                if not raw.strip():
                    continue
                where = f"{name}:{number}"
                try:
                    record = json.loads(_decode(raw))
                    record_id = record.get("id") if isinstance(record, dict) else None
                    article_id = f"{name}#{record_id}" if isinstance(record_id, (str, int)) else where
                    yield article_from_record(article_id, record)
                except (ArticleFormatError, ValueError) as error:
                    yield Problem(where, f"skipped: {_describe(error)}")
    except OSError as error:
        yield Problem(name, f"skipped: {_describe(error)}")


def _decode(data: bytes) -> str:
    if b"\x00" in data:
        raise ArticleFormatError("the file looks binary (it contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ArticleFormatError(f"not UTF-8 text (bad byte at offset {error.start})") from None


def _describe(error: Exception) -> str:
    if isinstance(error, OSError):
        return f"cannot be read ({error.strerror or type(error).__name__})"
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON ({error.msg})"
    return str(error)


def _is_inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents
