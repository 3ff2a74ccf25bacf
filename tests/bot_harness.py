"""The bot in-process for tests: the real Application and handlers over a Service on the fake embedder,
the Bot API replaced by FakeRequest (no sockets). The `bot` fixture in conftest.py gives the usual one;
`in_process_bot` is for tests that need other settings, a journal or their own embedder."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from telegram import Update
from telegram.ext import Application

from newsbot.bot.app import build_application
from newsbot.bot.config import parse_settings
from newsbot.bot.journal import Journal
from newsbot.bot.replicas import Replica
from newsbot.bot.retry import RetryingLimiter
from newsbot.bot.service import Service
from newsbot.index.embedder import Embedder
from newsbot.index.hashing_embedder import HashingEmbedder
from tests.fake_bot_api import TOKEN, Call, FakeRequest, FakeTelegram

ADMIN = 1
USER = 2
GROUP = -100500
ZEBRA_ARTICLE = ("title: Zebras <b>escape</b> & roam\nsource: Daily \"Planet\"\ndate: 2024-05-01\n"
                 "url: https://example.com/zebras?a=1&b=2\n\n"
                 "Seven zebras escaped from the city zoo on Tuesday. Keepers found the zebras grazing in a park. "
                 "The zebras escaped from the zoo through a broken gate. Zoo staff said the escaped zebras were unharmed.")


class Harness:
    """Feeds users' messages to the Application and reads what the bot sent."""

    def __init__(self, application: Application, telegram: FakeTelegram, service: Service) -> None:
        self.app = application
        self.telegram = telegram
        self.service = service

    async def deliver(self) -> None:
        for data in self.telegram.pop_updates():
            await self.app.process_update(Update.de_json(data, self.app.bot))

    async def say(self, text: str, chat_id: int = USER, **kwargs: object) -> list[Call]:
        """Send a message and return what the bot sent to that chat in response."""
        before = len(self.telegram.sent(chat_id))
        self.telegram.push_text(chat_id, text, **kwargs)
        await self.deliver()
        return self.telegram.sent(chat_id)[before:]

    async def edit(self, sent: dict[str, object], text: str) -> list[Call]:
        """Edit a message sent earlier (`sent`: the update push_text returned) to `text`; returns the messages
        the bot sent or edited in that chat in response."""
        before = len(self.telegram.calls)
        chat_id = self.telegram.push_edit(sent, text)["edited_message"]["chat"]["id"]
        await self.deliver()
        return [c for c in self.telegram.calls[before:]
                if c.method in ("sendMessage", "editMessageText") and c.chat_id == chat_id]


@asynccontextmanager
async def in_process_bot(tmp_path: Path, corpus_dir: Path, embedder: Embedder | None = None, *,
                         journal: Journal | None = None, retry: RetryingLimiter | None = None,
                         replica: Replica | None = None, **settings: str) -> AsyncIterator[Harness]:
    """The bot over `corpus_dir` plus ZEBRA_ARTICLE (indexed into tmp_path/index, and read from NEWSBOT_STORE when
    `settings` name one), ADMIN its admin, 50 questions a minute allowed; `settings` override the environment it
    is configured from."""
    (corpus_dir / "zebras.txt").write_text(ZEBRA_ARTICLE, encoding="utf-8")
    config = parse_settings({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_ADMIN_IDS": str(ADMIN),
                             "NEWSBOT_RATE_LIMIT_QUESTIONS": "50", **settings})
    service = await asyncio.to_thread(Service.open, corpus_dir, tmp_path / "index",
                                      embedder=embedder or HashingEmbedder(), store=config.store)
    telegram = FakeTelegram()
    application = build_application(config, service, requests=(FakeRequest(telegram), FakeRequest(telegram)),
                                    journal=journal, retry=retry, replica=replica)
    await application.initialize()
    try:
        yield Harness(application, telegram, service)
    finally:
        await application.shutdown()
        service.close()
