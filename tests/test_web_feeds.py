"""Following feeds (corpus/web/feeds.py, feed_state.py, feed_poll.py and `newsbot feeds`), against feeds and pages
served from 127.0.0.1 by tests/web_server.py: only new entries fetched, conditional GETs honoured, failing feeds
backing off while the others are polled, the per-poll cap, and the state surviving a restart."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from newsbot.bot.building import build_with_retention
from newsbot.bot.cli import main
from newsbot.bot.service import BuildRunning, Service
from newsbot.bot.config import ConfigError, feed_interval
from newsbot.bot.texts import feed_health
from newsbot.corpus.known import Stored
from newsbot.corpus.parse import parse_article
from newsbot.corpus.web import fetch
from newsbot.corpus.web.feed_poll import FeedHarvest, FeedRefused, harvest, read_feed, record, store_and_build
from newsbot.corpus.web.feed_state import FEEDS_FILE, FORGET_AFTER, MAX_ENTRY_ATTEMPTS, Feed, FeedState, PollRunning, poll_lock
from newsbot.corpus.web.feeds import (
    MAX_BACKOFF,
    FeedEntry,
    NotAFeed,
    backoff,
    choose_new,
    parse_feed,
)
from newsbot.corpus.web.fetch import FetchRefused, NotModified, Validators, fetch_feed
from newsbot.index import build_index
from newsbot.index.hashing_embedder import HashingEmbedder
from newsbot.retrieval import Retriever
from tests.feeds import Item, atom, conditional, rss10, rss20
from tests.web_pages import article_page, story
from tests.web_server import LocalSite, local_site, send

NOW = datetime(2026, 1, 25, 12, 0, tzinfo=UTC)
INTERVAL = timedelta(minutes=15)
TOPICS = ["floods", "earthquake", "wildfire", "drought", "storm", "landslide", "heatwave", "cyclone", "blizzard",
          "avalanche", "tsunami", "hailstorm", "mudslide", "sandstorm", "tornado", "volcano", "cold snap", "typhoon",
          "monsoon", "ice storm", "dust storm", "flash flood", "forest fire", "rockfall", "sinkhole"]


def day(n: int) -> datetime:
    return datetime(2026, 1, 1, 8, 0, tzinfo=UTC) + timedelta(days=n)


def _pages(site_routes: dict, count: int = len(TOPICS)) -> None:
    for number, topic in enumerate(TOPICS[:count]):
        # a toll of its own: two reports alike but for the topic and the figure are other stories, not copies
        site_routes[f"/story/{number}"] = send(200, article_page(f"The {topic} report", story(topic, f"{100 + number}")))


def item(site: LocalSite, number: int) -> Item:
    return Item(f"The {TOPICS[number]} report", f"{site.url}/story/{number}", day(number))


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalSite]:
    monkeypatch.setenv(fetch.ALLOW_PRIVATE_ENV, "1")
    with local_site({}) as served:
        _pages(served.routes)
        yield served


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    return folder


@pytest.fixture
def state(tmp_path: Path) -> FeedState:
    return FeedState(tmp_path / "index")


def serve_feed(site: LocalSite, items: list[Item], path: str = "/feed", **validators: str) -> str:
    """Serve `items` as RSS 2.0 at `path` (a later call replaces them); returns the feed's URL."""
    site.routes[path] = conditional(lambda: rss20(items), **validators)
    return f"{site.url}{path}"


def fetched_pages(site: LocalSite) -> list[str]:
    return [r.path for r in site.requests if r.path.startswith("/story/")]


def poll(state: FeedState, corpus: Path, now: datetime = NOW, **options: object) -> list[FeedHarvest]:
    """One pass, the way `newsbot feeds poll` makes it, with a build that only counts."""
    harvests = harvest(state, now, **options)
    store_and_build(corpus, harvests, lambda: None)
    record(state, harvests, now, INTERVAL)
    return harvests


def follow(state: FeedState, url: str) -> None:
    parsed, _ = read_feed(url)
    assert state.add(url, parsed.title, NOW)


# --- parsing ---

