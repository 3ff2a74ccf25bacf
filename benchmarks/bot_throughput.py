"""Bot throughput and latency through the loopback fake Bot API, with the real model.

Starts the unmodified `newsbot serve` (the packaged all-MiniLM-L6-v2 unless --model) against
tests/fake_bot_api.py on 127.0.0.1. For each concurrency level, that many private chats each
ask questions in a closed loop (ask, wait for the answer, ask again). Latency is measured from
the moment the fake delivers the update in a getUpdates response to the moment it receives
the answering sendMessage; throughput is answered messages per second over the level.

    .venv/bin/python benchmarks/bot_throughput.py            # 1, 20 and 200 chats; a table
    .venv/bin/python benchmarks/bot_throughput.py --json     # the same as JSON
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpus import BUNDLED_CORPUS_DIR  # noqa: E402
from tests.fake_bot_api import FakeBotAPIServer, FakeTelegram, start_bot  # noqa: E402

QUESTIONS = ["How many people have died?", "What does Russia oppose?", "Who is Sergei Lavrov?",
             "What did the US State Department say?", "Where is the Russian naval base?",
             "Which countries vetoed the resolution?", "What is the Arab League observer mission?",
             "Who is calling for Assad's resignation?"]


def run_level(telegram: FakeTelegram, chats: int, messages: int, first_chat: int) -> dict[str, float]:
    """`chats` chats ask about `messages` questions in all, one outstanding question per chat."""
    rounds = max(1, math.ceil(messages / chats))
    ids = range(first_chat, first_chat + chats)
    outstanding: dict[int, int] = {}  # chat -> update id of its unanswered question
    asked = dict.fromkeys(ids, 0)
    latencies: list[float] = []
    seen = len(telegram.calls)
    started = time.monotonic()

    def ask(chat: int) -> None:
        outstanding[chat] = telegram.push_text(chat, QUESTIONS[(chat + asked[chat]) % len(QUESTIONS)])["update_id"]
        asked[chat] += 1

    for chat in ids:
        ask(chat)
    while outstanding:
        new = telegram.calls_since(seen, timeout=120)
        if not new:
            raise SystemExit(f"no answer for 120 s; {len(outstanding)} questions outstanding")
        seen += len(new)
        for call in new:
            chat = call.chat_id
            if call.method != "sendMessage" or chat not in outstanding:
                continue
            latencies.append(call.at - telegram.delivered_at[outstanding.pop(chat)])
            if asked[chat] < rounds:
                ask(chat)
    elapsed = time.monotonic() - started
    latencies.sort()
    return {"chats": chats, "messages": len(latencies), "per_second": len(latencies) / elapsed,
            "p50_ms": 1000 * latencies[len(latencies) // 2],
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, math.ceil(0.99 * len(latencies)) - 1)]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="1,20,200", help="concurrent chats per level (default 1,20,200)")
    parser.add_argument("--messages", type=int, default=400, help="questions per level (default 400)")
    parser.add_argument("--model", default=None, help="NEWSBOT_MODEL for the bot (default: the packaged model)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]
    with tempfile.TemporaryDirectory() as folder, FakeBotAPIServer() as api:
        env = {"NEWSBOT_CORPUS_DIR": str(BUNDLED_CORPUS_DIR), "NEWSBOT_INDEX_DIR": str(Path(folder) / "index"),
               "NEWSBOT_RATE_LIMIT_QUESTIONS": "1000000", "NEWSBOT_RATE_LIMIT_SECONDS": "1"}
        if args.model:
            env["NEWSBOT_MODEL"] = args.model
        bot = start_bot(api, Path(folder), env=env, ready_timeout=180, verbose=False)
        try:
            run_level(api.telegram, 4, 20, first_chat=1_000_000)  # warm-up, not reported
            results = [run_level(api.telegram, chats, args.messages, first_chat=10_000 * (n + 1))
                       for n, chats in enumerate(levels)]
        finally:
            bot.stop()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{'chats':>6} {'answered':>9} {'msg/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
        for r in results:
            print(f"{r['chats']:>6} {r['messages']:>9} {r['per_second']:>8.1f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
