"""A rebuild or an /add shown to the admin in one status message: edited with the build's stage while
it runs, then with its outcome or what failed. One message edited, rather than one sent per stage,
because Telegram limits the messages a bot sends a chat."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from telegram import Bot, Message
from telegram.error import TelegramError

from newsbot.bot import texts
from newsbot.bot.render import Block, render, text_blocks
from newsbot.bot.replies import edit_chunk, send_chunks
from newsbot.bot.service import ArticleRejected, BuildRunning, Progress
from newsbot.index import IndexProblem

log = logging.getLogger(__name__)

PROGRESS_EVERY = 2.0  # seconds between progress edits: Telegram limits edits per chat

Job = Callable[[Progress], Awaitable[list[Block]]]


async def run_with_progress(bot: Bot, status: Message, doing: str, job: Job) -> None:
    """Run `job` (a rebuild or an /add, `doing` naming it), showing its progress in `status`, then its outcome."""
    progress, stop = Progress(), asyncio.Event()
    reporter = asyncio.create_task(_report_progress(status, doing, progress, stop))
    try:
        outcome = await job(progress)
    except BuildRunning:
        outcome = text_blocks(texts.BUILD_RUNNING)
    except ArticleRejected as reason:
        outcome = text_blocks(texts.rejected_article(reason))
    except IndexProblem as problem:
        log.warning("%s failed: %s", doing, problem)
        outcome = texts.build_failed_blocks(doing, problem)
    except Exception:
        log.exception("%s failed", doing)
        outcome = texts.build_failed_blocks(doing, None)
    finally:
        stop.set()
        await reporter
    chunks = render(outcome)
    await edit_chunk(status, chunks[0])
    if len(chunks) > 1:
        await send_chunks(bot, status.chat_id, chunks[1:])


async def _report_progress(status: Message, doing: str, progress: Progress, stop: asyncio.Event) -> None:
    """Edit the status message as the build advances, at most every PROGRESS_EVERY seconds."""
    shown = ""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), PROGRESS_EVERY)
        except TimeoutError:
            now = texts.progress_text(doing, progress.stage, progress.done, progress.total)
            if now and now != shown:
                shown = now
                try:
                    await edit_chunk(status, render(text_blocks(now))[0])
                except TelegramError as error:  # progress is best effort; the outcome edit is what matters
                    log.info("progress edit failed: %s", error)
