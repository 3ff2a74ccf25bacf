"""What the update journal in Redis (bot.shared_journal) costs per update: the time of its calls for one
update as the bot makes them (received, claim, done), one after another on one connection, and the
Redis memory a done mark holds for its hour (the figure behind DONE_SECONDS's comment).

Usage (from the project root; starts a throwaway redis-server, which must be installed):
    .venv/bin/python -m benchmarks.research.shared_journal_cost [UPDATES]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from newsbot.bot.journal import UpdateJournal
from newsbot.bot.replicas import WEBHOOK, Replica
from newsbot.bot.shared import SharedState
from newsbot.bot.shared_journal import SharedJournal
from tests.redis_server import redis_server


def _question(update_id: int) -> dict[str, object]:
    user = {"id": update_id, "is_bot": False, "first_name": "A"}
    return {"update_id": update_id, "message": {"message_id": update_id, "date": 0, "text": "How many zebras escaped?",
                                                "chat": {"id": update_id, "type": "private"}, "from": user}}


async def measure(url: str, folder: Path, updates: int) -> tuple[float, float]:
    """Seconds per update, and bytes of Redis memory per done update."""
    state = SharedState(url, "1")
    journal = SharedJournal(state, Replica(state, WEBHOOK), UpdateJournal(folder / "journal.jsonl"))
    before = (await state.client.info("memory"))["used_memory"]
    start = time.perf_counter()
    for update_id in range(updates):
        await journal.received([_question(update_id)])
        await journal.claim(update_id)
        await journal.done(update_id)
    seconds = (time.perf_counter() - start) / updates
    grown = (await state.client.info("memory"))["used_memory"] - before
    await state.close()
    return seconds, grown / updates


def main() -> None:
    updates = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    with tempfile.TemporaryDirectory() as folder, redis_server(Path(folder) / "redis") as url:
        seconds, size = asyncio.run(measure(url, Path(folder), updates))
    print(f"{updates:,} updates: {seconds * 1e6:.0f} µs per update (sequential, one connection); "
          f"{size:.0f} B of Redis memory per done mark")


if __name__ == "__main__":
    main()
