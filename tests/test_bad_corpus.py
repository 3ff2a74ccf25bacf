"""No single bad item stops a build: corpus folders of any shape (names with any bytes, any nesting, links,
encodings, JSON Lines of any shape and size) build, every good article is indexed, and every skipped item is
reported under its own name, quoted so that no name can break or forge a line of the report. Through the
library (property-based, hypothesis), `newsbot index` and the bot's /reindex and /add; the hashing embedder
stands in for the model."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import newsbot.corpus.load
import newsbot.corpus.parse
from newsbot.corpus import Problem, read_corpus
from newsbot.corpus.load import MAX_ARTICLE_BYTES, quoted
from newsbot.index import build_index
from newsbot.index.hashing_embedder import HashingEmbedder
from newsbot.retrieval import Retriever
from tests.bot_harness import ADMIN, in_process_bot
from tests.fake_bot_api import visible_text
from tests.reliability import Record

ROOT = Path(__file__).resolve().parents[1]


def _article(marker: str) -> str:
    return f"title: Story {marker}\n\nThe marker {marker} appears in this story. A second sentence follows.\n"


# --- folder chains deeper than a path can name (built and removed through file descriptors) ---

def _nest(top: Path, name: str, depth: int, file: str, text: str) -> None:
    """`depth` folders called `name`, one inside the other under `top`, with `file` in the deepest."""
    folder = os.open(top, os.O_RDONLY)
    for _ in range(depth):
        os.mkdir(name, dir_fd=folder)
        inner = os.open(name, os.O_RDONLY, dir_fd=folder)
        os.close(folder)
        folder = inner
    handle = os.open(file, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=folder)
    os.write(handle, text.encode())
    os.close(handle)
    os.close(folder)


def _unnest(top: Path, name: str) -> None:
    """Remove a chain made by _nest (shutil.rmtree recurses, and fails this deep)."""
    folders = [os.open(top, os.O_RDONLY)]
    while True:
        try:
            folders.append(os.open(name, os.O_RDONLY, dir_fd=folders[-1]))
        except FileNotFoundError:
            break
    for depth in range(len(folders) - 1, 0, -1):
        for entry in os.listdir(folders[depth]):
            if entry != name:
                os.unlink(entry, dir_fd=folders[depth])
        os.close(folders[depth])
        os.rmdir(name, dir_fd=folders[depth - 1])
    os.close(folders[0])


# --- the items that stopped whole builds, through `newsbot index`, /reindex and /add ---

def _write_hostile_corpus(folder: Path) -> tuple[set[str], dict[str, str]]:
    """The reported cases and their kin; returns the article ids that must be indexed and, for each item that
    must be skipped, its name and a word of the reason."""
    (folder / "good.txt").write_text(_article("good"), encoding="utf-8")
    deep_json = "[" * 200_000
    many_lines = json.dumps({"title": "Many lines", "body": "word\n" * 200_000})
    fine = json.dumps({"title": "Fine record", "body": "A fine record follows the bad ones."})
    (folder / "bulk.jsonl").write_text(f"{deep_json}\n{many_lines}\n{fine}\n", encoding="utf-8")
    raw = os.fsencode(folder)
    (Path(os.fsdecode(raw + b"/bad \xff name.txt"))).write_text(_article("badname"), encoding="utf-8")
    os.mkdir(raw + b"/folder \xfe")
    Path(os.fsdecode(raw + b"/folder \xfe/inside.txt")).write_text(_article("inside"), encoding="utf-8")
    (folder / "evil\nwarning: forged.txt").write_text("", encoding="utf-8")
    os.symlink("itself.txt", folder / "itself.txt")
    _nest(folder, "d", 1_000, "deep.txt", _article("deep"))
    _nest(folder, "e", 2_100, "deeper.txt", _article("deeper"))  # past PATH_MAX (4,096 bytes)
    indexed = {"good.txt", "bulk.jsonl:3", "d/" * 1_000 + "deep.txt"}
    skipped = {"bulk.jsonl:1": "nested too deeply", "bulk.jsonl:2": "too long",
               os.fsdecode(b"bad \xff name.txt"): "not valid UTF-8", os.fsdecode(b"folder \xfe/"): "not valid UTF-8",
               "evil\nwarning: forged.txt": "empty", "itself.txt": "cannot be read"}
    return indexed, skipped


async def test_the_items_that_stopped_whole_builds_are_skipped_by_name_in_the_cli_and_the_bot(
        tmp_path: Path, reliability: Record) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    indexed, skipped = _write_hostile_corpus(folder)
    try:
        done = subprocess.run([sys.executable, "-m", "newsbot.bot", "index", "--model", "hashing", "--corpus-dir",
                               str(folder), "--index-dir", str(tmp_path / "index")],
                              cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, timeout=300)
        err = done.stderr.decode()
        assert done.returncode == 0, err
        assert "Traceback" not in err and "unexpected" not in err
        warnings = err.splitlines()
        assert all(line.startswith("warning: ") for line in warnings)  # no name broke a line or forged one
        too_deep = [line for line in warnings if line.startswith("warning: " + "e/" * 100)]
        assert len(too_deep) == 1 and "File name too long" in too_deep[0]
        for name, reason in skipped.items():
            [line] = [line for line in warnings if line.startswith(f"warning: {quoted(name)}: ")]
            assert reason in line
        assert len(warnings) == len(skipped) + 1
        retriever = Retriever.open(tmp_path / "index", embedder=HashingEmbedder())
        assert {article.id for article in retriever.articles()} == indexed
        retriever.close()

        async with in_process_bot(tmp_path, folder) as bot:  # its first build reads the same folder
            await bot.say("/reindex force", chat_id=ADMIN)
            reindex = "\n".join(visible_text(c.text) for c in bot.telegram.calls if c.chat_id == ADMIN)
            before = len(bot.telegram.calls)
            await bot.say("/add " + _article("added"), chat_id=ADMIN)
            add = "\n".join(visible_text(c.text) for c in bot.telegram.calls[before:] if c.chat_id == ADMIN)
    finally:
        _unnest(folder, "d")
        _unnest(folder, "e")
    assert "Index rebuilt" in reindex and "unexpectedly" not in reindex
    assert f"{len(warnings)} file(s) were skipped" in reindex
    assert all(f"• {quoted(name)}: " in reindex for name in skipped)
    assert "Added" in add and "unexpectedly" not in add
    reliability("Bad input", "corpus items that stopped whole builds with \"unexpected error\": a .jsonl line of "
                "200,000 `[` and one record of 200,000 one-word lines, a file and a folder named with the byte "
                "0xFF, a file name holding a newline and `warning: forged`, folders 1,000 deep (and 2,100, past the "
                "path limit), a link to itself; through `newsbot index`, then `/reindex` and `/add`",
                len(skipped) + 2,
                f"`newsbot index` exited {done.returncode}, indexed the {len(indexed)} good articles (one 1,000 "
                f"folders deep) and printed {len(warnings)} warning lines, one per skipped item with its reason, "
                f"names quoted where needed ({', '.join(quoted(n) for n in skipped if quoted(n) != n)}); `/reindex` "
                f"rebuilt and listed the same {len(warnings)}; `/add` then added an article")


# --- any corpus folder (hypothesis) ---

GOOD, BAD, EITHER = "good", "bad", "either"  # what must become of an item: indexed, reported, one of the two
PATCHED_BYTES, PATCHED_LINES = 20_000, 300  # the limits, lowered so that generated items can cross them cheaply

NAME_BYTES = st.one_of(
    st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)), min_size=1, max_size=20)
    .map(str.encode),
    st.binary(min_size=1, max_size=12),
    st.sampled_from([b"bad \xff", b"line\nbreak", b"warning: forged\nwarning: x", b"\xe2\x80\xaeevil", b'"quoted"']),
).map(lambda name: name.replace(b"/", b"-").replace(b"\x00", b"-").lstrip(b".") or b"-")  # a name, not hidden


@dataclass
class Entry:
    """One generated item: its folders and name (bytes: any but '/' and NUL), and what it holds."""

    folders: tuple[bytes, ...]
    name: bytes
    kind: str  # "txt", "jsonl" or "link"
    data: bytes = b""
    expect: str = EITHER  # for txt and link
    lines: list[tuple[bytes, str, str | None]] = field(default_factory=list)  # jsonl: line, expect, record id
    target: str = ""  # link: loop, missing, outside, folder or alias


@st.composite
def _txt(draw: st.DrawFn, entry: Entry, marker: str) -> Entry:
    article = _article(marker)
    kind = draw(st.sampled_from(["good", "bom", "latin-1", "utf-16", "lines", "marks", "bytes", "empty", "random"]))
    entry.data, entry.expect = {
        "good": (article.encode(), GOOD), "bom": (("\ufeff" + article).encode(), GOOD),
        "latin-1": ((article + "Café.").encode("latin-1"), BAD), "utf-16": (article.encode("utf-16"), BAD),
        "lines": (b"Title\n\n" + b"w\n" * PATCHED_LINES, BAD), "marks": (b"Title\n\n" + b"a. " * (PATCHED_LINES + 1), BAD),
        "bytes": (article.encode() + b"x" * PATCHED_BYTES, BAD), "empty": (b"", BAD),
        "random": (draw(st.binary(max_size=300) | st.text(max_size=300).map(str.encode)), EITHER),
    }[kind]
    return entry


JSON_BAD = [
    b"[" * 1_500, b"[" * 15_000, b'{"a": ' * 2_000, b"{not json", b"\xff\xfe not UTF-8", b"\x00 NUL",
    b'[]', b'"a string"', b"3", b"null", b'{"title": 5, "body": "B."}', b'{"title": "T", "body": ["B."]}',
    b'{"title": "T", "paragraphs": [1, 2]}', b'{"title": "T", "paragraphs": "P."}', b'{"title": "T"}',
    b'{"title": "T", "body": "B.", "date": 20240101}', b'{"title": "T", "body": "B.", "source": {"a": 1}}',
    b'{"title": "Half \\ud800 a character", "body": "B."}', b'{"id": "\\udcff", "title": "T", "body": "B."}',
    json.dumps({"title": "Big", "body": "word " * (PATCHED_BYTES // 5)}).encode(),
    json.dumps({"title": "Lines", "body": "w\n" * PATCHED_LINES}).encode(),
    json.dumps({"title": "Paragraphs", "paragraphs": ["w"] * PATCHED_LINES}).encode(),
]


@st.composite
def _jsonl(draw: st.DrawFn, entry: Entry, markers: itertools.count) -> Entry:
    for _ in range(draw(st.integers(1, 5))):
        shape = draw(st.sampled_from([GOOD, GOOD, BAD, EITHER, "blank"]))
        if shape == GOOD:
            marker = f"rec{next(markers)}"
            record_id = draw(st.sampled_from([None, f"id-{marker}", f"id-{marker}\nwarning: forged", marker]))
            record = {"title": f"Record {marker}", "body": f"The marker {marker} is in this record."}
            entry.lines.append((json.dumps({"id": record_id, **record} if record_id else record).encode(), GOOD,
                                record_id))
        elif shape == BAD:
            entry.lines.append((draw(st.sampled_from(JSON_BAD)), BAD, None))
        elif shape == EITHER:
            line = draw(st.binary(min_size=1, max_size=200).filter(lambda b: b"\n" not in b and b.strip()) |
                        st.just(b'{"title": "T\\u0000", "body": "A NUL \\u0000 inside."}'))
            entry.lines.append((line, EITHER, None))
        else:
            entry.lines.append((draw(st.sampled_from([b"", b"  \t"])), "blank", None))
    return entry


@st.composite
def _entries(draw: st.DrawFn) -> list[Entry]:
    markers = itertools.count()
    entries = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["txt", "txt", "jsonl", "link"]))
        suffix = draw(st.sampled_from([".jsonl", ".JSONL"] if kind == "jsonl" else [".txt", ".TXT"]))
        entry = Entry(tuple(draw(st.lists(NAME_BYTES, max_size=3))), draw(NAME_BYTES) + suffix.encode(), kind)
        if kind == "txt":
            entry = draw(_txt(entry, f"txt{next(markers)}"))
        elif kind == "jsonl":
            entry = draw(_jsonl(entry, markers))
        else:
            entry.target = draw(st.sampled_from(["loop", "missing", "outside", "folder", "alias"]))
            entry.expect = GOOD if entry.target == "alias" else BAD
        entries.append(entry)
    return entries


ANCHOR = "anchor-article.txt"  # a good article at the top, so that every build has something to index


def _make(corpus: Path, outside: Path, entries: list[Entry]) -> list[Entry]:
    """Write the entries that fit (a name may collide with another entry's file or folder); returns them."""
    (corpus / ANCHOR).write_text(_article("anchor"), encoding="utf-8")
    made = []
    for entry in entries:
        folder = os.path.join(os.fsencode(corpus), *entry.folders)
        path = os.path.join(folder, entry.name)
        try:
            os.makedirs(folder, exist_ok=True)
            if entry.kind == "link":
                target = {"loop": path, "missing": os.path.join(folder, b"missing-target"),
                          "outside": os.fsencode(outside / "secret.txt"), "folder": os.fsencode(outside),
                          "alias": os.fsencode(corpus / ANCHOR)}[entry.target]
                os.symlink(target, path)
            else:
                with open(path, "xb") as file:
                    file.write(entry.data if entry.kind == "txt" else b"\n".join(line for line, _, _ in entry.lines))
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            continue
        made.append(entry)
    return made


def _outcomes(entry: Entry) -> tuple[str | None, list[tuple[str, str, str | None]]]:
    """The name under which the entry must be reported when a folder or its own name cannot be read (else
    None), and each of its items: (name, what must become of it, the article id it gets if indexed)."""
    parts = [*entry.folders, entry.name]
    is_folder = entry.kind == "link" and entry.target == "folder"
    for depth, part in enumerate(parts):
        try:
            part.decode("utf-8")
        except UnicodeDecodeError:
            return os.fsdecode(b"/".join(parts[:depth + 1])) + ("/" if depth < len(entry.folders) or is_folder
                                                               else ""), []
    name = os.fsdecode(b"/".join(parts))
    if is_folder:
        return name + "/", []
    if entry.kind != "jsonl":
        return None, [(name, entry.expect, name)]
    items = []
    for number, (_, expect, record_id) in enumerate(entry.lines, start=1):
        if expect != "blank":
            items.append((f"{name}:{number}", expect, f"{name}#{record_id}" if record_id else f"{name}:{number}"))
    return None, items or [(name, BAD, None)]  # only blank lines: an empty file, reported as an empty .txt is


_trees: list[tuple[int, int, int]] = []  # per example: items, good articles indexed, items reported


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(entries=_entries())
def test_any_corpus_folder_builds_indexes_every_good_article_and_names_every_skipped_item(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entries: list[Entry]) -> None:
    monkeypatch.setattr(newsbot.corpus.load, "MAX_ARTICLE_BYTES", PATCHED_BYTES)
    monkeypatch.setattr(newsbot.corpus.parse, "MAX_LINES", PATCHED_LINES)
    monkeypatch.setattr(newsbot.corpus.parse, "MAX_SENTENCE_MARKS", PATCHED_LINES)
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    corpus_dir, outside, index_dir = work / "corpus", work / "outside", work / "index"
    for folder in (corpus_dir, outside):
        folder.mkdir()
    (outside / "secret.txt").write_text(_article("secret"), encoding="utf-8")
    try:
        made = _make(corpus_dir, outside, entries)
        report = build_index(corpus_dir, index_dir, HashingEmbedder())  # never raises for what the folder holds
        retriever = Retriever.open(index_dir, embedder=HashingEmbedder())
        # an article is indexed, or kept as a copy of its story (a link to another file is the same text)
        indexed = {a.id for article in retriever.articles() for a in (article, *article.copies)}
        retriever.close()
    finally:
        shutil.rmtree(work)
    reported = {problem.path: problem for problem in report.problems}
    assert ANCHOR in indexed
    expected_names, good = set(), 0
    for entry in made:
        unreadable, items = _outcomes(entry)
        if unreadable is not None:
            assert unreadable in reported, (unreadable, reported)
            expected_names.add(unreadable)
        for name, expect, article_id in items:
            expected_names.add(name)
            if expect == GOOD:
                assert article_id in indexed and name not in reported, (article_id, reported.get(name))
                good += 1
            elif expect == BAD:
                assert name in reported and article_id not in indexed, (name, article_id)
            else:
                assert (name in reported) != (article_id in indexed), (name, article_id)
    assert set(reported) <= expected_names  # nothing reported that was not there, and no id reported twice
    for problem in report.problems:
        shown = str(problem)
        assert shown.isprintable() and shown.startswith(quoted(problem.path) + ": skipped"), shown
        assert "unexpectedly" not in shown  # a specific reason, not the last line of defence
    _trees.append((sum(len(_outcomes(e)[1]) or 1 for e in made), good, len(reported)))


def test_any_corpus_folder_property_is_recorded(reliability: Record) -> None:
    assert _trees, "the corpus folder property ran first"
    items, good, reported = (sum(column) for column in zip(*_trees))
    reliability("Bad input", "random corpus folders (hypothesis): file and folder names with any bytes (0xFF, "
                "newlines, `warning:` lines, right-to-left marks, quotes), nesting, links (to themselves, nowhere, "
                "outside, a folder), encodings (BOM, Latin-1, UTF-16), files and JSON Lines records past the size, "
                "line and sentence limits, JSON nested 15,000 deep, of wrong types, with unpaired surrogates, "
                f"random bytes; {len(_trees)} folders built", items,
                f"every build completed; all {good:,} good articles indexed; each of the {reported:,} skipped items "
                "reported once under its own name (quoted where it holds a newline or a byte that is not UTF-8), "
                "each with a specific reason; every report line printable, none forged")


def test_a_bulk_line_without_newlines_is_skipped_in_bounded_memory(tmp_path: Path, reliability: Record) -> None:
    size = 64_000_000  # the 1 GB case scaled down; a hole in a sparse file, so nothing that large is written
    bulk = tmp_path / "corpus" / "big.jsonl"
    bulk.parent.mkdir()
    with open(bulk, "wb") as file:
        file.write(json.dumps({"title": "Before", "body": "The record before the long line."}).encode() + b"\nx")
        file.seek(size)
        file.write(b"\n" + json.dumps({"title": "After", "body": "The record after the long line."}).encode())
    tracemalloc.start()
    try:
        items = list(read_corpus(bulk.parent))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [item.path if isinstance(item, Problem) else item.id for item in items] == [
        "big.jsonl:1", "big.jsonl:2", "big.jsonl:3"]
    assert isinstance(items[1], Problem) and "larger than 5 MB" in items[1].reason
    assert peak < 3 * MAX_ARTICLE_BYTES < size / 4  # one line's limit, not the file, bounds the memory
    reliability("Bad input", f"a .jsonl file with a {size // 1_000_000} MB line without newlines (the 1 GB case, "
                "scaled down) between two records", 1,
                f"the line was skipped as `big.jsonl:2` ({items[1].reason.removeprefix('skipped: ')}) and the "
                f"records before and after it were read; peak memory allocated while reading: "
                f"{peak / 1_000_000:.1f} MB")
