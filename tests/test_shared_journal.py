"""The update journal in Redis (bot.shared_journal): of two deliveries one is handled, what a replica that died
held is taken over by exactly one other, what was answered stays answered, and while Redis is away the file
journal keeps every update."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
import redis
from telegram import Bot

from newsbot.bot import shared_journal
from newsbot.bot.journal import UpdateJournal
from newsbot.bot.replicas import WEBHOOK, Replica
from newsbot.bot.shared import SharedState
from newsbot.bot.shared_journal import SharedJournal
from tests.fake_bot_api import TOKEN
from tests.local_services import free_port
from tests.reliability import Record

BOT_ID = TOKEN.partition(":")[0]
BOT = Bot(TOKEN)  # only for reading updates: it never connects
LEASE = 1.0  # long enough that a stall on a busy machine does not end a live replica's lease


def _update(update_id: int) -> dict[str, Any]:
    return {"update_id": update_id, "message": {"message_id": update_id, "date": 0, "text": f"q{update_id}",
                                                "chat": {"id": 1, "type": "private"}}}


class Member:
    """One replica's view: its Redis connection, its presence (renewed by hand here), its journal."""

    def __init__(self, url: str, folder: Path, name: str) -> None:
        self.state = SharedState(url, BOT_ID, timeout=10)  # races are the point, not a slow machine's timeouts
        self.replica = Replica(self.state, WEBHOOK, lease_seconds=LEASE)
        self.file = UpdateJournal(folder / f"{name}.jsonl")
        self.journal = SharedJournal(self.state, self.replica, self.file)

    async def received(self, *update_ids: int) -> list[int]:
        return [u["update_id"] for u in await self.journal.received([_update(n) for n in update_ids])]

    async def orphans(self) -> list[int]:
        return [update.update_id for update in await self.journal.orphans(BOT)]

    async def close(self) -> None:
        self.file.close()
        await self.state.close()


async def test_of_two_deliveries_racing_each_update_is_new_at_exactly_one_replica(tmp_path: Path,
                                                                                 redis_url: str) -> None:
    members = [Member(redis_url, tmp_path, name) for name in "ab"]
    for update_id in range(100, 130):
        new = await asyncio.gather(*(members[n % 2].received(update_id) for n in range(6)))
        assert sum(len(ids) for ids in new) == 1
    other_bot = SharedJournal(SharedState(redis_url, "42"), members[0].replica, members[0].file)
    assert [u["update_id"] for u in await other_bot.received([_update(100)])] == [100]  # another bot's ids
    for member in members:
        await member.close()


async def test_updates_held_by_a_replica_that_died_are_taken_over_once_and_a_done_one_is_skipped(
        tmp_path: Path, redis_url: str, reliability: Record) -> None:
    killed, first, second = (Member(redis_url, tmp_path, name) for name in ("killed", "first", "second"))
    for member in (killed, first, second):
        await member.replica.renew()
    assert await killed.received(1, 2, 3, 4, 5) == [1, 2, 3, 4, 5]  # acknowledged to Telegram: theirs now
    assert await killed.journal.claim(1)
    await killed.journal.done(1)
    assert await first.received(1, 2) == []  # Telegram delivers again: answered, or in hand elsewhere
    assert await first.journal.claim(1) is False and await first.journal.claim(2) is False
    assert await first.orphans() == [] and await second.orphans() == []  # its holder is alive: left to it
    await asyncio.sleep(LEASE * 1.5)  # killed: its key is not renewed and expires
    await first.replica.renew()
    await second.replica.renew()
    taken = await asyncio.gather(first.orphans(), second.orphans())
    assert sorted(taken[0] + taken[1]) == [2, 3, 4, 5]  # each by exactly one survivor
    assert await first.orphans() == [] and await second.orphans() == []
    holder = first if 2 in taken[0] else second
    assert await holder.journal.claim(2)  # the one that took it over handles it without asking again
    await holder.journal.done(2)
    assert await first.received(2) == [] and await second.received(2) == []  # and it stays answered
    reliability("Consistency", "a replica killed holding 4 acknowledged, unanswered updates; 2 survivors taking "
                "over at once; 2 redelivered to a survivor", 4,
                "each taken over by exactly one survivor; the redeliveries and the answered one skipped")
    for member in (killed, first, second):
        await member.close()


async def test_an_update_whose_holders_keep_dying_is_dropped_with_an_error(tmp_path: Path, redis_url: str,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="newsbot.bot.shared_journal")
    first = Member(redis_url, tmp_path, "first")
    assert await first.received(9) == [9]
    for attempt in range(shared_journal.MAX_TAKEOVERS + 1):  # each new holder dies before answering
        taker = Member(redis_url, tmp_path, f"taker{attempt}")
        await asyncio.sleep(LEASE * 1.5)
        assert await taker.orphans() == ([9] if attempt < shared_journal.MAX_TAKEOVERS else [])
        await taker.close()
    assert "dropping update 9: taken over 3 times from replicas that died with it" in caplog.text
    assert await Member(redis_url, tmp_path, "last").received(9) == []  # marked done, not taken again
    await first.close()


async def test_while_redis_is_unreachable_updates_go_to_the_file_journal_and_survive_a_restart(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, reliability: Record) -> None:
    caplog.set_level(logging.WARNING, logger="newsbot.bot.shared")
    member = Member(f"redis://:pw-3@127.0.0.1:{free_port()}/0", tmp_path, "alone")
    assert await member.received(1, 2) == [1, 2]  # kept, so acknowledged safely
    assert await member.received(1) == []  # a redelivery to the same replica is recognised
    assert await member.journal.claim(1) and await member.journal.claim(2)
    await member.journal.done(1)
    assert await member.orphans() == []  # nothing earlier; Redis is not tried again at once
    await member.close()  # killed with update 2 unanswered
    assert caplog.text.count("cannot be reached") == 1 and "pw-3" not in caplog.text
    assert "journalled in this replica's own file" in caplog.text
    restarted = UpdateJournal(tmp_path / "alone.jsonl")
    assert [u["update_id"] for u in restarted.unfinished()] == [2] and restarted.is_done(1)
    restarted.close()
    reliability("Consistency", "Redis unreachable while updates arrive, then the replica killed", 2,
                "kept in its file journal: the unanswered one is handled after its restart")


async def test_pending_updates_that_cannot_be_read_are_dropped_and_marked_done(tmp_path: Path,
                                                                               redis_url: str) -> None:
    member = Member(redis_url, tmp_path, "reader")
    client = redis.Redis.from_url(redis_url)
    damaged = {"77": '{"update_id": 77, "message": "not a message"}', "78": '{"update_id": 78, "mess',
               "79": "[" * 100_000}
    client.hset(f"newsbot:{BOT_ID}:pending", mapping=damaged)
    assert await member.orphans() == []  # no holder: gone; unreadable: dropped, and the replica goes on
    for update_id in damaged:
        assert client.get(f"newsbot:{BOT_ID}:update:{update_id}") == b"done"
    assert client.hlen(f"newsbot:{BOT_ID}:pending") == 0
    client.close()
    await member.close()
