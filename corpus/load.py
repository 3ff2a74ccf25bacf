"""Read the corpus folder: every article file becomes Articles or a Problem naming the file.

One bad item (file, folder or line of a bulk file) never stops the rest: it is reported by name and
skipped, whatever it holds, however it is named and however deep it lies.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from newsbot.corpus.article import Article
from newsbot.corpus.parse import ArticleFormatError, article_from_record, parse_article

log = logging.getLogger(__name__)

ARTICLE_SUFFIXES = (".txt",)
BULK_SUFFIXES = (".jsonl",)
MAX_ARTICLE_BYTES = 5_000_000  # a file, or one line of a bulk file
MAX_BULK_BYTES = 2_000_000_000
SKIP_CHUNK = 1 << 20  # the rest of an over-long bulk line is read and dropped this much at a time


@dataclass(frozen=True)
class Problem:
    """A file, folder or line of a bulk file that was skipped, and why, in words for an admin."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{quoted(self.path)}: {self.reason}"


def quoted(name: str) -> str:
    """A name as it can be shown on one line: unchanged when every character is printable, else in
    double quotes with the others escaped (a newline in a file name cannot forge a line of a report,
    and a byte that is not UTF-8 is shown as \\xff)."""
    if name.isprintable() and not name.startswith('"'):
        return name
    return '"' + "".join(_escaped(character) for character in name) + '"'


def read_corpus(directory: Path) -> Iterator[Article | Problem]:
    """Yield each article of the folder in a stable order, and a Problem for each item that fails."""
    directory = Path(directory)
    if not directory.is_dir():
        yield Problem(str(directory), "the corpus folder does not exist")
        return
    root = directory.resolve()
    for found in _article_files(root):
        if isinstance(found, Problem):
            yield found
            continue
        name = found.relative_to(root).as_posix()
        if found.suffix.lower() in BULK_SUFFIXES:
            yield from _read_bulk(found, name, root)
        else:
            yield _guarded(name, lambda: _read_article(found, name, root))


def _article_files(root: Path) -> Iterator[Path | Problem]:
    """Article files in a stable order (a folder's files by name, then its sub-folders), walked with a
    stack rather than recursion so that no depth stops the build; what cannot be walked is a Problem."""
    folders = [root]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as error:
            yield Problem(f"{folder.relative_to(root).as_posix()}/", f"skipped: the folder {_describe(error)}")
            continue
        subfolders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            is_folder = _is_folder(entry)
            if not is_folder and path.suffix.lower() not in ARTICLE_SUFFIXES + BULK_SUFFIXES:
                continue
            name = path.relative_to(root).as_posix() + ("/" if is_folder else "")
            if not _is_text(entry.name):
                yield Problem(name, f"skipped: its name is not valid UTF-8; rename the {'folder' if is_folder else 'file'}")
            elif is_folder and entry.is_symlink():
                yield Problem(name, "skipped: a link to a folder (links to folders are not followed)")
            elif is_folder:
                subfolders.append(path)
            else:
                yield path
        folders.extend(reversed(subfolders))


def _read_article(path: Path, name: str, root: Path) -> Article | Problem:
    try:
        if not _stays_inside(path, root):
            return Problem(name, "skipped: a link to a file outside the corpus folder")
        if not stat.S_ISREG(path.stat().st_mode):  # a named pipe or a device would block the read or never end
            return Problem(name, "skipped: not a regular file")
        with path.open("rb") as file:
            data = file.read(MAX_ARTICLE_BYTES + 1)
        if len(data) > MAX_ARTICLE_BYTES:
            return Problem(name, f"skipped: larger than {MAX_ARTICLE_BYTES // 1_000_000} MB")
        return parse_article(name, _decode(data))
    except (ArticleFormatError, OSError) as error:
        return Problem(name, f"skipped: {_describe(error)}")


def _read_bulk(path: Path, name: str, root: Path) -> Iterator[Article | Problem]:
    """A JSON Lines file: one article per line, read a bounded line at a time; a bad line is `file:line`."""
    try:
        if not _stays_inside(path, root):
            yield Problem(name, "skipped: a link to a file outside the corpus folder")
            return
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):
            yield Problem(name, "skipped: not a regular file")
            return
        if status.st_size > MAX_BULK_BYTES:
            yield Problem(name, f"skipped: larger than {MAX_BULK_BYTES // 1_000_000} MB")
            return
        with path.open("rb") as lines:
            number, read_any = 0, False
            while raw := lines.readline(MAX_ARTICLE_BYTES + 1):
                number += 1
                where = f"{name}:{number}"
                if len(raw) > MAX_ARTICLE_BYTES and not raw.endswith(b"\n"):
                    _skip_rest_of_line(lines)
                    yield Problem(where, f"skipped: the line is larger than {MAX_ARTICLE_BYTES // 1_000_000} MB")
                elif raw.strip():
                    yield _guarded(where, lambda: _read_record(name, where, raw))
                else:
                    continue
                read_any = True
            if not read_any:
                yield Problem(name, "skipped: the file is empty")  # as an empty .txt is
    except OSError as error:
        yield Problem(name, f"skipped: {_describe(error)}")


def _read_record(name: str, where: str, raw: bytes) -> Article | Problem:
    try:
        try:
            record = json.loads(_decode(raw))
        except RecursionError:
            raise ArticleFormatError("the JSON is nested too deeply to be an article") from None
        record_id = record.get("id") if isinstance(record, dict) else None
        article_id = f"{name}#{record_id}" if isinstance(record_id, (str, int)) else where
        return article_from_record(article_id, record)
    except (ArticleFormatError, ValueError) as error:
        return Problem(where, f"skipped: {_describe(error)}")


def _guarded(name: str, read: Callable[[], Article | Problem]) -> Article | Problem:
    """The last line of defence: whatever else goes wrong with one item is its own Problem, not the build's.
    The details go to the log (the CLI shows them with --verbose), never into the report."""
    try:
        return read()
    except Exception:
        log.info("reading %s failed unexpectedly", quoted(name), exc_info=True)
        return Problem(name, "skipped: reading it failed unexpectedly (the details are in the log; "
                             "`newsbot --verbose index` shows them)")


def _skip_rest_of_line(lines: BinaryIO) -> None:
    while (chunk := lines.readline(SKIP_CHUNK)) and not chunk.endswith(b"\n"):
        pass


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _is_text(name: str) -> bool:
    """False for a name holding bytes that are not UTF-8 (Python keeps them as lone surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _stays_inside(path: Path, root: Path) -> bool:
    """Whether the file, links followed, is inside the corpus folder; OSError for a broken or looping link."""
    if not path.is_symlink():
        return True
    target = Path(os.path.realpath(path, strict=True))
    return target == root or root in target.parents


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


def _escaped(character: str) -> str:
    code = ord(character)
    if character in '"\\':
        return "\\" + character
    if character.isprintable():
        return character
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, as os.fsdecode keeps it
        return f"\\x{code - 0xDC00:02x}"
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(character) or (
        f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
