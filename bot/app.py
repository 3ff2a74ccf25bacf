"""The Telegram bot: the Application built in one function, thin async handlers, one error handler.

Handlers only parse the update, check who may do what, and call the Service (which runs all model
and index work off the event loop). What the bot says is in bot.texts, sending in bot.replies, the
questions a chat asked in bot.asked, /add's uploads in bot.uploads and a build's status in bot.progress.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
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

from newsbot.bot import texts
from newsbot.bot.addressing import ADDRESSED, addressed_text, for_another_bot
from newsbot.bot.asked import ANSWERS_PER_REPLY, MAX_RESULTS, Asked, last_asked, recall, remember
from newsbot.bot.building import PublishFailed
from newsbot.bot.config import Settings
from newsbot.bot.feedback import (
    CALLBACK_PATTERN,
    FEEDBACK_FILE,
    FeedbackStore,
    FeedbackUnavailable,
    callback_data,
    parse_callback,
    shown,
)
from newsbot.bot.history import history_of
from newsbot.bot.journal import Journal, JournaledPolls
from newsbot.bot.locks import BUILD, SharedLocks, turn_of
from newsbot.bot.progress import Job, run_with_progress
from newsbot.bot.ratelimit import Limiter, RateLimited, RateLimiter, SharedRateLimiter, TooManyWaiting, Turns
from newsbot.bot.render import Block, render, text_blocks
from newsbot.bot.replica_stats import summed
from newsbot.bot.replicas import Replica
from newsbot.bot.replies import edit_chunk, replace_text, send_chunks, typing
from newsbot.bot.retry import RetryingLimiter, StopWaiting
from newsbot.bot.service import ArticleRejected, BuildRunning, Progress, Service
from newsbot.bot.shared import SharedState
from newsbot.bot.small_talk import small_talk
from newsbot.corpus.web.feed_state import FeedState, FeedStateUnavailable, PollRunning
from newsbot.corpus.web.fetch import FetchRefused
from newsbot.bot.uploads import article_sent, links_only

log = logging.getLogger(__name__)

SOURCES_PER_PAGE = 15
CONCURRENT_UPDATES = 256
# HTTP connections to the Bot API. httpcore checks every pooled connection on every request, so 256
# (PTB's default) cost most of the event loop under load; 16 keep up with Telegram's own limit of
# about 30 messages/s at 100+ ms round trips (docs/PERFORMANCE.md).
CONNECTIONS = 16

MESSAGE_ONLY = filters.UpdateType.MESSAGE  # edits of old messages are not new commands
# A question: text, or a photo's or file's caption (an /add upload's caption is the admin command), not a command.
QUESTION = (filters.TEXT | filters.CAPTION) & ~filters.COMMAND & ~filters.CaptionRegex(r"^/") & ADDRESSED
Callback = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


def build_application(settings: Settings, service: Service,
                      requests: tuple[BaseRequest, BaseRequest] | None = None,
                      journal: Journal | None = None, retry: RetryingLimiter | None = None,
                      shared: SharedState | None = None, replica: Replica | None = None) -> Application:
    """The whole bot. `requests` (API calls, getUpdates) replaces HTTP, for tests. With a `journal`,
    updates are recorded before Telegram is told they arrived and marked done once answered, and which
    process handles an update is the journal's to say. `retry` retries the Bot API calls (serve keeps it,
    to stop its waits when stopping). `shared` is the Redis of NEWSBOT_REDIS_URL (made from the settings
    when not given; closed when the application shuts down); with this process's `replica` in it, /stats
    adds up the replicas' answers."""
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
    if shared is None and settings.redis_url:
        shared = SharedState(settings.redis_url, settings.token.partition(":")[0])
    if shared is not None:
        builder = builder.post_shutdown(lambda _: shared.close())
    application = builder.build()
    Handlers(service, settings, journal, shared, replica).register(application)
    return application


