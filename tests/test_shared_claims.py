"""Which replica handles an update, decided in Redis: one claim wins a race, a claim left by a killed replica
expires, a handled update stays handled, and without Redis every update is handled."""

from __future__ import annotations

import asyncio

from newsbot.bot.claims import UpdateClaims
from newsbot.bot.shared import SharedState
from tests.redis_server import free_port


async def test_of_two_replicas_racing_on_each_update_exactly_one_claims_it(redis_url: str) -> None:
    states = [SharedState(redis_url, "1") for _ in range(2)]
    replicas = [UpdateClaims(state) for state in states]
    for update_id in range(100, 130):
        wins = await asyncio.gather(*(replicas[n % 2].claim(update_id) for n in range(8)))
        assert sum(wins) == 1
    assert await UpdateClaims(SharedState(redis_url, "2")).claim(100)  # another bot's ids are its own
    for state in states:
        await state.close()


async def test_a_claim_left_by_a_killed_replica_expires_and_a_done_update_stays_done(redis_url: str) -> None:
    first, second = SharedState(redis_url, "1"), SharedState(redis_url, "1")
    killed = UpdateClaims(first, taken_seconds=0.2)
    survivor = UpdateClaims(second, taken_seconds=0.2)
    assert await killed.claim(5) and not await survivor.claim(5)  # in hand elsewhere: not handled twice
    await asyncio.sleep(0.3)  # the replica died without answering; Telegram redelivers
    assert await survivor.claim(5)  # the redelivery is answered, not lost
    await survivor.done(5)
    await asyncio.sleep(0.3)  # past the claim's lease: done is kept longer
    assert not await killed.claim(5)
    await first.close()
    await second.close()


async def test_without_redis_every_update_is_handled() -> None:
    state = SharedState(f"redis://127.0.0.1:{free_port()}/0", "1")
    claims = UpdateClaims(state)
    assert await claims.claim(1) and await claims.claim(1)  # a repeat may be answered twice; none is lost
    await claims.done(1)  # and recording it does not raise
    await state.close()
