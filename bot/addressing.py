"""Which messages are meant for this bot, and the question in them.

In a group the bot sees other people's conversation and other bots' commands; it acts only on what
is addressed to it, so that chatter neither gets replies nor counts against anyone's rate limit.
"""

from __future__ import annotations

import re

from telegram import Message, MessageEntity
from telegram.constants import ChatType
from telegram.ext import filters

_TARGETED_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}@([A-Za-z0-9_]+)")  # Telegram's /command@botname


def for_another_bot(message: Message, username: str | None) -> bool:
    """Whether the message's text or caption starts with a command naming another bot (`/add@otherbot`)."""
    targeted = _TARGETED_COMMAND.match(message.text or message.caption or "")
    return targeted is not None and targeted.group(1).lower() != (username or "").lower()


def addressed_text(message: Message, bot_id: int, username: str | None) -> str | None:
    """The question in a message meant for the bot (its text, or a photo's or file's caption): any private
    message; in groups, only a message that mentions the bot (mention removed) or replies to it. None for
    a message not meant for it."""
    text = message.text or message.caption or ""
    if message.chat.type == ChatType.PRIVATE:
        return text
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot_id:
        return text
    mention = f"@{username}".lower() if username else None
    parsed = message.parse_entities if message.text else message.parse_caption_entities
    mentions = [value for value in parsed([MessageEntity.MENTION]).values() if value.lower() == mention]
    if not mentions:
        return None
    for value in mentions:
        text = text.replace(value, " ")
    return text


class _Addressed(filters.MessageFilter):
    """Messages meant for the bot that received them (see addressed_text)."""

    __slots__ = ()

    def filter(self, message: Message) -> bool:
        bot = message.get_bot()
        return addressed_text(message, bot.id, bot.username) is not None


ADDRESSED = _Addressed(name="ADDRESSED")
