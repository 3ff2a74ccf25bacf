"""From a URL to a stored, answerable article (corpus/web/ingest.py and `newsbot add`), against pages served
from 127.0.0.1 by tests/web_server.py: stored once whatever the way in, a changed page replacing its
earlier version, refusals storing nothing, and retention."""

from __future__ import annotations

import functools
import json
import pickle
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from newsbot.bot import cli
from newsbot.bot.cli import main
from newsbot.bot.config import ConfigError, parse_settings
from newsbot.bot.feedback_export import indexed_sentences
from newsbot.bot.service import ArticleRejected, Progress, Service
from newsbot.bot.uploads import links_only
from newsbot.corpus.parse import parse_article
from newsbot.corpus.retention import is_expired, oldest_kept, remove_expired, too_old
from newsbot.corpus.web import fetch, ingest
from newsbot.corpus.web.ingest import (
    KnownArticles,
    PageRefused,
    Stored,
    fetch_article,
    new_article_id,
    store_article,
    undo,
)
from newsbot.index import IndexProblem
from newsbot.index.hashing_embedder import HashingEmbedder
from tests.bot_harness import ADMIN, Harness
from tests.fake_bot_api import TOKEN
from tests.reliability import Record
from tests.web_pages import article_page, story
from tests.web_server import LocalSite, Route, local_site, redirect, send

FLOODS = article_page("Floods kill 5,400 in the north", story("floods"))
QUAKE = article_page("Earthquake shakes the coast", story("earthquake", "300"))
SLOW_SECONDS = 2.0
FAST_TIMEOUT = 0.5
FLOODS_QUESTION = "How many people have died in the floods?"


def _slow(handler: BaseHTTPRequestHandler) -> None:
    time.sleep(SLOW_SECONDS)
    send(200, FLOODS)(handler)


def routes() -> dict[str, Route]:
    return {
        "/floods": send(200, FLOODS),
        "/floods-copy": send(200, article_page("Floods: thousands dead", story("floods"), site="Other Paper")),
        "/floods-mirror": send(200, article_page("Floods: thousands dead", story("floods"))),
        "/quake": send(200, QUAKE),
        "/plain": send(200, b"Storm hits the capital\n\nA storm hit the capital on Monday night. Trees fell "
                       b"on cars and power was cut for ten thousand homes.\n", "text/plain; charset=utf-8"),
        "/canonical-a": send(200, article_page("Bridge reopens", story("bridge works"),
                                               canonical="https://news.example/bridge")),
        "/canonical-b": send(200, article_page("Bridge reopens", story("bridge works"),
                                               canonical="https://news.example/bridge")),
        "/index": send(200, b"<html><body><ul>" + b"".join(
            f"<li><a href='/story/{n}'>Story number {n}</a></li>".encode() for n in range(30)) + b"</ul></body></html>"),
        "/missing": send(404, b"not here"),
        "/broken": send(500, b"oops"),
        "/pdf": send(200, b"%PDF-1.4 ...", "application/pdf"),
        "/loop": redirect("/loop"),
        "/slow": _slow,
        "/huge": send(200, b"<html><body>" + b"<p>words words words</p>" * 250_000 + b"</body></html>"),
    }


@pytest.fixture(scope="module")
def served_site() -> Iterator[LocalSite]:
    """One server for the module (stopping one takes half a second); each test gets its routes afresh."""
    with local_site(routes()) as served:
        yield served


@pytest.fixture
def site(served_site: LocalSite, monkeypatch: pytest.MonkeyPatch) -> LocalSite:
    monkeypatch.setenv(fetch.ALLOW_PRIVATE_ENV, "1")
    served_site.routes.clear()
    served_site.routes.update(routes())
    served_site.requests.clear()
    return served_site


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "seed.txt").write_text("title: Seed\nsource: Wire\ndate: 2026-01-02\n\nA ship sank near the harbour "
                                     "on Friday. All of its crew were rescued.\n", encoding="utf-8")
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (dot-files too) and its bytes: to compare a folder before and after."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def store(corpus: Path, url: str, known: KnownArticles | None = None) -> Stored:
    return store_article(corpus, fetch_article(url), known or KnownArticles.read(corpus))


# --- fetch_article ---

