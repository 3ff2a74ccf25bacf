"""Security: admin-only handlers refuse everyone else (every registered handler is enumerated, so a new
one cannot slip through), the token never reaches logs or messages, users never see exception text,
and webhook mode refuses posts without its secret. In-process: the real Application, FakeRequest."""

from __future__ import annotations

import asyncio
import functools
import io
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import find
from hypothesis import strategies as st
from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, TypeHandler

from newsbot.bot.journal import UpdateJournal
from newsbot.bot.logs import REDACTED, RedactingFormatter
from newsbot.bot.texts import ADMIN_ONLY, SORRY
from newsbot.bot.webhook import SECRET_HEADER, start_webhook_server
from newsbot.index.metadata import ArticleInfo
from tests.bot_harness import ADMIN, USER, Harness, in_process_bot
from tests.fake_bot_api import BOT_USERNAME, TOKEN, FakeTelegram, visible_text
from tests.reliability import Record

GROUP = -100900
# The handlers anyone may use. Every other registered handler must refuse non-admins; this test finds it.
PUBLIC = {"start", "help", "sources", "more", "new_topic", "question", "unknown_command", "not_text", "more_button",
          "sources_page", "rate", "screen", "handled"}
NOT_ADMIN = 777


def _snapshot(folder: Path) -> list[tuple[str, int]]:
    return sorted((str(p), p.stat().st_size) for p in folder.rglob("*") if p.is_file())


async def _edited(bot: Harness, chat_id: int, text: str, **kwargs: object) -> None:
    """Deliver `text` as an *edited* message (Telegram sends those as edited_message updates)."""
    sent = bot.telegram.push_text(chat_id, text, **kwargs)
    bot.telegram.pop_updates()  # the original never reaches the bot: only its edit does
    bot.telegram.push_edit(sent, text)
    await bot.deliver()


async def test_every_admin_handler_refuses_non_admins_everywhere(bot: Harness, tmp_path: Path,
                                                                 reliability: Record) -> None:
    handlers = [h for group in bot.app.handlers.values() for h in group]
    admin = [h for h in handlers if h.callback.__name__ not in PUBLIC]
    assert admin, "no admin handler found: the enumeration is broken"
    before, version = _snapshot(tmp_path), bot.service.retriever.version_dir
    tried = 0
    for handler in admin:
        name = handler.callback.__name__
        if isinstance(handler, CommandHandler):
            for command in sorted(handler.commands):
                for chat, kind, text in ((USER, "private", f"/{command}"), (GROUP, "group", f"/{command}@{BOT_USERNAME}"),
                                         (GROUP, "supergroup", f"/{command} force")):
                    replies = await bot.say(text, chat_id=chat, user_id=NOT_ADMIN, chat_type=kind)
                    assert [r.text for r in replies] == [ADMIN_ONLY], (text, kind)
                    tried += 1
                count = len(bot.telegram.sent())
                await _edited(bot, USER, f"/{command}", user_id=NOT_ADMIN)  # an edit is not a new command
                await _edited(bot, ADMIN, f"/{command}", user_id=ADMIN)
                assert len(bot.telegram.sent()) == count, command
                tried += 2
        elif isinstance(handler, MessageHandler) and name == "add":  # /add as the caption of an upload
            bot.telegram.push_document(USER, "story.txt", b"title: Sneaky\n\nInjected news.", user_id=NOT_ADMIN)
            await bot.deliver()
            assert bot.telegram.sent(USER)[-1].text == ADMIN_ONLY
            tried += 1
        elif isinstance(handler, CallbackQueryHandler):
            data = find(st.from_regex(handler.pattern, fullmatch=True), lambda _: True)
            bot.telegram.push_callback(USER, data, message_id=1, user_id=NOT_ADMIN)
            await bot.deliver()
            assert bot.telegram.sent(USER)[-1].text == ADMIN_ONLY, data
            tried += 1
        else:
            pytest.fail(f"handler {name} ({type(handler).__name__}) is not public and this test does not know how "
                        "to reach it: add it to PUBLIC or teach the test, and make it refuse non-admins")
    assert _snapshot(tmp_path) == before and bot.service.retriever.version_dir == version
    assert not bot.service.building and bot.service.stats().questions == 0
    assert "Articles:" not in " ".join(c.text for c in bot.telegram.sent())  # /stats never answered
    commands = sorted(c for h in admin if isinstance(h, CommandHandler) for c in h.commands)
    reliability("Security", f"every non-public handler, found by enumerating the Application's handlers "
                f"(commands {', '.join('/' + c for c in commands)}; /add by upload): from a non-admin in a private "
                "chat, in groups (`/cmd@bot`, with arguments), as edited messages (also from an admin)", tried,
                "refused with the admin-only reply every time; edits ignored; nothing written, no build, no "
                "figures shown")


