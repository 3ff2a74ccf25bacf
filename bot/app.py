"""The Telegram bot: the Application built in one function, thin async handlers, one error handler.

Handlers only parse the update, check who may do what, and call the Service (which runs all
model and index work off the event loop); rendering is in bot.render, sending in bot.replies.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest, HTTPXRequest

from newsbot.bot.addressing import ADDRESSED, addressed_text, for_another_bot
from newsbot.bot.config import Settings
from newsbot.bot.journal import JournaledPolls, UpdateJournal
from newsbot.bot.ratelimit import RateLimited, RateLimiter, TooManyWaiting, Turns
from newsbot.bot.render import Block, answer_blocks, articles_blocks, no_more_blocks, overview_blocks, render, text_blocks
from newsbot.bot.replies import edit_chunk, send_chunks, typing
from newsbot.bot.retry import RetryingLimiter, StopWaiting
from newsbot.bot.service import ArticleRejected, BuildRunning, Progress, Service
from newsbot.index import BuildReport, IndexProblem
from newsbot.index.build import EMBEDDING, READING

log = logging.getLogger(__name__)

ANSWERS_PER_REPLY = 3
MAX_RESULTS = 30
SOURCES_PER_PAGE = 15
MAX_UPLOAD_BYTES = 1_000_000
PROGRESS_EVERY = 2.0  # seconds between progress edits: Telegram limits edits per chat
CONCURRENT_UPDATES = 256
# HTTP connections to the Bot API. httpcore checks every pooled connection on every request, so 256
# (PTB's default) cost most of the event loop under load; 16 keep up with Telegram's own limit of
# about 30 messages/s at 100+ ms round trips (docs/PERFORMANCE.md).
CONNECTIONS = 16
REMEMBERED_QUESTIONS = 50  # per chat, for "More results" buttons
PUBLIC_COMMANDS = [BotCommand("help", "What I know and how to ask"),
                   BotCommand("sources", "The articles I have read"),
                   BotCommand("more", "More results for your last question")]
SORRY = "Sorry, something went wrong on my side. Please try again in a moment."
ADMIN_ONLY = "Sorry, that command is only for this bot's admins."
ONLY_TEXT = "I can only read questions written as text. Ask me something, or see /help."
UNKNOWN_COMMAND = "I don't know that command. /help shows what I can do."
HOW_TO_ADD = ("Send the article after the command, e.g.\n/add title: …\nsource: …\ndate: 2024-05-01\n\nBody…\n\n"
              "or upload a .txt file with /add as its caption, or reply /add to a message holding the article.")

MESSAGE_ONLY = filters.UpdateType.MESSAGE  # edits of old messages are not new questions or commands
Callback = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


def build_application(settings: Settings, service: Service,
                      requests: tuple[BaseRequest, BaseRequest] | None = None,
                      journal: UpdateJournal | None = None, retry: RetryingLimiter | None = None) -> Application:
    """The whole bot. `requests` (API calls, getUpdates) replaces HTTP, for tests. With a `journal`,
    updates are recorded before Telegram is told they arrived and marked done once answered. `retry`
    retries the Bot API calls (serve keeps it, to stop its waits when stopping)."""
    builder = (ApplicationBuilder().token(settings.token).base_url(settings.api_base_url)
               .base_file_url(settings.api_file_url).rate_limiter(retry or RetryingLimiter())
               .concurrent_updates(CONCURRENT_UPDATES))
    if requests is None:
        builder = (builder.read_timeout(15).write_timeout(15).connect_timeout(10).pool_timeout(30)
                   .connection_pool_size(CONNECTIONS))
        polls: BaseRequest = HTTPXRequest(connection_pool_size=1)  # what PTB would make for getUpdates
    else:
        builder = builder.request(requests[0])
        polls = requests[1]
    builder = builder.get_updates_request(JournaledPolls(polls, journal) if journal else polls)
    application = builder.build()
    Handlers(service, settings, journal).register(application)
    return application


@dataclass
class Asked:
    """A question answered in a chat, and how many results have been shown for it."""

    question: str
    shown: int


class Handlers:
    """The bot's handlers, sharing the service, the settings and the per-user limits."""

    def __init__(self, service: Service, settings: Settings, journal: UpdateJournal | None = None) -> None:
        self.service = service
        self.admin_ids = settings.admin_ids
        self.limiter = RateLimiter(settings.rate_limit_questions, settings.rate_limit_seconds)
        self.turns = Turns()
        self.journal = journal
        self._seen_updates: OrderedDict[int, None] = OrderedDict()

    def register(self, application: Application) -> None:
        """Every handler of group 0 goes through the rate limit (`_limited`), so no command can be flooded."""
        application.add_handler(TypeHandler(Update, self.screen), group=-1)
        application.add_handler(TypeHandler(Update, self.handled), group=1)  # after the one handler of group 0
        limited = self._limited
        for names, callback in ((("start", "help"), self.help), (("sources",), self.sources), (("more",), self.more),
                                (("reindex",), self.reindex), (("add",), self.add), (("stats",), self.stats)):
            application.add_handler(CommandHandler(names, limited(callback), filters=MESSAGE_ONLY))
        application.add_handler(MessageHandler(
            MESSAGE_ONLY & filters.Document.ALL & filters.CaptionRegex(r"^/add(@\w+)?(\s|$)"), limited(self.add)))
        application.add_handler(MessageHandler(MESSAGE_ONLY & filters.TEXT & ~filters.COMMAND & ADDRESSED,
                                               limited(self.question)))
        application.add_handler(MessageHandler(MESSAGE_ONLY & filters.ChatType.PRIVATE & filters.COMMAND,
                                               limited(self.unknown_command)))
        application.add_handler(MessageHandler(MESSAGE_ONLY & filters.ChatType.PRIVATE, limited(self.not_text)))
        application.add_handler(CallbackQueryHandler(limited(self.more_button), pattern=r"^more:[0-9]+$"))
        application.add_handler(CallbackQueryHandler(limited(self.sources_page), pattern=r"^src:[0-9]+$"))
        application.add_error_handler(on_error)

    async def screen(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Let each update through once, and only if it is for this bot: one delivered twice (a redelivered
        webhook, a repeated poll, again after a restart) is handled once; a command addressed to another
        bot (`/add@otherbot`, as text or as an upload's caption) is ignored."""
        if update.update_id in self._seen_updates or (self.journal and self.journal.is_done(update.update_id)):
            log.info("update %s was delivered again; ignoring the repeat", update.update_id)
            raise ApplicationHandlerStop
        self._seen_updates[update.update_id] = None
        if len(self._seen_updates) > 10_000:
            self._seen_updates.popitem(last=False)
        if update.message is not None and for_another_bot(update.message, context.bot.username):
            log.debug("update %s is a command for another bot; ignoring it", update.update_id)
            self._done(update)
            raise ApplicationHandlerStop

    async def handled(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Runs after the update's handler has finished (or failed and been reported): it is done, if its
        reply has not marked it so already."""
        self._done(update)

    def _limited(self, callback: Callback) -> Callback:
        """`callback` within the user's rate limit. A user over it is told once how long to wait; further
        requests until the wait is over are dropped unanswered, so a flood costs the bot almost nothing.
        Admins are not limited: they are named in the settings, and uploading a dozen articles with /add
        in a minute is their work, not a flood."""
        @functools.wraps(callback)
        async def limited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            user = update.effective_user
            try:
                if user is not None and user.id not in self.admin_ids:
                    self.limiter.admit(user.id)
            except RateLimited as refused:
                message = None if refused.told else refused.message
                if update.callback_query:
                    await update.callback_query.answer(message)
                elif message:
                    await self._reply(update, context, text_blocks(message))
                return
            await callback(update, context)

        return limited

    # --- everyone ---

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        catalogue = await self.service.catalogue()
        user = update.effective_user
        await self._reply(update, context, overview_blocks(len(catalogue.articles), catalogue.first, catalogue.last,
                                                           context.bot.username, bool(user and user.id in self.admin_ids)))

    async def question(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None or message.text is None:
            return
        question = addressed_text(message, context.bot.id, context.bot.username)
        if question is not None:
            asked = Asked(question, 0)
            _remember(context, message, asked)
            await self._answer(update, context, message.message_id, asked)

    async def more(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        last = _chat_data(context, "last").get(user.id) if user else None
        asked = _chat_data(context, "asked").get(last)
        if asked is None:
            await self._reply(update, context, text_blocks("Ask me a question first; then /more shows further answers."))
            return
        await self._answer(update, context, last, asked)

    async def more_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        await query.answer()
        question_id = int(query.data.split(":")[1])
        asked = _chat_data(context, "asked").get(question_id)
        if asked is None:
            await self._reply(update, context, text_blocks("That question is too old for me to remember. "
                                                           "Please ask it again."))
            return
        await self._answer(update, context, question_id, asked)

    async def sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        page = _page(context.args[0] if context.args else None)
        articles = (await self.service.catalogue()).articles
        await self._reply(update, context, articles_blocks(articles, page, SOURCES_PER_PAGE),
                          keyboard=_pages_keyboard(page, len(articles)))

    async def sources_page(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        await query.answer()
        page = _page(query.data.split(":")[1])
        articles = (await self.service.catalogue()).articles
        chunks = render(articles_blocks(articles, page, SOURCES_PER_PAGE))
        if isinstance(query.message, Message):
            await edit_chunk(query.message, chunks[0], _pages_keyboard(page, len(articles)))

    async def unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._reply(update, context, text_blocks(UNKNOWN_COMMAND))

    async def not_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._reply(update, context, text_blocks(ONLY_TEXT))

    # --- admins ---

    async def reindex(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if await self._refused(update, context, "/reindex"):
            return
        force = bool(context.args) and context.args[0].lower() == "force"

        async def job(progress: Progress) -> list[Block]:
            return _built_blocks(await self.service.reindex(progress, force=force))

        await self._build(update, context, "Rebuilding the index from the corpus folder", job)

    async def add(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if await self._refused(update, context, "/add"):
            return
        message = update.effective_message
        try:
            found = await _article_sent(message)
        except ArticleRejected as reason:
            await self._reply(update, context, text_blocks(f"I could not read that file: {reason}."))
            return
        if found is None:
            await self._reply(update, context, text_blocks(HOW_TO_ADD))
            return
        text, name = found

        async def job(progress: Progress) -> list[Block]:
            article, report = await self.service.add_article(text, name, progress)
            return text_blocks(f"✅ Added “{article.title}” as {article.id}; you can ask about it now.",
                               f"The index holds {report.articles} articles, {report.sentences} sentences.")

        await self._build(update, context, "Adding the article", job)

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if await self._refused(update, context, "/stats"):
            return
        s = self.service.stats()

        def ms(value: float | None) -> str:
            return "–" if value is None else f"{value * 1000:.0f} ms"

        await self._reply(update, context, text_blocks(
            f"Articles: {s.articles:,}\nSentences: {s.sentences:,}\nModel: {s.model}",
            f"Index built: {s.built_at} in {s.build_seconds:.1f} s" + (" (a rebuild is running)"
                                                                       if self.service.building else ""),
            f"Questions answered: {s.questions:,}\nAnswer latency: p50 {ms(s.latency_p50)}, "
            f"p90 {ms(s.latency_p90)}, p99 {ms(s.latency_p99)}"))

    # --- shared steps ---

    async def _answer(self, update: Update, context: ContextTypes.DEFAULT_TYPE, question_id: int,
                      asked: Asked) -> None:
        """Answer (or show more for) a question with a typing indicator, after the user's earlier questions:
        the turn is held until the reply is sent, so replies arrive in the order the questions were asked."""
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None:
            return
        started = time.perf_counter()
        try:
            async with self.turns.turn(user.id):
                wanted = min(asked.shown + ANSWERS_PER_REPLY, MAX_RESULTS)
                async with typing(context.bot, chat.id):
                    answer = await self.service.answer(asked.question, wanted)
                new = answer.hits[asked.shown:]
                if asked.shown and not new:
                    blocks, more = no_more_blocks(), False
                else:
                    blocks = answer_blocks(replace(answer, hits=new), asked.shown + 1)
                    more = answer.found and len(answer.hits) == wanted < MAX_RESULTS
                asked.shown += len(new)
                keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(
                    "More results", callback_data=f"more:{question_id}")]]) if more else None
                await self._reply(update, context, blocks, keyboard=keyboard)
        except TooManyWaiting as full:
            await self._reply(update, context, text_blocks(full.message))
            return
        self.service.record_answer(time.perf_counter() - started)

    async def _build(self, update: Update, context: ContextTypes.DEFAULT_TYPE, doing: str,
                     job: Callable[[Progress], Awaitable[list[Block]]]) -> None:
        """Run a rebuild or an /add, showing progress by editing one message, then the outcome."""
        if self.service.building:
            await self._reply(update, context, text_blocks(
                "A rebuild is already running; please wait for it to finish. "
                "I keep answering questions from the current index meanwhile."))
            return
        status = (await self._reply(update, context, text_blocks(f"⏳ {doing}…"), final=False))[-1]
        progress, stop = Progress(), asyncio.Event()
        reporter = asyncio.create_task(_report_progress(status, doing, progress, stop))
        try:
            outcome = await job(progress)
        except BuildRunning:
            outcome = text_blocks("A rebuild is already running; please wait for it to finish.")
        except ArticleRejected as reason:
            outcome = text_blocks(f"❌ I could not add that article: {reason}. Nothing was stored.")
        except IndexProblem as problem:
            log.warning("%s failed: %s", doing, problem)
            outcome = text_blocks(f"❌ {doing} failed: {problem}.",
                                  "I keep answering from the previous index.")
        except Exception:
            log.exception("%s failed", doing)
            outcome = text_blocks(f"❌ {doing} failed unexpectedly (the details are in the bot's log).",
                                  "I keep answering from the previous index.")
        finally:
            stop.set()
            await reporter
        chunks = render(outcome)
        await edit_chunk(status, chunks[0])
        if len(chunks) > 1:
            await send_chunks(context.bot, status.chat_id, chunks[1:])

    async def _refused(self, update: Update, context: ContextTypes.DEFAULT_TYPE, command: str) -> bool:
        """Refuse (and log) an admin command from anyone not listed in TELEGRAM_ADMIN_IDS."""
        user = update.effective_user
        if user is not None and user.id in self.admin_ids:
            return False
        log.warning("refused %s from non-admin user id %s", command, user.id if user else None)
        await self._reply(update, context, text_blocks(ADMIN_ONLY))
        return True

    async def _reply(self, update: Update, context: ContextTypes.DEFAULT_TYPE, blocks: list[Block], *,
                     keyboard: InlineKeyboardMarkup | None = None, final: bool = True) -> list[Message]:
        """Reply in the update's chat; in groups the first message quotes the one it answers. A `final`
        reply marks the update done the moment Telegram confirms it: a bot killed after that point does
        not answer again after its restart (the window for a repeat is the send's round trip)."""
        chat, message = update.effective_chat, update.effective_message
        quote = message.message_id if message and chat and chat.type != ChatType.PRIVATE else None
        sent = await send_chunks(context.bot, chat.id, render(blocks), reply_to=quote, keyboard=keyboard)
        if final:
            self._done(update)
        return sent

    def _done(self, update: Update) -> None:
        if self.journal:
            self.journal.done(update.update_id)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure with the update id; tell the user something went wrong, never what. A reply cut
    short because the bot is stopping is no failure: the update stays unfinished in the journal and is
    answered after the next start."""
    update_id = update.update_id if isinstance(update, Update) else None
    if isinstance(context.error, StopWaiting):
        log.info("update %s is left for the next start: the bot stopped while Telegram had it wait", update_id)
        raise ApplicationHandlerStop  # not "handled": the journal keeps it
    log.error("handling update %s failed", update_id, exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat:
        try:
            await context.bot.send_message(update.effective_chat.id, SORRY)
        except TelegramError as error:
            log.error("could not tell chat %s about the failure: %s", update.effective_chat.id, error)


def _chat_data(context: ContextTypes.DEFAULT_TYPE, key: str) -> dict:
    return context.chat_data.setdefault(key, OrderedDict()) if context.chat_data is not None else {}


def _remember(context: ContextTypes.DEFAULT_TYPE, message: Message, asked: Asked) -> None:
    """Keep the chat's recent questions for "More results", and each user's last one for /more."""
    questions = _chat_data(context, "asked")
    questions[message.message_id] = asked
    while len(questions) > REMEMBERED_QUESTIONS:
        questions.popitem(last=False)
    if message.from_user:
        last = _chat_data(context, "last")
        last.pop(message.from_user.id, None)
        last[message.from_user.id] = message.message_id
        while len(last) > REMEMBERED_QUESTIONS:
            last.popitem(last=False)


def _page(text: str | None) -> int:
    """A page number as typed after /sources or sent by a button; page 1 for anything else (words, -1, ²)."""
    return max(1, int(text)) if text and text.isascii() and text.isdigit() and len(text) <= 9 else 1


def _pages_keyboard(page: int, total: int) -> InlineKeyboardMarkup | None:
    pages = max(1, -(-total // SOURCES_PER_PAGE))
    buttons = ([InlineKeyboardButton("◀ Previous", callback_data=f"src:{page - 1}")] if page > 1 else []) + \
              ([InlineKeyboardButton("Next ▶", callback_data=f"src:{page + 1}")] if page < pages else [])
    return InlineKeyboardMarkup([buttons]) if buttons else None


async def _article_sent(message: Message) -> tuple[str, str | None] | None:
    """The article text (and upload file name) sent with /add: a .txt upload, text after the command,
    or the message /add replies to. None when there is none."""
    for source in (message, message.reply_to_message):
        if source is None:
            continue
        if source.document is not None:
            return await _download_text(source), source.document.file_name
        body = source.text or ""
        if source is message:
            body = body.split(maxsplit=1)[1] if len(body.split(maxsplit=1)) > 1 else ""
        if body.strip():
            return body, None
    return None


async def _download_text(message: Message) -> str:
    document = message.document
    if not (document.file_name or "").lower().endswith(".txt"):
        raise ArticleRejected("only .txt files can be added")
    if document.file_size and document.file_size > MAX_UPLOAD_BYTES:
        raise ArticleRejected(f"it is larger than {MAX_UPLOAD_BYTES // 1_000_000} MB")
    data = await (await document.get_file()).download_as_bytearray()
    try:
        return bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ArticleRejected("it is not UTF-8 text") from None


async def _report_progress(status: Message, doing: str, progress: Progress, stop: asyncio.Event) -> None:
    """Edit the status message as the build advances, at most every PROGRESS_EVERY seconds."""
    shown = ""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), PROGRESS_EVERY)
        except TimeoutError:
            now = progress_text(doing, progress.stage, progress.done, progress.total)
            if now and now != shown:
                shown = now
                try:
                    await edit_chunk(status, render(text_blocks(now))[0])
                except TelegramError as error:  # progress is best effort; the outcome edit is what matters
                    log.info("progress edit failed: %s", error)


def progress_text(doing: str, stage: str, done: int, total: int | None) -> str:
    """The status line for a build's stage (index.build's READING, EMBEDDING, INDEXING); "" before it starts."""
    if stage == READING:
        return f"⏳ {doing}… reading the articles: {done:,} read"
    if not total:
        return ""
    percent = 100 * done // total
    if stage == EMBEDDING:
        return f"⏳ {doing}… {done:,} of {total:,} sentences and paragraphs embedded ({percent}%)"
    return f"⏳ {doing}… building the search index: {done:,} of {total:,} vectors added ({percent}%)"


def _built_blocks(report: BuildReport) -> list[Block]:
    if report.up_to_date:
        blocks = text_blocks(f"✅ The index is already up to date: {report.articles:,} articles, "
                             f"{report.sentences:,} sentences. Send /reindex force to rebuild it anyway.")
    else:
        blocks = text_blocks(f"✅ Index rebuilt in {report.seconds:.1f} s: {report.articles:,} articles, "
                             f"{report.sentences:,} sentences ({report.embedded:,} sentences newly embedded, "
                             "the rest reused). I now answer from it.")
    if report.problems:
        listed = "\n".join(f"• {p}" for p in report.problems[:10])
        extra = f"\n…and {len(report.problems) - 10} more" if len(report.problems) > 10 else ""
        blocks += text_blocks(f"⚠️ {len(report.problems)} file(s) were skipped:\n{listed}{extra}")
    return blocks