def test_an_article_page_is_fetched_and_extracted_with_its_metadata(site: LocalSite) -> None:
    extracted = fetch_article(f"{site.url}/floods")
    assert extracted.title == "Floods kill 5,400 in the north"
    assert extracted.url == extracted.canonical_url == f"{site.url}/floods"
    assert extracted.published is not None and extracted.published.isoformat() == "2026-01-25"
    assert extracted.paragraphs == tuple(story("floods"))


def test_a_plain_text_page_is_kept_as_it_is_titled_by_its_first_line(site: LocalSite) -> None:
    extracted = fetch_article(f"{site.url}/plain")
    assert extracted.title == "Storm hits the capital"
    assert extracted.paragraphs == ("A storm hit the capital on Monday night. Trees fell on cars and power was cut "
                                    "for ten thousand homes.",)


@pytest.mark.parametrize(("path", "reason"), [
    ("/missing", "HTTP 404 Not Found"),
    ("/broken", "HTTP 500 Internal Server Error"),
    ("/pdf", "content type 'application/pdf' is not a web page or plain text"),
    ("/index", "the page has no article text"),
    ("/loop", "more than 5 redirects"),
])
def test_a_page_without_an_article_is_refused_in_one_line_naming_the_url(site: LocalSite, path: str,
                                                                         reason: str) -> None:
    url = f"{site.url}{path}"
    with pytest.raises(PageRefused) as caught:
        fetch_article(url)
    assert caught.value.url == url and reason in caught.value.reason
    assert str(caught.value) == f"{url}: {caught.value.reason}" and "\n" not in str(caught.value)