@pytest.mark.parametrize("write", [rss20, rss10, atom], ids=["rss2.0", "rss1.0", "atom"])
def test_rss2_rss1_and_atom_give_their_entries_links_titles_and_dates(write, reliability) -> None:
    items = [Item("Floods kill 5,400", "http://example.com/floods", day(3), guid="urn:floods"),
             Item("Quake shakes coast", "http://example.com/quake", day(2))]
    parsed = parse_feed(write(items, title="Wire"), "http://example.com/feed")
    assert parsed.title == "Wire" and parsed.note is None
    assert [(e.link, e.title, e.published) for e in parsed.entries] == [
        ("http://example.com/floods", "Floods kill 5,400", day(3)), ("http://example.com/quake", "Quake shakes coast", day(2))]
    assert parsed.entries[1].key == "http://example.com/quake"  # no id: known by its link
    reliability("Bad input", f"a feed in {write.__name__}", 1, "its entries read with links, titles and dates")


def test_a_relative_link_is_resolved_against_the_feed_url() -> None:
    parsed = parse_feed(rss20([Item("Floods", "/news/floods")]), "http://example.com/feeds/all.xml")
    assert parsed.entries[0].link == "http://example.com/news/floods"


def test_malformed_xml_without_entries_is_refused_and_with_entries_is_used_with_a_note(reliability) -> None:
    with pytest.raises(NotAFeed, match="malformed feed"):
        parse_feed(b"<?xml version='1.0'?><rss version='2.0'><channel><title>Broken</titl", "http://x/feed")
    truncated = rss20([Item("Floods", "http://example.com/floods")])[:-len("</channel></rss>")] + b"<ite"
    parsed = parse_feed(truncated, "http://x/feed")
    assert [e.link for e in parsed.entries] == ["http://example.com/floods"] and parsed.note
    with pytest.raises(NotAFeed, match="not an RSS or Atom feed"):
        parse_feed(b"<html><body><p>A page, not a feed.</p></body></html>", "http://x/page", "text/html")
    reliability("Bad input", "malformed feed XML (cut short: without entries, with one)", 2,
                "refused naming the XML error; with entries, they are used and the error kept as a note")


def test_entity_bombs_and_external_entities_in_a_feed_are_not_expanded(reliability) -> None:
    entities = '<!ENTITY a0 "boom">' + "".join(f'<!ENTITY a{n} "{f"&a{n - 1};" * 10}">' for n in range(1, 10))
    bomb = (f"<?xml version='1.0'?><!DOCTYPE rss [{entities}]><rss version='2.0'><channel><title>&a9;</title>"
            "<item><title>Floods</title><link>http://example.com/floods</link></item></channel></rss>").encode()
    parsed = parse_feed(bomb, "http://x/feed")  # a billion "boom"s would be 4 GB
    assert len(parsed.title) < 100 and [e.link for e in parsed.entries] == ["http://example.com/floods"]
    external = (b"<?xml version='1.0'?><!DOCTYPE rss [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><rss version='2.0'>"
                b"<channel><title>&x;</title><item><title>&x;</title><link>http://example.com/a</link></item>"
                b"</channel></rss>")
    parsed = parse_feed(external, "http://x/feed")
    assert "root:" not in parsed.title and all("root:" not in e.title for e in parsed.entries)
    reliability("Security", "a feed with an entity bomb (10^9 expansions), a feed with an external entity "
                "(file:///etc/passwd)", 2, "neither expanded; the feed's entries still read")


def test_duplicate_and_link_less_entries_are_chosen_once_and_skipped_with_a_reason() -> None:
    entries = [FeedEntry("a", "http://x/a", "A", day(1)), FeedEntry("a", "http://x/a", "A again", day(1)),
               FeedEntry("b2", "http://x/a", "A under another id", day(1)), FeedEntry("c", None, "No link", day(2)),
               FeedEntry("d", "http://x/d", "D", day(3))]
    chosen = choose_new(entries, seen={"http://x/d"})
    assert [e.key for e in chosen.fetch] == ["a"]
    assert [(e.key, why) for e, why in chosen.skipped] == [("c", "the entry has no link")]
    assert chosen.deferred == 0


def test_the_cap_takes_the_newest_entries_first_and_counts_the_rest_deferred() -> None:
    entries = [FeedEntry(str(n), f"http://x/{n}", str(n), day(n) if n != 4 else None) for n in range(8)]
    chosen = choose_new(entries, seen=(), cap=3)
    assert [e.key for e in chosen.fetch] == ["7", "6", "5"] and chosen.deferred == 5
    assert [e.key for e in choose_new(entries, seen=(), cap=8).fetch][-1] == "4"  # undated last