async def test_public_callbacks_are_the_only_callbacks(bot: Harness) -> None:
    """Every callback-query pattern belongs to a public handler; an admin one would be caught above."""
    patterns = {h.callback.__name__: h.pattern.pattern for g in bot.app.handlers.values() for h in g
                if isinstance(h, CallbackQueryHandler)}
    assert patterns and set(patterns) <= PUBLIC
    types = {type(h) for g in bot.app.handlers.values() for h in g}
    assert types <= {CommandHandler, MessageHandler, CallbackQueryHandler, TypeHandler}


# Not yet in the corpus (the harness holds ZEBRA_ARTICLE, and an article already held is not added again).
OTTER_ARTICLE = "title: Otters return\n\nOtters were seen in the river again on Monday. They had been gone for years."


async def test_commands_for_another_bot_are_ignored_everywhere_captions_included(bot: Harness, tmp_path: Path,
                                                                                  reliability: Record) -> None:
    commands = sorted(c for g in bot.app.handlers.values() for h in g if isinstance(h, CommandHandler)
                      for c in h.commands)
    before, version = _snapshot(tmp_path), bot.service.retriever.version_dir
    calls = len(bot.telegram.calls)
    tried = 0
    for chat, kind in ((ADMIN, "private"), (GROUP, "group"), (GROUP, "supergroup")):
        for command in [*commands, "frobnicate"]:  # an admin, so nothing is refused for want of rights
            bot.telegram.push_text(chat, f"/{command}@other_bot force", user_id=ADMIN, chat_type=kind)
            tried += 1
        for caption in ("/add@other_bot", "/add@Other_Bot now", "/help@other_bot"):
            bot.telegram.push_document(chat, "story.txt", OTTER_ARTICLE.encode(), user_id=ADMIN, caption=caption,
                                       chat_type=kind)
            tried += 1
        await bot.deliver()
    ignored = bot.telegram.calls[calls:]
    assert ignored == [], [c.method for c in ignored]  # not a reply, not a download
    assert _snapshot(tmp_path) == before and bot.service.retriever.version_dir == version
    # The same upload addressed to this bot is added: the test can tell an ignored command from a broken one.
    bot.telegram.push_document(GROUP, "story.txt", OTTER_ARTICLE.encode(), user_id=ADMIN,
                               caption=f"/add@{BOT_USERNAME}", chat_type="group")
    await bot.deliver()
    assert "Added" in bot.telegram.sent(GROUP, "editMessageText")[-1].text
    reliability("Security", f"commands addressed to another bot (`/cmd@other_bot`: {', '.join('/' + c for c in commands)}"
                ", an unknown one) and uploads captioned `/add@other_bot`, from an admin, in a private chat, a group "
                "and a supergroup", tried,
                f"all {tried} ignored: no reply, no file downloaded or written, no build; the same upload captioned "
                f"`/add@{BOT_USERNAME}` was added")


