"""The questions asked in a chat, kept in PTB's chat_data so that "More results" and /more can go on
where the last reply stopped: the chat's recent questions by message id, and each user's last one.

Both are bounded (REMEMBERED_QUESTIONS, oldest forgotten first), so a busy group cannot grow them.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from newsbot.bot.feedback import Shown

REMEMBERED_QUESTIONS = 50  # per chat, for "More results" buttons
ANSWERS_PER_REPLY = 3  # sentences in an answer, and in each "More results" (Telegram and the console chat)
MAX_RESULTS = 30  # sentences shown for one question at most

ChatData = dict[Any, Any] | None  # PTB's context.chat_data: None for updates without a chat


@dataclass
class Asked:
    """A question answered in a chat, how many results have been shown for it, and the bot's first reply
    to it (edited when the question is)."""

    question: str
    history: tuple[str, ...] = ()  # the user's questions before it (bot.history), for a follow-up's context
    shown: int = 0
    reply_id: int | None = None
    answers: dict[int, Shown] = field(default_factory=dict)  # each reply's sentences by its first number, to rate


def remember(chat_data: ChatData, question_id: int, user_id: int | None, question: str,
             history: tuple[str, ...] = ()) -> Asked:
    """Keep the question (the id of the message that asked it) for its button, and as the user's last for /more."""
    asked = Asked(question, history)
    _keep(_kept(chat_data, "asked"), question_id, asked)
    if user_id is not None:
        _keep(_kept(chat_data, "last"), user_id, question_id)
    return asked


def recall(chat_data: ChatData, question_id: int) -> Asked | None:
    """The question asked by that message, unless it has been forgotten."""
    return _kept(chat_data, "asked").get(question_id)


def last_asked(chat_data: ChatData, user_id: int) -> tuple[int, Asked] | None:
    """The user's last question in the chat and its message id, for /more."""
    question_id = _kept(chat_data, "last").get(user_id)
    asked = recall(chat_data, question_id) if question_id is not None else None
    return (question_id, asked) if asked is not None else None


def _kept(chat_data: ChatData, key: str) -> OrderedDict[Any, Any]:
    return chat_data.setdefault(key, OrderedDict()) if chat_data is not None else OrderedDict()


def _keep(kept: OrderedDict[Any, Any], key: int, value: object) -> None:
    """Store `value` as the newest entry, forgetting the oldest beyond REMEMBERED_QUESTIONS."""
    kept.pop(key, None)
    kept[key] = value
    while len(kept) > REMEMBERED_QUESTIONS:
        kept.popitem(last=False)
