"""Users' verdicts on answers ("👍 Helpful", "👎 Wrong answer"), kept so the bot's users become its benchmark.

What an answer showed (`Shown`: the question, the sentences, the index version) stays in the chat's memory
with its question until a button under it is tapped; only then is it written, with the verdict and the
hour, to a small SQLite file in the index folder (`FeedbackStore`). Nothing that names a person or a chat
is stored: each answer gets a random id when it is sent, so one person's verdicts cannot be linked to
each other or to them. One verdict per answer: a second tap replaces the first.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from newsbot.retrieval import Hit

FEEDBACK_FILE = "feedback.sqlite3"
HELPFUL, WRONG = "helpful", "wrong"
VERDICTS = {"+": HELPFUL, "-": WRONG}  # the sign in a button's callback data
CALLBACK_PATTERN = r"^fb:[0-9]+:[0-9]+:[+-]$"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    answer TEXT PRIMARY KEY,   -- a random id given to the answer when it was sent
    verdict TEXT NOT NULL,     -- helpful | wrong
    question TEXT NOT NULL,
    sentences TEXT NOT NULL,   -- JSON: [{id, text, article_id, article_title}], in the order shown
    index_version TEXT NOT NULL,
    at TEXT NOT NULL           -- UTC, to the hour
)
"""


class FeedbackUnavailable(Exception):
    """The store could not be read or written (a full disk, a damaged or unreadable file)."""


@dataclass(frozen=True)
class ShownSentence:
    id: int
    text: str
    article_id: str
    article_title: str


@dataclass(frozen=True)
class Shown:
    """One answer as it was sent: kept in memory until rated. `asker` (who may rate it) is never stored."""

    answer: str
    question: str
    sentences: tuple[ShownSentence, ...]
    index_version: str
    asker: int | None


@dataclass(frozen=True)
class Feedback:
    """One stored verdict."""

    answer: str
    verdict: str
    question: str
    sentences: tuple[ShownSentence, ...]
    index_version: str
    at: str


def shown(question: str, hits: Sequence[Hit], index_version: str, asker: int | None) -> Shown:
    """What an answer showed, under a fresh random id."""
    return Shown(secrets.token_hex(8), question,
                 tuple(ShownSentence(hit.sentence_id, hit.text, hit.article.id, hit.article.title) for hit in hits),
                 index_version, asker)


def callback_data(question_id: int, first_number: int, sign: str) -> str:
    """A button's data (at most 64 bytes): the question's message, the answer's first number, + or -."""
    return f"fb:{question_id}:{first_number}:{sign}"


def parse_callback(data: str) -> tuple[int, int, str]:
    """(question id, first number, verdict) of data matching CALLBACK_PATTERN."""
    _, question_id, first_number, sign = data.split(":")
    return int(question_id), int(first_number), VERDICTS[sign]


def hour(moment: datetime) -> str:
    """The time kept with a verdict: enough to relate it to index versions, too coarse to match a chat log."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:00Z")


class FeedbackStore:
    """The verdicts, in one SQLite file. Thread-safe; called off the event loop. The file is opened per
    call, so a store that fails once (a full disk) works again when the cause is gone, and a damaged
    file costs only the verdicts, never an answer."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def record(self, answer: Shown, verdict: str, moment: datetime) -> bool:
        """Keep the verdict on this answer, replacing an earlier one; True when it changed an earlier verdict."""
        sentences = json.dumps([vars(s) for s in answer.sentences], ensure_ascii=False)
        with self._lock, self._connection() as db:
            previous = db.execute("SELECT verdict FROM feedback WHERE answer = ?", (answer.answer,)).fetchone()
            db.execute("INSERT INTO feedback VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (answer) DO UPDATE SET "
                       "verdict = excluded.verdict, at = excluded.at",
                       (answer.answer, verdict, answer.question, sentences, answer.index_version, hour(moment)))
        return previous is not None and previous[0] != verdict

    def all(self) -> list[Feedback]:
        """Every verdict, oldest first."""
        if not self.path.exists():
            return []
        with self._lock, self._connection() as db:
            rows = db.execute("SELECT answer, verdict, question, sentences, index_version, at FROM feedback "
                              "ORDER BY at, rowid").fetchall()
        try:
            return [Feedback(answer, verdict, question, tuple(ShownSentence(**s) for s in json.loads(sentences)),
                             version, at) for answer, verdict, question, sentences, version, at in rows]
        except (ValueError, TypeError) as error:
            raise FeedbackUnavailable(f"the feedback file {self.path} holds a damaged row ({error})") from None

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection for one call, committed and closed on the way out; sqlite3 and OS errors become
        FeedbackUnavailable, naming the file."""
        db = None
        try:
            db = sqlite3.connect(self.path, timeout=5)
            db.execute(_SCHEMA)
            yield db
            db.commit()
        except (sqlite3.Error, OSError) as error:
            raise FeedbackUnavailable(f"the feedback file {self.path} cannot be used ({error})") from None
        finally:
            if db is not None:
                db.close()
