"""Several bot replicas behind one webhook URL, end to end: a Milvus standalone server holds the one index, a
redis-server the shared state, two unmodified `newsbot serve --webhook-url` processes (each with an empty
index folder of its own, one shared corpus folder) sit behind a round-robin proxy, and the test acts as
Telegram: it posts updates to the proxy and delivers again any update whose POST did not get a 200.

Each replica talks to the one fake Telegram through a line of its own, so the test knows which replica sent
each answer and can hold one replica's answers back (to kill it with updates acknowledged but unanswered).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.fake_bot_api import BotProcess, Call, FakeBotAPIServer, FakeTelegram, start_bot, visible_text
from tests.milvus_server import milvus_uri  # noqa: F401 - the session's Milvus server, a fixture
from tests.local_services import free_port
from tests.reliability import Record
from tests.round_robin import Forwarded, RoundRobinProxy

pytestmark = pytest.mark.milvus_server

SECRET = "hook-secret"
ADMIN = 1
LIMIT = 3  # questions a person may ask a minute
LEASE = 6  # seconds a killed replica stays known: its questions wait that long for the other one
ZEBRAS = ("title: Zebras escape\nsource: Wire\n\nSeven zebras escaped from the city zoo on Tuesday. "
          "Keepers found them grazing in the park.\n")
HARBOUR = "title: Harbour\nsource: Wire\n\nThe harbour ferry resumed service after the storm. Fares stay the same.\n"
PENGUINS = "title: Penguins\nsource: Wire\n\nTwelve penguins marched across the harbour bridge on Friday.\n"
ZEBRA_QUESTION, ZEBRA_ANSWER = "How many zebras escaped from the zoo?", "Seven zebras escaped"
PENGUIN_QUESTION, PENGUIN_ANSWER = "How many penguins marched across the bridge?", "Twelve penguins marched"
ANSWER_SECONDS = 60.0  # a question's answer, under load on 2 shared cores
TAKEOVER_SECONDS = 120.0  # a killed replica's acknowledged updates, answered by the other


class ReplicaLine:
    """One replica's line to the shared fake Telegram: it records which chats the replica answered, and can
    hold the replica's answers until the line is cut (then they are dropped, as for a killed process)."""

    def __init__(self, telegram: FakeTelegram) -> None:
        self._telegram = telegram
        self.answered: list[int] = []
        self.held = 0
        self._open = threading.Event()
        self._open.set()
        self._cut = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._telegram, name)

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def cut(self) -> None:
        self._cut = True
        self._open.set()

    def handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]] | str:
        if method == "sendMessage" and not self._open.is_set():
            self.held += 1
            self._open.wait(TAKEOVER_SECONDS)
        if self._cut:
            return "drop"
        answer = self._telegram.handle(method, params)
        if method == "sendMessage" and not isinstance(answer, str) and answer[0] == 200:
            self.answered.append(int(params["chat_id"]))
        return answer


class Telegram:
    """The test's side: updates made by the fake (numbered and shaped as Telegram makes them), posted to the
    proxy until acknowledged."""

    def __init__(self, telegram: FakeTelegram, proxy: RoundRobinProxy) -> None:
        self.telegram = telegram
        self.proxy = proxy
        self.retried: list[int] = []

    def update(self, chat_id: int, text: str) -> dict[str, Any]:
        update = self.telegram.push_text(chat_id, text)
        self.telegram.pop_updates()  # it goes by webhook, not to a poller
        return update

    def deliver(self, update: dict[str, Any], attempts: int = 20) -> None:
        """POST the update until it gets a 200, as Telegram redelivers an unacknowledged webhook."""
        for attempt in range(attempts):
            if attempt:
                self.retried.append(update["update_id"])
                time.sleep(0.5)
            if post(self.proxy.url("/telegram"), update) == 200:
                return
        raise AssertionError(f"update {update['update_id']} was never acknowledged")

    def say(self, chat_id: int, text: str) -> dict[str, Any]:
        update = self.update(chat_id, text)
        self.deliver(update)
        return update