class Handlers:
    """The bot's handlers, sharing the service, the settings and the per-user limits."""

    def __init__(self, service: Service, settings: Settings, journal: Journal | None = None,
                 shared: SharedState | None = None, replica: Replica | None = None) -> None:
        self.service = service
        self.admin_ids = settings.admin_ids
        self.limiter: Limiter = (
            SharedRateLimiter(shared, settings.rate_limit_questions, settings.rate_limit_seconds) if shared
            else RateLimiter(settings.rate_limit_questions, settings.rate_limit_seconds))
        self.turns = Turns()
        self.journal = journal
        self.replica = replica
        # Builds and each user's turn, across replicas; a lock held by a replica killed frees as its updates do.
        self.locks = SharedLocks(shared, lease_seconds=settings.replica_lease_seconds) if shared else None
        self.feedback = FeedbackStore(service.index_dir / FEEDBACK_FILE)
        self.feed_interval = settings.feed_interval
        self._seen_updates: OrderedDict[int, bool] = OrderedDict()  # update id -> marked done

    def register(self, application: Application) -> None:
        """Every handler of group 0 goes through the rate limit (`_limited`), so no command can be flooded."""
        application.add_handler(TypeHandler(Update, self.screen), group=-1)
        application.add_handler(TypeHandler(Update, self.handled), group=1)  # after the one handler of group 0
        limited = self._limited
        for names, callback in ((("start",), self.start), (("help",), self.help), (("sources",), self.sources),
                                (("more",), self.more), (("new",), self.new_topic), (("reindex",), self.reindex),
                                (("add",), self.add), (("stats",), self.stats), (("feeds",), self.feeds)):
            application.add_handler(CommandHandler(names, limited(callback), filters=MESSAGE_ONLY))
        application.add_handler(MessageHandler(
            MESSAGE_ONLY & filters.Document.ALL & filters.CaptionRegex(r"^/add(@\w+)?(\s|$)"), limited(self.add)))
        application.add_handler(MessageHandler(MESSAGE_ONLY & QUESTION, limited(self.question)))
        application.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE & QUESTION, limited(self.question)))
        application.add_handler(MessageHandler(MESSAGE_ONLY & filters.ChatType.PRIVATE & filters.COMMAND,
                                               limited(self.unknown_command)))
        application.add_handler(MessageHandler(MESSAGE_ONLY & filters.ChatType.PRIVATE, limited(self.not_text)))
        application.add_handler(CallbackQueryHandler(limited(self.more_button), pattern=r"^more:[0-9]+$"))
        application.add_handler(CallbackQueryHandler(limited(self.sources_page), pattern=r"^src:[0-9]+$"))
        application.add_handler(CallbackQueryHandler(limited(self.rate), pattern=CALLBACK_PATTERN))
        application.add_error_handler(on_error)

    async def screen(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Let each update through once, and only if it is for this bot: one delivered twice (a redelivered
        webhook, a repeated poll, again after a restart) is handled once; a command addressed to another
        bot (`/add@otherbot`, as text or as an upload's caption) is ignored."""
        if update.update_id in self._seen_updates or (self.journal and not await self.journal.claim(update.update_id)):
            log.info("update %s was delivered again; ignoring the repeat", update.update_id)
            raise ApplicationHandlerStop
        self._seen_updates[update.update_id] = False
        if len(self._seen_updates) > 10_000:
            self._seen_updates.popitem(last=False)
        if update.message is not None and for_another_bot(update.message, context.bot.username):
            log.debug("update %s is a command for another bot; ignoring it", update.update_id)
            await self._done(update)
            raise ApplicationHandlerStop

    async def handled(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Runs after the update's handler has finished (or failed and been reported): it is done, if its
        reply has not marked it so already."""
        await self._done(update)

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
                    await self.limiter.admit(user.id)
            except RateLimited as refused:
                message = None if refused.told else texts.slow_down(refused.retry_after, self.limiter.limit,
                                                                     self.limiter.window)
                if update.callback_query:
                    await update.callback_query.answer(message)
                elif message:
                    await self._reply(update, context, text_blocks(message))
                return
            await callback(update, context)

        return limited

    # --- everyone ---

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        catalogue = await self.service.catalogue()
        await self._reply(update, context, texts.welcome_blocks(len(catalogue.articles)))

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        catalogue = await self.service.catalogue()
        user = update.effective_user
        await self._reply(update, context, texts.help_blocks(len(catalogue.articles), catalogue.first, catalogue.last,
                                                             context.bot.username,
                                                             bool(user and user.id in self.admin_ids)))

    async def question(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A question (a message's text or caption), or the same message edited: the edited text is answered,
        in the earlier reply where Telegram lets it be edited. Greetings, thanks and questions in other
        languages get a person's reply (bot.small_talk), and are not remembered as questions."""
        message = update.effective_message
        question = addressed_text(message, context.bot.id, context.bot.username) if message else None
        if message is None or question is None:
            return
        chatter = small_talk(question)
        if chatter is not None:
            await self._reply(update, context, text_blocks(texts.SMALL_TALK[chatter]))
            return
        earlier = recall(context.chat_data, message.message_id) if update.edited_message else None
        user_id = message.from_user.id if message.from_user else None
        conversation = history_of(context.chat_data, user_id)
        if earlier is not None:  # an edit is asked in the context of the question it replaces, and replaces it
            history = earlier.history
            conversation.replace(earlier.question, question)
        else:
            history = conversation.earlier()
            conversation.add(question)
        asked = remember(context.chat_data, message.message_id, user_id, question, history)
        await self._answer(update, context, message.message_id, asked, replaces=earlier)

    async def more(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        last = last_asked(context.chat_data, user.id) if user else None
        if last is None:
            await self._reply(update, context, text_blocks(texts.ASK_FIRST))
            return
        await self._answer(update, context, *last)

    async def new_topic(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        history_of(context.chat_data, user.id if user else None).clear()
        await self._reply(update, context, text_blocks(texts.NEW_CONVERSATION))

    async def more_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        await query.answer()
        question_id = int(query.data.split(":")[1])
        asked = recall(context.chat_data, question_id)
        if asked is None:
            await self._reply(update, context, text_blocks(texts.FORGOTTEN))
            return
        await self._answer(update, context, question_id, asked)

    async def rate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A "Helpful" or "Wrong answer" tap: the verdict on that reply is stored (off the event loop; a second
        tap replaces it) and acknowledged. A store that fails is logged and said so; answering goes on."""
        query = update.callback_query
        question_id, first_number, verdict = parse_callback(query.data)
        asked = recall(context.chat_data, question_id)
        answer = asked.answers.get(first_number) if asked else None
        user = update.effective_user
        if answer is None:
            await query.answer(texts.RATING_FORGOTTEN)
        elif answer.asker is not None and (user is None or user.id != answer.asker):
            await query.answer(texts.RATING_NOT_YOURS)
        else:
            try:
                changed = await asyncio.to_thread(self.feedback.record, answer, verdict, datetime.now(UTC))
            except FeedbackUnavailable as problem:
                log.error("could not store a verdict: %s", problem)
                await query.answer(texts.RATING_NOT_SAVED)
                return
            await query.answer(texts.rated(verdict, changed))

    async def sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        page = _page(context.args[0] if context.args else None)
        articles = (await self.service.catalogue()).articles
        await self._reply(update, context, texts.articles_blocks(articles, page, SOURCES_PER_PAGE),
                          keyboard=_pages_keyboard(page, len(articles)))

    async def sources_page(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        await query.answer()
        page = _page(query.data.split(":")[1])
        articles = (await self.service.catalogue()).articles
        chunks = render(texts.articles_blocks(articles, page, SOURCES_PER_PAGE))
        if isinstance(query.message, Message):
            await edit_chunk(query.message, chunks[0], _pages_keyboard(page, len(articles)))

    async def unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._reply(update, context, text_blocks(texts.UNKNOWN_COMMAND))

    async def not_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._reply(update, context, text_blocks(texts.ONLY_TEXT))

    # --- admins ---

    async def reindex(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if await self._refused(update, context, "/reindex"):
            return
        force = bool(context.args) and context.args[0].lower() == "force"

        async def job(progress: Progress) -> list[Block]:
            return texts.rebuilt_blocks(await self.service.reindex(progress, force=force))

        await self._build(update, context, texts.REBUILDING, job)

    async def add(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if await self._refused(update, context, "/add"):
            return
        try:
            found = await article_sent(update.effective_message)
        except ArticleRejected as reason:
            await self._reply(update, context, text_blocks(texts.unreadable_upload(reason)))
            return
        if found is None:
            await self._reply(update, context, text_blocks(texts.HOW_TO_ADD))
            return
        text, name = found
        links = links_only(text) if name is None else None
        if links:
            async def fetch_job(progress: Progress) -> list[Block]:
                outcomes, report = await self.service.add_urls(links, progress)
                stories = (await self.service.catalogue()).articles if report is not None else ()
                return texts.added_pages_blocks(outcomes, report, stories)

            await self._build(update, context, texts.ADDING_PAGES, fetch_job)
            return

        async def job(progress: Progress) -> list[Block]:
            article, report = await self.service.add_article(text, name, progress)
            return texts.added_blocks(article, report, (await self.service.catalogue()).articles)

        await self._build(update, context, texts.ADDING, job)

    async def feeds(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/feeds (the feeds followed, with their health), /feeds add URL, /feeds remove URL. The state file
        and the feed's fetch are blocking I/O: they run on a worker thread."""
        if await self._refused(update, context, "/feeds"):
            return
        state = FeedState(self.service.index_dir)
        action, url = ((context.args or []) + ["", ""])[:2]
        try:
            if not action:
                reply = texts.feeds_blocks(await asyncio.to_thread(state.feeds), self.feed_interval)
            elif action.lower() == "add" and url:
                await self._reply(update, context, text_blocks(texts.CHECKING_FEED), final=False)
                try:
                    title, entries = await asyncio.to_thread(_checked_feed, url)
                except FetchRefused as refused:  # FeedRefused, not a feed
                    reply = text_blocks(texts.feed_refused(refused))
                else:
                    added = await asyncio.to_thread(state.add, url, title, datetime.now(UTC))
                    reply = text_blocks(texts.feed_added(title, url, entries, self.feed_interval)
                                        if added else texts.feed_already_followed(url))
            elif action.lower() == "remove" and url:
                removed = await asyncio.to_thread(state.remove, url)
                reply = text_blocks(texts.feed_removed(url) if removed else texts.feed_not_followed(url))
            else:
                reply = text_blocks(texts.FEEDS_USAGE)
        except FeedStateUnavailable as problem:
            log.error("/feeds: %s", problem)
            reply = text_blocks(texts.FEEDS_UNAVAILABLE)
        await self._reply(update, context, reply)

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if await self._refused(update, context, "/stats"):
            return
        stats, replicas = self.service.stats(), None
        others = await self.replica.others() if self.replica else None
        if others is not None:
            stats, replicas = summed(stats, self.service.answer_times(), others), len(others) + 1
        await self._reply(update, context, texts.stats_blocks(stats, self.service.building, replicas))

    # --- shared steps ---

    async def _answer(self, update: Update, context: ContextTypes.DEFAULT_TYPE, question_id: int,
                      asked: Asked, *, replaces: Asked | None = None) -> None:
        """Answer (or show more for) a question with a typing indicator, after the user's earlier questions:
        the turn is held until the reply is sent, so replies arrive in the order the questions were asked.
        `replaces`: the question an edited one replaces, whose reply is edited; read once the turn comes,
        since an edit can arrive while that reply is still being sent."""
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None:
            return
        started = time.perf_counter()
        try:
            async with self.turns.turn(user.id), self._shared_lock(turn_of(user.id), wait=True):
                edit = replaces.reply_id if replaces else None
                wanted = min(asked.shown + ANSWERS_PER_REPLY, MAX_RESULTS)
                async with typing(context.bot, chat.id):
                    answer = await self.service.answer(asked.question, wanted, asked.history)
                new, first_number = answer.hits[asked.shown:], asked.shown + 1
                if asked.shown and not new:
                    blocks, more = text_blocks(texts.NO_MORE), False
                else:
                    blocks = texts.answer_blocks(replace(answer, hits=new), first_number)
                    more = answer.found and len(answer.hits) == wanted < MAX_RESULTS
                rateable = answer.found and bool(new)
                if rateable:
                    asked.answers[first_number] = shown(asked.question, new, self.service.retriever.version_dir.name,
                                                        user.id)
                first = not asked.shown
                asked.shown += len(new)
                sent = await self._reply(update, context, blocks, edit=edit,
                                         keyboard=_answer_keyboard(question_id, first_number, more, rateable))
                if first:
                    asked.reply_id = sent[0].message_id if sent else edit
        except TooManyWaiting:
            await self._reply(update, context, text_blocks(texts.QUEUE_FULL))
            return
        self.service.record_answer(time.perf_counter() - started)

    async def _build(self, update: Update, context: ContextTypes.DEFAULT_TYPE, doing: str, job: Job) -> None:
        """Run a rebuild or an /add, one at a time, in a status message that follows its progress."""
        if self.service.building:
            await self._reply(update, context, text_blocks(texts.BUILD_RUNNING_MEANWHILE))
            return
        async with self._shared_lock(BUILD) as held:
            if not held:  # another replica is building
                await self._reply(update, context, text_blocks(texts.BUILD_RUNNING_MEANWHILE))
                return
            status = (await self._reply(update, context, text_blocks(texts.started(doing)), final=False))[-1]
            await run_with_progress(context.bot, status, doing, job)

    def _shared_lock(self, name: str, *, wait: bool = False) -> AbstractAsyncContextManager[bool]:
        """The replicas' lock `name` (bot.locks), or, for one replica, a lock always held: then Service.building
        and Turns are the rules."""
        return self.locks.held(name, wait=wait) if self.locks else nullcontext(True)

    async def _refused(self, update: Update, context: ContextTypes.DEFAULT_TYPE, command: str) -> bool:
        """Refuse (and log) an admin command from anyone not listed in TELEGRAM_ADMIN_IDS."""
        user = update.effective_user
        if user is not None and user.id in self.admin_ids:
            return False
        log.warning("refused %s from non-admin user id %s", command, user.id if user else None)
        await self._reply(update, context, text_blocks(texts.ADMIN_ONLY))
        return True

    async def _reply(self, update: Update, context: ContextTypes.DEFAULT_TYPE, blocks: list[Block], *,
                     keyboard: InlineKeyboardMarkup | None = None, final: bool = True,
                     edit: int | None = None) -> list[Message]:
        """Reply in the update's chat; in groups the first message quotes the one it answers. With `edit`
        (an earlier reply's id) a reply of one message replaces that one's text where Telegram allows, and
        nothing is sent (the list is empty). A `final` reply marks the update done the moment Telegram
        confirms it: a bot killed after that point does not answer again after its restart (the window for
        a repeat is the send's round trip)."""
        chat, message = update.effective_chat, update.effective_message
        chunks = render(blocks)
        quote = message.message_id if message and chat and chat.type != ChatType.PRIVATE else None
        edited = edit is not None and len(chunks) == 1 and await replace_text(context.bot, chat.id, edit,
                                                                                chunks[0], keyboard)
        sent = [] if edited else await send_chunks(context.bot, chat.id, chunks, reply_to=quote, keyboard=keyboard)
        if final:
            await self._done(update)
        return sent

    async def _done(self, update: Update) -> None:
        """Tell the journal the update is answered, once: its final reply and the end of its handler both say
        so (with Redis, each telling is a round trip)."""
        if self._seen_updates.get(update.update_id):
            return
        if self.journal:
            await self.journal.done(update.update_id)
        if update.update_id in self._seen_updates:
            self._seen_updates[update.update_id] = True


def _checked_feed(url: str) -> tuple[str, int]:
    """The feed's title and entry count, read once to check it is a feed (FeedRefused); on a worker thread,
    which also imports the fetching stack (trafilatura: 0.2 s) off the event loop."""
    from newsbot.corpus.web.feed_poll import read_feed

    parsed, _ = read_feed(url)
    return parsed.title, len(parsed.entries)


def schedule_feed_polls(application: Application, service: Service, interval: timedelta,
                        locks: SharedLocks | None = None) -> None:
    """Poll the feeds every `interval` while the bot runs (PTB's JobQueue; APScheduler skips a tick while the
    previous poll still runs). The first poll comes one interval after the start. With `locks` (replicas sharing
    a Redis) a poll holds the replicas' build lock throughout, and is skipped while another replica builds or
    polls: one replica at a time fetches and builds."""
    async def poll(context: ContextTypes.DEFAULT_TYPE) -> None:
        async with locks.held(BUILD) if locks else nullcontext(True) as held:
            if held:
                await poll_once()
            else:
                log.info("feed poll skipped: another replica is building or polling; the next one comes in %s",
                         interval)

    async def poll_once() -> None:
        try:
            harvests = await service.poll_feeds(interval)
        except (BuildRunning, PollRunning):
            log.info("feed poll skipped: a build or another poll is running; the next one comes in %s", interval)
            return
        except PublishFailed as problem:  # the entries are fetched again by the next poll
            log.warning("feed poll failed: %s", problem)
            return
        except Exception:  # logged, and the schedule goes on
            log.exception("feed poll failed")
            return
        from newsbot.corpus.web.feed_poll import entry_lines, summary  # imported by the poll already: no cost

        for result in harvests:
            log.info("feed poll: %s", "\n".join([summary(result), *entry_lines(result)]))

    assert application.job_queue is not None, "python-telegram-bot[job-queue] is a dependency"
    application.job_queue.run_repeating(poll, interval=interval, first=interval, name="feed poll")


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
            await context.bot.send_message(update.effective_chat.id, texts.SORRY)
        except TelegramError as error:
            log.error("could not tell chat %s about the failure: %s", update.effective_chat.id, error)


def _page(text: str | None) -> int:
    """A page number as typed after /sources or sent by a button; page 1 for anything else (words, -1, ²)."""
    return max(1, int(text)) if text and text.isascii() and text.isdigit() and len(text) <= 9 else 1


def _answer_keyboard(question_id: int, first_number: int, more: bool, rateable: bool) -> InlineKeyboardMarkup | None:
    """"More results" when there are more, and the two verdict buttons under a reply that shows sentences."""
    rows = [[InlineKeyboardButton(texts.MORE_RESULTS, callback_data=f"more:{question_id}")]] if more else []
    if rateable:
        rows.append([InlineKeyboardButton(texts.HELPFUL, callback_data=callback_data(question_id, first_number, "+")),
                     InlineKeyboardButton(texts.WRONG_ANSWER, callback_data=callback_data(question_id, first_number, "-"))])
    return InlineKeyboardMarkup(rows) if rows else None


def _pages_keyboard(page: int, total: int) -> InlineKeyboardMarkup | None:
    pages = max(1, -(-total // SOURCES_PER_PAGE))
    buttons = ([InlineKeyboardButton(texts.PREVIOUS_PAGE, callback_data=f"src:{page - 1}")] if page > 1 else []) + \
              ([InlineKeyboardButton(texts.NEXT_PAGE, callback_data=f"src:{page + 1}")] if page < pages else [])
    return InlineKeyboardMarkup([buttons]) if buttons else None