def test_backoff_doubles_from_the_interval_and_stops_at_a_day() -> None:
    assert [backoff(n, INTERVAL) for n in range(4)] == [timedelta(0), 2 * INTERVAL, 4 * INTERVAL, 8 * INTERVAL]
    assert backoff(7, INTERVAL) == backoff(1000, INTERVAL) == MAX_BACKOFF


@pytest.mark.parametrize(("raw", "minutes"), [("", 15), ("15m", 15), ("900s", 15), ("2", 2), ("1h", 60), ("0.5", 0.5)])
def test_the_feed_interval_takes_minutes_seconds_or_hours(raw: str, minutes: float) -> None:
    assert feed_interval({"NEWSBOT_FEED_INTERVAL": raw}) == timedelta(minutes=minutes)


@pytest.mark.parametrize("raw", ["soon", "-5", "0", "15 minutes", "2d", "100000"])
def test_a_bad_feed_interval_is_refused_naming_the_setting(raw: str, reliability) -> None:
    with pytest.raises(ConfigError, match="NEWSBOT_FEED_INTERVAL"):
        feed_interval({"NEWSBOT_FEED_INTERVAL": raw})
    reliability("Bad input", f"NEWSBOT_FEED_INTERVAL={raw!r}", 1, "refused at start-up naming the setting")


# --- fetching ---

def test_a_conditional_get_sends_the_validators_and_a_304_is_not_modified(site: LocalSite) -> None:
    url = serve_feed(site, [item(site, 0)], etag='"v1"', last_modified="Sun, 25 Jan 2026 08:00:00 GMT")
    page = fetch_feed(url)
    assert (page.kind, page.etag, page.last_modified) == ("feed", '"v1"', "Sun, 25 Jan 2026 08:00:00 GMT")
    again = fetch_feed(url, Validators(page.etag, page.last_modified))
    assert isinstance(again, NotModified) and again.validators == Validators('"v1"', "Sun, 25 Jan 2026 08:00:00 GMT")
    sent = site.requests[-1].headers
    assert sent["If-None-Match"] == '"v1"' and sent["If-Modified-Since"] == "Sun, 25 Jan 2026 08:00:00 GMT"
    assert "application/rss+xml" in sent["Accept"]


def test_a_web_page_is_not_a_feed_and_a_feed_is_not_a_web_page(site: LocalSite, reliability) -> None:
    url = serve_feed(site, [item(site, 0)])
    with pytest.raises(FetchRefused, match="'text/html' is not a feed"):
        fetch_feed(f"{site.url}/story/0")
    with pytest.raises(FetchRefused, match="not a web page or plain text"):
        fetch.fetch_page(url)
    with pytest.raises(FeedRefused, match="HTTP 404"):
        read_feed(f"{site.url}/no-feed-here")
    reliability("Bad input", "a web page given as a feed, a feed given as a page, a missing feed", 3,
                "refused naming the content type or the status")


def test_a_304_without_validators_sent_is_still_a_refusal(site: LocalSite) -> None:
    site.routes["/always-304"] = send(304, content_type=None, length=False)
    with pytest.raises(FetchRefused, match="HTTP 304"):
        fetch_feed(f"{site.url}/always-304")


# --- polling ---

def test_a_feed_that_changes_between_polls_has_only_its_new_entry_fetched(
        site: LocalSite, corpus: Path, state: FeedState) -> None:
    items = [item(site, 0), item(site, 1)]
    url = serve_feed(site, items)
    follow(state, url)
    [first] = poll(state, corpus)
    assert first.added == 2 and sorted(fetched_pages(site)) == ["/story/0", "/story/1"]
    items.append(item(site, 2))
    before = len(site.requests)
    [second] = poll(state, corpus, NOW + INTERVAL)
    assert second.added == 1 and fetched_pages(site)[-1:] == ["/story/2"]
    assert [r.path for r in site.requests[before:]] == ["/feed", "/story/2"]
    [feed] = state.feeds()
    assert (feed.articles_added, feed.entries_seen, feed.failures, feed.last_success) == (3, 3, 0, NOW + INTERVAL)
    stored = sorted(p.read_text(encoding="utf-8") for p in (corpus / "web").rglob("*.txt"))
    assert len(stored) == 3 and any("The wildfire report" in text for text in stored)


