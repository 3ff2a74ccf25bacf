import json
import logging
import os
from pathlib import Path

import pytest

import newsbot.corpus.load
import newsbot.corpus.parse
from newsbot.corpus import Article, Problem, parse_article, read_corpus
from newsbot.corpus.load import quoted


def _read(folder: Path) -> tuple[dict[str, Article], dict[str, str]]:
    articles, problems = {}, {}
    for item in read_corpus(folder):
        if isinstance(item, Problem):
            problems[item.path] = item.reason
        else:
            articles[item.id] = item
    return articles, problems


def test_bad_files_are_reported_by_name_and_the_rest_is_read(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(newsbot.corpus.load, "MAX_ARTICLE_BYTES", 10_000)
    (tmp_path / "good.txt").write_text("Good title\n\nA fine body.", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (tmp_path / "latin1.txt").write_bytes("Caf\xe9 title\n\nBody.".encode("latin-1"))
    (tmp_path / "huge.txt").write_text("Title\n\n" + "word " * 5000, encoding="utf-8")
    (tmp_path / "notes.md").write_text("# not an article", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("Hidden\n\nBody.", encoding="utf-8")
    nested = tmp_path / "2024" / "march"
    nested.mkdir(parents=True)
    (nested / "späte nachricht.txt").write_text("Späte Nachricht\n\nEin Satz.", encoding="utf-8")

    articles, problems = _read(tmp_path)

    assert set(articles) == {"good.txt", "2024/march/späte nachricht.txt"}
    assert "empty" in problems["empty.txt"]
    assert "binary" in problems["binary.txt"]
    assert "UTF-8" in problems["latin1.txt"]
    assert "larger than" in problems["huge.txt"]
    assert set(problems) == {"empty.txt", "binary.txt", "latin1.txt", "huge.txt"}


def test_json_lines_bulk_import_reports_bad_lines(tmp_path: Path) -> None:
    lines = [json.dumps({"id": "a1", "title": "First", "body": "One sentence."}),
             "{not json",
             json.dumps({"title": "No body"}),
             "",
             json.dumps({"title": "Second", "paragraphs": ["Two.", "Three."], "date": "2021-02-03"})]
    (tmp_path / "bulk.jsonl").write_text("\n".join(lines), encoding="utf-8")
    articles, problems = _read(tmp_path)
    assert set(articles) == {"bulk.jsonl#a1", "bulk.jsonl:5"}
    assert "not valid JSON" in problems["bulk.jsonl:2"]
    assert "body" in problems["bulk.jsonl:3"]


def test_links_out_of_the_corpus_folder_are_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("Secret\n\nDo not index me.", encoding="utf-8")
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "inside.txt").write_text("Inside\n\nIndex me.", encoding="utf-8")
    os.symlink(outside, folder / "link.txt")
    os.symlink(folder / "inside.txt", folder / "alias.txt")
    articles, problems = _read(folder)
    assert "link.txt" not in articles and "outside" in problems["link.txt"]
    assert {"inside.txt", "alias.txt"} <= set(articles)


def test_a_missing_folder_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    items = list(read_corpus(tmp_path / "nope"))
    assert len(items) == 1 and isinstance(items[0], Problem) and "does not exist" in items[0].reason


def test_order_is_stable(tmp_path: Path) -> None:
    for name in ("b.txt", "a.txt", "c.txt"):
        (tmp_path / name).write_text(f"{name}\n\nBody.", encoding="utf-8")
    assert [a.id for a in read_corpus(tmp_path)] == ["a.txt", "b.txt", "c.txt"]


@pytest.mark.parametrize(("name", "shown"), [
    ("plain name.txt", "plain name.txt"),
    ("späte nachricht 名前.txt", "späte nachricht 名前.txt"),
    ("evil\nwarning: forged.txt", '"evil\\nwarning: forged.txt"'),
    (os.fsdecode(b"bad \xff.txt"), '"bad \\xff.txt"'),
    ("\u202eevil.txt", '"\\u202eevil.txt"'),
    ('"looks quoted\\n".txt', '"\\"looks quoted\\\\n\\".txt"'),
])
def test_names_are_shown_on_one_line_quoted_when_they_hold_what_could_break_it(name: str, shown: str) -> None:
    assert quoted(name) == shown
    assert quoted(name).isprintable()
    assert str(Problem(name, "skipped: why")) == f"{shown}: skipped: why"


LIMITS = newsbot.corpus.parse.MAX_LINES, newsbot.corpus.parse.MAX_SENTENCE_MARKS, newsbot.corpus.load.MAX_ARTICLE_BYTES


@pytest.mark.parametrize(("body", "verdict"), [
    ("One fine sentence. Another one.", None),
    ("word\n" * 200_000, "too long"),
    ("Short. " * (LIMITS[1] + 1), "too long"),
    ("\n\n".join(["A paragraph."] * (LIMITS[0] // 2 + 1)), "too long"),
    ("word " * (LIMITS[2] // 5 + 1), "larger than 5 MB"),
])
def test_a_json_lines_record_has_the_limits_of_an_article_file(tmp_path: Path, body: str, verdict: str | None) -> None:
    (tmp_path / "file.txt").write_text(f"title: T\n\n{body}", encoding="utf-8")
    (tmp_path / "bulk.jsonl").write_text(json.dumps({"title": "T", "body": body}) + "\n" +
                                         json.dumps({"title": "T", "paragraphs": body.split("\n\n")}), encoding="utf-8")
    articles, problems = _read(tmp_path)
    for name in ("file.txt", "bulk.jsonl:1", "bulk.jsonl:2"):
        if verdict is None:
            assert name in articles
        else:
            assert verdict in problems[name], (name, problems)


def test_an_unexpected_failure_reading_one_file_is_that_files_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    def parse(article_id: str, text: str) -> Article:
        if article_id == "cursed.txt":
            raise RuntimeError("a bug in the parser")
        return parse_article(article_id, text)

    monkeypatch.setattr(newsbot.corpus.load, "parse_article", parse)
    for name in ("before.txt", "cursed.txt", "later.txt"):
        (tmp_path / name).write_text(f"{name}\n\nA body.", encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="newsbot.corpus.load"):
        articles, problems = _read(tmp_path)
    assert set(articles) == {"before.txt", "later.txt"}
    assert problems == {"cursed.txt": problems["cursed.txt"]} and "failed unexpectedly" in problems["cursed.txt"]
    assert "a bug in the parser" not in problems["cursed.txt"]  # the details are for the log, not the report
    assert "a bug in the parser" in caplog.text