async def test_every_handler_is_rate_limited(tmp_path: Path, corpus_dir: Path, reliability: Record) -> None:
    async with in_process_bot(tmp_path, corpus_dir, NEWSBOT_RATE_LIMIT_QUESTIONS="1") as bot:
        handlers = [h for h in bot.app.handlers[0]]
        reached = []
        for number, handler in enumerate(handlers):
            name, user = handler.callback.__name__, 5000 + number
            if isinstance(handler, CommandHandler):
                send = functools.partial(bot.telegram.push_text, user, f"/{min(handler.commands)}")
            elif isinstance(handler, CallbackQueryHandler):
                data = find(st.from_regex(handler.pattern, fullmatch=True), lambda _: True)
                send = functools.partial(bot.telegram.push_callback, user, data, 1)
            elif name in MESSAGES:
                send = functools.partial(MESSAGES[name], bot.telegram, user)
            else:
                pytest.fail(f"handler {name} ({type(handler).__name__}): teach this test to reach it (MESSAGES)")
            replies = []
            for _ in range(3):  # the limit is one a minute: the second is told to wait, the third is ignored
                calls = len(bot.telegram.calls)
                send()
                await bot.deliver()
                replies.append([(c.method, c.params.get("text")) for c in bot.telegram.calls[calls:]])
            assert replies[0] and not any("my limit" in str(text) for _, text in replies[0]), (name, replies)
            [(_, told)] = replies[1]
            assert "my limit of 1 message a minute" in told, (name, replies)
            assert replies[2] in ([], [("answerCallbackQuery", None)]), (name, replies)  # a button is always answered
            reached.append(f"/{min(handler.commands)}" if isinstance(handler, CommandHandler) else LABELS[name])
    reliability("Security", f"every handler, found by enumerating the Application's handlers ({', '.join(reached)}),"
                " sent three times by one user with a limit of one a minute", 3 * len(reached),
                "each handled the first; the second told \"You have reached my limit of 1 message a minute for each "
                "person. I'll read your messages again in … s\" (as a button's notice for buttons); the third "
                "dropped unanswered")


async def test_a_flood_of_sources_from_one_user_does_not_slow_anyone_else(
        tmp_path: Path, corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, reliability: Record) -> None:
    flooder, other = 6001, 6002
    articles = [ArticleInfo(f"a{n}.txt", f"Story {n}", "Wire", date(2020, 1, 1) + timedelta(days=n % 2000), None)
                for n in range(10_005)]
    listings: list[str] = []

    def listing() -> list[ArticleInfo]:  # about what reading 10,005 articles from SQLite costs
        listings.append(threading.current_thread().name)
        time.sleep(0.05)
        return articles

    async with in_process_bot(tmp_path, corpus_dir, NEWSBOT_RATE_LIMIT_QUESTIONS="6") as bot:
        monkeypatch.setattr(bot.service.retriever, "articles", listing)
        for number in range(300):
            bot.telegram.push_text(flooder, "/sources 3")
            if number == 150:
                bot.telegram.push_text(other, "How many zebras escaped from the zoo?")
        updates = [Update.de_json(u, bot.app.bot) for u in bot.telegram.pop_updates()]
        started = time.monotonic()
        await asyncio.gather(*(bot.app.process_update(u) for u in updates))
        [answer] = bot.telegram.sent(other)
        waited = answer.at - started
        shown = [visible_text(c.text) for c in bot.telegram.sent(flooder)]
    pages = sum(text.startswith("Articles 31–45 of 10,005") for text in shown)
    told = sum("my limit of 6 messages a minute" in text for text in shown)
    assert (pages, told, len(shown)) == (6, 1, 7), shown
    assert len(listings) == 1 and threading.main_thread().name not in listings  # once, off the event loop
    assert "Seven zebras" in answer.text and waited < 2.0, waited
    reliability("Security", "300 `/sources 3` at once from one user over 10,005 articles (a listing that takes "
                "50 ms), another user asking among them", 300,
                f"the flooder got {pages} pages and {told} \"try again in … s\"; the other {300 - len(shown)} were "
                f"dropped unanswered; the article list was read {'once' if len(listings) == 1 else f'{len(listings)} times'}"
                ", on a worker thread; the "
                f"other user was answered after {waited * 1000:.0f} ms")


def _upload(caption: str) -> Callable[[FakeTelegram, int], object]:
    return lambda telegram, user: telegram.push_document(user, "a.txt", b"title: A\n\nA body.", user_id=user,
                                                         caption=caption)