def test_a_private_address_is_refused_unless_allowed(site: LocalSite, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(fetch.ALLOW_PRIVATE_ENV)
    with pytest.raises(PageRefused, match="loopback"):
        fetch_article(f"{site.url}/floods")
    assert fetch_article(f"{site.url}/floods", allow_private=True).title.startswith("Floods")


# --- store_article ---

def test_a_new_page_is_added_under_web_host_slug_and_url_hash_and_reads_back(site: LocalSite, corpus: Path) -> None:
    stored = store(corpus, f"{site.url}/floods")
    assert stored.status == "added" and stored.same_as is None
    assert stored.path.startswith("web/127.0.0.1/floods-kill-5-400-in-the-north-") and stored.path.endswith(".txt")
    article = parse_article(stored.path, (corpus / stored.path).read_text(encoding="utf-8"))
    assert (article.title, article.url, article.source) == (stored.title, f"{site.url}/floods", "Example News")
    assert article.published is not None and article.paragraphs == tuple(story("floods"))


def test_the_same_url_again_is_unchanged_and_nothing_is_written(site: LocalSite, corpus: Path) -> None:
    first = store(corpus, f"{site.url}/floods")
    before = snapshot(corpus)
    mtime = (corpus / first.path).stat().st_mtime_ns
    again = store(corpus, f"{site.url}/floods")
    assert (again.status, again.path) == ("unchanged", first.path)
    assert snapshot(corpus) == before and (corpus / first.path).stat().st_mtime_ns == mtime


def test_a_changed_page_updates_its_file_even_under_a_new_headline(site: LocalSite, corpus: Path) -> None:
    first = store(corpus, f"{site.url}/floods")
    site.routes["/floods"] = send(200, article_page("Flood toll rises to 6,100", story("floods", "6,100")))
    updated = store(corpus, f"{site.url}/floods")
    assert (updated.status, updated.path, updated.title) == ("updated", first.path, "Flood toll rises to 6,100")
    assert len(list((corpus / "web").rglob("*.txt"))) == 1
    assert "6,100" in (corpus / first.path).read_text(encoding="utf-8")
    undo(corpus, [updated])  # a failed build puts the earlier version back
    assert "5,400" in (corpus / first.path).read_text(encoding="utf-8")


def test_the_same_text_under_another_url_is_a_duplicate_of_the_first(site: LocalSite, corpus: Path) -> None:
    known = KnownArticles.read(corpus)
    first = store(corpus, f"{site.url}/floods", known)
    before = snapshot(corpus)
    copy = store(corpus, f"{site.url}/floods-mirror", known)
    assert (copy.status, copy.same_as) == ("duplicate", first.path)
    assert snapshot(corpus) == before
    assert store(corpus, f"{site.url}/floods-mirror").status == "duplicate"  # also when the corpus is read again


def test_the_same_text_from_another_source_is_stored_as_a_republished_copy(site: LocalSite, corpus: Path) -> None:
    known = KnownArticles.read(corpus)
    first = store(corpus, f"{site.url}/floods", known)
    copy = store(corpus, f"{site.url}/floods-copy", known)
    assert copy.status == "added" and copy.path != first.path  # its source must not be lost
    assert store(corpus, f"{site.url}/floods-copy").status == "unchanged"


def test_two_urls_with_one_canonical_url_are_one_article(site: LocalSite, corpus: Path) -> None:
    first = store(corpus, f"{site.url}/canonical-a")
    second = store(corpus, f"{site.url}/canonical-b")
    assert first.status == "added" and (second.status, second.path) == ("unchanged", first.path)
    assert first.path == new_article_id(fetch_article(f"{site.url}/canonical-b"))


def test_text_already_in_a_hand_placed_file_is_a_duplicate_and_the_file_is_never_rewritten(
        site: LocalSite, corpus: Path) -> None:
    hand = corpus / "floods-by-hand.txt"
    hand.write_text("Floods\n\n" + "\n\n".join(story("floods")) + "\n", encoding="utf-8")
    before = snapshot(corpus)
    stored = store(corpus, f"{site.url}/floods")
    assert (stored.status, stored.same_as) == ("duplicate", "floods-by-hand.txt")
    hand.write_text(f"title: Floods\nurl: {site.url}/floods\n\nAn older text of the story, kept by hand.\n",
                    encoding="utf-8")
    assert store(corpus, f"{site.url}/floods").same_as == "floods-by-hand.txt"  # by its URL this time
    assert snapshot(corpus).keys() == before.keys()


def test_undo_removes_an_added_file(site: LocalSite, corpus: Path) -> None:
    before = snapshot(corpus)
    stored = store(corpus, f"{site.url}/quake")
    assert snapshot(corpus) != before
    undo(corpus, [stored])
    assert snapshot(corpus) == before
    assert not (corpus / "web").exists()  # nor the folders it made


def test_store_batch_refuses_what_the_age_limit_would_leave_out(site: LocalSite, corpus: Path) -> None:
    fetched = ingest.fetch_all([f"{site.url}/floods", f"{site.url}/missing"])
    outcomes = ingest.store_batch(corpus, fetched, too_old(30, date(2026, 6, 1)))  # the page is of 2026-01-25
    assert [type(o).__name__ for o in outcomes] == ["PageRefused", "PageRefused"]
    assert "published 2026-01-25, more than 30 days ago" in outcomes[0].reason
    assert not (corpus / "web").exists()


# --- retention, the pure part ---

def test_an_article_is_expired_one_day_past_the_age_limit_and_never_without_a_date() -> None:
    today = date(2026, 3, 31)
    assert oldest_kept(30, today) == date(2026, 3, 1)
    dated = [parse_article(f"{d}.txt", f"title: T\ndate: {d}\n\nA sentence.") for d in ("2026-03-01", "2026-02-28")]
    assert [is_expired(a, 30, today) for a in dated] == [False, True]
    assert not is_expired(parse_article("undated.txt", "title: T\n\nA sentence."), 30, today)
    leave_out = too_old(30, today)
    assert leave_out is not None and leave_out(dated[0]) is None and "more than 30 days ago" in leave_out(dated[1])
    assert too_old(None, today) is None


def test_remove_expired_deletes_only_the_old_articles_the_bot_wrote(corpus: Path) -> None:
    def write(name: str, published: str | None) -> None:
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        dated = f"date: {published}\n" if published else ""
        (corpus / name).write_text(f"title: {name}\n{dated}\nA sentence about {name}.\n", encoding="utf-8")

    write("web/example.com/old-1.txt", "2026-01-01")
    write("web/example.com/new-2.txt", "2026-03-30")
    write("added/old-paste.txt", "2025-12-31")
    write("added/undated.txt", None)
    write("by-hand-old.txt", "2025-01-01")
    assert remove_expired(corpus, None, date(2026, 3, 31)) == []
    assert remove_expired(corpus, 30, date(2026, 3, 31)) == ["added/old-paste.txt", "web/example.com/old-1.txt"]
    assert sorted(p.relative_to(corpus).as_posix() for p in corpus.rglob("*.txt")) == [
        "added/undated.txt", "by-hand-old.txt", "seed.txt", "web/example.com/new-2.txt"]


# --- newsbot add ---

@pytest.fixture
def dirs(corpus: Path, tmp_path: Path) -> list[str]:
    return ["--corpus-dir", str(corpus), "--index-dir", str(tmp_path / "index"), "--model", "hashing"]


def indexed_texts(tmp_path: Path) -> list[str]:
    return [sentence.text for sentence in indexed_sentences(tmp_path / "index")]


def top_answer(dirs: list[str], question: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["ask", *dirs, "--json", "--min-confidence", "0.01", question]) == 0
    return json.loads(capsys.readouterr().out)["hits"][0]["text"]


def test_an_added_page_is_stored_indexed_and_answerable(site: LocalSite, dirs: list[str], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    url = f"{site.url}/floods"
    assert main(["add", *dirs, url]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{url}: stored as web/127.0.0.1/floods-kill-5-400-in-the-north-")
    assert "Indexed 2 articles" in out and err == ""
    assert top_answer(dirs, FLOODS_QUESTION, capsys) == story("floods")[0]


def test_the_same_url_twice_is_unchanged_and_builds_nothing(site: LocalSite, dirs: list[str], tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    url = f"{site.url}/floods"
    assert main(["add", *dirs, url]) == 0
    capsys.readouterr()
    current = (tmp_path / "index" / "CURRENT").read_text()
    before = snapshot(tmp_path / "corpus")
    assert main(["add", *dirs, url]) == 0
    assert capsys.readouterr().out.startswith(f"{url}: unchanged (web/127.0.0.1/floods-kill")
    assert snapshot(tmp_path / "corpus") == before and (tmp_path / "index" / "CURRENT").read_text() == current


def test_a_changed_page_replaces_its_earlier_version_in_the_index(site: LocalSite, dirs: list[str], tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    url = f"{site.url}/floods"
    assert main(["add", *dirs, url]) == 0
    assert any("5,400" in text for text in indexed_texts(tmp_path))
    site.routes["/floods"] = send(200, article_page("Flood toll rises to 6,100", story("floods", "6,100")))
    capsys.readouterr()
    assert main(["add", *dirs, url]) == 0
    assert capsys.readouterr().out.startswith(f"{url}: updated web/127.0.0.1/floods-kill-5-400-in-the-north-")
    texts = indexed_texts(tmp_path)
    assert not any("5,400" in text for text in texts) and any("6,100" in text for text in texts)
    assert "6,100" in top_answer(dirs, FLOODS_QUESTION, capsys)


def test_the_same_text_under_two_urls_is_stored_once(site: LocalSite, dirs: list[str], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    first, copy = f"{site.url}/floods", f"{site.url}/floods-mirror"
    assert main(["add", *dirs, first, copy]) == 0
    lines = capsys.readouterr().out.splitlines()
    stored = lines[0].split(" stored as ")[1].split(" ")[0]
    assert lines[1] == f"{copy}: duplicate of {stored} (“Floods kill 5,400 in the north”); not stored again"
    assert len(list((tmp_path / "corpus" / "web").rglob("*.txt"))) == 1
    assert sum("5,400" in text for text in indexed_texts(tmp_path)) == 1


def test_a_wire_story_on_two_sites_is_one_story_naming_both_sources(site: LocalSite, dirs: list[str],
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["add", *dirs, f"{site.url}/floods", f"{site.url}/floods-copy"]) == 0
    assert "(2 stories: 1 republished copy grouped with its story)" in capsys.readouterr().out
    assert main(["ask", *dirs, "--json", "--min-confidence", "0.01", FLOODS_QUESTION]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert hits[0]["article"]["sources"] == ["Example News", "Other Paper"]
    assert sum("5,400" in hit["text"] for hit in hits) == 1


def test_several_urls_are_reported_in_order_and_indexed_in_one_build(site: LocalSite, dirs: list[str],
                                                                     tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    urls = [f"{site.url}/quake", f"{site.url}/missing", f"{site.url}/floods", f"{site.url}/plain"]
    assert main(["add", *dirs, *urls]) == 2  # one was refused; the others are stored all the same
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert [line.split(": ")[0] for line in lines[:3]] == [urls[0], urls[2], urls[3]]
    assert all(" stored as web/127.0.0.1/" in line for line in lines[:3]) and lines[3].startswith("Indexed 4 articles")
    assert err == f"newsbot: {urls[1]}: HTTP 404 Not Found\n"
    assert len(list((tmp_path / "index" / "versions").iterdir())) == 1  # one build for the batch


REFUSALS = [("/missing", "HTTP 404 Not Found"), ("/broken", "HTTP 500 Internal Server Error"),
            ("/slow", f"no answer within {FAST_TIMEOUT:g} s"), ("/huge", "larger than 5,242,880 bytes"),
            ("/pdf", "content type 'application/pdf' is not a web page or plain text"),
            ("/index", "the page has no article text"), ("/loop", "more than 5 redirects")]


@pytest.mark.parametrize(("path", "reason"), REFUSALS)
def test_a_refused_page_exits_2_with_one_line_and_changes_neither_corpus_nor_index(
        site: LocalSite, dirs: list[str], tmp_path: Path, path: str, reason: str, reliability: Record,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(ingest, "fetch_page", functools.partial(fetch.fetch_page, timeout=FAST_TIMEOUT))
    assert main(["index", *dirs]) == 0
    capsys.readouterr()
    before = snapshot(tmp_path)
    url = f"{site.url}{path}"
    assert main(["add", *dirs, url]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"newsbot: {url}: ") and reason in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert snapshot(tmp_path) == before
    reliability("Bad input", f"`newsbot add` of a page that fails: {reason}", 1,
                "exit 2, one line naming the URL and the reason; corpus and index files unchanged")


def test_dry_run_json_prints_one_object_per_url_in_order_and_stores_nothing(
        site: LocalSite, dirs: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(tmp_path)
    urls = [f"{site.url}/floods", f"{site.url}/pdf", f"{site.url}/canonical-a"]
    assert main(["add", *dirs, "--dry-run", "--json", *urls]) == 2
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0] == {"url": urls[0], "canonical_url": urls[0], "title": "Floods kill 5,400 in the north",
                        "source": "Example News", "published": "2026-01-25", "body": "\n\n".join(story("floods"))}
    assert lines[1] == {"url": urls[1], "error": "content type 'application/pdf' is not a web page or plain text"}
    assert (lines[2]["url"], lines[2]["canonical_url"]) == (urls[2], "https://news.example/bridge")
    assert snapshot(tmp_path) == before and not (tmp_path / "index").exists()
    assert main(["add", *dirs, "--dry-run", *urls[:1]]) == 0
    assert "would store “Floods kill 5,400 in the north” (Example News, 2026-01-25)" in capsys.readouterr().out
    assert snapshot(tmp_path) == before


def test_a_failed_build_puts_back_the_added_and_the_updated_files(
        site: LocalSite, dirs: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reliability: Record,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["add", *dirs, f"{site.url}/floods"]) == 0
    site.routes["/floods"] = send(200, article_page("Flood toll rises to 6,100", story("floods", "6,100")))
    before = snapshot(tmp_path)

    def failing_build(*args: object, **kwargs: object) -> None:
        raise IndexProblem("the disk is full")

    monkeypatch.setattr(cli, "build_with_retention", failing_build)
    capsys.readouterr()
    assert main(["add", *dirs, f"{site.url}/floods", f"{site.url}/quake"]) == 2
    assert capsys.readouterr().err == "newsbot: the disk is full\n"
    assert snapshot(tmp_path) == before
    reliability("Index faults", "`newsbot add` of a new and a changed page whose build fails", 1,
                "the new file removed, the changed one restored: corpus and index as before")


def test_the_age_limit_removes_old_pages_and_leaves_hand_placed_ones_out_of_the_index(
        site: LocalSite, dirs: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    today = date.today()
    site.routes["/recent"] = send(200, article_page("Quake recovery", story("quake"),
                                                    published=(today - timedelta(days=5)).isoformat()))
    site.routes["/old"] = send(200, article_page("Old floods", story("old floods"),
                                                 published=(today - timedelta(days=50)).isoformat()))
    assert main(["add", *dirs, f"{site.url}/recent", f"{site.url}/old"]) == 0
    corpus = tmp_path / "corpus"
    (corpus / "by-hand.txt").write_text(f"title: By hand\ndate: {today - timedelta(days=400)}\n\nKept on disk.\n",
                                        encoding="utf-8")
    monkeypatch.setenv("NEWSBOT_MAX_ARTICLE_AGE_DAYS", "30")
    capsys.readouterr()
    assert main(["index", *dirs]) == 0
    err = capsys.readouterr().err
    assert "Removed 1 article published more than 30 days ago: web/127.0.0.1/old-floods-" in err
    assert "warning: by-hand.txt: left out: published" in err and "warning: seed.txt: left out: published" in err
    assert [p.name.split("-")[0] for p in (corpus / "web" / "127.0.0.1").iterdir()] == ["quake"]
    assert (corpus / "by-hand.txt").exists()
    titles = {sentence.article.title for sentence in indexed_sentences(tmp_path / "index")}
    assert titles == {"Quake recovery"}  # the seed (January 2026) is old by now, and placed by hand too
    assert main(["add", *dirs, f"{site.url}/old"]) == 2  # an expired page is not stored again
    assert "more than 30 days ago" in capsys.readouterr().err
    assert main(["add", *dirs, "--dry-run", "--json", f"{site.url}/old", f"{site.url}/recent"]) == 2  # nor said to be
    old, recent = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert old["url"] == f"{site.url}/old" and "more than 30 days ago" in old["error"] and recent["title"] == "Quake recovery"


@pytest.mark.parametrize("value", ["0", "-3", "1.5", "a month"])
def test_a_bad_age_limit_is_one_clear_line_and_exit_2(dirs: list[str], value: str, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NEWSBOT_MAX_ARTICLE_AGE_DAYS", value)
    assert main(["index", *dirs]) == 2
    err = capsys.readouterr().err
    assert err.startswith("newsbot: NEWSBOT_MAX_ARTICLE_AGE_DAYS must be ") and err.count("\n") == 1


# --- the service: /add URL and the pasted forms ---

@pytest.fixture
async def service(corpus: Path, tmp_path: Path) -> AsyncIterator[Service]:
    opened = Service.open(corpus, tmp_path / "index", embedder=HashingEmbedder())
    yield opened
    opened.close()


async def test_add_urls_stores_and_indexes_the_batch_in_order(site: LocalSite, service: Service) -> None:
    progress = Progress()
    urls = [f"{site.url}/floods", f"{site.url}/pdf", f"{site.url}/floods-mirror"]
    outcomes, report = await service.add_urls(urls, progress)
    assert [getattr(o, "status", "refused") for o in outcomes] == ["added", "refused", "duplicate"]
    assert report is not None and report.articles == 2
    hits = (await service.answer(FLOODS_QUESTION, 3)).hits
    assert hits and "5,400" in hits[0].text
    again, report = await service.add_urls(urls[:1], progress)
    assert again[0].status == "unchanged" and report is None
    # fetched and extracted in the harvest worker process, never on a thread of the bot's (extraction holds the GIL)
    assert isinstance(service._harvester, ProcessPoolExecutor)


def test_a_refusal_comes_back_whole_from_the_worker_process() -> None:
    refused = pickle.loads(pickle.dumps(ingest.PageRefused("https://example.org/a", "HTTP 404 Not Found")))
    assert (refused.url, refused.reason, str(refused)) == ("https://example.org/a", "HTTP 404 Not Found",
                                                          "https://example.org/a: HTTP 404 Not Found")


async def test_add_urls_whose_build_fails_leaves_the_corpus_as_it_was(
        site: LocalSite, service: Service, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before, version = snapshot(corpus), service.retriever.version_dir
    monkeypatch.setattr("newsbot.bot.service.build_with_retention",
                        lambda *a, **k: (_ for _ in ()).throw(IndexProblem("no space left")))
    with pytest.raises(IndexProblem):
        await service.add_urls([f"{site.url}/floods"], Progress())
    assert snapshot(corpus) == before and service.retriever.version_dir == version


OTTERS = "title: Otters open a bakery\nsource: River News\n\nThe otters of the river opened a bakery on Monday.\n"


async def test_the_same_txt_uploaded_three_times_is_stored_once(bot: Harness, corpus_dir: Path,
                                                               reliability: Record) -> None:
    for _ in range(3):
        bot.telegram.push_document(ADMIN, "otters.txt", OTTERS.encode(), user_id=ADMIN)
        await bot.deliver()
    outcomes = [c.text for c in bot.telegram.sent(ADMIN, "editMessageText")]
    assert "Added “Otters open a bakery”" in outcomes[0]
    assert all("already stored as “Otters open a bakery” (added/otters.txt)" in o for o in outcomes[1:])
    assert len(outcomes) == 3 and [p.name for p in (corpus_dir / "added").iterdir()] == ["otters.txt"]
    hits = (await bot.service.answer("What did the otters open?", 5)).hits
    assert sum("otters of the river" in hit.text for hit in hits) == 1
    bot.telegram.push_text(ADMIN, "/add " + OTTERS.replace("\n\n", "\n\n  "), user_id=ADMIN)  # pasted, re-spaced
    await bot.deliver()
    assert "already stored as" in bot.telegram.sent(ADMIN, "editMessageText")[-1].text
    reliability("Consistency", "the same .txt uploaded with /add three times, then pasted", 4,
                "stored once; the admin is told it is already stored as its title")


async def test_a_pasted_copy_of_a_stored_story_from_another_source_is_said_to_join_it(bot: Harness) -> None:
    bot.telegram.push_document(ADMIN, "otters.txt", OTTERS.encode(), user_id=ADMIN)
    await bot.deliver()
    bot.telegram.push_text(ADMIN, "/add " + OTTERS.replace("River News", "Lake Times"), user_id=ADMIN)
    await bot.deliver()
    reply = bot.telegram.sent(ADMIN, "editMessageText")[-1].text
    joined = reply.split("a republished copy of “Otters open a bakery”: answers from it name ")[1].split(";")[0]
    assert sorted(joined.split(", ")) == ["Lake Times", "River News"]


def test_an_extractor_failure_refuses_that_page_only(site: LocalSite, monkeypatch: pytest.MonkeyPatch,
                                                     reliability: Record) -> None:
    def broken(html: str, url: str) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(ingest, "extract_article", broken)
    [quake, plain] = ingest.fetch_all([f"{site.url}/quake", f"{site.url}/plain"])
    assert isinstance(quake, PageRefused) and quake.reason == "the page could not be read (RecursionError)"
    assert plain.title == "Storm hits the capital"  # a plain-text page does not go through the extractor
    reliability("Bad input", "a page on which the HTML extractor itself fails", 1,
                "that URL refused in one line; the batch goes on")


def test_add_into_a_missing_corpus_folder_is_refused_before_fetching(site: LocalSite, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no-such-corpus"
    assert main(["add", "--corpus-dir", str(missing), "--index-dir", str(tmp_path / "index"), "--model", "hashing",
                 f"{site.url}/floods"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not missing.exists() and site.requests == []


async def test_a_pasted_article_older_than_the_age_limit_is_refused(corpus: Path, tmp_path: Path) -> None:
    (corpus / "seed.txt").write_text(f"title: Today\ndate: {date.today()}\n\nA ship sank today.\n", encoding="utf-8")
    service = Service.open(corpus, tmp_path / "index", embedder=HashingEmbedder(), max_age_days=30)
    try:
        with pytest.raises(ArticleRejected, match="more than 30 days ago"):
            await service.add_article("title: Old news\ndate: 2001-01-01\n\nA sentence from long ago.\n", None,
                                      Progress())
        assert not (corpus / "added").exists() or not any((corpus / "added").iterdir())
    finally:
        service.close()


@pytest.mark.parametrize(("text", "links"), [
    ("https://a.example/x", ["https://a.example/x"]),
    ("http://a.example/x\n  HTTPS://b.example/y?q=1 ", ["http://a.example/x", "HTTPS://b.example/y?q=1"]),
    ("title: Floods\n\nhttps://a.example/x", None),
    ("see https://a.example/x", None),
    ("ftp://a.example/x", None),
    ("", None),
])
def test_an_add_message_is_links_only_when_every_word_is_an_http_link(text: str, links: list[str] | None) -> None:
    assert links_only(text) == links


def test_the_bot_reads_the_age_limit_from_its_settings() -> None:
    base = {"TELEGRAM_BOT_TOKEN": TOKEN}
    assert parse_settings(base).max_article_age_days is None
    assert parse_settings({**base, "NEWSBOT_MAX_ARTICLE_AGE_DAYS": " 90 "}).max_article_age_days == 90
    with pytest.raises(ConfigError, match="NEWSBOT_MAX_ARTICLE_AGE_DAYS must be a whole number"):
        parse_settings({**base, "NEWSBOT_MAX_ARTICLE_AGE_DAYS": "ninety"})
