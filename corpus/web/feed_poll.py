"""One pass over the feeds that are due, in three steps the callers place on the right threads:

1. `harvest`: fetch each due feed (a conditional GET) and the articles of its new entries. Network only,
   nothing written: the bot runs it off the event loop and off the build thread, so questions and builds
   go on meanwhile.
2. `store_and_build`: store the fetched articles in the corpus through the same path as `newsbot add`
   (ingest.store_then_build: each stored once, none older than the age limit), then build the index once for
   the whole pass (the caller's build, which applies the age limit); a failed build undoes the pass's files.
3. `record`: write what the pass did to the feed state, only after the build succeeded (entries of a failed
   build are fetched again next time, not lost).

A feed whose new entries were not all taken (the cap, an entry that failed and will be tried again) forgets
its validators, so the next poll fetches it in full rather than getting a 304 that would hide the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from newsbot.corpus.web.extract import Extracted
from newsbot.corpus.web.feed_state import MAX_ENTRY_ATTEMPTS, EntryOutcome, Feed, FeedState
from newsbot.corpus.web.feeds import (
    MAX_NEW_ENTRIES,
    FeedEntry,
    NotAFeed,
    ParsedFeed,
    backoff,
    choose_new,
    is_due,
    parse_feed,
)
from newsbot.corpus.web.fetch import FetchRefused, NotModified, Validators, fetch_feed
from newsbot.corpus.known import Stored
from newsbot.corpus.retention import too_old
from newsbot.corpus.web.ingest import PageRefused, fetch_article, store_then_build

T = TypeVar("T")


class FeedRefused(FetchRefused):
    """A URL that cannot be followed as a feed (not fetched, or not a feed): the URL and the reason, one line."""


@dataclass
class FeedHarvest:
    """What one feed gave this pass: an error, "not modified", or entries fetched and skipped."""

    feed: Feed
    error: str | None = None
    not_modified: bool = False
    title: str | None = None
    validators: Validators = field(default_factory=Validators)
    fetched: list[tuple[FeedEntry, Extracted]] = field(default_factory=list)
    skipped: list[tuple[FeedEntry, str]] = field(default_factory=list)
    failed: list[tuple[FeedEntry, str]] = field(default_factory=list)  # tried again next poll
    deferred: int = 0  # new entries over the cap, left for the next poll
    note: str | None = None  # a usable feed's XML problem
    stored: list[tuple[FeedEntry, Stored | PageRefused]] = field(default_factory=list)  # by store_and_build
    listed: frozenset[str] | None = None  # keys and links of every entry the feed lists now (None: not read)

    @property
    def complete(self) -> bool:
        """Every new entry was dealt with: the validators may be kept for the next conditional GET."""
        return not self.deferred and not self.failed

    @property
    def added(self) -> int:
        return sum(isinstance(stored, Stored) and stored.status == "added" for _, stored in self.stored)


def read_feed(url: str, validators: Validators | None = None, *,
              allow_private: bool | None = None) -> tuple[ParsedFeed, Validators] | NotModified:
    """Fetch and parse a feed; FeedRefused (one line) when it cannot be fetched or is not a feed."""
    try:
        fetched = fetch_feed(url, validators, allow_private=allow_private)
    except FetchRefused as refused:
        raise FeedRefused(url, refused.reason) from None
    if isinstance(fetched, NotModified):
        return fetched
    try:
        parsed = parse_feed(fetched.raw, fetched.url, fetched.content_type)
    except NotAFeed as problem:
        raise FeedRefused(url, str(problem)) from None
    return parsed, Validators(fetched.etag, fetched.last_modified)


def harvest(state: FeedState, now: datetime, *, cap: int = MAX_NEW_ENTRIES,
            allow_private: bool | None = None) -> list[FeedHarvest]:
    """Fetch every due feed and its new entries' articles (network only; nothing is written)."""
    return [harvest_feed(feed, state, cap=cap, allow_private=allow_private)
            for feed in state.feeds() if is_due(feed.next_attempt, now)]


