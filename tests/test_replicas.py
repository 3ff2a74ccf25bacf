"""`serve` beside other replicas of the bot on one Redis: long polling only alone, no webhook over a poller,
a replica forgotten once its key stops being renewed."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import redis

from newsbot.bot import replicas
from newsbot.bot.replicas import POLLING, WEBHOOK, Presence, refusal
from newsbot.bot.shared import SharedState
from tests.fake_bot_api import TOKEN, FakeBotAPIServer, start_bot
from tests.redis_server import free_port

BOT_ID = TOKEN.partition(":")[0]


async def test_polling_is_refused_beside_any_replica_and_a_webhook_beside_a_poller(redis_url: str) -> None:
    assert refusal(redis_url, BOT_ID, POLLING) is None and refusal(redis_url, BOT_ID, WEBHOOK) is None  # alone
    state = SharedState(redis_url, BOT_ID)
    webhook = Presence(state, WEBHOOK)
    await webhook.renew()
    assert "run every replica with --webhook-url" in refusal(redis_url, BOT_ID, POLLING)
    assert refusal(redis_url, BOT_ID, WEBHOOK) is None  # replicas behind one URL: the design
    assert refusal(redis_url, "42", POLLING) is None  # another bot's replicas are not this one's
    await webhook.leave()
    poller = Presence(state, POLLING)
    await poller.renew()
    assert "stop it first" in refusal(redis_url, BOT_ID, WEBHOOK)
    await poller.leave()
    assert refusal(redis_url, BOT_ID, POLLING) is None  # a replica that stopped is gone at once
    await state.close()


async def test_a_killed_replica_is_forgotten_when_its_key_expires(redis_url: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replicas, "ALIVE_SECONDS", 0.2)
    state = SharedState(redis_url, BOT_ID)
    await Presence(state, WEBHOOK).renew()  # and never again: killed
    assert refusal(redis_url, BOT_ID, POLLING) is not None
    await asyncio.sleep(0.3)
    assert refusal(redis_url, BOT_ID, POLLING) is None
    await state.close()


def test_without_redis_the_start_goes_on_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="newsbot.bot.replicas")
    assert refusal(f"redis://:pw-9@127.0.0.1:{free_port()}/0", BOT_ID, POLLING) is None
    assert "cannot be reached" in caplog.text and "pw-9" not in caplog.text


def test_serve_by_long_polling_beside_a_webhook_replica_exits_2_with_a_clear_message(
        tmp_path: Path, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.config_set("requirepass", "pw-7")
    with_password = redis_url.replace("redis://", "redis://:pw-7@")
    redis.Redis.from_url(with_password).set(replicas.replica_key(f"newsbot:{BOT_ID}:", "other"), WEBHOOK, px=30_000)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("title: A\n\nOne sentence.\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "NEWSBOT_"))}
    env.update(TELEGRAM_BOT_TOKEN=TOKEN, NEWSBOT_REDIS_URL=with_password)
    try:
        done = subprocess.run([sys.executable, "-m", "newsbot.bot", "serve", "--env-file", str(tmp_path / "none.env"),
                               "--corpus-dir", str(corpus), "--index-dir", str(tmp_path / "index")],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    finally:
        redis.Redis.from_url(with_password).config_set("requirepass", "")
    assert done.returncode == 2, done.stderr
    assert "1 other replica(s) of this bot are serving" in done.stderr and "--webhook-url" in done.stderr
    assert "Traceback" not in done.stderr and "pw-7" not in done.stderr
    assert not (tmp_path / "index").exists()  # refused before loading or building anything


def test_two_webhook_replicas_on_one_redis_answer_an_update_posted_to_both_once(tmp_path: Path,
                                                                                 redis_url: str) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "zebras.txt").write_text("title: Zebras escape\n\nSeven zebras escaped from the city zoo on Tuesday.\n",
                                       encoding="utf-8")
    client = redis.Redis.from_url(redis_url)
    ports = [free_port(), free_port()]
    with FakeBotAPIServer() as api:
        bots = []
        try:
            for n, port in enumerate(ports):
                bots.append(start_bot(api, tmp_path, env={
                    "NEWSBOT_MODEL": "hashing", "NEWSBOT_CORPUS_DIR": str(corpus),
                    "NEWSBOT_INDEX_DIR": str(tmp_path / f"index{n}"), "TELEGRAM_WEBHOOK_SECRET": "hook-secret",
                    "NEWSBOT_REDIS_URL": redis_url},
                    args=["--webhook-url", "http://127.0.0.1/telegram", "--listen", "127.0.0.1", "--port", str(port)]))
                api.telegram.wait_for(lambda: len(api.telegram.sent(method="setWebhook")) == n + 1)
            api.telegram.wait_for(lambda: len(client.keys(f"newsbot:{BOT_ID}:replica:*")) == 2)
            for update_id in range(1, 6):
                update = {"update_id": update_id, "message": {
                    "message_id": update_id, "date": 0, "text": "zebras escaped zoo",
                    "chat": {"id": 60 + update_id, "type": "private"},
                    "from": {"id": 60 + update_id, "is_bot": False, "first_name": "A"}}}
                assert [_post(port, update) for port in ports] == [200, 200]  # Telegram delivers it twice
            api.telegram.wait_for(lambda: len(api.telegram.sent()) >= 5)
            time.sleep(0.5)  # time for a second answer, were there one
            for update_id in range(1, 6):
                [answer] = api.telegram.sent(60 + update_id)
                assert "Seven zebras escaped" in answer.text
        finally:
            assert all(bot.stop() == 0 for bot in bots), [bot.log()[-2000:] for bot in bots]
    assert client.keys(f"newsbot:{BOT_ID}:replica:*") == []  # each replica left on its way out
    client.close()


def _post(port: int, update: dict[str, object]) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/telegram", data=json.dumps(update).encode(),
                                     headers={"Content-Type": "application/json",
                                              "X-Telegram-Bot-Api-Secret-Token": "hook-secret"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status