def post(url: str, update: dict[str, Any]) -> int:
    request = urllib.request.Request(url, data=json.dumps(update).encode(), headers={
        "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def shown(call: Call) -> str:
    """The text the person sees."""
    return visible_text(call.text)


def health(port: int) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return {}


def wait_until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"  # one folder both replicas read (one volume, in production)
    folder.mkdir()
    (folder / "zebras.txt").write_text(ZEBRAS, encoding="utf-8")
    (folder / "harbour.txt").write_text(HARBOUR, encoding="utf-8")
    return folder


@pytest.fixture
def replicas(tmp_path: Path, corpus: Path, milvus_uri: str, redis_url: str,  # noqa: F811 - the fixture
             ) -> Iterator[tuple[list[BotProcess], list[ReplicaLine], list[int], FakeTelegram]]:
    """Two replicas serving from the Milvus server, each on its own line, each with an index folder that does
    not exist yet (a new machine: the first replica builds there and publishes, the second reads the store)."""
    telegram = FakeTelegram()
    lines = [ReplicaLine(telegram), ReplicaLine(telegram)]
    ports = [free_port(), free_port()]
    bots: list[BotProcess] = []
    with ExitStack() as stack:
        apis = [stack.enter_context(FakeBotAPIServer(line)) for line in lines]  # type: ignore[arg-type]
        try:
            for n, (api, port) in enumerate(zip(apis, ports)):
                bots.append(start_bot(api, tmp_path, ready_timeout=120, env={
                    "NEWSBOT_MODEL": "hashing", "NEWSBOT_CORPUS_DIR": str(corpus),
                    "NEWSBOT_INDEX_DIR": str(tmp_path / f"index{n}"), "NEWSBOT_STORE": milvus_uri,
                    "NEWSBOT_REDIS_URL": redis_url, "TELEGRAM_WEBHOOK_SECRET": SECRET,
                    "TELEGRAM_ADMIN_IDS": str(ADMIN), "NEWSBOT_RATE_LIMIT_QUESTIONS": str(LIMIT),
                    "NEWSBOT_STORE_CHECK_SECONDS": "1", "NEWSBOT_REPLICA_LEASE_SECONDS": str(LEASE)},
                    args=["--webhook-url", "http://127.0.0.1/telegram", "--listen", "127.0.0.1", "--port", str(port)]))
                telegram.wait_for(lambda: len(telegram.sent(method="setWebhook")) == n + 1, timeout=180)
                wait_until(lambda: health(port).get("status") == "ok", 60, f"replica {n}'s health endpoint")
            yield bots, lines, ports, telegram
        finally:
            for bot in bots:
                bot.stop()
            for n, bot in enumerate(bots):
                print(f"--- replica {n}'s log (tail) ---\n{bot.log()[-3000:]}")


def test_two_replicas_behind_one_url_answer_once_share_limits_reindex_and_survive_a_kill(
        tmp_path: Path, corpus: Path, replicas: tuple[list[BotProcess], list[ReplicaLine], list[int], FakeTelegram],
        reliability: Record) -> None:
    bots, lines, ports, telegram = replicas
    killed: list[Forwarded] = []
    acknowledged_by: dict[int, int] = {}  # update id -> the replica whose 200 Telegram got
    kill_after = {"acknowledged": 0}

    def on_forwarded(body: bytes, forwarded: Forwarded) -> None:
        """Record who acknowledged what; once armed, SIGKILL the second replica right after its third 200."""
        update_id = json.loads(body)["update_id"]
        if forwarded.status == 200 and forwarded.replica is not None:
            acknowledged_by[update_id] = forwarded.replica
            if forwarded.replica == 1 and kill_after["acknowledged"] and not killed:
                kill_after["acknowledged"] -= 1
                if kill_after["acknowledged"] == 0:
                    bots[1].process.kill()
                    bots[1].process.wait(timeout=10)
                    killed.append(forwarded)

    with RoundRobinProxy(ports, on_forwarded) as proxy:
        tg = Telegram(telegram, proxy)

        # Every question answered exactly once, by whichever replica it reached; a repeated delivery too. The
        # replica started last holds its answers past the other's first look for updates of replicas gone:
        # a replica that has just started is not one of those.
        chats = range(100, 110)
        sent = [tg.update(chat, ZEBRA_QUESTION) for chat in chats]
        lines[1].hold()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(tg.deliver, sent))
        tg.deliver(sent[0])  # Telegram delivers one again (its 200 was lost on the way back)
        time.sleep(LEASE / 3 + 0.5)
        lines[1].release()
        telegram.wait_for(lambda: all(telegram.sent(chat) for chat in chats), timeout=ANSWER_SECONDS)
        time.sleep(1.0)  # time for a second answer, were there one
        for chat in chats:
            [answer] = telegram.sent(chat)
            assert ZEBRA_ANSWER in shown(answer)
        assert all(line.answered for line in lines), "the proxy spread the questions over both replicas"

        # A person's rate limit holds across the replicas: each question goes to the other one in turn.
        user = 200
        for n in range(LIMIT):
            tg.say(user, ZEBRA_QUESTION)
            telegram.wait_for(lambda: len(telegram.sent(user)) == n + 1, timeout=ANSWER_SECONDS)
        tg.say(user, ZEBRA_QUESTION)
        telegram.wait_for(lambda: len(telegram.sent(user)) == LIMIT + 1, timeout=ANSWER_SECONDS)
        *answers, refused = telegram.sent(user)
        assert all(ZEBRA_ANSWER in shown(answer) for answer in answers)
        assert f"my limit of {LIMIT} messages" in shown(refused)
        assert all(user in line.answered for line in lines), "both replicas answered this person"
        tg.say(user, ZEBRA_QUESTION)  # told once, then ignored, whichever replica it reaches
        time.sleep(1.0)
        assert len(telegram.sent(user)) == LIMIT + 1

        # /reindex from an admin, on whichever replica it reaches, is seen by both.
        articles = health(ports[0])["articles"]
        (corpus / "penguins.txt").write_text(PENGUINS, encoding="utf-8")
        tg.say(ADMIN, "/reindex")
        wait_until(lambda: all(health(port).get("articles") == articles + 1 for port in ports), 2 * ANSWER_SECONDS,
                   "both replicas to serve the rebuilt index")
        penguin_chats = [300, 301]
        for chat in penguin_chats:  # one to each replica, in turn
            tg.say(chat, PENGUIN_QUESTION)
        telegram.wait_for(lambda: all(telegram.sent(chat) for chat in penguin_chats), timeout=ANSWER_SECONDS)
        assert all(PENGUIN_ANSWER in shown(telegram.sent(chat)[0]) for chat in penguin_chats)
        assert all(any(chat in line.answered for chat in penguin_chats) for line in lines)

        # A replica killed mid-load loses no question: what it had not acknowledged is delivered again (to the
        # other), and what it had acknowledged but not answered (its answers are held) the other takes over.
        lines[1].hold()
        kill_after["acknowledged"] = 3
        load = [tg.update(chat, ZEBRA_QUESTION) for chat in range(400, 424)]
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(tg.deliver, load))
        assert killed, "the second replica acknowledged three updates of the load and was killed"
        lines[1].cut()
        orphans = [update["message"]["chat"]["id"] for update in load if acknowledged_by[update["update_id"]] == 1]
        assert orphans, "the killed replica had acknowledged updates it never answered"
        load_chats = [update["message"]["chat"]["id"] for update in load]
        telegram.wait_for(lambda: all(telegram.sent(chat) for chat in load_chats), timeout=TAKEOVER_SECONDS)
        time.sleep(1.0)
        counts = Counter(call.chat_id for call in telegram.sent() if call.chat_id in load_chats)
        assert counts == Counter(load_chats), "each question of the load answered exactly once"
        assert all(len(telegram.sent(chat)) == 1 for chat in chats), "no late second answer in the first phase"
        assert all(ZEBRA_ANSWER in shown(telegram.sent(chat)[0]) for chat in load_chats)
        assert set(orphans) <= set(lines[0].answered), "the survivor answered what the killed one had taken"
        redelivered = len(set(tg.retried))
        print(f"load: {len(orphans)} taken over from the killed replica, {redelivered} delivered again")
        reliability("Consistency", f"two webhook replicas on one Milvus server and one Redis behind a round-robin "
                    f"proxy, one SIGKILLed during a load of {len(load)} questions", 1,
                    f"each answered exactly once: {len(orphans)} it had acknowledged were answered by the other "
                    f"replica, {redelivered} posts it failed were delivered again")
    assert bots[0].stop() == 0
