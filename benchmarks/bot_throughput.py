"""Bot throughput and latency through the loopback fake Bot API, with the real model.

Starts the unmodified `newsbot serve` against tests/fake_bot_api.py on 127.0.0.1 and drives it from
this process. Two load shapes per number of chats:

- saturated (closed loop): each chat asks again the moment its answer arrives, so the bot is never
  idle; gives the most answered messages per second. By Little's law its latency is simply
  chats / throughput, so with 200 chats it measures capacity, not responsiveness.
- paced (open loop): the chats together ask `rate` questions per second, round robin, each chat with
  at most one question outstanding (a chat still waiting skips its turn, counted as `skipped`);
  gives the latency people see at that load.

Latency runs from the moment a question is queued at the fake (the user sends it) to the moment
the fake receives the answering sendMessage. Each level also checks that every question got exactly
one answer, and reports the CPU seconds per answered message of the bot process and of this process
(the fake Bot API and the load generator, which share the same 2 cores with the bot).

    .venv/bin/python -m benchmarks.bot_throughput                          # 1, 20, 200 chats; a table
    .venv/bin/python -m benchmarks.bot_throughput --chats 200 --rate 100   # paced at 100 questions/s
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from newsbot.retrieval.evaluation.percentile import percentile
from newsbot.corpus import BUNDLED_CORPUS_DIR
from tests.fake_bot_api import FakeBotAPIServer, FakeTelegram, start_bot

QUESTIONS = ["How many people have died?", "What does Russia oppose?", "Who is Sergei Lavrov?",
             "What did the US State Department say?", "Where is the Russian naval base?",
             "Which countries vetoed the resolution?", "What is the Arab League observer mission?",
             "Who is calling for Assad's resignation?"]
ANSWER_TIMEOUT = 120.0  # seconds without any answer before a level is abandoned


@dataclass(frozen=True)
class Level:
    """One measured load level."""

    chats: int
    mode: str  # "saturated" or "paced"
    offered_per_second: float | None  # the paced rate; None when saturated
    answered: int
    skipped: int  # paced turns a chat missed because its previous answer had not come yet
    per_second: float
    p50_ms: float
    p99_ms: float
    exactly_one_answer_each: bool
    bot_cpu_ms_per_message: float
    fake_and_load_cpu_ms_per_message: float


def measure_bot(levels: list[tuple[int, float | None]], *, messages: int = 400, rounds: int = 1,
                model: str | None = None, questions: list[str] | None = None) -> list[list[Level]]:
    """Start `newsbot serve` on the fake with the bundled corpus and measure each level (chats, and a
    paced rate in questions/s or None for saturated) `rounds` times; one list of rounds per level."""
    asked = questions or QUESTIONS
    with tempfile.TemporaryDirectory() as folder, FakeBotAPIServer() as api:
        env = {"NEWSBOT_CORPUS_DIR": str(BUNDLED_CORPUS_DIR), "NEWSBOT_INDEX_DIR": str(Path(folder) / "index"),
               "NEWSBOT_RATE_LIMIT_QUESTIONS": "1000000", "NEWSBOT_RATE_LIMIT_SECONDS": "1"}
        if model:
            env["NEWSBOT_MODEL"] = model
        bot = start_bot(api, Path(folder), env=env, ready_timeout=300, verbose=False)
        chat_ids = iter(range(1_000_000, 10**9, 10_000))
        try:
            run_level(api.telegram, [bot.process.pid], 4, 20, None, asked, next(chat_ids))  # warm-up
            return [[run_level(api.telegram, [bot.process.pid], chats, messages, rate, asked, next(chat_ids))
                     for _ in range(rounds)] for chats, rate in levels]
        finally:
            bot.stop()


def median_level(rounds: list[Level]) -> Level:
    """One level's rounds as one row: medians of the figures, and `exactly_one_answer_each` only if every round had it."""
    middle = sorted(rounds, key=lambda level: level.per_second)[len(rounds) // 2]
    figures = ("per_second", "p50_ms", "p99_ms", "bot_cpu_ms_per_message", "fake_and_load_cpu_ms_per_message")
    return replace(middle, answered=sum(r.answered for r in rounds), skipped=sum(r.skipped for r in rounds),
                   exactly_one_answer_each=all(r.exactly_one_answer_each for r in rounds),
                   **{name: round(statistics.median(getattr(r, name) for r in rounds), 2) for name in figures})


def run_level(telegram: FakeTelegram, bot_pids: Sequence[int], chats: int, messages: int, rate: float | None,
               questions: list[str], first_chat: int,
               deliver: Callable[[dict[str, object]], None] | None = None) -> Level:
    """`messages` questions from `chats` chats; their answers' latencies, throughput and the CPU cost of the
    bot processes `bot_pids`. Updates wait at the fake for a long poll, or go to `deliver` (a webhook's
    sender, which must not block: the latency clock runs from here)."""
    ids = list(range(first_chat, first_chat + chats))
    outstanding: dict[int, float] = {}  # chat -> when its unanswered question was sent
    count: Counter[int] = Counter()  # questions asked per chat
    answers: Counter[int] = Counter()  # answers received per chat
    latencies: list[float] = []
    skipped = 0
    seen = len(telegram.calls)
    cpu_before = _bot_cpu(bot_pids), _own_cpu()
    started = time.monotonic()

    def ask(chat: int) -> None:
        outstanding[chat] = time.monotonic()
        update = telegram.push_text(chat, questions[(chat + count[chat]) % len(questions)])
        if deliver is not None:
            telegram.pop_updates()  # no poller will take it: it goes by webhook
            deliver(update)
        count[chat] += 1

    if rate is None:  # saturated: every chat asks; each answer triggers the chat's next question
        for chat in ids[:messages]:
            ask(chat)
    turn, next_at, sent = 0, started, 0
    while outstanding or (rate is not None and sent < messages):
        if rate is not None:
            while sent < messages and time.monotonic() >= next_at:
                chat = ids[turn % chats]
                turn += 1
                next_at += 1 / rate
                if chat in outstanding:
                    skipped += 1
                    continue
                ask(chat)
                sent += 1
        wait = max(0.0, next_at - time.monotonic()) if rate is not None and sent < messages else ANSWER_TIMEOUT
        new = telegram.calls_since(seen, timeout=wait)
        if not new and wait == ANSWER_TIMEOUT:
            raise SystemExit(f"no answer for {ANSWER_TIMEOUT:.0f} s; {len(outstanding)} questions outstanding")
        seen += len(new)
        for call in new:
            chat = call.chat_id
            if call.method != "sendMessage" or chat not in count:
                continue
            answers[chat] += 1
            if chat in outstanding:
                latencies.append(call.at - outstanding.pop(chat))
                if rate is None and sum(count.values()) < messages:
                    ask(chat)
    elapsed = time.monotonic() - started
    time.sleep(0.5)  # a duplicate answer would arrive now
    for call in telegram.calls[seen:]:
        if call.method == "sendMessage" and call.chat_id in count:
            answers[call.chat_id] += 1
    bot_cpu, own_cpu = _bot_cpu(bot_pids) - cpu_before[0], _own_cpu() - cpu_before[1]
    answered = len(latencies)
    return Level(chats=chats, mode="saturated" if rate is None else "paced", offered_per_second=rate,
                 answered=answered, skipped=skipped, per_second=round(answered / elapsed, 1),
                 p50_ms=round(1000 * percentile(latencies, 50), 1), p99_ms=round(1000 * percentile(latencies, 99), 1),
                 exactly_one_answer_each=answers == count,
                 bot_cpu_ms_per_message=round(1000 * bot_cpu / max(answered, 1), 2),
                 fake_and_load_cpu_ms_per_message=round(1000 * own_cpu / max(answered, 1), 2))


def _bot_cpu(pids: Sequence[int]) -> float:
    """User + system CPU seconds of processes so far (Linux /proc)."""
    fields = [Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split() for pid in pids]
    return sum(int(field[11]) + int(field[12]) for field in fields) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def format_levels(levels: list[Level]) -> str:
    lines = [f"{'chats':>6} {'load':>14} {'answered':>9} {'msg/s':>7} {'p50 ms':>8} {'p99 ms':>8} "
             f"{'1 answer each':>14} {'bot cpu ms/msg':>15} {'fake+load cpu ms/msg':>21}"]
    for level in levels:
        load = "saturated" if level.mode == "saturated" else f"paced {level.offered_per_second:g}/s"
        lines.append(f"{level.chats:>6} {load:>14} {level.answered:>9} {level.per_second:>7.1f} {level.p50_ms:>8.1f} "
                     f"{level.p99_ms:>8.1f} {'yes' if level.exactly_one_answer_each else 'NO':>14} "
                     f"{level.bot_cpu_ms_per_message:>15.2f} {level.fake_and_load_cpu_ms_per_message:>21.2f}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chats", default="1,20,200", help="concurrent chats per level (default 1,20,200)")
    parser.add_argument("--messages", type=int, default=400, help="questions per level (default 400)")
    parser.add_argument("--rate", type=float, default=None,
                        help="pace the questions at this many per second (default: saturated, closed loop)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat each level, report medians (default 1)")
    parser.add_argument("--model", default=None, help="NEWSBOT_MODEL for the bot (default: the packaged model)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    measured = measure_bot([(int(c), args.rate) for c in args.chats.split(",")], messages=args.messages,
                           rounds=args.rounds, model=args.model)
    levels = [median_level(rounds) for rounds in measured]
    print(json.dumps([asdict(level) for level in levels], indent=2) if args.json else format_levels(levels))
    return 0 if all(level.exactly_one_answer_each for level in levels) else 1


if __name__ == "__main__":
    raise SystemExit(main())
