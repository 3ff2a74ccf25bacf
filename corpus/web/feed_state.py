"""The feeds followed and what each poll found, in SQLite in the index folder (`feeds.sqlite3`).

Beside the index versions, not inside one: a rebuild replaces versions, never this file, and a restart finds
every feed's validators and entries seen, so it neither fetches everything again nor misses what came out
meanwhile. Two processes may use it at once (`newsbot feeds poll` from cron while `newsbot serve` runs): each
call is one short transaction on its own connection, with WAL and a busy timeout, and a poll holds
`poll_lock` so two polls never fetch the same entries at once. It imports nothing but the standard library,
so the bot can read it on its event loop's side without loading the fetching stack.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Collection, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

FEEDS_FILE = "feeds.sqlite3"
POLL_LOCK_FILE = "feeds.lock"
BUSY_TIMEOUT_SECONDS = 30  # a poll's writes are a few ms; a waiting writer gives up only if one hangs
# An entry whose article could not be fetched is tried on this many polls, then given up (a 404 is not retried
# forever; a server's bad five minutes is).
MAX_ENTRY_ATTEMPTS = 3
# An entry the feed no longer lists is forgotten this long after it was handled: feeds list their last few
# dozen entries, so the table stays small (a feed of 50 a day kept about 18,000 rows a year), and an entry
# still listed is never forgotten, so it is never fetched again.
FORGET_AFTER = timedelta(days=30)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    added_at TEXT NOT NULL,
    etag TEXT,                       -- the validators of the last full answer, sent as a conditional GET
    last_modified TEXT,
    last_success TEXT,
    last_error TEXT,
    last_error_at TEXT,
    failures INTEGER NOT NULL DEFAULT 0,   -- consecutive failed polls
    next_attempt TEXT,               -- NULL: polled on every pass; else backing off until then
    articles_added INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS entries (
    feed TEXT NOT NULL REFERENCES feeds(url) ON DELETE CASCADE,
    key TEXT NOT NULL,               -- the entry's id (guid), else its link
    link TEXT,
    status TEXT NOT NULL,            -- stored | skipped | failed (tried again, up to MAX_ENTRY_ATTEMPTS polls)
    reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 1,
    at TEXT NOT NULL,
    PRIMARY KEY (feed, key)
);
"""


class FeedStateUnavailable(Exception):
    """The state file could not be read or written (a full disk, a damaged or unreadable file)."""


class PollRunning(Exception):
    """Another poll (the bot's, or `newsbot feeds poll`) is running on this index folder."""


@dataclass(frozen=True)
class Feed:
    """One followed feed and its health."""

    url: str
    title: str
    added_at: datetime
    etag: str | None
    last_modified: str | None
    last_success: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    failures: int
    next_attempt: datetime | None
    articles_added: int
    entries_seen: int

    def to_dict(self) -> dict[str, object]:
        return {"url": self.url, "title": self.title, "added_at": _text(self.added_at),
                "last_success": _text(self.last_success), "last_error": self.last_error,
                "last_error_at": _text(self.last_error_at), "failures": self.failures,
                "next_attempt": _text(self.next_attempt), "entries_seen": self.entries_seen,
                "articles_added": self.articles_added}


@dataclass(frozen=True)
class EntryOutcome:
    """What became of one entry in a poll: `status` stored, skipped or failed, with the reason."""

    key: str
    link: str | None
    status: str
    reason: str | None = None