# How to reach each message handler (commands and buttons are found from the handlers themselves).
MESSAGES: dict[str, Callable[[FakeTelegram, int], object]] = {
    "question": lambda telegram, user: telegram.push_text(user, "zebras?"),
    "unknown_command": lambda telegram, user: telegram.push_text(user, "/frobnicate"),
    "not_text": _upload(""),  # a file without a caption (a caption is read as a question)
    "add": _upload("/add"),
}
LABELS = {"question": "questions", "unknown_command": "unknown commands", "not_text": "messages that are not text",
          "add": "uploads captioned /add", "more_button": "the More results button", "sources_page": "the page buttons",
          "rate": "the Helpful / Wrong answer buttons"}


async def test_no_admin_ids_configured_means_nobody_is_admin(tmp_path: Path, corpus_dir: Path,
                                                             reliability: Record) -> None:
    async with in_process_bot(tmp_path, corpus_dir, TELEGRAM_ADMIN_IDS="") as bot:
        for command in ("/reindex", "/stats", "/add title: x\n\nBody."):
            assert [r.text for r in await bot.say(command, chat_id=ADMIN, user_id=ADMIN)] == [ADMIN_ONLY]
    reliability("Security", "admin commands with TELEGRAM_ADMIN_IDS empty", 3, "refused for everyone")


async def test_the_token_never_reaches_logs_or_messages_even_in_errors(
        bot: Harness, monkeypatch: pytest.MonkeyPatch, reliability: Record) -> None:
    secret = TOKEN.partition(":")[2]
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s", [TOKEN, secret]))
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        async def broken(question: str, k: int) -> None:
            raise RuntimeError(f"POST https://api.telegram.org/bot{TOKEN}/sendMessage failed")

        async def broken_reindex(*args: object, **kwargs: object) -> None:
            raise OSError(f"cannot reach https://api.telegram.org/file/bot{TOKEN}/x")

        monkeypatch.setattr(bot.service, "answer", broken)
        monkeypatch.setattr(bot.service, "reindex", broken_reindex)
        await bot.say("zebras?")
        await bot.say("/reindex", chat_id=ADMIN, user_id=ADMIN)
        bot.telegram.fail_next("sendMessage", "500")
        bot.telegram.fail_next("getFile", "drop")
        bot.telegram.push_document(ADMIN, "a.txt", b"title: A\n\nA body.", user_id=ADMIN)
        await bot.deliver()
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    log = captured.getvalue()
    assert REDACTED in log and "Traceback" in log  # the token was there to leak, with the tracebacks
    assert TOKEN not in log and secret not in log
    sent = " ".join(c.text for c in bot.telegram.sent()) + " ".join(c.text for c in bot.telegram.sent(method="editMessageText"))
    assert secret not in sent and "api.telegram.org" not in sent
    reliability("Security", "exceptions whose text holds the token (from answering, from /reindex) plus a 500 and "
                "a dropped connection, with debug logging on", 4,
                "every log line, tracebacks included, showed `<bot-token>` instead; no message to any chat held it")


async def test_users_never_see_exception_text(bot: Harness, monkeypatch: pytest.MonkeyPatch,
                                              reliability: Record) -> None:
    detail = "internal-detail /srv/newsbot/secret.db line 42"

    async def broken(*args: object, **kwargs: object) -> None:
        raise ValueError(detail)

    paths = {"answer": "zebras?", "catalogue": "/sources", "reindex": "/reindex", "add_article": "/add title: T\n\nBody."}
    for method, text in paths.items():
        monkeypatch.setattr(bot.service, method, broken)
        await bot.say(text, chat_id=ADMIN if method in ("reindex", "add_article") else USER, user_id=None)
    await bot.say("/help")  # articles() broken: /help fails too
    shown = [c.text for m in ("sendMessage", "editMessageText") for c in bot.telegram.sent(method=m)]
    assert shown and not [t for t in shown if "internal-detail" in t or "Traceback" in t or "ValueError" in t]
    assert sum(SORRY in t for t in shown) >= 3 and any("failed unexpectedly" in t for t in shown)
    reliability("Security", "exceptions with internal details raised while answering, listing sources, /help, "
                "/reindex and /add", len(paths) + 1,
                "users saw only \"Sorry, something went wrong…\", admins \"… failed unexpectedly (the details are "
                "in the bot's log)\"; no exception text or traceback in any message")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


