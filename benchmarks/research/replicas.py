"""Two bot replicas against one: answered messages/s and latency at 200 chats through a round-robin proxy.

The same set-up as tests/test_replicas_e2e.py, with the real model and the bundled corpus: a redis-server
(the replicas' shared state, with one replica too, so that both rows pay for it), the fake Bot API, N
unmodified `newsbot serve --webhook-url` processes behind tests/round_robin.py, and this process acting as
Telegram: 200 chats, each asking again the moment its answer arrives (saturated, closed loop: the figure is
capacity; benchmarks/bot_throughput.py's loop, the updates posted to the proxy by a pool of senders). Each
store: the index folder (each replica builds its own copy of the corpus) and, with --milvus, a Milvus
standalone server on 127.0.0.1 (tests/milvus_server.py) that every replica reads.

Everything runs on this machine, loopback only: the replicas, the proxy, the fake Bot API, the load and
Milvus share its cores. So the figure shows what a second process adds on the same cores (parallelism the
first one leaves unused, and the cost of the proxy and of Redis), not what a second machine would add.

    .venv/bin/python -m benchmarks.research.replicas                 # files store; 1 and 2 replicas
    .venv/bin/python -m benchmarks.research.replicas --milvus --write-docs
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from pathlib import Path

import redis

from benchmarks.bot_throughput import QUESTIONS, Level, median_level, run_level
from benchmarks.report import provenance, table, write_block
from benchmarks.stats import machine
from newsbot.bot.replicas import replica_key
from newsbot.corpus import BUNDLED_CORPUS_DIR
from tests.fake_bot_api import TOKEN, BotProcess, FakeBotAPIServer, FakeTelegram, start_bot
from tests.milvus_server import milvus_server
from tests.local_services import free_port
from tests.redis_server import redis_server
from tests.round_robin import RoundRobinProxy

ROOT = Path(__file__).resolve().parents[2]
SECRET = "bench-secret"
SENDERS = 32  # concurrent webhook POSTs, as Telegram opens several connections to one URL (max_connections)


@contextmanager
def serving(api: FakeBotAPIServer, work: Path, replicas: int,
            env: dict[str, str]) -> Iterator[list[tuple[BotProcess, int]]]:
    """`replicas` webhook replicas on free ports, each with an index folder of its own: each process and its
    port; stopped on the way out."""
    bots: list[tuple[BotProcess, int]] = []
    try:
        for n in range(replicas):
            port = free_port()
            (work / f"index{n}").mkdir()  # an empty volume, as a container gets
            bots.append((start_bot(api, work, ready_timeout=600, verbose=False, env={
                **env, "NEWSBOT_INDEX_DIR": str(work / f"index{n}"), "TELEGRAM_WEBHOOK_SECRET": SECRET},
                args=["--webhook-url", "http://127.0.0.1/telegram", "--listen", "127.0.0.1", "--port", str(port)]), port))
            api.telegram.wait_for(lambda: len(api.telegram.sent(method="setWebhook")) == n + 1, timeout=600)
        _wait_for_presence(env["NEWSBOT_REDIS_URL"], replicas)
        yield bots
    finally:
        for bot, _ in bots:
            bot.stop()


def _wait_for_presence(redis_url: str, replicas: int, timeout: float = 60.0) -> None:
    """Until every replica has announced itself in Redis: the load starts with each one known to the others,
    so no update is taken over from a replica only because its first announcement is still to come."""
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    while len(client.keys(replica_key(f"newsbot:{TOKEN.partition(':')[0]}:", "*"))) < replicas:
        if time.monotonic() > deadline:
            raise SystemExit(f"the {replicas} replicas did not all announce themselves in Redis within {timeout:.0f} s")
        time.sleep(0.2)
    client.close()


def webhook_sender(url: str, pool: ThreadPoolExecutor) -> Callable[[dict[str, object]], None]:
    """Post an update to `url` from the pool, again until it gets a 200 (as Telegram does)."""
    def post(update: dict[str, object]) -> None:
        request = urllib.request.Request(url, data=json.dumps(update).encode(), headers={
            "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET})
        for _ in range(10):
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"update {update['update_id']} was never acknowledged")

    return lambda update: pool.submit(post, update).add_done_callback(_raise)


def _raise(future: object) -> None:
    error = future.exception()  # type: ignore[attr-defined]
    if error is not None:
        print(f"a webhook POST failed: {error}")


def measure(store: str, replicas: int, *, redis_url: str, milvus_uri: str | None, chats: int, messages: int,
            rounds: int) -> list[Level]:
    """`rounds` saturated levels of `chats` chats through the proxy to `replicas` replicas."""
    redis.Redis.from_url(redis_url).flushall()  # update ids restart at 1 with each fake: no claim may remain
    env = {"NEWSBOT_CORPUS_DIR": str(BUNDLED_CORPUS_DIR), "NEWSBOT_REDIS_URL": redis_url,
           "NEWSBOT_RATE_LIMIT_QUESTIONS": "1000000", "NEWSBOT_RATE_LIMIT_SECONDS": "1"}
    if milvus_uri:
        env["NEWSBOT_STORE"] = milvus_uri
    with (tempfile.TemporaryDirectory() as folder, FakeBotAPIServer(FakeTelegram()) as api,
          serving(api, Path(folder), replicas, env) as bots,
          RoundRobinProxy([port for _, port in bots]) as proxy,
          ThreadPoolExecutor(SENDERS) as pool):
        deliver = webhook_sender(proxy.url("/telegram"), pool)
        pids = [bot.process.pid for bot, _ in bots]
        chat_ids = iter(range(1_000_000, 10**9, 10_000))
        run_level(api.telegram, pids, 4, 20, None, QUESTIONS, next(chat_ids), deliver)  # warm-up
        levels = [run_level(api.telegram, pids, chats, messages, None, QUESTIONS, next(chat_ids), deliver)
                  for _ in range(rounds)]
        print(f"{store}, {replicas} replica(s): " + ", ".join(f"{level.per_second} msg/s p99 {level.p99_ms} ms"
                                                              for level in levels), flush=True)
        return levels


def replicas_table(rows: list[tuple[str, int, list[Level]]]) -> str:
    """The median round of each row, the spread of its rounds, and each store's second replica against its first."""
    def spread(levels: list[Level]) -> str:
        return f"{min(level.per_second for level in levels):g}–{max(level.per_second for level in levels):g}"

    medians = {(store, count): median_level(levels) for store, count, levels in rows}
    lines = [table(("store", "replicas", "answered", "msg/s (median)", "msg/s (rounds)", "p50 ms", "p99 ms",
                    "one answer each", "replicas' CPU ms/msg", "proxy+fake+load CPU ms/msg"),
                   [(store, count, (m := medians[(store, count)]).answered, m.per_second, spread(levels), m.p50_ms,
                     m.p99_ms, "yes" if m.exactly_one_answer_each else "NO", m.bot_cpu_ms_per_message,
                     m.fake_and_load_cpu_ms_per_message) for store, count, levels in rows], "lrrrrrrlrr")]
    for store in dict.fromkeys(store for store, _, _ in rows):
        one, two = medians.get((store, 1)), medians.get((store, 2))
        if one and two:
            lines.append(f"\n{store}: two replicas answer ×{two.per_second / one.per_second:.2f} the messages a "
                         f"second of one, at ×{two.p99_ms / one.p99_ms:.2f} its p99.")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--messages", type=int, default=1000, help="questions per round (default 1000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per row, medians reported (default 3)")
    parser.add_argument("--replicas", default="1,2")
    parser.add_argument("--milvus", action="store_true", help="also with a Milvus standalone server as the store")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--write-docs", action="store_true", help="write the table into docs/SCALING.md")
    args = parser.parse_args()
    started = machine()
    counts = [int(count) for count in args.replicas.split(",")]
    rows: list[tuple[str, int, list[Level]]] = []
    with ExitStack() as stack, tempfile.TemporaryDirectory() as work:
        redis_url = stack.enter_context(redis_server(Path(work) / "redis"))
        stores = {"index folder": None}
        if args.milvus:
            stores["Milvus server"] = stack.enter_context(milvus_server(Path(work) / "milvus"))
        for store, uri in stores.items():
            for count in counts:
                levels = measure(store, count, redis_url=redis_url, milvus_uri=uri, chats=args.chats,
                                 messages=args.messages, rounds=args.rounds)
                rows.append((store, count, levels))
    if args.json:
        print(json.dumps([{"store": store, "replicas": count, "rounds": [asdict(level) for level in levels]}
                          for store, count, levels in rows], indent=2))
    text = replicas_table(rows)
    print(text)
    if args.write_docs:
        command = shlex.join(["python", "-m", "benchmarks.research.replicas", "--chats", str(args.chats),
                              "--messages", str(args.messages), "--rounds", str(args.rounds),
                              "--replicas", args.replicas, *(["--milvus"] if args.milvus else []), "--write-docs"])
        write_block(ROOT / "docs" / "SCALING.md", "replicas", f"{provenance(command, started, os.getloadavg())}\n\n{text}")
    return 0 if all(level.exactly_one_answer_each for _, _, levels in rows for level in levels) else 1


if __name__ == "__main__":
    raise SystemExit(main())
