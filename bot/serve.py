"""`newsbot serve`: load settings, model and index, then run the bot until SIGINT/SIGTERM.

Long polling by default; with --webhook-url, Telegram posts updates to our own HTTP server
(see bot.webhook), which also answers health probes. The index is read from NEWSBOT_STORE (the index
folder, or Milvus shared by replicas). Meanwhile the feeds followed are polled every NEWSBOT_FEED_INTERVAL
(PTB's JobQueue; bot.app.schedule_feed_polls) and the store is checked for a version another process
published every NEWSBOT_STORE_CHECK_SECONDS (bot.following).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import signal
import sys
from pathlib import Path
from urllib.parse import urlparse

from telegram import BotCommand, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application

from newsbot.bot.app import build_application, schedule_feed_polls
from newsbot.bot.config import ConfigError, Settings, check_folders, load_settings
from newsbot.bot.following import schedule_store_checks
from newsbot.bot.journal import UpdateJournal, journal_path
from newsbot.bot.locks import SharedLocks
from newsbot.bot.logs import REDACTED, configure_logging
from newsbot.bot.replica_stats import figures_of
from newsbot.bot.replicas import POLLING, WEBHOOK, Replica, refusal, serve_as_replica
from newsbot.bot.retry import RetryingLimiter
from newsbot.bot.service import Service, store_label
from newsbot.bot.shared import SharedState
from newsbot.bot.shared_journal import pick_journal
from newsbot.bot.texts import COMMANDS
from newsbot.corpus import default_corpus_dir
from newsbot.index import default_index_dir, default_model

log = logging.getLogger("newsbot.serve")

ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY]  # an edited question is answered


def serve(args: argparse.Namespace) -> int:
    """Run the bot; returns the exit status. Configuration problems are one clear line on stderr."""
    try:
        settings = load_settings(args.env_file)
        corpus_dir = Path(args.corpus_dir or settings.corpus_dir or default_corpus_dir())
        index_dir = Path(args.index_dir or settings.index_dir or default_index_dir())
        check_folders(corpus_dir, index_dir)
    except ConfigError as problem:
        print(f"newsbot: {problem}", file=sys.stderr)
        return 2
    hidden = [settings.token, settings.token.partition(":")[2], settings.webhook_secret or ""]
    configure_logging(hidden, verbose=args.verbose)
    if settings.redis_url:
        refused = refusal(settings.redis_url, settings.token.partition(":")[0], WEBHOOK if args.webhook_url else POLLING)
        if refused:
            print(f"newsbot: {refused}", file=sys.stderr)
            return 2
    model = args.model or settings.model or default_model()
    log.info("loading the model %s and the index from %s (builds in %s from the corpus %s)", model,
             store_label(settings.store, index_dir), index_dir, corpus_dir)
    threshold = args.min_confidence if args.min_confidence is not None else settings.min_confidence
    service = Service.open(corpus_dir, index_dir, model=model, min_confidence=threshold,
                           max_age_days=settings.max_article_age_days, store=settings.store)
    journal = UpdateJournal(journal_path(index_dir, settings.token))
    try:
        asyncio.run(_run(settings, service, journal, args))
    except InvalidToken:
        print("newsbot: Telegram rejected TELEGRAM_BOT_TOKEN; check it with @BotFather", file=sys.stderr)
        return 2
    except TelegramError as error:
        message = str(error)
        for secret in filter(None, hidden):
            message = message.replace(secret, REDACTED)
        print(f"newsbot: cannot talk to the Telegram Bot API at {settings.api_base_url} ({message})", file=sys.stderr)
        return 1
    finally:
        service.close()
        journal.close()
    return 0


async def _run(settings: Settings, service: Service, file_journal: UpdateJournal, args: argparse.Namespace) -> None:
    retry = RetryingLimiter()
    shared = SharedState(settings.redis_url, settings.token.partition(":")[0]) if settings.redis_url else None
    mode = WEBHOOK if args.webhook_url else POLLING
    replica = Replica(shared, mode, lease_seconds=settings.replica_lease_seconds) if shared else None
    journal = pick_journal(file_journal, shared, replica)
    application = build_application(settings, service, journal=journal, retry=retry, shared=shared, replica=replica)
    locks = SharedLocks(shared, lease_seconds=settings.replica_lease_seconds) if shared else None
    schedule_feed_polls(application, service, settings.feed_interval, locks)
    schedule_store_checks(application, service, settings.store_check)
    if replica is not None:
        serve_as_replica(application, replica, journal, lambda: figures_of(service))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    async with application:  # getMe now, shutdown on the way out
        await _set_commands(application)
        await application.start()
        if replica is not None:  # known alive before the first acknowledgement, else another replica would take
            await replica.renew(figures_of(service))  # over its updates until the renewal job's first run
        unfinished = await journal.orphans(application.bot)
        if unfinished:
            log.info("handling %d updates taken before a restart and never answered", len(unfinished))
        for update in unfinished:
            await application.update_queue.put(update)
        if args.webhook_url:
            secret = settings.webhook_secret or secrets.token_urlsafe(32)
            path = urlparse(args.webhook_url).path or "/"
            from newsbot.bot.webhook import start_webhook_server

            server = start_webhook_server(application, service, journal, path=path, secret=secret,
                                          listen=args.listen, port=args.port)
            await application.bot.set_webhook(args.webhook_url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
            log.info("@%s is serving by webhook: Telegram posts to %s; listening on %s:%d (health: /healthz)",
                     application.bot.username, args.webhook_url, args.listen, args.port)
        else:
            await application.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
            log.info("@%s is serving by long polling", application.bot.username)
        await stop.wait()
        log.info("stopping: finishing the updates in hand")
        if args.webhook_url:
            server.stop()
        else:
            await application.updater.stop()
        retry.stop_waiting()  # a reply waiting on Telegram's retry_after stays in the journal for the next start
        await application.stop()
        if replica is not None:
            await replica.leave()


async def _set_commands(application: Application) -> None:
    """The command menu users see; cosmetic, so a failure is logged and serving goes on."""
    try:
        await application.bot.set_my_commands([BotCommand(name, about) for name, about in COMMANDS])
    except TelegramError as error:
        log.warning("could not set the command menu: %s", error)
