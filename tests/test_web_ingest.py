"""From a URL to a stored, answerable article (corpus/web/ingest.py and `newsbot add`), against pages served
from 127.0.0.1 by tests/web_server.py: stored once whatever the way in, a changed page replacing its
earlier version, refusals storing nothing, and retention."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from newsbot.corpus.parse import parse_article
from newsbot.corpus.web import fetch
from newsbot.corpus.web.ingest import (
    KnownArticles,
    PageRefused,
    Stored,
    fetch_article,
    new_article_id,
    store_article,
    undo,
)
from tests.web_pages import article_page, story
from tests.web_server import LocalSite, Route, local_site, redirect, send

FLOODS = article_page("Floods kill 5,400 in the north", story("floods"))
QUAKE = article_page("Earthquake shakes the coast", story("earthquake", "300"))


def routes() -> dict[str, Route]:
    return {
        "/floods": send(200, FLOODS),
        "/floods-copy": send(200, article_page("Floods: thousands dead", story("floods"), site="Other Paper")),
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
    }


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalSite]:
    monkeypatch.setenv(fetch.ALLOW_PRIVATE_ENV, "1")
    with local_site(routes()) as served:
        yield served


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
    copy = store(corpus, f"{site.url}/floods-copy", known)
    assert (copy.status, copy.same_as) == ("duplicate", first.path)
    assert snapshot(corpus) == before
    assert store(corpus, f"{site.url}/floods-copy").status == "duplicate"  # also when the corpus is read again


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
