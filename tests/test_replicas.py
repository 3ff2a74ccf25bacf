"""`serve` beside other replicas of the bot on one Redis: long polling only alone, no webhook over a poller,
a replica forgotten once its key stops being renewed, and the questions a killed replica had acknowledged
answered by another."""

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
from newsbot.bot.replicas import POLLING, WEBHOOK, Replica, refusal
from newsbot.bot.shared import SharedState
from tests.fake_bot_api import TOKEN, BotProcess, FakeBotAPIServer, start_bot
from tests.local_services import free_port
from tests.reliability import Record

BOT_ID = TOKEN.partition(":")[0]


async def test_polling_is_refused_beside_any_replica_and_a_webhook_beside_a_poller(redis_url: str) -> None:
    assert refusal(redis_url, BOT_ID, POLLING) is None and refusal(redis_url, BOT_ID, WEBHOOK) is None  # alone
    state = SharedState(redis_url, BOT_ID)
    webhook = Replica(state, WEBHOOK)
    await webhook.renew()
    assert "run every replica with --webhook-url" in refusal(redis_url, BOT_ID, POLLING)
    assert refusal(redis_url, BOT_ID, WEBHOOK) is None  # replicas behind one URL: the design
    assert refusal(redis_url, "42", POLLING) is None  # another bot's replicas are not this one's
    await webhook.leave()
    poller = Replica(state, POLLING)
    await poller.renew()
    assert "stop it first" in refusal(redis_url, BOT_ID, WEBHOOK)
    await poller.leave()
    assert refusal(redis_url, BOT_ID, POLLING) is None  # a replica that stopped is gone at once
    await state.close()


async def test_a_killed_replica_is_forgotten_when_its_key_expires(redis_url: str) -> None:
    state = SharedState(redis_url, BOT_ID)
    await Replica(state, WEBHOOK, lease_seconds=1.0).renew()  # and never again: killed
    assert refusal(redis_url, BOT_ID, POLLING) is not None
    await asyncio.sleep(1.2)
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


def test_two_webhook_replicas_answer_each_question_once_even_when_one_is_killed_after_acknowledging(
        tmp_path: Path, redis_url: str, reliability: Record) -> None:
    lease = 3.0  # renewed each second: a busy machine's stall does not end a live replica's lease
    client = redis.Redis.from_url(redis_url)
    with FakeBotAPIServer() as api:
        bots, ports = _webhook_replicas(api, tmp_path, redis_url, lease=lease)
        try:
            for update_id in range(1, 6):
                assert [_post(port, _question(update_id)) for port in ports] == [200, 200]  # delivered twice
            api.telegram.wait_for(lambda: len(api.telegram.sent()) >= 5)
            time.sleep(0.5)  # time for a second answer, were there one
            assert all(len(api.telegram.sent(60 + update_id)) == 1 for update_id in range(1, 6))

            api.telegram.fail_next("sendMessage", "timeout", times=5)  # the first replica's answers hang
            assert [_post(ports[0], _question(update_id)) for update_id in range(6, 11)] == [200] * 5
            api.telegram.wait_for(lambda: api.telegram.faults_served.count(("sendMessage", "timeout")) == 5)
            bots[0].process.kill()  # SIGKILL: Telegram was told all five arrived; none was answered
            bots[0].process.wait()
            killed = time.monotonic()
            assert [_post(ports[1], _question(update_id)) for update_id in (6, 7)] == [200] * 2  # redelivered
            api.telegram.wait_for(lambda: len(api.telegram.sent()) >= 10, timeout=4 * lease + 10)
            took = time.monotonic() - killed
            time.sleep(0.5)  # time for a second answer, were there one
            assert _post(ports[1], _question(8)) == 200  # a redelivery of an answered one
            time.sleep(0.5)
            for update_id in range(1, 11):
                [answer] = api.telegram.sent(60 + update_id)
                assert "Seven zebras escaped" in answer.text
            assert took < lease * 2 + 2  # within a lease and a takeover interval, with room for a slow machine
            assert "taking over update 6" in bots[1].log()
        finally:
            bots[0].stop()
            assert bots[1].stop() == 0, bots[1].log()[-2000:]
    time.sleep(lease)  # the killed replica's key expires; the other deleted its own on its way out
    assert client.keys(f"newsbot:{BOT_ID}:replica:*") == [] and client.hlen(f"newsbot:{BOT_ID}:pending") == 0
    client.close()
    reliability("Consistency", "a webhook replica SIGKILLed after answering 200 to 5 questions it never "
                "answered; 2 of them redelivered to the other replica meanwhile", 5,
                f"each answered once by the other replica, {took:.1f} s after the kill (lease {lease} s)")


def _webhook_replicas(api: FakeBotAPIServer, folder: Path, redis_url: str, *,
                      lease: float | None = None) -> tuple[list[BotProcess], list[int]]:
    """Two `newsbot serve --webhook-url` processes over one corpus and one Redis, both serving; their ports."""
    corpus = folder / "corpus"
    corpus.mkdir()
    (corpus / "zebras.txt").write_text("title: Zebras escape\n\nSeven zebras escaped from the city zoo on Tuesday.\n",
                                       encoding="utf-8")
    client = redis.Redis.from_url(redis_url)
    ports, bots = [free_port(), free_port()], []
    try:
        for n, port in enumerate(ports):
            bots.append(start_bot(api, folder, env={
                "NEWSBOT_MODEL": "hashing", "NEWSBOT_CORPUS_DIR": str(corpus),
                "NEWSBOT_INDEX_DIR": str(folder / f"index{n}"), "TELEGRAM_WEBHOOK_SECRET": "hook-secret",
                "NEWSBOT_REDIS_URL": redis_url, **({"NEWSBOT_REPLICA_LEASE_SECONDS": str(lease)} if lease else {})},
                args=["--webhook-url", "http://127.0.0.1/telegram", "--listen", "127.0.0.1", "--port", str(port)]))
            api.telegram.wait_for(lambda: len(api.telegram.sent(method="setWebhook")) == n + 1)
        api.telegram.wait_for(lambda: len(client.keys(f"newsbot:{BOT_ID}:replica:*")) == 2)
    except BaseException:
        for bot in bots:
            bot.stop()
        raise
    finally:
        client.close()
    return bots, ports


def _question(update_id: int) -> dict[str, object]:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": 0, "text": "zebras escaped zoo",
        "chat": {"id": 60 + update_id, "type": "private"},
        "from": {"id": 60 + update_id, "is_bot": False, "first_name": "A"}}}


def _post(port: int, update: dict[str, object]) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/telegram", data=json.dumps(update).encode(),
                                     headers={"Content-Type": "application/json",
                                              "X-Telegram-Bot-Api-Secret-Token": "hook-secret"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status