NOT_UPDATES = [b"not json", b"[1]", b'"x"', b"1", b"null", b'{"update_id": "5"}', b'{"update_id": true}',
               b'{"update_id": 7, "message": 5}',
               b'{"update_id": 8, "message": {"message_id": 1, "date": 0, "chat": [1]}}', b"[" * 100_000]


async def test_webhook_refuses_posts_without_the_secret(bot: Harness, tmp_path: Path, reliability: Record) -> None:
    from tornado.httpclient import AsyncHTTPClient, HTTPClientError

    port, journal = _free_port(), UpdateJournal(tmp_path / "journal.jsonl")
    server = start_webhook_server(bot.app, bot.service, journal, path="/hook", secret="right-secret",
                                  listen="127.0.0.1", port=port)
    client = AsyncHTTPClient()
    update = json.dumps({"update_id": 5, "message": {"message_id": 1, "date": 0, "text": "hi",
                                                     "chat": {"id": 1, "type": "private"}}})
    statuses: list[int] = []
    bad_bodies: list[int] = []
    try:
        for headers, method, path in [({}, "POST", "/hook"), ({SECRET_HEADER: ""}, "POST", "/hook"),
                                      ({SECRET_HEADER: "wrong"}, "POST", "/hook"),
                                      ({SECRET_HEADER: "right-secre"}, "POST", "/hook"),
                                      ({SECRET_HEADER: "RIGHT-SECRET"}, "POST", "/hook"),
                                      ({SECRET_HEADER: "right-secret"}, "GET", "/hook"),
                                      ({SECRET_HEADER: "right-secret"}, "POST", "/other")]:
            with pytest.raises(HTTPClientError) as refused:
                await client.fetch(f"http://127.0.0.1:{port}{path}", method=method, headers=headers,
                                   body=update if method == "POST" else None)
            statuses.append(refused.value.code)
        assert bot.app.update_queue.empty() and journal.unfinished() == []
        for body in NOT_UPDATES:  # with the right secret: still refused, never a 500, nothing journalled
            with pytest.raises(HTTPClientError) as refused:
                await client.fetch(f"http://127.0.0.1:{port}/hook", method="POST", body=body,
                                   headers={SECRET_HEADER: "right-secret"})
            bad_bodies.append(refused.value.code)
        assert bot.app.update_queue.empty() and journal.unfinished() == []
        accepted = await client.fetch(f"http://127.0.0.1:{port}/hook", method="POST", body=update,
                                      headers={SECRET_HEADER: "right-secret"})
        assert accepted.code == 200 and bot.app.update_queue.qsize() == 1
        assert [u["update_id"] for u in journal.unfinished()] == [5]  # journalled before the 200
    finally:
        server.stop()
        journal.close()
        await asyncio.sleep(0)
    assert statuses[:5] == [403] * 5 and statuses[5] == 405 and statuses[6] == 404
    assert bad_bodies == [400] * len(NOT_UPDATES)
    reliability("Bad input", f"webhook posts with the right secret and a body that is not an update: "
                f"{len(NOT_UPDATES)} kinds (not JSON, a list, a string, a number, null, a string or boolean "
                "update_id, a message that is a number, a chat that is a list, 100,000 nested brackets)",
                len(NOT_UPDATES), f"{bad_bodies.count(400)} answered 400 and nothing queued or journalled "
                "(a non-object body used to raise inside PTB's parser: a 500); the next real update was accepted")
    reliability("Security", "webhook posts without the secret header, with an empty, wrong, one character short "
                "or differently-cased secret; a GET; another path", len(statuses),
                "403 for every missing or wrong secret (405 for the GET, 404 for the other path); nothing queued; "
                "the right secret was accepted and its update journalled")