def test_entries_the_feed_no_longer_lists_are_forgotten_a_month_on_and_listed_ones_never(
        site: LocalSite, corpus: Path, state: FeedState) -> None:
    items = [item(site, 0), item(site, 1)]
    url = serve_feed(site, items, etag='"v1"')
    follow(state, url)
    poll(state, corpus)
    items[:] = [item(site, 1), item(site, 2)]  # the feed drops entry 0
    serve_feed(site, items, etag='"v2"')
    poll(state, corpus, NOW + FORGET_AFTER / 2)
    assert state.feeds()[0].entries_seen == 3  # dropped, but handled less than FORGET_AFTER ago
    [not_read] = poll(state, corpus, NOW + 2 * FORGET_AFTER)  # a 304: what the feed lists is not known
    assert not_read.not_modified and state.feeds()[0].entries_seen == 3
    serve_feed(site, items, etag='"v3"')
    before = len(fetched_pages(site))
    poll(state, corpus, NOW + 3 * FORGET_AFTER)
    assert state.feeds()[0].entries_seen == 2  # entry 0 forgotten; entry 1, still listed, kept however old
    assert len(fetched_pages(site)) == before  # and nothing fetched again


def test_duplicate_and_link_less_entries_are_fetched_once_and_skipped_with_a_reason(
        site: LocalSite, corpus: Path, state: FeedState) -> None:
    site.routes["/copy-of-0"] = send(200, article_page("Floods: the same report", story("floods", "100")))  # the same site
    items = [item(site, 0), item(site, 0), Item("No link here", None, day(5), guid="urn:nolink"),
             Item("A copy", f"{site.url}/copy-of-0", day(4))]
    follow(state, serve_feed(site, items))
    [result] = poll(state, corpus)
    assert fetched_pages(site) == ["/story/0"]
    assert [why for _, why in result.skipped] == ["the entry has no link"]
    assert sorted(s.status for _, s in result.stored) == ["added", "duplicate"]
    assert len(list((corpus / "web").rglob("*.txt"))) == 1
    [again] = poll(state, corpus, NOW + INTERVAL)
    assert not again.skipped and not again.stored  # all seen: nothing reported twice


def test_an_entry_whose_page_has_no_article_is_retried_then_skipped_with_the_reason(
        site: LocalSite, corpus: Path, state: FeedState, reliability) -> None:
    site.routes["/story/index"] = send(200, b"<html><body><ul>" + b"".join(
        f"<li><a href='/s/{n}'>Story number {n}</a></li>".encode() for n in range(30)) + b"</ul></body></html>")
    follow(state, serve_feed(site, [Item("An index", f"{site.url}/story/index", day(1))], etag='"same"'))
    outcomes = [poll(state, corpus, NOW + n * INTERVAL)[0] for n in range(MAX_ENTRY_ATTEMPTS + 1)]
    assert [len(o.failed) for o in outcomes] == [1] * (MAX_ENTRY_ATTEMPTS - 1) + [0, 0]
    [(_, why)] = outcomes[MAX_ENTRY_ATTEMPTS - 1].skipped
    assert why.startswith("the page has no article text")
    assert outcomes[-1].not_modified  # given up: the validators are kept again
    assert fetched_pages(site) == ["/story/index"] * MAX_ENTRY_ATTEMPTS
    assert not (corpus / "web").exists()
    reliability("Bad input", "a feed entry whose page has no article text", MAX_ENTRY_ATTEMPTS,
                f"tried on {MAX_ENTRY_ATTEMPTS} polls, then skipped with the reason; nothing stored")


@pytest.mark.parametrize("validator", ["etag", "last_modified"])
def test_an_unchanged_feed_is_answered_304_and_no_entry_page_is_fetched_again(
        site: LocalSite, corpus: Path, state: FeedState, validator: str) -> None:
    value = '"abc"' if validator == "etag" else "Sun, 25 Jan 2026 08:00:00 GMT"
    url = serve_feed(site, [item(site, 0), item(site, 1)], **{validator: value})
    follow(state, url)
    poll(state, corpus)
    pages = len(fetched_pages(site))
    [result] = poll(state, corpus, NOW + INTERVAL)
    header = "If-None-Match" if validator == "etag" else "If-Modified-Since"
    assert result.not_modified and site.requests[-1].headers[header] == value
    assert len(fetched_pages(site)) == pages == 2
    assert state.feeds()[0].last_success == NOW + INTERVAL


