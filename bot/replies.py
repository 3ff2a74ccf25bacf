"""Sending rendered replies: HTML first, the same text as plain text if Telegram rejects the HTML;
and the typing indicator while an answer is worked out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, Message, ReplyParameters
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, TelegramError

from newsbot.bot.render import Chunk

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
TYPING_EVERY = 4.5  # Telegram shows a chat action for about 5 s
TYPING_AFTER = 1.0  # seconds an answer may take before "typing…" is shown


async def send_chunks(bot: Bot, chat_id: int, chunks: Sequence[Chunk], *, reply_to: int | None = None,
                      keyboard: InlineKeyboardMarkup | None = None) -> list[Message]:
    """Send each chunk in order; the first quotes `reply_to`, the last carries the keyboard."""
    sent = []
    for number, chunk in enumerate(chunks):
        last = number == len(chunks) - 1
        quote = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to and not number else None
        markup = keyboard if last else None
        try:
            message = await bot.send_message(chat_id, chunk.html, parse_mode=ParseMode.HTML, reply_markup=markup,
                                             reply_parameters=quote, link_preview_options=NO_PREVIEW)
        except BadRequest as error:
            log.warning("Telegram rejected an HTML reply (%s); sending it as plain text", error)
            message = await bot.send_message(chat_id, chunk.plain, reply_markup=markup, reply_parameters=quote,
                                             link_preview_options=NO_PREVIEW)
        sent.append(message)
    return sent


async def edit_chunk(message: Message, chunk: Chunk, keyboard: InlineKeyboardMarkup | None = None) -> None:
    """Replace a message's text (progress, paging), falling back to plain text like send_chunks."""
    try:
        await message.edit_text(chunk.html, parse_mode=ParseMode.HTML, reply_markup=keyboard,
                                link_preview_options=NO_PREVIEW)
    except BadRequest as error:
        if "not modified" in str(error).lower():
            return
        log.warning("Telegram rejected an HTML edit (%s); sending it as plain text", error)
        await message.edit_text(chunk.plain, reply_markup=keyboard, link_preview_options=NO_PREVIEW)


async def replace_text(bot: Bot, chat_id: int, message_id: int, chunk: Chunk,
                       keyboard: InlineKeyboardMarkup | None = None) -> bool:
    """Replace the text of an earlier message of the bot (an edited question's answer), as send_chunks would
    send it; False when Telegram will not edit it (deleted, too old), for the caller to send it anew."""
    try:
        try:
            await bot.edit_message_text(chunk.html, chat_id, message_id, parse_mode=ParseMode.HTML,
                                        reply_markup=keyboard, link_preview_options=NO_PREVIEW)
        except BadRequest as error:
            if "not modified" in str(error).lower():  # the same answer as before: it stands
                return True
            await bot.edit_message_text(chunk.plain, chat_id, message_id, reply_markup=keyboard,
                                        link_preview_options=NO_PREVIEW)
    except BadRequest as error:
        if "not modified" in str(error).lower():
            return True
        log.info("could not edit message %s in chat %s (%s); replying anew", message_id, chat_id, error)
        return False
    return True


@asynccontextmanager
async def typing(bot: Bot, chat_id: int, *, after: float | None = None) -> AsyncIterator[None]:
    """Show "typing…" in the chat if the body takes longer than `after` seconds (default TYPING_AFTER),
    until it is done. A chat action already in flight is left to finish in the background rather than
    cut off or waited for, so the reply is never delayed.

    A quick answer needs no indicator; skipping it halves the Bot API calls per answered question
    (measured: the HTTP client was most of the bot's event-loop time under load, docs/PERFORMANCE.md).
    """
    done = asyncio.Event()
    delay = TYPING_AFTER if after is None else after

    async def keep_typing() -> None:
        if await _finished(done, delay):
            return
        while not done.is_set():
            try:
                await bot.send_chat_action(chat_id, ChatAction.TYPING)
            except TelegramError as error:  # cosmetic: never fail an answer over it
                log.debug("chat action failed: %s", error)
            await _finished(done, TYPING_EVERY)

    task = asyncio.create_task(keep_typing())
    _running.add(task)  # the loop keeps only weak references to tasks
    task.add_done_callback(_running.discard)
    try:
        yield
    finally:
        done.set()


async def _finished(done: asyncio.Event, seconds: float) -> bool:
    """Wait up to `seconds` for `done`; whether it was set."""
    try:
        await asyncio.wait_for(done.wait(), seconds)
    except TimeoutError:
        return False
    return True


_running: set[asyncio.Task[None]] = set()