class FeedState:
    """The feeds of one index folder."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)
        self.path = self.index_dir / FEEDS_FILE

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """One transaction, committed on success; every SQLite failure becomes FeedStateUnavailable."""
        try:
            self.index_dir.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS)) as connection:
                connection.execute("PRAGMA foreign_keys = ON")
                connection.execute("PRAGMA journal_mode = WAL")
                connection.executescript(_SCHEMA)
                with connection:
                    yield connection
        except (sqlite3.Error, OSError) as error:
            raise FeedStateUnavailable(f"the feed state {self.path} cannot be used ({error})") from None

    def add(self, url: str, title: str, now: datetime) -> bool:
        """Follow a feed; False if it was followed already (its state is kept)."""
        with self._connection() as db:
            return db.execute("INSERT OR IGNORE INTO feeds (url, title, added_at) VALUES (?, ?, ?)",
                              (url, title, _text(now))).rowcount == 1

    def remove(self, url: str) -> bool:
        """Stop following a feed and forget its entries; False if it was not followed. Its articles stay."""
        with self._connection() as db:
            return db.execute("DELETE FROM feeds WHERE url = ?", (url,)).rowcount == 1

    def feeds(self) -> list[Feed]:
        """Every feed, in the order they were added."""
        if not self.path.exists():  # listing does not create the file
            return []
        with self._connection() as db:
            rows = db.execute(
                "SELECT f.url, f.title, f.added_at, f.etag, f.last_modified, f.last_success, f.last_error, "
                "f.last_error_at, f.failures, f.next_attempt, f.articles_added, "
                "(SELECT COUNT(*) FROM entries e WHERE e.feed = f.url) "
                "FROM feeds f ORDER BY f.added_at, f.url").fetchall()
        return [Feed(url, title, _time(added), etag, modified, _time(success), error, _time(error_at), failures,
                     _time(next_attempt), added_count, seen)
                for (url, title, added, etag, modified, success, error, error_at, failures, next_attempt,
                     added_count, seen) in rows]

    def get(self, url: str) -> Feed | None:
        return next((feed for feed in self.feeds() if feed.url == url), None)

    def seen(self, url: str) -> tuple[set[str], dict[str, int]]:
        """The keys and links of the feed's entries that are done with, and the failed ones' attempts so far."""
        with self._connection() as db:
            rows = db.execute("SELECT key, link, status, attempts FROM entries WHERE feed = ?", (url,)).fetchall()
        done: set[str] = set()
        failed: dict[str, int] = {}
        for key, link, status, attempts in rows:
            if status == "failed" and attempts < MAX_ENTRY_ATTEMPTS:
                failed[key] = attempts
            else:
                done.update(filter(None, (key, link)))
        return done, failed

    def record_success(self, url: str, now: datetime, *, title: str | None, etag: str | None,
                       last_modified: str | None, entries: Iterable[EntryOutcome], articles_added: int,
                       listed: Collection[str] | None = None) -> None:
        """A poll that reached the feed: the validators to send next time, the entries it handled and the
        articles they added; failures reset. `listed`: the keys and links of every entry the feed lists now
        (None when it was not read, a 304): the entries it no longer lists are forgotten FORGET_AFTER after
        they were handled."""
        with self._connection() as db:
            if listed is not None:
                old = db.execute("SELECT key, link FROM entries WHERE feed = ? AND at < ?",
                                 (url, _text(now - FORGET_AFTER))).fetchall()
                db.executemany("DELETE FROM entries WHERE feed = ? AND key = ?",
                               [(url, key) for key, link in old if key not in listed and link not in listed])
            db.execute("UPDATE feeds SET title = COALESCE(?, title), last_success = ?, failures = 0, "
                       "next_attempt = NULL, articles_added = articles_added + ?, etag = ?, last_modified = ? "
                       "WHERE url = ?", (title, _text(now), articles_added, etag, last_modified, url))
            db.executemany(
                "INSERT INTO entries (feed, key, link, status, reason, attempts, at) VALUES (?, ?, ?, ?, ?, 1, ?) "
                "ON CONFLICT (feed, key) DO UPDATE SET status = excluded.status, reason = excluded.reason, "
                "attempts = entries.attempts + 1, at = excluded.at",
                [(url, e.key, e.link, e.status, e.reason, _text(now)) for e in entries])

    def record_failure(self, url: str, now: datetime, error: str, next_attempt: datetime) -> int:
        """A poll that did not reach the feed (or could not read it); returns the consecutive failures."""
        with self._connection() as db:
            db.execute("UPDATE feeds SET last_error = ?, last_error_at = ?, failures = failures + 1, "
                       "next_attempt = ? WHERE url = ?", (error, _text(now), _text(next_attempt), url))
            row = db.execute("SELECT failures FROM feeds WHERE url = ?", (url,)).fetchone()
        return int(row[0]) if row else 0


@contextmanager
def poll_lock(index_dir: Path) -> Iterator[None]:
    """Held for a whole poll; a second poll at the same time is refused with PollRunning, not queued."""
    Path(index_dir).mkdir(parents=True, exist_ok=True)
    fd = os.open(Path(index_dir) / POLL_LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PollRunning("another feed poll is running on this index folder") from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _text(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