def test_a_failing_feed_backs_off_while_the_others_are_still_polled(
        site: LocalSite, corpus: Path, state: FeedState, reliability) -> None:
    site.routes["/down"] = send(500, b"oops")
    good = serve_feed(site, [item(site, 0)])
    follow(state, good)
    state.add(f"{site.url}/down", "Down", NOW)
    moments = [NOW, NOW + INTERVAL, NOW + 2 * INTERVAL, NOW + 5 * INTERVAL]
    polled = [{r.feed.url for r in poll(state, corpus, moment)} for moment in moments]
    down = f"{site.url}/down"
    assert polled == [{good, down}, {good}, {good, down}, {good}]  # 2 intervals after one failure, 4 after two
    feed = next(f for f in state.feeds() if f.url == down)
    assert feed.failures == 2 and feed.last_error == "HTTP 500 Internal Server Error"
    assert feed.next_attempt == NOW + 2 * INTERVAL + 4 * INTERVAL and feed.last_success is None
    site.routes["/down"] = conditional(lambda: rss20([item(site, 1)]))
    [recovered] = [r for r in poll(state, corpus, NOW + 6 * INTERVAL) if r.feed.url == down]
    assert recovered.added == 1 and next(f for f in state.feeds() if f.url == down).failures == 0
    reliability("Bad input", "a feed answering HTTP 500 on consecutive polls", 2,
                "backs off (2, then 4 intervals) while the other feeds are polled; recovers on success")


def test_the_cap_leaves_the_rest_for_the_next_poll_which_fetches_the_feed_in_full(
        site: LocalSite, corpus: Path, state: FeedState) -> None:
    url = serve_feed(site, [item(site, n) for n in range(6)], etag='"all"')
    follow(state, url)
    [first] = poll(state, corpus, cap=4)
    assert first.deferred == 2 and sorted(fetched_pages(site)) == [f"/story/{n}" for n in (2, 3, 4, 5)]
    assert state.feeds()[0].entries_seen == 4
    [second] = poll(state, corpus, NOW + INTERVAL, cap=4)
    assert "If-None-Match" not in site.requests[-3].headers  # the validators were dropped: no 304 hides the rest
    assert second.added == 2 and sorted(fetched_pages(site)[-2:]) == ["/story/0", "/story/1"]
    assert poll(state, corpus, NOW + 2 * INTERVAL, cap=4)[0].not_modified


def test_the_state_survives_a_restart_and_nothing_is_fetched_again(
        site: LocalSite, corpus: Path, tmp_path: Path) -> None:
    url = serve_feed(site, [item(site, 0), item(site, 1)])  # no validators: the feed itself is fetched again
    follow(FeedState(tmp_path / "index"), url)
    poll(FeedState(tmp_path / "index"), corpus)
    reopened = FeedState(tmp_path / "index")  # a new process: nothing shared but the file
    [again] = poll(reopened, corpus, NOW + INTERVAL)
    assert not again.stored and sorted(fetched_pages(site)) == ["/story/0", "/story/1"]
    assert (tmp_path / "index" / FEEDS_FILE).is_file()
    [feed] = reopened.feeds()
    assert (feed.entries_seen, feed.articles_added) == (2, 2)


def test_a_failed_build_stores_nothing_and_the_entries_are_fetched_again(
        site: LocalSite, corpus: Path, state: FeedState, reliability) -> None:
    follow(state, serve_feed(site, [item(site, 0)]))
    harvests = harvest(state, NOW)

    def failing_build() -> None:
        raise OSError("disk full")

    with pytest.raises(OSError):
        store_and_build(corpus, harvests, failing_build)
    assert not list(corpus.rglob("*.txt")) and state.feeds()[0].entries_seen == 0
    [retried] = poll(state, corpus, NOW + INTERVAL)
    assert retried.added == 1
    reliability("Index faults", "the index build of a feed poll fails", 1,
                "the poll's articles are removed again; its entries are fetched on the next poll")


def test_two_polls_at_once_are_refused_not_queued(tmp_path: Path) -> None:
    with poll_lock(tmp_path):
        with pytest.raises(PollRunning):
            with poll_lock(tmp_path):
                pass
    with poll_lock(tmp_path):  # released
        pass