def harvest_feed(feed: Feed, state: FeedState, *, cap: int = MAX_NEW_ENTRIES,
                 allow_private: bool | None = None) -> FeedHarvest:
    result = FeedHarvest(feed)
    try:
        read = read_feed(feed.url, Validators(feed.etag, feed.last_modified), allow_private=allow_private)
    except FeedRefused as refused:
        result.error = refused.reason
        return result
    if isinstance(read, NotModified):
        result.not_modified, result.validators = True, read.validators
        return result
    parsed, result.validators = read
    result.title, result.note = parsed.title, parsed.note
    result.listed = frozenset(name for entry in parsed.entries for name in (entry.key, entry.link) if name)
    seen, attempts = state.seen(feed.url)
    chosen = choose_new(parsed.entries, seen, cap)
    result.skipped, result.deferred = list(chosen.skipped), chosen.deferred
    for entry in chosen.fetch:
        assert entry.link is not None  # choose_new skips link-less entries
        try:
            result.fetched.append((entry, fetch_article(entry.link, allow_private=allow_private)))
        except PageRefused as refused:
            if attempts.get(entry.key, 0) + 1 >= MAX_ENTRY_ATTEMPTS:
                result.skipped.append((entry, refused.reason))
            else:
                result.failed.append((entry, refused.reason))
    return result


def store_and_build(corpus_dir: Path, harvests: Sequence[FeedHarvest], build: Callable[[], T],
                    max_age_days: int | None = None) -> T | None:
    """Store the pass's articles once each (several feeds may carry the same story; one older than
    `max_age_days` is refused) and run `build` once for them all (`ingest.store_then_build`: a failed build
    puts the corpus back as it was). No build (None) when nothing was written, unless an age limit is set:
    then every poll's build also removes what has expired since the last."""
    outcomes, built = store_then_build(corpus_dir, [extracted for result in harvests for _, extracted in result.fetched],
                                       build, too_old(max_age_days, date.today()))
    taken = iter(outcomes)
    for result in harvests:
        result.stored = [(entry, next(taken)) for entry, _ in result.fetched]
    if built is None and max_age_days is not None:
        built = build()
    return built


def record(state: FeedState, harvests: Sequence[FeedHarvest], now: datetime, interval: timedelta) -> None:
    """Write the pass's outcome per feed: its health, validators, entries handled and articles added."""
    for result in harvests:
        url = result.feed.url
        if result.error is not None:
            next_attempt = now + backoff(result.feed.failures + 1, interval)
            state.record_failure(url, now, result.error, next_attempt)
            continue
        outcomes = ([_outcome(e, s) for e, s in result.stored]
                    + [EntryOutcome(e.key, e.link, "skipped", why) for e, why in result.skipped]
                    + [EntryOutcome(e.key, e.link, "failed", why) for e, why in result.failed])
        validators = result.validators if result.complete else Validators()
        state.record_success(url, now, title=result.title, etag=validators.etag,
                             last_modified=validators.last_modified, entries=outcomes, articles_added=result.added,
                             listed=result.listed)


def _outcome(entry: FeedEntry, stored: Stored | PageRefused) -> EntryOutcome:
    if isinstance(stored, PageRefused):
        return EntryOutcome(entry.key, entry.link, "skipped", stored.reason)
    return EntryOutcome(entry.key, entry.link, "stored", stored.status)


def summary(result: FeedHarvest) -> str:
    """One line per feed for the CLI and the bot: what this pass did."""
    if result.error is not None:
        return f"{result.feed.url}: failed: {result.error}"
    if result.not_modified:
        return f"{result.feed.url}: not modified"
    statuses = [s.status if isinstance(s, Stored) else "skipped" for _, s in result.stored]
    statuses += ["skipped"] * len(result.skipped)
    parts = [f"{statuses.count(status)} {status}" for status in ("added", "updated", "unchanged", "duplicate",
                                                                 "skipped") if status in statuses]
    parts += [f"{len(result.failed)} to retry"] if result.failed else []
    parts += [f"{result.deferred} left for the next poll"] if result.deferred else []
    parts += [f"read despite malformed XML ({result.note})"] if result.note else []
    return f"{result.feed.url}: {', '.join(parts) or 'no new entries'}"


def entry_lines(result: FeedHarvest) -> list[str]:
    """Under a feed's `summary`, each entry this pass skipped or will try again, and why: the reasons are in
    the feed state, but an admin reading the poll's output should not need to open it."""
    refused = [(entry, stored.reason) for entry, stored in result.stored if isinstance(stored, PageRefused)]
    return ([f"  skipped {_entry_name(entry)}: {why}" for entry, why in [*refused, *result.skipped]]
            + [f"  to retry {_entry_name(entry)}: {why}" for entry, why in result.failed])


def _entry_name(entry: FeedEntry) -> str:
    return entry.link or f"“{entry.title}”"
