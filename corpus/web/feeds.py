"""What a feed says and what to do about it: pure functions, no I/O (fetching is fetch.py's, state feed_state.py's).

feedparser reads RSS 0.9x/1.0/2.0 and Atom, and tolerates the malformed XML many sites publish: it sets
`bozo` and still returns what it could read. A bozo feed is refused only when nothing usable came of it (no
entries, or no feed at all); one with entries is used, its problem kept as a note. An entry is known by its
id (guid), else its link; a link is required, since what is stored is the article the entry points at.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import feedparser

# At most this many new entries are fetched per feed and poll, newest first; the rest wait for the next poll.
# A news site's feed lists 10-50 entries and adds a few per quarter hour: 20 takes a whole busy hour at once,
# while a first poll of a 500-entry archive feed cannot hold the build thread for many minutes.
MAX_NEW_ENTRIES = 20
MAX_BACKOFF = timedelta(days=1)  # a feed down for days is still tried daily, never forgotten


class NotAFeed(Exception):
    """The document is not a feed newsbot can read; the message says why, in one line."""


@dataclass(frozen=True)
class FeedEntry:
    """One entry: `key` identifies it across polls (its id, else its link); `link` is None when it has none."""

    key: str
    link: str | None
    title: str
    published: datetime | None


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    entries: tuple[FeedEntry, ...]
    note: str | None  # what was wrong with a feed that was still usable (malformed XML with entries)


@dataclass(frozen=True)
class Chosen:
    """The new entries to fetch this poll, the ones skipped (with why), and how many wait for a later poll."""

    fetch: tuple[FeedEntry, ...]
    skipped: tuple[tuple[FeedEntry, str], ...]
    deferred: int


def parse_feed(raw: bytes, url: str, content_type: str = "application/xml") -> ParsedFeed:
    """The feed's title and entries, in the feed's order; NotAFeed when nothing usable could be read.

    `url` is the feed's address, against which relative links are resolved.
    """
    parsed = feedparser.parse(raw, response_headers={"content-type": content_type, "content-location": url},
                              sanitize_html=False)
    problem = _bozo_reason(parsed) if parsed.bozo else None
    if not parsed.version and not parsed.entries:
        raise NotAFeed(f"not an RSS or Atom feed{f' ({problem})' if problem else ''}")
    if problem and not parsed.entries:
        raise NotAFeed(f"malformed feed: {problem}")
    entries = tuple(_entry(item) for item in parsed.entries)
    return ParsedFeed(str(parsed.feed.get("title") or "").strip() or url, entries, problem)


def _entry(item: feedparser.FeedParserDict) -> FeedEntry:
    link = str(item.get("link") or "").strip() or None
    title = str(item.get("title") or "").strip()
    # an entry with neither id nor link is remembered by its title, so it is reported skipped only once
    key = str(item.get("id") or "").strip() or link or f"title:{title}"
    return FeedEntry(key=key, link=link, title=title, published=_published(item))


def _published(item: feedparser.FeedParserDict) -> datetime | None:
    stamp = item.get("published_parsed") or item.get("updated_parsed")
    return datetime.fromtimestamp(calendar.timegm(stamp), UTC) if stamp else None


def _bozo_reason(parsed: feedparser.FeedParserDict) -> str:
    error = parsed.get("bozo_exception")
    text = " ".join(str(getattr(error, "getMessage", lambda: error)()).split()) if error else ""
    return text[:200] or "malformed XML"


def choose_new(entries: Sequence[FeedEntry], seen: Iterable[str], cap: int = MAX_NEW_ENTRIES) -> Chosen:
    """The entries not seen before (by key, and by link: a feed that republishes an entry under a new id
    does not get it fetched twice), newest first, at most `cap`; link-less ones skipped with the reason."""
    known = set(seen)
    fresh: list[FeedEntry] = []
    skipped: list[tuple[FeedEntry, str]] = []
    for entry in entries:
        if entry.key in known or (entry.link and entry.link in known):
            continue
        known.add(entry.key)
        if entry.link is None:
            skipped.append((entry, "the entry has no link"))
            continue
        known.add(entry.link)
        fresh.append(entry)
    # newest first; undated entries keep their place in the feed's order, after the dated ones
    order = sorted(range(len(fresh)), key=lambda i: (fresh[i].published is None,
                                                     -(fresh[i].published or _EPOCH).timestamp(), i))
    newest = [fresh[i] for i in order]
    return Chosen(tuple(newest[:cap]), tuple(skipped), max(0, len(newest) - cap))


_EPOCH = datetime.fromtimestamp(0, UTC)


def backoff(failures: int, interval: timedelta) -> timedelta:
    """How long to wait after `failures` consecutive failed polls: the interval doubled per failure, at most
    a day (1 failure: 2 intervals, 2: 4, ...), so a dead feed costs a few requests a day."""
    if failures <= 0:
        return timedelta(0)
    return min(interval * (2 ** min(failures, 32)), MAX_BACKOFF)


def is_due(next_attempt: datetime | None, now: datetime) -> bool:
    """A feed is polled on every pass unless it is backing off until later."""
    return next_attempt is None or next_attempt <= now
