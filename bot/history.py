"""A conversation's recent questions, so that a follow-up ("When did that happen?") is answered in context.

The retriever decides whether a question leans on them (`retrieval.history`); this only keeps them.
The bot keeps one per user within each chat (in PTB's chat_data: two people in one group are two
conversations), the console one per session. A history holds the last HISTORY_QUESTIONS questions
and is forgotten after QUIET_SECONDS without a question, or at once by /new.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from typing import Any

# A follow-up leans on the question before it, at most two back (`retrieval.history.CONTEXT_QUESTIONS`);
# one more is kept so that the chain back to a question that stands alone is not cut short.
HISTORY_QUESTIONS = 3
# Ten quiet minutes: follow-ups come within a minute or two of their question; someone back after a
# break asks about something new, and a follow-up then would be answered about a forgotten topic.
QUIET_SECONDS = 10 * 60
CONVERSATIONS_PER_CHAT = 200  # a busy group's least recently active askers are forgotten first


def now() -> float:
    """The clock histories expire by (a function, so tests can move it)."""
    return time.monotonic()


class History:
    """One conversation's recent questions, oldest first."""

    def __init__(self) -> None:
        self._questions: deque[str] = deque(maxlen=HISTORY_QUESTIONS)
        self._last = 0.0

    def earlier(self) -> tuple[str, ...]:
        """The questions asked before, oldest first; none after QUIET_SECONDS of quiet."""
        if self._questions and now() - self._last > QUIET_SECONDS:
            self._questions.clear()
        return tuple(self._questions)

    def add(self, question: str) -> None:
        self.earlier()  # an expired history is not continued
        self._questions.append(question)
        self._last = now()

    def replace(self, question: str, edited: str) -> None:
        """An edited question takes the place of what it said before (if still kept)."""
        for position in reversed(range(len(self._questions))):
            if self._questions[position] == question:
                self._questions[position] = edited
                return

    def clear(self) -> None:
        self._questions.clear()


def history_of(chat_data: dict[Any, Any] | None, user_id: int | None) -> History:
    """The user's history in this chat (a fresh, unkept one for an update without a chat or a user)."""
    if chat_data is None or user_id is None:
        return History()
    kept: OrderedDict[int, History] = chat_data.setdefault("history", OrderedDict())
    found = kept.pop(user_id, None) or History()
    kept[user_id] = found  # the most recently active last
    while len(kept) > CONVERSATIONS_PER_CHAT:
        kept.popitem(last=False)
    return found