def test_concurrent_writers_to_the_state_wait_for_each_other(tmp_path: Path) -> None:
    """Two threads (as the bot's poll and a cron `newsbot feeds poll`) recording at once lose nothing."""
    state = FeedState(tmp_path)
    state.add("http://x/feed", "X", NOW)
    blocker = sqlite3.connect(tmp_path / FEEDS_FILE, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the database for a moment
    threading.Timer(0.5, blocker.commit).start()
    state.record_success("http://x/feed", NOW, title=None, etag=None, last_modified=None, articles_added=1,
                         entries=[])
    blocker.close()
    workers = [threading.Thread(target=state.record_success, args=("http://x/feed", NOW),
                                kwargs={"title": None, "etag": None, "last_modified": None, "articles_added": 1,
                                        "entries": []}) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert state.feeds()[0].articles_added == 9


# --- newsbot feeds ---

def test_newsbot_feeds_add_list_poll_and_remove(site: LocalSite, corpus: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                                reliability) -> None:
    monkeypatch.setenv("NEWSBOT_MODEL", "hashing")
    url = serve_feed(site, [item(site, 0), item(site, 1)])
    where = ["--corpus-dir", str(corpus), "--index-dir", str(tmp_path / "index"), "--model", "hashing"]
    assert main(["feeds", "add", f"{site.url}/story/0", *where]) == 2
    assert capsys.readouterr().err.strip() == f"newsbot: {site.url}/story/0: content type 'text/html' is not a feed (RSS or Atom)"
    assert main(["feeds", "add", url, *where]) == 0
    assert "Following Example News" in capsys.readouterr().out
    assert main(["feeds", "poll", *where]) == 0
    out = capsys.readouterr().out
    assert f"{url}: 2 added" in out and "Indexed 2 articles" in out
    retriever = Retriever.open(tmp_path / "index", embedder=HashingEmbedder())
    assert {a.title for a in retriever.articles()} == {"The floods report", "The earthquake report"}
    retriever.close()
    assert main(["feeds", "list", "--json", *where]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["url"], listed["entries_seen"], listed["articles_added"], listed["failures"]) == (url, 2, 2, 0)
    assert main(["feeds", "poll", *where]) == 0
    assert f"{url}: no new entries" in capsys.readouterr().out
    assert main(["feeds", "remove", url, *where]) == 0 and main(["feeds", "remove", url, *where]) == 2
    assert "not followed" in capsys.readouterr().err
    assert main(["feeds", "list", *where]) == 0 and "No feeds yet" in capsys.readouterr().out
    assert (corpus / "web").is_dir()  # its articles stay
    reliability("Bad input", "`newsbot feeds add` of a web page, `feeds remove` of a feed not followed", 2,
                "exit status 2 and one line naming the URL and the reason")


def test_newsbot_feeds_poll_names_each_entry_it_skipped_or_will_retry_and_why(
        site: LocalSite, corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site.routes["/story/gone"] = send(404, b"gone")
    url = serve_feed(site, [item(site, 0), Item("No link here", None, day(5), guid="urn:nolink"),
                            Item("A lost page", f"{site.url}/story/gone", day(4))])
    where = ["--corpus-dir", str(corpus), "--index-dir", str(tmp_path / "index"), "--model", "hashing"]
    assert main(["feeds", "add", url, *where]) == 0 and main(["feeds", "poll", *where]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"{url}: 1 added, 1 skipped, 1 to retry" in lines
    assert "  skipped “No link here”: the entry has no link" in lines
    assert f"  to retry {site.url}/story/gone: HTTP 404 Not Found" in lines
    assert lines[-1].startswith("Indexed 1 article, 3 sentences")


def test_newsbot_feeds_poll_exits_1_when_a_feed_failed_and_still_indexes_the_others(
        site: LocalSite, corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], reliability) -> None:
    good = serve_feed(site, [item(site, 0)])
    site.routes["/broken.xml"] = send(500, b"down")
    where = ["--corpus-dir", str(corpus), "--index-dir", str(tmp_path / "index"), "--model", "hashing"]
    assert main(["feeds", "add", good, *where]) == 0
    FeedState(tmp_path / "index").add(f"{site.url}/broken.xml", "Broken", NOW)
    assert main(["feeds", "poll", *where]) == 1
    out = capsys.readouterr().out
    assert f"{site.url}/broken.xml: failed: HTTP 500" in out and f"{good}: 1 added" in out
    assert "Indexed 1 article" in out
    reliability("Bad input", "`newsbot feeds poll` with one feed failing (HTTP 500) beside a working one", 1,
                "exit status 1 for cron; the failure named; the working feed's article stored and indexed")


def test_a_state_file_that_is_not_a_database_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         reliability) -> None:
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / FEEDS_FILE).write_bytes(b"not a database" * 100)
    assert main(["feeds", "list", "--index-dir", str(tmp_path / "index")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("newsbot: the feed state") and err.count("\n") == 1
    reliability("Index faults", "a feeds.sqlite3 that is not a database", 1, "`newsbot feeds` says so in one line")


def test_an_article_from_a_feed_reads_back_with_its_feed_dates(site: LocalSite, corpus: Path, state: FeedState,
                                                              tmp_path: Path) -> None:
    follow(state, serve_feed(site, [item(site, 2)]))
    harvests = harvest(state, NOW)
    report = store_and_build(corpus, harvests, lambda: build_index(corpus, tmp_path / "index", HashingEmbedder()))
    assert report is not None and report.articles == 1
    [(_, stored)] = harvests[0].stored
    article = parse_article(stored.path, (corpus / stored.path).read_text(encoding="utf-8"))
    assert article.title == "The wildfire report" and article.url == f"{site.url}/story/2"


# --- the bot's service ---

async def test_the_service_poll_indexes_new_entries_and_a_running_build_skips_it(
        site: LocalSite, corpus: Path, tmp_path: Path, reliability) -> None:
    (corpus / "zebras.txt").write_text("title: Zebras\n\nSeven zebras escaped from the zoo.\n", encoding="utf-8")
    service = await asyncio.to_thread(Service.open, corpus, tmp_path / "index", embedder=HashingEmbedder())
    try:
        follow(FeedState(tmp_path / "index"), serve_feed(site, [item(site, 2)]))
        release = threading.Event()
        build = asyncio.create_task(service._exclusive(lambda: (release.wait(10), service.retriever)))
        await asyncio.sleep(0.1)
        with pytest.raises(BuildRunning):
            await service.poll_feeds(INTERVAL)
        release.set()
        await build
        assert not fetched_pages(site) and FeedState(tmp_path / "index").feeds()[0].last_success is None
        [result] = await service.poll_feeds(INTERVAL)
        assert result.added == 1 and fetched_pages(site) == ["/story/2"]
        answer = await service.answer("How many people have died in the wildfire?", 3)
        assert answer.hits and "wildfire" in answer.hits[0].text
        assert FeedState(tmp_path / "index").feeds()[0].articles_added == 1
    finally:
        service.close()
    reliability("Consistency", "a scheduled feed poll while a rebuild runs", 1,
                "skipped before fetching anything; the next poll fetches and indexes the entry")


def test_an_entry_older_than_the_age_limit_is_skipped_and_the_poll_removes_expired_articles(
        site: LocalSite, corpus: Path, state: FeedState, tmp_path: Path) -> None:
    today = date.today()
    site.routes["/today"] = send(200, article_page("Fresh floods", story("fresh floods"), published=today.isoformat()))
    site.routes["/old"] = send(200, article_page("Old floods", story("old floods"), published="2020-01-02"))
    expired = corpus / "web" / "example" / "expired.txt"  # stored by an earlier poll, expired since
    expired.parent.mkdir(parents=True)
    expired.write_text("title: Expired\ndate: 2020-01-01\n\nAn old story that has expired by now.\n", encoding="utf-8")
    follow(state, serve_feed(site, [Item("Fresh", f"{site.url}/today"), Item("Old", f"{site.url}/old")]))
    harvests = harvest(state, NOW)
    report = store_and_build(corpus, harvests, lambda: build_with_retention(corpus, tmp_path / "index",
                                                                            HashingEmbedder(), 30)[0], 30)
    record(state, harvests, NOW, INTERVAL)
    assert report is not None and report.articles == 1 and not expired.exists()
    [(old, refused)] = [(e, s) for e, s in harvests[0].stored if not isinstance(s, Stored)]
    assert old.link == f"{site.url}/old" and "more than 30 days ago" in refused.reason
    assert state.feeds()[0].entries_seen == 2  # the old entry is not fetched again


async def test_a_killed_fetching_worker_costs_one_poll_and_the_next_starts_another(
        site: LocalSite, corpus: Path, tmp_path: Path, reliability) -> None:
    (corpus / "zebras.txt").write_text("title: Zebras\n\nSeven zebras escaped from the zoo.\n", encoding="utf-8")
    service = await asyncio.to_thread(Service.open, corpus, tmp_path / "index", embedder=HashingEmbedder())
    try:
        items = [item(site, 0)]
        follow(FeedState(tmp_path / "index"), serve_feed(site, items))
        assert (await service.poll_feeds(INTERVAL))[0].added == 1
        for process in list(service._harvester._processes.values()):  # type: ignore[union-attr]
            os.kill(process.pid, signal.SIGKILL)
            process.join(10)
        items.append(item(site, 1))
        with pytest.raises(BrokenProcessPool):
            await service.poll_feeds(INTERVAL)
        assert (await service.poll_feeds(INTERVAL))[0].added == 1
        assert FeedState(tmp_path / "index").feeds()[0].articles_added == 2
    finally:
        service.close()
    reliability("Consistency", "the feed poll's fetching worker process killed (SIGKILL) between polls", 1,
                "that poll fails and is logged; the next one starts a new worker and fetches the entry")


async def test_closing_the_service_stops_a_slow_poll_at_once_and_nothing_is_stored(
        site: LocalSite, corpus: Path, tmp_path: Path, reliability) -> None:
    def slow_page(handler) -> None:
        time.sleep(8)
        send(200, article_page("Slow", story("slow floods")))(handler)

    site.routes["/slow"] = slow_page
    (corpus / "zebras.txt").write_text("title: Zebras\n\nSeven zebras escaped from the zoo.\n", encoding="utf-8")
    service = await asyncio.to_thread(Service.open, corpus, tmp_path / "index", embedder=HashingEmbedder())
    follow(FeedState(tmp_path / "index"), serve_feed(site, [Item("Slow", f"{site.url}/slow")]))
    poll = asyncio.create_task(service.poll_feeds(INTERVAL))
    while not any(r.path == "/slow" for r in site.requests):
        await asyncio.sleep(0.05)
    started = time.monotonic()
    await asyncio.to_thread(service.close)
    assert time.monotonic() - started < 3
    with pytest.raises(BrokenProcessPool):
        await poll
    assert not (corpus / "web").exists() and FeedState(tmp_path / "index").feeds()[0].entries_seen == 0
    reliability("Consistency", "the bot stopped while a feed poll waits on a slow page", 1,
                "stops at once; nothing stored; the entry is fetched by the next poll")


@pytest.mark.parametrize("command", [["add"], ["feeds", "add"], ["feeds", "remove"]])
def test_the_help_of_a_command_taking_urls_says_what_url_it_takes(command: list[str],
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    usage, _, described = capsys.readouterr().out.partition("positional arguments:")
    assert usage.rstrip().endswith("URL") or "URL [URL ...]" in usage
    assert "http or https" in described.split("options:")[0]


def test_a_feed_health_counts_one_entry_and_one_article_in_the_singular() -> None:
    feed = Feed(url="https://x.example/feed", title="X", added_at=NOW, etag=None, last_modified=None,
                last_success=NOW, last_error=None, last_error_at=None, failures=0, next_attempt=None,
                articles_added=1, entries_seen=1)
    assert feed_health(feed)[0].endswith("; 1 entry seen, 1 article added")


def test_newsbot_feeds_add_counts_one_entry_in_the_singular(site: LocalSite, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    url = serve_feed(site, [item(site, 0)])
    assert main(["feeds", "add", url, "--index-dir", str(tmp_path / "index")]) == 0
    assert f"Following Example News ({url}): 1 entry now;" in capsys.readouterr().out


def test_a_bad_feed_interval_stops_newsbot_feeds_poll_before_any_fetch(
        site: LocalSite, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], reliability) -> None:
    url = serve_feed(site, [item(site, 0)])
    where = ["--corpus-dir", str(corpus), "--index-dir", str(tmp_path / "index"), "--model", "hashing"]
    assert main(["feeds", "add", url, *where]) == 0
    site.requests.clear()
    monkeypatch.setenv("NEWSBOT_FEED_INTERVAL", "soon")
    assert main(["feeds", "poll", *where]) == 2
    assert capsys.readouterr().err.startswith("newsbot: NEWSBOT_FEED_INTERVAL is a duration")
    assert not site.requests and not (corpus / "web").exists() and not (tmp_path / "index" / "versions").exists()
    reliability("Bad input", "`newsbot feeds poll` with a bad NEWSBOT_FEED_INTERVAL", 1,
                "exit status 2 and one line naming the setting, before any fetch: nothing stored, the state as it was")
